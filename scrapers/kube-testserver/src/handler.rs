//! One HTTP request, from its path to its answer: logged, refused when the test says so,
//! then routed to discovery, GET, LIST or WATCH.

use crate::discovery::{self, AGGREGATED_V2, AGGREGATED_V2BETA1};
use crate::list::{self, Shape};
use crate::request::{route, wants_metadata_only, Query, Route};
use crate::status;
use crate::store::{Gvr, Store};
use crate::watch::{self, WatchControl};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::response::Response;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// What the handler and the test share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub store: Mutex<Store>,
    pub requests: Mutex<Vec<String>>,
    pub refusing: AtomicBool,
    /// The largest `limit` served; 0 for no cap.
    pub page_cap: AtomicUsize,
    pub watches: Arc<WatchControl>,
    /// `127.0.0.1:PORT`, for `/api`'s `serverAddressByClientCIDRs`.
    pub address: String,
}

impl Shared {
    /// The store; a test that panicked while holding it poisoned nothing worth refusing.
    pub fn store(&self) -> MutexGuard<'_, Store> {
        self.store.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn requests(&self) -> MutexGuard<'_, Vec<String>> {
        self.requests.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

const NOT_SERVED: &str = "the server could not find the requested resource";

/// The one handler: every path goes through here.
pub(crate) async fn handle(State(shared): State<Arc<Shared>>, request: Request) -> Response {
    let uri = request.uri();
    let target = uri.path_and_query().map_or_else(|| uri.path().to_string(), ToString::to_string);
    shared.requests().push(format!("{} {target}", request.method()));
    if shared.refusing.load(Ordering::SeqCst) {
        return status::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ServiceUnavailable",
            "the test server is refusing requests",
        );
    }
    if request.method() != Method::GET {
        return status::method_not_allowed("the test server only serves GET");
    }
    let accept = request.headers().get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or_default();
    let Some(route) = route(uri.path()) else { return status::not_found(NOT_SERVED) };
    let store = shared.store();
    match route {
        Route::Version => status::ok(&discovery::version_info()),
        Route::CoreVersions | Route::Groups => {
            let core = route == Route::CoreVersions;
            match discovery::aggregated_version(accept) {
                Some(version) => {
                    let content_type = if version == "v2" { AGGREGATED_V2 } else { AGGREGATED_V2BETA1 };
                    let doc = discovery::aggregated(&store, core, version);
                    status::json_response_as(StatusCode::OK, &doc, content_type)
                }
                None if core => status::ok(&discovery::core_versions(&shared.address)),
                None => status::ok(&discovery::group_list(&store)),
            }
        }
        Route::Group(name) => match discovery::group(&store, name) {
            Some(doc) => status::ok(&doc),
            None => status::not_found(NOT_SERVED),
        },
        Route::Resources { group, version } => match discovery::resource_list(&store, group, version) {
            Some(doc) => status::ok(&doc),
            None => status::not_found(NOT_SERVED),
        },
        Route::Objects { group, version, plural, namespace, name } => {
            let gvr = Gvr { group: group.into(), version: version.into(), plural: plural.into() };
            let Some(rt) = store.resource(&gvr).cloned() else { return status::not_found(NOT_SERVED) };
            // Namespaced paths for cluster-scoped resources, and names of namespaced objects
            // without a namespace, do not exist on the real server either.
            if namespace.is_some() && !rt.namespaced || name.is_some() && rt.namespaced && namespace.is_none() {
                return status::not_found(NOT_SERVED);
            }
            let query = match Query::parse(uri.query().unwrap_or_default()) {
                Ok(query) => query,
                Err(message) => return status::bad_request(&message),
            };
            if query.label_selector.is_some() || query.field_selector.is_some() {
                return status::bad_request("label and field selectors are not supported by the test server");
            }
            let shape = if wants_metadata_only(accept) { Shape::Metadata } else { Shape::Full };
            let verb = match (name, query.watch) {
                (Some(_), _) => "get",
                (None, true) => "watch",
                (None, false) => "list",
            };
            if !rt.supports(verb) {
                return status::method_not_allowed(&format!("{} does not support {verb}", rt.gvr.plural));
            }
            match name {
                Some(name) => list::get(&store, &rt, namespace, name, shape),
                None if query.watch => watch::watch(&store, &rt, namespace, &query, shape, &shared.watches),
                None => {
                    let cap = Some(shared.page_cap.load(Ordering::SeqCst)).filter(|c| *c > 0);
                    list::list(&store, &rt, namespace, &query, shape, cap)
                }
            }
        }
    }
}
