//! [`TestApiServer`]: the handle a test holds — it starts the server on port 0, changes the
//! cluster, and breaks it on purpose.

use crate::handler::{handle, Shared};
use crate::kinds;
use crate::store::{Gvr, ResourceType, Store};
use crate::watch::{WatchControl, WatchCounts};
use axum::Router;
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::{oneshot, watch};

/// How a [`TestApiServer`] behaves; [`Options::default`] is what [`TestApiServer::start`]
/// uses.
#[derive(Debug, Clone)]
pub struct Options {
    /// How often an open watch that asked for bookmarks gets one. Default 1 s; the real
    /// server sends them about once a minute.
    pub bookmark_interval: Duration,
    /// Serve every built-in resource from the start, as a real cluster does even when it
    /// holds no object of it (default). When false, only kinds brought by objects or
    /// [`TestApiServer::add_resource`] are served.
    pub builtin_resources: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options { bookmark_interval: Duration::from_secs(1), builtin_resources: true }
    }
}

/// A Kubernetes API server on `127.0.0.1`, plain HTTP, no authentication, for kube-rs
/// clients under test. Dropping it ends every watch and stops the server.
///
/// Its methods change the cluster at once and return; the resulting watch events reach
/// clients as soon as their tasks run.
pub struct TestApiServer {
    shared: Arc<Shared>,
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
}

impl std::fmt::Debug for TestApiServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestApiServer").field("url", &self.url()).finish_non_exhaustive()
    }
}

impl TestApiServer {
    /// Starts a server with the default [`Options`] on a free port.
    pub async fn start() -> TestApiServer {
        Self::start_with(Options::default()).await
    }

