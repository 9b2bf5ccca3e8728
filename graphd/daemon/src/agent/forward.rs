//! Sending the agent's queue and mirror to the central graphd (or the stream), through every
//! outage.

use super::{request, AgentConfig, Outbox};
use crate::open::GraphStore;
use graphd_core::{ExternalKey, ItemWrite, Provenance};
use graphd_proto::v1 as pb;
use graphd_store::query::ListQuery;
use graphd_store::Op;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};

/// Operations per batch of a full resync.
const RESYNC_BATCH: usize = 500;
/// Messages are split below this size whatever the server says (its header included).
const MIN_PAYLOAD: usize = 64 << 10;
/// The first pause after a failed connection; it doubles up to the configured maximum.
const FIRST_RETRY: Duration = Duration::from_millis(200);

/// Forwards until `stop` turns true: connects (retrying with back-off), sends the queue, a
/// full resync of the mirror, then each new batch as it is queued.
pub async fn forward(
    config: AgentConfig,
    mirror: Arc<GraphStore>,
    outbox: Arc<Outbox>,
    mut stop: watch::Receiver<bool>,
) {
    let mut retry = FIRST_RETRY;
    loop {
        let session = Session { config: &config, mirror: &mirror, outbox: &outbox };
        tokio::select! {
            ended = session.run() => match ended {
                Ok(()) => return,
                Err(error) => {
                    tracing::warn!(
                        to = %config.destination(),
                        queued_bytes = outbox.queued_bytes(),
                        error = format!("{error:#}"),
                        retry_in = ?retry,
                        "cannot forward; changes wait in the buffer"
                    );
                }
            },
            _ = stop.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        retry = (retry * 2).min(config.retry_max());
    }
}

struct Session<'a> {
    config: &'a AgentConfig,
    mirror: &'a Arc<GraphStore>,
    outbox: &'a Arc<Outbox>,
}

/// Where batches go: one at a time, each acknowledged before the next.
struct Connection {
    to: Destination,
    sequence: u64,
    /// A batch was rejected since the last full resync.
    rejected: bool,
}

enum Destination {
    /// An ingest stream of the central graphd: applied when acknowledged.
    Central { requests: mpsc::Sender<pb::IngestRequest>, acks: tonic::Streaming<pb::IngestAck> },
    /// A JetStream subject: stored by the stream's replicas when acknowledged; the graphd
    /// replicas apply it as they consume.
    Nats { context: async_nats::jetstream::Context, subject: String },
}

impl Connection {
    async fn open(config: &AgentConfig) -> anyhow::Result<Connection> {
        let to = match (&config.central, &config.stream) {
            (Some(central), _) => {
                let mut client = graphd_client::Client::connect(central).await?;
                let (requests, outgoing) = mpsc::channel(4);
                let acks = client.ingest_stream(tokio_stream::wrappers::ReceiverStream::new(outgoing)).await?;
                Destination::Central { requests, acks }
            }
            (None, Some(stream)) => {
                let (context, _) = stream.nats.connect().await?;
                Destination::Nats { context, subject: stream.nats.subject_of(&config.name) }
            }
            (None, None) => anyhow::bail!("the agent has no destination"),
        };
        Ok(Connection { to, sequence: 0, rejected: false })
    }

    /// Sends `batch`; returns the items its closing resync tombstoned, where that is known.
    async fn send(&mut self, mut batch: pb::IngestRequest) -> anyhow::Result<u32> {
        self.sequence += 1;
        batch.sequence = self.sequence;
        match &mut self.to {
            Destination::Central { requests, acks } => {
                requests.send(batch).await.map_err(|_| anyhow::anyhow!("the ingest stream closed"))?;
                let ack = acks.message().await?.ok_or_else(|| anyhow::anyhow!("the ingest stream ended"))?;
                if !ack.applied {
                    // A batch is rejected whole, e.g. for a delete of an item the central
                    // graphd never got: a full resync puts it right once the queue is sent.
                    tracing::warn!(error = %ack.error, "the central graphd rejected a batch; a full resync follows");
                    self.rejected = true;
                }
                Ok(ack.resync_deleted)
            }
            Destination::Nats { context, subject } => {
                // A message holds at most the server's max_payload (1 MiB by default): a batch of
                // large objects goes as several, its resync frame around them all.
                let limit = context.client().server_info().max_payload.max(MIN_PAYLOAD);
                for part in split_to_fit(batch, limit) {
                    let payload = prost::Message::encode_to_vec(&part);
                    context.publish(subject.clone(), payload.into()).await?.await?;
                }
                Ok(0)
            }
        }
    }
}

