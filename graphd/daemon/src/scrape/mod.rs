//! Scraped objects into the store. Each scraper (Kubernetes, AWS, custom sources) sends its
//! events to a sink of its own, which turns them into items (linked by the rules) as they
//! arrive, in batches; each complete listing is a resync of its scope, so what the source no
//! longer has is tombstoned; a listing that never completed (a failed or interrupted scrape)
//! tombstones nothing.

mod aws;
mod custom;
mod kubernetes;

pub use aws::AwsSink;
pub use custom::CustomSink;
pub use kubernetes::KubernetesSink;

use crate::agent::Outbox;
use crate::config;
use graphd_core::scrape::{Mode, StatusBoard};
use graphd_core::{ExternalKey, Timestamp};
use graphd_store::{Engine, Op, Outcome, Resync, Store};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tokio::task::{JoinHandle, JoinSet};

/// Operations per atomic batch.
const BATCH: usize = 1_000;
/// A partial batch is written when no event came for this long.
const IDLE_FLUSH: Duration = Duration::from_millis(50);
/// How often a sink's periodic work runs (see [`Sink::every_minute`]).
const PERIODIC: Duration = Duration::from_secs(60);
/// Events in flight between a scraper and its sink, at most: what bounds memory when the
/// store is slower than the sources.
const CHANNEL: usize = 4_096;

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

impl SinkReport {
    fn add(&mut self, other: SinkReport) {
        self.objects += other.objects;
        self.deleted += other.deleted;
        self.listings += other.listings;
        self.gone_at_resync += other.gone_at_resync;
        self.outcome.add_counts(&other.outcome);
        self.skipped += other.skipped;
        self.last_skipped = other.last_skipped.or(self.last_skipped.take());
    }
}

/// Scraped items waiting for their batch, and what writing them did: what every sink shares.
#[derive(Debug)]
pub struct Writer<E: Engine> {
    store: Arc<Store<E>>,
    /// Recorded as the source of each batch.
    source: &'static str,
    pending: Vec<Op>,
    pub report: SinkReport,
    /// In an agent: every batch written is queued here for the central graphd too.
    forward: Option<Arc<Outbox>>,
}

impl<E: Engine> Writer<E> {
    pub fn new(store: Arc<Store<E>>, source: &'static str) -> Self {
        Writer { store, source, pending: Vec::new(), report: SinkReport::default(), forward: None }
    }

    /// Queues every batch written from now on in `outbox` as well.
    pub fn forward_to(&mut self, outbox: Arc<Outbox>) {
        self.forward = Some(outbox);
    }

    fn forward(&self, ops: &[Op], source: &str) -> anyhow::Result<()> {
        if let Some(outbox) = &self.forward {
            outbox.append(&crate::agent::request(ops, source))?;
        }
        Ok(())
    }

    pub fn store(&self) -> Arc<Store<E>> {
        Arc::clone(&self.store)
    }

    /// Queues `ops`, writing a batch once enough are queued.
    pub fn push(&mut self, ops: impl IntoIterator<Item = Op>) -> anyhow::Result<()> {
        self.pending.extend(ops);
        if self.pending.len() >= BATCH {
            self.flush()?;
        }
        Ok(())
    }

    /// Whether `key` is stored (alive or not) or about to be.
    pub fn stored_or_pending(&self, key: &ExternalKey) -> anyhow::Result<bool> {
        let pending = self.pending.iter().any(|op| matches!(op, Op::Upsert(item) if &item.key == key));
        Ok(pending || self.store.read().get_by_key(key, true)?.is_some())
    }

