//! The `graphd` command line: one binary, subcommands per job.
//!
//! - `demo`: generate a sample fleet into a data dir (once) and show a real graph.
//! - `generate`: load a fleet of a named size; optionally write it as CSV.
//! - `import`: kubectl output, linked by rules.
//! - `scrape`: run the configured scrapers, once or until stopped.
//! - `serve`: the gRPC service, and the configured scrapers.
//! - `agent`: the configured scrapers, streaming to a central graphd.
//! - `query`: get, related, walk-up, list, counts, path, changes; of a data dir or a server.
//! - `relink`: derive every item's edges again after the link rules changed.
//! - `rules validate`: check link-rule files, every error at once.

mod agent;
mod demo;
mod generate;
mod import;
mod query;
mod relink;
mod rules;
mod scrape;
mod serve;

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "graphd",
    version,
    about = "A relationship graph of infrastructure: Kubernetes, AWS and custom items with typed edges."
)]
pub struct Cli {
    /// Where the store lives (RocksDB) [default: graphd-data, or the config's data_dir].
    #[arg(long, global = true, env = "GRAPHD_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load a sample fleet (once) and show a Pod in context: walk-up, related items, health.
    Demo(demo::DemoArgs),
    /// Generate a seeded fleet into the store, and/or write it as items.csv and edges.csv.
    Generate(generate::GenerateArgs),
    /// Import `kubectl get -o json|yaml` output, linked by the built-in rules and any given.
    Import(import::ImportArgs),
    /// Run the scrapers of a config file into the store: once (--once) or until SIGINT/SIGTERM.
    Scrape(scrape::ScrapeArgs),
    /// Serve the store over gRPC (queries, ingest, health, reflection) until SIGINT/SIGTERM.
    Serve(serve::ServeArgs),
    /// Run scrapers here and stream their items to a central graphd, buffering while it is away.
    Agent(agent::AgentArgs),
    /// Ask a running server (--addr) or the store in the data dir.
    Query(query::QueryArgs),
    /// Derive every item's edges again under the link rules as they are now (after a change).
    Relink(relink::RelinkArgs),
    /// Work with link-rule files.
    #[command(subcommand)]
    Rules(rules::RulesCommand),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Tree,
    Table,
    Json,
}

/// Runs the command line and turns errors into a message and exit code 1.
pub fn main() -> ExitCode {
    init_tracing();
    let cli = Cli::parse();
    let data_dir = cli.data_dir.clone().unwrap_or_else(|| PathBuf::from(crate::config::DEFAULT_DATA_DIR));
    let result = match cli.command {
        Command::Demo(args) => demo::run(&data_dir, &args),
        Command::Generate(args) => generate::run(&data_dir, &args),
        Command::Import(args) => import::run(&data_dir, &args),
        Command::Scrape(args) => scrape::run(cli.data_dir.as_deref(), &args),
        Command::Serve(args) => serve::run(cli.data_dir.as_deref(), &args),
        Command::Agent(args) => agent::run(&args),
        Command::Query(args) => query::run(&data_dir, &args),
        Command::Relink(args) => relink::run(cli.data_dir.as_deref(), &args),
        Command::Rules(command) => rules::run(&command),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into());
    // Colours only for a person at a terminal: a log file or collector gets plain text.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(ansi).init();
}
