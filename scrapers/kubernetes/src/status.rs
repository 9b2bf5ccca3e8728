//! How one cluster's scrape is doing, for `graphd query scrapers` and `/metrics`.

use graphd_core::Timestamp;
use std::sync::Mutex;

/// Shared by a cluster's tasks and whoever reports on them.
#[derive(Debug, Default)]
pub struct ClusterStatus {
    inner: Mutex<StatusSnapshot>,
}

/// One reading of a [`ClusterStatus`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StatusSnapshot {
    /// Resources being scraped.
    pub resources: usize,
    /// Listings completed since the start (a resource's first sync, re-lists).
    pub listings: u64,
    /// Objects received (listed, added, modified, deleted).
    pub objects: u64,
    /// Errors met (discovery, lists, watches); each is retried.
    pub errors: u64,
    pub last_error: Option<String>,
    /// When every resource last had a complete listing, in milliseconds since the epoch.
    pub last_sync_ms: Option<u64>,
    /// Resources whose first listing has not completed yet.
    pub syncing: usize,
}

impl ClusterStatus {
    pub fn snapshot(&self) -> StatusSnapshot {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, StatusSnapshot> {
        // A panicking holder leaves counters, which are still worth reading.
        self.inner.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub(crate) fn resources_added(&self, count: usize) {
        let mut s = self.lock();
        s.resources += count;
        s.syncing += count;
    }

    pub(crate) fn object(&self) {
        self.lock().objects += 1;
    }

    pub(crate) fn error(&self, message: String) {
        let mut s = self.lock();
        s.errors += 1;
        s.last_error = Some(message);
    }

    /// A listing completed; `first` when it is the resource's first.
    pub(crate) fn listed(&self, first: bool) {
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
