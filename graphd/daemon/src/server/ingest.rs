//! The ingest service: a stream of atomic batches in, one acknowledgement per batch out.
//! A rejected batch changes nothing and says why; the stream goes on. A stream may resync a
//! scope: what it does not report between `begin_resync` and `end_resync` is tombstoned.

use super::convert::{operations_from, resync_from};
use super::status::from_join;
use super::Metrics;
use crate::scrape::RescrapeError;
use crate::GraphStore;
use graphd_core::{ExternalKey, Timestamp};
use graphd_proto::v1 as pb;
use graphd_proto::v1::ingest_service_server::IngestService;
use graphd_store::{Op, Resync};
use std::collections::HashSet;
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

/// A resync in progress on one stream: its scope and every key of it upserted since it began.
struct OpenResync {
    resync: Resync,
    reported: HashSet<ExternalKey>,
}

async fn apply(
    store: &Arc<GraphStore>,
    batch: pb::IngestRequest,
    open: &mut Option<OpenResync>,
) -> Result<pb::IngestAck, Status> {
    let sequence = batch.sequence;
    let rejected = |error: String| pb::IngestAck { sequence, applied: false, error, ..pb::IngestAck::default() };
    let ops = match operations_from(&batch) {
        Ok(ops) => ops,
        Err(e) => return Ok(rejected(e.to_string())),
    };
    let begin = match batch.begin_resync.as_ref().map(resync_from).transpose() {
        Ok(begin) => begin,
        Err(e) => return Ok(rejected(e.to_string())),
    };
    match (&begin, open.as_ref()) {
        (Some(_), Some(current)) => {
            return Ok(rejected(format!(
                "begin_resync: a resync of {} is already open on this stream; end it first",
                current.resync.scope
            )))
        }
        (None, None) if batch.end_resync => {
            return Ok(rejected("end_resync: no resync is open on this stream".to_owned()))
        }
        _ => {}
    }
    let source = if batch.source.is_empty() { "api".to_owned() } else { batch.source.clone() };
    let store = Arc::clone(store);
    let began = begin.is_some();
    let mut resync = begin.map(|resync| OpenResync { resync, reported: HashSet::new() }).or_else(|| open.take());
    let end = batch.end_resync;
    let (applied, resync) = tokio::task::spawn_blocking(move || {
        let now = Timestamp::now();
        let applied = store.apply(&ops, now, &source);
        let mut resync_deleted = Ok(0);
        if let (Ok(_), Some(open)) = (&applied, resync.as_mut()) {
            open.reported.extend(upserted_keys(&ops).filter(|k| open.resync.scope.contains(k)).cloned());
            if end {
                resync_deleted = store.resync(&open.resync, &open.reported, now, &source).map(|o| o.deleted);
            }
        }
        ((applied, resync_deleted), resync)
    })
    .await
    .map_err(from_join)?;
    // A failed batch leaves the stream's resync as it was, so the sender can retry the batch.
    let (applied, resync_deleted) = applied;
    *open = match (&applied, &resync_deleted) {
        (Err(_), _) if began => None,
        (Ok(_), Ok(_)) if end => None,
        _ => resync,
    };
    Ok(match (applied, resync_deleted) {
        (Ok(o), Ok(resync_deleted)) => pb::IngestAck {
            sequence,
            applied: true,
            error: String::new(),
            created: o.created as u32,
            updated: o.updated as u32,
            unchanged: o.unchanged as u32,
            deleted: o.deleted as u32,
            edges_added: o.edges_added as u32,
            edges_removed: o.edges_removed as u32,
            resync_deleted: resync_deleted as u32,
        },
        (Err(e), _) => rejected(e.to_string()),
        (Ok(_), Err(e)) => rejected(format!("the batch landed, but ending the resync failed: {e}")),
    })
}

fn upserted_keys(ops: &[Op]) -> impl Iterator<Item = &ExternalKey> {
    ops.iter().filter_map(|op| match op {
        Op::Upsert(item) => Some(&item.key),
        _ => None,
    })
}
