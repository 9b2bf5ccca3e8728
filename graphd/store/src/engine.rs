//! The storage engine trait: what graphd needs from a key-value store, and nothing more.
//!
//! An engine offers consistent snapshots for reads and atomic batches for writes. RocksDB is
//! the product (`graphd-rocks`); [`crate::mem::MemEngine`] stands in for tests.

use crate::cf::Cf;

/// A failure inside the engine: I/O, corruption, a lock held by another process.
#[derive(Debug, thiserror::Error)]
#[error("storage engine: {0}")]
pub struct EngineError(pub String);

/// One put or delete inside a [`WriteBatch`], as read back from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WriteOp<'a> {
    pub cf: Cf,
    pub key: &'a [u8],
    /// The value put; `None` for a delete.
    pub value: Option<&'a [u8]>,
}

/// Where one operation's key and value sit in the batch's buffer.
#[derive(Debug, Clone, Copy)]
struct Span {
    start: usize,
    key_len: u32,
    value_len: u32,
    cf: Cf,
    put: bool,
}

/// Writes that land together or not at all.
///
/// Keys and values are copied into one buffer, back to back: a load's batch holds a hundred
/// thousand operations, and two allocations each (made by one thread, freed by another) were
/// a large part of building and writing it.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    bytes: Vec<u8>,
    spans: Vec<Span>,
}

impl WriteBatch {
    pub fn new() -> Self {
        WriteBatch::default()
    }

    pub fn put(&mut self, cf: Cf, key: &[u8], value: &[u8]) {
        self.put_with(cf, key, |out| out.extend_from_slice(value));
    }

    /// Puts the value `encode` appends to the buffer it is given: no copy of its own.
    pub fn put_with(&mut self, cf: Cf, key: &[u8], encode: impl FnOnce(&mut Vec<u8>)) {
        let start = self.push_key(key);
        encode(&mut self.bytes);
        let value_len = self.bytes.len() - start - key.len();
        self.spans.push(Span { start, key_len: len_u32(key.len()), value_len: len_u32(value_len), cf, put: true });
    }

    pub fn delete(&mut self, cf: Cf, key: &[u8]) {
        let start = self.push_key(key);
        self.spans.push(Span { start, key_len: len_u32(key.len()), value_len: 0, cf, put: false });
    }

    fn push_key(&mut self, key: &[u8]) -> usize {
        let start = self.bytes.len();
        self.bytes.extend_from_slice(key);
        start
    }

    /// Makes room for `ops` more operations of about `bytes` bytes of keys and values in all:
    /// a load's batch grows to a hundred thousand operations, and growing it by doubling
    /// copied it over and over.
    pub fn reserve(&mut self, ops: usize, bytes: usize) {
        self.spans.reserve(ops);
        self.bytes.reserve(bytes);
    }

    pub fn ops(&self) -> Ops<'_> {
        Ops { bytes: &self.bytes, spans: &self.spans }
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// The bytes of all keys and values.
    pub fn data_len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Empties the batch and keeps its buffers: a load fills the same few batches over and
    /// over, where new ones of many megabytes each were memory fresh from the system, which
    /// the builder then paged in.
    pub fn clear(&mut self) {
        self.bytes.clear();
        self.spans.clear();
    }

    /// Puts the operations in key order (column family, then key), keeping the order of two
    /// on one key: the same writes, cheaper for an engine to insert, and searchable by
    /// [`WriteBatch::of_cf`].
    pub fn sort(&mut self) {
        // Sorted as (column family and the first 23 key bytes, position) integers, with whole
        // keys compared only where those agree: several times faster than comparing whole
        // keys, which share long prefixes (an item's edges share 10 bytes, a namespace's scope
        // entries more).
        let ops = self.ops();
        let head = |i: usize| {
            let op = ops.get(i);
            let mut bytes = [0u8; 24];
            bytes[0] = op.cf.index() as u8;
            let n = op.key.len().min(23);
            bytes[1..=n].copy_from_slice(&op.key[..n]);
            let word = |i: usize| u64::from_be_bytes(bytes[i * 8..(i + 1) * 8].try_into().expect("8 bytes"));
            (word(0), word(1), word(2))
        };
        let mut order: Vec<((u64, u64, u64), usize)> = (0..ops.len()).map(|i| (head(i), i)).collect();
        let by_key = |a: &((u64, u64, u64), usize), b: &((u64, u64, u64), usize)| {
            a.0.cmp(&b.0).then_with(|| ops.get(a.1).key.cmp(ops.get(b.1).key)).then(a.1.cmp(&b.1))
        };
        // On this thread alone: a batch is sorted when a thread first needs it so (see
        // `overlay::Unwritten`), which may be a worker of the thread pool while another waits
        // for it; sorting on the pool could then wait for that very worker.
        order.sort_unstable_by(by_key);
        let sorted: Vec<Span> = order.iter().map(|&(_, i)| self.spans[i]).collect();
        // Into the batch's own buffer, which keeps its room for the batch that reuses it.
        self.spans.copy_from_slice(&sorted);
    }

