//! The graph as it was: walk-up, related, get and list as of a time before a Pod and its Node
//! were deleted give the old graph; now, the new one. Over the store and through `graphd query`.

mod support;

use graphd::GraphStore;
use graphd_core::{ExternalKey, Item, ItemId, Timestamp};
use graphd_store::query::{Direction, ListQuery, RelatedQuery};
use graphd_store::Op;
use serde_json::Value;
use std::collections::BTreeSet;
use std::time::Duration;
use support::{fixture, graphd, open, text};

const POD: &str = "backend-api-75fb46b7bd-xtkrh";

fn uid(objects: &[Value], kind: &str, name: &str) -> String {
    let object = objects.iter().find(|o| o["kind"] == kind && o["metadata"]["name"] == name).unwrap();
    object["metadata"]["uid"].as_str().unwrap().to_owned()
}

/// (kind, name) of each ancestor of `id` in `reader`'s graph.
fn ancestors(
    reader: &graphd_store::query::Reader<'_, graphd_rocks::RocksEngine>,
    id: ItemId,
) -> BTreeSet<(String, String)> {
    let up = reader.walk_up(id, false).unwrap();
    up.nodes
        .iter()
        .map(|n| {
            let item = reader.get(n.id, false).unwrap().expect("an ancestor is visible");
            (item.kind.to_string(), item.name)
        })
        .collect()
}

/// Names of the Pods that run on `node`.
fn pods_on(reader: &graphd_store::query::Reader<'_, graphd_rocks::RocksEngine>, node: ItemId) -> BTreeSet<String> {
    let query = RelatedQuery {
        direction: Direction::Incoming,
        depth: 1,
        relations: vec!["runs-on".into()],
        kinds: Vec::new(),
        include_deleted: false,
        limit: 1000,
    };
    let hits = reader.related(node, &query).unwrap().hits;
    hits.iter().map(|h| reader.get(h.id, false).unwrap().unwrap().name).collect()
}

