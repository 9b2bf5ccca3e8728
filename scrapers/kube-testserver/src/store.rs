//! The cluster's state, kept the way etcd keeps it: one global resourceVersion counter, and
//! for each resource a compacted base plus a log of every change since, so a list can be
//! read at an older resourceVersion (continue tokens) and a watch can replay what it missed.
//!
//! Every change is also broadcast, in resourceVersion order, to the open watches. A watch
//! subscribes while it holds the store's lock, so what it replays and what it then hears
//! neither overlap nor leave a gap; and because live watches hear changes from the
//! broadcast, not the log, a `compact()` never cuts a watch that is keeping up.

use crate::kinds::{self, KnownKind};
use serde_json::{json, Map, Value};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};
use tokio::sync::broadcast;

/// How many changes a watch may fall behind before it is closed, as the real watch cache
/// closes a watcher that does not keep up. The client then resumes from its last event.
const BROADCAST_CAPACITY: usize = 16 * 1024;

/// A resource: `group`, `version` and plural name, as in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Gvr {
    pub group: String,
    pub version: String,
    pub plural: String,
}

/// What discovery says about a resource.
#[derive(Debug, Clone)]
pub(crate) struct ResourceType {
    pub gvr: Gvr,
    pub kind: String,
    pub namespaced: bool,
    pub verbs: Vec<String>,
    /// Built-in kinds are listed without `kind`/`apiVersion` on each item, as the real
    /// server does for typed lists; custom resources keep them.
    pub builtin: bool,
}

impl ResourceType {
    pub fn api_version(&self) -> String {
        kinds::api_version(&self.gvr.group, &self.gvr.version)
    }

    pub fn supports(&self, verb: &str) -> bool {
        self.verbs.iter().any(|v| v == verb)
    }

    fn from_known(known: &KnownKind, version: &str) -> Self {
        ResourceType {
            gvr: Gvr { group: known.group.into(), version: version.into(), plural: known.plural.into() },
            kind: known.kind.into(),
            namespaced: known.namespaced,
            verbs: known.verbs.iter().map(|v| v.to_string()).collect(),
            builtin: known.builtin,
        }
    }
}

/// An object's place in its resource: namespace (empty when cluster-scoped), then name,
/// which is also the order the real server lists in.
pub(crate) type ObjKey = (String, String);

/// What a change did, as a watch event's `type`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ChangeType {
    Added,
    Modified,
    Deleted,
}

impl ChangeType {
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Added => "ADDED",
            ChangeType::Modified => "MODIFIED",
            ChangeType::Deleted => "DELETED",
        }
    }
}

/// One recorded change. For a deletion, `object` is the last state, carrying the
/// deletion's resourceVersion.
#[derive(Debug)]
pub(crate) struct Change {
    pub rv: u64,
    pub gvr: Gvr,
    pub change: ChangeType,
    pub key: ObjKey,
    pub object: Arc<Value>,
}

/// The objects of one resource: the state at the compaction point, the changes since, and
/// the state now (the base with every change applied).
#[derive(Debug, Default)]
struct Collection {
    base: BTreeMap<ObjKey, Arc<Value>>,
    log: Vec<Arc<Change>>,
    current: BTreeMap<ObjKey, Arc<Value>>,
}

/// Objects of one LIST page, and how many come after them.
#[derive(Debug, Default)]
pub(crate) struct Page {
    pub items: Vec<(ObjKey, Arc<Value>)>,
    pub remaining: usize,
}

impl Page {
    fn of(
        objects: &BTreeMap<ObjKey, Arc<Value>>,
        namespace: Option<&str>,
        after: Option<&ObjKey>,
        limit: usize,
    ) -> Page {
        use std::ops::Bound::{Excluded, Unbounded};
        let start = after.map_or(Unbounded, |key| Excluded(key.clone()));
        let mut listed = objects.range((start, Unbounded)).filter(|(key, _)| namespace.is_none_or(|ns| key.0 == ns));
        let items = listed.by_ref().take(limit).map(|(key, object)| (key.clone(), Arc::clone(object))).collect();
        Page { items, remaining: listed.count() }
    }
}

