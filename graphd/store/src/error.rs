//! The store's errors. Each names what a caller got wrong, or what broke underneath.

use crate::codec::CodecError;
use crate::engine::EngineError;
use crate::keys::KeyError;
use graphd_core::{ExternalKey, ItemId, Kind, RelationError};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(transparent)]
    Relation(#[from] RelationError),
    #[error("no item with key {0}")]
    UnknownKey(ExternalKey),
    #[error("no item with id {0}")]
    UnknownId(ItemId),
    #[error("item {0} is deleted and takes no new edges")]
    ItemDeleted(ExternalKey),
    #[error("item {key} is a {existing}; it cannot become a {requested}")]
    KindChanged { key: ExternalKey, existing: Kind, requested: Kind },
    #[error("invalid item key {key}: {reason}")]
    InvalidKey { key: ExternalKey, reason: &'static str },
    #[error("operation {index} of the batch: {source}")]
    InBatch { index: usize, source: Box<StoreError> },
    #[error("invalid query: {field}: {reason}")]
    InvalidQuery { field: &'static str, reason: String },
    #[error("the store's interned ids are corrupt: {0}")]
    Corrupt(String),
    #[error(
        "the store is in format {found} and this graphd reads format {expected}: \
         load the data again into a new data directory"
    )]
    Format { found: String, expected: u64 },
}

impl StoreError {
    /// Whether the store itself failed (its engine, an undecodable record), rather than the
    /// request being wrong: the same request may succeed later, or elsewhere.
    pub fn is_local(&self) -> bool {
        match self {
            StoreError::Engine(_) | StoreError::Codec(_) | StoreError::Corrupt(_) | StoreError::Format { .. } => true,
            StoreError::InBatch { source, .. } => source.is_local(),
            _ => false,
        }
    }

    pub(crate) fn at(self, index: usize) -> StoreError {
        StoreError::InBatch { index, source: Box::new(self) }
    }

    pub(crate) fn query(field: &'static str, reason: impl Into<String>) -> StoreError {
        StoreError::InvalidQuery { field, reason: reason.into() }
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;
