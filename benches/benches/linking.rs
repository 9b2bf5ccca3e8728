//! Linking throughput with every built-in rule, against the same import without rules in the
//! same run: a generated fleet (`GRAPHD_BENCH_FLEET`, m by default: the figure is on l)
//! bulk loaded, as generated and with the Kubernetes documents rules follow; then the real k3s
//! snapshot imported as many clusters (`GRAPHD_BENCH_CLUSTERS`, 100 by default). After the
//! documented fleet's load with rules (right after it, and again once its compactions are
//! done), and after the k3s import's, the latency of one incremental update (a Pod
//! relabelled, so Services and policies re-select; a Pod's status changed).
//!
//! `GRAPHD_BENCH_FLEET=l GRAPHD_BENCH_CLUSTERS=100 cargo bench -p graphd-benches --bench linking`
//! (reads `../shared/fixtures/k8s`, as the tests do).

use graphd::import::{parse_objects, to_item};
use graphd_benches::stats::{measure, micros};
use graphd_benches::synthetic::with_uids_suffixed;
use graphd_benches::{bench_size, cpu_seconds, load_batches, open, BenchStore};
use graphd_core::{ItemWrite, Timestamp};
use graphd_fleet::{documents, load};
use graphd_store::{Cf, Op, Outcome};
use std::path::PathBuf;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    fleet_import();
    let clusters: usize = std::env::var("GRAPHD_BENCH_CLUSTERS").ok().and_then(|v| v.parse().ok()).unwrap_or(100);
    let path =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared/fixtures/k8s/k3s-troubleshoot-real-snapshot.json");
    let objects = parse_objects(&std::fs::read_to_string(&path).expect("the k3s fixture")).unwrap();
    // Each cluster's copy has its own uids, as every object of a real fleet does: shared ones
    // would make each lookup by uid find a candidate in every cluster.
    let items: Vec<ItemWrite> = (0..clusters)
        .flat_map(|c| {
            let cluster = format!("cluster-{c:03}");
            objects.iter().map(move |o| to_item(&cluster, &with_uids_suffixed(o, &cluster)).unwrap())
        })
        .collect();
    println!(
        "# linking: the k3s snapshot ({} objects) as {clusters} clusters = {} items\n",
        objects.len(),
        items.len()
    );
    println!("| import | seconds | CPU seconds | items/s | edges |\n| --- | ---: | ---: | ---: | ---: |");
    // Loaded as `graphd import` loads: batches of 1,000, each built while the last is written.
    let batches: Vec<Vec<Op>> =
        items.chunks(1_000).map(|batch| batch.iter().cloned().map(Op::Upsert).collect()).collect();
    let mut rates = Vec::new();
    for with_rules in [false, true] {
        // The directory is held as long as the store: RocksDB writes new files into it.
        let Loaded { store, dir: _dir, secs, cpu_secs, outcome } = loaded(&batches, with_rules);
        let rate = items.len() as f64 / secs;
        rates.push(rate);
        println!("| {} | {secs:.2} | {cpu_secs:.2} | {rate:.0} | {} |", label(with_rules), outcome.edges_added);

        if with_rules {
            let pods: Vec<&ItemWrite> =
                items.iter().filter(|i| i.kind.as_str() == "Kubernetes::Pod").take(200).collect();
            println!();
            update_latencies(&store, &pods, "");
        }
    }
    println!("\nk3s import: rules cost {:.1}x the time of the same import without them", rates[0] / rates[1]);
}

/// The latency of one incremental update of one of `pods` (`place` says where they are), whose
/// labels change: the Services, budgets and policies of the Pod's namespace select again; and
/// whose status changes: nothing that points at the Pod can find it differently.
fn update_latencies(store: &BenchStore, pods: &[&ItemWrite], place: &str) {
    update_latency(store, pods, &format!("{place}its labels change"), |pod, value| {
        pod.labels.insert("bench".into(), value.clone());
        pod.document["metadata"]["labels"]["bench"] = value.into();
    });
    update_latency(store, pods, &format!("{place}its status changes"), |pod, value| {
        pod.document["status"]["message"] = value.into();
    });
}

/// The latency of one incremental update of one of `pods`, changed by `change` with a value
/// it never had: an update that changes nothing writes nothing, so every one must change.
fn update_latency(store: &BenchStore, pods: &[&ItemWrite], what: &str, change: impl Fn(&mut ItemWrite, String)) {
    let mut update = 0u64;
    let latency = measure(pods, 3, |pod| {
        update += 1;
        let mut changed = pod.clone();
        change(&mut changed, format!("bench-{update}"));
        let outcome = store.apply(&[Op::Upsert(changed)], Timestamp(1_000_000 + update), "bench").unwrap();
        assert_eq!(outcome.updated, 1, "the update changed the Pod");
        1
    });
    println!(
        "incremental update of one Pod with all rules, {what}: p50 {} µs, p99 {} µs",
        micros(latency.p50),
        micros(latency.p99)
    );
}

