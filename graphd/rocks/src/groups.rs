//! Edge copies grouped by item: one RocksDB key per item and direction.
//!
//! The store writes one key per edge copy in [`Cf::EdgesOut`] and [`Cf::EdgesIn`],
//! `near · relation · far` → value. Stored so, a load of a million items wrote eleven million
//! such keys, each sorted, inserted into a memtable, flushed and compacted on its own. Here
//! each key is split after its first [`GROUP_LEN`] bytes (the near item's id): the RocksDB key
//! is that group, its value the group's entries (the rest of each key, and its value) in key
//! order. A batch adds to a group with one merge operand holding the entries it puts and
//! deletes there, in its order; RocksDB folds operands into the group with [`full_merge`] when
//! it reads or compacts the key. Above this engine every edge copy is still a key of its own.
//!
//! Entries, in a group's value and in operands alike: a tag byte ([`PUT`] or [`DELETE`]), the
//! key's rest prefixed by its length as a varint, and for a put the value prefixed the same
//! way. A group's value holds puts only, one per key, in key order.

use crate::batch::{read_varint, write_prefixed};
use graphd_store::Cf;

/// The bytes of a key that name its group: an item id.
pub(crate) const GROUP_LEN: usize = 8;

/// The merge operator's name, recorded by RocksDB with the column families that use it.
pub(crate) const MERGE_OPERATOR: &str = "graphd.edge_groups.v1";

const DELETE: u8 = 0;
const PUT: u8 = 1;

/// Whether `cf` is stored grouped.
pub(crate) fn is_grouped(cf: Cf) -> bool {
    matches!(cf, Cf::EdgesOut | Cf::EdgesIn)
}

/// A key's group and the rest of it. A key shorter than a group is a group of its own with one
/// possible entry, the empty rest, so that groups and entries in order are keys in order.
pub(crate) fn split(key: &[u8]) -> (&[u8], &[u8]) {
    key.split_at(key.len().min(GROUP_LEN))
}

/// One write to a group: a put of `value` under `rest`, or a delete when `value` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Entry<'a> {
    pub rest: &'a [u8],
    pub value: Option<&'a [u8]>,
}

impl Entry<'_> {
    pub(crate) fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(if self.value.is_some() { PUT } else { DELETE });
        write_prefixed(out, self.rest);
        if let Some(value) = self.value {
            write_prefixed(out, value);
        }
    }
}

/// A group's bytes that are not a sequence of entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Malformed;

/// The entries of a group's value or of an operand, in order; a malformed one ends them with
/// an error.
pub(crate) fn entries(mut bytes: &[u8]) -> impl Iterator<Item = Result<Entry<'_>, Malformed>> {
    std::iter::from_fn(move || {
        if bytes.is_empty() {
            return None;
        }
        let next = read_entry(bytes);
        bytes = next.map_or(&[][..], |(_, rest)| rest);
        Some(next.map(|(entry, _)| entry))
    })
}

fn read_entry(bytes: &[u8]) -> Result<(Entry<'_>, &[u8]), Malformed> {
    let (&tag, rest) = bytes.split_first().ok_or(Malformed)?;
    let (key_rest, rest) = read_prefixed(rest)?;
    match tag {
        PUT => {
            let (value, rest) = read_prefixed(rest)?;
            Ok((Entry { rest: key_rest, value: Some(value) }, rest))
        }
        DELETE => Ok((Entry { rest: key_rest, value: None }, rest)),
        _ => Err(Malformed),
    }
}

fn read_prefixed(bytes: &[u8]) -> Result<(&[u8], &[u8]), Malformed> {
    let (len, width) = read_varint(bytes).ok_or(Malformed)?;
    let len = usize::try_from(len).map_err(|_| Malformed)?;
    let rest = &bytes[width..];
    (rest.len() >= len).then(|| rest.split_at(len)).ok_or(Malformed)
}

/// The value stored under `rest` in a group's value.
pub(crate) fn find<'a>(group: &'a [u8], rest: &[u8]) -> Result<Option<&'a [u8]>, Malformed> {
    for entry in entries(group) {
        let entry = entry?;
        match entry.rest.cmp(rest) {
            std::cmp::Ordering::Less => {}
            std::cmp::Ordering::Equal => return Ok(entry.value),
            std::cmp::Ordering::Greater => break,
        }
    }
    Ok(None)
}

/// RocksDB's full merge: the group's value after its operands, in order, over `value` (none
/// when the key had no value under them).
pub(crate) fn full_merge(_key: &[u8], value: Option<&[u8]>, operands: &rocksdb::MergeOperands) -> Option<Vec<u8>> {
    fold(value.into_iter().chain(operands), false)
}

