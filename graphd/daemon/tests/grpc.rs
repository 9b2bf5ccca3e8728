//! `graphd serve` over a real socket: ingest through the stream, every query, the errors a
//! client gets wrong, health checking and reflection, a second server refused, clean SIGTERM.

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
    let mut child = Command::new(env!("CARGO_BIN_EXE_graphd"))
        .arg("--data-dir")
        .arg(data_dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
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
    let good = pb::IngestRequest {
        sequence: 1,
        source: "test".into(),
        operations: vec![
            upsert("ns", "Kubernetes::Namespace", "apps", "", serde_json::json!({})),
            upsert("node", "Kubernetes::Node", "n1", "", serde_json::json!({})),
            pod("p1", "web-1"),
            pod("p2", "web-2"),
        ],
    };
    let bad = pb::IngestRequest {
        sequence: 2,
        source: "test".into(),
        operations: vec![upsert("x", "Pod", "x", "apps", serde_json::json!({}))],
    };
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
    let up = query.walk_up(pb::WalkUpRequest { id: web1, include_deleted: false }).await.unwrap().into_inner();
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
