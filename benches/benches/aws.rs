//! A scrape of an EC2 estate on moto: `GRAPHD_BENCH_INSTANCES` instances (5,000 by default),
//! each with its root volume and network interface, in one account and region, scraped once
//! (`graphd scrape --once`: every Describe call, paginated; every built-in link and health
//! rule) into a fresh store, three times. In the same run, before each scrape, the same calls
//! are made with nothing written (the scraper's events are counted and dropped): the baseline,
//! which is what moto and the SDK cost on their own.
//!
//! `cargo bench -p graphd-benches --bench aws` (needs moto: `./scripts/setup-venv`).

use aws_sdk_ec2::types::InstanceType;
use graphd::scrape::Scrapers;
use graphd_benches::stats::median;
use graphd_benches::{cpu_seconds, open, BenchStore};
use graphd_core::scrape::{Mode, StatusBoard};
use graphd_moto::{Moto, DEFAULT_ACCOUNT};
use graphd_scrape_aws::{run_account, AwsSource};
use std::sync::Arc;
use std::time::Instant;

const ROUNDS: usize = 3;
const REGION: &str = "us-east-1";
/// Instances per RunInstances call while building the estate.
const LAUNCH_BATCH: usize = 250;

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let instances: usize = std::env::var("GRAPHD_BENCH_INSTANCES").ok().and_then(|v| v.parse().ok()).unwrap_or(5_000);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let moto = Moto::start();
    let built = Instant::now();
    runtime.block_on(build_estate(&moto, instances));
    println!("# {instances} instances built on moto in {:.0} s\n", built.elapsed().as_secs_f64());
    let source = AwsSource { regions: vec![REGION.into()], endpoint_url: Some(moto.url()), ..AwsSource::new("bench") };
    let config = graphd::config::Scrapers { aws: vec![source.clone()], ..Default::default() };
    let dir = tempfile::tempdir().unwrap();

    let (mut scrape_rates, mut fetch_rates) = (Vec::new(), Vec::new());
    println!("| round | resources | fetch only s | resources/s | scrape s | CPU s | items/s | scrape/fetch time |");
    println!("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |");
    for round in 1..=ROUNDS {
        let started = Instant::now();
        let fetched = runtime.block_on(fetch_only(source.clone()));
        let fetch_secs = started.elapsed().as_secs_f64();

        let store = fresh_store(&dir.path().join(format!("round-{round}")));
        let (cpu_before, started) = (cpu_seconds(), Instant::now());
        let scrape = async { Scrapers::start(Arc::clone(&store), &config, Mode::Once).finish().await };
        let report = runtime.block_on(scrape).unwrap();
        let (scrape_secs, scrape_cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu_before);
        assert_eq!(report.objects, fetched, "the scrape stored what the fetch saw");
        assert!(report.objects as usize >= 3 * instances, "instances, volumes and interfaces: {report:?}");
        let n = report.objects as f64;
        scrape_rates.push(n / scrape_secs);
        fetch_rates.push(n / fetch_secs);
        println!(
            "| {round} | {} | {fetch_secs:.2} | {:.0} | {scrape_secs:.2} | {scrape_cpu:.1} | {:.0} | {:.2} |",
            report.objects,
            n / fetch_secs,
            n / scrape_secs,
            scrape_secs / fetch_secs
        );
    }
    let (scrape, fetch) = (median(&mut scrape_rates), median(&mut fetch_rates));
    println!(
        "\nmedian: scrape {scrape:.0} items/s, fetch only {fetch:.0} resources/s; scrape/fetch time {:.2}",
        fetch / scrape
    );
}

/// One VPC with four subnets and a security group; `instances` instances spread over the
/// subnets, each with the root volume and network interface moto gives it.
async fn build_estate(moto: &Moto, instances: usize) {
    let ec2 = moto.ec2(DEFAULT_ACCOUNT, REGION).await;
    let vpc = ec2.create_vpc().cidr_block("10.0.0.0/16").send().await.unwrap();
    let vpc = vpc.vpc().unwrap().vpc_id().unwrap().to_owned();
    let mut subnets = Vec::new();
    for n in 0..4 {
        // /18: room for every instance of the bench in any one of them.
        let cidr = format!("10.0.{}.0/18", n * 64);
        let subnet = ec2.create_subnet().vpc_id(&vpc).cidr_block(cidr).send().await.unwrap();
        subnets.push(subnet.subnet().unwrap().subnet_id().unwrap().to_owned());
    }
    let group = ec2.create_security_group().group_name("nodes").description("nodes").vpc_id(&vpc).send().await.unwrap();
    let group = group.group_id().unwrap().to_owned();
    let images = ec2.describe_images().owners("amazon").send().await.unwrap();
    let image = images.images()[0].image_id().unwrap().to_owned();
    let mut launched = 0;
    while launched < instances {
        let count = LAUNCH_BATCH.min(instances - launched) as i32;
        ec2.run_instances()
            .image_id(&image)
            .instance_type(InstanceType::M5Large)
            .min_count(count)
            .max_count(count)
            .subnet_id(&subnets[launched / LAUNCH_BATCH % subnets.len()])
            .security_group_ids(&group)
            .send()
            .await
            .unwrap();
        launched += count as usize;
    }
}

/// Every resource the scraper reports, counted and dropped.
async fn fetch_only(source: AwsSource) -> u64 {
    let (events, mut received) = tokio::sync::mpsc::channel(4_096);
    let board = Arc::new(StatusBoard::default());
    let scrape = tokio::spawn(run_account(source, Mode::Once, events, board, Default::default()));
    let mut resources = 0;
    while let Some(event) = received.recv().await {
        resources += u64::from(matches!(event, graphd_scrape_aws::Event::Resource { .. }));
    }
    scrape.await.unwrap();
    resources
}

fn fresh_store(dir: &std::path::Path) -> Arc<BenchStore> {
    let store = open(dir);
    store.set_rules(graphd_rules::builtin::rules().unwrap()).unwrap();
    Arc::new(store)
}
