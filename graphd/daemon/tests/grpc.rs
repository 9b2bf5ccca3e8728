//! `graphd serve` over a real socket: ingest through the stream, every query, the errors a
//! client gets wrong, health checking and reflection, a second server refused, clean SIGTERM.

mod http;

use graphd_proto::v1 as pb;
use graphd_proto::v1::ingest_service_client::IngestServiceClient;
use graphd_proto::v1::query_service_client::QueryServiceClient;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use tonic::Code;

#[derive(Debug)]
struct Server {
    child: Child,
    addr: String,
    stdout: BufReader<std::process::ChildStdout>,
}

fn start(data_dir: &std::path::Path) -> Result<Server, String> {
    start_with(data_dir, &[])
}

/// `graphd serve` on a free port, with `extra` arguments.
fn start_with(data_dir: &std::path::Path, extra: &[&str]) -> Result<Server, String> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphd"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start graphd serve");
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    match line.trim().strip_prefix("graphd listening on ") {
        Some(addr) => Ok(Server { addr: format!("http://{addr}"), child, stdout }),
        None => {
            let output = child.wait_with_output().unwrap();
            Err(String::from_utf8_lossy(&output.stderr).into_owned())
        }
    }
}

fn k8s_key(uid: &str) -> pb::ExternalKey {
    pb::ExternalKey {
        source: Some(pb::external_key::Source::Kubernetes(pb::KubernetesKey { cluster: "c1".into(), uid: uid.into() })),
    }
}

