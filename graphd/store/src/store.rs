//! The store: one engine, one writer, many readers on snapshots.

use crate::adjacency::{Adjacency, ChangeKind, EdgeChange};
use crate::cf::Cf;
use crate::engine::{Engine, Snapshot, WriteBatch};
use crate::error::{Result, StoreError};
use crate::keys::{self, RelId};
use crate::names::Names;
use crate::overlay::{Overlaid, Unwritten};
use crate::write::{BatchWriter, KnownKeys, LinkRules, Op, Outcome, Scratch};
use graphd_core::{relation, Change, Relation, Timestamp};
use graphd_rules::RuleSet;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};

/// The graph store over an engine `E`.
///
/// Writes go through one mutex so that id allocation, interning and read-modify-write of
/// records never race. Reads take a snapshot; they wait at most for the one batch being
/// written (so that snapshot, adjacency sequence and names agree), never for one being built.
#[derive(Debug)]
pub struct Store<E> {
    engine: E,
    names: RwLock<Arc<Names>>,
    writer: Mutex<WriterState>,
    adjacency: RwLock<Adjacency>,
    /// The sequence of the last batch readers may see. The writer holds it exclusively while
    /// writing a batch, so a reader's engine snapshot and sequence always agree.
    visible: RwLock<u64>,
}

#[derive(Debug)]
pub(crate) struct WriterState {
    pub next_id: u64,
    pub next_seq: u64,
    /// Sequence of the last committed batch (adjacency versions, not persisted).
    pub batch_seq: u64,
    /// The writer's own copy of the names, ahead of the published one while a batch is built.
    pub names: Names,
    /// Link rules applied to every batch, if any.
    pub rules: Option<Arc<LinkRules>>,
    /// Told of every committed batch's changes, if set.
    pub listener: Option<ChangeListener>,
}

impl WriterState {
    /// What a load starting now knows of external keys: all of them, if no item was ever
    /// created.
    fn known_keys(&self) -> KnownKeys {
        if self.next_id == FIRST_ITEM_ID {
            KnownKeys::of_empty_store()
        } else {
            KnownKeys::of_stored_items()
        }
    }
}

/// Called with the changes of each committed batch, in commit order, while the writer is
/// held: it must return quickly (hand the changes to a channel, say).
#[derive(Clone)]
pub struct ChangeListener(Arc<NotifyFn>);

type NotifyFn = dyn Fn(&[Change]) + Send + Sync;

impl ChangeListener {
    pub fn new(notify: impl Fn(&[Change]) + Send + Sync + 'static) -> Self {
        ChangeListener(Arc::new(notify))
    }

    /// Tells the listener `changes`; a batch that recorded none is not told.
    fn notify(&self, changes: &[Change]) {
        if !changes.is_empty() {
            (self.0)(changes)
        }
    }
}

impl std::fmt::Debug for ChangeListener {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChangeListener")
    }
}

impl<E: Engine> Store<E> {
    /// Opens a store over `engine`, declaring the built-in relations if they are new.
    pub fn open(engine: E) -> Result<Self> {
        let snapshot = engine.snapshot();
        let names = Names::load(&snapshot)?;
        let next_id = read_counter(&snapshot, keys::META_NEXT_ID)?.unwrap_or(FIRST_ITEM_ID);
        let next_seq = read_counter(&snapshot, keys::META_NEXT_SEQ)?.unwrap_or(1);
        let format = read_counter(&snapshot, keys::META_FORMAT)?;
        let fresh = names.is_empty() && next_id == FIRST_ITEM_ID;
        drop(snapshot);
        if format.is_some_and(|f| f != FORMAT) || (format.is_none() && !fresh) {
            let found = format.map_or("1 (no format recorded)".to_owned(), |f| f.to_string());
            return Err(StoreError::Format { found, expected: FORMAT });
        }
        let adjacency = Adjacency::load(&engine, FIRST_SEQ, next_id)?;
        let store = Store {
            engine,
            names: RwLock::new(Arc::new(names.clone())),
            writer: Mutex::new(WriterState {
                next_id,
                next_seq,
                batch_seq: FIRST_SEQ,
                names,
                rules: None,
                listener: None,
            }),
            adjacency: RwLock::new(adjacency),
            visible: RwLock::new(FIRST_SEQ),
        };
        if format.is_none() {
            let mut batch = WriteBatch::new();
            batch.put(Cf::Meta, keys::META_FORMAT, &FORMAT.to_be_bytes());
            store.commit(&mut store.lock_writer(), batch, &[])?;
        }
        for relation in relation::builtin() {
            store.declare_relation(&relation)?;
        }
        Ok(store)
    }