    /// Writes what is pending as one atomic batch.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let ops = std::mem::take(&mut self.pending);
        let outcome = self.store.apply(&ops, Timestamp::now(), self.source)?;
        self.report.outcome.add_counts(&outcome);
        self.forward(&ops, self.source)
    }

    /// Writes what is pending, then tombstones whatever of `resync`'s scope and kinds is not
    /// among `reported`. `source` names the listing (`kubernetes/prod`).
    pub fn resync(&mut self, resync: &Resync, reported: &HashSet<ExternalKey>, source: &str) -> anyhow::Result<()> {
        self.flush()?;
        let (outcome, gone) = self.store.resync_tombstoning(resync, reported, Timestamp::now(), source)?;
        self.report.gone_at_resync += outcome.deleted as u64;
        self.report.outcome.add_counts(&outcome);
        if gone.is_empty() {
            return Ok(());
        }
        let deletes: Vec<Op> = gone.into_iter().map(Op::Delete).collect();
        self.forward(&deletes, &graphd_store::resync::resync_source(source))
    }

    /// Counts a malformed object that is left out.
    pub fn skip(&mut self, object: String, reason: String) {
        tracing::warn!(%object, %reason, "skipping a malformed object");
        self.report.skipped += 1;
        self.report.last_skipped = Some((object, reason));
    }
}

/// Turns one scraper's events into store writes.
pub trait Sink<E: Engine>: Send {
    type Event: Send;

    fn handle(&mut self, event: Self::Event) -> anyhow::Result<()>;

    fn writer(&mut self) -> &mut Writer<E>;

    /// Runs every minute while events flow.
    fn every_minute(&mut self) -> anyhow::Result<()> {
        Ok(())
    }
}

/// Applies events from `events` through `sink` until every sender is gone, writing a partial
/// batch whenever the events pause. Store writes block: this wants a multi-threaded runtime.
pub async fn drain<E: Engine, S: Sink<E>>(
    mut sink: S,
    mut events: mpsc::Receiver<S::Event>,
) -> anyhow::Result<SinkReport> {
    // Events are taken as many at a time as have arrived: leaving the runtime for the
    // blocking writes costs a thread hand-over, once per bunch rather than per object.
    let mut arrived = Vec::with_capacity(BATCH);
    let mut periodic = tokio::time::Instant::now();
    loop {
        match tokio::time::timeout(IDLE_FLUSH, events.recv_many(&mut arrived, BATCH)).await {
            Ok(0) => break,
            Ok(_) => tokio::task::block_in_place(|| arrived.drain(..).try_for_each(|event| sink.handle(event)))?,
            Err(_idle) => tokio::task::block_in_place(|| sink.writer().flush())?,
        }
        if periodic.elapsed() >= PERIODIC {
            tokio::task::block_in_place(|| sink.every_minute())?;
            periodic = tokio::time::Instant::now();
        }
    }
    let writer = sink.writer();
    tokio::task::block_in_place(|| writer.flush())?;
    Ok(std::mem::take(&mut writer.report))
}

/// Runs `drain` in a task of its own (queueing what it writes in `forward` too, if given),
/// saying at once when writing fails.
fn spawn_drain<E: Engine + 'static, S: Sink<E> + 'static>(
    mut sink: S,
    events: mpsc::Receiver<S::Event>,
    forward: Option<Arc<Outbox>>,
) -> JoinHandle<anyhow::Result<SinkReport>>
where
    S::Event: 'static,
{
    if let Some(outbox) = forward {
        sink.writer().forward_to(outbox);
    }
    tokio::spawn(async move {
        let drained = drain(sink, events).await;
        if let Err(error) = &drained {
            // The scrapers stop too (their channel closes); say so now, not at shutdown.
            tracing::error!(error = format!("{error:#}"), "cannot write scraped objects; scraping stops");
        }
        drained
    })
}

/// What the server needs of the running scrapers: how each is doing, and a way to ask an AWS
/// or custom source to scrape again now.
#[derive(Debug, Clone, Default)]
pub struct Handles {
    /// How each cluster, account, region and custom source is doing.
    pub board: Arc<StatusBoard>,
    /// By AWS or custom source name.
    rescrape: Arc<HashMap<String, Arc<Notify>>>,
}

/// Why a rescrape cannot be requested.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RescrapeError {
    Unknown(String),
    /// A Kubernetes cluster: watched live, never stale.
    Watched(String),
}

