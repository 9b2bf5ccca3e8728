//! Purging tombstones older than the retention bound, and change records older than the bound
//! of their type, in small batches, in the background.
//!
//! Tombstones are queued in the meta column family by deletion time, so a purge reads only
//! what it removes; change records are read in key order, a bounded number per round. Each
//! round holds the writer lock for one bounded batch, so ingest is never blocked for long.

use crate::adjacency::{ChangeKind, EdgeChange};
use crate::cf::Cf;
use crate::codec::{ChangeRecord, EdgeValue, ItemRecord};
use crate::engine::{Engine, Snapshot, WriteBatch};
use crate::error::{Result, StoreError};
use crate::keys::{self, Tomb};
use crate::store::Store;
use crate::write::index_keys;
use graphd_core::{ChangeType, ItemId, Timestamp};
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
            batch.delete(Cf::Meta, key);
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
                        batch.delete(Cf::EdgesOut, &out_key);
                        batch.delete(Cf::EdgesIn, &keys::edge(to, rel, from));
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

/// How long change records are kept: a type's own bound, else `default`; with neither, as long
/// as their item (a purged tombstone takes its changes with it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeRetention {
    pub default: Option<Duration>,
    pub by_type: Vec<(ChangeType, Duration)>,
}

impl ChangeRetention {
    pub fn keep(&self, change_type: ChangeType) -> Option<Duration> {
        self.by_type.iter().find(|(t, _)| *t == change_type).map(|(_, keep)| *keep).or(self.default)
    }

    fn is_unbounded(&self) -> bool {
        self.default.is_none() && self.by_type.is_empty()
    }
}