/// A resourceVersion from before the last compaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Expired {
    pub requested: u64,
    pub oldest: u64,
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy)]
pub(crate) enum WatchFrom {
    /// Synthetic ADDED events for every object there is now, then live changes: what the
    /// real server does for resourceVersion "" and "0".
    Now,
    /// Every change after this resourceVersion, then live changes.
    After(u64),
}

/// What a new watch sends first, and how it hears the rest.
#[derive(Debug)]
pub(crate) struct WatchStart {
    pub replay: Vec<(ChangeType, Arc<Value>)>,
    /// The resourceVersion up to which `replay` is complete: a bookmark may carry it.
    pub seen_rv: u64,
    pub live: broadcast::Receiver<Arc<Change>>,
}

/// Every object the server holds.
#[derive(Debug)]
pub(crate) struct Store {
    rv: u64,
    compacted: u64,
    resources: BTreeMap<Gvr, ResourceType>,
    /// (group, version, kind) → resource.
    kinds: HashMap<(String, String, String), Gvr>,
    collections: HashMap<Gvr, Collection>,
    changes: broadcast::Sender<Arc<Change>>,
}

/// uids are unique in the whole test process, so two test clusters loaded from the same
/// fixture do not share uids.
static NEXT_UID: AtomicU64 = AtomicU64::new(1);

impl Store {
    pub fn new(builtin_resources: bool) -> Self {
        let mut store = Store {
            rv: 1,
            compacted: 0,
            resources: BTreeMap::new(),
            kinds: HashMap::new(),
            collections: HashMap::new(),
            changes: broadcast::channel(BROADCAST_CAPACITY).0,
        };
        if builtin_resources {
            for known in kinds::KNOWN_KINDS.iter().filter(|k| k.builtin) {
                store.register(ResourceType::from_known(known, known.version));
            }
        }
        store
    }

    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn resources(&self) -> impl Iterator<Item = &ResourceType> {
        self.resources.values()
    }

    pub fn resource(&self, gvr: &Gvr) -> Option<&ResourceType> {
        self.resources.get(gvr)
    }

    /// Serves `rt` from now on; a resource already served keeps its first description.
    pub fn register(&mut self, rt: ResourceType) -> &ResourceType {
        let key = (rt.gvr.group.clone(), rt.gvr.version.clone(), rt.kind.clone());
        self.kinds.entry(key).or_insert_with(|| rt.gvr.clone());
        self.resources.entry(rt.gvr.clone()).or_insert(rt)
    }

    /// The resource that objects of `api_version`/`kind` live in, registered on first use.
    /// A kind the server has never heard of is named by kubectl's rules and takes its scope
    /// from `namespaced_hint`.
    fn resource_for(&mut self, api_version: &str, kind: &str, namespaced_hint: bool) -> ResourceType {
        let (group, version) = kinds::split_api_version(api_version);
        if let Some(gvr) = self.kinds.get(&(group.to_string(), version.to_string(), kind.to_string())) {
            return self.resources[gvr].clone();
        }
        let rt = match kinds::known_in_group(group, kind) {
            Some(known) => ResourceType::from_known(known, version),
            None => ResourceType {
                gvr: Gvr { group: group.into(), version: version.into(), plural: kinds::pluralize(kind) },
                kind: kind.into(),
                namespaced: namespaced_hint,
                verbs: kinds::ALL_VERBS.iter().map(|v| v.to_string()).collect(),
                builtin: false,
            },
        };
        self.register(rt).clone()
    }

