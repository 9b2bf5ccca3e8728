//! Scraped objects into the store: each object becomes its item (linked by the rules) as it
//! arrives, in batches; each completed listing of a kind is a resync of that kind in its
//! cluster, so what the cluster no longer has is tombstoned; a listing that never completed
//! (a failed or interrupted scrape) tombstones nothing.

use crate::import::{cluster_item, describe, object_key, object_ops};
use graphd_core::{ExternalKey, Kind, Timestamp};
use graphd_scrape_kubernetes::{run_cluster, ClusterStatus, Event, GroupKind, KubernetesSource, Mode};
use graphd_store::{Engine, KeyScope, Op, Outcome, Resync, Store};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::{JoinHandle, JoinSet};

/// Operations per atomic batch.
const BATCH: usize = 1_000;
/// A partial batch is written when no event came for this long.
const IDLE_FLUSH: Duration = Duration::from_millis(50);
/// How often health that changes with time alone (a Pod Pending past its grace period) is
/// brought up to date.
const REASSESS_EVERY: Duration = Duration::from_secs(60);

/// What scraping wrote.
#[derive(Debug, Default, Clone)]
pub struct SinkReport {
    pub objects: u64,
    pub deleted: u64,
    pub listings: u64,
    /// Items tombstoned because a listing no longer reported them.
    pub gone_at_resync: u64,
    pub outcome: Outcome,
    /// (object, reason) of the most recent malformed objects, counted in `skipped`.
    pub skipped: u64,
    pub last_skipped: Option<(String, String)>,
}

/// By API group, the keys of its last complete listing (none before the first).
type ListedByGroup = BTreeMap<String, Option<HashSet<ExternalKey>>>;

/// Turns [`Event`]s into store writes.
#[derive(Debug)]
pub struct Sink<'a, E: Engine> {
    store: &'a Store<E>,
    pending: Vec<Op>,
    /// Keys reported by each open listing: keys only, not objects.
    listings: HashMap<(Arc<str>, GroupKind), HashSet<ExternalKey>>,
    /// Kinds a cluster serves from more than one API group (alike-named CRDs), by kind, with
    /// the keys of each group's last complete listing: items of the kind are one set, resynced
    /// with the union once every group has been listed.
    shared_kinds: HashMap<(Arc<str>, String), ListedByGroup>,
    clusters: HashSet<Arc<str>>,
    pub report: SinkReport,
}

impl<'a, E: Engine> Sink<'a, E> {
    pub fn new(store: &'a Store<E>) -> Self {
        Sink {
            store,
            pending: Vec::new(),
            listings: HashMap::new(),
            shared_kinds: HashMap::new(),
            clusters: HashSet::new(),
            report: SinkReport::default(),
        }
    }

    pub fn handle(&mut self, event: Event) -> anyhow::Result<()> {
        match event {
            Event::Discovered { cluster, resources } => self.discovered(&cluster, &resources),
            Event::ListBegin { cluster, resource } => {
                self.listings.insert((cluster, resource), HashSet::new());
            }
            Event::Object { cluster, object } => {
                self.ensure_cluster(&cluster);
                self.report.objects += 1;
                match object_ops(&cluster, &object, &format!("kubernetes/{cluster}")) {
                    Err(reason) => self.skip(&object, reason),
                    Ok(ops) => {
                        let listing = GroupKind::of(&object).and_then(|r| self.listings.get_mut(&(cluster, r)));
                        if let (Some(seen), Some(Op::Upsert(item))) = (listing, ops.first()) {
                            seen.insert(item.key.clone());
                        }
                        self.pending.extend(ops);
                    }
                }
            }
            Event::Deleted { cluster, object } => {
                self.report.deleted += 1;
                match object_key(&cluster, &object) {
                    Err(reason) => self.skip(&object, reason),
                    Ok(key) if self.stored_or_pending(&key)? => self.pending.push(Op::Delete(key)),
                    // Never stored (it was skipped as malformed): nothing to tombstone, and a
                    // delete of an unknown key would fail the whole batch.
                    Ok(_) => {}
                }
            }
            Event::ListEnd { cluster, resource } => {
                self.flush()?;
                self.report.listings += 1;
                let reported = self.listings.remove(&(Arc::clone(&cluster), resource.clone()));
                // A kind graphd cannot name had every object skipped: nothing of it to resync.
                let kind = Kind::new(format!("Kubernetes::{}", resource.kind)).ok();
                let reported = reported.and_then(|keys| self.complete_kind(&cluster, resource, keys));
                if let (Some(kind), Some(reported)) = (kind, reported) {
                    let resync =
                        Resync { scope: KeyScope::Kubernetes { cluster: cluster.to_string() }, kinds: vec![kind] };
                    let source = format!("kubernetes/{cluster}");
                    let outcome = self.store.resync(&resync, &reported, Timestamp::now(), &source)?;
                    self.report.gone_at_resync += outcome.deleted as u64;
                    self.report.outcome.add_counts(&outcome);
                }
            }
        }
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    fn stored_or_pending(&self, key: &ExternalKey) -> anyhow::Result<bool> {
        let pending = self.pending.iter().any(|op| matches!(op, Op::Upsert(item) if &item.key == key));
        Ok(pending || self.store.read().get_by_key(key, true)?.is_some())
    }

    /// Writes what is pending as one atomic batch.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let ops = std::mem::take(&mut self.pending);
        let outcome = self.store.apply(&ops, Timestamp::now(), "kubernetes")?;
        self.report.outcome.add_counts(&outcome);
        Ok(())
    }

