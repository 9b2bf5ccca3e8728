//! Linking by rules, inside the batch that changed the items.
//!
//! After a batch's operations, every item it touched is re-derived as a source (its rules are
//! planned again, their targets looked up, and its rule-made edges brought to exactly that set)
//! unless its rules plan from it what they planned from it before, and so is every item whose
//! references point at what a touched item was or now is; when
//! only a touched item's labels changed, those sources re-derive their edges to it alone. The
//! references of every source are indexed by *signature* (what they look for: kind, name or
//! uid or selector, and where), so a target's arrival, change or deletion finds the sources
//! that wait for it; all but the references to the source's own namespace, which every item of
//! a namespace has: a Namespace finds those sources in the scope index. The graph therefore
//! depends only on the items, never on their order.
//!
//! Which edges belong to a source: its outgoing edges made by forward rules and its incoming
//! edges made by reverse rules. Edges from scrapers or API callers are never touched.

use super::in_order;
use super::plans::Plans;
use super::{BatchWriter, EdgeKey, KnownKeys};
use crate::cf::Cf;
use crate::codec::{EdgeValue, ItemRecord};
use crate::engine::Snapshot;
use crate::error::{Result, StoreError};
use crate::keys::{self, KindId, LookupField, RelId, ScopeTag, Signature, ANY_KIND};
use crate::names::Names;
use foldhash::HashMap;
use graphd_core::{ItemId, Provenance, Timestamp};
use graphd_rules::{Assessment, KindPattern, LookIn, Lookup, MatchField, PlannedRef, Rule, RuleSet, Source, Target};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

/// An edge of a source as linking sees it: (outgoing from the source, relation, far end).
type SourceEdge = (bool, RelId, ItemId);

/// Below this many sources derived in full a batch derives them on its own thread: waking
/// the pool costs more than a few plans (an incremental update has one or two).
const PLAN_IN_PARALLEL_FROM: usize = 16;

/// How many sources derived for relabelled items alone cost about what one derived in full
/// does: they plan from what they kept and read an edge or two. A relabelled Pod's 17
/// Services, budgets and policies took 1.8x the time on the pool than on the batch's thread.
const RELABELLED_PER_FULL: usize = 8;

/// How references are indexed, part of the rules' fingerprint: a store indexed another way
/// (one key per signature) is relinked, which re-indexes every reference.
const REFERENCE_FORMAT: &str = "references by hashed signature, listed per source";

/// What the rules of one source want, before it is written.
struct Derivation<'l> {
    source: ItemId,
    kind: KindId,
    /// Its rule-made edges: (outgoing, relation, far end) → (far end's kind, rule's name).
    edges: BTreeMap<SourceEdge, (KindId, &'l str)>,
    /// What its references look for, indexed so that arrivals find it (derived in full only).
    signatures: BTreeSet<Signature>,
    /// Fields a rule could not read.
    problems: usize,
}

/// Which far ends a source's rule-made edges are worked out for. A source whose only reason to
/// be derived again is that some items' labels changed can gain or lose edges to those items
/// alone: its references, and whatever else they find, are as they were.
#[derive(Debug, Clone)]
enum Among {
    All,
    Relabelled(BTreeSet<ItemId>),
}

/// Items this batch changed, indexed the way lookups need them: by hashes of what lookups
/// look for, so that indexing a batch copies no string. Two keys that share a hash only give
/// a lookup one candidate more, which it then rejects as it rejects any other.
#[derive(Default)]
struct BatchIndex {
    /// By kind and name.
    by_name: HashMap<u64, Vec<ItemId>>,
    by_short_id: HashMap<u64, Vec<ItemId>>,
    by_kind: HashMap<KindId, Vec<ItemId>>,
    /// By kind, cluster and namespace: a selector in one namespace reads only its items.
    by_namespace: HashMap<u64, Vec<ItemId>>,
}

impl BatchIndex {
    fn key(parts: impl std::hash::Hash) -> u64 {
        use std::hash::BuildHasher;
        foldhash::fast::FixedState::default().hash_one(parts)
    }
}

/// What the target lookups of one batch's linking share. Linking changes edges and references,
/// never items, so a lookup's answer holds until the batch is written: the many Pods of a
/// batch that name one Node, ServiceAccount, ConfigMap or owner look it up once.
struct Lookups {
    /// The batch's own items, indexed on the first lookup.
    index: OnceLock<BatchIndex>,
    /// Targets found by name or uid, by [`reference_key`].
    found: Mutex<HashMap<Vec<u8>, Targets>>,
    /// What selectors choose from, by [`reference_key`] (a selector's is its kind and scope):
    /// the Service, budget and policy of one namespace read its Pods once.
    selectable: Mutex<HashMap<Vec<u8>, Arc<Selectable>>>,
}

/// The items a reference points at, with their kinds.
pub(super) type Targets = Vec<(ItemId, KindId)>;

/// The live items of one kind in one scope, with their labels.
type Selectable = Vec<(ItemId, Vec<(String, String)>)>;

impl Lookups {
    /// For a batch that changed items, finding targets into `found` (empty): the map of the
    /// batch before, whose room a load's batches would otherwise grow anew, rehashing into
    /// memory fresh from the system each time.
    fn new(found: HashMap<Vec<u8>, Targets>) -> Self {
        Lookups { index: OnceLock::new(), found: Mutex::new(found), selectable: Mutex::default() }
    }

    /// The map targets were found into.
    fn into_found(self) -> HashMap<Vec<u8>, Targets> {
        self.found.into_inner().unwrap_or_else(|e| e.into_inner())
    }

    /// For a batch that changed no item: every target is read from the store.
    fn of_stored_items() -> Self {
        Lookups { index: OnceLock::from(BatchIndex::default()), found: Mutex::default(), selectable: Mutex::default() }
    }

