//! Kubernetes events into the store: each object becomes its item as it arrives; each
//! completed listing of a kind is a resync of that kind in its cluster.

use super::{Sink, Writer};
use crate::import::{cluster_item, describe, object_key, object_ops};
use graphd_core::{ExternalKey, Kind, Timestamp};
use graphd_scrape_kubernetes::{Event, GroupKind};
use graphd_store::{Engine, KeyScope, Op, Resync, Store};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

/// By API group, the keys of its last complete listing (none before the first).
type ListedByGroup = BTreeMap<String, Option<HashSet<ExternalKey>>>;

/// Turns Kubernetes [`Event`]s into store writes.
#[derive(Debug)]
pub struct KubernetesSink<E: Engine> {
    writer: Writer<E>,
    /// Keys reported by each open listing: keys only, not objects.
    listings: HashMap<(Arc<str>, GroupKind), HashSet<ExternalKey>>,
    /// Kinds a cluster serves from more than one API group (alike-named CRDs), by kind, with
    /// the keys of each group's last complete listing: items of the kind are one set, resynced
    /// with the union once every group has been listed.
    shared_kinds: HashMap<(Arc<str>, String), ListedByGroup>,
    clusters: HashSet<Arc<str>>,
}

impl<E: Engine> Sink<E> for KubernetesSink<E> {
    type Event = Event;

    fn writer(&mut self) -> &mut Writer<E> {
        &mut self.writer
    }

    fn handle(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::Discovered { cluster, resources } => self.discovered(&cluster, &resources),
            Event::ListBegin { cluster, resource } => {
                self.listings.insert((cluster, resource), HashSet::new());
            }
            Event::Object { cluster, object } => {
                self.ensure_cluster(&cluster)?;
                self.writer.report.objects += 1;
                match object_ops(&cluster, &object, &format!("kubernetes/{cluster}")) {
                    Err(reason) => self.writer.skip(describe(&object), reason),
                    Ok(ops) => {
                        let listing = GroupKind::of(&object).and_then(|r| self.listings.get_mut(&(cluster, r)));
                        if let (Some(seen), Some(Op::Upsert(item))) = (listing, ops.first()) {
                            seen.insert(item.key.clone());
                        }
                        self.writer.push(ops)?;
                    }
                }
            }
            Event::Deleted { cluster, object } => {
                self.writer.report.deleted += 1;
                match object_key(&cluster, &object) {
                    Err(reason) => self.writer.skip(describe(&object), reason),
                    Ok(key) if self.writer.stored_or_pending(&key)? => self.writer.push([Op::Delete(key)])?,
                    // Never stored (it was skipped as malformed): nothing to tombstone, and a
                    // delete of an unknown key would fail the whole batch.
                    Ok(_) => {}
                }
            }
            Event::ListEnd { cluster, resource } => {
                self.writer.report.listings += 1;
                let reported = self.listings.remove(&(Arc::clone(&cluster), resource.clone()));
                // A kind graphd cannot name had every object skipped: nothing of it to resync.
                let kind = Kind::new(format!("Kubernetes::{}", resource.kind)).ok();
                let reported = reported.and_then(|keys| self.complete_kind(&cluster, resource, keys));
                if let (Some(kind), Some(reported)) = (kind, reported) {
                    let resync =
                        Resync { scope: KeyScope::Kubernetes { cluster: cluster.to_string() }, kinds: vec![kind] };
                    self.writer.resync(&resync, &reported, &format!("kubernetes/{cluster}"))?;
                }
            }
        }
        Ok(())
    }

    /// Brings up to date the health that changed with time alone (only Kubernetes rules read
    /// the clock). The sink is the only writer of scraped Kubernetes items, so the documents
    /// the updates carry are the latest.
    fn every_minute(&mut self) -> anyhow::Result<()> {
        self.writer.flush()?;
        let store = self.writer.store();
        let due = store.health_due(Timestamp::now())?;
        if !due.is_empty() {
            tracing::info!(items = due.len(), "health changed with time");
        }
        for chunk in due.chunks(super::BATCH) {
            let ops: Vec<Op> = chunk.iter().cloned().map(Op::Upsert).collect();
            let outcome = store.apply(&ops, Timestamp::now(), "health-rules")?;
            self.writer.report.outcome.add_counts(&outcome);
        }
        Ok(())
    }
}

impl<E: Engine> KubernetesSink<E> {
    pub fn new(store: Arc<Store<E>>) -> Self {
        KubernetesSink {
            writer: Writer::new(store, "kubernetes"),
            listings: HashMap::new(),
            shared_kinds: HashMap::new(),
            clusters: HashSet::new(),
        }
    }

    fn discovered(&mut self, cluster: &Arc<str>, resources: &[GroupKind]) {
        let mut groups_by_kind: HashMap<&str, Vec<&str>> = HashMap::new();
        for resource in resources {
            groups_by_kind.entry(&resource.kind).or_default().push(&resource.group);
        }
        for (kind, groups) in groups_by_kind.into_iter().filter(|(_, groups)| groups.len() > 1) {
            let known = self.shared_kinds.entry((Arc::clone(cluster), kind.to_owned())).or_default();
            for group in groups {
                known.entry(group.to_owned()).or_default();
            }
        }
    }

    /// The keys the items of `resource`'s kind are resynced with, now that a listing of
    /// `resource` reported `keys`: those keys, or, for a kind served by several groups, the
    /// union of every group's last listing once each has completed one (until then, none).
    fn complete_kind(
        &mut self,
        cluster: &Arc<str>,
        resource: GroupKind,
        keys: HashSet<ExternalKey>,
    ) -> Option<HashSet<ExternalKey>> {
        let Some(groups) = self.shared_kinds.get_mut(&(Arc::clone(cluster), resource.kind)) else {
            return Some(keys);
        };
        groups.insert(resource.group, Some(keys));
        let listed: Option<Vec<&HashSet<ExternalKey>>> = groups.values().map(Option::as_ref).collect();
        listed.map(|sets| sets.into_iter().flatten().cloned().collect())
    }

    fn ensure_cluster(&mut self, cluster: &Arc<str>) -> anyhow::Result<()> {
        if self.clusters.insert(Arc::clone(cluster)) {
            self.writer.push([Op::Upsert(cluster_item(cluster))])?;
        }
        Ok(())
    }
}
