//! Key shapes, one function per shape and its checked decoder.
//!
//! Integers are big-endian so byte order is numeric order; strings are memcomparable (escaped
//! and terminated) so that a prefix scan for namespace `ns-a` never returns `ns-ab`; times that
//! should read newest first are stored inverted (`!time`).

use graphd_core::{ExternalKey, ItemId, Timestamp};
use std::borrow::Cow;

/// Interned kind id. `0` means "any kind" in lookup keys.
pub type KindId = u16;
/// Interned relation id.
pub type RelId = u16;
/// Interned provenance (who made an edge): every edge value carries one.
pub type ProvenanceId = u32;

pub const ANY_KIND: KindId = 0;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {shape} key: {reason}")]
pub struct KeyError {
    pub shape: &'static str,
    pub reason: &'static str,
}

fn malformed(shape: &'static str, reason: &'static str) -> KeyError {
    KeyError { shape, reason }
}

// ---- memcomparable strings ------------------------------------------------------------------

const ESCAPE: u8 = 0x00;
const ESCAPED_ZERO: u8 = 0xFF;
const TERMINATOR: u8 = 0x01;

/// Appends `s` so that byte order of encodings is string order and no encoding is a prefix of
/// another: each `0x00` becomes `0x00 0xFF`, and the string ends with `0x00 0x01`.
pub fn put_str(out: &mut Vec<u8>, s: &str) {
    // Copied run by run between zero bytes (which strings rarely hold), not byte by byte: keys
    // are encoded for every operation of every batch.
    let mut rest = s.as_bytes();
    out.reserve(rest.len() + 2);
    while let Some(at) = rest.iter().position(|&b| b == ESCAPE) {
        out.extend_from_slice(&rest[..=at]);
        out.push(ESCAPED_ZERO);
        rest = &rest[at + 1..];
    }
    out.extend_from_slice(rest);
    out.push(ESCAPE);
    out.push(TERMINATOR);
}

/// Reads one memcomparable string from the front of `input`, returning it and the rest.
pub fn take_str(input: &[u8]) -> Result<(String, &[u8]), KeyError> {
    take_str_ref(input).map(|(s, rest)| (s.into_owned(), rest))
}

/// [`take_str`] without a copy when the string holds no zero byte, as nearly every one does:
/// external keys are read for every item a batch indexes or a lookup finds.
fn take_str_ref(input: &[u8]) -> Result<(Cow<'_, str>, &[u8]), KeyError> {
    let not_utf8 = malformed("string", "not UTF-8");
    let mut unescaped: Option<Vec<u8>> = None;
    let mut rest = input;
    loop {
        let at = rest.iter().position(|&b| b == ESCAPE).ok_or(malformed("string", "missing terminator"))?;
        match rest.get(at + 1) {
            Some(&ESCAPED_ZERO) => {
                let bytes = unescaped.get_or_insert_with(Vec::new);
                bytes.extend_from_slice(&rest[..=at]);
                rest = &rest[at + 2..];
            }
            Some(&TERMINATOR) => {
                let after = &rest[at + 2..];
                let s = match unescaped {
                    None => Cow::Borrowed(std::str::from_utf8(&rest[..at]).map_err(|_| not_utf8)?),
                    Some(mut bytes) => {
                        bytes.extend_from_slice(&rest[..at]);
                        Cow::Owned(String::from_utf8(bytes).map_err(|_| not_utf8)?)
                    }
                };
                return Ok((s, after));
            }
            _ => return Err(malformed("string", "bad escape")),
        }
    }
}

fn take_u64<'a>(input: &'a [u8], shape: &'static str) -> Result<(u64, &'a [u8]), KeyError> {
    let (head, rest) = input.split_at_checked(8).ok_or(malformed(shape, "too short"))?;
    Ok((u64::from_be_bytes(head.try_into().expect("8 bytes")), rest))
}

