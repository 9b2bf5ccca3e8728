//! What every scraper shares: whether it runs once or keeps watching, and how each scrape (a
//! Kubernetes cluster, an AWS account or one of its regions) is doing, for
//! `graphd query scrapers` and `/metrics`.

use crate::Timestamp;
use std::sync::{Arc, Mutex, MutexGuard};

/// Whether a source is scraped once or kept up to date until stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// One full listing of everything, then the scrape ends.
    Once,
    /// Listings, then watches (or rescrapes at an interval), until stopped.
    Watch,
}

/// Shared by a scrape's tasks and whoever reports on them.
#[derive(Debug, Default)]
pub struct ScrapeStatus {
    inner: Mutex<StatusSnapshot>,
}

/// One reading of a [`ScrapeStatus`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// Resources (kinds of object) being scraped.
    pub resources: usize,
    /// Listings completed since the start (a resource's first sync, re-lists, rescrapes).
    pub listings: u64,
    /// Objects received (listed, added, modified, deleted).
    pub objects: u64,
    /// Errors met (discovery, lists, watches, calls); each is retried.
    pub errors: u64,
    pub last_error: Option<String>,
    /// When every resource last had a complete listing, in milliseconds since the epoch.
    pub last_sync_ms: Option<u64>,
    /// Resources whose first listing has not completed yet.
    pub syncing: usize,
}

impl ScrapeStatus {
    pub fn snapshot(&self) -> StatusSnapshot {
        self.lock().clone()
    }

    fn lock(&self) -> MutexGuard<'_, StatusSnapshot> {
        lock(&self.inner)
    }

    pub fn resources_added(&self, count: usize) {
        let mut s = self.lock();
        s.resources += count;
        s.syncing += count;
    }

    pub fn object(&self) {
        self.objects_seen(1);
    }

    pub fn objects_seen(&self, count: u64) {
        self.lock().objects += count;
    }

    pub fn error(&self, message: String) {
        let mut s = self.lock();
        s.errors += 1;
        s.last_error = Some(message);
    }

    /// A listing completed; `first` when it is the resource's first.
    pub fn listed(&self, first: bool) {
        let mut s = self.lock();
        s.listings += 1;
        if first {
            s.syncing = s.syncing.saturating_sub(1);
        }
        if s.syncing == 0 {
            s.last_sync_ms = Some(Timestamp::now().millis());
        }
    }
}

/// A panicking holder leaves counters, which are still worth reading.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One scrape on a [`StatusBoard`].
#[derive(Debug, Clone)]
pub struct StatusRow {
    /// The scraper: `kubernetes`, `aws`.
    pub scraper: &'static str,
    /// What it scrapes: a cluster's name, an AWS source's name or `name/region`.
    pub name: String,
    pub status: Arc<ScrapeStatus>,
}

/// Every scrape's status, in the order they were added. Scrapers add rows as they find what
/// to scrape (an AWS account's enabled regions are known only once it answers).
#[derive(Debug, Default)]
pub struct StatusBoard {
    rows: Mutex<Vec<StatusRow>>,
}

impl StatusBoard {
    /// The status of `name`, added if it is not on the board yet.
    pub fn row(&self, scraper: &'static str, name: &str) -> Arc<ScrapeStatus> {
        let mut rows = lock(&self.rows);
        if let Some(row) = rows.iter().find(|r| r.scraper == scraper && r.name == name) {
            return Arc::clone(&row.status);
        }
        let status = Arc::new(ScrapeStatus::default());
        rows.push(StatusRow { scraper, name: name.to_owned(), status: Arc::clone(&status) });
        status
    }

    pub fn rows(&self) -> Vec<StatusRow> {
        lock(&self.rows).clone()
    }
}