/// RocksDB's partial merge: one operand with the effect of several, whatever the value under
/// them. Its deletes stay: they may remove entries of that value.
pub(crate) fn partial_merge(_key: &[u8], value: Option<&[u8]>, operands: &rocksdb::MergeOperands) -> Option<Vec<u8>> {
    fold(value.into_iter().chain(operands), true)
}

/// The entries of `parts`, later writes of a key over earlier ones, in key order: each key's
/// last put, and, when `keep_deletes`, its last delete. `None` if a part is malformed, which
/// RocksDB reports as corruption of the key.
pub(crate) fn fold<'a>(parts: impl IntoIterator<Item = &'a [u8]>, keep_deletes: bool) -> Option<Vec<u8>> {
    let mut written: Vec<Entry<'a>> = Vec::new();
    let mut bytes = 0;
    for part in parts {
        bytes += part.len();
        for entry in entries(part) {
            written.push(entry.ok()?);
        }
    }
    // Stable, so that of two writes of one key the later stays later; each part is in key
    // order already, and the sort merges such runs in linear time.
    written.sort_by(|a, b| a.rest.cmp(b.rest));
    let mut out = Vec::with_capacity(bytes);
    for (i, entry) in written.iter().enumerate() {
        let last_of_its_key = written.get(i + 1).is_none_or(|next| next.rest != entry.rest);
        if last_of_its_key && (keep_deletes || entry.value.is_some()) {
            entry.encode_into(&mut out);
        }
    }
    Some(out)
}

/// `entries` (rests and values, `None` for a delete) encoded one after another: a group's
/// value or an operand, for tests.
#[cfg(test)]
pub(crate) fn operand(entries: &[(&str, Option<&str>)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (rest, value) in entries {
        Entry { rest: rest.as_bytes(), value: value.map(str::as_bytes) }.encode_into(&mut out);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(bytes: &[u8]) -> Vec<(String, Option<String>)> {
        entries(bytes)
            .map(|entry| {
                let entry = entry.unwrap();
                let text = |b: &[u8]| String::from_utf8(b.to_vec()).unwrap();
                (text(entry.rest), entry.value.map(text))
            })
            .collect()
    }

    fn owned(entries: &[(&str, Option<&str>)]) -> Vec<(String, Option<String>)> {
        entries.iter().map(|(k, v)| (k.to_string(), v.map(str::to_string))).collect()
    }

    #[test]
    fn later_writes_win_and_deletes_remove() {
        let value = operand(&[("a", Some("1")), ("c", Some("3")), ("d", Some("4"))]);
        let first = operand(&[("b", Some("2")), ("c", None), ("e", Some("5"))]);
        let second = operand(&[("a", Some("one")), ("e", None), ("e", Some("five")), ("f", None)]);
        let parts = [&value[..], &first, &second];
        assert_eq!(
            decoded(&fold(parts, false).unwrap()),
            owned(&[("a", Some("one")), ("b", Some("2")), ("d", Some("4")), ("e", Some("five"))])
        );
    }

    #[test]
    fn a_partial_merge_keeps_its_deletes_for_the_value_under_it() {
        let first = operand(&[("a", Some("1")), ("b", None)]);
        let second = operand(&[("a", None), ("c", Some("3"))]);
        let combined = fold([&first[..], &second], true).unwrap();
        assert_eq!(decoded(&combined), owned(&[("a", None), ("b", None), ("c", Some("3"))]));
        let value = operand(&[("a", Some("0")), ("b", Some("0")), ("d", Some("0"))]);
        let stepwise = fold([&value[..], &first, &second], false).unwrap();
        assert_eq!(fold([&value[..], &combined], false).unwrap(), stepwise, "the same as the operands one by one");
        assert_eq!(decoded(&stepwise), owned(&[("c", Some("3")), ("d", Some("0"))]));
    }

    #[test]
    fn entries_are_found_by_their_rest() {
        let value = operand(&[("", Some("whole")), ("a", Some("1")), ("ab", Some(""))]);
        assert_eq!(find(&value, b""), Ok(Some(&b"whole"[..])));
        assert_eq!(find(&value, b"ab"), Ok(Some(&b""[..])));
        assert_eq!(find(&value, b"b"), Ok(None));
        assert_eq!(find(&value, b"aa"), Ok(None));
    }

    #[test]
    fn malformed_groups_are_errors_not_panics() {
        let good = operand(&[("a", Some("1"))]);
        for bad in [&good[..good.len() - 1], &[7, 0][..], &[PUT][..], &[PUT, 5, b'a'][..]] {
            assert_eq!(fold([bad], false), None, "{bad:02x?}");
            assert_eq!(find(bad, b"a"), Err(Malformed), "{bad:02x?}");
        }
    }

    #[test]
    fn keys_split_after_the_group() {
        assert_eq!(split(b"12345678rest"), (&b"12345678"[..], &b"rest"[..]));
        assert_eq!(split(b"1234"), (&b"1234"[..], &b""[..]));
    }
}
