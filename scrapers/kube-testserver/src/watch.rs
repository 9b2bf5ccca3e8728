//! WATCH: a chunked response of newline-delimited JSON events, fed by one task per watch.
//!
//! The task sends what the watch missed, then what the broadcast brings, then bookmarks
//! every `bookmark_interval` carrying the resourceVersion up to which it has sent
//! everything. It ends cleanly when `timeoutSeconds` runs out, and abruptly — an error
//! from the body, which makes hyper drop the connection without the final chunk — when the
//! test calls `drop_connections` or starts refusing.

use crate::list::{bookmark, render, Shape};
use crate::request::Query;
use crate::status;
use crate::store::{Change, ChangeType, Expired, ResourceType, Store, WatchFrom};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use serde_json::{json, Value};
use std::io;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, mpsc, watch};
use tokio::time::{interval_at, sleep, Instant, MissedTickBehavior};
use tokio_stream::wrappers::ReceiverStream;

/// What every watch task shares with the server.
#[derive(Debug)]
pub(crate) struct WatchControl {
    pub bookmark_interval: Duration,
    /// Bumped to end every open watch abruptly.
    pub drops: watch::Sender<u64>,
    /// How many watches are open and were ever opened; tests wait on it instead of
    /// sleeping.
    pub counts: watch::Sender<WatchCounts>,
}

/// How many watch streams the server has open, and has opened since it started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WatchCounts {
    pub open: usize,
    pub opened: usize,
}

type Chunk = Result<Bytes, io::Error>;

fn line(event_type: &str, object: Value) -> Bytes {
    let mut text = json!({"type": event_type, "object": object}).to_string();
    text.push('\n');
    Bytes::from(text)
}

fn streaming(body: Body) -> Response {
    let mut response = Response::new(body);
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// Starts a WATCH of `rt`. The store is only read here, under the caller's lock; the task
/// runs on its own.
pub(crate) fn watch(
    store: &Store,
    rt: &ResourceType,
    namespace: Option<&str>,
    query: &Query,
    shape: Shape,
    control: &Arc<WatchControl>,
) -> Response {
    if query.send_initial_events && query.resource_version_match.as_deref() != Some("NotOlderThan") {
        return status::error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "Invalid",
            "sendInitialEvents requires resourceVersionMatch=NotOlderThan",
        );
    }
    let from = match query.resource_version_number() {
        Err(message) => return status::bad_request(&message),
        // Initial events describe the state now, which is not older than any version asked.
        Ok(_) if query.send_initial_events => WatchFrom::Now,
        Ok(None) => WatchFrom::Now,
        Ok(Some(rv)) => WatchFrom::After(rv),
    };
    let start = match store.watch(&rt.gvr, namespace, from) {
        Ok(start) => start,
        Err(Expired { requested, oldest }) => {
            // The real server accepts the watch, sends one ERROR event and ends it.
            return streaming(Body::from(line("ERROR", status::too_old(requested, oldest))));
        }
    };
    let (tx, rx) = mpsc::channel::<Chunk>(64);
    let task = WatchTask {
        rt: rt.clone(),
        namespace: namespace.map(str::to_string),
        shape,
        bookmarks: query.allow_bookmarks,
        initial_events_end: query.send_initial_events,
        timeout: query.timeout_seconds.map(Duration::from_secs),
        seen_rv: start.seen_rv,
        tx,
        drops: control.drops.subscribe(),
        control: control.clone(),
    };
    control.counts.send_modify(|c| {
        c.open += 1;
        c.opened += 1;
    });
    tokio::spawn(task.run(start.replay, start.live));
    streaming(Body::from_stream(ReceiverStream::new(rx)))
}

struct WatchTask {
    rt: ResourceType,
    namespace: Option<String>,
    shape: Shape,
    bookmarks: bool,
    initial_events_end: bool,
    timeout: Option<Duration>,
    seen_rv: u64,
    tx: mpsc::Sender<Chunk>,
    drops: watch::Receiver<u64>,
    control: Arc<WatchControl>,
}

/// Why a watch task stopped early.
enum End {
    /// The stream ends cleanly: the client went away.
    Clean,
    /// The test dropped connections: the body fails, so the connection is cut mid-stream.
    Abrupt,
}

impl WatchTask {
    async fn run(mut self, replay: Vec<(ChangeType, Arc<Value>)>, mut live: broadcast::Receiver<Arc<Change>>) {
        if let Err(End::Abrupt) = self.replay_then_live(replay, &mut live).await {
            let _ = self.tx.send(Err(io::Error::other("connection dropped by the test"))).await;
        }
        self.control.counts.send_modify(|c| c.open -= 1);
    }

    async fn send(&self, chunk: Bytes) -> Result<(), End> {
        self.tx.send(Ok(chunk)).await.map_err(|_| End::Clean)
    }

    async fn replay_then_live(
        &mut self,
        replay: Vec<(ChangeType, Arc<Value>)>,
        live: &mut broadcast::Receiver<Arc<Change>>,
    ) -> Result<(), End> {
        for (change, object) in replay {
            self.send(line(change.as_str(), render(&object, self.shape))).await?;
        }
        if self.initial_events_end {
            let annotations = json!({"k8s.io/initial-events-end": "true"});
            self.send(line("BOOKMARK", bookmark(&self.rt, self.shape, self.seen_rv, Some(annotations)))).await?;
        }
        let period = self.control.bookmark_interval;
        let mut ticks = interval_at(Instant::now() + period, period);
        ticks.set_missed_tick_behavior(MissedTickBehavior::Delay);
        let deadline = sleep(self.timeout.unwrap_or(Duration::from_secs(365 * 24 * 3600)));
        tokio::pin!(deadline);
        loop {
            tokio::select! {
                biased;
                _ = self.drops.changed() => return Err(End::Abrupt),
                () = self.tx.closed() => return Ok(()),
                () = &mut deadline => return Ok(()),
                received = live.recv() => match received {
                    Ok(change) => {
                        self.seen_rv = change.rv;
                        let ns_matches = self.namespace.as_ref().is_none_or(|ns| *ns == change.key.0);
                        if change.gvr == self.rt.gvr && ns_matches {
                            self.send(line(change.change.as_str(), render(&change.object, self.shape))).await?;
                        }
                    }
                    // Too far behind, or the server is gone: end, and let the client resume.
                    Err(broadcast::error::RecvError::Lagged(_) | broadcast::error::RecvError::Closed) => return Ok(()),
                },
                _ = ticks.tick(), if self.bookmarks => {
                    self.send(line("BOOKMARK", bookmark(&self.rt, self.shape, self.seen_rv, None))).await?;
                }
            }
        }
    }
}