fn take_u16<'a>(input: &'a [u8], shape: &'static str) -> Result<(u16, &'a [u8]), KeyError> {
    let (head, rest) = input.split_at_checked(2).ok_or(malformed(shape, "too short"))?;
    Ok((u16::from_be_bytes(head.try_into().expect("2 bytes")), rest))
}

fn expect_end(rest: &[u8], shape: &'static str) -> Result<(), KeyError> {
    if rest.is_empty() {
        Ok(())
    } else {
        Err(malformed(shape, "trailing bytes"))
    }
}

// ---- items and documents: `id` -------------------------------------------------------------

pub fn item(id: ItemId) -> [u8; 8] {
    id.0.to_be_bytes()
}

pub fn decode_item(key: &[u8]) -> Result<ItemId, KeyError> {
    let (id, rest) = take_u64(key, "item")?;
    expect_end(rest, "item")?;
    Ok(ItemId(id))
}

// ---- external keys --------------------------------------------------------------------------

/// The first byte of an external key: which source's key space it is in.
pub const EXTERNAL_KUBERNETES: u8 = 1;
pub const EXTERNAL_AWS: u8 = 2;
pub const EXTERNAL_CUSTOM: u8 = 3;

pub fn external(key: &ExternalKey) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    match key {
        ExternalKey::Kubernetes { cluster, uid } => {
            out.push(EXTERNAL_KUBERNETES);
            put_str(&mut out, cluster);
            put_str(&mut out, uid);
        }
        ExternalKey::Aws { account, region, resource_id } => {
            out.push(EXTERNAL_AWS);
            put_str(&mut out, account);
            put_str(&mut out, region);
            put_str(&mut out, resource_id);
        }
        ExternalKey::Custom { source, id } => {
            out.push(EXTERNAL_CUSTOM);
            put_str(&mut out, source);
            put_str(&mut out, id);
        }
    }
    out
}

pub fn decode_external(key: &[u8]) -> Result<ExternalKey, KeyError> {
    let (&tag, rest) = key.split_first().ok_or(malformed("external", "empty"))?;
    let (a, rest) = take_str(rest)?;
    let (b, rest) = take_str(rest)?;
    let (decoded, rest) = match tag {
        EXTERNAL_KUBERNETES => (ExternalKey::Kubernetes { cluster: a, uid: b }, rest),
        EXTERNAL_AWS => {
            let (c, rest) = take_str(rest)?;
            (ExternalKey::Aws { account: a, region: b, resource_id: c }, rest)
        }
        EXTERNAL_CUSTOM => (ExternalKey::Custom { source: a, id: b }, rest),
        _ => return Err(malformed("external", "unknown source tag")),
    };
    expect_end(rest, "external")?;
    Ok(decoded)
}

/// The short id of an [`external`] key ([`ExternalKey::short_id`]: a uid, an AWS resource id,
/// a custom id), read without decoding the rest of it.
pub fn external_short_id(key: &[u8]) -> Result<Cow<'_, str>, KeyError> {
    let (&tag, rest) = key.split_first().ok_or(malformed("external", "empty"))?;
    let parts_before = match tag {
        EXTERNAL_KUBERNETES | EXTERNAL_CUSTOM => 1,
        EXTERNAL_AWS => 2,
        _ => return Err(malformed("external", "unknown source tag")),
    };
    let mut rest = rest;
    for _ in 0..parts_before {
        rest = take_str_ref(rest)?.1;
    }
    let (short_id, rest) = take_str_ref(rest)?;
    expect_end(rest, "external")?;
    Ok(short_id)
}

// ---- lookup: `kind · field · value · id` ----------------------------------------------------

/// What a lookup entry indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum LookupField {
    /// name · cluster · namespace, under the item's kind: a name is a prefix, a name in a
    /// cluster is one, and so is a name in a namespace of a cluster.
    NaturalName = 1,
    /// The key's short id (an EC2 instance id, a uid), under [`ANY_KIND`].
    ShortId = 2,
}

