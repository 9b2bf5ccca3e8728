//! Interned kinds, relations and provenances: small ids in keys and values, names in answers.
//!
//! The tables only grow. A writer stages new names in its batch and publishes them here after
//! the batch is durable, so no key ever holds an id whose name is not on disk.

use crate::cf::Cf;
use crate::engine::{EngineError, Snapshot, WriteBatch};
use crate::keys::{self, KindId, ProvenanceId, RelId};
use graphd_core::{Kind, Orientation, Provenance, Relation, RelationError};
// Looked up by name for every reference a rule plans and every edge it makes: a fast hash.
use foldhash::HashMap;

#[derive(Debug, Default, Clone)]
pub struct Names {
    kinds: Vec<Kind>,
    kind_ids: HashMap<String, KindId>,
    relations: Vec<Relation>,
    relation_ids: HashMap<String, RelId>,
    provenances: Vec<Provenance>,
    /// By provenance tag (see [`provenance_parts`]), then name: found without building a
    /// [`Provenance`].
    provenance_ids: [HashMap<String, ProvenanceId>; 3],
}

impl Names {
    /// Reads every interned name from the meta column family.
    pub fn load(snapshot: &impl Snapshot) -> Result<Names, EngineError> {
        let mut kinds: Vec<(KindId, Kind)> = Vec::new();
        let mut relations: Vec<(RelId, Relation)> = Vec::new();
        let mut bad = None;
        snapshot.scan_prefix(Cf::Meta, keys::META_KIND_PREFIX, &mut |key, value| {
            let name = String::from_utf8_lossy(&key[keys::META_KIND_PREFIX.len()..]).into_owned();
            match (Kind::new(name), value.try_into().map(u16::from_be_bytes)) {
                (Ok(kind), Ok(id)) => kinds.push((id, kind)),
                _ => bad = Some("kind"),
            }
            true
        })?;
        snapshot.scan_prefix(Cf::Meta, keys::META_RELATION_PREFIX, &mut |key, value| {
            let name = String::from_utf8_lossy(&key[keys::META_RELATION_PREFIX.len()..]).into_owned();
            let decoded = match value {
                [hi, lo, o] => orientation_from_u8(*o)
                    .and_then(|o| Relation::new(name, o).ok())
                    .map(|r| (u16::from_be_bytes([*hi, *lo]), r)),
                _ => None,
            };
            match decoded {
                Some(entry) => relations.push(entry),
                None => bad = Some("relation"),
            }
            true
        })?;
        let mut provenances: Vec<(ProvenanceId, Provenance)> = Vec::new();
        snapshot.scan_prefix(Cf::Meta, keys::META_PROVENANCE_PREFIX, &mut |key, value| {
            let decoded = match (&key[keys::META_PROVENANCE_PREFIX.len()..], <[u8; 4]>::try_from(value)) {
                ([tag, name @ ..], Ok(id)) => String::from_utf8(name.to_vec())
                    .ok()
                    .and_then(|name| provenance_from_parts(*tag, name))
                    .map(|p| (ProvenanceId::from_be_bytes(id), p)),
                _ => None,
            };
            match decoded {
                Some(entry) => provenances.push(entry),
                None => bad = Some("provenance"),
            }
            true
        })?;
        if let Some(what) = bad {
            return Err(EngineError(format!("corrupt interned {what} name in meta")));
        }
        kinds.sort_by_key(|(id, _)| *id);
        relations.sort_by_key(|(id, _)| *id);
        let mut names = Names::default();
        for (expected, (id, kind)) in (1..).zip(kinds) {
            if id != expected {
                return Err(EngineError(format!("interned kind ids have a gap at {expected}")));
            }
            names.push_kind(kind);
        }
        for (expected, (id, relation)) in (1..).zip(relations) {
            if id != expected {
                return Err(EngineError(format!("interned relation ids have a gap at {expected}")));
            }
            names.push_relation(relation);
        }
        provenances.sort_by_key(|(id, _)| *id);
        for (expected, (id, provenance)) in (1..).zip(provenances) {
            if id != expected {
                return Err(EngineError(format!("interned provenance ids have a gap at {expected}")));
            }
            names.push_provenance(provenance);
        }
        Ok(names)
    }

