//! Loading a generated fleet into a store, with progress on stderr.

use graphd_core::Timestamp;
use graphd_fleet::{load, Fleet};
use graphd_store::{Engine, Store};
use std::time::{Duration, Instant};

/// Operations per atomic batch when bulk loading.
pub const LOAD_BATCH: usize = 5_000;

/// What a load did and how fast.
#[derive(Debug, Clone, Copy)]
pub struct LoadReport {
    pub items: usize,
    pub edges: usize,
    pub deleted: usize,
    pub elapsed: Duration,
}

impl LoadReport {
    pub fn items_per_sec(&self) -> f64 {
        self.items as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// Loads `fleet` in atomic batches; `progress` is called with (ops done, ops total).
pub fn load_fleet<E: Engine>(
    store: &Store<E>,
    fleet: &Fleet,
    mut progress: impl FnMut(usize, usize),
) -> anyhow::Result<LoadReport> {
    let deleted = fleet.items.iter().filter(|i| i.deleted).count();
    let total = fleet.items.len() + fleet.edges.len() + deleted;
    let started = Instant::now();
    let timed = load::batches(fleet, LOAD_BATCH).map(|batch| (batch, Timestamp::now()));
    // Every batch but the last holds LOAD_BATCH operations.
    store.apply_all(timed, "fleet", |index, _| progress(((index + 1) * LOAD_BATCH).min(total), total))?;
    Ok(LoadReport { items: fleet.items.len(), edges: fleet.edges.len(), deleted, elapsed: started.elapsed() })
}

/// A progress callback that prints a line to stderr at each tenth of the way.
pub fn stderr_progress(what: &'static str) -> impl FnMut(usize, usize) {
    let started = Instant::now();
    at_each_tenth(move |done, total, percent| {
        let rate = done as f64 / started.elapsed().as_secs_f64().max(1e-9);
        eprintln!("{what}: {percent:>3}% ({done}/{total}, {rate:.0}/s)");
    })
}

/// A progress callback (done, total) that tells `report` (done, total, percent) once at each
/// tenth of the way.
pub fn at_each_tenth(mut report: impl FnMut(usize, usize, usize)) -> impl FnMut(usize, usize) {
    let mut shown = 0;
    move |done, total| {
        let tenth = done * 10 / total.max(1);
        if tenth > shown {
            shown = tenth;
            report(done, total, tenth * 10);
        }
    }
}