impl Session<'_> {
    async fn run(&self) -> anyhow::Result<()> {
        let mut connection = Connection::open(self.config).await?;
        let to = self.config.destination();
        tracing::info!(%to, queued_bytes = self.outbox.queued_bytes(), "connected");
        if self.outbox.overflowed() {
            // The queue misses batches: the resync below stands for all of it.
            self.outbox.discard()?;
        }
        self.send_queue(&mut connection).await?;
        self.resync(&mut connection).await?;
        tracing::info!(%to, "sent everything; forwarding as changes come");
        loop {
            self.send_queue(&mut connection).await?;
            if connection.rejected {
                self.resync(&mut connection).await?;
            }
            self.outbox.appended().await;
        }
    }

    /// Sends every queued batch, each acknowledged before the next.
    async fn send_queue(&self, connection: &mut Connection) -> anyhow::Result<()> {
        while let Some((next, mut batch)) = self.outbox.next()? {
            batch.source = format!("{}:{}", self.config.name, batch.source);
            connection.send(batch).await?;
            self.outbox.ack(next)?;
        }
        Ok(())
    }

    /// Every scope of the mirror, in full: what the central graphd has of it and the mirror
    /// does not is tombstoned. Then the explicit edges between them (region → account).
    async fn resync(&self, connection: &mut Connection) -> anyhow::Result<()> {
        let mirror = Arc::clone(self.mirror);
        let (scopes, links) = tokio::task::spawn_blocking(move || mirror_contents(&mirror)).await??;
        let source = format!("{}:resync", self.config.name);
        let mut tombstoned = 0;
        for (scope, items) in scopes {
            let chunks: Vec<&[ItemWrite]> = items.chunks(RESYNC_BATCH).collect();
            let last = chunks.len() - 1;
            for (i, chunk) in chunks.into_iter().enumerate() {
                let ops: Vec<Op> = chunk.iter().cloned().map(Op::Upsert).collect();
                let mut batch = request(&ops, &source);
                if i == 0 {
                    batch.begin_resync = Some(resync_scope(&scope));
                }
                batch.end_resync = i == last;
                tombstoned += connection.send(batch).await?;
            }
        }
        for chunk in links.chunks(RESYNC_BATCH) {
            connection.send(request(chunk, &source)).await?;
        }
        tracing::info!(tombstoned, "full resync sent");
        connection.rejected = false;
        self.outbox.resynced();
        Ok(())
    }
}

/// `batch` as requests of at most `limit` bytes each (less some room for the message's
/// envelope), halving the operations until each part fits; the first part opens the batch's
/// resync and the last one ends it. One operation larger than the limit goes alone (and is
/// refused by the server, which says why).
fn split_to_fit(batch: pb::IngestRequest, limit: usize) -> Vec<pb::IngestRequest> {
    use prost::Message;
    let room = limit - limit / 16;
    if batch.encoded_len() <= room || batch.operations.len() <= 1 {
        return vec![batch];
    }
    let mut first = batch;
    let rest = first.operations.split_off(first.operations.len() / 2);
    let second = pb::IngestRequest {
        sequence: first.sequence,
        source: first.source.clone(),
        operations: rest,
        begin_resync: None,
        end_resync: std::mem::take(&mut first.end_resync),
    };
    let mut parts = split_to_fit(first, limit);
    parts.extend(split_to_fit(second, limit));
    parts
}

type Contents = (BTreeMap<ScopeKey, Vec<ItemWrite>>, Vec<Op>);

