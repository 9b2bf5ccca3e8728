//! The ingest service: a stream of atomic batches in, one acknowledgement per batch out.
//! A rejected batch changes nothing and says why; the stream goes on. A stream may resync a
//! scope: what it does not report between `begin_resync` and `end_resync` is tombstoned.

use super::apply::{apply_request, OpenResync};
use super::status::from_join;
use super::Metrics;
use crate::scrape::RescrapeError;
use crate::GraphStore;
use graphd_proto::v1 as pb;
use graphd_proto::v1::ingest_service_server::IngestService;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

#[derive(Debug, Clone)]
pub struct Ingest {
    store: Arc<GraphStore>,
    metrics: Arc<Metrics>,
}

impl Ingest {
    pub fn new(store: Arc<GraphStore>, metrics: Arc<Metrics>) -> Self {
        Ingest { store, metrics }
    }
}

type AckStream = Pin<Box<dyn Stream<Item = Result<pb::IngestAck, Status>> + Send>>;

#[tonic::async_trait]
impl IngestService for Ingest {
    type IngestStream = AckStream;

    async fn ingest(&self, request: Request<Streaming<pb::IngestRequest>>) -> Result<Response<AckStream>, Status> {
        let mut incoming = request.into_inner();
        let store = Arc::clone(&self.store);
        let metrics = Arc::clone(&self.metrics);
        // Bounded: a client that stops reading its acks stops being read.
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            // At most one resync open per stream; dropped unfinished if the stream ends.
            let mut open: Option<OpenResync> = None;
            while let Some(next) = incoming.next().await {
                let ack = match next {
                    Err(status) => Err(status),
                    Ok(batch) => apply(&store, batch, &mut open).await,
                };
                match &ack {
                    Ok(ack) if ack.applied => metrics.batch_applied(ack),
                    _ => metrics.batch_rejected(),
                }
                if tx.send(ack).await.is_err() {
                    break;
                }
            }
            if let Some(open) = open {
                tracing::warn!(scope = %open.resync.scope, "ingest stream ended with a resync open; nothing tombstoned");
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }

    async fn rescrape(&self, request: Request<pb::RescrapeRequest>) -> Result<Response<pb::RescrapeResponse>, Status> {
        let name = request.into_inner().name;
        match self.metrics.scrapers().rescrape(&name) {
            Ok(()) => Ok(Response::new(pb::RescrapeResponse {})),
            Err(error @ RescrapeError::Unknown(_)) => Err(Status::not_found(error.to_string())),
            Err(error @ RescrapeError::Watched(_)) => Err(Status::failed_precondition(error.to_string())),
        }
    }
}

/// Applies `batch` off the runtime, with the stream's open resync.
async fn apply(
    store: &Arc<GraphStore>,
    batch: pb::IngestRequest,
    open: &mut Option<OpenResync>,
) -> Result<pb::IngestAck, Status> {
    let store = Arc::clone(store);
    let mut resync = open.take();
    let (ack, resync) = tokio::task::spawn_blocking(move || {
        // A store that fails under the batch rejects it too: the sender may retry it.
        let sequence = batch.sequence;
        let ack = apply_request(&store, &batch, &mut resync).unwrap_or_else(|e| pb::IngestAck {
            sequence,
            applied: false,
            error: e.to_string(),
            ..Default::default()
        });
        (ack, resync)
    })
    .await
    .map_err(from_join)?;
    *open = resync;
    Ok(ack)
}
