//! Value encodings: item records (postcard), edge values (fixed layout), change records.
//!
//! Kinds are stored as interned ids and external keys in their key encoding, so a record
//! holds no serde-tagged enum and postcard can read it back without a schema.

use crate::keys::{KindId, ProvenanceId};
use graphd_core::{ChangeType, Health, ItemId, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
#[error("corrupt {what} record: {reason}")]
pub struct CodecError {
    pub what: &'static str,
    pub reason: String,
}

/// An item as stored in [`crate::Cf::Items`]. The document lives in its own column family so
/// walks and lists never read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemRecord {
    /// First, so that [`ItemRecord::peek_deleted`] reads it without decoding the rest.
    pub deleted_at: Option<u64>,
    /// The external key in [`keys::external`] form.
    pub key: Vec<u8>,
    pub kind: KindId,
    pub name: String,
    pub namespace: Option<String>,
    pub cluster: Option<String>,
    pub account: Option<String>,
    pub region: Option<String>,
    pub labels: Vec<(String, String)>,
    pub health: u8,
    pub status: String,
    pub ready: bool,
    pub created_at: u64,
    pub updated_at: u64,
    pub content_hash: u64,
}

impl ItemRecord {
    /// Appends the encoded record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        *out = postcard::to_extend(self, std::mem::take(out)).expect("item records always serialise");
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        postcard::from_bytes(bytes).map_err(|e| CodecError { what: "item", reason: e.to_string() })
    }

    pub fn is_deleted(&self) -> bool {
        self.deleted_at.is_some()
    }

    /// Whether the item existed at `at`: created by then and not yet deleted.
    pub fn alive_at(&self, at: Timestamp) -> bool {
        self.created_at <= at.0 && self.deleted_at.is_none_or(|deleted| deleted > at.0)
    }

    /// Whether an encoded record is tombstoned, from its first byte (postcard's `Option` tag).
    pub fn peek_deleted(bytes: &[u8]) -> Result<bool, CodecError> {
        match bytes.first() {
            Some(0) => Ok(false),
            Some(1) => Ok(true),
            _ => Err(CodecError { what: "item", reason: "bad tombstone tag".into() }),
        }
    }

    pub fn health(&self) -> Health {
        health_from_u8(self.health)
    }
}

pub fn health_to_u8(health: Health) -> u8 {
    match health {
        Health::Unknown => 0,
        Health::Healthy => 1,
        Health::Warning => 2,
        Health::Unhealthy => 3,
    }
}

pub fn health_from_u8(byte: u8) -> Health {
    match byte {
        1 => Health::Healthy,
        2 => Health::Warning,
        3 => Health::Unhealthy,
        _ => Health::Unknown,
    }
}

/// The value of an external key: the item's id, kind and whether it is tombstoned, so that
/// linking by external key needs one read per end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExternalEntry {
    pub id: ItemId,
    pub kind: KindId,
    pub deleted: bool,
}

impl ExternalEntry {
    /// Appends the encoded entry to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.id.0.to_be_bytes());
        out.extend_from_slice(&self.kind.to_be_bytes());
        out.push(self.deleted as u8);
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        match bytes {
            [id @ .., k0, k1, deleted] if id.len() == 8 => Ok(ExternalEntry {
                id: ItemId(u64::from_be_bytes(id.try_into().expect("8 bytes"))),
                kind: u16::from_be_bytes([*k0, *k1]),
                deleted: *deleted != 0,
            }),
            _ => Err(CodecError { what: "external key", reason: format!("{} bytes, expected 11", bytes.len()) }),
        }
    }
}

/// The value of an edge key, the same in both directions except `far_kind`, which is the kind
/// of the item at the far end so a walk can filter by kind without reading that item.
///
/// Layout: `deleted_at u64 (0 = live) · far_kind u16 · created_at u64 · provenance u32`, the
/// provenance interned (see [`crate::names::Names::provenance`]): a rule's name in every copy
/// of every edge it made was half of each value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeValue {
    pub deleted_at: Option<Timestamp>,
    pub far_kind: KindId,
    pub created_at: Timestamp,
    pub provenance: ProvenanceId,
}

const EDGE_VALUE_LEN: usize = 8 + 2 + 8 + 4;

impl EdgeValue {
    /// Whether the edge existed at `at`: created by then and not yet tombstoned.
    pub fn alive_at(&self, at: Timestamp) -> bool {
        self.created_at <= at && self.deleted_at.is_none_or(|deleted| deleted > at)
    }

    /// Appends the encoded value to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(EDGE_VALUE_LEN);
        out.extend_from_slice(&self.deleted_at.map_or(0, |t| t.0).to_be_bytes());
        out.extend_from_slice(&self.far_kind.to_be_bytes());
        out.extend_from_slice(&self.created_at.0.to_be_bytes());
        out.extend_from_slice(&self.provenance.to_be_bytes());
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        if bytes.len() != EDGE_VALUE_LEN {
            let reason = format!("{} bytes, expected {EDGE_VALUE_LEN}", bytes.len());
            return Err(CodecError { what: "edge", reason });
        }
        let (deleted_at, far_kind) = Self::peek(bytes).expect("long enough");
        let created_at = Timestamp(u64::from_be_bytes(bytes[10..18].try_into().expect("8 bytes")));
        let provenance = ProvenanceId::from_be_bytes(bytes[18..22].try_into().expect("4 bytes"));
        Ok(EdgeValue { deleted_at, far_kind, created_at, provenance })
    }

    /// Just what a walk needs: tombstone time and far kind, without allocating.
    pub fn peek(bytes: &[u8]) -> Option<(Option<Timestamp>, KindId)> {
        let deleted = u64::from_be_bytes(bytes.get(..8)?.try_into().ok()?);
        let far_kind = u16::from_be_bytes(bytes.get(8..10)?.try_into().ok()?);
        Some(((deleted != 0).then_some(Timestamp(deleted)), far_kind))
    }
}

