//! Latency percentiles from individual timings.

use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
pub struct Latency {
    pub p50: Duration,
    pub p99: Duration,
    /// Mean number of items a call returned.
    pub mean_returned: f64,
    pub calls: usize,
}

impl Latency {
    /// p50 divided by the mean number of returned items.
    pub fn per_item(&self) -> Duration {
        if self.mean_returned < 1.0 {
            return self.p50;
        }
        self.p50.div_f64(self.mean_returned)
    }
}

/// Calls `run` on every start, `rounds` times over (the first round only warms up), timing each
/// call; `run` returns how many items the call produced.
pub fn measure<T: Copy>(starts: &[T], rounds: usize, mut run: impl FnMut(T) -> usize) -> Latency {
    for &start in starts {
        run(start);
    }
    let mut times = Vec::with_capacity(starts.len() * rounds);
    let mut returned = 0usize;
    for _ in 0..rounds {
        for &start in starts {
            let t = Instant::now();
            returned += std::hint::black_box(run(start));
            times.push(t.elapsed());
        }
    }
    times.sort_unstable();
    let pick = |q: f64| times[((times.len() as f64 * q).ceil() as usize).clamp(1, times.len()) - 1];
    Latency {
        p50: pick(0.50),
        p99: pick(0.99),
        mean_returned: returned as f64 / times.len().max(1) as f64,
        calls: times.len(),
    }
}

/// A duration in µs with two decimals, for tables.
pub fn micros(d: Duration) -> String {
    format!("{:.2}", d.as_secs_f64() * 1e6)
}

/// The median of `values` (the upper one of an even count); sorts them.
pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
