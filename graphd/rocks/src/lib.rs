//! The RocksDB engine of graphd: one database, one column family per [`Cf`].
//!
//! This is the only crate that depends on RocksDB. It maps the engine trait of `graphd-store`
//! onto RocksDB snapshots, bounded iterators and write batches, and sets the options that make
//! graphd's key shapes cheap (bloom filters for point lookups, a fixed 8-byte prefix for the
//! per-item edge and change scans, LZ4 everywhere). The edge column families are stored
//! grouped, one key per item (see [`groups`]).

mod batch;
mod groups;
mod options;

use batch::BatchEncoder;
use graphd_store::engine::{scan_prefix_by_prefix, scan_start, within, Engine, EngineError, Snapshot, WriteBatch};
use graphd_store::Cf;
use rocksdb::{ColumnFamily, ReadOptions, SnapshotWithThreadMode, WriteOptions, DB};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};

pub use options::RocksOptions;

/// Why a database could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("data dir {path} is in use by another graphd process (RocksDB holds its LOCK file); stop it or use another --data-dir")]
    Locked { path: PathBuf },
    #[error("cannot open data dir {path}: {source}")]
    Rocks { path: PathBuf, source: rocksdb::Error },
    #[error("cannot open data dir {path} for reading: the process writing it flushed or compacted during each of {attempts} attempts; try again, or query that process with --addr")]
    Busy { path: PathBuf, attempts: u32 },
    #[error("cannot create data dir {path}: {source}")]
    Create { path: PathBuf, source: std::io::Error },
    #[error("cannot use data dir {path}: this RocksDB encodes write batches in {reason}")]
    Encoding { path: PathBuf, reason: String },
}

/// A RocksDB database holding a graphd store.
pub struct RocksEngine {
    db: DB,
    path: PathBuf,
    write_options: WriteOptions,
    /// For loads: no write-ahead log, durable at the flush that ends the load.
    unlogged_options: WriteOptions,
    encoder: BatchEncoder,
    /// The last batch written, encoded: one buffer for every batch, which a load's batches
    /// (of several MiB each) reuse instead of taking fresh memory.
    encoded: Mutex<Vec<u8>>,
}

impl std::fmt::Debug for RocksEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksEngine").field("path", &self.path).finish_non_exhaustive()
    }
}

