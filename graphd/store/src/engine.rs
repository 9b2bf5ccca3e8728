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
        // Sorted as (column family, first eight key bytes, position) integers, with whole keys
        // compared only where the first eight bytes agree: several times faster than moving
        // the operations around and comparing whole keys, which share long prefixes.
        let head = |key: &[u8]| {
            let mut bytes = [0u8; 8];
            let n = key.len().min(8);
            bytes[..n].copy_from_slice(&key[..n]);
            u64::from_be_bytes(bytes)
        };
        let mut order: Vec<(usize, u64, usize)> =
            self.ops.iter().enumerate().map(|(i, op)| (op.cf().index(), head(op.key()), i)).collect();
        order.sort_unstable_by(|a, b| {
            (a.0, a.1).cmp(&(b.0, b.1)).then_with(|| self.ops[a.2].key().cmp(self.ops[b.2].key())).then(a.2.cmp(&b.2))
        });
        let mut ops: Vec<Option<WriteOp>> = std::mem::take(&mut self.ops).into_iter().map(Some).collect();
        self.ops = order.iter().map(|&(.., i)| ops[i].take().expect("each position once")).collect();
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
