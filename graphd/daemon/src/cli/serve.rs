//! `graphd serve`: the gRPC service over the store, linking by the rules, purging old
//! tombstones, running the configured scrapers, with Prometheus metrics beside it, until
//! SIGINT or SIGTERM.
//!
//! Settings come from `--config graphd.yaml` (see [`crate::config`]); the flags here override
//! the file.

use crate::config::Config;
use crate::scrape::Scrapers;
use crate::server::Metrics;
use clap::Args;
use graphd_core::parse_duration;
use graphd_core::scrape::Mode;
use graphd_store::RetentionTask;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The config file (YAML); without one, the defaults and the flags below.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Address to listen on for gRPC; port 0 picks a free one (printed on start).
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// Address for Prometheus `/metrics`; port 0 picks a free one (printed on start).
    #[arg(long)]
    pub metrics_listen: Option<SocketAddr>,
    /// More rule files, on top of the built-in ones and those of the config.
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// How long deleted items and edges stay queryable: 90s, 30m, 12h, 7d.
    #[arg(long, value_parser = parse_duration)]
    pub keep_deleted: Option<Duration>,
}

impl ServeArgs {
    /// The config file's settings, overridden by the flags given.
    fn config(&self, data_dir: Option<&Path>) -> anyhow::Result<Config> {
        let mut config = match &self.config {
            Some(path) => Config::load(path)?,
            None => Config::default(),
        };
        if let Some(dir) = data_dir {
            config.data_dir = dir.to_path_buf();
        }
        config.listen = self.listen.unwrap_or(config.listen);
        config.metrics_listen = self.metrics_listen.or(config.metrics_listen);
        config.rules.extend(self.rules.iter().cloned());
        config.retention.keep_deleted = self.keep_deleted.unwrap_or(config.retention.keep_deleted);
        Ok(config)
    }
}

pub fn run(data_dir: Option<&Path>, args: &ServeArgs) -> anyhow::Result<()> {
    let config = args.config(data_dir)?;
    let rules = super::rules::load_with_builtin(&config.rules)?;
    let store = Arc::new(crate::open_store(&config.data_dir)?);
    store.set_rules(rules)?;
    super::relink::relink_in_background_if_rules_changed(&store)?;
    let r = &config.retention;
    let retention = RetentionTask::spawn(Arc::clone(&store), r.keep_deleted, r.changes(), r.purge_every);
    let metrics = Arc::new(Metrics::default());
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let (stop, stopping) = tokio::sync::watch::channel(false);
        let stopped_flag = stopping.clone();
        let stopped = move || {
            let mut stopping = stopping.clone();
            async move {
                let _ = stopping.wait_for(|stop| *stop).await;
            }
        };
        let listener = tokio::net::TcpListener::bind(config.listen).await?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data_dir = %config.data_dir.display(), "serving");
        announce(&format!("graphd listening on {addr}"));
        let metrics_server = match config.metrics_listen {
            None => None,
            Some(metrics_addr) => {
                let listener = tokio::net::TcpListener::bind(metrics_addr).await?;
                announce(&format!("metrics on http://{}/metrics", listener.local_addr()?));
                let serving =
                    crate::server::serve_metrics(Arc::clone(&metrics), Arc::clone(&store), listener, stopped());
                Some(tokio::spawn(serving))
            }
        };
        let scrapers =
            (!config.scrapers.is_empty()).then(|| Scrapers::start(Arc::clone(&store), &config.scrapers, Mode::Watch));
        let replicating = config.stream.as_ref().map(|stream| {
            let consumer = stream.nats.consumer.clone().unwrap_or_default();
            announce(&format!("replicating from stream {} as consumer {consumer}", stream.nats.stream));
            tokio::spawn(crate::stream::consume(
                stream.nats.clone(),
                consumer,
                Arc::clone(&store),
                stopped_flag.clone(),
            ))
        });
        if let Some(scrapers) = &scrapers {
            metrics.set_scrapers(scrapers.handles.clone());
            let s = &config.scrapers;
            let (clusters, accounts, custom) = (s.kubernetes.len(), s.aws.len(), s.custom.len());
            announce(&format!(
                "scraping {clusters} cluster(s), {accounts} AWS account(s) and {custom} custom source(s)"
            ));
        }
        tokio::spawn(async move {
            shutdown_signal().await;
            let _ = stop.send(true);
        });
        crate::server::serve(Arc::clone(&store), listener, config.limits, metrics, stopped()).await?;
        if let Some(serving) = metrics_server {
            serving.await??;
        }
        if let Some(scrapers) = scrapers {
            scrapers.stop().await?;
        }
        if let Some(replicating) = replicating {
            replicating.await?;
        }
        anyhow::Ok(())
    })?;
    drop(retention);
    store.flush()?;
    announce("graphd stopped; store flushed");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
pub(super) async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match terminate.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
    }
    tracing::info!("shutting down");
}

/// A line for whoever started graphd (the first one tells the address it listens on). A
/// daemon whose stdout was closed goes on serving: the line is dropped, not a panic.
pub(super) fn announce(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}").and_then(|()| out.flush());
}