/// A generated fleet loaded in batches of 5,000 operations (its items, then its edges, then
/// its deletions), with and without the rules; then the same fleet with Kubernetes documents
/// (`graphd_fleet::documents`), in which the rules find the references its edges come from:
/// sent with every edge as a link too, and, as a scraper sends it, with links only for the
/// edges no rule reads from the documents.
fn fleet_import() {
    let (word, size) = bench_size();
    let mut fleet = graphd_fleet::generate(size, 1);
    let (items, edges) = (fleet.items.len() as f64, fleet.edges.len() as f64);
    println!("# linking: fleet {word}, {items} items, {edges} edges\n");
    println!(
        "| bulk load | seconds | CPU seconds | items/s | edges/s | edges added |\n| --- | ---: | ---: | ---: | ---: | ---: |"
    );
    // Prints the load's row; returns the store, in its directory.
    let row = |label: &str, batches: &[Vec<Op>], with_rules: bool| {
        let Loaded { dir, store, secs, cpu_secs, outcome } = loaded(batches, with_rules);
        let (items_rate, edges_rate) = (items / secs, edges / secs);
        println!(
            "| {label} | {secs:.2} | {cpu_secs:.2} | {items_rate:.0} | {edges_rate:.0} | {} |",
            outcome.edges_added
        );
        (dir, store)
    };
    let batches: Vec<Vec<Op>> = load::batches(&fleet, 5_000).collect();
    for with_rules in [false, true] {
        row(label(with_rules), &batches, with_rules);
    }
    drop(batches);

    documents::attach(&mut fleet);
    let batches: Vec<Vec<Op>> = load::batches(&fleet, 5_000).collect();
    row(&format!("{}, items with documents", label(false)), &batches, false);
    let (dir, store) = row(&format!("{}, items with documents", label(true)), &batches, true);
    drop(batches);
    // The fleet's namespaces are larger than the k3s snapshot's: each has 8 Services and 8
    // budgets selecting 6 Pods each, and a policy selecting all 50.
    let pods: Vec<&ItemWrite> = fleet
        .items
        .iter()
        .filter(|i| !i.deleted && i.write.kind.as_str() == "Kubernetes::Pod")
        .map(|i| &i.write)
        .step_by(97)
        .take(200)
        .collect();
    println!();
    update_latencies(&store, &pods, "in the fleet, right after its load, ");
    // A server's store is mostly at rest between bursts of writes; the load's compactions
    // can run for seconds after it, on the cores the updates need.
    store.engine().wait_for_compactions().expect("wait for the load's compactions");
    update_latencies(&store, &pods, "in the fleet, at rest, ");
    // Counted once compactions dropped what the load overwrote or deleted: the reference
    // index is the part of a documented load's writes that only linking makes.
    let engine = store.engine();
    engine.wait_for_compactions().expect("wait for the updates' compactions");
    println!(
        "\nthe store at rest: {:.0} MB on disk; reference index ≈ {} entries (RocksDB's estimate)",
        engine.size_bytes() as f64 / 1e6,
        engine.estimated_keys(Cf::Pending)
    );
    drop((store, dir));
    println!();
    let fleet = &fleet;
    let batches: Vec<Vec<Op>> =
        load::batches_linking(fleet, 5_000, move |edge| !documents::is_documented(fleet, edge)).collect();
    row(&format!("{}, items with documents, linked only where no rule links", label(true)), &batches, true);
    println!();
}

/// A store loaded by [`loaded`].
struct Loaded {
    store: BenchStore,
    /// Where the store is; removed when dropped.
    dir: tempfile::TempDir,
    secs: f64,
    /// The CPU time the whole process used during the load, all threads: both cores are busy
    /// for the whole of a load, so this is its work, and it drifts less than its seconds on a
    /// machine whose speed drifts.
    cpu_secs: f64,
    outcome: Outcome,
}

/// `batches` loaded into a fresh store, with every built-in rule or none.
fn loaded(batches: &[Vec<Op>], with_rules: bool) -> Loaded {
    let dir = tempfile::tempdir().unwrap();
    let store = open(dir.path());
    if with_rules {
        store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    }
    let cpu_before = cpu_seconds();
    let (took, outcome) = load_batches(&store, batches);
    Loaded { store, dir, secs: took.as_secs_f64(), cpu_secs: cpu_seconds() - cpu_before, outcome }
}

fn label(with_rules: bool) -> &'static str {
    if with_rules {
        "with all built-in rules"
    } else {
        "without rules (baseline)"
    }
}