impl RocksEngine {
    /// Opens (creating if needed) the database in `path`.
    pub fn open(path: impl AsRef<Path>, options: &RocksOptions) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        std::fs::create_dir_all(&path).map_err(|source| OpenError::Create { path: path.clone(), source })?;
        let (db_options, descriptors) = options::build(options);
        let db = DB::open_cf_descriptors(&db_options, &path, descriptors).map_err(|source| {
            if source.to_string().contains("LOCK") {
                OpenError::Locked { path: path.clone() }
            } else {
                OpenError::Rocks { path: path.clone(), source }
            }
        })?;
        for cf in Cf::ALL {
            let handle = db.cf_handle(cf.name()).expect("every column family is created on open");
            db.set_options_cf(handle, options::SET_AFTER_OPEN)
                .map_err(|source| OpenError::Rocks { path: path.clone(), source })?;
        }
        let mut write_options = WriteOptions::default();
        write_options.set_sync(options.sync_writes);
        RocksEngine::with(db, path, write_options)
    }

    fn with(db: DB, path: PathBuf, write_options: WriteOptions) -> Result<Self, OpenError> {
        let encoder = BatchEncoder::new(&db).map_err(|reason| OpenError::Encoding { path: path.clone(), reason })?;
        let mut unlogged_options = WriteOptions::default();
        unlogged_options.disable_wal(true);
        Ok(RocksEngine { db, path, write_options, unlogged_options, encoder, encoded: Mutex::new(Vec::new()) })
    }

    /// Writes `batch` with `options`, through RocksDB's own batch format.
    fn write_with(&self, batch: &WriteBatch, options: &WriteOptions) -> Result<(), EngineError> {
        // The store sorts its batches: memtable inserts in key order reuse the skip list's
        // search path.
        let mut encoded = self.encoded.lock().unwrap_or_else(PoisonError::into_inner);
        self.encoder.encode(batch, &mut encoded);
        let rocks_batch = rocksdb::WriteBatch::from_data(&encoded);
        drop(encoded);
        self.db.write_opt(rocks_batch, options).map_err(engine_error)
    }

    /// Opens the database in `path` for reading only, as it is now: works while another
    /// process holds it open for writing (every write through this engine fails).
    ///
    /// The writer keeps flushing and compacting meanwhile, and an open reads the manifest
    /// (which table files and logs hold the data) before it reads those files. An open that
    /// lost either of two races is tried again, for up to [`READ_ONLY_OPEN_PATIENCE`]:
    /// - a file the manifest names was deleted before the open reached it (every table file is
    ///   opened at once, so once the open succeeds an unlinked file stays readable);
    /// - a flush finished in between: its new table file is not in the manifest that was read
    ///   and the log it came from is already gone, so the open would silently miss those
    ///   writes. An open is kept only if the manifest did not change while it ran.
    pub fn open_read_only(path: impl AsRef<Path>, options: &RocksOptions) -> Result<Self, OpenError> {
        let path = path.as_ref().to_path_buf();
        let started = std::time::Instant::now();
        let mut attempts = 0;
        while attempts == 0 || started.elapsed() < READ_ONLY_OPEN_PATIENCE {
            attempts += 1;
            let manifest_before = manifest_state(&path);
            let (mut db_options, descriptors) = options::build(options);
            db_options.set_max_open_files(-1);
            match DB::open_cf_descriptors_read_only(&db_options, &path, descriptors, false) {
                Ok(db) if manifest_before.is_some() && manifest_state(&path) == manifest_before => {
                    return RocksEngine::with(db, path, WriteOptions::default())
                }
                Ok(_) => {}
                Err(source) if lost_a_file_to_the_writer(&source) => {}
                Err(source) => return Err(OpenError::Rocks { path, source }),
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        Err(OpenError::Busy { path, attempts })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes the database holds: SST files and memtables, over every column family.
    pub fn size_bytes(&self) -> u64 {
        Cf::ALL
            .iter()
            .map(|&cf| {
                self.int_property(cf, "rocksdb.total-sst-files-size")
                    + self.int_property(cf, "rocksdb.size-all-mem-tables")
            })
            .sum()
    }

    /// Writes a consistent copy of the database, as it is now, to `dir` (which must not exist
    /// yet): a database graphd opens like any other. Files are hard-linked where `dir` is on the
    /// same file system, copied otherwise; writes go on meanwhile.
    pub fn checkpoint(&self, dir: &Path) -> Result<(), rocksdb::Error> {
        rocksdb::checkpoint::Checkpoint::new(&self.db)?.create_checkpoint(dir)
    }

    /// RocksDB's estimate of the keys in `cf`: cheap to ask, close after compaction.
    pub fn estimated_keys(&self, cf: Cf) -> u64 {
        self.int_property(cf, "rocksdb.estimate-num-keys")
    }

    /// Waits until no flush or compaction is running or due: the store at rest, as a server's
    /// is between bursts of writes, rather than still compacting what a bulk load wrote.
    pub fn wait_for_compactions(&self) -> Result<(), rocksdb::Error> {
        self.db.wait_for_compact(&rocksdb::WaitForCompactOptions::default())
    }

    fn int_property(&self, cf: Cf, name: &str) -> u64 {
        self.db.property_int_value_cf(self.cf(cf), name).ok().flatten().unwrap_or(0)
    }

    fn cf(&self, cf: Cf) -> &ColumnFamily {
        self.db.cf_handle(cf.name()).expect("every column family is created on open")
    }
}

/// How long a read-only open keeps trying while the writer flushes or compacts under it.
pub const READ_ONLY_OPEN_PATIENCE: std::time::Duration = std::time::Duration::from_secs(5);

/// Which manifest the database's `CURRENT` file names, and how long that manifest is: every
/// flush and compaction appends to it, so an unchanged state means none finished in between.
/// `None` when there is no database to read.
fn manifest_state(path: &Path) -> Option<(String, u64)> {
    let current = std::fs::read_to_string(path.join("CURRENT")).ok()?;
    let name = current.trim().to_string();
    let len = std::fs::metadata(path.join(&name)).ok()?.len();
    Some((name, len))
}

/// Whether a read-only open failed because a file it had seen was deleted by the process
/// writing the database (a flush or compaction finished between two of its reads).
fn lost_a_file_to_the_writer(err: &rocksdb::Error) -> bool {
    err.to_string().contains("No such file or directory")
}

fn engine_error(err: rocksdb::Error) -> EngineError {
    EngineError(err.into_string())
}

/// A RocksDB snapshot with the handles to read through it.
pub struct RocksSnapshot<'a> {
    engine: &'a RocksEngine,
    snapshot: SnapshotWithThreadMode<'a, DB>,
}

impl std::fmt::Debug for RocksSnapshot<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RocksSnapshot").finish_non_exhaustive()
    }
}