    fn found(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Targets>> {
        self.found.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn selectable(&self) -> MutexGuard<'_, HashMap<Vec<u8>, Arc<Selectable>>> {
        self.selectable.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A rule set with what linking asks of it on every batch, worked out once.
#[derive(Debug)]
pub(crate) struct LinkRules {
    rules: RuleSet,
    /// The lookups the rules can make.
    wanted: Wanted,
    /// The lookups whose references are indexed by signature: all but those by the source's
    /// own namespace.
    indexed: Wanted,
    /// By target kind, the sources of rules that look it up by the source's own namespace.
    by_own_namespace: HashMap<String, Vec<KindPattern>>,
    /// Whether some rule looks targets up by uid.
    looks_up_uids: bool,
    /// Per rule name, whether its edges point at its source.
    reverse_by_rule: HashMap<String, bool>,
    /// Identifies the link rules: the store keeps the one its items were last linked by.
    pub(crate) fingerprint: u64,
    /// Plans kept for sources derived for relabelled items.
    plans: Plans,
    /// Whether every stored item was linked by these rules (the store holds their
    /// fingerprint): until then, an item changed is derived again even if its plan is not.
    items_linked: AtomicBool,
}

impl LinkRules {
    pub(crate) fn new(rules: RuleSet) -> Self {
        let wanted = wanted_signatures(rules.rules.iter());
        let indexed = wanted_signatures(rules.rules.iter().filter(|rule| !rule.looks_up_own_namespace()));
        let mut by_own_namespace: HashMap<String, Vec<KindPattern>> = HashMap::default();
        for rule in rules.rules.iter().filter(|rule| rule.looks_up_own_namespace()) {
            if let Target::Field { kind: Some(kind), .. } = &rule.target {
                by_own_namespace.entry(kind.as_str().to_owned()).or_default().push(rule.source.clone());
            }
        }
        let looks_up_uids = wanted.values().flatten().any(|&(what, _)| what == b'u');
        let reverse_by_rule = rules.rules.iter().map(|r| (r.name.clone(), r.reverse)).collect();
        // The compiled rules' own rendering, without the files they came from (a path given
        // another way is the same rule): any change to what a rule reads, matches or links
        // changes it.
        let unplaced: Vec<_> =
            rules.rules.iter().map(|r| graphd_rules::Rule { file: String::new(), ..r.clone() }).collect();
        let fingerprint = xxhash_rust::xxh3::xxh3_64(format!("{REFERENCE_FORMAT} {unplaced:?}").as_bytes());
        let (plans, items_linked) = (Plans::default(), AtomicBool::new(false));
        LinkRules {
            rules,
            wanted,
            indexed,
            by_own_namespace,
            looks_up_uids,
            reverse_by_rule,
            fingerprint,
            plans,
            items_linked,
        }
    }

    /// Forgets the plans kept for relabelled items' sources: see [`Plans::clear`].
    pub(crate) fn forget_plans(&self) {
        self.plans.clear();
    }

    /// Notes that every stored item was linked by these rules.
    pub(crate) fn mark_items_linked(&self) {
        self.items_linked.store(true, Ordering::Release);
    }

    fn items_linked(&self) -> bool {
        self.items_linked.load(Ordering::Acquire)
    }

    /// Kinds whose health rules read the clock.
    pub(crate) fn kinds_assessed_by_age(&self) -> Vec<graphd_core::Kind> {
        self.rules.kinds_assessed_by_age()
    }

    /// A document of `kind` without its volatile fields, when it has some.
    /// See [`RuleSet::stable_json`].
    pub(crate) fn stable_json(&self, kind: &str, document: &serde_json::Value, out: &mut Vec<u8>) -> bool {
        self.rules.stable_json(kind, document, out)
    }

    pub(crate) fn event_rule(&self, kind: &str) -> Option<&graphd_rules::events::EventRule> {
        self.rules.event_rule(kind)
    }

    /// The relations from event items to what they are about.
    pub(crate) fn event_relations(&self) -> impl Iterator<Item = &str> {
        self.rules.events.iter().map(|rule| rule.about.as_str())
    }

    /// The kind-specific changes from `old` to `new` (see [`RuleSet::changes_between`]).
    pub(crate) fn changes_between(
        &self,
        kind: &str,
        old: &serde_json::Value,
        new: &serde_json::Value,
    ) -> Vec<(graphd_core::ChangeType, String)> {
        self.rules.changes_between(kind, old, new)
    }

    /// Health, status and readiness of a document of `kind` by the health rules, at `at`.
    pub(crate) fn assess(&self, kind: &str, document: &serde_json::Value, at: Timestamp) -> Option<Assessment> {
        self.rules.assess(kind, document, at)
    }
}

impl<'a, S: Snapshot> BatchWriter<'a, S> {
    pub(super) fn link_by_rules(&mut self, link: &LinkRules) -> Result<()> {
        let mut sources: BTreeSet<ItemId> = BTreeSet::new();
        // What the touched items were and are now may be referenced by, by the lookups that
        // can find them differently now: in key order, so one cursor reads the references to
        // all of them moving forward.
        let mut referenced_as: BTreeSet<[u8; 9]> = BTreeSet::new();
        // Items whose labels alone changed, by the selector references that may choose them.
        let mut relabelled_as: BTreeMap<[u8; 9], Vec<ItemId>> = BTreeMap::new();
        let planned_as_before = self.planned_as_before(link)?;
        for (id, before) in &self.scratch.touched {
            if !planned_as_before.contains_key(id) {
                sources.insert(*id);
            }
            let now = self.item_record(*id)?;
            // A deleted item's edges, rule-made ones too, went with it, and references to it
            // stay indexed to wait: what referenced it has nothing left to change.
            if now.is_deleted() {
                continue;
            }
            match Refound::between(before.as_ref(), &now) {
                Refound::Nothing => {}
                // Kind, name, key and scope are as they were: so are its selector signatures.
                Refound::BySelector => {
                    for signature in self.target_signatures(&now, link, true)? {
                        if self.known.may_be_referenced(signature) {
                            relabelled_as.entry(keys::reference_prefix(signature)).or_default().push(*id);
                        }
                    }
                }
                Refound::All => {
                    for record in before.iter().chain(std::iter::once(now.as_ref())) {
                        let signatures = self.target_signatures(record, link, false)?.into_iter();
                        let referenced = signatures.filter(|&signature| self.known.may_be_referenced(signature));
                        referenced_as.extend(referenced.map(keys::reference_prefix));
                        self.in_namespace_named_by(record, link, &mut sources)?;
                    }
                }
            }
        }
        self.snapshot.scan_prefixes(Cf::Pending, &mut referenced_as.iter().map(|p| p.as_slice()), &mut |key, _| {
            if let Ok(id) = keys::lookup_id(key) {
                sources.insert(id);
            }
            true
        })?;
        let mut narrow: BTreeMap<ItemId, BTreeSet<ItemId>> = BTreeMap::new();
        self.snapshot.scan_prefixes(Cf::Pending, &mut relabelled_as.keys().map(|p| p.as_slice()), &mut |key, _| {
            if let (Ok(id), Some(relabelled)) = (keys::lookup_id(key), key.get(..9).and_then(|p| relabelled_as.get(p)))
            {
                if !sources.contains(&id) {
                    narrow.entry(id).or_default().extend(relabelled);
                }
            }
            true
        })?;
        // Those derived anyway (for what changed among their targets) count their problems then.
        let not_derived = planned_as_before.iter().filter(|(id, _)| !sources.contains(id) && !narrow.contains_key(id));
        self.outcome.rule_problems += not_derived.map(|(_, problems)| problems).sum::<usize>();
        let all = sources.into_iter().map(|source| (source, Among::All));
        let rederive: Vec<_> =
            all.chain(narrow.into_iter().map(|(id, items)| (id, Among::Relabelled(items)))).collect();
        let lookups = Lookups::new(std::mem::take(&mut self.scratch.found_targets));
        let derived = self.derive(link, &rederive, &lookups);
        self.scratch.found_targets = lookups.into_found();
        derived
    }

    /// Re-derives `sources` (items stored before) under the rules set now, and tombstones their
    /// outgoing edges made by rules that are no longer in the set: after the rules changed.
    pub(crate) fn relink(mut self, sources: &[ItemId]) -> Result<super::Built> {
        if let Some(link) = self.writer.rules.clone() {
            for &source in sources {
                for out_key in self.edges_of_dropped_rules(&link, source)? {
                    self.tombstone_edge(out_key)?;
                }
            }
            let all: Vec<_> = sources.iter().map(|&source| (source, Among::All)).collect();
            self.derive(&link, &all, &Lookups::of_stored_items())?;
        }
        Ok(self.finish())
    }

    /// The live outgoing edges of `source` whose rule the rules set now does not have.
    fn edges_of_dropped_rules(&self, link: &LinkRules, source: ItemId) -> Result<Vec<EdgeKey>> {
        let mut dropped = Vec::new();
        let mut failure = None;
        self.snapshot.scan_prefix(Cf::EdgesOut, &keys::edge_prefix(source), &mut |key, value| {
            match (<EdgeKey>::try_from(key), EdgeValue::decode(value)) {
                (Ok(out_key), Ok(value)) => {
                    let provenance = self.writer.names.provenance(value.provenance);
                    if let (Some(Provenance::Rule(rule)), None) = (provenance, value.deleted_at) {
                        if !link.reverse_by_rule.contains_key(rule.as_str()) {
                            dropped.push(out_key);
                        }
                    }
                }
                (Err(_), _) => failure = Some(StoreError::Corrupt(format!("edge key of item {source}"))),
                (_, Err(e)) => failure = Some(StoreError::from(e)),
            }
            true
        })?;
        match failure {
            Some(e) => Err(e),
            None => Ok(dropped),
        }
    }

    fn batch_index(&self) -> BatchIndex {
        let mut index = BatchIndex::default();
        for (&id, record) in &self.scratch.items {
            index.by_name.entry(BatchIndex::key((record.kind, &record.name))).or_default().push(id);
            index.by_kind.entry(record.kind).or_default().push(id);
            let in_namespace = (record.kind, record.cluster.as_deref(), record.namespace.as_deref());
            index.by_namespace.entry(BatchIndex::key(in_namespace)).or_default().push(id);
            if let Ok(short_id) = keys::external_short_id(&record.key) {
                index.by_short_id.entry(BatchIndex::key(&*short_id)).or_default().push(id);
            }
        }
        index
    }

    /// Brings the rule-made edges (to the far ends it names) and the indexed references of each
    /// of `sources` to what its rules say now. What the rules want is worked out from reads
    /// alone, for many sources in parallel; the edges and references are then changed one
    /// source after another, in order.
    fn derive(&mut self, link: &LinkRules, sources: &[(ItemId, Among)], lookups: &Lookups) -> Result<()> {
        let wants = |(source, among): &(ItemId, Among)| self.wanted_by_rules(link, *source, among, lookups);
        let cost: usize =
            sources.iter().map(|(_, among)| if let Among::All = among { RELABELLED_PER_FULL } else { 1 }).sum();
        let derivations = in_order(sources, cost >= PLAN_IN_PARALLEL_FROM * RELABELLED_PER_FULL, wants)?;
        for (derivation, (_, among)) in derivations.into_iter().zip(sources) {
            self.outcome.rule_problems += derivation.problems;
            self.settle(link, derivation, among)?;
        }
        Ok(())
    }

    /// The edges and references the rules of `source` want now, edges to far ends `among`.
    fn wanted_by_rules<'l>(
        &self,
        link: &'l LinkRules,
        source: ItemId,
        among: &Among,
        lookups: &Lookups,
    ) -> Result<Derivation<'l>> {
        // A source derived for relabelled items plans from what it planned the last time, while
        // no batch wrote its record since; unless this batch writes it, as the store does not
        // hold that record yet.
        let reuses = matches!(among, Among::Relabelled(_)) && !self.scratch.items.contains_key(&source);
        let kept = match reuses {
            true => link.plans.get(source, self.adjacency.liveness.changed_in(source)),
            false => None,
        };
        let record = match &kept {
            Some(plan) => Cow::Borrowed(&plan.record),
            None => self.item_record(source)?,
        };
        let mut derivation =
            Derivation { source, kind: record.kind, edges: BTreeMap::new(), signatures: BTreeSet::new(), problems: 0 };
        if record.is_deleted() {
            return Ok(derivation);
        }
        let (planned, problems) = match &kept {
            Some(plan) => (plan.references(&link.rules), plan.problems),
            None => {
                let (planned, problems) = self.plan(link, source, &record)?;
                if reuses {
                    link.plans.keep(source, &record, self.writer.batch_seq, &link.rules, &planned, problems);
                }
                (planned, problems)
            }
        };
        derivation.problems = problems;
        for reference in planned {
            let rel = self.writer.names.relation_id(&reference.rule.relation).ok_or_else(|| {
                StoreError::Corrupt(format!(
                    "rule {} uses undeclared relation {}",
                    reference.rule.name, reference.rule.relation
                ))
            })?;
            let targets = match among {
                Among::All => {
                    let key = reference_key(&reference.lookup, &record);
                    // Found from the scope index when its target arrives: see `in_namespace_named_by`.
                    if !reference.rule.looks_up_own_namespace() {
                        derivation.signatures.insert(signature(&key));
                    }
                    self.targets(&reference.lookup, &key, &record, lookups)?
                }
                // Its references, and so their signatures, are as they were.
                Among::Relabelled(items) => self.targets_among(&reference.lookup, items, &record)?,
            };
            for (target, target_kind) in targets {
                if target != source {
                    let edge = (!reference.rule.reverse, rel, target);
                    derivation.edges.entry(edge).or_insert((target_kind, &reference.rule.name));
                }
            }
        }
        Ok(derivation)
    }

    /// Writes what [`Self::wanted_by_rules`] found for far ends `among`: the source's
    /// references, its new rule-made edges, and tombstones for the ones its rules no longer make.
    fn settle(&mut self, link: &LinkRules, derivation: Derivation, among: &Among) -> Result<()> {
        let Derivation { source, kind, edges: desired, signatures, .. } = derivation;
        // A source derived for relabelled items alone has the references it had.
        if let Among::All = among {
            self.index_references(source, &signatures)?;
        }
        let existing = self.rule_edges(&link.reverse_by_rule, source, among)?;
        for edge in existing.iter().filter(|e| !desired.contains_key(e)) {
            let (outgoing, rel, far) = *edge;
            let out_key = if outgoing { keys::edge(source, rel, far) } else { keys::edge(far, rel, source) };
            self.tombstone_edge(out_key)?;
        }
        for ((outgoing, rel, far), (far_kind, rule)) in desired {
            if existing.contains(&(outgoing, rel, far)) {
                continue;
            }
            let (near, far) = ((source, kind), (far, far_kind));
            let (from, to) = if outgoing { (near, far) } else { (far, near) };
            let provenance = self.writer.names.intern_rule(rule, &mut self.batch);
            self.add_edge(from, rel, to, provenance)?;
        }
        Ok(())
    }

    /// The references the rules plan from `source` (whose record is `record`) now, and how
    /// many of its fields a rule could not read.
    fn plan<'l>(
        &self,
        link: &'l LinkRules,
        source: ItemId,
        record: &ItemRecord,
    ) -> Result<(Vec<PlannedRef<'l>>, usize)> {
        self.plan_from(link, record, &*self.document(source)?)
    }

