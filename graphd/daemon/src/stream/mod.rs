//! Running beyond one machine: agents publish their batches to a NATS JetStream stream (durable,
//! replicated), and any number of graphd replicas consume it, each through a durable consumer
//! of its own, each materialising the whole graph in its own store.
//!
//! A message is one ingest request (protobuf), on the subject `<subject>.<agent>`; resyncs are
//! framed per agent, as on a gRPC ingest stream. A replica records the stream sequence of the
//! last message it applied in its store ([`graphd_store::Store::stream_position`]), so it
//! resumes there after a restart, and a replica started from another's checkpoint resumes
//! after the sequence the checkpoint covers instead of replaying the stream.
//!
//! ```yaml
//! stream:
//!   nats:
//!     servers: [nats://10.0.0.1:4222, nats://10.0.0.2:4222, nats://10.0.0.3:4222]
//!     stream: GRAPHD               # created when missing
//!     subject: graphd.ingest       # agents publish to graphd.ingest.<agent name>
//!     replicas: 3                  # of the stream, when it is created
//!     max_age: 7d                  # how long it keeps a message (default: for ever)
//!     consumer: replica-a          # graphd serve only: this replica's durable consumer
//! ```

mod consume;

pub use consume::consume;

use async_nats::jetstream;
use async_nats::jetstream::consumer::{pull, AckPolicy, DeliverPolicy};
use serde::Deserialize;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StreamConfig {
    pub nats: NatsConfig,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatsConfig {
    pub servers: Vec<String>,
    #[serde(default = "default_stream")]
    pub stream: String,
    #[serde(default = "default_subject")]
    pub subject: String,
    #[serde(default = "default_replicas")]
    pub replicas: usize,
    /// The durable consumer of a replica (graphd serve); an agent has none.
    #[serde(default)]
    pub consumer: Option<String>,
    /// How long the stream keeps a message, when it is created (`7d`); kept for ever by
    /// default. A replica further behind than this starts from a checkpoint.
    #[serde(default, deserialize_with = "crate::config::optional_duration")]
    pub max_age: Option<std::time::Duration>,
}

fn default_stream() -> String {
    "GRAPHD".into()
}

fn default_subject() -> String {
    "graphd.ingest".into()
}

fn default_replicas() -> usize {
    3
}

impl NatsConfig {
    /// The subject `agent` publishes to.
    pub fn subject_of(&self, agent: &str) -> String {
        format!("{}.{agent}", self.subject)
    }

    /// The subjects of every agent: what the stream holds and a replica reads.
    fn every_agent_subject(&self) -> String {
        format!("{}.>", self.subject)
    }

    /// The durable consumer `name` of a replica whose store holds the stream up to
    /// `position`: every agent's messages, from the one after `position` (from the first
    /// without one), each acknowledged on its own.
    pub fn replica_consumer(&self, name: &str, position: Option<u64>) -> pull::Config {
        let deliver_policy = match position {
            Some(sequence) => DeliverPolicy::ByStartSequence { start_sequence: sequence + 1 },
            None => DeliverPolicy::All,
        };
        pull::Config {
            durable_name: Some(name.to_owned()),
            ack_policy: AckPolicy::Explicit,
            deliver_policy,
            filter_subject: self.every_agent_subject(),
            ..Default::default()
        }
    }

    /// The agent a message's subject names.
    pub fn agent_of<'s>(&self, subject: &'s str) -> Option<&'s str> {
        subject.strip_prefix(&self.subject)?.strip_prefix('.')
    }

    /// Connects to the servers (any one that answers; the client follows the cluster) and
    /// makes sure the stream exists.
    pub async fn connect(&self) -> anyhow::Result<(jetstream::Context, jetstream::stream::Stream)> {
        let servers = self
            .servers
            .iter()
            .map(|s| {
                s.parse::<async_nats::ServerAddr>().map_err(|e| anyhow::anyhow!("stream.nats.servers: {s:?}: {e}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let client = async_nats::ConnectOptions::new().name("graphd").connect(servers).await?;
        let context = jetstream::new(client);
        let stream = context
            .get_or_create_stream(jetstream::stream::Config {
                name: self.stream.clone(),
                subjects: vec![self.every_agent_subject()],
                num_replicas: self.replicas,
                max_age: self.max_age.unwrap_or_default(),
                storage: jetstream::stream::StorageType::File,
                ..Default::default()
            })
            .await?;
        Ok((context, stream))
    }
}