    /// Creates or replaces an object, as `kubectl apply` would; returns its new
    /// resourceVersion.
    ///
    /// # Panics
    ///
    /// When the object has no `kind` or `metadata.name`, or lacks `apiVersion` and its kind
    /// is not a well-known one: a fixture the test server cannot place is a test bug.
    pub fn apply(&mut self, mut object: Value) -> u64 {
        let kind = object["kind"].as_str().unwrap_or_else(|| panic!("object without kind: {object}")).to_string();
        let api_version = match object["apiVersion"].as_str() {
            Some(v) if !v.is_empty() => v.to_string(),
            _ => {
                let known = kinds::known_by_kind(&kind)
                    .unwrap_or_else(|| panic!("{kind} without apiVersion, and not a well-known kind"));
                let v = kinds::api_version(known.group, known.version);
                object["apiVersion"] = Value::String(v.clone());
                v
            }
        };
        let name =
            object["metadata"]["name"].as_str().unwrap_or_else(|| panic!("{kind} without metadata.name")).to_string();
        let given_ns = object["metadata"]["namespace"].as_str().unwrap_or_default().to_string();
        let rt = self.resource_for(&api_version, &kind, !given_ns.is_empty());
        // As the real server does: a namespaced object without a namespace goes to
        // "default" (kubectl's context namespace), a cluster-scoped one loses its namespace.
        let namespace = match (rt.namespaced, given_ns.is_empty()) {
            (true, true) => "default".to_string(),
            (true, false) => given_ns,
            (false, _) => String::new(),
        };
        let key = (namespace.clone(), name);
        self.rv += 1;
        let rv = self.rv;
        let existing = self.collections.get(&rt.gvr).and_then(|c| c.current.get(&key)).cloned();
        let meta = metadata_mut(&mut object);
        if rt.namespaced {
            meta.insert("namespace".into(), Value::String(namespace));
        } else {
            meta.remove("namespace");
        }
        meta.insert("resourceVersion".into(), Value::String(rv.to_string()));
        for field in ["uid", "creationTimestamp"] {
            if meta.get(field).is_none_or(Value::is_null) {
                let value = match &existing {
                    Some(old) => old["metadata"][field].clone(),
                    None if field == "uid" => Value::String(new_uid()),
                    None => Value::String(now_rfc3339()),
                };
                meta.insert(field.into(), value);
            }
        }
        let change = if existing.is_some() { ChangeType::Modified } else { ChangeType::Added };
        self.record(rt.gvr, change, key, Arc::new(object));
        rv
    }

    /// Deletes an object; false when there was none.
    pub fn delete(&mut self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> bool {
        let (group, version) = kinds::split_api_version(api_version);
        let Some(gvr) = self.kinds.get(&(group.to_string(), version.to_string(), kind.to_string())).cloned() else {
            return false;
        };
        let namespace = if self.resources[&gvr].namespaced { namespace.unwrap_or("default") } else { "" };
        let key = (namespace.to_string(), name.to_string());
        let Some(last) = self.collections.get(&gvr).and_then(|c| c.current.get(&key)).cloned() else {
            return false;
        };
        self.rv += 1;
        let mut last = Value::clone(&last);
        metadata_mut(&mut last).insert("resourceVersion".into(), Value::String(self.rv.to_string()));
        self.record(gvr, ChangeType::Deleted, key, Arc::new(last));
        true
    }

    fn record(&mut self, gvr: Gvr, change: ChangeType, key: ObjKey, object: Arc<Value>) {
        let collection = self.collections.entry(gvr.clone()).or_default();
        match change {
            ChangeType::Deleted => collection.current.remove(&key),
            _ => collection.current.insert(key.clone(), object.clone()),
        };
        let change = Arc::new(Change { rv: self.rv, gvr, change, key, object });
        collection.log.push(change.clone());
        // No receiver is fine: nobody is watching.
        let _ = self.changes.send(change);
    }

    /// Forgets the history up to now: every resourceVersion handed out so far expires, for
    /// watches and continue tokens alike.
    ///
    /// The resourceVersion moves on by one, as if some other object had changed (in a real
    /// cluster something always has), so that even a watch that had seen everything must
    /// list again if it reconnects: the lever tests use to force a re-list.
    pub fn compact(&mut self) {
        for collection in self.collections.values_mut() {
            collection.base = collection.current.clone();
            collection.log.clear();
        }
        self.rv += 1;
        self.compacted = self.rv;
    }

    fn check_not_compacted(&self, rv: u64) -> Result<(), Expired> {
        if rv < self.compacted {
            Err(Expired { requested: rv, oldest: self.compacted })
        } else {
            Ok(())
        }
    }

    /// The objects of `gvr` as they were at resourceVersion `at`, by key: the collection
    /// itself when nothing changed since, else its history replayed up to `at`.
    fn objects_at(&self, gvr: &Gvr, at: u64) -> Result<Cow<'_, BTreeMap<ObjKey, Arc<Value>>>, Expired> {
        self.check_not_compacted(at)?;
        let Some(collection) = self.collections.get(gvr) else { return Ok(Cow::Owned(BTreeMap::new())) };
        if collection.log.last().is_none_or(|c| c.rv <= at) {
            return Ok(Cow::Borrowed(&collection.current));
        }
        let mut state = collection.base.clone();
        for change in collection.log.iter().take_while(|c| c.rv <= at) {
            match change.change {
                ChangeType::Deleted => state.remove(&change.key),
                _ => state.insert(change.key.clone(), change.object.clone()),
            };
        }
        Ok(Cow::Owned(state))
    }