    /// Brings up to date the health that changed with time alone. The sink is the only
    /// writer of scraped items, so the documents the updates carry are the latest.
    pub fn reassess(&mut self) -> anyhow::Result<()> {
        self.flush()?;
        let due = self.store.health_due(Timestamp::now())?;
        if !due.is_empty() {
            tracing::info!(items = due.len(), "health changed with time");
        }
        for chunk in due.chunks(BATCH) {
            let ops: Vec<Op> = chunk.iter().cloned().map(Op::Upsert).collect();
            let outcome = self.store.apply(&ops, Timestamp::now(), "health-rules")?;
            self.report.outcome.add_counts(&outcome);
        }
        Ok(())
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

    fn ensure_cluster(&mut self, cluster: &Arc<str>) {
        if self.clusters.insert(Arc::clone(cluster)) {
            self.pending.push(Op::Upsert(cluster_item(cluster)));
        }
    }

    fn skip(&mut self, object: &serde_json::Value, reason: String) {
        let object = describe(object);
        tracing::warn!(%object, %reason, "skipping a malformed object");
        self.report.skipped += 1;
        self.report.last_skipped = Some((object, reason));
    }
}

/// Applies events from `events` to `store` until every sender is gone, writing a partial
/// batch whenever the events pause. Store writes block: this wants a multi-threaded runtime.
pub async fn drain<E: Engine>(store: Arc<Store<E>>, mut events: mpsc::Receiver<Event>) -> anyhow::Result<SinkReport> {
    let mut sink = Sink::new(&store);
    // Events are taken as many at a time as have arrived: leaving the runtime for the
    // blocking writes costs a thread hand-over, once per bunch rather than per object.
    let mut arrived = Vec::with_capacity(BATCH);
    let mut reassessed = tokio::time::Instant::now();
    loop {
        match tokio::time::timeout(IDLE_FLUSH, events.recv_many(&mut arrived, BATCH)).await {
            Ok(0) => break,
            Ok(_) => tokio::task::block_in_place(|| arrived.drain(..).try_for_each(|event| sink.handle(event)))?,
            Err(_idle) => tokio::task::block_in_place(|| sink.flush())?,
        }
        if reassessed.elapsed() >= REASSESS_EVERY {
            tokio::task::block_in_place(|| sink.reassess())?;
            reassessed = tokio::time::Instant::now();
        }
    }
    tokio::task::block_in_place(|| sink.flush())?;
    Ok(sink.report)
}

/// Events in flight between the scrapers and the store, at most: what bounds memory when the
/// store is slower than the clusters.
const CHANNEL: usize = 4_096;

/// Each scraped cluster's name and status, in configuration order.
pub type ScraperStatuses = Arc<Vec<(String, Arc<ClusterStatus>)>>;

/// The scrapers of a configuration, running into one store.
#[derive(Debug)]
pub struct Scrapers {
    pub statuses: ScraperStatuses,
    clusters: JoinSet<()>,
    sink: JoinHandle<anyhow::Result<SinkReport>>,
}

impl Scrapers {
    /// Starts every cluster of `sources` in `mode`, writing into `store`.
    pub fn start<E: Engine + 'static>(store: Arc<Store<E>>, sources: &[KubernetesSource], mode: Mode) -> Scrapers {
        let (events, received) = mpsc::channel(CHANNEL);
        let mut clusters = JoinSet::new();
        let mut statuses = Vec::new();
        for source in sources {
            let status = Arc::new(ClusterStatus::default());
            statuses.push((source.name.clone(), Arc::clone(&status)));
            clusters.spawn(run_cluster(source.clone(), mode, events.clone(), status));
        }
        let sink = tokio::spawn(async move {
            let drained = drain(store, received).await;
            if let Err(error) = &drained {
                // The scrapers stop too (their channel closes); say so now, not at shutdown.
                tracing::error!(error = format!("{error:#}"), "cannot write scraped objects; scraping stops");
            }
            drained
        });
        Scrapers { statuses: Arc::new(statuses), clusters, sink }
    }

    /// Waits for every cluster to finish (a [`Mode::Once`] scrape), then for the last writes.
    pub async fn finish(mut self) -> anyhow::Result<SinkReport> {
        while self.clusters.join_next().await.is_some() {}
        self.sink.await?
    }

    /// Stops every cluster where it is, then waits for the writes of what was received.
    pub async fn stop(mut self) -> anyhow::Result<SinkReport> {
        self.clusters.shutdown().await;
        self.sink.await?
    }
}
