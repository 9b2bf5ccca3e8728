//! graphd's write batches in RocksDB's own batch encoding, written in one pass.
//!
//! A load's batch holds a hundred thousand operations, sorted into key order by a permutation of
//! their places in the batch's buffer. Handing them to RocksDB one `put_cf` at a time read each
//! from a scattered place with a foreign call in between, and copying them so was a third of
//! the writing thread's time; one tight loop writes the same bytes with many reads in flight,
//! and RocksDB takes the result with one copy.
//!
//! The encoding (RocksDB's `db/write_batch.cc`): a sequence number (8 bytes, set by the write)
//! and a count of operations (4 bytes, little-endian), then per operation a tag byte, the
//! column family's id as a varint unless it is the default family, the key, and for a put the
//! value, each prefixed by its length as a varint.

use graphd_store::engine::WriteBatch;
use graphd_store::Cf;
use rocksdb::{ColumnFamily, DB};

const HEADER_LEN: usize = 12;
const TAG_DELETION: u8 = 0x0;
const TAG_VALUE: u8 = 0x1;
const TAG_CF_DELETION: u8 = 0x4;
const TAG_CF_VALUE: u8 = 0x5;

/// Encodes batches for one database, whose column families' ids it knows.
#[derive(Debug)]
pub(crate) struct BatchEncoder {
    ids: [u32; Cf::ALL.len()],
}

impl BatchEncoder {
    /// Learns each column family's id from a one-put batch RocksDB encodes itself: the id is
    /// not otherwise readable, and a batch RocksDB could not read back is never written.
    pub(crate) fn new(db: &DB) -> Result<Self, String> {
        let mut ids = [0; Cf::ALL.len()];
        for cf in Cf::ALL {
            let handle: &ColumnFamily =
                db.cf_handle(cf.name()).ok_or_else(|| format!("no column family {}", cf.name()))?;
            let mut probe = rocksdb::WriteBatch::default();
            probe.put_cf(handle, b"k", b"v");
            let data = probe.data();
            ids[cf.index()] = match data.get(HEADER_LEN..) {
                Some([TAG_VALUE, ..]) => 0,
                Some([TAG_CF_VALUE, rest @ ..]) => read_varint(rest).ok_or("a truncated column family id")?,
                _ => return Err(format!("an unknown write batch encoding: {data:02x?}")),
            };
        }
        Ok(BatchEncoder { ids })
    }

    /// Puts `batch` in RocksDB's encoding, its operations in their order, in `out` (emptied
    /// first).
    pub(crate) fn encode(&self, batch: &WriteBatch, out: &mut Vec<u8>) {
        out.clear();
        // Each operation adds a tag and up to three 5-byte varints to its key and value.
        out.reserve(HEADER_LEN + batch.data_len() + 16 * batch.len());
        out.extend_from_slice(&0u64.to_le_bytes());
        let count = u32::try_from(batch.len()).expect("a batch holds fewer than 4 billion operations");
        out.extend_from_slice(&count.to_le_bytes());
        for op in batch.ops().iter() {
            let id = self.ids[op.cf.index()];
            let tag = match (id, op.value) {
                (0, Some(_)) => TAG_VALUE,
                (0, None) => TAG_DELETION,
                (_, Some(_)) => TAG_CF_VALUE,
                (_, None) => TAG_CF_DELETION,
            };
            out.push(tag);
            if id != 0 {
                write_varint(out, id);
            }
            write_prefixed(out, op.key);
            if let Some(value) = op.value {
                write_prefixed(out, value);
            }
        }
    }
}

fn write_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
    write_varint(out, u32::try_from(bytes.len()).expect("keys and values are smaller than 4 GiB"));
    out.extend_from_slice(bytes);
}

fn write_varint(out: &mut Vec<u8>, mut value: u32) {
    while value >= 0x80 {
        out.push(value as u8 | 0x80);
        value >>= 7;
    }
    out.push(value as u8);
}

fn read_varint(bytes: &[u8]) -> Option<u32> {
    let mut value = 0u32;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some(value);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding is byte for byte what RocksDB's own `put_cf` and `delete_cf` make, for
    /// every column family, empty and long keys and values (lengths of one and two varint
    /// bytes), in the batch's order.
    #[test]
    fn a_batch_encodes_as_rocksdb_encodes_it() {
        let dir = tempfile::tempdir().unwrap();
        let engine = crate::RocksEngine::open(dir.path(), &crate::RocksOptions::default()).unwrap();
        let mut ours = WriteBatch::new();
        let mut theirs = rocksdb::WriteBatch::default();
        for (i, cf) in Cf::ALL.into_iter().enumerate() {
            let key = vec![b'k'; 1 + i * 40];
            let value = vec![b'v'; i * 30];
            ours.put(cf, &key, &value);
            theirs.put_cf(engine.cf(cf), &key, &value);
            ours.delete(cf, &key[..1]);
            theirs.delete_cf(engine.cf(cf), &key[..1]);
        }
        let mut encoded = Vec::new();
        engine.encoder.encode(&ours, &mut encoded);
        assert_eq!(encoded, theirs.data());
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(read_varint(&out), Some(value), "{out:02x?}");
        }
    }
}
