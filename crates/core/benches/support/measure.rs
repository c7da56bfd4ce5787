//! How the bench times and summarises: one call at a time with `Instant`, percentiles in
//! microseconds, per-lead medians, and the FNV-1a digest of the engine's output.

use serde_json::{Value, json};
use std::hint::black_box;
use std::time::{Duration, Instant};

#[derive(Clone, Copy)]
pub struct Summary {
    pub n: usize,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
    pub mean: f64,
}

impl Summary {
    /// From per-call nanoseconds; figures in microseconds.
    pub fn of(ns: &[u64]) -> Summary {
        let mut v = ns.to_vec();
        v.sort_unstable();
        let q =
            |p: f64| v[((v.len() as f64 * p).ceil() as usize).clamp(1, v.len()) - 1] as f64 / 1e3;
        Summary {
            n: v.len(),
            p50: q(0.50),
            p90: q(0.90),
            p99: q(0.99),
            p999: q(0.999),
            max: *v.last().unwrap_or(&0) as f64 / 1e3,
            mean: v.iter().sum::<u64>() as f64 / v.len().max(1) as f64 / 1e3,
        }
    }

    pub fn json(&self) -> Value {
        json!({
            "n": self.n, "p50_us": r3(self.p50), "p90_us": r3(self.p90), "p99_us": r3(self.p99),
            "p99_9_us": r3(self.p999), "max_us": r3(self.max), "mean_us": r3(self.mean),
        })
    }

    pub fn row(&self, label: &str) -> String {
        format!(
            "{label:<34} {:>8} {:>8.2} {:>8.2} {:>8.2} {:>8.2} {:>9.1} {:>8.2}",
            self.n, self.p50, self.p90, self.p99, self.p999, self.max, self.mean
        )
    }
}

/// `LR_BENCH_PROFILE_JUST_READ=1`: a fresh copy of the lead and its enrichment, then the
/// decision, as the service decides a lead it has just parsed. Not inlined, so a profile
/// can collect this function (the copy's cost included) and see `decide`'s cache misses
/// with the lead's bytes in cache.
pub struct Fnv(pub u64);

impl Default for Fnv {
    fn default() -> Self {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
}

impl Fnv {
    pub fn update(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().chain(&[0xff]) {
            self.0 = (self.0 ^ b as u64).wrapping_mul(0x0100_0000_01b3);
        }
    }
}

pub fn r3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

pub fn env_usize(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Time `f(i)` for `i in 0..n` one call at a time; the result is dropped outside the
/// timed region. Stops early (but after at least `min` calls) when `budget` is spent.
pub fn measure<T>(
    n: usize,
    min: usize,
    budget: Duration,
    mut f: impl FnMut(usize) -> T,
) -> Vec<u64> {
    let mut ns = Vec::with_capacity(n);
    let start = Instant::now();
    for i in 0..n {
        let t0 = Instant::now();
        let out = f(i);
        let dt = t0.elapsed();
        black_box(&out);
        drop(out);
        ns.push(dt.as_nanos() as u64);
        if i >= min && i % 1024 == 0 && start.elapsed() > budget {
            break;
        }
    }
    ns
}

/// A fixed dependent chain of `n` multiply-adds, the same instructions every call. Its
/// p50 tells how fast this host runs plain arithmetic (a step is a 64-bit multiply and an
/// add on the critical path, about four cycles), and its p99 / p50 how much the host
/// itself (interrupts, the hypervisor, a neighbour) adds to a short call's tail. Decisions differ from it in what they touch, not in how
/// they are timed.
pub fn per_lead_medians(ns: &[u64], leads: usize) -> Summary {
    let mut groups: Vec<Vec<u64>> = vec![Vec::new(); leads];
    for (i, t) in ns.iter().enumerate() {
        groups[i % leads].push(*t);
    }
    let medians: Vec<u64> = groups
        .iter_mut()
        .filter(|g| !g.is_empty())
        .map(|g| {
            g.sort_unstable();
            g[g.len() / 2]
        })
        .collect();
    Summary::of(&medians)
}

/// As [`measure`], over batches of `batch` inputs made (untimed) by `prepare(i)` just
/// before the batch is timed, one call at a time.
pub fn measure_batches<P, T>(
    n: usize,
    batch: usize,
    mut prepare: impl FnMut(usize) -> P,
    mut f: impl FnMut(&P) -> T,
) -> Vec<u64> {
    let mut ns = Vec::with_capacity(n);
    let mut inputs = Vec::with_capacity(batch);
    for start in (0..n).step_by(batch) {
        inputs.extend((start..n.min(start + batch)).map(&mut prepare));
        for p in &inputs {
            let t0 = Instant::now();
            let out = f(p);
            let dt = t0.elapsed();
            black_box(&out);
            drop(out);
            ns.push(dt.as_nanos() as u64);
        }
        inputs.clear();
    }
    ns
}

pub fn read_kb(field: &str) -> Option<u64> {
    let s = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = s.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The 1-minute load average: other work on the machine skews the tail figures.
pub fn loadavg() -> f64 {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse().ok()))
        .unwrap_or(f64::NAN)
}

pub fn mib(b: isize) -> f64 {
    b as f64 / (1024.0 * 1024.0)
}

/// `<target>/NAME`, beside the bench binary's profile directory.
pub fn json_path(name: &str) -> std::path::PathBuf {
    // The bench binary lives in <target>/<profile>/deps/.
    std::env::current_exe()
        .ok()
        .and_then(|p| p.ancestors().nth(3).map(|t| t.to_path_buf()))
        .filter(|t| t.is_dir())
        .unwrap_or_else(|| std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"))
        .join(name)
}