impl std::fmt::Display for RescrapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RescrapeError::Unknown(name) => write!(f, "no AWS or custom source named {name:?} is scraped here"),
            RescrapeError::Watched(name) => {
                write!(f, "{name:?} is a Kubernetes cluster: it is watched live, there is nothing to rescrape")
            }
        }
    }
}

impl Handles {
    /// Asks the AWS source `name` to scrape every region now, or the custom source `name` to
    /// read again (or right after the scrape under way).
    pub fn rescrape(&self, name: &str) -> Result<(), RescrapeError> {
        if let Some(wake) = self.rescrape.get(name) {
            wake.notify_one();
            return Ok(());
        }
        let cluster = self.board.rows().iter().any(|row| row.scraper == "kubernetes" && row.name == name);
        Err(if cluster { RescrapeError::Watched(name.to_owned()) } else { RescrapeError::Unknown(name.to_owned()) })
    }
}

/// The scrapers of a configuration, running into one store.
#[derive(Debug)]
pub struct Scrapers {
    pub handles: Handles,
    sources: JoinSet<()>,
    sinks: Vec<JoinHandle<anyhow::Result<SinkReport>>>,
}

impl Scrapers {
    /// Starts every source of `config` in `mode`, writing into `store`.
    pub fn start<E: Engine + 'static>(store: Arc<Store<E>>, config: &config::Scrapers, mode: Mode) -> Scrapers {
        Scrapers::start_forwarding(store, config, mode, None)
    }

    /// [`Scrapers::start`], queueing every batch written in `forward` as well (an agent).
    pub fn start_forwarding<E: Engine + 'static>(
        store: Arc<Store<E>>,
        config: &config::Scrapers,
        mode: Mode,
        forward: Option<Arc<Outbox>>,
    ) -> Scrapers {
        let board = Arc::new(StatusBoard::default());
        let mut sources = JoinSet::new();
        let mut sinks = Vec::new();
        if !config.kubernetes.is_empty() {
            let (events, received) = mpsc::channel(CHANNEL);
            for source in &config.kubernetes {
                let status = board.row("kubernetes", &source.name);
                sources.spawn(graphd_scrape_kubernetes::run_cluster(source.clone(), mode, events.clone(), status));
            }
            sinks.push(spawn_drain(KubernetesSink::new(Arc::clone(&store)), received, forward.clone()));
        }
        let mut rescrape = HashMap::new();
        if !config.aws.is_empty() {
            let (events, received) = mpsc::channel(CHANNEL);
            for source in &config.aws {
                let wake = Arc::clone(rescrape.entry(source.name.clone()).or_default());
                let board = Arc::clone(&board);
                sources.spawn(graphd_scrape_aws::run_account(source.clone(), mode, events.clone(), board, wake));
            }
            sinks.push(spawn_drain(AwsSink::new(Arc::clone(&store)), received, forward.clone()));
        }
        if !config.custom.is_empty() {
            let (events, received) = mpsc::channel(CHANNEL);
            for source in &config.custom {
                let wake = Arc::clone(rescrape.entry(source.name.clone()).or_default());
                let status = board.row("custom", &source.name);
                sources.spawn(graphd_scrape_custom::run_source(source.clone(), mode, events.clone(), status, wake));
            }
            sinks.push(spawn_drain(CustomSink::new(Arc::clone(&store)), received, forward.clone()));
        }
        Scrapers { handles: Handles { board, rescrape: Arc::new(rescrape) }, sources, sinks }
    }

    /// Waits for every source to finish (a [`Mode::Once`] scrape), then for the last writes.
    pub async fn finish(mut self) -> anyhow::Result<SinkReport> {
        while self.sources.join_next().await.is_some() {}
        self.written().await
    }

    /// Stops every source where it is, then waits for the writes of what was received.
    pub async fn stop(mut self) -> anyhow::Result<SinkReport> {
        self.sources.shutdown().await;
        self.written().await
    }

    async fn written(self) -> anyhow::Result<SinkReport> {
        let mut report = SinkReport::default();
        for sink in self.sinks {
            report.add(sink.await??);
        }
        Ok(report)
    }
}
