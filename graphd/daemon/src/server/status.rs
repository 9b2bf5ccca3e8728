//! Every domain error becomes a gRPC status here, with a message a person can act on.

use super::convert::FieldError;
use graphd_store::StoreError;
use tonic::Status;

pub fn from_store(err: StoreError) -> Status {
    match err {
        StoreError::UnknownKey(key) => Status::not_found(format!("no item with key {key}")),
        StoreError::UnknownId(id) => Status::not_found(format!("no item with id {id}")),
        StoreError::InvalidQuery { field, reason } => Status::invalid_argument(format!("{field}: {reason}")),
        StoreError::ItemDeleted(_)
        | StoreError::KindChanged { .. }
        | StoreError::InvalidKey { .. }
        | StoreError::Relation(_)
        | StoreError::InBatch { .. } => Status::invalid_argument(err.to_string()),
        StoreError::Engine(_)
        | StoreError::Codec(_)
        | StoreError::Key(_)
        | StoreError::Corrupt(_)
        | StoreError::Format { .. } => {
            tracing::error!(error = %err, "store failure");
            Status::internal(err.to_string())
        }
    }
}

pub fn from_field(err: FieldError) -> Status {
    Status::invalid_argument(err.to_string())
}

pub fn from_join(err: tokio::task::JoinError) -> Status {
    Status::internal(format!("query task failed: {err}"))
}