    pub fn engine(&self) -> &E {
        &self.engine
    }

    /// Gives the engine back, e.g. to close and reopen it.
    pub fn into_engine(self) -> E {
        self.engine
    }

    /// The interned names as of now.
    pub fn names(&self) -> Arc<Names> {
        Arc::clone(&self.names.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Declares a relation (idempotent); an existing one with another orientation is an error.
    pub fn declare_relation(&self, relation: &Relation) -> Result<RelId> {
        let mut writer = self.lock_writer();
        let mut batch = WriteBatch::new();
        let id = writer.names.declare_relation(relation, &mut batch)?;
        if !batch.is_empty() {
            self.commit(&mut writer, batch, &[])?;
        }
        Ok(id)
    }

    /// Links every later batch by `rules`: the relations they declare are declared, and each
    /// batch derives the edges of the items it changes and of the items that reference them.
    /// Items stored before are linked when they or their targets next change, or all at once
    /// by [`Store::relink`] (see [`Store::linked_by_current_rules`]). Rules other than the
    /// ones the stored items were linked by make the store forget those: from the first batch
    /// on, its items are linked by two sets of rules, and only a relink makes them one again.
    pub fn set_rules(&self, rules: RuleSet) -> Result<()> {
        for relation in &rules.relations {
            self.declare_relation(relation)?;
        }
        let link = Arc::new(LinkRules::new(rules));
        let mut writer = self.lock_writer();
        let mut batch = WriteBatch::new();
        if writer.next_id == FIRST_ITEM_ID {
            // Every item to come is linked by these rules.
            batch.put(Cf::Meta, keys::META_RULES_FINGERPRINT, &link.fingerprint.to_be_bytes());
            link.mark_items_linked();
        } else if self.holds_fingerprint(link.fingerprint)? {
            link.mark_items_linked();
        } else {
            batch.delete(Cf::Meta, keys::META_RULES_FINGERPRINT);
        }
        if !batch.is_empty() {
            self.commit(&mut writer, batch, &[])?;
        }
        writer.rules = Some(link);
        Ok(())
    }

    /// From now on, `listener` is told the changes of every committed batch (replacing any
    /// listener set before).
    pub fn set_change_listener(&self, listener: ChangeListener) {
        self.lock_writer().listener = Some(listener);
    }

    /// Applies `ops` as one atomic batch at time `at`, with changes attributed to `source`.
    ///
    /// Either every operation lands or none does: an invalid operation fails the whole batch
    /// with its index, and the store is left as it was.
    pub fn apply(&self, ops: &[Op], at: Timestamp, source: &str) -> Result<Outcome> {
        let mut writer = self.lock_writer();
        let snapshot = self.engine.snapshot();
        let adjacency = self.adjacency();
        let mut known = writer.known_keys();
        let built =
            BatchWriter::new(&snapshot, &adjacency, &mut writer, &mut known, Scratch::default(), at, source).run(ops);
        drop(adjacency);
        drop(snapshot);
        match built {
            Ok(built) => {
                self.commit(&mut writer, built.batch, &built.edge_changes)?;
                if let Some(listener) = &writer.listener {
                    listener.notify(&built.feed);
                }
                Ok(built.outcome)
            }
            Err(err) => {
                self.rollback(&mut writer)?;
                Err(err)
            }
        }
    }

    /// Loads `batches` in order, each as one atomic batch at its time, with changes attributed
    /// to `source`: what [`Store::apply`] does for each, faster. Each batch is built while the
    /// one before it is written, on a second thread, so a load takes about the longer of the
    /// two instead of their sum. `landed` is told each batch's index and outcome once it is
    /// written (readable), in order. The first batch that fails stops the load: every batch
    /// before it has landed, none after it.
    ///
    /// Batches are written without the engine's log and flushed once at the end: the load is
    /// durable when this returns, failed or not. A crash during it leaves the store as it was
    /// after one of its batches (never with part of one), and loading the same batches again
    /// finishes it, since an upsert that changes nothing writes nothing.
    pub fn apply_all<B: AsRef<[Op]>>(
        &self,
        batches: impl IntoIterator<Item = (B, Timestamp)>,
        source: &str,
        mut landed: impl FnMut(usize, Outcome),
    ) -> Result<()> {
        let mut writer = self.lock_writer();
        let listener = writer.listener.clone();
        let mut known = writer.known_keys();
        let mut scratch = Scratch::default();
        let loaded = std::thread::scope(|scope| {
            let (to_write, writing) = std::sync::mpsc::channel::<(Staged, Vec<Change>)>();
            let (to_report, written) = std::sync::mpsc::channel::<Result<()>>();
            scope.spawn(move || {
                for (staged, feed) in writing {
                    let result = self.publish(&staged, Logging::UntilFlushed);
                    // Let go of it before reporting: the builder fills the batch's buffers again
                    // (see `Scratch::recycle`).
                    drop(staged);
                    if let (Ok(()), Some(listener)) = (&result, &listener) {
                        listener.notify(&feed);
                    }
                    let failed = result.is_err();
                    if to_report.send(result).is_err() || failed {
                        break;
                    }
                }
            });
            let mut in_flight: Option<InFlight> = None;
            // Returns the landed batch, for its buffers (the writing thread let go of it
            // before reporting).
            let mut wait_for_in_flight = |writer: &mut WriterState, in_flight: &mut Option<InFlight>| {
                let Some(batch) = in_flight.take() else { return Ok(None) };
                match written.recv().expect("the writing thread reports every batch") {
                    Ok(()) => {
                        landed(batch.index, batch.outcome);
                        Ok(Arc::into_inner(batch.batch).map(Unwritten::into_batch))
                    }
                    Err(err) => {
                        self.unstage(writer, &batch.edge_changes, writer.batch_seq)?;
                        Err(err)
                    }
                }
            };
            for (index, (ops, at)) in batches.into_iter().enumerate() {
                let built = {
                    let snapshot = self.engine.snapshot();
                    let view = Overlaid::new(&snapshot, in_flight.as_ref().map(|f| &*f.batch));
                    let adjacency = self.adjacency();
                    let scratch = std::mem::take(&mut scratch);
                    BatchWriter::new(&view, &adjacency, &mut writer, &mut known, scratch, at, source).run(ops.as_ref())
                };
                // The previous batch must land before this one may follow it.
                let landed_batch = wait_for_in_flight(&mut writer, &mut in_flight)?;
                let mut built = match built {
                    Ok(built) => built,
                    Err(err) => {
                        self.rollback(&mut writer)?;
                        return Err(err);
                    }
                };
                scratch = std::mem::take(&mut built.scratch);
                if let Some(written) = landed_batch {
                    scratch.recycle(written);
                }
                let staged = self.stage(&mut writer, built.batch, &built.edge_changes);
                let batch = Arc::clone(&staged.batch);
                in_flight = Some(InFlight { index, batch, edge_changes: built.edge_changes, outcome: built.outcome });
                to_write.send((staged, built.feed)).expect("the writing thread runs until the last batch");
            }
            wait_for_in_flight(&mut writer, &mut in_flight).map(drop)
        });
        // Still holding the writer: no logged batch may be written before the flush.
        let flushed = self.flush();
        loaded.and(flushed)
    }

    /// The sequence of the last replication-stream message applied to this store, if it is
    /// fed by one: where a replica (or one started from a checkpoint of it) resumes.
    pub fn stream_position(&self) -> Result<Option<u64>> {
        read_counter(&self.engine.snapshot(), keys::META_STREAM_POSITION)
    }

    /// Records that every stream message up to `sequence` has been applied. Written after the
    /// message's batch: a crash in between replays that message, and batches are idempotent.
    pub fn set_stream_position(&self, sequence: u64) -> Result<()> {
        let mut writer = self.lock_writer();
        let mut batch = WriteBatch::new();
        batch.put(Cf::Meta, keys::META_STREAM_POSITION, &sequence.to_be_bytes());
        self.commit(&mut writer, batch, &[])
    }

    /// Runs `f` while no batch is written: what it reads of the engine (a copy of it, say) and
    /// the stream position are of the same moment. Keep `f` short: writers wait for it.
    pub fn between_writes<T>(&self, f: impl FnOnce(&Self) -> T) -> T {
        let _writer = self.lock_writer();
        f(self)
    }

    /// A consistent view for queries.
    pub fn read(&self) -> crate::query::Reader<'_, E> {
        let visible = self.visible.read().unwrap_or_else(|e| e.into_inner());
        let snapshot = self.engine.snapshot();
        let seq = *visible;
        drop(visible);
        crate::query::Reader::new(self, snapshot, self.names(), seq)
    }

    /// A consistent view of the graph as it was at `at`: items and edges alive then (see
    /// [`crate::query::Reader::as_of`]).
    pub fn read_as_of(&self, at: Timestamp) -> crate::query::Reader<'_, E> {
        self.read().as_of(at)
    }

