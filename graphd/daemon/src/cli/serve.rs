//! `graphd serve`: the gRPC service over the store in the data dir, linking by the rules,
//! purging old tombstones, until SIGINT or SIGTERM.

use clap::Args;
use graphd_store::RetentionTask;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on; port 0 picks a free one (printed on start).
    #[arg(long, default_value = "127.0.0.1:7439")]
    pub listen: SocketAddr,
    /// More rule files, on top of the built-in ones.
    #[arg(long = "rules")]
    pub rules: Vec<PathBuf>,
    /// How long deleted items and edges stay queryable: 90s, 30m, 12h, 7d.
    #[arg(long, default_value = "7d", value_parser = parse_duration)]
    pub keep_deleted: Duration,
}

/// `N` followed by s, m, h or d.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let (number, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let n: u64 = number.parse().map_err(|_| format!("{text:?}: expected a number and a unit, as in 7d"))?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3_600,
        "d" => 86_400,
        _ => return Err(format!("{text:?}: the unit is s, m, h or d")),
    };
    Ok(Duration::from_secs(n * seconds))
}

pub fn run(data_dir: &Path, args: &ServeArgs) -> anyhow::Result<()> {
    let rules = super::rules::load_with_builtin(&args.rules)?;
    let store = Arc::new(crate::open_store(data_dir)?);
    store.set_rules(rules)?;
    let retention = RetentionTask::spawn(Arc::clone(&store), args.keep_deleted, Duration::from_secs(3_600));
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(args.listen).await?;
        let addr = listener.local_addr()?;
        tracing::info!(%addr, data_dir = %data_dir.display(), "serving");
        println!("graphd listening on {addr}");
        std::io::stdout().flush()?;
        crate::server::serve(Arc::clone(&store), listener, shutdown_signal()).await
    })?;
    drop(retention);
    store.flush()?;
    println!("graphd stopped; store flushed");
    Ok(())
}

/// Completes on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match terminate.as_mut() { Some(s) => { s.recv().await; } None => std::future::pending().await } } => {}
    }
    tracing::info!("shutting down");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_like_people_write_them() {
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("7d").unwrap(), Duration::from_secs(7 * 86_400));
        assert!(parse_duration("7").unwrap_err().contains("unit"));
        assert!(parse_duration("d").unwrap_err().contains("number"));
        assert!(parse_duration("3w").is_err());
    }
}