    /// The items this batch updated whose rules plan from them what they planned from them
    /// before, each with how many of its fields a rule could not read: their references and
    /// rule-made edges stand as they are, and deriving them again would find them again.
    /// Planned on every core when there are many.
    fn planned_as_before(&self, link: &LinkRules) -> Result<HashMap<ItemId, usize>> {
        // Until every stored item was linked by these rules, an item changed is the way they
        // reach it.
        if !link.items_linked() {
            return Ok(HashMap::default());
        }
        // An item whose edges this batch linked or unlinked is derived as before, which puts back
        // what its rules make.
        let updated: Vec<(ItemId, &ItemRecord)> = self
            .scratch
            .touched
            .iter()
            .filter(|(id, _)| !self.scratch.edges_by_item.contains_key(*id))
            .filter_map(|(&id, before)| Some((id, before.as_ref()?)))
            .collect();
        let check = |&(id, before): &(ItemId, &ItemRecord)| {
            let problems = self.plans_as_before(link, id, before)?;
            Ok(problems.map(|problems| (id, problems)))
        };
        let checked = in_order(&updated, updated.len() >= PLAN_IN_PARALLEL_FROM, check)?;
        Ok(checked.into_iter().flatten().collect())
    }

    /// How many fields of `source` a rule could not read, if its rules plan from it now what
    /// they planned from it before this batch, when it was `before` (with its stored
    /// document), and its key and scope are as they were.
    fn plans_as_before(&self, link: &LinkRules, source: ItemId, before: &ItemRecord) -> Result<Option<usize>> {
        let Some(document_before) = self.documents_before.get(&source) else { return Ok(None) };
        let now = self.item_record(source)?;
        if now.is_deleted() || Refound::between(Some(before), &now) == Refound::All {
            return Ok(None);
        }
        let (planned_now, problems) = self.plan(link, source, &now)?;
        let (planned_before, _) = self.plan_from(link, before, document_before)?;
        let same = planned_now.len() == planned_before.len()
            && planned_now
                .iter()
                .zip(&planned_before)
                .all(|(a, b)| std::ptr::eq(a.rule, b.rule) && a.lookup == b.lookup);
        Ok(same.then_some(problems))
    }