pub fn lookup_prefix(kind: KindId, field: LookupField, values: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(48);
    out.extend_from_slice(&kind.to_be_bytes());
    out.push(field as u8);
    for v in values {
        put_str(&mut out, v);
    }
    out
}

pub fn lookup(kind: KindId, field: LookupField, values: &[&str], id: ItemId) -> Vec<u8> {
    let mut out = lookup_prefix(kind, field, values);
    out.extend_from_slice(&id.0.to_be_bytes());
    out
}

/// The item id at the end of a lookup key.
pub fn lookup_id(key: &[u8]) -> Result<ItemId, KeyError> {
    let tail = key.len().checked_sub(8).ok_or(malformed("lookup", "too short"))?;
    Ok(ItemId(u64::from_be_bytes(key[tail..].try_into().expect("8 bytes"))))
}

// ---- edges: `from · relation · to` and `to · relation · from` -------------------------------

pub const EDGE_KEY_LEN: usize = 18;

/// The key of an edge in [`crate::Cf::EdgesOut`] when called as `edge(from, rel, to)`, and in
/// [`crate::Cf::EdgesIn`] when called as `edge(to, rel, from)`.
pub fn edge(near: ItemId, rel: RelId, far: ItemId) -> [u8; EDGE_KEY_LEN] {
    let mut out = [0u8; EDGE_KEY_LEN];
    out[..8].copy_from_slice(&near.0.to_be_bytes());
    out[8..10].copy_from_slice(&rel.to_be_bytes());
    out[10..].copy_from_slice(&far.0.to_be_bytes());
    out
}

/// All edges of `near` (one direction).
pub fn edge_prefix(near: ItemId) -> [u8; 8] {
    near.0.to_be_bytes()
}

/// All edges of `near` with relation `rel` (one direction).
pub fn edge_rel_prefix(near: ItemId, rel: RelId) -> [u8; 10] {
    let mut out = [0u8; 10];
    out[..8].copy_from_slice(&near.0.to_be_bytes());
    out[8..].copy_from_slice(&rel.to_be_bytes());
    out
}

/// `(near, relation, far)` of an edge key.
pub fn decode_edge(key: &[u8]) -> Result<(ItemId, RelId, ItemId), KeyError> {
    let (near, rest) = take_u64(key, "edge")?;
    let (rel, rest) = take_u16(rest, "edge")?;
    let (far, rest) = take_u64(rest, "edge")?;
    expect_end(rest, "edge")?;
    Ok((ItemId(near), rel, ItemId(far)))
}

// ---- scope: `tag · value · kind · id` -------------------------------------------------------

/// Which part of an item's scope a scope entry indexes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum ScopeTag {
    /// Every item, under an empty value: lists by kind alone.
    All = 0,
    Cluster = 1,
    Account = 2,
    Region = 3,
    /// cluster · namespace.
    Namespace = 4,
}

pub fn scope_prefix(tag: ScopeTag, values: &[&str]) -> Vec<u8> {
    let mut out = Vec::with_capacity(40);
    out.push(tag as u8);
    for v in values {
        put_str(&mut out, v);
    }
    out
}

pub fn scope_kind_prefix(tag: ScopeTag, values: &[&str], kind: KindId) -> Vec<u8> {
    let mut out = scope_prefix(tag, values);
    out.extend_from_slice(&kind.to_be_bytes());
    out
}

pub fn scope(tag: ScopeTag, values: &[&str], kind: KindId, id: ItemId) -> Vec<u8> {
    let mut out = scope_kind_prefix(tag, values, kind);
    out.extend_from_slice(&id.0.to_be_bytes());
    out
}

/// `(kind, id)` at the end of a scope key.
pub fn decode_scope_tail(key: &[u8]) -> Result<(KindId, ItemId), KeyError> {
    let tail = key.len().checked_sub(10).ok_or(malformed("scope", "too short"))?;
    let (kind, rest) = take_u16(&key[tail..], "scope")?;
    let (id, _) = take_u64(rest, "scope")?;
    Ok((kind, ItemId(id)))
}