fn item(store: &GraphStore, uid: &str) -> Item {
    store.read().get_by_key(&ExternalKey::kubernetes("k3s", uid), true).unwrap().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_graph_before_a_pod_and_its_node_were_deleted_and_after() {
    let list = fixture("k3s-troubleshoot-real-snapshot.json");
    let objects = list["items"].as_array().unwrap().clone();
    let node_name = objects.iter().find(|o| o["kind"] == "Node").unwrap()["metadata"]["name"].as_str().unwrap();
    let (pod_uid, node_uid) = (uid(&objects, "Pod", POD), uid(&objects, "Node", node_name));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let store = open(&data);
    graphd::import::import(&store, "k3s", &objects, |_, _| {}).unwrap();
    let (pod, node) = (item(&store, &pod_uid), item(&store, &node_uid));
    let before = ancestors(&store.read(), pod.id);
    assert!(before.contains(&("Kubernetes::Node".into(), node_name.into())), "{before:?}");
    let pods_before = pods_on(&store.read(), node.id);
    assert!(pods_before.contains(POD) && pods_before.len() > 1, "{pods_before:?}");

    // Seconds apart, so that `--as-of 3s`-style times fall clearly between.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let between = Timestamp::now();
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let deletes = [Op::Delete(pod.key.clone()), Op::Delete(node.key.clone())];
    store.apply(&deletes, Timestamp::now(), "test").unwrap();

    // As of before the deletion: the old graph, whole.
    let then = store.read_as_of(between);
    assert_eq!(ancestors(&then, pod.id), before);
    assert_eq!(pods_on(&then, node.id), pods_before);
    assert!(then.get(pod.id, false).unwrap().is_some());
    let pods_then =
        ListQuery { kind: Some(graphd_core::Kind::new("Kubernetes::Pod").unwrap()), limit: 1000, ..Default::default() };
    let listed: BTreeSet<String> = then.list(&pods_then).unwrap().items.into_iter().map(|i| i.name).collect();
    assert!(listed.contains(POD), "{listed:?}");
    // As of before it existed: nothing.
    assert!(store.read_as_of(Timestamp(pod.created_at.0 - 1)).get(pod.id, false).unwrap().is_none());

    // Now: the Pod and the Node are gone, and the Node's other Pods have no Node.
    let now = store.read();
    assert!(now.get(pod.id, false).unwrap().is_none());
    assert!(now.walk_up(pod.id, false).is_err());
    let listed: BTreeSet<String> = now.list(&pods_then).unwrap().items.into_iter().map(|i| i.name).collect();
    assert!(!listed.contains(POD));
    let other = objects
        .iter()
        .find(|o| o["kind"] == "Pod" && o["spec"]["nodeName"] == node_name && o["metadata"]["name"] != POD)
        .unwrap();
    let other = item(&store, other["metadata"]["uid"].as_str().unwrap());
    assert!(!ancestors(&now, other.id).iter().any(|(kind, _)| kind == "Kubernetes::Node"));
    assert!(ancestors(&then, other.id).iter().any(|(kind, _)| kind == "Kubernetes::Node"));
    drop((then, now));

    // The same through the command line, on the store in the data dir.
    let ago = format!("{}s", (Timestamp::now().0 - between.0).div_ceil(1_000));
    let data = data.display().to_string();
    let reference = format!("pod/default/{POD}");
    let walk = |extra: &[&str]| {
        let mut args = vec!["--data-dir", &data, "query", "walk-up", &reference, "--cluster", "k3s", "-o", "json"];
        args.extend(extra);
        graphd(&args)
    };
    let old = walk(&["--as-of", &ago]).await;
    assert!(old.status.success(), "{}", text(&old.stderr));
    assert!(text(&old.stdout).contains(node_name), "{}", text(&old.stdout));
    let gone = walk(&[]).await;
    assert!(!gone.status.success());
    assert!(text(&gone.stderr).contains("no item matches"), "{}", text(&gone.stderr));
    let bad = walk(&["--as-of", "yesterday"]).await;
    assert!(text(&bad.stderr).contains("expected a time ago (2h) or a time"), "{}", text(&bad.stderr));
}

#[test]
fn a_deleted_item_keeps_its_last_document_and_says_why_it_went() {
    let list = fixture("k3s-troubleshoot-real-snapshot.json");
    let objects = list["items"].as_array().unwrap().clone();
    let mut evicted = objects.iter().find(|o| o["kind"] == "Pod" && o["metadata"]["name"] == POD).unwrap().clone();
    evicted["status"]["phase"] = serde_json::json!("Failed");
    evicted["status"]["reason"] = serde_json::json!("Evicted");
    evicted["status"]["message"] = serde_json::json!("The node was low on resource: memory.");
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    graphd::import::import(&store, "k3s", &objects, |_, _| {}).unwrap();
    graphd::import::import(&store, "k3s", &[evicted], |_, _| {}).unwrap();
    let pod = item(&store, &uid(&objects, "Pod", POD));
    store.apply(&[Op::Delete(pod.key.clone())], Timestamp::now(), "kubernetes/k3s").unwrap();
    // A resync that no longer sees the Node: gone at resync.
    let node_name = objects.iter().find(|o| o["kind"] == "Node").unwrap()["metadata"]["name"].as_str().unwrap();
    let node = item(&store, &uid(&objects, "Node", node_name));
    let resync = graphd_store::Resync {
        scope: graphd_store::KeyScope::Kubernetes { cluster: "k3s".into() },
        kinds: vec![graphd_core::Kind::new("Kubernetes::Node").unwrap()],
    };
    store.resync(&resync, &Default::default(), Timestamp::now(), "kubernetes/k3s").unwrap();

    let reader = store.read();
    let deleted = |id: ItemId| {
        let filter = graphd_store::query::ChangeFilter {
            types: vec![graphd_core::ChangeType::Deleted],
            ..graphd_store::query::ChangeFilter::newest(10)
        };
        reader.changes(&[id], &filter).unwrap().remove(0)
    };
    let pod_gone = deleted(pod.id);
    assert_eq!(pod_gone.summary, format!("deleted {POD} (evicted)"));
    assert_eq!(pod_gone.source, "kubernetes/k3s");
    let node_gone = deleted(node.id);
    assert_eq!(node_gone.source, "kubernetes/k3s (gone at resync)");
    // The last document, and when it went.
    let stored = reader.get(pod.id, true).unwrap().unwrap();
    assert!(stored.deleted_at.is_some_and(|at| at == pod_gone.at));
    let document = reader.document(pod.id).unwrap().unwrap();
    assert_eq!(document["status"]["message"], "The node was low on resource: memory.");
    drop(reader);

    // What happened under a Deployment: its ReplicaSet's events and its Pods' events.
    let data = dir.path().display().to_string();
    let args = ["--data-dir", &data, "query", "changes", "deploy/default/backend-api", "--cluster", "k3s"];
    let run = |extra: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_graphd")).args(args).args(extra).output().unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        text(&out.stdout)
    };
    let own = run(&["--type", "Event"]);
    let recursive = run(&["--recursive", "--type", "Event", "--include-deleted"]);
    assert!(recursive.lines().count() > own.lines().count(), "{own}\n---\n{recursive}");
    assert!(recursive.contains("BackOff"), "the crash-looping Pod's events: {recursive}");
}