    /// The references the rules plan from an item that is `record` with `document`.
    fn plan_from<'l>(
        &self,
        link: &'l LinkRules,
        record: &ItemRecord,
        document: &serde_json::Value,
    ) -> Result<(Vec<PlannedRef<'l>>, usize)> {
        let kind = self
            .writer
            .names
            .kind(record.kind)
            .cloned()
            .ok_or_else(|| StoreError::Corrupt(format!("kind id {}", record.kind)))?;
        let labels: BTreeMap<String, String> = record.labels.iter().cloned().collect();
        let plan_source = Source { kind: &kind, namespace: record.namespace.as_deref(), labels: &labels, document };
        let (planned, problems) = link.rules.plan(&plan_source);
        Ok((planned, problems.len()))
    }

    /// By rule, the references of `sources` that find no target now: what waits for an item
    /// that has not arrived. Reads only; the batch is never written.
    pub(crate) fn waiting(self, sources: &[ItemId]) -> Result<BTreeMap<String, usize>> {
        let mut waiting = BTreeMap::new();
        let Some(link) = self.writer.rules.clone() else { return Ok(waiting) };
        let lookups = Lookups::of_stored_items();
        for &source in sources {
            let record = self.item_record(source)?;
            if record.is_deleted() {
                continue;
            }
            for reference in self.plan(&link, source, &record)?.0 {
                let key = reference_key(&reference.lookup, &record);
                if self.targets(&reference.lookup, &key, &record, &lookups)?.iter().all(|(target, _)| *target == source)
                {
                    *waiting.entry(reference.rule.name.clone()).or_default() += 1;
                }
            }
        }
        Ok(waiting)
    }

    /// The document of `id`: the one this batch writes, else the stored one.
    pub(super) fn document(&self, id: ItemId) -> Result<Cow<'a, serde_json::Value>> {
        match self.documents.get(&id) {
            Some(document) => Ok(Cow::Borrowed(*document)),
            None => Ok(Cow::Owned(self.stored_document(id)?)),
        }
    }

    pub(super) fn stored_document(&self, id: ItemId) -> Result<serde_json::Value> {
        match self.snapshot.get(Cf::Documents, &keys::item(id))? {
            None => Ok(serde_json::Value::Null),
            Some(bytes) => {
                serde_json::from_slice(&bytes).map_err(|e| StoreError::Corrupt(format!("document of item {id}: {e}")))
            }
        }
    }

    /// Replaces the indexed signatures of `source` with `signatures`.
    fn index_references(&mut self, source: ItemId, signatures: &BTreeSet<Signature>) -> Result<()> {
        let key = keys::source_references(source);
        let mut old = BTreeSet::new();
        let mut kept_per_key = Vec::new();
        // An item this batch created has nothing stored yet.
        if !self.scratch.fresh.contains(&source) {
            let mut value = None;
            self.snapshot.scan_prefix(Cf::Pending, &key, &mut |found, stored| {
                match found.len() == key.len() {
                    true => value = Some(stored.to_vec()),
                    false => kept_per_key.push(found[key.len()..].to_vec()),
                }
                true
            })?;
            old.extend(keys::decode_signatures(value.as_deref().unwrap_or_default())?);
        }
        // A store that kept one key per signature (`s · source · signature`, whole or hashed)
        // loses them on a relink: before the puts below, which may write the same references.
        for signature in kept_per_key {
            self.batch.delete(Cf::Pending, &[&key[..], &signature].concat());
            self.batch.delete(Cf::Pending, &[&b"r"[..], &signature, &source.0.to_be_bytes()].concat());
        }
        if old == *signatures {
            return Ok(());
        }
        match signatures.is_empty() {
            true => self.batch.delete(Cf::Pending, &key),
            false => self.batch.put(Cf::Pending, &key, &keys::encode_signatures(signatures)),
        }
        for &gone in old.difference(signatures) {
            self.batch.delete(Cf::Pending, &keys::reference(gone, source));
        }
        for &new in signatures.difference(&old) {
            self.known.referenced(new);
            self.batch.put(Cf::Pending, &keys::reference(new, source), &[]);
        }
        Ok(())
    }

    /// The live edges of `source` to far ends `among` that its own rules made.
    /// `reverse_by_rule` says, per rule name, whether the rule's edges point at its source.
    fn rule_edges(
        &self,
        reverse_by_rule: &HashMap<String, bool>,
        source: ItemId,
        among: &Among,
    ) -> Result<BTreeSet<SourceEdge>> {
        let values = match among {
            Among::All => self.edge_values_of(source)?,
            Among::Relabelled(items) => self.edge_values_between(source, items)?,
        };
        let mut out = BTreeSet::new();
        for (key, value) in values {
            let (from, rel, to) = keys::decode_edge(&key)?;
            let Some(Provenance::Rule(rule)) = self.writer.names.provenance(value.provenance) else { continue };
            if value.deleted_at.is_some() {
                continue;
            }
            match reverse_by_rule.get(rule.as_str()) {
                Some(false) if from == source => drop(out.insert((true, rel, to))),
                Some(true) if to == source => drop(out.insert((false, rel, from))),
                _ => {}
            }
        }
        Ok(out)
    }

    /// Every edge of `source`, stored or in this batch, with its latest value.
    fn edge_values_of(&self, source: ItemId) -> Result<BTreeMap<EdgeKey, EdgeValue>> {
        // An item this batch created has only the edges the batch gave it.
        let stored = if self.scratch.fresh.contains(&source) { Vec::new() } else { self.stored_edges_of(source)? };
        let mut values: BTreeMap<EdgeKey, EdgeValue> =
            stored.into_iter().map(|edge| (edge.out_key, edge.value)).collect();
        for key in self.scratch.edges_by_item.get(&source).into_iter().flatten() {
            values.insert(*key, self.scratch.edges[key]);
        }
        Ok(values)
    }

    /// The edges between `source` and `items`, stored or in this batch, with their latest
    /// values. The adjacency says which exist, so only those are read: a policy selecting a
    /// namespace of Pods reads its edge to the one relabelled, not its edges to all of them.
    fn edge_values_between(&self, source: ItemId, items: &BTreeSet<ItemId>) -> Result<BTreeMap<EdgeKey, EdgeValue>> {
        let mut values = BTreeMap::new();
        for key in self.edges_of_to(source, |far| items.contains(&far))? {
            values.insert(key, self.edge_value(&key)?.ok_or_else(|| super::corrupt_edge(&key))?);
        }
        Ok(values)
    }

    /// The live items a reference (`lookup`, planned from `source`, whose [`reference_key`] is
    /// `key`) points at now, with their kinds. A lookup by field is made once per batch; a
    /// selector is matched against the items of its kind and scope, read once per batch.
    fn targets(&self, lookup: &Lookup, key: &[u8], source: &ItemRecord, lookups: &Lookups) -> Result<Targets> {
        if let Lookup::Selector { kind, selector, namespace, look_in } = lookup {
            let Some(kind) = self.writer.names.kind_id(kind.as_str()) else { return Ok(Vec::new()) };
            let known = lookups.selectable().get(key).cloned();
            let selectable = match known {
                Some(selectable) => selectable,
                None => {
                    let read = Arc::new(self.selectable(kind, *look_in, namespace.as_deref(), source, lookups)?);
                    lookups.selectable().insert(key.to_vec(), read.clone());
                    read
                }
            };
            let selected = selectable.iter().filter(|(_, labels)| selector.matches_by(|key| label(labels, key)));
            return Ok(selected.map(|(id, _)| (*id, kind)).collect());
        }
        if let Some(found) = lookups.found().get(key) {
            return Ok(found.clone());
        }
        let found = self.find_by_field(lookup, source, lookups)?;
        lookups.found().insert(key.to_vec(), found.clone());
        Ok(found)
    }

    /// The live ones of `items` that a reference (`lookup`, planned from `source`) points at,
    /// with their kinds: what [`Self::targets`] would find of them.
    fn targets_among(&self, lookup: &Lookup, items: &BTreeSet<ItemId>, source: &ItemRecord) -> Result<Targets> {
        let names = &self.writer.names;
        let mut out = Vec::new();
        for &id in items {
            let record = self.item_record(id)?;
            let found = match lookup {
                Lookup::Selector { kind, selector, namespace, look_in } => {
                    names.kind_id(kind.as_str()) == Some(record.kind)
                        && in_scope(*look_in, namespace.as_deref(), &record, source)
                        && selector.matches_by(|key| label(&record.labels, key))
                }
                Lookup::Field { .. } => matches(lookup, &record, source, names),
            };
            if found && !record.is_deleted() {
                out.push((id, record.kind));
            }
        }
        Ok(out)
    }

    /// The live items of `kind` that a selector of `source` looking in `look_in` (and
    /// `namespace`) chooses from, read from the batch and the store.
    fn selectable(
        &self,
        kind: KindId,
        look_in: LookIn,
        namespace: Option<&str>,
        source: &ItemRecord,
        lookups: &Lookups,
    ) -> Result<Selectable> {
        let index = lookups.index.get_or_init(|| self.batch_index());
        let cluster = source.cluster.as_deref().unwrap_or_default();
        let (prefix, in_batch) = match (look_in, namespace) {
            (LookIn::Namespace, Some(ns)) => {
                let in_namespace = BatchIndex::key((kind, source.cluster.as_deref(), Some(ns)));
                (
                    keys::scope_kind_prefix(ScopeTag::Namespace, &[cluster, ns], kind),
                    index.by_namespace.get(&in_namespace),
                )
            }
            (LookIn::Cluster, _) => {
                (keys::scope_kind_prefix(ScopeTag::Cluster, &[cluster], kind), index.by_kind.get(&kind))
            }
            _ => (keys::scope_kind_prefix(ScopeTag::All, &[], kind), index.by_kind.get(&kind)),
        };
        let mut candidates = self.scan_ids(Cf::Scope, &prefix)?;
        candidates.extend(in_batch.into_iter().flatten());
        let mut out = Vec::new();
        for id in candidates {
            let record = self.item_record(id)?;
            if !record.is_deleted() && record.kind == kind && in_scope(look_in, namespace, &record, source) {
                out.push((id, record.labels.clone()));
            }
        }
        Ok(out)
    }

    /// The ids under `prefix` in the scope or lookup index.
    fn scan_ids(&self, cf: Cf, prefix: &[u8]) -> Result<BTreeSet<ItemId>> {
        let mut ids = BTreeSet::new();
        self.snapshot.scan_prefix(cf, prefix, &mut |key, _| {
            let id = match cf {
                Cf::Scope => keys::decode_scope_tail(key).map(|(_, id)| id),
                _ => keys::lookup_id(key),
            };
            if let Ok(id) = id {
                ids.insert(id);
            }
            true
        })?;
        Ok(ids)
    }

    /// The ids under `prefix` in the lookup index: from what this load wrote when it knows
    /// every item, else from the engine.
    fn lookup_ids(&self, prefix: &[u8]) -> Result<BTreeSet<ItemId>> {
        match self.known.under(prefix) {
            Some(ids) => Ok(ids.collect()),
            None => self.scan_ids(Cf::Lookup, prefix),
        }
    }

    /// The live items a lookup by name or uid finds, read from the batch and the store.
    fn find_by_field(&self, lookup: &Lookup, source: &ItemRecord, lookups: &Lookups) -> Result<Targets> {
        let index = lookups.index.get_or_init(|| self.batch_index());
        let names = &self.writer.names;
        let kind_id = |kind: &Option<graphd_core::Kind>| kind.as_ref().map(|k| names.kind_id(k.as_str()));
        let candidates = match lookup {
            Lookup::Field { kind, field: MatchField::Name, value, look_in, namespace } => {
                let Some(Some(kind)) = kind_id(kind) else { return Ok(Vec::new()) };
                let cluster = source.cluster.as_deref().unwrap_or_default();
                let prefix = name_lookup_prefix(kind, value, *look_in, cluster, namespace.as_deref());
                let mut candidates = self.lookup_ids(&prefix)?;
                candidates.extend(index.by_name.get(&BatchIndex::key((kind, value))).into_iter().flatten());
                candidates
            }
            Lookup::Field { kind, field: MatchField::Uid, value, .. } => {
                if let Some(None) = kind_id(kind) {
                    return Ok(Vec::new());
                }
                let mut candidates = self.lookup_ids(&keys::lookup_prefix(ANY_KIND, LookupField::ShortId, &[value]))?;
                candidates.extend(index.by_short_id.get(&BatchIndex::key(value)).into_iter().flatten());
                candidates
            }
            Lookup::Selector { .. } => unreachable!("selectors are matched by Self::targets"),
        };
        let mut out = Vec::new();
        for id in candidates {
            let record = self.item_record(id)?;
            if !record.is_deleted() && matches(lookup, &record, source, names) {
                out.push((id, record.kind));
            }
        }
        Ok(out)
    }

    /// Adds to `sources` the items whose rules look `record` up by their own namespace: those
    /// of the namespace it names, in its cluster, as the scope index lists them (deleted ones
    /// too, which plan nothing). Their references are not indexed: every item of a namespace
    /// would have one, a fifth of the index.
    fn in_namespace_named_by(
        &self,
        record: &ItemRecord,
        link: &LinkRules,
        sources: &mut BTreeSet<ItemId>,
    ) -> Result<()> {
        let names = &self.writer.names;
        let kind = names.kind(record.kind).map(|k| k.as_str()).unwrap_or_default();
        let Some(source_kinds) = link.by_own_namespace.get(kind) else { return Ok(()) };
        let cluster = record.cluster.as_deref().unwrap_or_default();
        let prefix = keys::scope_prefix(ScopeTag::Namespace, &[cluster, &record.name]);
        self.snapshot.scan_prefix(Cf::Scope, &prefix, &mut |key, _| {
            if let Ok((kind, id)) = keys::decode_scope_tail(key) {
                if names.kind(kind).is_some_and(|kind| source_kinds.iter().any(|pattern| pattern.matches(kind))) {
                    sources.insert(id);
                }
            }
            true
        })?;
        Ok(())
    }

    /// Every signature under which sources may reference `record`, among the lookups the
    /// rules can make whose references are indexed (only their selectors' with
    /// `selectors_only`).
    fn target_signatures(&self, record: &ItemRecord, link: &LinkRules, selectors_only: bool) -> Result<Vec<Signature>> {
        let kind = self.writer.names.kind(record.kind).map(|k| k.as_str()).unwrap_or_default();
        let short_id = keys::external_short_id(&record.key)?;
        let mut out = Vec::new();
        // Lookups of this kind by name, uid or labels; lookups of any kind only by uid.
        let of_kind = link.indexed.get(kind).into_iter().flatten().map(|&(what, look_in)| (what, kind, look_in));
        let of_any = link.indexed.get("").into_iter().flatten().filter(|(what, _)| *what == b'u');
        for (what, kind, look_in) in of_kind.chain(of_any.map(|&(what, look_in)| (what, "", look_in))) {
            if selectors_only && what != b's' {
                continue;
            }
            // An item without a namespace is found "in the namespace" by sources without one (see
            // `in_scope`): its signature names no namespace, as their references do.
            let value = match what {
                b'n' => Some(record.name.as_str()),
                b'u' => Some(&*short_id),
                _ => None,
            };
            out.push(signature(&lookup_key(what, kind, value, look_in, record.namespace.as_deref(), record)));
        }
        Ok(out)
    }
}