// ---- changes: `id · !time · !seq` -----------------------------------------------------------

pub fn change(id: ItemId, at: Timestamp, seq: u64) -> [u8; 24] {
    let mut out = [0u8; 24];
    out[..8].copy_from_slice(&id.0.to_be_bytes());
    out[8..16].copy_from_slice(&(!at.0).to_be_bytes());
    out[16..].copy_from_slice(&(!seq).to_be_bytes());
    out
}

pub fn change_prefix(id: ItemId) -> [u8; 8] {
    id.0.to_be_bytes()
}

pub fn decode_change(key: &[u8]) -> Result<(ItemId, Timestamp, u64), KeyError> {
    let (id, rest) = take_u64(key, "change")?;
    let (inv_time, rest) = take_u64(rest, "change")?;
    let (inv_seq, rest) = take_u64(rest, "change")?;
    expect_end(rest, "change")?;
    Ok((ItemId(id), Timestamp(!inv_time), !inv_seq))
}

// ---- pending: references by signature, and by source -----------------------------------------

/// What a reference looks for and where (its kind, name or uid or selector, and scope),
/// hashed: keys of a fixed, small size. Two signatures that share a hash only make an arrival
/// re-derive a source that finds nothing new.
pub type Signature = u64;

/// `r · signature · source`: the sources whose rules reference what `signature` describes.
pub fn reference(signature: Signature, source: ItemId) -> [u8; 17] {
    let mut out = [0u8; 17];
    out[..9].copy_from_slice(&reference_prefix(signature));
    out[9..].copy_from_slice(&source.0.to_be_bytes());
    out
}

pub fn reference_prefix(signature: Signature) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[0] = b'r';
    out[1..].copy_from_slice(&signature.to_be_bytes());
    out
}

/// `s · source`: every signature a source's rules reference, in its value (see
/// [`encode_signatures`]). Keys longer than this were written by stores that kept one key
/// per signature: `s · source · signature`, whole or hashed.
pub fn source_references(source: ItemId) -> [u8; 9] {
    let mut out = [0u8; 9];
    out[0] = b's';
    out[1..].copy_from_slice(&source.0.to_be_bytes());
    out
}

/// The value of a [`source_references`] key: the signatures one after another.
pub fn encode_signatures<'s>(signatures: impl IntoIterator<Item = &'s Signature>) -> Vec<u8> {
    signatures.into_iter().flat_map(|signature| signature.to_be_bytes()).collect()
}

pub fn decode_signatures(value: &[u8]) -> Result<Vec<Signature>, KeyError> {
    if !value.len().is_multiple_of(8) {
        return Err(malformed("source references", "not a list of signatures"));
    }
    Ok(value.chunks_exact(8).map(|chunk| Signature::from_be_bytes(chunk.try_into().expect("8 bytes"))).collect())
}

// ---- meta -----------------------------------------------------------------------------------

/// The format the store's keys and values are in (see [`crate::store::FORMAT`]).
pub const META_FORMAT: &[u8] = b"format";
pub const META_NEXT_ID: &[u8] = b"counter/next_id";
pub const META_NEXT_SEQ: &[u8] = b"counter/next_seq";
/// The fingerprint of the link rules the items were last linked by.
pub const META_RULES_FINGERPRINT: &[u8] = b"rules/fingerprint";
/// The sequence of the last message of a replication stream the store has applied.
pub const META_STREAM_POSITION: &[u8] = b"stream/position";
pub const META_KIND_PREFIX: &[u8] = b"kind/";
pub const META_RELATION_PREFIX: &[u8] = b"relation/";
/// `provenance/ · tag · name`, tag `r` (rule), `s` (scraper) or `a` (API caller).
pub const META_PROVENANCE_PREFIX: &[u8] = b"provenance/";
/// Tombstones in deletion order: `tomb/ · time · what · key`, so purging scans only old ones.
pub const META_TOMB_PREFIX: &[u8] = b"tomb/";

