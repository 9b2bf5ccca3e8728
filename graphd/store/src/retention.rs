//! Purging tombstones older than the retention bound, in small batches, in the background.
//!
//! Tombstones are queued in the meta column family by deletion time, so a purge reads only
//! what it removes. Each round holds the writer lock for one bounded batch, so ingest is never
//! blocked for long.

use crate::adjacency::{ChangeKind, EdgeChange};
use crate::cf::Cf;
use crate::codec::{EdgeValue, ItemRecord};
use crate::engine::{Engine, Snapshot, WriteBatch};
use crate::error::{Result, StoreError};
use crate::keys::{self, Tomb};
use crate::store::Store;
use crate::write::index_keys;
use graphd_core::{ItemId, Timestamp};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

/// What one purge removed for good.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PurgeStats {
    pub items: usize,
    pub edges: usize,
    /// More tombstones older than the bound are waiting.
    pub more: bool,
}

impl<E: Engine> Store<E> {
    /// Removes at most `max_tombstones` tombstones deleted before `before`: the items with their
    /// documents, index entries, edges and changes, and tombstoned edges.
    pub fn purge_tombstones(&self, before: Timestamp, max_tombstones: usize) -> Result<PurgeStats> {
        let mut writer = self.lock_writer();
        let snapshot = self.engine().snapshot();
        let mut queue = Vec::new();
        snapshot.scan_prefix(Cf::Meta, keys::META_TOMB_PREFIX, &mut |key, _| {
            queue.push(key.to_vec());
            queue.len() <= max_tombstones
        })?;
        let mut stats = PurgeStats::default();
        let mut batch = WriteBatch::new();
        let mut removed = Vec::new();
        for (processed, key) in queue.iter().enumerate() {
            let (at, tomb) = keys::decode_tomb(key)?;
            if at >= before {
                break;
            }
            if processed == max_tombstones {
                stats.more = true;
                break;
            }
            batch.delete(Cf::Meta, key.clone());
            match tomb {
                Tomb::Item(id) => {
                    if purge_item(&snapshot, id, at, &mut batch, &mut removed)? {
                        stats.items += 1;
                    }
                }
                Tomb::Edge(from, rel, to) => {
                    let out_key = keys::edge(from, rel, to);
                    let still_deleted = match snapshot.get(Cf::EdgesOut, &out_key)? {
                        Some(v) => EdgeValue::peek(&v).is_some_and(|(d, _)| d == Some(at)),
                        None => false,
                    };
                    if still_deleted {
                        batch.delete(Cf::EdgesOut, out_key.to_vec());
                        batch.delete(Cf::EdgesIn, keys::edge(to, rel, from).to_vec());
                        removed.push(removal(from, rel, to));
                        stats.edges += 1;
                    }
                }
            }
        }
        drop(snapshot);
        if !batch.is_empty() {
            self.commit(&mut writer, batch, &removed)?;
        }
        Ok(stats)
    }
}

fn removal(from: ItemId, rel: keys::RelId, to: ItemId) -> EdgeChange {
    EdgeChange { from, rel, to, from_kind: 0, to_kind: 0, kind: ChangeKind::Removed }
}