/// Which lookups can find a changed item differently than before: the sources referencing it
/// by those are derived again, and only those. A lookup by name or uid reads an item's kind,
/// name, key and scope; a selector reads those and its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refound {
    All,
    BySelector,
    Nothing,
}

impl Refound {
    /// For an item that was `before` (none if it is new) and is `now`, live.
    fn between(before: Option<&ItemRecord>, now: &ItemRecord) -> Self {
        let Some(before) = before.filter(|before| !before.is_deleted()) else { return Refound::All };
        if looked_up_by(before) != looked_up_by(now) {
            Refound::All
        } else if before.labels != now.labels {
            Refound::BySelector
        } else {
            Refound::Nothing
        }
    }
}

/// What a lookup by name or uid reads of an item: its key, kind, name and scope.
type LookedUpBy<'r> = (&'r [u8], KindId, &'r str, [Option<&'r str>; 4]);

fn looked_up_by(record: &ItemRecord) -> LookedUpBy<'_> {
    let scope = [&record.namespace, &record.cluster, &record.account, &record.region].map(|part| part.as_deref());
    (&record.key, record.kind, &record.name, scope)
}

/// By target kind ("" for any), the lookups some rule makes: (name, uid or selector; where).
type Wanted = HashMap<String, Vec<(u8, LookIn)>>;