    /// How many names are interned, kinds, relations and provenances together; it only grows.
    pub fn len(&self) -> usize {
        self.kinds.len() + self.relations.len() + self.provenances.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    pub fn kind(&self, id: KindId) -> Option<&Kind> {
        self.kinds.get(usize::from(id).checked_sub(1)?)
    }

    pub fn kind_id(&self, name: &str) -> Option<KindId> {
        self.kind_ids.get(name).copied()
    }

    pub fn relation(&self, id: RelId) -> Option<&Relation> {
        self.relations.get(usize::from(id).checked_sub(1)?)
    }

    /// The name of relation `id`, or "" for an id this store never interned.
    pub fn relation_name(&self, id: RelId) -> &str {
        self.relation(id).map(Relation::name).unwrap_or_default()
    }

    pub fn relation_id(&self, name: &str) -> Option<RelId> {
        self.relation_ids.get(name).copied()
    }

    pub fn relations(&self) -> impl Iterator<Item = (RelId, &Relation)> {
        (1..).zip(self.relations.iter())
    }

    /// Orientation of every relation, indexed by id (index 0 unused), for walks.
    pub fn orientations(&self) -> Vec<Orientation> {
        std::iter::once(Orientation::Across).chain(self.relations.iter().map(|r| r.orientation())).collect()
    }

    /// The id of `kind`, interning it into `batch` if it is new.
    pub fn intern_kind(&mut self, kind: &Kind, batch: &mut WriteBatch) -> KindId {
        if let Some(id) = self.kind_id(kind.as_str()) {
            return id;
        }
        let id = self.push_kind(kind.clone());
        batch.put(Cf::Meta, &keys::meta_kind(kind.as_str()), &id.to_be_bytes());
        id
    }

    /// Declares `relation`, interning it into `batch` if it is new. Redeclaring it with the same
    /// orientation is fine; with another is an error.
    pub fn declare_relation(&mut self, relation: &Relation, batch: &mut WriteBatch) -> Result<RelId, RelationError> {
        if let Some(id) = self.relation_id(relation.name()) {
            let existing = self.relations[usize::from(id) - 1].orientation();
            if existing != relation.orientation() {
                return Err(RelationError::Conflict {
                    name: relation.name().to_owned(),
                    existing,
                    requested: relation.orientation(),
                });
            }
            return Ok(id);
        }
        let id = self.push_relation(relation.clone());
        let mut value = id.to_be_bytes().to_vec();
        value.push(orientation_to_u8(relation.orientation()));
        batch.put(Cf::Meta, &keys::meta_relation(relation.name()), &value);
        Ok(id)
    }

    pub fn provenance(&self, id: ProvenanceId) -> Option<&Provenance> {
        self.provenances.get((id as usize).checked_sub(1)?)
    }

    /// The id of the provenance of rule `rule`, interning it into `batch` if it is new.
    pub fn intern_rule(&mut self, rule: &str, batch: &mut WriteBatch) -> ProvenanceId {
        match self.provenance_ids[RULE].get(rule) {
            Some(&id) => id,
            None => self.intern_new(Provenance::Rule(rule.to_owned()), batch),
        }
    }

    /// The id of `provenance`, interning it into `batch` if it is new.
    pub fn intern_provenance(&mut self, provenance: &Provenance, batch: &mut WriteBatch) -> ProvenanceId {
        let (tag, name) = provenance_parts(provenance);
        match self.provenance_ids[tag].get(name) {
            Some(&id) => id,
            None => self.intern_new(provenance.clone(), batch),
        }
    }

    fn intern_new(&mut self, provenance: Provenance, batch: &mut WriteBatch) -> ProvenanceId {
        let (tag, name) = provenance_parts(&provenance);
        let key = keys::meta_provenance(PROVENANCE_TAGS[tag], name);
        let id = self.push_provenance(provenance);
        batch.put(Cf::Meta, &key, &id.to_be_bytes());
        id
    }

    fn push_provenance(&mut self, provenance: Provenance) -> ProvenanceId {
        let id = ProvenanceId::try_from(self.provenances.len() + 1).expect("fewer than 2^32 provenances");
        let (tag, name) = provenance_parts(&provenance);
        self.provenance_ids[tag].insert(name.to_owned(), id);
        self.provenances.push(provenance);
        id
    }

    fn push_kind(&mut self, kind: Kind) -> KindId {
        let id = KindId::try_from(self.kinds.len() + 1).expect("fewer than 65535 kinds");
        self.kind_ids.insert(kind.as_str().to_owned(), id);
        self.kinds.push(kind);
        id
    }

    fn push_relation(&mut self, relation: Relation) -> RelId {
        let id = RelId::try_from(self.relations.len() + 1).expect("fewer than 65535 relations");
        self.relation_ids.insert(relation.name().to_owned(), id);
        self.relations.push(relation);
        id
    }
}

fn orientation_to_u8(o: Orientation) -> u8 {
    match o {
        Orientation::Up => b'u',
        Orientation::Down => b'd',
        Orientation::Across => b'a',
    }
}

fn orientation_from_u8(b: u8) -> Option<Orientation> {
    match b {
        b'u' => Some(Orientation::Up),
        b'd' => Some(Orientation::Down),
        b'a' => Some(Orientation::Across),
        _ => None,
    }
}

/// Provenance tags as stored, indexed by [`RULE`], [`SCRAPER`] and [`API`].
const PROVENANCE_TAGS: [u8; 3] = [b'r', b's', b'a'];
const RULE: usize = 0;
const SCRAPER: usize = 1;
const API: usize = 2;

/// A provenance's tag (an index into [`PROVENANCE_TAGS`]) and name.
fn provenance_parts(provenance: &Provenance) -> (usize, &str) {
    match provenance {
        Provenance::Rule(name) => (RULE, name),
        Provenance::Scraper(name) => (SCRAPER, name),
        Provenance::Api(name) => (API, name),
    }
}

fn provenance_from_parts(tag: u8, name: String) -> Option<Provenance> {
    match tag {
        b'r' => Some(Provenance::Rule(name)),
        b's' => Some(Provenance::Scraper(name)),
        b'a' => Some(Provenance::Api(name)),
        _ => None,
    }
}