fn upsert(uid: &str, kind: &str, name: &str, namespace: &str, document: serde_json::Value) -> pb::Operation {
    pb::Operation {
        op: Some(pb::operation::Op::Upsert(pb::ItemWrite {
            key: Some(k8s_key(uid)),
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.into(),
            scope: Some(pb::Scope { cluster: "c1".into(), ..Default::default() }),
            document_json: document.to_string(),
            ..Default::default()
        })),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_ingest_query_and_stop() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path()).expect("graphd serve starts");
    let second = start(dir.path()).expect_err("a second server on the same data dir must fail");
    assert!(second.contains("in use by another graphd process"), "{second}");

    // Ingest: a namespace, a node and pods linked by the built-in rules, then a bad batch.
    let mut ingest = IngestServiceClient::connect(server.addr.clone()).await.unwrap();
    let pod = |uid: &str, name: &str| {
        upsert(
            uid,
            "Kubernetes::Pod",
            name,
            "apps",
            serde_json::json!({"metadata": {"namespace": "apps"}, "spec": {"nodeName": "n1"}}),
        )
    };
    let good = batch(
        1,
        vec![
            upsert("ns", "Kubernetes::Namespace", "apps", "", serde_json::json!({})),
            upsert("node", "Kubernetes::Node", "n1", "", serde_json::json!({})),
            pod("p1", "web-1"),
            pod("p2", "web-2"),
        ],
    );
    let bad = batch(2, vec![upsert("x", "Pod", "x", "apps", serde_json::json!({}))]);
    let acks: Vec<pb::IngestAck> = {
        let stream = tokio_stream::iter(vec![good, bad]);
        let mut responses = ingest.ingest(stream).await.unwrap().into_inner();
        let mut acks = Vec::new();
        while let Some(ack) = responses.message().await.unwrap() {
            acks.push(ack);
        }
        acks
    };
    assert_eq!(acks.len(), 2);
    assert!(acks[0].applied, "{:?}", acks[0]);
    assert_eq!((acks[0].created, acks[0].sequence), (4, 1));
    assert!(acks[0].edges_added >= 4, "namespace and node links: {:?}", acks[0]);
    assert!(!acks[1].applied);
    assert!(acks[1].error.contains("operations[0].upsert.kind"), "{}", acks[1].error);

    // Queries.
    let mut query = QueryServiceClient::connect(server.addr.clone()).await.unwrap();
    let found = query
        .lookup(pb::LookupRequest {
            kind: "Kubernetes::Pod".into(),
            name: "web-1".into(),
            namespace: "apps".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner()
        .items;
    assert_eq!(found.len(), 1);
    let web1 = found[0].id;
    let got = query
        .get(pb::GetRequest { by: Some(pb::get_request::By::Id(web1)), with_document: true, ..Default::default() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(got.name, "web-1");
    assert!(got.document_json.contains("nodeName"));
    let up = query.walk_up(pb::WalkUpRequest { id: web1, ..Default::default() }).await.unwrap().into_inner();
    let names: Vec<String> = up.ancestors.iter().map(|a| a.item.as_ref().unwrap().name.clone()).collect();
    assert!(names.contains(&"n1".to_string()) && names.contains(&"apps".to_string()), "{names:?}");
    let node = query
        .lookup(pb::LookupRequest { short_id: "node".into(), ..Default::default() })
        .await
        .unwrap()
        .into_inner()
        .items[0]
        .id;
    let related = query
        .related(pb::RelatedRequest {
            id: node,
            direction: pb::Direction::Incoming as i32,
            depth: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(related.hits.len(), 2, "both pods run on the node");
    let list = query
        .list(pb::ListRequest {
            scope: Some(pb::ScopeFilter { cluster: "c1".into(), namespace: "apps".into(), ..Default::default() }),
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(list.items.len(), 1);
    assert!(!list.next_cursor.is_empty());
    let counts = query.count_by_health(pb::HealthCountsRequest::default()).await.unwrap().into_inner();
    assert_eq!(counts.unknown, 4);

    // What a client gets wrong gets the right code and a message that names it.
    let depth0 = query
        .related(pb::RelatedRequest { id: node, direction: pb::Direction::Both as i32, depth: 0, ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(depth0.code(), Code::InvalidArgument);
    assert!(depth0.message().contains("depth"), "{}", depth0.message());
    let missing = query
        .get(pb::GetRequest { by: Some(pb::get_request::By::Id(999_999)), ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::NotFound);
    assert_eq!(missing.message(), "no item with id 999999");
    let too_many = query
        .related(pb::RelatedRequest {
            id: node,
            direction: pb::Direction::Incoming as i32,
            depth: 1,
            limit: 1,
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(too_many.code(), Code::ResourceExhausted, "{}", too_many.message());
    let bad_kind = query.list(pb::ListRequest { kind: "Pod".into(), ..Default::default() }).await.unwrap_err();
    assert_eq!(bad_kind.code(), Code::InvalidArgument);
    assert!(bad_kind.message().starts_with("kind:"), "{}", bad_kind.message());

    // Health checking and reflection work with no proto files.
    let mut health = tonic_health::pb::health_client::HealthClient::new(channel(&server.addr).await);
    let status = health
        .check(tonic_health::pb::HealthCheckRequest { service: "graphd.v1.QueryService".into() })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
    let services = reflected_services(&server.addr).await;
    for service in ["graphd.v1.QueryService", "graphd.v1.IngestService", "grpc.health.v1.Health"] {
        assert!(services.contains(&service.to_string()), "{service} not reflected: {services:?}");
    }

    // SIGTERM: clean stop, store flushed.
    unsafe_sigterm(server.child.id());
    let status = server.child.wait().unwrap();
    assert!(status.success(), "{status:?}");
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut server.stdout, &mut rest).unwrap();
    assert!(rest.contains("store flushed"), "{rest}");
}

fn pod_on(uid: &str, name: &str, node: &str) -> pb::Operation {
    let document = serde_json::json!({"metadata": {"namespace": "apps"}, "spec": {"nodeName": node}});
    upsert(uid, "Kubernetes::Pod", name, "apps", document)
}

fn batch(sequence: u64, operations: Vec<pb::Operation>) -> pb::IngestRequest {
    pb::IngestRequest { sequence, source: "test".into(), operations, ..Default::default() }
}

/// Sends `batches` on one ingest stream and returns the acknowledgements.
async fn ingest_all(addr: &str, batches: Vec<pb::IngestRequest>) -> Vec<pb::IngestAck> {
    let mut ingest = IngestServiceClient::connect(addr.to_owned()).await.unwrap();
    let mut responses = ingest.ingest(tokio_stream::iter(batches)).await.unwrap().into_inner();
    let mut acks = Vec::new();
    while let Some(ack) = responses.message().await.unwrap() {
        acks.push(ack);
    }
    acks
}

async fn id_of(query: &mut QueryServiceClient<tonic::transport::Channel>, uid: &str) -> u64 {
    let request = pb::GetRequest {
        by: Some(pb::get_request::By::Key(k8s_key(uid))),
        include_deleted: true,
        ..Default::default()
    };
    query.get(request).await.unwrap().into_inner().id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_path_changes_and_resync() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(dir.path()).expect("graphd serve starts");
    let setup = batch(
        1,
        vec![
            upsert("ns", "Kubernetes::Namespace", "apps", "", serde_json::json!({})),
            upsert("n1", "Kubernetes::Node", "n1", "", serde_json::json!({})),
            upsert("n2", "Kubernetes::Node", "n2", "", serde_json::json!({})),
            pod_on("p1", "web-1", "n1"),
            pod_on("p2", "web-2", "n1"),
            pod_on("p3", "web-3", "n2"),
        ],
    );
    assert!(ingest_all(&server.addr, vec![setup]).await[0].applied);
    let mut query = QueryServiceClient::connect(server.addr.clone()).await.unwrap();
    let (n1, n2, p1, p2) = (
        id_of(&mut query, "n1").await,
        id_of(&mut query, "n2").await,
        id_of(&mut query, "p1").await,
        id_of(&mut query, "p2").await,
    );

    // Path: from a pod on n1 to the node n2, through the namespace and the other pod.
    let path = query.path(pb::PathRequest { from: p1, to: n2, ..Default::default() }).await.unwrap().into_inner();
    let names: Vec<&str> = path.items.iter().map(|i| i.name.as_str()).collect();
    assert_eq!(names, ["web-1", "apps", "web-3", "n2"], "{path:?}");
    assert_eq!(path.edges.len(), 3);
    let no_path = query
        .path(pb::PathRequest { from: p1, to: n2, relations: vec!["runs-on".into()], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(no_path.code(), Code::NotFound, "{}", no_path.message());

    // Watch the node n1 and what is related to it: its pods.
    let watch = query.watch(pb::WatchRequest { target: Some(pb::watch_request::Target::Item(n1)), depth: 1 });
    let mut events = watch.await.unwrap().into_inner();
    let mut scope_watch = QueryServiceClient::connect(server.addr.clone()).await.unwrap();
    let scope = pb::ScopeFilter { cluster: "c1".into(), ..Default::default() };
    let mut scope_events = scope_watch
        .watch(pb::WatchRequest { target: Some(pb::watch_request::Target::Scope(scope)), depth: 0 })
        .await
        .unwrap()
        .into_inner();

    // A change elsewhere is not n1's news; then a resync that no longer reports web-2.
    let mut busy = pod_on("p3", "web-3", "n2");
    if let Some(pb::operation::Op::Upsert(w)) = busy.op.as_mut() {
        w.status = "Evicted".into();
    }
    let begin = pb::ResyncScope {
        scope: Some(pb::resync_scope::Scope::Cluster("c1".into())),
        kinds: vec!["Kubernetes::Pod".into()],
    };
    let acks = ingest_all(
        &server.addr,
        vec![
            batch(2, vec![busy]),
            pb::IngestRequest { begin_resync: Some(begin.clone()), ..batch(3, vec![pod_on("p1", "web-1", "n1")]) },
            pb::IngestRequest { end_resync: true, ..batch(4, vec![pod_on("p3", "web-3", "n2")]) },
            pb::IngestRequest { end_resync: true, ..batch(5, vec![]) },
        ],
    )
    .await;
    assert!(acks[..3].iter().all(|a| a.applied), "{acks:?}");
    assert_eq!(acks[2].resync_deleted, 1, "web-2 was not reported: {:?}", acks[2]);
    assert!(!acks[3].applied && acks[3].error.contains("no resync is open"), "{:?}", acks[3]);

    let event =
        tokio::time::timeout(std::time::Duration::from_secs(10), events.message()).await.unwrap().unwrap().unwrap();
    let (change, item) = (event.change.unwrap(), event.item.unwrap());
    assert_eq!((change.item, change.r#type.as_str(), item.name.as_str()), (p2, "Deleted", "web-2"), "{change:?}");
    assert!(item.deleted_at > 0);
    assert!(change.source.contains("resync"), "{change:?}");
    let first_in_scope = scope_events.message().await.unwrap().unwrap().change.unwrap();
    assert_eq!(first_in_scope.r#type, "Updated", "web-3's eviction is the scope's first news: {first_in_scope:?}");

    // Changes of n1 and everything one step from it, newest first.
    let changes =
        query.changes(pb::ChangesRequest { id: n1, depth: 1, ..Default::default() }).await.unwrap().into_inner();
    assert_eq!(changes.changes[0].r#type, "Deleted");
    assert_eq!(changes.changes.iter().filter(|c| c.r#type == "Created").count(), 3, "n1, web-1, web-2");
    let unknown = query
        .changes(pb::ChangesRequest { id: n1, types: vec!["Exploded".into()], ..Default::default() })
        .await
        .unwrap_err();
    assert_eq!(unknown.code(), Code::InvalidArgument);
    assert!(unknown.message().contains("HealthChanged"), "lists the known types: {}", unknown.message());

    // A server with open watches still stops cleanly on SIGTERM.
    unsafe_sigterm(server.child.id());
    let status = tokio::task::spawn_blocking(move || server.child.wait().unwrap()).await.unwrap();
    assert!(status.success(), "{status:?}");
    assert!(events.message().await.map(|m| m.is_none()).unwrap_or(true), "the watch ended with the server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_limits_and_metrics() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("graphd.yaml");
    std::fs::write(&config, "metrics_listen: 127.0.0.1:0\nlimits:\n  max_message_bytes: 4096\n  max_related: 1\n")
        .unwrap();
    let mut server =
        start_with(&dir.path().join("data"), &["--config", config.to_str().unwrap()]).expect("graphd serve starts");
    let mut line = String::new();
    server.stdout.read_line(&mut line).unwrap();
    let metrics_addr = line
        .trim()
        .strip_prefix("metrics on http://")
        .and_then(|a| a.strip_suffix("/metrics"))
        .unwrap_or_else(|| panic!("{line}"))
        .to_owned();

    // A batch over the message limit is refused as a whole; the store stays empty.
    let big = pod_on("big", "big", "n1");
    let mut big_batch = batch(1, vec![big]);
    if let Some(pb::operation::Op::Upsert(w)) = big_batch.operations[0].op.as_mut() {
        w.labels.insert("padding".into(), "x".repeat(8192));
    }
    let mut ingest = IngestServiceClient::connect(server.addr.clone()).await.unwrap();
    let refused = match ingest.ingest(tokio_stream::iter(vec![big_batch])).await {
        Err(status) => status,
        Ok(response) => response.into_inner().message().await.expect_err("an oversized batch is refused"),
    };
    assert_eq!(refused.code(), Code::OutOfRange, "{refused:?}");
    let mut query = QueryServiceClient::connect(server.addr.clone()).await.unwrap();
    let counts = query.count_by_health(pb::HealthCountsRequest::default()).await.unwrap().into_inner();
    assert_eq!(counts.unknown + counts.healthy + counts.warning + counts.unhealthy, 0, "nothing landed");

    // The configured related limit holds.
    let small = vec![
        upsert("n1", "Kubernetes::Node", "n1", "", serde_json::json!({})),
        pod_on("p1", "web-1", "n1"),
        pod_on("p2", "web-2", "n1"),
    ];
    assert!(ingest_all(&server.addr, vec![batch(2, small)]).await[0].applied);
    let n1 = id_of(&mut query, "n1").await;
    let wide = pb::RelatedRequest { id: n1, direction: pb::Direction::Incoming as i32, depth: 1, ..Default::default() };
    assert_eq!(query.related(wide).await.unwrap_err().code(), Code::ResourceExhausted);

    // Metrics: what was ingested and asked, and how big the store is.
    let text = http::get(&metrics_addr, "/metrics");
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    for expected in [
        "graphd_ingest_batches_total{outcome=\"applied\"} 1",
        "graphd_ingest_items_total{outcome=\"created\"} 3",
        "graphd_query_seconds_count{method=\"related\"} 1",
        "graphd_store_bytes ",
        // Each Pod runs on n1: two edges, counted exactly.
        "graphd_store_edges 2\n",
    ] {
        assert!(text.contains(expected), "{expected} missing from:\n{text}");
    }
    unsafe_sigterm(server.child.id());
    assert!(tokio::task::spawn_blocking(move || server.child.wait().unwrap()).await.unwrap().success());
}

#[test]
fn config_errors_name_file_and_field() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("graphd.yaml");
    std::fs::write(&config, "retention:\n  keep_deleted: forever\n").unwrap();
    let error = start_with(dir.path(), &["--config", config.to_str().unwrap()]).expect_err("refuses to start");
    assert!(error.contains("graphd.yaml: retention.keep_deleted:"), "{error}");
}

/// A plain HTTP/1.1 GET, the way Prometheus scrapes.
async fn reflected_services(addr: &str) -> Vec<String> {
    use tonic_reflection::pb::v1::server_reflection_client::ServerReflectionClient;
    use tonic_reflection::pb::v1::server_reflection_request::MessageRequest;
    use tonic_reflection::pb::v1::server_reflection_response::MessageResponse;
    use tonic_reflection::pb::v1::ServerReflectionRequest;
    let mut client = ServerReflectionClient::new(channel(addr).await);
    let request = ServerReflectionRequest {
        host: String::new(),
        message_request: Some(MessageRequest::ListServices(String::new())),
    };
    let mut responses = client.server_reflection_info(tokio_stream::iter(vec![request])).await.unwrap().into_inner();
    let response = responses.message().await.unwrap().unwrap();
    match response.message_response {
        Some(MessageResponse::ListServicesResponse(list)) => list.service.into_iter().map(|s| s.name).collect(),
        other => panic!("unexpected reflection answer {other:?}"),
    }
}

async fn channel(addr: &str) -> tonic::transport::Channel {
    tonic::transport::Channel::from_shared(addr.to_owned()).unwrap().connect().await.unwrap()
}

/// Sends SIGTERM, as an orchestrator stopping the pod would.
fn unsafe_sigterm(pid: u32) {
    let status = Command::new("kill").args(["-TERM", &pid.to_string()]).status().unwrap();
    assert!(status.success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_checkpoint_is_a_store_of_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = start(&dir.path().join("data")).expect("graphd serve starts");
    let mut client = graphd_client::Client::connect(&server.addr).await.unwrap();
    let batch = pb::IngestRequest {
        sequence: 1,
        source: "test".into(),
        operations: vec![upsert("u1", "Kubernetes::Pod", "web", "default", serde_json::json!({}))],
        ..Default::default()
    };
    assert!(client.ingest(vec![batch]).await.unwrap()[0].applied);
    let copy = dir.path().join("copy");
    assert_eq!(client.checkpoint(copy.to_str().unwrap()).await.unwrap(), 0, "no replication stream here");
    let again = client.checkpoint(copy.to_str().unwrap()).await.unwrap_err();
    assert!(again.to_string().contains("exists; name a new one"), "{again}");
    unsafe_sigterm(server.child.id());
    assert!(tokio::task::spawn_blocking(move || server.child.wait().unwrap()).await.unwrap().success());
    let copied = graphd::open_store(&copy).unwrap();
    let key = graphd_core::ExternalKey::kubernetes("c1", "u1");
    assert_eq!(copied.read().get_by_key(&key, false).unwrap().map(|i| i.name), Some("web".to_string()));
}
