//! `graphd agent`: scrapers run near what they scrape (inside a cluster, in an account) and
//! their items are streamed to a central graphd.
//!
//! The agent writes what its scrapers see into a local mirror (a store of its own, without
//! rules: linking happens centrally) exactly as `graphd serve` would, and queues every batch
//! it writes in a bounded disk buffer ([`Outbox`]). A forwarder ([`forward`]) sends the queue
//! over the ingest API (or publishes it to a JetStream stream), one acknowledged batch at a time; when the central graphd is away it
//! retries with back-off while the queue grows, and on every connection, after the queue, it
//! sends a full resync of every scope from the mirror. Batches are idempotent (an item is its
//! key), so a batch sent twice changes nothing the second time, and the resync makes the
//! central graph exactly the mirror's, whatever was lost in between (a full buffer, a crash).
//!
//! ```yaml
//! name: edge-eu                   # the agent: its batches' source at the central graphd
//! central: http://graphd.example:7439   # or `stream: {nats: …}` (see crate::stream)
//! data_dir: graphd-agent          # the mirror and the buffer
//! buffer_max_bytes: 268435456     # 256 MiB by default
//! retry_max_secs: 30              # back-off between attempts to reach the central graphd
//! scrapers:                       # as in graphd.yaml
//!   kubernetes: [{name: edge-eu}]
//! ```

mod forward;
mod outbox;

pub use forward::forward;
pub use outbox::Outbox;

use crate::config::{parse_yaml, Scrapers};
use anyhow::Context;
use graphd_proto::v1 as pb;
use graphd_store::Op;
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentConfig {
    pub name: String,
    /// The central graphd's gRPC address; or else `stream`.
    #[serde(default)]
    pub central: Option<String>,
    /// A NATS JetStream stream that graphd replicas consume; or else `central`.
    #[serde(default)]
    pub stream: Option<crate::stream::StreamConfig>,
    #[serde(default = "default_data_dir")]
    pub data_dir: PathBuf,
    #[serde(default = "default_buffer_max_bytes")]
    pub buffer_max_bytes: u64,
    #[serde(default = "default_retry_max_secs")]
    pub retry_max_secs: u64,
    pub scrapers: Scrapers,
}

fn default_data_dir() -> PathBuf {
    PathBuf::from("graphd-agent")
}

fn default_buffer_max_bytes() -> u64 {
    256 << 20
}

fn default_retry_max_secs() -> u64 {
    30
}

impl AgentConfig {
    /// Reads `path`; errors name the file and the field. Relative paths are taken from the
    /// file's folder.
    pub fn load(path: &Path) -> anyhow::Result<AgentConfig> {
        let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
        let mut config: AgentConfig = parse_yaml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        if config.scrapers.is_empty() {
            anyhow::bail!("{}: scrapers: nothing to scrape (kubernetes, aws and custom are empty)", path.display());
        }
        if config.name.is_empty() || config.name.contains(['.', '*', '>', ' ']) {
            anyhow::bail!(
                "{}: name: {:?}: the agent's name is the source of what it sends; not empty, no '.', '*', '>' or spaces",
                path.display(),
                config.name
            );
        }
        if config.central.is_some() == config.stream.is_some() {
            anyhow::bail!("{}: give either central (a graphd's address) or stream (NATS JetStream)", path.display());
        }
        let base = path.parent().unwrap_or(Path::new("."));
        config.data_dir = base.join(&config.data_dir);
        config.scrapers.resolve_paths(base);
        Ok(config)
    }

    pub fn retry_max(&self) -> Duration {
        Duration::from_secs(self.retry_max_secs.max(1))
    }

    /// Where batches go, for messages.
    pub fn destination(&self) -> String {
        match (&self.central, &self.stream) {
            (Some(central), _) => central.clone(),
            (None, Some(stream)) => format!("stream {} ({})", stream.nats.stream, stream.nats.servers.join(", ")),
            (None, None) => "nowhere".into(),
        }
    }
}

/// One batch of `ops` as the ingest API takes it, attributed to `source`.
pub fn request(ops: &[Op], source: &str) -> pb::IngestRequest {
    pb::IngestRequest {
        source: source.to_owned(),
        operations: ops.iter().map(crate::server::convert::operation_to).collect(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_example_reads_and_mistakes_name_their_field() {
        let shipped: AgentConfig = parse_yaml(include_str!("../../../../deploy/agent.yaml")).unwrap();
        assert_eq!(shipped.central.as_deref(), Some("http://graphd.example:7439"));
        assert_eq!(shipped.buffer_max_bytes, 256 << 20);
        let unknown = parse_yaml::<AgentConfig>(
            "name: a
central: x
bufer_max_bytes: 1
scrapers: {}
",
        )
        .unwrap_err();
        assert!(unknown.starts_with("bufer_max_bytes: unknown field"), "{unknown}");
        let dir = tempfile::tempdir().unwrap();
        let both = dir.path().join("agent.yaml");
        let scrapers =
            "scrapers: {custom: [{name: c, command: {run: [\"true\"]}, map: {id: object.id, kind: \"'Custom::X'\"}}]}";
        std::fs::write(&both, format!("name: a\ncentral: x\nstream: {{nats: {{servers: [n]}}}}\n{scrapers}\n"))
            .unwrap();
        let error = AgentConfig::load(&both).unwrap_err().to_string();
        assert!(error.contains("give either central"), "{error}");
        std::fs::write(&both, "name: a\ncentral: x\nscrapers: {}\n").unwrap();
        let error = AgentConfig::load(&both).unwrap_err().to_string();
        assert!(error.contains("nothing to scrape"), "{error}");
    }
}
