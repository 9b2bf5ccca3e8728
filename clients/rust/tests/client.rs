//! The client against graphd's own server on a real socket, over RocksDB in a temp dir:
//! ingest a small graph, then get, find, related, walk-up and watch.

use graphd_client::{pb, Client, Error, Narrowing};
use std::sync::Arc;
use std::time::Duration;

/// A served store on a free port; dropping the sender stops it.
async fn serve(data_dir: &std::path::Path) -> (String, tokio::sync::oneshot::Sender<()>) {
    let store = graphd::open_store(data_dir).unwrap();
    store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let limits = graphd::server::Limits::default();
    tokio::spawn(graphd::server::serve(Arc::new(store), listener, limits, Arc::default(), async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

fn upsert(uid: &str, kind: &str, name: &str, namespace: &str, document: serde_json::Value) -> pb::Operation {
    let key = pb::KubernetesKey { cluster: "c1".into(), uid: uid.into() };
    pb::Operation {
        op: Some(pb::operation::Op::Upsert(pb::ItemWrite {
            key: Some(pb::ExternalKey { source: Some(pb::external_key::Source::Kubernetes(key)) }),
            kind: kind.into(),
            name: name.into(),
            namespace: namespace.into(),
            scope: Some(pb::Scope { cluster: "c1".into(), ..Default::default() }),
            document_json: document.to_string(),
            ..Default::default()
        })),
    }
}

/// A Pod owned by a ReplicaSet owned by a Deployment, on a Node, in a namespace.
fn small_graph() -> Vec<pb::Operation> {
    let owned_by = |kind: &str, uid: &str| serde_json::json!({"metadata": {"namespace": "apps", "ownerReferences": [{"kind": kind, "uid": uid, "controller": true}]}});
    let mut pod = owned_by("ReplicaSet", "rs");
    pod["spec"] = serde_json::json!({"nodeName": "n1"});
    vec![
        upsert("ns", "Kubernetes::Namespace", "apps", "", serde_json::json!({})),
        upsert("n1", "Kubernetes::Node", "n1", "", serde_json::json!({})),
        upsert(
            "deploy",
            "Kubernetes::Deployment",
            "web",
            "apps",
            serde_json::json!({"metadata": {"namespace": "apps"}}),
        ),
        upsert("rs", "Kubernetes::ReplicaSet", "web-5d78c", "apps", owned_by("Deployment", "deploy")),
        upsert("pod", "Kubernetes::Pod", "web-5d78c-abcde", "apps", pod),
    ]
}

fn batch(sequence: u64, operations: Vec<pb::Operation>) -> pb::IngestRequest {
    pb::IngestRequest { sequence, source: "client-test".into(), operations, ..Default::default() }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ingest_get_find_related_walk_up_and_watch() {
    let dir = tempfile::tempdir().unwrap();
    let (addr, stop) = serve(dir.path()).await;
    let mut graphd = Client::connect(&addr).await.unwrap();

    let acks = graphd.ingest(vec![batch(1, small_graph())]).await.unwrap();
    assert!(acks[0].applied, "{:?}", acks[0]);
    assert_eq!(acks[0].created, 5);

    // Named as a person types it, narrowed by cluster; then by id.
    let narrowing = Narrowing { cluster: Some("c1".into()), ..Default::default() };
    let pod = graphd.find("pod/apps/web-5d78c-abcde", &narrowing).await.unwrap();
    assert_eq!(pod.kind, "Kubernetes::Pod");
    assert_eq!(graphd.get(pod.id).await.unwrap().name, "web-5d78c-abcde");
    let node = graphd.find("node/n1", &Narrowing::default()).await.unwrap();
    let nowhere = graphd.find("pod/apps/web", &narrowing).await.unwrap_err();
    assert!(nowhere.to_string().contains("no item matches \"pod/apps/web\" in cluster c1"), "{nowhere}");

    // Walk-up: the owner chain, the node, the namespace and the cluster.
    let up = graphd.walk_up(pod.id).await.unwrap();
    let kinds: Vec<&str> = up.ancestors.iter().map(|a| a.item.as_ref().unwrap().kind.as_str()).collect();
    for kind in ["Kubernetes::ReplicaSet", "Kubernetes::Deployment", "Kubernetes::Node", "Kubernetes::Namespace"] {
        assert!(kinds.contains(&kind), "{kind} missing from {kinds:?}");
    }
    assert!(up.links.iter().any(|l| l.child == pod.id && l.relation == "runs-on" && l.parent == node.id), "{up:?}");

    // Related: what runs on the node.
    let on_node = graphd
        .related(pb::RelatedRequest {
            id: node.id,
            direction: pb::Direction::Incoming as i32,
            depth: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(on_node.iter().map(|h| h.item.as_ref().unwrap().id).collect::<Vec<_>>(), [pod.id]);

    // Watch the node and what is one step from it; the pod's eviction arrives.
    let mut events = graphd.watch_item(node.id, 1).await.unwrap();
    let mut evicted = small_graph().pop().unwrap();
    if let Some(pb::operation::Op::Upsert(write)) = evicted.op.as_mut() {
        write.status = "Evicted".into();
    }
    assert!(graphd.ingest(vec![batch(2, vec![evicted])]).await.unwrap()[0].applied);
    let event = tokio::time::timeout(Duration::from_secs(10), events.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(event.change.as_ref().unwrap().item, pod.id);
    assert_eq!(event.item.unwrap().status, "Evicted");

    // Server errors arrive as statuses with the server's message.
    match graphd.get(999_999).await {
        Err(Error::Status(status)) => assert_eq!(status.code(), tonic::Code::NotFound),
        other => panic!("{other:?}"),
    }
    drop(stop);
}

#[tokio::test]
async fn an_unreachable_server_is_named() {
    let free = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().to_string();
    let err = Client::connect(&free).await.unwrap_err();
    assert!(err.to_string().starts_with(&format!("cannot reach graphd at {free}")), "{err}");
}
