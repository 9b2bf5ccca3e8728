//! `graphd generate`: a seeded fleet into the store and/or CSV files.

use crate::sample::{load_fleet, stderr_progress};
use clap::Args;
use graphd_fleet::{csv, generate, FleetSize};
use std::path::{Path, PathBuf};

#[derive(Debug, Args)]
pub struct GenerateArgs {
    /// s (≈10k items), m (≈200k), l (≈1M), or a number of clusters.
    #[arg(long, default_value = "s", value_parser = parse_size)]
    pub size: FleetSize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Also write items.csv and edges.csv into this directory.
    #[arg(long)]
    pub csv: Option<PathBuf>,
    /// Only write the CSV files; leave the store alone.
    #[arg(long, requires = "csv")]
    pub no_load: bool,
}

pub fn parse_size(word: &str) -> Result<FleetSize, String> {
    FleetSize::parse(word).ok_or_else(|| format!("{word:?} is not a size: use s, m, l or a number of clusters"))
}

pub fn run(data_dir: &Path, args: &GenerateArgs) -> anyhow::Result<()> {
    let fleet = generate(args.size, args.seed);
    eprintln!("generated {} items and {} edges (seed {})", fleet.items.len(), fleet.edges.len(), args.seed);
    if let Some(dir) = &args.csv {
        csv::write_csv(&fleet, dir)?;
        eprintln!("wrote {} and {}", dir.join("items.csv").display(), dir.join("edges.csv").display());
    }
    if args.no_load {
        return Ok(());
    }
    let store = crate::open_store(data_dir)?;
    let report = load_fleet(&store, &fleet, stderr_progress("loading"))?;
    println!(
        "loaded {} items, {} edges, {} tombstoned into {} in {:.1}s ({:.0} items/s)",
        report.items,
        report.edges,
        report.deleted,
        data_dir.display(),
        report.elapsed.as_secs_f64(),
        report.items_per_sec()
    );
    Ok(())
}
