//! Prometheus metrics: ingest counters, query latency, store size, each scraper's progress;
//! served as `/metrics` on their own listener (beside the gRPC one), in the OpenMetrics text
//! format. The running scrapers' handles are kept here too: their statuses for the `Scrapers`
//! query, their wake-ups for `Rescrape`.

use crate::scrape::Handles;
use crate::GraphStore;
use axum::extract::State;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use graphd_store::Cf;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;
use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Outcome {
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Method {
    method: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct Scraper {
    scraper: &'static str,
    /// A cluster, an AWS source, or an AWS source's region (`prod/eu-west-1`).
    name: String,
}

/// Each scraper's progress, read from its status whenever metrics are rendered.
#[derive(Debug, Default)]
struct ScraperMetrics {
    objects: Family<Scraper, Counter>,
    errors: Family<Scraper, Counter>,
    listings: Family<Scraper, Counter>,
    resources: Family<Scraper, Gauge>,
    syncing: Family<Scraper, Gauge>,
    last_sync: Family<Scraper, Gauge>,
}

/// Every metric graphd exports, registered once.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    ingest_batches: Family<Outcome, Counter>,
    ingest_items: Family<Outcome, Counter>,
    ingest_edges: Family<Outcome, Counter>,
    query_seconds: Family<Method, Histogram>,
    store_bytes: Gauge,
    store_items: Gauge,
    store_edges: Gauge,
    scraper: ScraperMetrics,
    scrapers: Mutex<Handles>,
}

fn latency_histogram() -> Histogram {
    // 20 µs to about 5 s.
    Histogram::new(exponential_buckets(0.000_02, 2.0, 18))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("graphd");
        let ingest_batches = Family::default();
        registry.register("ingest_batches", "Ingest batches by outcome (applied, rejected)", ingest_batches.clone());
        let ingest_items = Family::default();
        registry.register(
            "ingest_items",
            "Items written by ingest, by outcome (created, updated, unchanged, deleted, resync_deleted)",
            ingest_items.clone(),
        );
        let ingest_edges = Family::default();
        registry.register("ingest_edges", "Edges added and removed by ingest", ingest_edges.clone());
        let query_seconds = Family::new_with_constructor(latency_histogram as fn() -> Histogram);
        registry.register("query_seconds", "Time to answer a query, by method", query_seconds.clone());
        let store_bytes = Gauge::default();
        registry.register("store_bytes", "Bytes of the store on disk and in memtables", store_bytes.clone());
        let store_items = Gauge::default();
        registry.register("store_items", "Items in the store, live and tombstoned (estimate)", store_items.clone());
        let store_edges = Gauge::default();
        registry.register("store_edges", "Edges in the store, live and tombstoned", store_edges.clone());
        let scraper = ScraperMetrics::default();
        registry.register("scraper_objects", "Objects a scraper received", scraper.objects.clone());
        registry.register("scraper_errors", "Errors a scraper met (each retried)", scraper.errors.clone());
        registry.register("scraper_listings", "Full listings a scraper completed", scraper.listings.clone());
        registry.register("scraper_resources", "Resource types a scraper scrapes", scraper.resources.clone());
        registry.register("scraper_syncing", "Resource types not listed fully yet", scraper.syncing.clone());
        registry.register(
            "scraper_last_sync_timestamp_seconds",
            "When every resource of a scraper was last listed fully",
            scraper.last_sync.clone(),
        );
        Metrics {
            registry,
            ingest_batches,
            ingest_items,
            ingest_edges,
            query_seconds,
            store_bytes,
            store_items,
            store_edges,
            scraper,
            scrapers: Mutex::default(),
        }
    }
}

impl Metrics {
    pub fn query_answered(&self, method: &'static str, took: Duration) {
        self.query_seconds.get_or_create(&Method { method }).observe(took.as_secs_f64());
    }

    pub fn batch_rejected(&self) {
        self.ingest_batches.get_or_create(&Outcome { outcome: "rejected" }).inc();
    }

    pub fn batch_applied(&self, ack: &graphd_proto::v1::IngestAck) {
        self.ingest_batches.get_or_create(&Outcome { outcome: "applied" }).inc();
        for (outcome, n) in [
            ("created", ack.created),
            ("updated", ack.updated),
            ("unchanged", ack.unchanged),
            ("deleted", ack.deleted),
            ("resync_deleted", ack.resync_deleted),
        ] {
            self.ingest_items.get_or_create(&Outcome { outcome }).inc_by(u64::from(n));
        }
        self.ingest_edges.get_or_create(&Outcome { outcome: "added" }).inc_by(u64::from(ack.edges_added));
        self.ingest_edges.get_or_create(&Outcome { outcome: "removed" }).inc_by(u64::from(ack.edges_removed));
    }

    /// The scrapers this process runs, for their metrics and the `Scrapers` query.
    pub fn set_scrapers(&self, handles: Handles) {
        *self.scrapers.lock().unwrap_or_else(|p| p.into_inner()) = handles;
    }

    pub fn scrapers(&self) -> Handles {
        self.scrapers.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The exposition text, with the store's size and the scrapers' progress read now.
    pub fn render(&self, store: &GraphStore) -> String {
        let engine = store.engine();
        let gauge = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
        self.store_bytes.set(gauge(engine.size_bytes()));
        self.store_items.set(gauge(engine.estimated_keys(Cf::Items)));
        self.store_edges.set(gauge(store.edge_count() as u64));
        for row in self.scrapers().board.rows() {
            let s = row.status.snapshot();
            let labels = Scraper { scraper: row.scraper, name: row.name };
            let m = &self.scraper;
            m.objects.get_or_create(&labels).inner().store(s.objects, Ordering::Relaxed);
            m.errors.get_or_create(&labels).inner().store(s.errors, Ordering::Relaxed);
            m.listings.get_or_create(&labels).inner().store(s.listings, Ordering::Relaxed);
            m.resources.get_or_create(&labels).set(gauge(s.resources as u64));
            m.syncing.get_or_create(&labels).set(gauge(s.syncing as u64));
            m.last_sync.get_or_create(&labels).set(gauge(s.last_sync_ms.unwrap_or(0) / 1_000));
        }
        let mut text = String::new();
        prometheus_client::encoding::text::encode(&mut text, &self.registry).expect("writing to a String cannot fail");
        text
    }
}

/// Serves `GET /metrics` on `listener` until `shutdown` completes.
pub async fn serve_metrics(
    metrics: Arc<Metrics>,
    store: Arc<GraphStore>,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let app = axum::Router::new().route("/metrics", axum::routing::get(scrape)).with_state((metrics, store));
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    Ok(())
}

async fn scrape(State((metrics, store)): State<(Arc<Metrics>, Arc<GraphStore>)>) -> impl IntoResponse {
    let text = tokio::task::spawn_blocking(move || metrics.render(&store)).await.unwrap_or_default();
    ([(CONTENT_TYPE, "application/openmetrics-text; version=1.0.0; charset=utf-8")], text)
}