/// A change record as stored in [`crate::Cf::Changes`]; item, time and sequence are in its key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChangeRecord {
    pub change_type: u8,
    pub summary: String,
    pub source: String,
    /// Of an update: the JSON Patch from the document before, as JSON text.
    pub patch: Option<String>,
}

impl ChangeRecord {
    pub fn new(change_type: ChangeType, summary: String, source: String) -> Self {
        let change_type = match change_type {
            ChangeType::Created => 0,
            ChangeType::Updated => 1,
            ChangeType::Deleted => 2,
            ChangeType::Restored => 3,
            ChangeType::HealthChanged => 4,
            ChangeType::ImageDigestChanged => 5,
            ChangeType::ScaledUp => 6,
            ChangeType::ScaledDown => 7,
            ChangeType::Event => 8,
            ChangeType::StateChanged => 9,
        };
        ChangeRecord { change_type, summary, source, patch: None }
    }

    pub fn change_type(&self) -> ChangeType {
        match self.change_type {
            0 => ChangeType::Created,
            2 => ChangeType::Deleted,
            3 => ChangeType::Restored,
            4 => ChangeType::HealthChanged,
            5 => ChangeType::ImageDigestChanged,
            6 => ChangeType::ScaledUp,
            7 => ChangeType::ScaledDown,
            8 => ChangeType::Event,
            9 => ChangeType::StateChanged,
            _ => ChangeType::Updated,
        }
    }

    /// Appends the encoded record to `out`.
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        *out = postcard::to_extend(self, std::mem::take(out)).expect("change records always serialise");
    }

    pub fn decode(bytes: &[u8]) -> Result<Self, CodecError> {
        postcard::from_bytes(bytes).or_else(|e| {
            // Written before records had a patch.
            let (change_type, summary, source): (u8, String, String) =
                postcard::from_bytes(bytes).map_err(|_| CodecError { what: "change", reason: e.to_string() })?;
            Ok(ChangeRecord { change_type, summary, source, patch: None })
        })
    }

    /// The patch, read back as JSON.
    pub fn patch(&self) -> Option<serde_json::Value> {
        self.patch.as_deref().and_then(|text| serde_json::from_str(text).ok())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn encoded(encode: impl FnOnce(&mut Vec<u8>)) -> Vec<u8> {
        let mut out = Vec::new();
        encode(&mut out);
        out
    }

    #[test]
    fn change_records_written_before_patches_still_read() {
        let old = postcard::to_stdvec(&(1u8, "updated Pod p".to_owned(), "kubernetes".to_owned())).unwrap();
        let record = ChangeRecord::decode(&old).unwrap();
        assert_eq!(
            (record.change_type(), record.summary.as_str(), record.patch),
            (ChangeType::Updated, "updated Pod p", None)
        );
        let mut new = ChangeRecord::new(ChangeType::Updated, "s".into(), "src".into());
        new.patch = Some("[]".into());
        assert_eq!(ChangeRecord::decode(&encoded(|out| new.encode_into(out))).unwrap(), new);
    }

    #[test]
    fn the_tombstone_flag_is_read_from_the_first_byte() {
        let mut record = ItemRecord {
            deleted_at: None,
            key: vec![1, 2],
            kind: 3,
            name: "n".into(),
            namespace: Some("ns".into()),
            cluster: None,
            account: None,
            region: None,
            labels: vec![("a".into(), "b".into())],
            health: 1,
            status: String::new(),
            ready: true,
            created_at: 5,
            updated_at: 6,
            content_hash: 7,
        };
        assert!(!ItemRecord::peek_deleted(&encoded(|out| record.encode_into(out))).unwrap());
        record.deleted_at = Some(1_700_000_000_000);
        let bytes = encoded(|out| record.encode_into(out));
        assert!(ItemRecord::peek_deleted(&bytes).unwrap());
        assert_eq!(ItemRecord::decode(&bytes).unwrap(), record);
        assert!(ItemRecord::peek_deleted(&[]).is_err());
    }

    #[test]
    fn edge_values_round_trip() {
        let value = EdgeValue { deleted_at: Some(Timestamp(9)), far_kind: 4, created_at: Timestamp(3), provenance: 7 };
        let bytes = encoded(|out| value.encode_into(out));
        assert_eq!(EdgeValue::decode(&bytes).unwrap(), value);
        assert_eq!(EdgeValue::peek(&bytes), Some((Some(Timestamp(9)), 4)));
        assert!(EdgeValue::decode(&bytes[..5]).is_err());
        assert!(
            EdgeValue::decode(&[bytes.as_slice(), b"k8s-owner"].concat()).is_err(),
            "a value with its provenance spelt out"
        );
    }
}