    /// The objects of `gvr` (in `namespace`, when given) as they were at resourceVersion
    /// `at`, in key order.
    pub fn snapshot(&self, gvr: &Gvr, namespace: Option<&str>, at: u64) -> Result<Vec<(ObjKey, Arc<Value>)>, Expired> {
        Ok(Page::of(&*self.objects_at(gvr, at)?, namespace, None, usize::MAX).items)
    }

    /// One page of the objects of `gvr` (in `namespace`, when given) as they were at `at`:
    /// at most `limit` of them after the key `after`, and how many more there are. Reads only
    /// the page when nothing changed since `at`, so that paging through a large collection
    /// is not quadratic.
    pub fn page(
        &self,
        gvr: &Gvr,
        namespace: Option<&str>,
        at: u64,
        after: Option<&ObjKey>,
        limit: usize,
    ) -> Result<Page, Expired> {
        Ok(Page::of(&*self.objects_at(gvr, at)?, namespace, after, limit))
    }

    /// Opens a watch on `gvr` (in `namespace`, when given).
    pub fn watch(&self, gvr: &Gvr, namespace: Option<&str>, from: WatchFrom) -> Result<WatchStart, Expired> {
        let live = self.changes.subscribe();
        let replay = match from {
            WatchFrom::Now => self
                .snapshot(gvr, namespace, self.rv)?
                .into_iter()
                .map(|(_, object)| (ChangeType::Added, object))
                .collect(),
            WatchFrom::After(rv) => {
                self.check_not_compacted(rv)?;
                let log = self.collections.get(gvr).map(|c| c.log.as_slice()).unwrap_or_default();
                log.iter()
                    .filter(|c| c.rv > rv && namespace.is_none_or(|ns| c.key.0 == ns))
                    .map(|c| (c.change, c.object.clone()))
                    .collect()
            }
        };
        Ok(WatchStart { replay, seen_rv: self.rv, live })
    }

    /// The object at `key` now.
    pub fn get(&self, gvr: &Gvr, key: &ObjKey) -> Option<Arc<Value>> {
        self.collections.get(gvr)?.current.get(key).cloned()
    }

    /// The resource of `api_version`/`kind`, if served.
    pub fn resource_of_kind(&self, api_version: &str, kind: &str) -> Option<&ResourceType> {
        let (group, version) = kinds::split_api_version(api_version);
        let gvr = self.kinds.get(&(group.to_string(), version.to_string(), kind.to_string()))?;
        self.resources.get(gvr)
    }
}

fn metadata_mut(object: &mut Value) -> &mut Map<String, Value> {
    if !object["metadata"].is_object() {
        object["metadata"] = json!({});
    }
    object["metadata"].as_object_mut().expect("metadata was just made an object")
}

fn new_uid() -> String {
    let n = NEXT_UID.fetch_add(1, Ordering::Relaxed);
    format!("7e57c1a5-0000-4000-8000-{n:012x}")
}