pub fn meta_kind(name: &str) -> Vec<u8> {
    [META_KIND_PREFIX, name.as_bytes()].concat()
}

pub fn meta_relation(name: &str) -> Vec<u8> {
    [META_RELATION_PREFIX, name.as_bytes()].concat()
}

pub fn meta_provenance(tag: u8, name: &str) -> Vec<u8> {
    [META_PROVENANCE_PREFIX, &[tag], name.as_bytes()].concat()
}

/// What a tombstone queue entry points at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tomb {
    Item(ItemId),
    /// An edge by its out-key `(from, rel, to)`.
    Edge(ItemId, RelId, ItemId),
}

pub fn tomb(at: Timestamp, what: Tomb) -> Vec<u8> {
    let mut out = Vec::with_capacity(META_TOMB_PREFIX.len() + 8 + 1 + EDGE_KEY_LEN);
    out.extend_from_slice(META_TOMB_PREFIX);
    out.extend_from_slice(&at.0.to_be_bytes());
    match what {
        Tomb::Item(id) => {
            out.push(b'i');
            out.extend_from_slice(&item(id));
        }
        Tomb::Edge(from, rel, to) => {
            out.push(b'e');
            out.extend_from_slice(&edge(from, rel, to));
        }
    }
    out
}

pub fn decode_tomb(key: &[u8]) -> Result<(Timestamp, Tomb), KeyError> {
    let rest = key.strip_prefix(META_TOMB_PREFIX).ok_or(malformed("tomb", "wrong prefix"))?;
    let (at, rest) = take_u64(rest, "tomb")?;
    let (&what, rest) = rest.split_first().ok_or(malformed("tomb", "too short"))?;
    let tomb = match what {
        b'i' => Tomb::Item(decode_item(rest)?),
        b'e' => {
            let (from, rel, to) = decode_edge(rest)?;
            Tomb::Edge(from, rel, to)
        }
        _ => return Err(malformed("tomb", "unknown entry type")),
    };
    Ok((Timestamp(at), tomb))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn enc(s: &str) -> Vec<u8> {
        let mut out = Vec::new();
        put_str(&mut out, s);
        out
    }

    #[test]
    fn namespace_prefix_does_not_match_longer_namespace() {
        let a = scope_prefix(ScopeTag::Namespace, &["c1", "ns-a"]);
        let ab = scope(ScopeTag::Namespace, &["c1", "ns-ab"], 3, ItemId(9));
        assert!(!ab.starts_with(&a));
        let a_item = scope(ScopeTag::Namespace, &["c1", "ns-a"], 3, ItemId(9));
        assert!(a_item.starts_with(&a));
    }

    #[test]
    fn edge_keys_round_trip() {
        let key = edge(ItemId(7), 3, ItemId(u64::MAX));
        assert_eq!(decode_edge(&key).unwrap(), (ItemId(7), 3, ItemId(u64::MAX)));
        assert!(decode_edge(&key[..17]).is_err());
    }

    #[test]
    fn changes_sort_newest_first() {
        let older = change(ItemId(1), Timestamp(100), 1);
        let newer = change(ItemId(1), Timestamp(200), 2);
        assert!(newer < older);
        assert_eq!(decode_change(&newer).unwrap(), (ItemId(1), Timestamp(200), 2));
    }

    #[test]
    fn tombs_round_trip() {
        for what in [Tomb::Item(ItemId(5)), Tomb::Edge(ItemId(1), 2, ItemId(3))] {
            let key = tomb(Timestamp(42), what);
            assert_eq!(decode_tomb(&key).unwrap(), (Timestamp(42), what));
        }
    }

    #[test]
    fn bad_escapes_are_errors_not_panics() {
        assert!(take_str(b"abc").is_err());
        assert!(take_str(&[b'a', 0x00, 0x07]).is_err());
        assert!(decode_external(&[9, 0, 1, 0, 1]).is_err());
        assert!(external_short_id(&[9, 0, 1, 0, 1]).is_err());
        assert!(external_short_id(&[EXTERNAL_AWS, b'a', 0, 1, b'r', 0, 1]).is_err());
    }

    fn external_key() -> impl Strategy<Value = ExternalKey> {
        let s = || "[a-z0-9\\x00-]{0,8}";
        prop_oneof![
            (s(), s()).prop_map(|(c, u)| ExternalKey::kubernetes(c, u)),
            (s(), s(), s()).prop_map(|(a, r, i)| ExternalKey::aws(a, r, i)),
            (s(), s()).prop_map(|(s, i)| ExternalKey::custom(s, i)),
        ]
    }

    proptest! {
        #[test]
        fn strings_round_trip_and_preserve_order(a in "\\PC{0,12}", b in "\\PC{0,12}") {
            let (ea, eb) = (enc(&a), enc(&b));
            prop_assert_eq!(take_str(&ea).unwrap(), (a.clone(), &[][..]));
            prop_assert_eq!(a.as_bytes().cmp(b.as_bytes()), ea.cmp(&eb));
        }

        #[test]
        fn strings_with_zero_bytes_round_trip_and_keep_order(a in "[a\\x00b]{0,6}", b in "[a\\x00b]{0,6}") {
            let (ea, eb) = (enc(&a), enc(&b));
            prop_assert_eq!(take_str(&ea).unwrap(), (a.clone(), &[][..]));
            prop_assert_eq!(a.as_bytes().cmp(b.as_bytes()), ea.cmp(&eb));
        }

        #[test]
        fn no_encoding_is_a_prefix_of_another(a in "[ab\\x00]{0,6}", b in "[ab\\x00]{0,6}") {
            prop_assume!(a != b);
            prop_assert!(!enc(&b).starts_with(&enc(&a)));
        }

        #[test]
        fn external_keys_round_trip(key in external_key()) {
            let encoded = external(&key);
            prop_assert_eq!(external_short_id(&encoded).unwrap(), key.short_id());
            prop_assert_eq!(decode_external(&encoded).unwrap(), key);
        }

        #[test]
        fn edge_keys_preserve_numeric_order(
            a in any::<(u64, u16, u64)>(), b in any::<(u64, u16, u64)>()
        ) {
            let ka = edge(ItemId(a.0), a.1, ItemId(a.2));
            let kb = edge(ItemId(b.0), b.1, ItemId(b.2));
            prop_assert_eq!(a.cmp(&b), ka.cmp(&kb));
        }

        #[test]
        fn scope_keys_order_by_value_then_kind_then_id(
            v1 in "[a-z-]{0,6}", v2 in "[a-z-]{0,6}", k1 in any::<u16>(), k2 in any::<u16>(),
            i1 in any::<u64>(), i2 in any::<u64>()
        ) {
            let a = scope(ScopeTag::Cluster, &[&v1], k1, ItemId(i1));
            let b = scope(ScopeTag::Cluster, &[&v2], k2, ItemId(i2));
            let expected = (v1.as_bytes(), k1, i1).cmp(&(v2.as_bytes(), k2, i2));
            prop_assert_eq!(expected, a.cmp(&b));
            prop_assert_eq!(decode_scope_tail(&a).unwrap(), (k1, ItemId(i1)));
        }

        #[test]
        fn a_source_s_signatures_round_trip(signatures in proptest::collection::vec(any::<u64>(), 0..6)) {
            prop_assert_eq!(decode_signatures(&encode_signatures(&signatures)).unwrap(), signatures.clone());
            let mut cut = encode_signatures(&signatures);
            cut.push(0);
            prop_assert!(decode_signatures(&cut).is_err());
        }
    }
}
