//! Replication through NATS JetStream on one fleet (`GRAPHD_BENCH_FLEET`, m by default), on a
//! 3-node NATS cluster on this machine with a stream of 3 replicas:
//!
//! - end-to-end ingest: the fleet's batches published as an agent publishes them (each waits
//!   for the stream's acknowledgement), consumed by a replica into its own store; against the
//!   same batches through the gRPC ingest stream of a served store, in the same run;
//! - replica lag under a steady update rate: batches of label updates published at a fixed
//!   rate; for each, the time from its acknowledgement by the stream to the replica having
//!   applied it.
//!
//! `GRAPHD_BENCH_FLEET=m cargo bench -p graphd-benches --bench replication`

use graphd::agent::request;
use graphd::stream::NatsConfig;
use graphd_benches::served::Served;
use graphd_benches::{bench_size, open, BenchStore};
use graphd_fleet::{generate, load};
use graphd_nats_cluster::NatsCluster;
use graphd_proto::v1 as pb;
use graphd_store::Op;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Operations per batch: a message well under NATS's 1 MiB default payload limit.
const BATCH: usize = 1_000;
/// The steady update rate of the lag measurement, and how long it lasts.
const UPDATES_PER_SEC: usize = 5_000;
const UPDATE_BATCH: usize = 100;
const UPDATE_SECS: u64 = 10;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    runtime.block_on(run());
}

async fn run() {
    let (word, size) = bench_size();
    let fleet = generate(size, 1);
    let requests: Vec<pb::IngestRequest> = load::batches(&fleet, BATCH).map(|ops| request(&ops, "bench")).collect();
    let items = fleet.items.len() as f64;
    println!(
        "# Replication through NATS JetStream, fleet {word}: {} items, {} edges\n",
        fleet.items.len(),
        fleet.edges.len()
    );

    // The baseline: the same batches through the ingest stream of a served store.
    let grpc_dir = tempfile::tempdir().unwrap();
    let served = Served::start(Arc::new(open(grpc_dir.path()))).await;
    let grpc_secs = served.ingest(requests.clone()).await;
    served.stop().await;

    let nats = NatsCluster::start(3);
    let config = NatsConfig {
        servers: nats.urls(),
        stream: "BENCH".into(),
        subject: "graphd.ingest".into(),
        replicas: 3,
        consumer: Some("bench-replica".into()),
        max_age: None,
    };
    let (context, _) = connect_when_ready(&config).await;
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let (stop, stopping) = tokio::sync::watch::channel(false);
    let replica =
        tokio::spawn(graphd::stream::consume(config.clone(), "bench-replica".into(), Arc::clone(&store), stopping));

    let subject = config.subject_of("bench");
    let started = Instant::now();
    let mut last = 0;
    for request in &requests {
        last = publish(&context, &subject, request).await;
    }
    let published_secs = started.elapsed().as_secs_f64();
    wait_for(&store, last).await;
    let replicated_secs = started.elapsed().as_secs_f64();

    println!("| ingest of the fleet | seconds | items/s |\n| --- | ---: | ---: |");
    println!("| gRPC stream into a served store (baseline) | {grpc_secs:.2} | {:.0} |", items / grpc_secs);
    println!(
        "| published to JetStream (R3), each acknowledged | {published_secs:.2} | {:.0} |",
        items / published_secs
    );
    println!(
        "| published → applied by a replica (end to end) | {replicated_secs:.2} | {:.0} |",
        items / replicated_secs
    );
    println!("\nend to end through JetStream takes {:.2}x the time of the gRPC stream\n", replicated_secs / grpc_secs);

    // Steady updates: the first items' labels change, batch after batch, at a fixed rate.
    let updates: Vec<Op> = fleet
        .items
        .iter()
        .filter(|i| !i.deleted)
        .take(UPDATES_PER_SEC * UPDATE_SECS as usize)
        .enumerate()
        .map(|(n, item)| {
            let mut write = item.write.clone();
            write.labels.insert("bench-round".into(), n.to_string());
            Op::Upsert(write)
        })
        .collect();
    let every = Duration::from_secs_f64(UPDATE_BATCH as f64 / UPDATES_PER_SEC as f64);
    // When the replica's position moved, polled every millisecond beside the publisher.
    let (done, watching) = tokio::sync::watch::channel(false);
    let watcher = tokio::spawn(positions(Arc::clone(&store), watching));
    let mut published: Vec<(u64, Instant)> = Vec::new();
    let mut next = Instant::now();
    for chunk in updates.chunks(UPDATE_BATCH) {
        tokio::time::sleep_until(next.into()).await;
        next += every;
        let sequence = publish(&context, &subject, &request(chunk, "bench")).await;
        published.push((sequence, Instant::now()));
    }
    wait_for(&store, published.last().unwrap().0).await;
    let _ = done.send(true);
    let moves = watcher.await.unwrap();
    let mut lags: Vec<Duration> = published
        .iter()
        .map(|(sequence, acknowledged)| {
            let (_, applied) = moves.iter().find(|(position, _)| position >= sequence).expect("applied");
            applied.saturating_duration_since(*acknowledged)
        })
        .collect();
    lags.sort();
    let pick = |q: f64| lags[((lags.len() as f64 * q) as usize).min(lags.len() - 1)].as_secs_f64() * 1e3;
    println!(
        "replica lag at {UPDATES_PER_SEC} updates/s ({} batches of {UPDATE_BATCH} over {UPDATE_SECS} s), from the stream's \
         acknowledgement to applied: p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms",
        lags.len(),
        pick(0.5),
        pick(0.99),
        pick(1.0)
    );
    let _ = stop.send(true);
    replica.await.unwrap();
}

/// The stream, once the cluster has elected a leader and created it.
async fn connect_when_ready(
    config: &NatsConfig,
) -> (async_nats::jetstream::Context, async_nats::jetstream::stream::Stream) {
    let started = Instant::now();
    loop {
        match config.connect().await {
            Ok(connected) => return connected,
            Err(e) if started.elapsed() < Duration::from_secs(30) => {
                eprintln!("waiting for the NATS cluster: {e:#}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            Err(e) => panic!("the NATS cluster never came up: {e:#}"),
        }
    }
}

/// Publishes one batch as an agent does; returns its stream sequence once acknowledged.
async fn publish(context: &async_nats::jetstream::Context, subject: &str, request: &pb::IngestRequest) -> u64 {
    let payload = prost::Message::encode_to_vec(request);
    context.publish(subject.to_owned(), payload.into()).await.unwrap().await.unwrap().sequence
}

async fn wait_for(store: &BenchStore, sequence: u64) {
    while store.stream_position().unwrap().unwrap_or(0) < sequence {
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

/// Every change of the replica's stream position, with when it was seen, until `done`.
async fn positions(store: Arc<BenchStore>, done: tokio::sync::watch::Receiver<bool>) -> Vec<(u64, Instant)> {
    let mut moves = Vec::new();
    let mut last = 0;
    loop {
        // Read after seeing `done`: the last reading is at least the position it was sent at.
        let finished = *done.borrow();
        let position = store.stream_position().unwrap().unwrap_or(0);
        if position != last {
            moves.push((position, Instant::now()));
            last = position;
        }
        if finished {
            return moves;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}
