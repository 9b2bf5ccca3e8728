//! What the scraper and history tests share: real objects, a store with the built-in rules,
//! the `graphd` binary, and a cluster's graph in a form two stores can be compared by.

// Each test binary that includes this module uses a part of it.
#![allow(dead_code)]

pub mod processes;

use graphd::GraphStore;
use graphd_store::query::ListQuery;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::Path;
use std::process::Output;
use std::sync::Arc;

/// A file of real Kubernetes objects from `../shared/fixtures/k8s`.
pub fn fixture(name: &str) -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/k8s").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("fixture {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// A store in `dir` with the built-in rules; the scrapers' logs go to the test's output
/// (shown when it fails; RUST_LOG=debug for more).
pub fn open(dir: &Path) -> Arc<GraphStore> {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_test_writer().try_init();
    let store = graphd::open_store(dir).unwrap();
    store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    Arc::new(store)
}

/// Runs the `graphd` binary off the runtime (the local servers answer on it meanwhile).
pub fn graphd(args: &[&str]) -> impl Future<Output = Output> + 'static {
    let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    let run = move || std::process::Command::new(env!("CARGO_BIN_EXE_graphd")).args(&args).output().unwrap();
    async move { tokio::task::spawn_blocking(run).await.unwrap() }
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

pub type Node = (String, String, String);

/// A cluster's live items and edges (see [`graph_of`]).
pub type GraphOf = (BTreeSet<Node>, BTreeSet<(Node, String, Node)>);

/// The live graph of `cluster`, by kind, namespace and name: comparable across stores.
pub fn graph_of(store: &GraphStore, cluster: &str) -> GraphOf {
    let reader = store.read();
    let scope = graphd_store::query::ScopeFilter { cluster: Some(cluster.to_owned()), ..Default::default() };
    let items = reader.list(&ListQuery { scope, limit: usize::MAX, ..Default::default() }).unwrap().items;
    let node = |item: &graphd_core::Item| {
        (item.kind.to_string(), item.namespace.clone().unwrap_or_default(), item.name.clone())
    };
    let nodes: BTreeSet<Node> = items.iter().map(node).collect();
    assert_eq!(nodes.len(), items.len(), "no item twice");
    let mut edges = BTreeSet::new();
    for item in &items {
        for edge in reader.edges(item.id, true, false).unwrap() {
            let to = reader.get(edge.to, false).unwrap().expect("a live edge ends at a live item");
            edges.insert((node(item), edge.relation.clone(), node(&to)));
        }
    }
    (nodes, edges)
}
