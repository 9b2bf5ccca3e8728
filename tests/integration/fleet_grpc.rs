//! A fleet-S graph ingested through the gRPC stream of a served RocksDB store, then every query
//! RPC compared with the store's own answers; a watch hears a change made after it subscribed;
//! requests a client gets wrong get the right status and change nothing.

use graphd::server::convert::operation_to;
use graphd_client::{pb, Client, Error};
use graphd_core::{ExternalKey, ItemId};
use graphd_fleet::{generate, load, FleetSize};
use graphd_store::query::{ChangeFilter, Direction, ListQuery, PathQuery, RelatedQuery, ScopeFilter};
use graphd_store::Op;
use std::collections::BTreeSet;
use std::sync::Arc;
use tonic::Code;

/// Serves `store` on a free port until the returned sender is dropped.
async fn serve(store: Arc<graphd::GraphStore>, limits: graphd::server::Limits) -> (String, impl Drop) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(graphd::server::serve(store, listener, limits, Arc::default(), async {
        let _ = stopped.await;
    }));
    (addr, stop)
}

fn code<T: std::fmt::Debug>(result: Result<T, Error>) -> (Code, String) {
    match result {
        Err(Error::Status(status)) => (status.code(), status.message().to_owned()),
        other => panic!("expected a status, got {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fleet_ingested_over_grpc_answers_every_query_as_the_store_does() {
    let fleet = generate(FleetSize::S, 7);
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(graphd::open_store(dir.path()).unwrap());
    let limits = graphd::server::Limits { max_message_bytes: 4 << 20, ..Default::default() };
    let (addr, _stop) = serve(Arc::clone(&store), limits).await;
    let mut client = Client::connect(&addr).await.unwrap();

    // Ingest: the whole fleet on one stream, every batch acknowledged as applied.
    let requests: Vec<pb::IngestRequest> = load::batches(&fleet, 1_000)
        .enumerate()
        .map(|(n, ops)| pb::IngestRequest {
            sequence: n as u64 + 1,
            source: "fleet".into(),
            operations: ops.iter().map(operation_to).collect(),
            ..Default::default()
        })
        .collect();
    let sent = requests.len();
    let acks = client.ingest(requests).await.unwrap();
    assert_eq!(acks.len(), sent);
    assert!(acks.iter().all(|a| a.applied), "{:?}", acks.iter().find(|a| !a.applied));
    let created: u32 = acks.iter().map(|a| a.created).sum();
    assert_eq!(created as usize, fleet.items.len());
    let deleted: u32 = acks.iter().map(|a| a.deleted).sum();
    assert_eq!(deleted as usize, fleet.items.iter().filter(|i| i.deleted).count());

    let id_of = |key: &ExternalKey| store.read().get_by_key(key, true).unwrap().unwrap().id;
    let mut starts: Vec<ItemId> = Vec::new();
    for (kind, count) in [
        ("Kubernetes::Pod", 8),
        ("Kubernetes::Node", 3),
        ("Kubernetes::Namespace", 2),
        ("AWS::EC2::Instance", 3),
        ("AWS::EC2::VPC", 2),
    ] {
        starts.extend(fleet.sample_live(kind, count).into_iter().map(|i| id_of(&fleet.items[i].write.key)));
    }

    for &start in &starts {
        let reader = store.read();
        let names = reader.names();
        let item = reader.get(start, false).unwrap().unwrap();

        // Get and Lookup.
        let got = client.get(start.0).await.unwrap();
        assert_eq!((got.kind.as_str(), got.name.as_str()), (item.kind.to_string().as_str(), item.name.as_str()));
        assert_eq!(got.created_at, item.created_at.0);
        let lookup = pb::LookupRequest {
            kind: item.kind.to_string(),
            name: item.name.clone(),
            namespace: item.namespace.clone().unwrap_or_default(),
            cluster: item.scope.cluster.clone().unwrap_or_default(),
            ..Default::default()
        };
        assert!(client.lookup(lookup).await.unwrap().iter().any(|i| i.id == start.0));

        // Related, each direction at depth 2: the same items at the same depths, by the same edges.
        for (direction, wire) in [
            (Direction::Outgoing, pb::Direction::Outgoing),
            (Direction::Incoming, pb::Direction::Incoming),
            (Direction::Both, pb::Direction::Both),
        ] {
            let expected: BTreeSet<(u64, u32, String)> = reader
                .related(start, &RelatedQuery::new(direction, 2))
                .unwrap()
                .hits
                .iter()
                .map(|h| (h.id.0, h.depth, names.relation_name(h.via.relation).to_owned()))
                .collect();
            let request = pb::RelatedRequest { id: start.0, direction: wire as i32, depth: 2, ..Default::default() };
            let answered: BTreeSet<(u64, u32, String)> = client
                .related(request)
                .await
                .unwrap()
                .into_iter()
                .map(|h| (h.item.unwrap().id, h.depth, h.via.unwrap().relation))
                .collect();
            assert_eq!(answered, expected, "related {direction:?} from {start:?}");
        }

        // Walk-up: the same ancestors at the same depths, and the same links.
        let up = reader.walk_up(start, false).unwrap();
        let answered = client.walk_up(start.0).await.unwrap();
        let ancestors: BTreeSet<(u64, u32)> =
            answered.ancestors.iter().map(|a| (a.item.as_ref().unwrap().id, a.depth)).collect();
        assert_eq!(ancestors, up.nodes.iter().map(|n| (n.id.0, n.depth)).collect());
        assert_eq!(answered.links.len(), up.links.len());
        assert!(!up.nodes.is_empty(), "{start:?} has ancestors");

        // Path: from the item to its farthest ancestor, as long as the store's own.
        let root = up.nodes.iter().max_by_key(|n| n.depth).unwrap().id;
        let own = reader.path(start, root, &PathQuery::default()).unwrap().unwrap();
        let path = client.path(pb::PathRequest { from: start.0, to: root.0, ..Default::default() }).await.unwrap();
        assert_eq!(path.items.len(), own.items.len());
        assert_eq!((path.items[0].id, path.items.last().unwrap().id), (start.0, root.0));

        // Changes of the item.
        let own = reader.changes(&[start], &ChangeFilter::newest(usize::MAX)).unwrap();
        let changes = client.changes(pb::ChangesRequest { id: start.0, ..Default::default() }).await.unwrap();
        assert_eq!(changes.len(), own.len());
    }

    // List, paged, and counts, per cluster: the same items as the store's own list.
    let cluster = fleet.items.iter().find_map(|i| i.write.scope.cluster.clone()).unwrap();
    let scope = ScopeFilter { cluster: Some(cluster.clone()), ..Default::default() };
    let own: BTreeSet<u64> = store
        .read()
        .list(&ListQuery { scope: scope.clone(), limit: usize::MAX, ..Default::default() })
        .unwrap()
        .items
        .iter()
        .map(|i| i.id.0)
        .collect();
    let mut listed = BTreeSet::new();
    let mut cursor = String::new();
    loop {
        let request = pb::ListRequest {
            scope: Some(pb::ScopeFilter { cluster: cluster.clone(), ..Default::default() }),
            limit: 250,
            cursor: cursor.clone(),
            ..Default::default()
        };
        let page = client.list(request).await.unwrap();
        assert!(page.items.len() <= 250);
        listed.extend(page.items.iter().map(|i| i.id));
        if page.next_cursor.is_empty() {
            break;
        }
        cursor = page.next_cursor;
    }
    assert_eq!(listed, own, "paged list of {cluster}");
    let counts = store.read().health_counts(&scope, None).unwrap();
    let request = pb::HealthCountsRequest {
        scope: Some(pb::ScopeFilter { cluster: cluster.clone(), ..Default::default() }),
        ..Default::default()
    };
    let answered = client.count_by_health(request).await.unwrap();
    assert_eq!(
        (answered.healthy, answered.warning, answered.unhealthy, answered.unknown),
        (counts.healthy, counts.warning, counts.unhealthy, counts.unknown)
    );
    assert_eq!(counts.total() as usize, own.len());

    // Requests a client gets wrong: the right code, a message naming what, nothing changed.
    let pod = starts[0];
    let before = store.read().related(pod, &RelatedQuery::new(Direction::Both, 3)).unwrap().hits.len();
    let wrong =
        |depth| pb::RelatedRequest { id: pod.0, direction: pb::Direction::Both as i32, depth, ..Default::default() };
    for depth in [0, 1000] {
        let (status, message) = code(client.related(wrong(depth)).await);
        assert_eq!(status, Code::InvalidArgument, "depth {depth}: {message}");
        assert!(message.contains("depth"), "{message}");
    }
    let unknown_kind = pb::LookupRequest { kind: "Kubernetes".into(), name: "x".into(), ..Default::default() };
    let (status, message) = code(client.lookup(unknown_kind).await);
    assert_eq!(status, Code::InvalidArgument);
    assert!(message.starts_with("kind:"), "{message}");
    let malformed_key =
        pb::GetRequest { by: Some(pb::get_request::By::Key(pb::ExternalKey { source: None })), ..Default::default() };
    let (status, message) = code(client.get_by(malformed_key).await);
    assert_eq!(status, Code::InvalidArgument, "{message}");
    let (status, message) = code(client.get(u64::MAX).await);
    assert_eq!((status, message.as_str()), (Code::NotFound, format!("no item with id {}", u64::MAX).as_str()));

    // A batch with one bad operation is refused whole; one over the message limit too.
    let pod_write = store.read().get(pod, false).unwrap().unwrap();
    let pod_write = fleet.items.iter().find(|i| i.write.key == pod_write.key).unwrap().write.clone();
    let mut fine = operation_to(&Op::Upsert(pod_write));
    if let Some(pb::operation::Op::Upsert(write)) = fine.op.as_mut() {
        write.status = "Changed".into();
    }
    let bad = pb::Operation {
        op: Some(pb::operation::Op::Upsert(pb::ItemWrite { kind: "Pod".into(), ..Default::default() })),
    };
    let mixed = pb::IngestRequest { sequence: 1, operations: vec![fine.clone(), bad], ..Default::default() };
    let ack = &client.ingest(vec![mixed]).await.unwrap()[0];
    assert!(!ack.applied && ack.error.contains("operations[1]"), "{ack:?}");
    let mut oversized = fine.clone();
    if let Some(pb::operation::Op::Upsert(write)) = oversized.op.as_mut() {
        write.document_json = format!("{{\"padding\": \"{}\"}}", "x".repeat(5 << 20));
    }
    let huge = pb::IngestRequest { sequence: 2, operations: vec![oversized], ..Default::default() };
    let (status, _) = code(client.ingest(vec![huge]).await);
    assert_eq!(status, Code::OutOfRange);
    let unchanged = store.read().get(pod, false).unwrap().unwrap();
    assert_ne!(unchanged.status, "Changed", "nothing of a refused batch landed");
    assert_eq!(store.read().related(pod, &RelatedQuery::new(Direction::Both, 3)).unwrap().hits.len(), before);

    // Watch: a change made after subscribing arrives, about the item that changed.
    let node = *starts
        .iter()
        .find(|id| store.read().get(**id, false).unwrap().unwrap().kind.to_string() == "Kubernetes::Node")
        .unwrap();
    let mut events = client.watch_item(node.0, 1).await.unwrap();
    let on_node = client
        .related(pb::RelatedRequest {
            id: node.0,
            direction: pb::Direction::Incoming as i32,
            depth: 1,
            ..Default::default()
        })
        .await
        .unwrap();
    let neighbour = on_node[0].item.clone().unwrap();
    let mut evicted = pb::ItemWrite {
        key: neighbour.key.clone(),
        kind: neighbour.kind.clone(),
        name: neighbour.name.clone(),
        namespace: neighbour.namespace.clone(),
        scope: neighbour.scope.clone(),
        ..Default::default()
    };
    evicted.status = "Evicted".into();
    let update = pb::IngestRequest {
        sequence: 3,
        operations: vec![pb::Operation { op: Some(pb::operation::Op::Upsert(evicted)) }],
        ..Default::default()
    };
    assert!(client.ingest(vec![update]).await.unwrap()[0].applied);
    let event =
        tokio::time::timeout(std::time::Duration::from_secs(10), events.message()).await.unwrap().unwrap().unwrap();
    assert_eq!(event.change.unwrap().item, neighbour.id);
    assert_eq!(event.item.unwrap().status, "Evicted");
}