/// The lookups the rules can make, so a changed item only checks the signatures that can
/// reference it.
fn wanted_signatures<'r>(rules: impl Iterator<Item = &'r Rule>) -> Wanted {
    let mut wanted = Wanted::default();
    for rule in rules {
        let (kind, lookup) = match &rule.target {
            Target::Field { kind, field, look_in, .. } => {
                let what = if *field == MatchField::Name { b'n' } else { b'u' };
                (kind.as_ref().map(|k| k.as_str().to_owned()).unwrap_or_default(), (what, *look_in))
            }
            Target::Selector { kind, look_in, .. } => (kind.as_str().to_owned(), (b's', *look_in)),
        };
        let of_kind = wanted.entry(kind).or_default();
        if !of_kind.contains(&lookup) {
            of_kind.push(lookup);
        }
    }
    wanted
}

/// Whether `record` is what the lookup by field `lookup`, planned from `source`, looks for.
fn matches(lookup: &Lookup, record: &ItemRecord, source: &ItemRecord, names: &crate::names::Names) -> bool {
    let Lookup::Field { kind, field, value, namespace, look_in } = lookup else { return false };
    if kind.as_ref().is_some_and(|k| names.kind_id(k.as_str()) != Some(record.kind)) {
        return false;
    }
    let found = match field {
        MatchField::Name => &record.name == value,
        MatchField::Uid => keys::external_short_id(&record.key).is_ok_and(|short_id| short_id == value.as_str()),
    };
    found && in_scope(*look_in, namespace.as_deref(), record, source)
}