/// Now, as Kubernetes writes times: `2025-01-31T12:00:00Z`.
fn now_rfc3339() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", rem / 3600, rem / 60 % 60, rem % 60)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(ns: &str, name: &str, image: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"namespace": ns, "name": name}, "spec": {"image": image}})
    }

    fn pods() -> Gvr {
        Gvr { group: String::new(), version: "v1".into(), plural: "pods".into() }
    }

    fn images(snapshot: &[(ObjKey, Arc<Value>)]) -> Vec<String> {
        snapshot.iter().map(|(_, o)| o["spec"]["image"].as_str().unwrap().to_string()).collect()
    }

    #[test]
    fn snapshots_read_the_past_until_compacted() {
        let mut store = Store::new(true);
        let first = store.apply(pod("a", "p", "v1"));
        store.apply(pod("a", "q", "v1"));
        let second = store.apply(pod("a", "p", "v2"));
        store.delete("v1", "Pod", Some("a"), "q");
        assert_eq!(images(&store.snapshot(&pods(), None, first).unwrap()), ["v1"]);
        assert_eq!(images(&store.snapshot(&pods(), None, second).unwrap()), ["v2", "v1"]);
        assert_eq!(images(&store.snapshot(&pods(), None, store.resource_version()).unwrap()), ["v2"]);
        store.compact();
        assert_eq!(store.snapshot(&pods(), None, 5).unwrap_err(), Expired { requested: 5, oldest: 6 });
        assert_eq!(images(&store.snapshot(&pods(), Some("a"), 6).unwrap()), ["v2"]);
        assert!(store.snapshot(&pods(), Some("b"), 6).unwrap().is_empty());
    }

    #[test]
    fn modifications_keep_uid_and_creation_time() {
        let mut store = Store::new(true);
        store.apply(pod("a", "p", "v1"));
        let before = store.get(&pods(), &("a".into(), "p".into())).unwrap();
        store.apply(pod("a", "p", "v2"));
        let after = store.get(&pods(), &("a".into(), "p".into())).unwrap();
        assert_eq!(before["metadata"]["uid"], after["metadata"]["uid"]);
        assert_eq!(before["metadata"]["creationTimestamp"], after["metadata"]["creationTimestamp"]);
        assert_eq!(after["metadata"]["resourceVersion"], "3");
    }

    #[test]
    fn scope_is_normalised_like_the_real_server() {
        let mut store = Store::new(true);
        store.apply(json!({"kind": "NetworkPolicy", "metadata": {"name": "np"}}));
        store.apply(
            json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv", "namespace": "x"}}),
        );
        store.apply(json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}}));
        let np = store.resource_of_kind("networking.k8s.io/v1", "NetworkPolicy").unwrap().gvr.clone();
        assert_eq!(store.snapshot(&np, Some("default"), store.resource_version()).unwrap().len(), 1);
        let pv = store.resource_of_kind("v1", "PersistentVolume").unwrap().gvr.clone();
        let (key, object) = store.snapshot(&pv, None, store.resource_version()).unwrap().remove(0);
        assert_eq!(key, (String::new(), "pv".to_string()));
        assert!(object["metadata"].get("namespace").is_none());
        let widget = store.resource_of_kind("example.com/v1", "Widget").unwrap();
        assert_eq!((widget.gvr.plural.as_str(), widget.namespaced), ("widgets", false));
    }

    #[test]
    fn watches_replay_what_they_missed() {
        let mut store = Store::new(true);
        let from = store.apply(pod("a", "p", "v1"));
        store.apply(pod("b", "q", "v1"));
        store.delete("v1", "Pod", Some("a"), "p");
        let start = store.watch(&pods(), None, WatchFrom::After(from)).unwrap();
        let types: Vec<_> = start.replay.iter().map(|(t, _)| *t).collect();
        assert_eq!(types, [ChangeType::Added, ChangeType::Deleted]);
        assert_eq!(start.replay[1].1["metadata"]["resourceVersion"], "4");
        let start = store.watch(&pods(), Some("b"), WatchFrom::Now).unwrap();
        assert_eq!(start.replay.len(), 1);
        store.compact();
        assert!(store.watch(&pods(), None, WatchFrom::After(4)).is_err(), "even the last change's version expires");
        assert!(store.watch(&pods(), None, WatchFrom::After(5)).unwrap().replay.is_empty());
    }

    #[test]
    fn timestamps_are_rfc3339() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.starts_with("20") && now.ends_with('Z'), "{now}");
    }
}