/// A scope, ordered so that the resync goes cluster by cluster, account by account.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum ScopeKey {
    Kubernetes(String),
    Aws(String, String),
    Custom(String),
}

fn resync_scope(scope: &ScopeKey) -> pb::ResyncScope {
    use pb::resync_scope::Scope;
    let scope = match scope {
        ScopeKey::Kubernetes(cluster) => Scope::Cluster(cluster.clone()),
        ScopeKey::Aws(account, region) => Scope::Aws(pb::AwsScope { account: account.clone(), region: region.clone() }),
        ScopeKey::Custom(source) => Scope::CustomSource(source.clone()),
    };
    pb::ResyncScope { scope: Some(scope), kinds: Vec::new() }
}

fn scope_of(key: &ExternalKey) -> ScopeKey {
    match key {
        ExternalKey::Kubernetes { cluster, .. } => ScopeKey::Kubernetes(cluster.clone()),
        ExternalKey::Aws { account, region, .. } => ScopeKey::Aws(account.clone(), region.clone()),
        ExternalKey::Custom { source, .. } => ScopeKey::Custom(source.clone()),
    }
}

/// Every live item of the mirror as the write that makes it, by scope, and every live edge a
/// scraper made (not a rule: the mirror has none) as a link.
fn mirror_contents(mirror: &GraphStore) -> anyhow::Result<Contents> {
    let reader = mirror.read();
    let items = reader.list(&ListQuery { limit: usize::MAX, ..Default::default() })?.items;
    let mut scopes: Contents = Default::default();
    let keys: BTreeMap<_, _> = items.iter().map(|item| (item.id, item.key.clone())).collect();
    for item in &items {
        let mut write = ItemWrite::new(item.key.clone(), item.kind.clone(), item.name.clone());
        write.namespace = item.namespace.clone();
        write.scope = item.scope.clone();
        write.labels = item.labels.clone();
        // The mirror has no rules: these are as the scraper gave them, and the central
        // graphd's rules assess what the scraper left open, as they did the first time.
        (write.health, write.status, write.ready) = (item.health, item.status.clone(), item.ready);
        write.document = reader.document(item.id)?.unwrap_or_default();
        write.created_at = Some(item.created_at);
        scopes.0.entry(scope_of(&item.key)).or_default().push(write);
        for edge in reader.edges(item.id, true, false)? {
            if let (Provenance::Scraper(_) | Provenance::Api(_), Some(to)) = (&edge.provenance, keys.get(&edge.to)) {
                let link = graphd_core::EdgeWrite {
                    from: item.key.clone(),
                    relation: edge.relation.clone(),
                    to: to.clone(),
                    provenance: edge.provenance.clone(),
                };
                scopes.1.push(Op::Link(link));
            }
        }
    }
    Ok(scopes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn a_large_batch_is_split_with_its_resync_frame_around_the_parts() {
        let op = |n: usize| {
            let item = ItemWrite::new(
                ExternalKey::custom("s", n.to_string()),
                graphd_core::Kind::new("Custom::X").unwrap(),
                "x".repeat(1000),
            );
            Op::Upsert(item)
        };
        let ops: Vec<Op> = (0..100).map(op).collect();
        let mut batch = request(&ops, "agent");
        batch.begin_resync =
            Some(pb::ResyncScope { scope: Some(pb::resync_scope::Scope::CustomSource("s".into())), kinds: vec![] });
        batch.end_resync = true;
        let parts = split_to_fit(batch, 16 << 10);
        assert!(parts.len() >= 7, "{} parts", parts.len());
        assert!(parts.iter().all(|p| p.encoded_len() <= 16 << 10));
        assert_eq!(parts.iter().map(|p| p.operations.len()).sum::<usize>(), 100, "every operation, once");
        assert!(parts[0].begin_resync.is_some() && parts[1..].iter().all(|p| p.begin_resync.is_none()));
        assert!(parts.last().unwrap().end_resync && parts[..parts.len() - 1].iter().all(|p| !p.end_resync));
    }
}
