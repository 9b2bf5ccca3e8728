//! Agents: two `graphd agent` processes, each scraping one fixture cluster on its own local
//! list/watch API server, feed one central `graphd serve`. The central server is killed in the
//! middle of the first sync; while it is away a Pod is added and another deleted; it comes
//! back on the same address. In the end its graph is the one `graphd import` makes of both
//! clusters' objects as they are then: nothing lost, nothing twice.

mod support;

use graphd_kube_testserver::TestApiServer;
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use support::processes::{agent, free_port, logs, pod, serve, Running};
use support::{fixture, graph_of, open};

/// `graphd serve` on `port` over `data`, once it listens.
fn central(dir: &Path, data: &Path, port: u16) -> Running {
    let args = ["--data-dir", data.to_str().unwrap(), "serve", "--listen", &format!("127.0.0.1:{port}")];
    serve(&args, &dir.join("central.log")).0
}

/// An agent named after `cluster`, sending to the central graphd on `port`.
fn agent_of(dir: &Path, server: &TestApiServer, cluster: &str, port: u16, extra: &str) -> Running {
    agent(dir, &format!("{cluster}-agent"), server, cluster, &format!("central: http://127.0.0.1:{port}\n{extra}"))
}

/// Items of `cluster` in the central store, read-only while the server runs.
fn central_items(data: &Path, cluster: &str) -> usize {
    match graphd::open::open_store_read_only(data) {
        Ok(store) => graph_of(&store, cluster).0.len(),
        Err(_) => 0,
    }
}

fn agent_logs(dir: &Path) -> String {
    logs(dir, &["k3s-agent", "ocp-agent", "small-agent"], usize::MAX)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_agents_feed_a_central_graphd_through_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let (k3s, ocp) = (TestApiServer::start().await, TestApiServer::start().await);
    k3s.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    ocp.load_list(&fixture("openshift-vsphere-mustgather-monitoring-pv.json"));
    let data: PathBuf = dir.path().join("central");
    let port = free_port();
    let server = central(dir.path(), &data, port);
    let _agents = [agent_of(dir.path(), &k3s, "k3s", port, ""), agent_of(dir.path(), &ocp, "ocp", port, "")];

    // Killed as soon as the first items arrive: in the middle of the first sync.
    let started = Instant::now();
    while central_items(&data, "k3s") + central_items(&data, "ocp") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "nothing reached the central graphd:\n{}",
            agent_logs(dir.path())
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop(server);

    // While it is away, the clusters change.
    k3s.apply(pod("web-added-while-away"));
    let gone = "backend-api-75fb46b7bd-xtkrh";
    assert!(k3s.delete("v1", "Pod", Some("default"), gone));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let _server = central(dir.path(), &data, port);

    // What `graphd import` makes of the same objects as they are now.
    let expected_dir = tempfile::tempdir().unwrap();
    let expected = open(expected_dir.path());
    let objects = |list: Value| graphd::import::parse_objects(&list.to_string()).unwrap();
    let mut k3s_objects = objects(fixture("k3s-troubleshoot-real-snapshot.json"));
    k3s_objects.retain(|o| o["metadata"]["name"] != gone);
    k3s_objects.push(pod("web-added-while-away"));
    graphd::import::import(&expected, "k3s", &k3s_objects, |_, _| {}).unwrap();
    let ocp_objects = objects(fixture("openshift-vsphere-mustgather-monitoring-pv.json"));
    graphd::import::import(&expected, "ocp", &ocp_objects, |_, _| {}).unwrap();

    let started = Instant::now();
    loop {
        let central = graphd::open::open_store_read_only(&data).unwrap();
        let same = ["k3s", "ocp"].iter().all(|c| graph_of(&central, c) == graph_of(&expected, c));
        if same {
            break;
        }
        if started.elapsed() > Duration::from_secs(60) {
            for cluster in ["k3s", "ocp"] {
                let (have, want) = (graph_of(&central, cluster), graph_of(&expected, cluster));
                let missing: Vec<_> = want.0.difference(&have.0).take(5).collect();
                let extra: Vec<_> = have.0.difference(&want.0).take(5).collect();
                let missing_edges: Vec<_> = want.1.difference(&have.1).take(5).collect();
                let extra_edges: Vec<_> = have.1.difference(&want.1).take(5).collect();
                eprintln!("{cluster}: missing {missing:?}\nextra {extra:?}\nmissing edges {missing_edges:?}\nextra edges {extra_edges:?}");
            }
            panic!("the central graph never became the imported one; agents said:\n{}", agent_logs(dir.path()));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (nodes, edges) = graph_of(&expected, "k3s");
    assert!(nodes.len() > 400 && edges.len() > 500, "a real graph: {} items, {} edges", nodes.len(), edges.len());
    let said = agent_logs(dir.path());
    assert!(said.contains("cannot forward; changes wait in the buffer"), "the outage was seen:\n{said}");
    assert!(said.contains("full resync sent"), "{said}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_buffer_says_so_and_a_resync_makes_up_for_it() {
    let dir = tempfile::tempdir().unwrap();
    let k3s = TestApiServer::start().await;
    k3s.load_list(&fixture("k3s-troubleshoot-real-snapshot.json"));
    let data: PathBuf = dir.path().join("central");
    let port = free_port();
    // No central graphd yet, and room for a few batches only.
    let _agent = agent_of(dir.path(), &k3s, "small", port, "buffer_max_bytes: 20000\n");
    let started = Instant::now();
    while !agent_logs(dir.path()).contains("the agent's buffer is full") {
        assert!(started.elapsed() < Duration::from_secs(60), "no warning:\n{}", agent_logs(dir.path()));
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _server = central(dir.path(), &data, port);
    let expected_dir = tempfile::tempdir().unwrap();
    let expected = open(expected_dir.path());
    let objects = graphd::import::parse_objects(&fixture("k3s-troubleshoot-real-snapshot.json").to_string()).unwrap();
    graphd::import::import(&expected, "small", &objects, |_, _| {}).unwrap();
    let started = Instant::now();
    while graph_of(&graphd::open::open_store_read_only(&data).unwrap(), "small") != graph_of(&expected, "small") {
        assert!(started.elapsed() < Duration::from_secs(60), "never converged:\n{}", agent_logs(dir.path()));
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
