//! The report bench's load, timed by phase: the fleet's upserts, then its links, then its
//! deletes (each phase ends when its last batch has landed), then the flush that ends the
//! load. Which phase a change moves, where a whole load's time is too noisy to say. Each
//! phase also gives the CPU time of the thread that builds the batches (the critical path of
//! the links and deletes), which varies less from run to run than the time itself; and the
//! load the CPU time of every thread (writer, flushes and compactions included).
//!
//! `GRAPHD_BENCH_FLEET=l cargo run --release -p graphd-benches --example load_phases`

use graphd_benches::{bench_size, cpu_seconds, open, thread_cpu_seconds};
use graphd_core::Timestamp;
use graphd_fleet::load;
use graphd_store::Op;
use std::time::Instant;

const PHASES: [&str; 3] = ["upserts", "links", "deletes"];

fn main() {
    let (word, size) = bench_size();
    let fleet = graphd_fleet::generate(size, 1);
    let batches: Vec<Vec<Op>> = load::batches(&fleet, 5_000).collect();
    // A batch counts in the phase of its first operation: the batch where one phase gives way
    // to the next holds some of both.
    let phase_of: Vec<usize> = batches
        .iter()
        .map(|batch| match batch.first() {
            Some(Op::Upsert(_)) => 0,
            Some(Op::Link(_) | Op::Unlink(_)) => 1,
            _ => 2,
        })
        .collect();
    let dir = tempfile::tempdir().expect("a temporary directory");
    let store = open(dir.path());
    let (started, builder_cpu_before, cpu_before) = (Instant::now(), thread_cpu_seconds(), cpu_seconds());
    // When each phase's last batch landed, and the builder's CPU time by then: the callback
    // runs on the building thread.
    let mut phase_ends = [None::<(f64, f64)>; PHASES.len()];
    let timed = batches.iter().map(|batch| (batch, Timestamp::now()));
    store
        .apply_all(timed, "bench", |index, _| {
            let builder_cpu = thread_cpu_seconds() - builder_cpu_before;
            phase_ends[phase_of[index]] = Some((started.elapsed().as_secs_f64(), builder_cpu));
        })
        .expect("load");
    let (total, cpu) = (started.elapsed().as_secs_f64(), cpu_seconds() - cpu_before);
    let mut line = format!("fleet {word}:");
    let mut phase_start = (0.0, 0.0);
    for (name, end) in PHASES.iter().zip(phase_ends) {
        // A phase without batches took no time.
        let end = end.unwrap_or(phase_start);
        line += &format!(" {name} {:.2} s (builder CPU {:.2} s),", end.0 - phase_start.0, end.1 - phase_start.1);
        phase_start = end;
    }
    println!(
        "{line} flush {:.2} s; load {total:.2} s, {:.0} items/s, CPU {cpu:.2} s",
        total - phase_start.0,
        fleet.items.len() as f64 / total
    );
}
