//! A replica: the stream's messages applied to the store, in stream order, through a durable
//! consumer, resuming after the last message the store holds.

use super::NatsConfig;
use crate::server::apply::{apply_request, OpenResync};
use crate::GraphStore;
use graphd_proto::v1 as pb;
use prost::Message;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio_stream::StreamExt;

/// The first pause after a failure; it doubles up to [`RETRY_MAX`].
const FIRST_RETRY: Duration = Duration::from_millis(200);
const RETRY_MAX: Duration = Duration::from_secs(10);
/// How long a replica waits for a message before it checks that it is not behind. After a
/// NATS node is lost, a pull consumer can stay silent with messages waiting for it, neither
/// delivering them nor failing; a replica that finds itself behind starts its consumer again.
const BEHIND_CHECK: Duration = Duration::from_secs(10);

/// Consumes the stream into `store` until `stop` turns true, reconnecting with back-off.
pub async fn consume(config: NatsConfig, consumer: String, store: Arc<GraphStore>, mut stop: watch::Receiver<bool>) {
    let mut retry = FIRST_RETRY;
    loop {
        tokio::select! {
            ended = run(&config, &consumer, &store) => {
                let error = ended.err().map(|e| format!("{e:#}")).unwrap_or_else(|| "the consumer's messages ended".into());
                tracing::warn!(stream = %config.stream, %consumer, %error, retry_in = ?retry, "replication stream interrupted");
            }
            _ = stop.wait_for(|stop| *stop) => return,
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = stop.wait_for(|stop| *stop) => return,
        }
        retry = (retry * 2).min(RETRY_MAX);
    }
}

fn consumer_not_found(error: &async_nats::jetstream::stream::ConsumerError) -> bool {
    use async_nats::jetstream::{stream::ConsumerErrorKind, ErrorCode};
    matches!(error.kind(), ConsumerErrorKind::JetStream(e) if e.error_code() == ErrorCode::CONSUMER_NOT_FOUND)
}

async fn run(config: &NatsConfig, name: &str, store: &Arc<GraphStore>) -> anyhow::Result<()> {
    let (_, stream) = config.connect().await?;
    let position = store.stream_position()?;
    // The consumer starts afresh on every connection, after what the store holds (a
    // checkpoint's sequence, the last message applied), or at the beginning. Going on from the
    // consumer's own acknowledgements lost messages: those a dropped connection had pulled
    // come again only once their acknowledgement times out, after later ones, and were then
    // taken for messages already applied.
    match stream.delete_consumer(name).await {
        Ok(_) => {}
        Err(e) if consumer_not_found(&e) => {}
        Err(e) => return Err(e.into()),
    }
    let consumer = stream.create_consumer(config.replica_consumer(name, position)).await?;
    tracing::info!(stream = %config.stream, consumer = %name, ?position, "consuming the replication stream");
    let mut messages = consumer.messages().await?;
    // Each agent's resync, open between its begin and its end.
    let mut resyncs: HashMap<String, Option<OpenResync>> = HashMap::new();
    let mut applied = position.unwrap_or(0);
    loop {
        let message = match tokio::time::timeout(BEHIND_CHECK, messages.next()).await {
            Ok(Some(message)) => message?,
            Ok(None) => break,
            Err(_) => {
                let state = stream.get_info().await?.state;
                // Expired messages leave the last sequence behind: only one still held counts.
                if state.messages > 0 && state.last_sequence > applied {
                    anyhow::bail!(
                        "nothing delivered for {BEHIND_CHECK:?} while the stream holds messages up to {} and this \
                         replica has applied up to {applied}",
                        state.last_sequence
                    );
                }
                continue;
            }
        };
        let sequence =
            message.info().map_err(|e| anyhow::anyhow!("a message without stream info: {e}"))?.stream_sequence;
        if sequence <= applied {
            // Delivered again (its acknowledgement was lost): the store has it already.
            message.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
            continue;
        }
        let agent = config.agent_of(message.subject.as_str()).unwrap_or_default().to_owned();
        match pb::IngestRequest::decode(message.payload.clone()) {
            Err(e) => tracing::error!(sequence, %agent, error = %e, "skipping a message that is not an ingest request"),
            Ok(request) => {
                let mut open = resyncs.remove(&agent).flatten();
                if request.begin_resync.is_some() {
                    if let Some(stale) = open.take() {
                        // The agent started over (it restarted mid-resync): the old one never ends.
                        tracing::warn!(%agent, scope = %stale.resync.scope, "dropping an unfinished resync");
                    }
                }
                let store = Arc::clone(store);
                // A store that fails stops the consumer before the acknowledgement: the message
                // comes again once it reconnects. A wrong batch is rejected the same way on
                // every replica, and passed.
                let (ack, open) = tokio::task::spawn_blocking(move || {
                    let ack = apply_request(&store, &request, &mut open)?;
                    store.set_stream_position(sequence)?;
                    Ok::<_, graphd_store::StoreError>((ack, open))
                })
                .await??;
                if !ack.applied {
                    tracing::warn!(sequence, %agent, error = %ack.error, "a replicated batch was rejected");
                }
                resyncs.insert(agent, open);
            }
        }
        applied = sequence;
        message.ack().await.map_err(|e| anyhow::anyhow!("ack: {e}"))?;
    }
    Ok(())
}
