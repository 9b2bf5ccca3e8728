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
//!
//! The operations of a grouped column family (see [`crate::groups`]) become merge operands:
//! one per run of consecutive operations on one group, which a sorted batch makes one per
//! group.

use crate::groups;
use graphd_store::engine::{Ops, WriteBatch};
use graphd_store::Cf;
use rocksdb::{ColumnFamily, DB};

const HEADER_LEN: usize = 12;
const TAG_DELETION: u8 = 0x0;
const TAG_VALUE: u8 = 0x1;
const TAG_MERGE: u8 = 0x2;
const TAG_CF_DELETION: u8 = 0x4;
const TAG_CF_VALUE: u8 = 0x5;
const TAG_CF_MERGE: u8 = 0x6;

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
                Some([TAG_CF_VALUE, rest @ ..]) => read_varint(rest).ok_or("a truncated column family id")?.0,
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
        out.extend_from_slice(&0u32.to_le_bytes());
        let ops = batch.ops();
        let mut operand = Vec::new();
        let mut count: u32 = 0;
        let mut next = 0;
        while next < ops.len() {
            let op = ops.get(next);
            let id = self.ids[op.cf.index()];
            if groups::is_grouped(op.cf) {
                let (group, run) = group_run(ops, next);
                operand.clear();
                for op in run.iter() {
                    groups::Entry { rest: groups::split(op.key).1, value: op.value }.encode_into(&mut operand);
                }
                write_record(out, id, (TAG_MERGE, TAG_CF_MERGE), group, Some(&operand));
                next += run.len();
            } else {
                write_record(out, id, (TAG_VALUE, TAG_CF_VALUE), op.key, op.value);
                next += 1;
            }
            count += 1;
        }
        out[8..HEADER_LEN].copy_from_slice(&count.to_le_bytes());
    }
}

/// One record: a put or merge of `value` (tags for the default column family and for
/// others), or a delete when `value` is `None`.
fn write_record(out: &mut Vec<u8>, id: u32, (default_tag, cf_tag): (u8, u8), key: &[u8], value: Option<&[u8]>) {
    let tag = match (id, value) {
        (0, Some(_)) => default_tag,
        (0, None) => TAG_DELETION,
        (_, Some(_)) => cf_tag,
        (_, None) => TAG_CF_DELETION,
    };
    out.push(tag);
    if id != 0 {
        write_varint(out, id);
    }
    write_prefixed(out, key);
    if let Some(value) = value {
        write_prefixed(out, value);
    }
}

/// The group of the operation at `start` and the run of consecutive operations on it.
fn group_run(ops: Ops<'_>, start: usize) -> (&[u8], Ops<'_>) {
    let first = ops.get(start);
    let group = groups::split(first.key).0;
    let mut end = start + 1;
    while end < ops.len() && ops.get(end).cf == first.cf && groups::split(ops.get(end).key).0 == group {
        end += 1;
    }
    (group, ops.slice(start, end))
}

pub(crate) fn write_prefixed(out: &mut Vec<u8>, bytes: &[u8]) {
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

/// A varint at the start of `bytes`, and how many bytes it took.
pub(crate) fn read_varint(bytes: &[u8]) -> Option<(u32, usize)> {
    let mut value = 0u32;
    for (i, byte) in bytes.iter().take(5).enumerate() {
        value |= u32::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            return Some((value, i + 1));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The encoding is byte for byte what RocksDB's own `put_cf` and `delete_cf` make, for
    /// every column family not grouped, empty and long keys and values (lengths of one and two
    /// varint bytes), in the batch's order.
    #[test]
    fn a_batch_encodes_as_rocksdb_encodes_it() {
        let dir = tempfile::tempdir().unwrap();
        let engine = crate::RocksEngine::open(dir.path(), &crate::RocksOptions::default()).unwrap();
        let mut ours = WriteBatch::new();
        let mut theirs = rocksdb::WriteBatch::default();
        for (i, cf) in Cf::ALL.into_iter().enumerate().filter(|(_, cf)| !groups::is_grouped(*cf)) {
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

    /// In a grouped column family each run of operations on one group is one `merge_cf` of
    /// their entries, in the batch's order; a group met again after another is a run again.
    #[test]
    fn a_grouped_batch_encodes_as_merges_of_each_run() {
        let dir = tempfile::tempdir().unwrap();
        let engine = crate::RocksEngine::open(dir.path(), &crate::RocksOptions::default()).unwrap();
        let mut ours = WriteBatch::new();
        ours.put(Cf::EdgesOut, b"item0001-rel-far1", b"v1");
        ours.delete(Cf::EdgesOut, b"item0001-rel-far2");
        ours.put(Cf::EdgesIn, b"item0001-rel-far3", b"v3");
        ours.put(Cf::Items, b"item0001", b"record");
        ours.put(Cf::EdgesOut, b"item0002", b"");
        ours.put(Cf::EdgesOut, b"item0001-rel-far4", b"v4");
        let mut theirs = rocksdb::WriteBatch::default();
        theirs.merge_cf(
            engine.cf(Cf::EdgesOut),
            b"item0001",
            groups::operand(&[("-rel-far1", Some("v1")), ("-rel-far2", None)]),
        );
        theirs.merge_cf(engine.cf(Cf::EdgesIn), b"item0001", groups::operand(&[("-rel-far3", Some("v3"))]));
        theirs.put_cf(engine.cf(Cf::Items), b"item0001", b"record");
        theirs.merge_cf(engine.cf(Cf::EdgesOut), b"item0002", groups::operand(&[("", Some(""))]));
        theirs.merge_cf(engine.cf(Cf::EdgesOut), b"item0001", groups::operand(&[("-rel-far4", Some("v4"))]));
        let mut encoded = Vec::new();
        engine.encoder.encode(&ours, &mut encoded);
        assert_eq!(encoded, theirs.data());
    }

    #[test]
    fn varints_round_trip() {
        for value in [0, 1, 127, 128, 300, 16_383, 16_384, u32::MAX] {
            let mut out = Vec::new();
            write_varint(&mut out, value);
            assert_eq!(read_varint(&out), Some((value, out.len())), "{out:02x?}");
        }
    }
}
