//! The storage engine trait: what graphd needs from a key-value store, and nothing more.
//!
//! An engine offers consistent snapshots for reads and atomic batches for writes. RocksDB is
//! the product (`graphd-rocks`); [`crate::mem::MemEngine`] stands in for tests.

use crate::cf::Cf;

/// A failure inside the engine: I/O, corruption, a lock held by another process.
#[derive(Debug, thiserror::Error)]
#[error("storage engine: {0}")]
pub struct EngineError(pub String);

/// One put or delete inside a [`WriteBatch`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteOp {
    Put { cf: Cf, key: Vec<u8>, value: Vec<u8> },
    Delete { cf: Cf, key: Vec<u8> },
}

impl WriteOp {
    pub fn cf(&self) -> Cf {
        match self {
            WriteOp::Put { cf, .. } | WriteOp::Delete { cf, .. } => *cf,
        }
    }

    pub fn key(&self) -> &[u8] {
        match self {
            WriteOp::Put { key, .. } | WriteOp::Delete { key, .. } => key,
        }
    }

    /// The value put; `None` for a delete.
    pub fn value(&self) -> Option<&[u8]> {
        match self {
            WriteOp::Put { value, .. } => Some(value),
            WriteOp::Delete { .. } => None,
        }
    }
}

/// Writes that land together or not at all.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    ops: Vec<WriteOp>,
}

impl WriteBatch {
    pub fn new() -> Self {
        WriteBatch::default()
    }

    pub fn put(&mut self, cf: Cf, key: Vec<u8>, value: Vec<u8>) {
        self.ops.push(WriteOp::Put { cf, key, value });
    }

    pub fn delete(&mut self, cf: Cf, key: Vec<u8>) {
        self.ops.push(WriteOp::Delete { cf, key });
    }

    /// Makes room for `additional` more operations at once: a load's batch grows to a hundred
    /// thousand, and growing it by doubling copied it over and over.
    pub fn reserve(&mut self, additional: usize) {
        self.ops.reserve(additional);
    }

    pub fn ops(&self) -> &[WriteOp] {
        &self.ops
    }

    pub fn len(&self) -> usize {
        self.ops.len()
    }

    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// Puts the operations in key order (column family, then key), keeping the order of two
    /// on one key: the same writes, cheaper for an engine to insert, and searchable by
    /// [`WriteBatch::of_cf`].
    pub fn sort(&mut self) {
        // Sorted as (column family and the first 23 key bytes, position) integers, with whole
        // keys compared only where those agree: several times faster than moving the
        // operations around and comparing whole keys, which share long prefixes (an item's
        // edges share 10 bytes, a namespace's scope entries more).
        let head = |op: &WriteOp| {
            let mut bytes = [0u8; 24];
            bytes[0] = op.cf().index() as u8;
            let key = op.key();
            let n = key.len().min(23);
            bytes[1..=n].copy_from_slice(&key[..n]);
            let word = |i: usize| u64::from_be_bytes(bytes[i * 8..(i + 1) * 8].try_into().expect("8 bytes"));
            (word(0), word(1), word(2))
        };
        let mut order: Vec<((u64, u64, u64), usize)> = self.ops.iter().map(head).zip(0..).collect();
        let ops = &self.ops;
        let by_key = |a: &((u64, u64, u64), usize), b: &((u64, u64, u64), usize)| {
            a.0.cmp(&b.0).then_with(|| ops[a.1].key().cmp(ops[b.1].key())).then(a.1.cmp(&b.1))
        };
        // On this thread alone: a batch is sorted when a thread first needs it so (see
        // `overlay::Unwritten`), which may be a worker of the thread pool while another waits
        // for it; sorting on the pool could then wait for that very worker.
        order.sort_unstable_by(by_key);
        let mut ops = std::mem::take(&mut self.ops);
        // An empty key does not allocate: a placeholder for each operation moved out.
        let moved = || WriteOp::Delete { cf: Cf::Meta, key: Vec::new() };
        self.ops = order.iter().map(|&(_, i)| std::mem::replace(&mut ops[i], moved())).collect();
    }

    /// In a sorted batch, the operations on `cf`, in key order.
    pub fn of_cf(&self, cf: Cf) -> &[WriteOp] {
        let start = self.ops.partition_point(|op| op.cf().index() < cf.index());
        let end = start + self.ops[start..].partition_point(|op| op.cf() == cf);
        &self.ops[start..end]
    }
}

/// A consistent, read-only view of the engine at one moment, readable from several threads.
pub trait Snapshot: Sync {
    fn get(&self, cf: Cf, key: &[u8]) -> Result<Option<Vec<u8>>, EngineError>;

    /// Calls `visit` with each key starting with `prefix` and greater than or equal to `start`
    /// (the prefix itself when `None`), in key order, until it returns `false`.
    fn scan(
        &self,
        cf: Cf,
        prefix: &[u8],
        start: Option<&[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError>;

    /// Every key with `prefix`, in order.
    fn scan_prefix(
        &self,
        cf: Cf,
        prefix: &[u8],
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        self.scan(cf, prefix, None, visit)
    }

    /// Every key starting with one of `prefixes` (none of which starts another), prefix by
    /// prefix in the order given, until `visit` returns `false`. An engine may read them all
    /// with one cursor: cheaper than one scan each when most prefixes have no keys.
    fn scan_prefixes(
        &self,
        cf: Cf,
        prefixes: &mut dyn Iterator<Item = &[u8]>,
        visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
    ) -> Result<(), EngineError> {
        let mut going = true;
        for prefix in prefixes {
            self.scan_prefix(cf, prefix, &mut |key, value| {
                going = visit(key, value);
                going
            })?;
            if !going {
                break;
            }
        }
        Ok(())
    }
}

/// A key-value engine with the column families of [`Cf`].
pub trait Engine: Send + Sync + 'static {
    type Snapshot<'a>: Snapshot
    where
        Self: 'a;

    fn snapshot(&self) -> Self::Snapshot<'_>;

    /// Applies every operation of `batch` atomically. When this returns `Ok`, the batch survives
    /// a crash of the process.
    fn write(&self, batch: &WriteBatch) -> Result<(), EngineError>;

    /// Flushes memory buffers to disk; called on clean shutdown.
    fn flush(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Bytes the engine occupies on disk (0 for memory engines).
    fn disk_size(&self) -> u64 {
        0
    }
}