/// Stages the removal of item `id` if it is still the tombstone queued at `at`.
fn purge_item(
    snapshot: &impl Snapshot,
    id: ItemId,
    at: Timestamp,
    batch: &mut WriteBatch,
    removed: &mut Vec<EdgeChange>,
) -> Result<bool> {
    let Some(bytes) = snapshot.get(Cf::Items, &keys::item(id))? else {
        return Ok(false);
    };
    let record = ItemRecord::decode(&bytes)?;
    if record.deleted_at != Some(at.0) {
        return Ok(false); // restored, or deleted again later: a newer tombstone covers it
    }
    batch.delete(Cf::Items, keys::item(id).to_vec());
    batch.delete(Cf::Documents, keys::item(id).to_vec());
    batch.delete(Cf::ExternalKeys, record.key.clone());
    for (cf, key) in index_keys(id, &record) {
        batch.delete(cf, key);
    }
    let mut failure = None;
    for (cf, mirror) in [(Cf::EdgesOut, Cf::EdgesIn), (Cf::EdgesIn, Cf::EdgesOut)] {
        snapshot.scan_prefix(cf, &keys::edge_prefix(id), &mut |key, _| {
            match keys::decode_edge(key) {
                // Each of these edges was tombstoned with the item and is counted by its own
                // queue entry; deleting here too keeps no half of an edge behind.
                Ok((near, rel, far)) => {
                    batch.delete(cf, key.to_vec());
                    batch.delete(mirror, keys::edge(far, rel, near).to_vec());
                    let (from, to) = if cf == Cf::EdgesOut { (near, far) } else { (far, near) };
                    removed.push(removal(from, rel, to));
                }
                Err(e) => failure = Some(e),
            }
            true
        })?;
    }
    snapshot.scan_prefix(Cf::Changes, &keys::change_prefix(id), &mut |key, _| {
        batch.delete(Cf::Changes, key.to_vec());
        true
    })?;
    match failure {
        Some(e) => Err(StoreError::from(e)),
        None => Ok(true),
    }
}

/// A background thread that purges tombstones older than `keep`, every `every`.
/// Dropping it stops the thread and waits for the round in progress.
#[derive(Debug)]
pub struct RetentionTask {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Tombstones purged per batch: small enough that ingest waits milliseconds at most.
const PURGE_BATCH: usize = 1_000;

impl RetentionTask {
    pub fn spawn<E: Engine>(store: Arc<Store<E>>, keep: Duration, every: Duration) -> RetentionTask {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("graphd-retention".into())
            .spawn(move || loop {
                let before = Timestamp::now().minus(keep);
                loop {
                    match store.purge_tombstones(before, PURGE_BATCH) {
                        Ok(stats) => {
                            if stats.items + stats.edges > 0 {
                                tracing::info!(items = stats.items, edges = stats.edges, "purged tombstones");
                            }
                            if !stats.more {
                                break;
                            }
                        }
                        Err(error) => {
                            tracing::warn!(%error, "tombstone purge failed, retrying next round");
                            break;
                        }
                    }
                    if !matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                        return;
                    }
                }
                match stopped.recv_timeout(every) {
                    Err(RecvTimeoutError::Timeout) => continue,
                    _ => return,
                }
            })
            .expect("spawning a thread");
        RetentionTask { stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for RetentionTask {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MemEngine, Op};
    use graphd_core::{ExternalKey, ItemWrite, Kind};
    use std::time::Instant;

    #[test]
    fn the_background_task_purges_old_tombstones_and_keeps_the_rest() {
        let store = Arc::new(Store::open(MemEngine::new()).unwrap());
        let item = |id: &str| ItemWrite::new(ExternalKey::custom("t", id), Kind::new("Custom::Thing").unwrap(), id);
        let long_ago = Timestamp::now().minus(Duration::from_secs(3_600));
        store.apply(&[Op::Upsert(item("old")), Op::Upsert(item("kept"))], long_ago, "test").unwrap();
        store.apply(&[Op::Delete(ExternalKey::custom("t", "old"))], long_ago, "test").unwrap();
        store.apply(&[Op::Delete(ExternalKey::custom("t", "kept"))], Timestamp::now(), "test").unwrap();
        let task = RetentionTask::spawn(Arc::clone(&store), Duration::from_secs(600), Duration::from_millis(10));
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.read().get_by_key(&ExternalKey::custom("t", "old"), true).unwrap().is_some() {
            assert!(Instant::now() < deadline, "the retention task never purged the old tombstone");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(task);
        let kept = store.read().get_by_key(&ExternalKey::custom("t", "kept"), true).unwrap();
        assert!(kept.is_some_and(|i| i.is_deleted()), "a tombstone younger than the bound stays");
    }
}
