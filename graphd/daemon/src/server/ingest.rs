//! The ingest service: a stream of atomic batches in, one acknowledgement per batch out.
//! A rejected batch changes nothing and says why; the stream goes on.

use super::convert::operations_from;
use super::status::from_join;
use crate::GraphStore;
use graphd_core::Timestamp;
use graphd_proto::v1 as pb;
use graphd_proto::v1::ingest_service_server::IngestService;
use std::pin::Pin;
use std::sync::Arc;
use tokio_stream::{Stream, StreamExt};
use tonic::{Request, Response, Status, Streaming};

#[derive(Debug, Clone)]
pub struct Ingest {
    store: Arc<GraphStore>,
}

impl Ingest {
    pub fn new(store: Arc<GraphStore>) -> Self {
        Ingest { store }
    }
}

type AckStream = Pin<Box<dyn Stream<Item = Result<pb::IngestAck, Status>> + Send>>;

#[tonic::async_trait]
impl IngestService for Ingest {
    type IngestStream = AckStream;

    async fn ingest(&self, request: Request<Streaming<pb::IngestRequest>>) -> Result<Response<AckStream>, Status> {
        let mut incoming = request.into_inner();
        let store = Arc::clone(&self.store);
        // Bounded: a client that stops reading its acks stops being read.
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        tokio::spawn(async move {
            while let Some(next) = incoming.next().await {
                let ack = match next {
                    Err(status) => Err(status),
                    Ok(batch) => apply(&store, batch).await,
                };
                if tx.send(ack).await.is_err() {
                    break;
                }
            }
        });
        Ok(Response::new(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx))))
    }
}

async fn apply(store: &Arc<GraphStore>, batch: pb::IngestRequest) -> Result<pb::IngestAck, Status> {
    let sequence = batch.sequence;
    let rejected = |error: String| pb::IngestAck { sequence, applied: false, error, ..pb::IngestAck::default() };
    let ops = match operations_from(&batch) {
        Ok(ops) => ops,
        Err(e) => return Ok(rejected(e.to_string())),
    };
    let source = if batch.source.is_empty() { "api".to_owned() } else { batch.source.clone() };
    let store = Arc::clone(store);
    let applied =
        tokio::task::spawn_blocking(move || store.apply(&ops, Timestamp::now(), &source)).await.map_err(from_join)?;
    Ok(match applied {
        Ok(o) => pb::IngestAck {
            sequence,
            applied: true,
            error: String::new(),
            created: o.created as u32,
            updated: o.updated as u32,
            unchanged: o.unchanged as u32,
            deleted: o.deleted as u32,
            edges_added: o.edges_added as u32,
            edges_removed: o.edges_removed as u32,
        },
        Err(e) => rejected(e.to_string()),
    })
}
