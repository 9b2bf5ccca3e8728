//! The admin service: checkpoints of the store, from which a new replica starts.

use super::status::from_join;
use crate::GraphStore;
use graphd_proto::v1 as pb;
use graphd_proto::v1::admin_service_server::AdminService;
use std::path::PathBuf;
use std::sync::Arc;
use tonic::{Request, Response, Status};

#[derive(Debug, Clone)]
pub struct Admin {
    store: Arc<GraphStore>,
}

impl Admin {
    pub fn new(store: Arc<GraphStore>) -> Self {
        Admin { store }
    }
}

#[tonic::async_trait]
impl AdminService for Admin {
    async fn checkpoint(
        &self,
        request: Request<pb::CheckpointRequest>,
    ) -> Result<Response<pb::CheckpointResponse>, Status> {
        let dir = PathBuf::from(request.into_inner().dir);
        if dir.as_os_str().is_empty() {
            return Err(Status::invalid_argument("dir: empty; name a directory that does not exist yet"));
        }
        if dir.exists() {
            return Err(Status::already_exists(format!("dir: {} exists; name a new one", dir.display())));
        }
        let store = Arc::clone(&self.store);
        let taken = tokio::task::spawn_blocking(move || {
            // Between two batches: the copy holds exactly the stream up to this sequence.
            let (sequence, copied) =
                store.between_writes(|store| (store.stream_position(), store.engine().checkpoint(&dir)));
            let sequence = sequence.map_err(|e| Status::internal(e.to_string()))?;
            copied.map_err(|e| Status::internal(format!("checkpoint to {}: {e}", dir.display())))?;
            tracing::info!(dir = %dir.display(), ?sequence, "checkpoint written");
            Ok::<_, Status>(pb::CheckpointResponse {
                dir: dir.display().to_string(),
                stream_sequence: sequence.unwrap_or(0),
            })
        })
        .await
        .map_err(from_join)??;
        Ok(Response::new(taken))
    }
}