    /// In a sorted batch, the operations on `cf`, in key order.
    pub fn of_cf(&self, cf: Cf) -> Ops<'_> {
        let ops = self.ops();
        let start = ops.partition_point(|op| op.cf.index() < cf.index());
        let rest = ops.slice(start, ops.len());
        rest.slice(0, rest.partition_point(|op| op.cf == cf))
    }
}

fn len_u32(len: usize) -> u32 {
    u32::try_from(len).expect("a key or value of a batch is smaller than 4 GiB")
}

/// Some consecutive operations of a [`WriteBatch`], read in place.
#[derive(Debug, Clone, Copy, Default)]
pub struct Ops<'a> {
    bytes: &'a [u8],
    spans: &'a [Span],
}

impl<'a> Ops<'a> {
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// The `i`th operation; panics past the end, like a slice.
    pub fn get(&self, i: usize) -> WriteOp<'a> {
        self.read(self.spans[i])
    }

    fn read(&self, span: Span) -> WriteOp<'a> {
        let key_end = span.start + span.key_len as usize;
        let value = span.put.then(|| &self.bytes[key_end..key_end + span.value_len as usize]);
        WriteOp { cf: span.cf, key: &self.bytes[span.start..key_end], value }
    }

    pub fn first(&self) -> Option<WriteOp<'a>> {
        (!self.is_empty()).then(|| self.get(0))
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = WriteOp<'a>> + 'a {
        let ops = *self;
        (0..ops.len()).map(move |i| ops.get(i))
    }

    /// The operations from `start` up to `end`.
    pub fn slice(&self, start: usize, end: usize) -> Ops<'a> {
        Ops { bytes: self.bytes, spans: &self.spans[start..end] }
    }

    /// The index of the first operation for which `pred` is false, in operations ordered so
    /// that it is true for a prefix of them (as `slice::partition_point`).
    pub fn partition_point(&self, mut pred: impl FnMut(WriteOp<'a>) -> bool) -> usize {
        self.spans.partition_point(|span| pred(self.read(*span)))
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
        scan_prefix_by_prefix(self, cf, prefixes, visit)
    }
}

/// Where a scan of the keys with `prefix` from `start` (see [`Snapshot::scan`]) begins: at
/// `start` when it is past the prefix itself.
pub fn scan_start<'a>(prefix: &'a [u8], start: Option<&'a [u8]>) -> &'a [u8] {
    start.filter(|s| *s > prefix).unwrap_or(prefix)
}

/// Whether `key` is within a scan of `prefix`: with no comparison for the empty prefix of a
/// full scan. `starts_with` still calls `memcmp` for it, and with the empty slice's dangling
/// pointer glibc's AVX-512 `memcmp` took 75 ns a call here, against 2 ns otherwise: half of
/// the adjacency's rebuild at open, over millions of edge entries.
pub fn within(key: &[u8], prefix: &[u8]) -> bool {
    prefix.is_empty() || key.starts_with(prefix)
}

/// [`Snapshot::scan_prefixes`] as one [`Snapshot::scan_prefix`] per prefix: the default, and
/// what an engine whose cursor gains nothing over a read per prefix does.
pub fn scan_prefix_by_prefix<S: Snapshot + ?Sized>(
    snapshot: &S,
    cf: Cf,
    prefixes: &mut dyn Iterator<Item = &[u8]>,
    visit: &mut dyn FnMut(&[u8], &[u8]) -> bool,
) -> Result<(), EngineError> {
    let mut going = true;
    for prefix in prefixes {
        snapshot.scan_prefix(cf, prefix, &mut |key, value| {
            going = visit(key, value);
            going
        })?;
        if !going {
            break;
        }
    }
    Ok(())
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

    /// Applies every operation of `batch` atomically without logging it first: readable at
    /// once, durable once [`Engine::flush`] returns. A crash before that leaves the engine as
    /// it was after one of the batches written before the crash, never with part of one.
    /// Meant for loads, which write many batches and flush once at their end; nothing may be
    /// written with [`Engine::write`] between the first unlogged batch and that flush.
    fn write_unlogged(&self, batch: &WriteBatch) -> Result<(), EngineError> {
        self.write(batch)
    }

    /// Flushes memory buffers to disk: after a load, and on clean shutdown.
    fn flush(&self) -> Result<(), EngineError> {
        Ok(())
    }

    /// Bytes the engine occupies on disk (0 for memory engines).
    fn disk_size(&self) -> u64 {
        0
    }
}
