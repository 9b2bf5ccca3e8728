//! What the benches share: a fleet loaded into RocksDB, fixed query starts, the in-memory
//! floor (petgraph) built from the same edges, latency statistics, and a store served over
//! loopback gRPC.

pub mod floor;
pub mod served;
pub mod stats;
pub mod synthetic;

use graphd_core::{ItemId, Kind, Timestamp};
use graphd_fleet::{generate, load, FleetSize};
use graphd_rocks::{RocksEngine, RocksOptions};
use graphd_store::query::ListQuery;
use graphd_store::{Op, Outcome, Store};
use std::path::Path;
use std::time::{Duration, Instant};

pub type BenchStore = Store<RocksEngine>;

/// The fleet size to bench: `GRAPHD_BENCH_FLEET` (s, m, l; m by default).
pub fn bench_size() -> (String, FleetSize) {
    let word = std::env::var("GRAPHD_BENCH_FLEET").unwrap_or_else(|_| "m".into());
    let size = FleetSize::parse(&word)
        .unwrap_or_else(|| panic!("GRAPHD_BENCH_FLEET={word:?}: expected s, m, l or a number of clusters"));
    (word, size)
}

pub fn open(dir: &Path) -> BenchStore {
    Store::open(RocksEngine::open(dir, &RocksOptions::default()).expect("open RocksDB")).expect("open store")
}

/// Generates the fleet and loads it into `dir`; returns the load time (generation excluded)
/// and the counts loaded.
pub fn load_into(dir: &Path, size: FleetSize) -> (Duration, usize, usize) {
    let fleet = generate(size, 1);
    let batches: Vec<_> = load::batches(&fleet, 5_000).collect();
    (load_batches(&open(dir), &batches).0, fleet.items.len(), fleet.edges.len())
}

/// Applies `batches` in order and flushes: the time a bulk load takes, and what it did.
pub fn load_batches(store: &BenchStore, batches: &[Vec<Op>]) -> (Duration, Outcome) {
    let started = Instant::now();
    let mut total = Outcome::default();
    let timed = batches.iter().map(|batch| (batch, Timestamp::now()));
    // The load ends with the engine's flush.
    store.apply_all(timed, "bench", |_, outcome| total.add_counts(&outcome)).expect("load");
    (started.elapsed(), total)
}

/// `count` live items of `kind`, spread evenly over the store: fixed starts for queries.
pub fn starts(store: &BenchStore, kind: &str, count: usize) -> Vec<ItemId> {
    let mut ids = Vec::new();
    let mut query = ListQuery { kind: Some(Kind::new(kind).unwrap()), limit: 10_000, ..ListQuery::default() };
    loop {
        let page = store.read().list(&query).expect("list");
        ids.extend(page.items.iter().map(|i| i.id));
        match page.next_cursor {
            Some(c) => query.cursor = Some(c),
            None => break,
        }
    }
    let step = (ids.len() / count.max(1)).max(1);
    ids.into_iter().step_by(step).take(count).collect()
}

/// Peak resident memory of this process so far, in bytes (Linux `VmHWM`).
pub fn peak_rss() -> u64 {
    proc_status_kib("VmHWM:") * 1024
}

/// CPU time this process has used so far, user and system, in seconds (Linux
/// `/proc/self/stat`, in clock ticks of 1/100 s).
pub fn cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/self/stat")
}

/// CPU time the calling thread has used so far, as [`cpu_seconds`]: a thread's own work,
/// which the other threads' (and other processes') do not blur as they blur the time it takes.
pub fn thread_cpu_seconds() -> f64 {
    cpu_seconds_in("/proc/thread-self/stat")
}

fn cpu_seconds_in(stat_file: &str) -> f64 {
    let stat = std::fs::read_to_string(stat_file).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> =
        stat.rsplit_once(')').map(|(_, rest)| rest.split_whitespace().collect()).unwrap_or_default();
    let ticks = |i: usize| fields.get(i).and_then(|f| f.parse::<u64>().ok()).unwrap_or(0);
    // utime and stime are fields 14 and 15 of the line, 12 and 13 after the name.
    (ticks(11) + ticks(12)) as f64 / 100.0
}

/// Resident memory of this process now, in bytes (Linux `VmRSS`).
pub fn current_rss() -> u64 {
    proc_status_kib("VmRSS:") * 1024
}

fn proc_status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes of the files directly in `dir`.
pub fn dir_size(dir: &Path) -> u64 {
    std::fs::read_dir(dir)
        .map(|entries| {
            entries.flatten().filter_map(|e| e.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
        })
        .unwrap_or(0)
}