impl<E: Engine> Store<E> {
    /// Removes the change records older at `now` than their type's bound among at most `max`
    /// records read from `cursor` on (the first when `None`). Returns how many it removed and
    /// where to go on (`None`: every record was read).
    pub fn purge_changes(
        &self,
        retention: &ChangeRetention,
        now: Timestamp,
        cursor: Option<&[u8]>,
        max: usize,
    ) -> Result<(usize, Option<Vec<u8>>)> {
        let mut writer = self.lock_writer();
        let snapshot = self.engine().snapshot();
        let mut batch = WriteBatch::new();
        let (mut read, mut next, mut failure) = (0, None, None);
        snapshot.scan(Cf::Changes, &[], cursor, &mut |key, value| {
            if read == max {
                next = Some(key.to_vec());
                return false;
            }
            read += 1;
            let (at, change_type) = match (keys::decode_change(key), ChangeRecord::decode(value)) {
                (Ok((_, at, _)), Ok(record)) => (at, record.change_type()),
                (Err(e), _) => {
                    failure = Some(StoreError::from(e));
                    return false;
                }
                (_, Err(e)) => {
                    failure = Some(StoreError::from(e));
                    return false;
                }
            };
            if retention.keep(change_type).is_some_and(|keep| at < now.minus(keep)) {
                batch.delete(Cf::Changes, key);
            }
            true
        })?;
        drop(snapshot);
        if let Some(failure) = failure {
            return Err(failure);
        }
        let removed = batch.len();
        if !batch.is_empty() {
            self.commit(&mut writer, batch, &[])?;
        }
        Ok((removed, next))
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
    batch.delete(Cf::Items, &keys::item(id));
    batch.delete(Cf::Documents, &keys::item(id));
    batch.delete(Cf::ExternalKeys, &record.key);
    for (cf, key) in index_keys(id, &record) {
        batch.delete(cf, &key);
    }
    let mut failure = None;
    for (cf, mirror) in [(Cf::EdgesOut, Cf::EdgesIn), (Cf::EdgesIn, Cf::EdgesOut)] {
        snapshot.scan_prefix(cf, &keys::edge_prefix(id), &mut |key, _| {
            match keys::decode_edge(key) {
                // Each of these edges was tombstoned with the item and is counted by its own
                // queue entry; deleting here too keeps no half of an edge behind.
                Ok((near, rel, far)) => {
                    batch.delete(cf, key);
                    batch.delete(mirror, &keys::edge(far, rel, near));
                    let (from, to) = if cf == Cf::EdgesOut { (near, far) } else { (far, near) };
                    removed.push(removal(from, rel, to));
                }
                Err(e) => failure = Some(e),
            }
            true
        })?;
    }
    snapshot.scan_prefix(Cf::Changes, &keys::change_prefix(id), &mut |key, _| {
        batch.delete(Cf::Changes, key);
        true
    })?;
    match failure {
        Some(e) => Err(StoreError::from(e)),
        None => Ok(true),
    }
}

/// A background thread that purges tombstones older than `keep`, and change records older
/// than the bounds of `changes`, every `every`. Dropping it stops the thread and waits for the
/// round in progress.
#[derive(Debug)]
pub struct RetentionTask {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Tombstones purged per batch: small enough that ingest waits milliseconds at most.
const PURGE_BATCH: usize = 1_000;

impl RetentionTask {
    pub fn spawn<E: Engine>(
        store: Arc<Store<E>>,
        keep: Duration,
        changes: ChangeRetention,
        every: Duration,
    ) -> RetentionTask {
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
                let mut cursor: Option<Vec<u8>> = None;
                while !changes.is_unbounded() {
                    match store.purge_changes(&changes, Timestamp::now(), cursor.as_deref(), PURGE_BATCH) {
                        Ok((removed, next)) => {
                            if removed > 0 {
                                tracing::info!(changes = removed, "purged old change records");
                            }
                            cursor = next;
                        }
                        Err(error) => {
                            tracing::warn!(%error, "change purge failed, retrying next round");
                            break;
                        }
                    }
                    if cursor.is_none() || !matches!(stopped.try_recv(), Err(mpsc::TryRecvError::Empty)) {
                        break;
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
        let task = RetentionTask::spawn(
            Arc::clone(&store),
            Duration::from_secs(600),
            ChangeRetention::default(),
            Duration::from_millis(10),
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while store.read().get_by_key(&ExternalKey::custom("t", "old"), true).unwrap().is_some() {
            assert!(Instant::now() < deadline, "the retention task never purged the old tombstone");
            std::thread::sleep(Duration::from_millis(10));
        }
        drop(task);
        let kept = store.read().get_by_key(&ExternalKey::custom("t", "kept"), true).unwrap();
        assert!(kept.is_some_and(|i| i.is_deleted()), "a tombstone younger than the bound stays");
    }

    #[test]
    fn change_records_go_when_their_type_says_and_the_rest_stay() {
        let store = Store::open(MemEngine::new()).unwrap();
        let kind = Kind::new("Custom::Thing").unwrap();
        let write = |n: u32| {
            let mut item = ItemWrite::new(ExternalKey::custom("t", "a"), kind.clone(), "a");
            item.document = serde_json::json!({"n": n});
            Op::Upsert(item)
        };
        let long_ago = Timestamp::now().minus(Duration::from_secs(3_600));
        store.apply(&[write(1)], long_ago, "test").unwrap();
        store.apply(&[write(2)], long_ago, "test").unwrap();
        store.apply(&[write(3)], Timestamp::now(), "test").unwrap();
        let types = |store: &Store<MemEngine>| -> Vec<ChangeType> {
            let id = store.read().get_by_key(&ExternalKey::custom("t", "a"), false).unwrap().unwrap().id;
            let changes = store.read().changes(&[id], &crate::query::ChangeFilter::newest(10)).unwrap();
            changes.into_iter().map(|c| c.change_type).collect()
        };
        assert_eq!(types(&store), [ChangeType::Updated, ChangeType::Updated, ChangeType::Created]);
        // Updates are kept ten minutes; creations as long as their item.
        let retention =
            ChangeRetention { default: None, by_type: vec![(ChangeType::Updated, Duration::from_secs(600))] };
        // Two records per round: the purge goes on from where it stopped.
        let (removed, next) = store.purge_changes(&retention, Timestamp::now(), None, 2).unwrap();
        let (more, end) = store.purge_changes(&retention, Timestamp::now(), next.as_deref(), 2).unwrap();
        assert_eq!((removed + more, end), (1, None));
        assert_eq!(types(&store), [ChangeType::Updated, ChangeType::Created]);
        let everything = ChangeRetention { default: Some(Duration::from_secs(600)), by_type: Vec::new() };
        store.purge_changes(&everything, Timestamp::now(), None, 100).unwrap();
        assert_eq!(types(&store), [ChangeType::Updated], "only the recent update is younger than ten minutes");
    }
}
