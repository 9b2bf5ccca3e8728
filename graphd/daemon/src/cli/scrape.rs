//! `graphd scrape`: run the configured scrapers into the data dir, once (`--once`: one full
//! listing of every resource of every cluster, then a summary) or until SIGINT/SIGTERM.

use crate::config::Config;
use crate::scrape::{Scrapers, SinkReport};
use anyhow::bail;
use clap::Args;
use graphd_scrape_kubernetes::Mode;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(Debug, Args)]
pub struct ScrapeArgs {
    /// The config file whose `scrapers` to run (and whose data_dir and rules, unless given).
    #[arg(long)]
    pub config: PathBuf,
    /// One full listing of everything, then exit with a summary.
    #[arg(long)]
    pub once: bool,
}

pub fn run(data_dir: Option<&Path>, args: &ScrapeArgs) -> anyhow::Result<()> {
    let mut config = Config::load(&args.config)?;
    if let Some(dir) = data_dir {
        config.data_dir = dir.to_path_buf();
    }
    if config.scrapers.kubernetes.is_empty() {
        bail!("{}: no scrapers configured (scrapers.kubernetes is empty)", args.config.display());
    }
    let rules = super::rules::load_with_builtin(&config.rules)?;
    let store = Arc::new(crate::open_store(&config.data_dir)?);
    store.set_rules(rules)?;
    let mode = if args.once { Mode::Once } else { Mode::Watch };
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (report, statuses) = runtime.block_on(async {
        let scrapers = Scrapers::start(Arc::clone(&store), &config.scrapers.kubernetes, mode);
        let statuses = Arc::clone(&scrapers.statuses);
        let report = match mode {
            Mode::Once => scrapers.finish().await?,
            Mode::Watch => {
                super::serve::shutdown_signal().await;
                scrapers.stop().await?
            }
        };
        anyhow::Ok((report, statuses))
    })?;
    store.flush()?;
    print_summary(&report, &statuses, started);
    let failed: Vec<&str> = statuses
        .iter()
        .filter(|(_, status)| {
            let s = status.snapshot();
            s.resources == 0 || s.syncing > 0
        })
        .map(|(name, _)| name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("not every resource of {} could be listed: see the errors above", failed.join(", "));
    }
    Ok(())
}

fn print_summary(
    report: &SinkReport,
    statuses: &[(String, Arc<graphd_scrape_kubernetes::ClusterStatus>)],
    started: Instant,
) {
    let rows: Vec<Vec<String>> = statuses
        .iter()
        .map(|(name, status)| {
            let s = status.snapshot();
            vec![
                name.clone(),
                s.resources.to_string(),
                s.objects.to_string(),
                (s.resources - s.syncing).to_string(),
                s.errors.to_string(),
                s.last_error.unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print!("{}", crate::render::table(&["CLUSTER", "RESOURCES", "OBJECTS", "LISTED", "ERRORS", "LAST ERROR"], &rows));
    let o = &report.outcome;
    println!(
        "{} objects in {:.1}s: {} items created, {} updated, {} unchanged, {} gone; {} edges added, {} removed; {} skipped",
        report.objects,
        started.elapsed().as_secs_f64(),
        o.created,
        o.updated,
        o.unchanged,
        o.deleted,
        o.edges_added,
        o.edges_removed,
        report.skipped,
    );
    if let Some((object, reason)) = &report.last_skipped {
        println!("last skipped: {object}: {reason}");
    }
}