/// The smallest key greater than every key starting with `prefix`, if there is one.
fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < u8::MAX {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}

impl RocksSnapshot<'_> {
    /// The entries of groups starting with `prefix` (the one group of a prefix as long as a
    /// group's key), as keys and values, from `start` on.
    fn scan_groups(
        &self,
        cf: Cf,
        prefix: &[u8],
        start: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let mut key = Vec::new();
        if prefix.len() >= groups::GROUP_LEN {
            let group = groups::split(prefix).0;
            let value = self.snapshot.get_pinned_cf(self.engine.cf(cf), group).map_err(engine_error)?;
            if let Some(value) = value {
                visit_entries(&mut key, group, &value, prefix, start, visit)?;
            }
            return Ok(());
        }
        let mut iter = self.snapshot.raw_iterator_cf_opt(self.engine.cf(cf), scan_options(cf, prefix));
        // The group of `start`: its entries before `start` are skipped one by one.
        iter.seek(groups::split(scan_start(prefix, start)).0);
        while let (Some(group), Some(value)) = (iter.key(), iter.value()) {
            if !within(group, prefix) || !visit_entries(&mut key, group, value, prefix, start, visit)? {
                break;
            }
            iter.next();
        }
        iter.status().map_err(engine_error)
    }
}

/// Calls `visit` with each entry of `group` (its value `value`) whose key starts with `prefix`
/// and is not before `start`, in order; `key` is the buffer the keys are made in. Whether
/// `visit` asked for more.
fn visit_entries(
    key: &mut Vec<u8>,
    group: &[u8],
    value: &[u8],
    prefix: &[u8],
    start: Option<&[u8]>,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<bool, EngineError> {
    key.clear();
    key.extend_from_slice(group);
    // A group within the prefix holds only keys within it: no entry need be compared.
    let all_in_prefix = within(group, prefix);
    for entry in groups::entries(value) {
        let entry = entry.map_err(|_| malformed_group(group))?;
        key.truncate(group.len());
        key.extend_from_slice(entry.rest);
        if !all_in_prefix && !within(key, prefix) {
            // Entries are in key order: past the prefix, none after is in it.
            if key.as_slice() > prefix {
                break;
            }
            continue;
        }
        if start.is_some_and(|start| key.as_slice() < start) {
            continue;
        }
        let value = entry.value.ok_or_else(|| malformed_group(group))?;
        if !visit(key, value) {
            return Ok(false);
        }
    }
    Ok(true)
}

fn malformed_group(group: &[u8]) -> EngineError {
    EngineError(format!("corrupt edge group {group:02x?}: not a sequence of entries"))
}

/// Read options for a scan of `prefix` in `cf`.
fn scan_options(cf: Cf, prefix: &[u8]) -> ReadOptions {
    let mut read = ReadOptions::default();
    if let Some(end) = prefix_end(prefix) {
        read.set_iterate_upper_bound(end);
    }
    if options::scan_prefix_len(cf).is_some_and(|len| prefix.len() < len) {
        // A scan wider than the prefix blooms' must not trust them.
        read.set_total_order_seek(true);
    }
    if prefix.is_empty() {
        // A whole column family (rebuilding the adjacency at open): read ahead, and keep
        // the block cache for the hot set.
        read.fill_cache(false);
        read.set_readahead_size(4 << 20);
    }
    read
}

impl Snapshot for RocksSnapshot<'_> {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError> {
        if !groups::is_grouped(cf) {
            return self.snapshot.get_cf(self.engine.cf(cf), key).map_err(engine_error);
        }
        let (group, rest) = groups::split(key);
        let Some(value) = self.snapshot.get_pinned_cf(self.engine.cf(cf), group).map_err(engine_error)? else {
            return Ok(None);
        };
        let found = groups::find(&value, rest).map_err(|_| malformed_group(group))?;
        Ok(found.map(<[u8]>::to_vec))
    }

    fn scan(
        &self,
        cf: Cf,
        prefix: &[u8],
        start: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        if groups::is_grouped(cf) {
            return self.scan_groups(cf, prefix, start, visit);
        }
        let mut iter = self.snapshot.raw_iterator_cf_opt(self.engine.cf(cf), scan_options(cf, prefix));
        iter.seek(scan_start(prefix, start));
        while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
            if !within(key, prefix) || !visit(key, value) {
                break;
            }
            iter.next();
        }
        iter.status().map_err(engine_error)
    }

    fn scan_prefixes(
        &self,
        cf: Cf,
        prefixes: &mut dyn Iterator<Item = &[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        if groups::is_grouped(cf) {
            // An item's group is one key: a read each.
            return scan_prefix_by_prefix(self, cf, prefixes, visit);
        }
        // One cursor over the whole column family, sought to each prefix: creating an
        // iterator costs more than a seek, and most prefixes asked this way have no keys.
        // None at all when no prefix is asked.
        let prefixes: Vec<&[u8]> = prefixes.collect();
        if prefixes.is_empty() {
            return Ok(());
        }
        let mut read = ReadOptions::default();
        // Each seek skips the files whose prefix bloom lacks its prefix, unless a prefix is
        // shorter than the blooms'.
        let prefix_seek = options::scan_prefix_len(cf).is_some_and(|len| prefixes.iter().all(|p| p.len() >= len));
        read.set_total_order_seek(!prefix_seek);
        let mut iter = self.snapshot.raw_iterator_cf_opt(self.engine.cf(cf), read);
        for prefix in prefixes {
            iter.seek(prefix);
            while let (Some(key), Some(value)) = (iter.key(), iter.value()) {
                if !within(key, prefix) {
                    break;
                }
                if !visit(key, value) {
                    return iter.status().map_err(engine_error);
                }
                iter.next();
            }
            iter.status().map_err(engine_error)?;
        }
        Ok(())
    }
}

