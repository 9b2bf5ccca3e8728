//! Replication through NATS JetStream: a 3-node NATS cluster on 127.0.0.1 holding a stream of 3
//! replicas, one agent publishing a fixture cluster to it, two graphd replicas consuming it.
//! One NATS node and one replica are killed during ingest, the cluster changes meanwhile, the
//! replica is restarted; both replicas end with the graph an import of the same objects gives.
//! A third replica started from a checkpoint of the first converges too.

mod support;

use graphd_kube_testserver::TestApiServer;
use graphd_nats_cluster::NatsCluster;
use serde_json::Value;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use support::processes::{agent, logs, pod, serve, Running};
use support::{fixture, graph_of, open, GraphOf};

const CLUSTER: &str = "k3s";

fn stream_yaml(urls: &[String], consumer: Option<&str>) -> String {
    let consumer = consumer.map(|c| format!(", consumer: {c}")).unwrap_or_default();
    format!("stream:\n  nats: {{servers: [{}], replicas: 3{consumer}}}\n", urls.join(", "))
}

/// A graphd replica over `data`, consuming the stream as `consumer`; its address once it listens.
fn replica(dir: &Path, data: &Path, consumer: &str, urls: &[String]) -> (Running, String) {
    let config = dir.join(format!("{consumer}.yaml"));
    let yaml = format!("data_dir: {}\nlisten: 127.0.0.1:0\n{}", data.display(), stream_yaml(urls, Some(consumer)));
    std::fs::write(&config, yaml).unwrap();
    serve(&["serve", "--config", config.to_str().unwrap()], &dir.join(format!("{consumer}.log")))
}

/// The graph of the cluster in the store in `data`, read while its replica runs.
fn graph_in(data: &Path) -> Option<GraphOf> {
    graphd::open::open_store_read_only(data).ok().map(|store| graph_of(&store, CLUSTER))
}

/// What an import of `objects` gives.
fn imported(objects: &[Value]) -> GraphOf {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    graphd::import::import(&store, CLUSTER, objects, |_, _| {}).unwrap();
    graph_of(&store, CLUSTER)
}

fn all_logs(dir: &Path) -> String {
    logs(dir, &["agent", "replica-a", "replica-b", "replica-c"], 15)
}

