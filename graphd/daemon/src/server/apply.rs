//! One ingest request applied to the store: the same for a gRPC ingest stream and for the
//! replication stream a replica consumes. A rejected batch changes nothing and says why.

use super::convert::{operations_from, resync_from};
use crate::GraphStore;
use graphd_core::{ExternalKey, Timestamp};
use graphd_proto::v1 as pb;
use graphd_store::{Op, Resync, StoreError};
use std::collections::HashSet;

/// A resync in progress on one stream: its scope and every key of it upserted since it began.
#[derive(Debug)]
pub struct OpenResync {
    pub resync: Resync,
    reported: HashSet<ExternalKey>,
}

/// Applies `batch` (blocking: call it off the async runtime), with `open` the stream's open
/// resync, which it opens, extends or closes as the batch says. A batch that is wrong is
/// rejected in the acknowledgement; a store that fails under it ([`StoreError::is_local`]) is
/// the error, the batch and the resync left as they were.
pub fn apply_request(
    store: &GraphStore,
    batch: &pb::IngestRequest,
    open: &mut Option<OpenResync>,
) -> Result<pb::IngestAck, StoreError> {
    let sequence = batch.sequence;
    let rejected = |error: String| pb::IngestAck { sequence, applied: false, error, ..pb::IngestAck::default() };
    let ops = match operations_from(batch) {
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
    let source = if batch.source.is_empty() { "api" } else { batch.source.as_str() };
    let now = Timestamp::now();
    let applied = match store.apply(&ops, now, source) {
        Err(e) if e.is_local() => return Err(e),
        applied => applied,
    };
    let began = begin.is_some();
    let mut resync = begin.map(|resync| OpenResync { resync, reported: HashSet::new() }).or_else(|| open.take());
    let end = batch.end_resync;
    let mut resync_deleted = Ok(0);
    if let (Ok(_), Some(open)) = (&applied, resync.as_mut()) {
        open.reported.extend(upserted_keys(&ops).filter(|k| open.resync.scope.contains(k)).cloned());
        if end {
            resync_deleted = store.resync(&open.resync, &open.reported, now, source).map(|o| o.deleted);
        }
    }
    // A failed batch leaves the stream's resync as it was, so the sender can retry the batch.
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
