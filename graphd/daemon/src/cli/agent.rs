//! `graphd agent --config agent.yaml`: run scrapers here and stream what they see to a
//! central graphd, buffering on disk while it is away (see [`crate::agent`]).

use crate::agent::{forward, AgentConfig, Outbox};
use crate::scrape::Scrapers;
use clap::Args;
use graphd_core::scrape::Mode;
use std::path::PathBuf;
use std::sync::Arc;

#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The agent's config file (YAML): name, central, data_dir, buffer_max_bytes, scrapers.
    #[arg(long)]
    pub config: PathBuf,
}

pub fn run(args: &AgentArgs) -> anyhow::Result<()> {
    let config = AgentConfig::load(&args.config)?;
    // The mirror links nothing: the central graphd's rules do.
    let mirror = Arc::new(crate::open_store(&config.data_dir.join("mirror"))?);
    let outbox = Arc::new(Outbox::open(&config.data_dir.join("buffer"), config.buffer_max_bytes)?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let forwarding = tokio::spawn(forward(config.clone(), Arc::clone(&mirror), Arc::clone(&outbox), stopping));
        let scrapers =
            Scrapers::start_forwarding(Arc::clone(&mirror), &config.scrapers, Mode::Watch, Some(Arc::clone(&outbox)));
        super::serve::announce(&format!("graphd agent {} forwarding to {}", config.name, config.destination()));
        super::serve::shutdown_signal().await;
        scrapers.stop().await?;
        let _ = stop.send(true);
        forwarding.await?;
        anyhow::Ok(())
    })?;
    mirror.flush()?;
    super::serve::announce(&format!("graphd agent stopped; {} bytes wait in the buffer", outbox.queued_bytes()));
    Ok(())
}
