//! `graphd demo`: a real graph at once, from the fleet generator.

use crate::render;
use crate::sample::{load_fleet, stderr_progress};
use clap::Args;
use graphd_core::{Kind, Timestamp};
use graphd_fleet::{generate, FleetSize};
use graphd_store::query::{Direction, ListQuery, RelatedQuery, ScopeFilter};
use std::path::Path;

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
    let any_pod = ListQuery { kind: Some(pod_kind.clone()), limit: 1, ..ListQuery::default() };
    if store.read().list(&any_pod)?.items.is_empty() {
        let fleet = generate(args.size, args.seed);
        eprintln!(
            "loading a sample fleet of {} items and {} edges into {}",
            fleet.items.len(),
            fleet.edges.len(),
            data_dir.display()
        );
        let report = load_fleet(&store, &fleet, stderr_progress("loading"))?;
        store.flush()?;
        eprintln!("loaded in {:.1}s ({:.0} items/s)\n", report.elapsed.as_secs_f64(), report.items_per_sec());
    }
    let reader = store.read();
    let now = Timestamp::now();
    let scope = ScopeFilter {
        cluster: Some("cluster-0000".into()),
        namespace: Some("team-0".into()),
        ..ScopeFilter::default()
    };
    let pods =
        reader.list(&ListQuery { scope: scope.clone(), kind: Some(pod_kind), limit: 1, ..ListQuery::default() })?;
    let pod =
        pods.items.first().ok_or_else(|| anyhow::anyhow!("the sample fleet has no Pod in cluster-0000/team-0"))?;

    println!("# Walk up from a Pod: its owners, namespace and cluster, and the Node → EC2 instance → subnet → VPC → region → account it runs on\n");
    println!("$ graphd query walk-up pod/team-0/{} --cluster cluster-0000\n", pod.name);
    let up = reader.walk_up(pod.id, false)?;
    print!("{}", render::walk_up_tree(&reader, pod, &up, now)?);

    println!("\n# What the Pod uses and what points at it (depth 1, both directions)\n");
    println!("$ graphd query related pod/team-0/{} --cluster cluster-0000 --direction both --depth 1\n", pod.name);
    let related = reader.related(pod.id, &RelatedQuery::new(Direction::Both, 1))?;
    print!("{}", render::related_tree(&reader, pod, &related, now)?);

    println!("\n# Health of cluster-0000\n");
    println!("$ graphd query counts --cluster cluster-0000\n");
    let counts =
        reader.health_counts(&ScopeFilter { cluster: Some("cluster-0000".into()), ..ScopeFilter::default() }, None)?;
    println!(
        "healthy {}  warning {}  unhealthy {}  unknown {}",
        counts.healthy, counts.warning, counts.unhealthy, counts.unknown
    );
    let exe = std::env::args().next().unwrap_or_else(|| "graphd".into());
    println!("\nThe store is in {}; try `{exe} --data-dir {} query --help`.", data_dir.display(), data_dir.display());
    Ok(())
}
