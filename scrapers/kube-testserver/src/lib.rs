//! A local Kubernetes API server for tests of graphd's Kubernetes scraper: kube-rs connects
//! to it through an ordinary kubeconfig over plain HTTP, discovers its resources, lists
//! them in pages and watches them, while the test adds, changes and deletes objects,
//! compacts the history and drops connections.
//!
//! It speaks as much of the real protocol as kube-rs's `Discovery`, `watcher` and
//! `metadata_watcher` use, the way the real server answers:
//!
//! - discovery: `/version`, `/api`, `/api/v1`, `/apis`, `/apis/{group}[/{version}]`, and the
//!   aggregated `APIGroupDiscoveryList` when `Accept` asks for it;
//! - LIST, paged with `limit` and opaque `continue` tokens, consistent at the first page's
//!   resourceVersion, `410 Gone` once that is compacted; built-in kinds' items come without
//!   `kind`/`apiVersion`, as from the real server;
//! - WATCH: newline-delimited JSON events after the given resourceVersion, BOOKMARKs, an
//!   ERROR event `410 Expired` for a compacted resourceVersion, `timeoutSeconds`,
//!   `sendInitialEvents`;
//! - `PartialObjectMetadata(List)` for metadata-only requests, never a Secret's data;
//! - one global resourceVersion, as etcd's revision.
//!
//! Not served: writes through the API, subresources, label and field selectors (400),
//! protobuf, authentication. Objects live in one version only: an `autoscaling/v1`
//! object is not seen under `autoscaling/v2`.
//!
//! | module | what it holds |
//! | --- | --- |
//! | `server` | [`TestApiServer`], the handle tests hold |
//! | `handler` | one request: log, refuse, route |
//! | `request` | paths, query parameters, `Accept` |
//! | `discovery` | the discovery documents |
//! | `list` | LIST, GET, continue tokens, object shapes |
//! | `watch` | WATCH streams, one task each |
//! | `store` | objects, resourceVersions, change log, compaction |
//! | `kinds` | well-known kinds, plural names, version order |
//! | `status` | `Status` error bodies |
//!
//! This crate is test support: it never runs in graphd itself, and it does not depend on
//! kube-rs (its own tests do).
//!
//! ```
//! use graphd_kube_testserver::TestApiServer;
//! use serde_json::json;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let server = TestApiServer::start().await;
//! server.load_list(&json!({"kind": "List", "items": [
//!     {"kind": "Pod", "metadata": {"name": "web-0", "namespace": "shop"}},
//!     {"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}},
//! ]}));
//! // Write this where the code under test reads its kubeconfig.
//! let kubeconfig = server.kubeconfig("test-cluster");
//! assert!(kubeconfig.contains(&server.url()));
//!
//! // While the code under test watches: changes, then a forced re-list.
//! server.apply(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web-1", "namespace": "shop"}}));
//! server.delete("v1", "Pod", Some("shop"), "web-0");
//! server.compact();
//! server.drop_connections();
//! assert!(server.get("v1", "Pod", Some("shop"), "web-0").is_none());
//! # }
//! ```

mod discovery;
mod handler;
mod kinds;
mod list;
mod request;
mod server;
mod status;
mod store;
mod watch;

pub use server::{Options, TestApiServer};
pub use watch::WatchCounts;