/// The value of label `key` among `labels`.
fn label<'l>(labels: &'l [(String, String)], key: &str) -> Option<&'l str> {
    labels.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

/// Whether `record` is where a reference of `source` looking in `look_in` (and `namespace`)
/// looks.
fn in_scope(look_in: LookIn, namespace: Option<&str>, record: &ItemRecord, source: &ItemRecord) -> bool {
    match look_in {
        LookIn::Namespace => record.cluster == source.cluster && record.namespace.as_deref() == namespace,
        LookIn::Cluster => record.cluster == source.cluster,
        LookIn::Account => record.account == source.account,
        LookIn::Region => record.account == source.account && record.region == source.region,
        LookIn::Anywhere => true,
    }
}

/// Notes in `known`, for the rest of a load that knows every item, the prefixes of the lookup
/// index under which `record` (of item `id`) can be looked up by the rules (see
/// `BatchWriter::find_by_field`).
pub(super) fn remember_lookups(
    known: &mut KnownKeys,
    names: &Names,
    link: &LinkRules,
    id: ItemId,
    record: &ItemRecord,
) {
    let kind = names.kind(record.kind).map(|k| k.as_str()).unwrap_or_default();
    let cluster = record.cluster.as_deref().unwrap_or_default();
    let namespace = record.namespace.as_deref().unwrap_or_default();
    for &(what, look_in) in link.wanted.get(kind).into_iter().flatten() {
        if what != b'n' {
            continue;
        }
        let prefix = |namespace| name_lookup_prefix(record.kind, &record.name, look_in, cluster, namespace);
        known.put_under(&prefix(Some(namespace)), id);
        if look_in == LookIn::Namespace {
            // A reference from an item without a namespace looks in the whole cluster.
            known.put_under(&prefix(None), id);
        }
    }
    if let (true, Ok(short_id)) = (link.looks_up_uids, keys::external_short_id(&record.key)) {
        known.put_under(&keys::lookup_prefix(ANY_KIND, LookupField::ShortId, &[&short_id]), id);
    }
}

