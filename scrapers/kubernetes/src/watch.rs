//! One resource of one cluster: a kube-rs watcher turned into [`Event`]s.

use crate::{Event, Mode, Resource};
use futures::{Stream, StreamExt};
use graphd_core::scrape::ScrapeStatus;
use kube::api::{DynamicObject, PartialObjectMeta};
use kube::runtime::{watcher, WatchStreamExt};
use kube::{Api, Client};
use serde::Serialize;
use serde_json::Value;
use std::sync::Arc;
use tokio::sync::mpsc;

/// In [`Mode::Once`], a connection or listing that fails this many times in a row is given up.
pub(crate) const ONCE_ATTEMPTS: u32 = 3;

/// What one resource's scrape needs.
#[derive(Clone)]
pub(crate) struct Target {
    pub client: Client,
    pub resource: Resource,
    pub cluster: Arc<str>,
    pub page_size: u32,
    pub mode: Mode,
    pub events: mpsc::Sender<Event>,
    pub status: Arc<ScrapeStatus>,
}

/// Scrapes `target` until its mode says it is done or the receiver is gone.
pub(crate) async fn scrape_resource(target: Target) {
    let config = watcher::Config::default().page_size(target.page_size);
    if target.resource.metadata_only {
        let api: Api<PartialObjectMeta<DynamicObject>> = Api::all_with(target.client.clone(), &target.resource.api);
        follow(watcher(api, config), target).await;
    } else {
        let api: Api<DynamicObject> = Api::all_with(target.client.clone(), &target.resource.api);
        follow(watcher(api, config), target).await;
    }
}

async fn follow<K: Serialize>(
    stream: impl Stream<Item = Result<watcher::Event<K>, watcher::Error>> + Send,
    target: Target,
) {
    let mut stream = std::pin::pin!(stream.default_backoff());
    let resource = target.resource.group_kind();
    let mut listed_before = false;
    let mut failures = 0;
    while let Some(next) = stream.next().await {
        let event = match next {
            Err(watcher::Error::WatchError(status)) if status.code == 410 => {
                // The history behind our resourceVersion expired: routine, and the watcher
                // lists again at once.
                tracing::debug!(cluster = %target.cluster, resource = %target.resource.api.plural, "watch expired, listing again");
                continue;
            }
            Err(error) => {
                let what = format!("{} {}: {error}", target.cluster, target.resource.api.plural);
                tracing::warn!(cluster = %target.cluster, resource = %target.resource.api.plural, %error, "scrape error, retrying");
                target.status.error(what);
                failures += 1;
                if target.mode == Mode::Once && failures >= ONCE_ATTEMPTS {
                    return;
                }
                continue;
            }
            Ok(event) => event,
        };
        failures = 0;
        let cluster = Arc::clone(&target.cluster);
        let (out, done) = match event {
            watcher::Event::Init => (Event::ListBegin { cluster, resource: resource.clone() }, false),
            watcher::Event::InitApply(object) | watcher::Event::Apply(object) => {
                target.status.object();
                (Event::Object { cluster, object: typed(&object, &target.resource) }, false)
            }
            watcher::Event::Delete(object) => {
                target.status.object();
                (Event::Deleted { cluster, object: typed(&object, &target.resource) }, false)
            }
            watcher::Event::InitDone => {
                target.status.listed(!listed_before);
                listed_before = true;
                (Event::ListEnd { cluster, resource: resource.clone() }, target.mode == Mode::Once)
            }
        };
        if target.events.send(out).await.is_err() || done {
            return;
        }
    }
}

/// The object as JSON with its `apiVersion` and `kind`, which lists leave out (and which a
/// metadata-only object carries as `PartialObjectMetadata`).
fn typed<K: Serialize>(object: &K, resource: &Resource) -> Value {
    let mut value = serde_json::to_value(object).unwrap_or(Value::Null);
    if let Some(map) = value.as_object_mut() {
        map.insert("apiVersion".into(), resource.api.api_version.clone().into());
        map.insert("kind".into(), resource.api.kind.clone().into());
    }
    value
}