    /// Edges held, live and tombstoned (purged ones are gone), as the adjacency counts them.
    pub fn edge_count(&self) -> usize {
        self.adjacency().len() / 2
    }

    pub(crate) fn adjacency(&self) -> std::sync::RwLockReadGuard<'_, Adjacency> {
        self.adjacency.read().unwrap_or_else(|e| e.into_inner())
    }

    pub fn flush(&self) -> Result<()> {
        Ok(self.engine.flush()?)
    }

    pub(crate) fn lock_writer(&self) -> MutexGuard<'_, WriterState> {
        self.writer.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Writes `batch` with the writer's counters and makes it visible, adjacency `changes` and
    /// newly interned names included.
    pub(crate) fn commit(&self, writer: &mut WriterState, batch: WriteBatch, changes: &[EdgeChange]) -> Result<()> {
        let staged = self.stage(writer, batch, changes);
        if let Err(err) = self.publish(&staged, Logging::Logged) {
            self.unstage(writer, changes, staged.seq)?;
            return Err(err);
        }
        Ok(())
    }

    /// Readies a built batch for writing: the writer's counters join it, its operations are
    /// left to be sorted by the first thread that reads them, and its edges are staged in the
    /// adjacency under the next batch sequence (invisible to readers until it is published).
    /// The writer moves past it.
    fn stage(&self, writer: &mut WriterState, mut batch: WriteBatch, changes: &[EdgeChange]) -> Staged {
        batch.put(Cf::Meta, keys::META_NEXT_ID, &writer.next_id.to_be_bytes());
        batch.put(Cf::Meta, keys::META_NEXT_SEQ, &writer.next_seq.to_be_bytes());
        let seq = writer.batch_seq + 1;
        {
            // Every item whose record the batch writes: what readers remember of it is stale.
            let ops = batch.ops();
            let items = ops.iter().filter(|op| op.cf == Cf::Items).filter_map(|op| keys::decode_item(op.key).ok());
            let mut items = items.peekable();
            if !changes.is_empty() || items.peek().is_some() {
                let mut adjacency = self.adjacency.write().unwrap_or_else(|e| e.into_inner());
                adjacency.stage(changes, seq);
                adjacency.liveness.changed(items, seq);
            }
        }
        writer.batch_seq = seq;
        let published = self.names.read().unwrap_or_else(|e| e.into_inner()).len();
        let names = (published != writer.names.len()).then(|| Arc::new(writer.names.clone()));
        Staged { batch: Arc::new(Unwritten::new(batch)), seq, names }
    }

    /// Writes a staged batch and makes it visible with its names.
    fn publish(&self, staged: &Staged, logging: Logging) -> Result<()> {
        // Sorted before readers are held off.
        let batch = staged.batch.sorted();
        let mut visible = self.visible.write().unwrap_or_else(|e| e.into_inner());
        match logging {
            Logging::Logged => self.engine.write(batch)?,
            Logging::UntilFlushed => self.engine.write_unlogged(batch)?,
        }
        if let Some(names) = &staged.names {
            // Names first: a reader that sees the batch must be able to name its kinds.
            *self.names.write().unwrap_or_else(|e| e.into_inner()) = Arc::clone(names);
        }
        *visible = staged.seq;
        Ok(())
    }

    /// Takes back the adjacency changes of a batch staged as `seq` that could not be written,
    /// and everything the writer moved past since the last written batch.
    fn unstage(&self, writer: &mut WriterState, changes: &[EdgeChange], seq: u64) -> Result<()> {
        let mut adjacency = self.adjacency.write().unwrap_or_else(|e| e.into_inner());
        if changes.iter().any(|c| c.kind == ChangeKind::Removed) {
            // Removals cannot be staged back: rebuild from what is on disk.
            *adjacency = Adjacency::load(&self.engine, seq - 1, writer.next_id)?;
        } else {
            adjacency.unstage(changes, seq);
        }
        drop(adjacency);
        writer.batch_seq = seq - 1;
        self.rollback(writer)
    }

    /// Forgets whatever a failed batch staged: counters and names come back from disk.
    pub(crate) fn rollback(&self, writer: &mut WriterState) -> Result<()> {
        let snapshot = self.engine.snapshot();
        writer.next_id = read_counter(&snapshot, keys::META_NEXT_ID)?.unwrap_or(FIRST_ITEM_ID);
        writer.next_seq = read_counter(&snapshot, keys::META_NEXT_SEQ)?.unwrap_or(1);
        writer.names = (**self.names.read().unwrap_or_else(|e| e.into_inner())).clone();
        if let Some(rules) = &writer.rules {
            rules.forget_plans();
        }
        Ok(())
    }
}