    /// Starts a server on a free port.
    ///
    /// # Panics
    ///
    /// When no port on 127.0.0.1 can be bound.
    pub async fn start_with(options: Options) -> TestApiServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("a bound listener has an address");
        let shared = Arc::new(Shared {
            store: Mutex::new(Store::new(options.builtin_resources)),
            requests: Mutex::new(Vec::new()),
            refusing: AtomicBool::new(false),
            page_cap: AtomicUsize::new(0),
            watches: Arc::new(WatchControl {
                bookmark_interval: options.bookmark_interval,
                drops: watch::channel(0).0,
                counts: watch::channel(WatchCounts::default()).0,
            }),
            address: addr.to_string(),
        });
        let (shutdown, stopped) = oneshot::channel::<()>();
        let app = Router::new().fallback(handle).with_state(shared.clone());
        tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = stopped.await;
            });
            // An accept error ends the server; the test then sees refused connections.
            let _ = serve.await;
        });
        TestApiServer { shared, addr, shutdown: Some(shutdown) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// A kubeconfig whose cluster, user (no credentials) and context are all named
    /// `context`, and whose current context is that one.
    pub fn kubeconfig(&self, context: &str) -> String {
        let name = Value::String(context.to_string()).to_string();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {url}\n\
             users:\n- name: {name}\n  user: {{}}\ncontexts:\n- name: {name}\n  context:\n    \
             cluster: {name}\n    user: {name}\n    namespace: default\ncurrent-context: {name}\n",
            url = self.url()
        )
    }

    /// Adds every object of a list such as `kubectl get -o json` writes
    /// (`{"kind": "List", "items": [...]}`; nested lists and a bare array work too), each as
    /// [`apply`](Self::apply) would.
    pub fn load_list(&self, list: &Value) {
        let items = match list {
            Value::Array(items) => items,
            _ => list["items"].as_array().map(Vec::as_slice).unwrap_or_default(),
        };
        let mut store = self.shared.store();
        for item in items {
            if item["items"].is_array() {
                drop(store);
                self.load_list(item);
                store = self.shared.store();
            } else {
                store.apply(item.clone());
            }
        }
    }

    /// Reads a JSON file and [`load_list`](Self::load_list)s it.
    ///
    /// # Panics
    ///
    /// When the file cannot be read or is not JSON.
    pub fn load_file(&self, path: impl AsRef<Path>) {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
        let list: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("parse {}: {e}", path.display()));
        self.load_list(&list);
    }

    /// Creates or replaces an object (by apiVersion, kind, namespace, name), which watches
    /// see as ADDED or MODIFIED; returns its new resourceVersion.
    ///
    /// The server sets `resourceVersion`, keeps or assigns `uid` and `creationTimestamp`,
    /// gives a namespaced object without a namespace `default` and drops the namespace of
    /// a cluster-scoped one. An object without `apiVersion` gets its kind's from a table of
    /// well-known kinds; a kind never seen before becomes a new resource (plural by
    /// kubectl's rules, namespaced if the object has a namespace).
    ///
    /// # Panics
    ///
    /// When the object has no `kind` or `metadata.name`, or has no `apiVersion` and an
    /// unknown kind.
    pub fn apply(&self, object: Value) -> u64 {
        self.shared.store().apply(object)
    }

    /// Deletes an object, which watches see as DELETED with its last state; false when
    /// there was no such object. `namespace` is ignored for cluster-scoped kinds.
    pub fn delete(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> bool {
        self.shared.store().delete(api_version, kind, namespace, name)
    }

    /// An object as it is now, as a GET would return it.
    pub fn get(&self, api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> Option<Value> {
        let store = self.shared.store();
        let rt = store.resource_of_kind(api_version, kind)?;
        let namespace = if rt.namespaced { namespace.unwrap_or("default") } else { "" };
        store.get(&rt.gvr, &(namespace.to_string(), name.to_string())).map(|o| Value::clone(&o))
    }

    /// Serves a resource from now on, as when a CRD is created mid-run; its objects can
    /// then be applied. A resource already served is left as it is.
    pub fn add_resource(&self, group: &str, version: &str, kind: &str, plural: &str, namespaced: bool) {
        self.shared.store().register(ResourceType {
            gvr: Gvr { group: group.into(), version: version.into(), plural: plural.into() },
            kind: kind.into(),
            namespaced,
            verbs: kinds::ALL_VERBS.iter().map(|v| v.to_string()).collect(),
            builtin: false,
        });
    }

    /// The cluster's resourceVersion now: that of the last change.
    pub fn resource_version(&self) -> u64 {
        self.shared.store().resource_version()
    }

    /// Forgets the history up to now: a watch from any resourceVersion handed out so far
    /// gets an ERROR event with `410 Expired`, a continue token issued so far gets
    /// `410 Gone`. Watches already open go on; once they reconnect (after
    /// [`drop_connections`](Self::drop_connections), say) their clients must list again.
    ///
    /// The resourceVersion moves on by one, as if another object had changed, so that even
    /// a client that had seen every change re-lists.
    pub fn compact(&self) {
        self.shared.store().compact();
    }

    /// Cuts every open watch mid-stream: the connection closes without the chunked
    /// body's end, as when a load balancer or the network drops it.
    pub fn drop_connections(&self) {
        self.shared.watches.drops.send_modify(|generation| *generation += 1);
    }

    /// While `refuse` is true, every request gets `503 Service Unavailable`, and the watches
    /// open when refusing starts are cut as by [`drop_connections`](Self::drop_connections):
    /// an unreachable cluster.
    pub fn refuse(&self, refuse: bool) {
        let was = self.shared.refusing.swap(refuse, Ordering::SeqCst);
        if refuse && !was {
            self.drop_connections();
        }
    }

    /// Every request so far, oldest first, as `"GET /api/v1/pods?limit=500"` — refused ones
    /// too.
    pub fn requests(&self) -> Vec<String> {
        self.shared.requests().clone()
    }

    /// Forgets the requests seen so far.
    pub fn clear_requests(&self) {
        self.shared.requests().clear();
    }

    /// Serves at most `n` items a page even when a client asks for more, so small fixtures
    /// still page; 0 removes the cap. Requests without `limit` still get everything, as
    /// they do from a real server.
    pub fn set_page_size_cap(&self, n: usize) {
        self.shared.page_cap.store(n, Ordering::SeqCst);
    }

    /// How many watches are open now, and how many were ever opened.
    pub fn watch_counts(&self) -> WatchCounts {
        *self.shared.watches.counts.borrow()
    }

    /// Waits until `until` holds for the watch counts, and returns them: a test waits for
    /// a client's watch (or its resumption) this way rather than sleeping. Put a timeout
    /// around it.
    pub async fn wait_for_watches(&self, mut until: impl FnMut(&WatchCounts) -> bool) -> WatchCounts {
        let mut counts = self.shared.watches.counts.subscribe();
        let result = *counts.wait_for(|c| until(c)).await.expect("the server holds the sender");
        result
    }
}

impl Drop for TestApiServer {
    fn drop(&mut self) {
        self.drop_connections();
        if let Some(shutdown) = self.shutdown.take() {
            let _ = shutdown.send(());
        }
    }
}
