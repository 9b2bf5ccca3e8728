//! Watch: every committed batch's changes go to one broadcast channel; each Watch call keeps
//! those of its subgraph or scope and streams them with the item as it is now.
//!
//! A watcher that reads too slowly to keep up loses its place in the channel; it is told so
//! (`ABORTED`) rather than silently skipping changes. Every watch ends when the server stops.

use super::convert::{change_to, item_to};
use super::status::{from_join, from_store};
use crate::GraphStore;
use graphd_core::{Change, ItemId};
use graphd_proto::v1 as pb;
use graphd_store::query::{Direction, RelatedQuery, ScopeFilter};
use graphd_store::ChangeListener;
use std::collections::HashSet;
use std::pin::Pin;
use std::sync::Arc;
use tokio::sync::{broadcast, mpsc, watch};
use tokio_stream::Stream;
use tonic::Status;

/// Batches of changes a watcher may fall behind by before it is cut off.
const FEED_CAPACITY: usize = 4_096;

/// Events waiting to be sent to one watcher.
const EVENTS_PER_WATCHER: usize = 256;

pub type EventStream = Pin<Box<dyn Stream<Item = Result<pb::WatchEvent, Status>> + Send>>;

/// The store's changes, as they are committed, for any number of watchers.
#[derive(Debug, Clone)]
pub struct Feed {
    batches: broadcast::Sender<Arc<[Change]>>,
    stopping: watch::Receiver<bool>,
}

impl Feed {
    /// Hears every batch `store` commits from now on; watches end once `stopping` turns true.
    pub fn attach(store: &GraphStore, stopping: watch::Receiver<bool>) -> Feed {
        let (batches, _) = broadcast::channel(FEED_CAPACITY);
        let sender = batches.clone();
        store.set_change_listener(ChangeListener::new(move |changes| {
            // No watcher, no receiver: nothing to do.
            let _ = sender.send(Arc::from(changes));
        }));
        Feed { batches, stopping }
    }
}

/// What one watcher wants to hear about.
#[derive(Debug, Clone)]
pub enum Target {
    /// An item and everything related to it within `depth` steps, either way.
    Subgraph {
        root: ItemId,
        depth: u32,
    },
    Scope(ScopeFilter),
}

/// Starts a watch: subscribed before it returns, so every change committed after the call
/// is answered is seen.
pub fn start(store: Arc<GraphStore>, feed: &Feed, target: Target) -> EventStream {
    let mut batches = feed.batches.subscribe();
    let mut stopping = feed.stopping.clone();
    let (events, receiver) = mpsc::channel(EVENTS_PER_WATCHER);
    tokio::spawn(async move {
        loop {
            let batch = tokio::select! {
                _ = stopping.wait_for(|stop| *stop) => break,
                _ = events.closed() => break,
                batch = batches.recv() => batch,
            };
            let batch = match batch {
                Ok(batch) => batch,
                Err(broadcast::error::RecvError::Closed) => break,
                Err(broadcast::error::RecvError::Lagged(missed)) => {
                    let status = Status::aborted(format!(
                        "this watch fell {missed} batches behind and lost its place: read faster, or watch again"
                    ));
                    let _ = events.send(Err(status)).await;
                    break;
                }
            };
            let store = Arc::clone(&store);
            let target = target.clone();
            let selected = tokio::task::spawn_blocking(move || select(&store, &target, &batch)).await;
            let selected = match selected.map_err(from_join) {
                Ok(Ok(selected)) => selected,
                Ok(Err(status)) | Err(status) => {
                    let _ = events.send(Err(status)).await;
                    break;
                }
            };
            for event in selected {
                if events.send(Ok(event)).await.is_err() {
                    return;
                }
            }
        }
    });
    Box::pin(tokio_stream::wrappers::ReceiverStream::new(receiver))
}

/// The changes of `batch` that concern `target`, with their items.
fn select(store: &GraphStore, target: &Target, batch: &[Change]) -> Result<Vec<pb::WatchEvent>, Status> {
    let reader = store.read();
    let members: Option<HashSet<ItemId>> = match target {
        Target::Scope(_) => None,
        Target::Subgraph { root, depth: 0 } => Some(HashSet::from([*root])),
        Target::Subgraph { root, depth } => {
            // Tombstones included: the deletion of a member is news to its watchers.
            let query = RelatedQuery { include_deleted: true, ..RelatedQuery::new(Direction::Both, *depth) };
            let related = reader.related(*root, &query).map_err(from_store)?;
            Some(related.hits.iter().map(|h| h.id).chain([*root]).collect())
        }
    };
    let mut events = Vec::new();
    for change in batch {
        if members.as_ref().is_some_and(|m| !m.contains(&change.item)) {
            continue;
        }
        let Some(item) = reader.get(change.item, true).map_err(from_store)? else {
            continue;
        };
        if let Target::Scope(scope) = target {
            if !scope.matches(&item) {
                continue;
            }
        }
        events.push(pb::WatchEvent { change: Some(change_to(change)), item: Some(item_to(&item, None)) });
    }
    Ok(events)
}
