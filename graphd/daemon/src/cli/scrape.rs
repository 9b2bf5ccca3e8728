//! `graphd scrape`: run the configured scrapers into the data dir, once (`--once`: one full
//! listing of every resource of every cluster and of every region of every AWS account, then
//! a summary) or until SIGINT/SIGTERM.

use crate::config::Config;
use crate::scrape::{Scrapers, SinkReport};
use anyhow::bail;
use clap::Args;
use graphd_core::scrape::{Mode, StatusRow};
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
    if config.scrapers.is_empty() {
        bail!(
            "{}: no scrapers configured (scrapers.kubernetes, scrapers.aws and scrapers.custom are empty)",
            args.config.display()
        );
    }
    let rules = super::rules::load_with_builtin(&config.rules)?;
    let store = Arc::new(crate::open_store(&config.data_dir)?);
    store.set_rules(rules)?;
    super::relink::relink_if_rules_changed(&store)?;
    let mode = if args.once { Mode::Once } else { Mode::Watch };
    let started = Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let (report, board) = runtime.block_on(async {
        let scrapers = Scrapers::start(Arc::clone(&store), &config.scrapers, mode);
        let board = Arc::clone(&scrapers.handles.board);
        let report = match mode {
            Mode::Once => scrapers.finish().await?,
            Mode::Watch => {
                super::serve::shutdown_signal().await;
                scrapers.stop().await?
            }
        };
        anyhow::Ok((report, board))
    })?;
    store.flush()?;
    let rows = board.rows();
    print_summary(&report, &rows, started);
    let failed: Vec<&str> = rows
        .iter()
        .filter(|row| {
            let s = row.status.snapshot();
            s.resources == 0 || s.syncing > 0
        })
        .map(|row| row.name.as_str())
        .collect();
    if !failed.is_empty() {
        bail!("not every resource of {} could be listed: see the errors above", failed.join(", "));
    }
    Ok(())
}

fn print_summary(report: &SinkReport, statuses: &[StatusRow], started: Instant) {
    let rows: Vec<Vec<String>> = statuses
        .iter()
        .map(|row| {
            let s = row.status.snapshot();
            vec![
                row.scraper.to_owned(),
                row.name.clone(),
                s.resources.to_string(),
                s.objects.to_string(),
                (s.resources - s.syncing).to_string(),
                s.errors.to_string(),
                s.last_error.unwrap_or_else(|| "-".into()),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::render::table(&["SCRAPER", "NAME", "RESOURCES", "OBJECTS", "LISTED", "ERRORS", "LAST ERROR"], &rows)
    );
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
