//! `graphd demo`: a real graph at once, from the fleet generator.

use crate::render;
use crate::sample::{load_fleet, stderr_progress};
use clap::Args;
use graphd_client::{pb, Client};
use graphd_core::{Kind, Timestamp};
use graphd_fleet::{generate, FleetSize};
use graphd_store::query::ListQuery;
use std::path::Path;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Fleet size to load when the data dir is empty: s, m, l or a number of clusters.
    #[arg(long, default_value = "s", value_parser = super::generate::parse_size)]
    pub size: FleetSize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
}

pub fn run(data_dir: &Path, args: &DemoArgs) -> anyhow::Result<()> {
    let store = crate::open_store(data_dir)?;
    let pod_kind = Kind::new("Kubernetes::Pod")?;
    let any_pod = ListQuery { kind: Some(pod_kind), limit: 1, ..ListQuery::default() };
    if store.read().list(&any_pod)?.items.is_empty() {
        let fleet = generate(args.size, args.seed);
        eprintln!(
            "loading a sample fleet of {} items and {} edges into {}",
            fleet.items.len(),
            fleet.edges.len(),
            data_dir.display()
        );
        let report = load_fleet(&store, &fleet, stderr_progress("loading"))?;
        eprintln!("loaded in {:.1}s ({:.0} items/s)\n", report.elapsed.as_secs_f64(), report.items_per_sec());
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(show(Arc::new(store), data_dir))
}

/// A Pod of the sample fleet in context, asked through the API as `graphd query` would.
async fn show(store: Arc<crate::GraphStore>, data_dir: &Path) -> anyhow::Result<()> {
    let mut client = Client::from_channel(crate::server::in_process_channel(store).await?);
    let now = Timestamp::now();
    let scope = pb::ScopeFilter { cluster: "cluster-0000".into(), namespace: "team-0".into(), ..Default::default() };
    let pods = client
        .list(pb::ListRequest { scope: Some(scope), kind: "Kubernetes::Pod".into(), limit: 1, ..Default::default() })
        .await?;
    let pod =
        pods.items.first().ok_or_else(|| anyhow::anyhow!("the sample fleet has no Pod in cluster-0000/team-0"))?;

    println!("# Walk up from a Pod: its owners, namespace and cluster, and the Node → EC2 instance → subnet → VPC → region → account it runs on\n");
    println!("$ graphd query walk-up pod/team-0/{} --cluster cluster-0000\n", pod.name);
    print!("{}", render::walk_up_tree(&client.walk_up(pod.id).await?, now));

    println!("\n# What the Pod uses and what points at it (depth 1, both directions)\n");
    println!("$ graphd query related pod/team-0/{} --cluster cluster-0000 --direction both --depth 1\n", pod.name);
    let related =
        pb::RelatedRequest { id: pod.id, direction: pb::Direction::Both as i32, depth: 1, ..Default::default() };
    print!("{}", render::related_tree(pod, &client.related(related).await?, now));

    println!("\n# Health of cluster-0000\n");
    println!("$ graphd query counts --cluster cluster-0000\n");
    let scope = pb::ScopeFilter { cluster: "cluster-0000".into(), ..Default::default() };
    let counts = client.count_by_health(pb::HealthCountsRequest { scope: Some(scope), kind: String::new() }).await?;
    println!(
        "healthy {}  warning {}  unhealthy {}  unknown {}",
        counts.healthy, counts.warning, counts.unhealthy, counts.unknown
    );
    let exe = std::env::args().next().unwrap_or_else(|| "graphd".into());
    println!("\nThe store is in {}; try `{exe} --data-dir {} query --help`.", data_dir.display(), data_dir.display());
    Ok(())
}