impl Engine for RocksEngine {
    type Snapshot<'a> = RocksSnapshot<'a>;

    fn snapshot(&self) -> RocksSnapshot<'_> {
        RocksSnapshot { engine: self, snapshot: self.db.snapshot() }
    }

    fn write(&self, batch: &WriteBatch) -> Result<(), EngineError> {
        self.write_with(batch, &self.write_options)
    }

    /// Unlogged batches are as atomic as logged ones because every flush writes all column
    /// families at one point of the write sequence (see `options::build`).
    fn write_unlogged(&self, batch: &WriteBatch) -> Result<(), EngineError> {
        self.write_with(batch, &self.unlogged_options)
    }

    fn flush(&self) -> Result<(), EngineError> {
        let handles: Vec<&ColumnFamily> = Cf::ALL.iter().map(|cf| self.cf(*cf)).collect();
        self.db.flush_cfs_opt(&handles, &rocksdb::FlushOptions::default()).map_err(engine_error)?;
        self.db.flush_wal(true).map_err(engine_error)
    }

    fn disk_size(&self) -> u64 {
        dir_size(&self.path)
    }
}

fn dir_size(path: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(path) else {
        return 0;
    };
    entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    struct RocksHarness {
        dirs: Vec<tempfile::TempDir>,
    }

    impl graphd_store::conformance::Harness for RocksHarness {
        type E = RocksEngine;

        fn fresh(&mut self) -> RocksEngine {
            let dir = tempfile::tempdir().expect("temp dir");
            let engine = RocksEngine::open(dir.path(), &RocksOptions::default()).expect("open");
            self.dirs.push(dir);
            engine
        }

        fn reopen(&mut self, engine: RocksEngine) -> RocksEngine {
            let path = engine.path().to_path_buf();
            drop(engine);
            RocksEngine::open(&path, &RocksOptions::default()).expect("reopen")
        }
    }

    graphd_store::conformance_tests!(RocksHarness { dirs: Vec::new() });

    #[test]
    fn a_second_open_of_the_same_dir_says_it_is_locked() {
        let dir = tempfile::tempdir().unwrap();
        let _first = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
        let err = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap_err();
        assert!(matches!(err, OpenError::Locked { .. }), "{err}");
        assert!(err.to_string().contains("in use by another graphd process"));
    }

    #[test]
    fn waiting_for_compactions_returns_with_level_0_compacted() {
        let dir = tempfile::tempdir().unwrap();
        let engine = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
        // Four overlapping files in level 0 make a compaction due with the last one, large
        // enough that it is still running when a wait that did not wait returns.
        for round in 0..4u32 {
            let mut batch = WriteBatch::default();
            for key in 0..200_000u32 {
                batch.put(Cf::Items, &key.to_be_bytes(), &round.to_be_bytes());
            }
            engine.write(&batch).unwrap();
            Engine::flush(&engine).unwrap();
        }
        engine.wait_for_compactions().unwrap();
        assert_eq!(engine.int_property(Cf::Items, "rocksdb.num-files-at-level0"), 0);
        assert_eq!(engine.int_property(Cf::Items, "rocksdb.compaction-pending"), 0);
    }

    #[test]
    fn a_read_only_open_works_while_the_writer_compacts() {
        let dir = tempfile::tempdir().unwrap();
        let writer = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
        let stop = std::sync::atomic::AtomicBool::new(false);
        let rounds_written = std::sync::atomic::AtomicU32::new(0);
        // Per open: how many keys the writer had acknowledged before it began and how many it
        // saw, or `None` if it gave up with a clear error because the writer never paused (a
        // flush every 20 ms, far more often than a server's, can outrun every open on a loaded
        // machine).
        let opens: Vec<Result<Option<(u32, u32)>, String>> = std::thread::scope(|scope| {
            scope.spawn(|| {
                // Every flush adds a table file and appends to the manifest; every fourth
                // starts a compaction that deletes the files it merged. Each round's keys are
                // spread over the whole key range, so that its file overlaps every other and
                // compactions really merge (files of disjoint ranges would only be moved down,
                // and their number would grow without bound).
                for round in 0u32.. {
                    if stop.load(std::sync::atomic::Ordering::Relaxed) {
                        break;
                    }
                    let mut batch = WriteBatch::new();
                    for i in 0..200u32 {
                        batch.put(Cf::Items, &[i.to_be_bytes(), round.to_be_bytes()].concat(), &[7; 64]);
                    }
                    writer.write(&batch).unwrap();
                    rounds_written.store(round + 1, std::sync::atomic::Ordering::SeqCst);
                    writer.flush().unwrap();
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            });
            let opens = (0..20)
                .map(|_| {
                    let acknowledged = rounds_written.load(std::sync::atomic::Ordering::SeqCst) * 200;
                    let reader = match RocksEngine::open_read_only(dir.path(), &RocksOptions::default()) {
                        Ok(reader) => reader,
                        Err(OpenError::Busy { .. }) => return Ok(None),
                        Err(other) => return Err(other.to_string()),
                    };
                    let mut count = 0;
                    reader
                        .snapshot()
                        .scan(Cf::Items, b"", None, &mut |_, _| {
                            count += 1;
                            true
                        })
                        .map_err(|e| e.to_string())?;
                    Ok(Some((acknowledged, count)))
                })
                .collect();
            // Stop the writer before any assertion, so a failure cannot leave it running.
            stop.store(true, std::sync::atomic::Ordering::Relaxed);
            opens
        });
        let opened: Vec<(u32, u32)> =
            opens.into_iter().filter_map(|open| open.expect("a read-only open failed")).collect();
        for (acknowledged, seen) in &opened {
            assert!(seen >= acknowledged, "an open missed acknowledged writes: saw {seen} of {acknowledged} keys");
        }
        assert!(opened.iter().any(|&(_, seen)| seen > 0), "no open got through and saw a key");
    }

    /// Groups written by several batches read the same once flushes and compactions have
    /// folded their operands (RocksDB merges them in both, partly and fully), and a group
    /// whose entries were all deleted leaves the files when compacted.
    #[test]
    fn edge_groups_read_the_same_after_flushes_and_compactions() {
        let dir = tempfile::tempdir().unwrap();
        let engine = RocksEngine::open(dir.path(), &RocksOptions::default()).unwrap();
        let key = |near: u64, far: u64| [near.to_be_bytes(), far.to_be_bytes()].concat();
        let rounds = 6u64;
        for round in 0..rounds {
            let mut batch = WriteBatch::new();
            for near in 0..50u64 {
                batch.put(Cf::EdgesOut, &key(near, round), &round.to_be_bytes());
                if near % 2 == 0 && round > 0 {
                    batch.delete(Cf::EdgesOut, &key(near, round - 1));
                }
            }
            engine.write(&batch).unwrap();
            // A file each round: four in level 0 start a compaction.
            Engine::flush(&engine).unwrap();
        }
        let mut emptied = WriteBatch::new();
        for round in 0..rounds {
            emptied.delete(Cf::EdgesOut, &key(49, round));
        }
        engine.write(&emptied).unwrap();
        let expected = |near: u64| -> Vec<(Vec<u8>, Vec<u8>)> {
            let kept = match near {
                49 => 0..0,
                n if n % 2 == 0 => rounds - 1..rounds,
                _ => 0..rounds,
            };
            kept.map(|round| (key(near, round), round.to_be_bytes().to_vec())).collect()
        };
        let read_all = |engine: &RocksEngine| {
            let mut read = Vec::new();
            engine
                .snapshot()
                .scan(Cf::EdgesOut, &[], None, &mut |key, value| {
                    read.push((key.to_vec(), value.to_vec()));
                    true
                })
                .unwrap();
            read
        };
        let all: Vec<_> = (0..50).flat_map(expected).collect();
        assert_eq!(read_all(&engine), all, "before compaction");
        let mut force = rocksdb::CompactOptions::default();
        force.set_bottommost_level_compaction(rocksdb::BottommostLevelCompaction::Force);
        // The first folds each group into one value; the second finds the empty one alone.
        for _ in 0..2 {
            engine.db.compact_range_cf_opt(engine.cf(Cf::EdgesOut), None::<&[u8]>, None::<&[u8]>, &force);
        }
        assert_eq!(read_all(&engine), all, "after compaction");
        let groups: Vec<Box<[u8]>> = engine
            .db
            .iterator_cf(engine.cf(Cf::EdgesOut), rocksdb::IteratorMode::Start)
            .map(|item| item.unwrap().0)
            .collect();
        assert_eq!(groups.len(), 49, "one key per item, none for the emptied one");
        assert!(!groups.iter().any(|group| group[..] == 49u64.to_be_bytes()));
    }

    #[test]
    fn prefix_end_is_the_next_prefix() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(&[1, 0xFF]), Some(vec![2]));
        assert_eq!(prefix_end(&[0xFF, 0xFF]), None);
        assert_eq!(prefix_end(b""), None);
    }
}
