//! graphd over loopback gRPC on one fleet (`GRAPHD_BENCH_FLEET`, m by default): streamed
//! ingest against direct store ingest in the same run, round-trip latency of walk-up and
//! related depth 3, and walk-up queries/s at 1, 8 and 64 concurrent clients.
//!
//! `GRAPHD_BENCH_FLEET=m cargo bench -p graphd-benches --bench grpc`

use graphd::agent::request;
use graphd_benches::served::Served;
use graphd_benches::stats::micros;
use graphd_benches::{bench_size, open, starts};
use graphd_core::Timestamp;
use graphd_fleet::{generate, load};
use graphd_proto::v1 as pb;
use graphd_proto::v1::query_service_client::QueryServiceClient;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    let batches: Vec<_> = load::batches(&fleet, 5_000).collect();
    println!("# gRPC over loopback, fleet {word}: {} items, {} edges\n", fleet.items.len(), fleet.edges.len());

    // Direct ingest, the baseline.
    let direct_dir = tempfile::tempdir().unwrap();
    let direct = open(direct_dir.path());
    let started = Instant::now();
    for batch in &batches {
        direct.apply(batch, Timestamp::now(), "bench").unwrap();
    }
    let direct_secs = started.elapsed().as_secs_f64();
    drop(direct);

    // The same through the ingest stream of a served store.
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(open(dir.path()));
    let served = Served::start(Arc::clone(&store)).await;
    let grpc_secs = served.ingest(batches.iter().map(|b| request(b, "bench")).collect()).await;
    let channel = served.channel.clone();
    let items = fleet.items.len() as f64;
    println!("| ingest | seconds | items/s |\n| --- | ---: | ---: |");
    println!("| direct store | {direct_secs:.2} | {:.0} |", items / direct_secs);
    println!("| gRPC stream | {grpc_secs:.2} | {:.0} |", items / grpc_secs);
    println!("\nstreamed ingest takes {:.2}x the time of direct ingest\n", grpc_secs / direct_secs);

    let pods = starts(&store, "Kubernetes::Pod", 200);
    let mut client = QueryServiceClient::new(channel.clone());
    println!("| round trip (1 client) | p50 µs | p99 µs |\n| --- | ---: | ---: |");
    for (name, depth) in [("walk-up", 0u32), ("related both depth 3", 3)] {
        let mut times = Vec::new();
        for round in 0..5 {
            for &pod in &pods {
                let t = Instant::now();
                if depth == 0 {
                    client.walk_up(pb::WalkUpRequest { id: pod.0, ..Default::default() }).await.unwrap();
                } else {
                    let request = pb::RelatedRequest {
                        id: pod.0,
                        direction: pb::Direction::Both as i32,
                        depth,
                        ..Default::default()
                    };
                    client.related(request).await.unwrap();
                }
                if round > 0 {
                    times.push(t.elapsed());
                }
            }
        }
        times.sort();
        let pick = |q: f64| times[((times.len() as f64 * q) as usize).min(times.len() - 1)];
        println!("| {name} | {} | {} |", micros(pick(0.5)), micros(pick(0.99)));
    }

    println!("\n| concurrent clients | walk-ups/s |\n| --- | ---: |");
    for clients in [1usize, 8, 64] {
        let deadline = Instant::now() + Duration::from_secs(3);
        let tasks: Vec<_> = (0..clients)
            .map(|c| {
                let mut client = QueryServiceClient::new(channel.clone());
                let pods = pods.clone();
                tokio::spawn(async move {
                    let mut done = 0u64;
                    let mut i = c;
                    while Instant::now() < deadline {
                        client
                            .walk_up(pb::WalkUpRequest { id: pods[i % pods.len()].0, ..Default::default() })
                            .await
                            .unwrap();
                        i += 1;
                        done += 1;
                    }
                    done
                })
            })
            .collect();
        let mut total = 0;
        for task in tasks {
            total += task.await.unwrap();
        }
        println!("| {clients} | {:.0} |", total as f64 / 3.0);
    }
    served.stop().await;
}