/// Whether a batch is durable once written, or once the load writing it flushes the engine
/// (see [`Engine::write_unlogged`]).
#[derive(Debug, Clone, Copy)]
enum Logging {
    Logged,
    UntilFlushed,
}

/// A built batch ready to be written (see [`Store::stage`]).
struct Staged {
    batch: Arc<Unwritten>,
    /// The batch sequence readers see once it is written.
    seq: u64,
    /// The writer's names, when the batch interned new ones.
    names: Option<Arc<Names>>,
}

/// The batch [`Store::apply_all`] is writing, with what it needs to report it or take it back.
struct InFlight {
    index: usize,
    batch: Arc<Unwritten>,
    edge_changes: Vec<EdgeChange>,
    outcome: Outcome,
}

/// The format of the store's keys and values, recorded when a store is created; a store in
/// another format is refused at open. 1: edge values spelt out their provenance; 2: interned;
/// 3: RocksDB keeps the edge copies of an item and direction under one key (`graphd-rocks`).
pub const FORMAT: u64 = 3;

/// The sequence readers start at: entries loaded at open are visible to all of them.
const FIRST_SEQ: u64 = 1;

/// The id of a store's first item.
const FIRST_ITEM_ID: u64 = 1;

fn read_counter(snapshot: &impl Snapshot, key: &[u8]) -> Result<Option<u64>> {
    match snapshot.get(Cf::Meta, key)? {
        None => Ok(None),
        Some(bytes) => {
            let array: [u8; 8] = bytes
                .as_slice()
                .try_into()
                .map_err(|_| StoreError::Corrupt(format!("counter {:?}", String::from_utf8_lossy(key))))?;
            Ok(Some(u64::from_be_bytes(array)))
        }
    }
}