/// The prefix of the lookup index under which a lookup by name looks for `name` of `kind`,
/// from an item in `cluster`, in `look_in` (and `namespace`): as narrow as the rule allows, so
/// that a name common to every namespace ("default") does not make each lookup read the items
/// of all of them.
fn name_lookup_prefix(kind: KindId, name: &str, look_in: LookIn, cluster: &str, namespace: Option<&str>) -> Vec<u8> {
    let parts: &[&str] = match (look_in, namespace) {
        (LookIn::Namespace, Some(ns)) => &[name, cluster, ns],
        (LookIn::Namespace | LookIn::Cluster, _) => &[name, cluster],
        _ => &[name],
    };
    keys::lookup_prefix(kind, LookupField::NaturalName, parts)
}

fn look_in_word(look_in: LookIn) -> &'static str {
    match look_in {
        LookIn::Namespace => "namespace",
        LookIn::Cluster => "cluster",
        LookIn::Account => "account",
        LookIn::Region => "region",
        LookIn::Anywhere => "anywhere",
    }
}

/// `what · kind · value · scope…`: what a lookup looks for (`n`ame, `u`id or `s`elector, the
/// kind, empty for any, and the value looked for) and where (the parts of `scope_of`'s scope
/// that `look_in` names, then `look_in` itself), each part delimited, so that distinct lookups
/// have distinct bytes. A reference and the target it finds give the same bytes.
fn lookup_key(
    what: u8,
    kind: &str,
    value: Option<&str>,
    look_in: LookIn,
    namespace: Option<&str>,
    scope_of: &ItemRecord,
) -> Vec<u8> {
    // Room for every part it may hold (escapes aside), so that building it copies each once.
    let (cluster, account, region) =
        (scope_of.cluster.as_deref(), scope_of.account.as_deref(), scope_of.region.as_deref());
    let parts = [Some(kind), value, cluster, namespace, account, region, Some(look_in_word(look_in))];
    let mut out = Vec::with_capacity(1 + parts.iter().map(|part| part.map_or(0, str::len) + 2).sum::<usize>());
    out.push(what);
    let mut put = |part: Option<&str>| keys::put_str(&mut out, part.unwrap_or_default());
    put(Some(kind));
    if value.is_some() {
        put(value);
    }
    match look_in {
        LookIn::Namespace => {
            put(cluster);
            put(namespace);
        }
        LookIn::Cluster => put(cluster),
        LookIn::Account => put(account),
        LookIn::Region => {
            put(account);
            put(region);
        }
        LookIn::Anywhere => {}
    }
    put(Some(look_in_word(look_in)));
    out
}

/// The [`lookup_key`] of a reference planned from `source`: the key a batch shares its
/// lookups under, and what its signature hashes.
fn reference_key(lookup: &Lookup, source: &ItemRecord) -> Vec<u8> {
    match lookup {
        Lookup::Field { kind, field, value, namespace, look_in } => {
            let what = if *field == MatchField::Name { b'n' } else { b'u' };
            let kind = kind.as_ref().map(|k| k.as_str()).unwrap_or_default();
            lookup_key(what, kind, Some(value), *look_in, namespace.as_deref(), source)
        }
        Lookup::Selector { kind, namespace, look_in, .. } => {
            lookup_key(b's', kind.as_str(), None, *look_in, namespace.as_deref(), source)
        }
    }
}

/// The signature references are indexed under: the hash of their [`lookup_key`].
fn signature(lookup_key: &[u8]) -> Signature {
    xxhash_rust::xxh3::xxh3_64(lookup_key)
}
