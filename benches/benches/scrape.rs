//! Initial sync of a large cluster: `graphd scrape --once` against the local list/watch API
//! server (kube-rs, paged LISTs over HTTP, every built-in link and health rule), and in the
//! same run the import of the same objects straight from memory into the same kind of store:
//! the baseline that shows what the scrape path adds to the store's own cost.
//!
//! `GRAPHD_BENCH_OBJECTS=100000 cargo bench -p graphd-benches --bench scrape`
//! (reads `../shared/fixtures/k8s`, as the tests do).

use graphd::scrape::Scrapers;
use graphd_benches::stats::median;
use graphd_benches::synthetic::{cluster_of, k3s_snapshot};
use graphd_benches::{cpu_seconds, current_rss, open, peak_rss, BenchStore};
use graphd_core::scrape::Mode;
use graphd_kube_testserver::TestApiServer;
use graphd_scrape_kubernetes::KubernetesSource;
use std::sync::Arc;
use std::time::Instant;

const ROUNDS: usize = 3;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let target: usize = std::env::var("GRAPHD_BENCH_OBJECTS").ok().and_then(|v| v.parse().ok()).unwrap_or(100_000);
    let objects = cluster_of(&k3s_snapshot(), target);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let server = runtime.block_on(TestApiServer::start());
    server.load_list(&serde_json::Value::Array(objects.clone()));
    let dir = tempfile::tempdir().unwrap();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(&kubeconfig, server.kubeconfig("bench")).unwrap();
    let source = KubernetesSource {
        kubeconfig: Some(kubeconfig),
        context: Some("bench".into()),
        ..KubernetesSource::new("bench")
    };
    let config = graphd::config::Scrapers { kubernetes: vec![source], ..Default::default() };
    println!("# initial sync: {} objects (the k3s snapshot's namespaces copied), {ROUNDS} rounds\n", objects.len());

    let mut scrape_rates = Vec::new();
    let mut import_rates = Vec::new();
    let mut rss_growth = Vec::new();
    println!("| round | scrape s | CPU s | objects/s | peak RSS growth MiB | import s | CPU s | objects/s |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for round in 1..=ROUNDS {
        let (scrape_secs, scrape_cpu, growth) = {
            let store = fresh_store(&dir.path().join(format!("scraped-{round}")));
            reset_peak_rss();
            let before = current_rss();
            let cpu_before = cpu_seconds();
            let started = Instant::now();
            let scrape = async { Scrapers::start(Arc::clone(&store), &config, Mode::Once).finish().await };
            let report = runtime.block_on(scrape).unwrap();
            let secs = started.elapsed().as_secs_f64();
            assert_eq!(report.objects as usize, objects.len(), "every object scraped");
            (secs, cpu_seconds() - cpu_before, peak_rss().saturating_sub(before))
        };
        let (import_secs, import_cpu) = {
            let store = fresh_store(&dir.path().join(format!("imported-{round}")));
            let (cpu_before, started) = (cpu_seconds(), Instant::now());
            graphd::import::import(&store, "bench", &objects, |_, _| {}).unwrap();
            (started.elapsed().as_secs_f64(), cpu_seconds() - cpu_before)
        };
        let n = objects.len() as f64;
        scrape_rates.push(n / scrape_secs);
        import_rates.push(n / import_secs);
        rss_growth.push(growth as f64 / (1 << 20) as f64);
        println!(
            "| {round} | {scrape_secs:.2} | {scrape_cpu:.1} | {:.0} | {:.0} | {import_secs:.2} | {import_cpu:.1} | {:.0} |",
            n / scrape_secs,
            rss_growth[round - 1],
            n / import_secs
        );
    }
    let (scrape, import) = (median(&mut scrape_rates), median(&mut import_rates));
    println!(
        "\nmedian: scrape {scrape:.0} objects/s, import {import:.0} objects/s; scrape/import {:.2}",
        scrape / import
    );
    println!("peak RSS growth during a scrape: median {:.0} MiB", median(&mut rss_growth));
}

fn fresh_store(dir: &std::path::Path) -> Arc<BenchStore> {
    let store = open(dir);
    store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    Arc::new(store)
}

/// Makes `VmHWM` start again from the current resident size (Linux `clear_refs`, value 5).
fn reset_peak_rss() {
    std::fs::write("/proc/self/clear_refs", "5").expect("resetting the peak RSS through /proc/self/clear_refs");
}