async fn converge(dir: &Path, replicas: &[&Path], expected: &GraphOf) {
    let started = Instant::now();
    while !replicas.iter().all(|data| graph_in(data).as_ref() == Some(expected)) {
        if started.elapsed() > Duration::from_secs(90) {
            for data in replicas {
                let have = graph_in(data).unwrap_or_default();
                let missing: Vec<_> = expected.0.difference(&have.0).take(5).collect();
                let extra: Vec<_> = have.0.difference(&expected.0).take(5).collect();
                let missing_edges = expected.1.difference(&have.1).count();
                eprintln!("{}: missing {missing:?}, extra {extra:?}, {missing_edges} edges missing", data.display());
            }
            panic!("the replicas never converged:\n{}", all_logs(dir));
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replicas_converge_through_a_lost_nats_node_a_killed_replica_and_a_checkpoint() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let mut nats = NatsCluster::start(3);
    let urls = nats.urls();
    let server = TestApiServer::start().await;
    let mut objects =
        graphd::import::parse_objects(&fixture("k3s-troubleshoot-real-snapshot.json").to_string()).unwrap();
    for object in &objects {
        server.apply(object.clone());
    }
    let (a, b) = (dir.join("replica-a-data"), dir.join("replica-b-data"));
    let (_replica_a, addr_a) = replica(dir, &a, "replica-a", &urls);
    let (replica_b, _) = replica(dir, &b, "replica-b", &urls);
    let _agent = agent(dir, "agent", &server, CLUSTER, &stream_yaml(&urls, None));

    // During ingest, as soon as the first items are in: a NATS node and a replica go.
    let started = Instant::now();
    while graph_in(&a).is_none_or(|g| g.0.is_empty()) {
        assert!(started.elapsed() < Duration::from_secs(90), "nothing replicated:\n{}", all_logs(dir));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    nats.kill(2);
    drop(replica_b);
    server.apply(pod("web-added-meanwhile"));
    objects.push(pod("web-added-meanwhile"));
    let gone = "backend-api-75fb46b7bd-xtkrh";
    assert!(server.delete("v1", "Pod", Some("default"), gone));
    objects.retain(|o| o["metadata"]["name"] != gone);
    let (_replica_b, _) = replica(dir, &b, "replica-b", &urls);
    let expected = imported(&objects);
    assert!(expected.0.len() > 400 && expected.1.len() > 500, "a real graph");
    converge(dir, &[&a, &b], &expected).await;

    // A third replica from a checkpoint of the first: it resumes after the sequence it holds.
    let c = dir.join("replica-c-data");
    let asked = Command::new(env!("CARGO_BIN_EXE_graphd"))
        .args(["query", "--addr", &addr_a, "checkpoint", c.to_str().unwrap()])
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&asked.stdout);
    assert!(
        asked.status.success() && said.contains("replication stream sequence"),
        "{said}{}",
        String::from_utf8_lossy(&asked.stderr)
    );
    let sequence: u64 = said.trim().rsplit(' ').next().unwrap().trim_end_matches(')').parse().unwrap();
    assert!(sequence > 0, "the checkpoint covers part of the stream: {said}");
    let (_replica_c, _) = replica(dir, &c, "replica-c", &urls);
    server.apply(pod("web-after-checkpoint"));
    objects.push(pod("web-after-checkpoint"));
    converge(dir, &[&a, &b, &c], &imported(&objects)).await;
    let c_log = std::fs::read_to_string(dir.join("replica-c.log")).unwrap();
    assert!(c_log.contains(&format!("position=Some({sequence})")), "replica-c started at the checkpoint:\n{c_log}");
}

/// A replica whose consumer has messages pulled by a connection that went before acknowledging
/// them: they come again only once their acknowledgement times out, after later ones. The
/// replica still applies every message, in stream order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_applies_what_a_dropped_connection_had_pulled() {
    use tokio_stream::StreamExt;
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let nats = NatsCluster::start(3);
    let urls = nats.urls();
    let server = TestApiServer::start().await;
    let objects = graphd::import::parse_objects(&fixture("k3s-troubleshoot-real-snapshot.json").to_string()).unwrap();
    for object in &objects {
        server.apply(object.clone());
    }
    let _agent = agent(dir, "agent", &server, CLUSTER, &stream_yaml(&urls, None));
    let name = "replica-d";
    let config = graphd::config::Config::parse(&stream_yaml(&urls, Some(name))).unwrap().stream.unwrap().nats;
    let client = async_nats::connect(urls[0].as_str()).await.unwrap();
    let jetstream = async_nats::jetstream::new(client);
    // Once the agent has published its resync: the stream stops growing.
    let started = Instant::now();
    let mut published = 0;
    let stream = loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert!(started.elapsed() < Duration::from_secs(60), "the agent never finished:\n{}", all_logs(dir));
        let Ok(mut stream) = jetstream.get_stream(&config.stream).await else { continue };
        let now = stream.info().await.map(|info| info.state.messages).unwrap_or(0);
        if now > 1 && now == published {
            break stream;
        }
        published = now;
    };
    // The consumer as the replica makes it, and a connection that pulls all messages but the
    // last and goes.
    let consumer = stream.create_consumer(config.replica_consumer(name, None)).await.unwrap();
    let all_but_last = usize::try_from(published - 1).unwrap();
    let mut pulled = consumer.fetch().max_messages(all_but_last).messages().await.unwrap();
    for _ in 0..all_but_last {
        pulled.next().await.expect("a message published").unwrap();
    }
    drop((pulled, consumer, stream, jetstream));
    let d = dir.join("replica-d-data");
    let (_replica_d, _) = replica(dir, &d, name, &urls);
    converge(dir, &[&d], &imported(&objects)).await;
}
