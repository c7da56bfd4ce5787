//! What a load run measured, as text for people, JSON for scripts, and a markdown table
//! that compares runs against the bare baseline.
//!
//! Latencies are recorded in nanoseconds in HDR histograms (3 significant digits) and
//! reported in milliseconds, because the targets are sub-millisecond.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// A fresh latency histogram (nanoseconds). It starts small (1 µs .. 1 s, ~80 KiB) and
/// grows when a larger value arrives, so one per connection stays cheap.
pub fn new_histogram() -> Histogram<u64> {
    let mut h = Histogram::new_with_bounds(1_000, 1_000_000_000, 3)
        .expect("static histogram bounds are valid");
    h.auto(true);
    h
}

/// How requests were issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// Each connection sends its next request when the previous answer arrives.
    Closed,
    /// Requests are due at a fixed rate whatever the server does; latency counts from the
    /// time a request was due, so a stalled server is not hidden (no coordinated omission).
    Open,
}

/// Percentiles of one distribution, in milliseconds.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub count: u64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

impl Percentiles {
    /// Reads a nanosecond histogram.
    pub fn from_histogram(h: &Histogram<u64>) -> Self {
        let ms = |ns: u64| ns as f64 / 1e6;
        if h.is_empty() {
            return Percentiles::default();
        }
        Percentiles {
            count: h.len(),
            mean: h.mean() / 1e6,
            p50: ms(h.value_at_quantile(0.50)),
            p90: ms(h.value_at_quantile(0.90)),
            p99: ms(h.value_at_quantile(0.99)),
            p999: ms(h.value_at_quantile(0.999)),
            max: ms(h.max()),
        }
    }
}

/// Requests that did not get a 2xx.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Errors {
    /// Answers outside 2xx.
    pub non_2xx: u64,
    /// Connect, send or read failures, including timeouts.
    pub transport: u64,
    /// Of `transport`, the requests that hit `--timeout`.
    pub timeouts: u64,
    pub by_status: BTreeMap<u16, u64>,
    /// The first error seen, to say what went wrong without a log.
    pub first: Option<String>,
}

impl Errors {
    pub fn total(&self) -> u64 {
        self.non_2xx + self.transport
    }

    pub fn merge(&mut self, other: &Errors) {
        self.non_2xx += other.non_2xx;
        self.transport += other.transport;
        self.timeouts += other.timeouts;
        for (status, n) in &other.by_status {
            *self.by_status.entry(*status).or_default() += n;
        }
        if self.first.is_none() {
            self.first.clone_from(&other.first);
        }
    }
}

/// Everything one run measured.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// What was measured, e.g. `bare-baseline` or `leadrouter-sqlite`.
    pub label: String,
    pub url: String,
    pub run_id: String,
    pub mode: Mode,
    /// Connections, each with at most one request in flight.
    pub concurrency: usize,
    /// Open loop: the target arrival rate, requests per second.
    pub target_rate: Option<f64>,
    /// Seconds from the end of the warm-up to the last answer.
    pub duration_s: f64,
    /// Requests answered or failed in the measured window.
    pub requests: u64,
    pub ok: u64,
    pub errors: Errors,
    /// 2xx answers per second.
    pub throughput_rps: f64,
    /// Client-side latency of 2xx answers. Open loop: from the time the request was due.
    pub latency_ms: Percentiles,
    /// Server-side `routed_at - received_at` of 2xx answers that carry both.
    pub speed_to_assign_ms: Option<Percentiles>,
}

impl Summary {
    /// One line: throughput, median and tail, errors and the first of them.
    pub fn one_line(&self) -> String {
        let mut line = format!(
            "{:.0} req/s, p50 {:.3} ms, p99 {:.3} ms, {} errors",
            self.throughput_rps,
            self.latency_ms.p50,
            self.latency_ms.p99,
            self.errors.total()
        );
        if let Some(sta) = &self.speed_to_assign_ms {
            let _ = write!(
                line,
                ", to assign p50 {:.3} ms p99 {:.3} ms",
                sta.p50, sta.p99
            );
        }
        if let Some(first) = &self.errors.first {
            let _ = write!(line, " (first: {first})");
        }
        line
    }

    /// A few lines for a person at a terminal.
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        let mode = match self.mode {
            Mode::Closed => format!("closed loop, concurrency {}", self.concurrency),
            Mode::Open => format!(
                "open loop, {} req/s over {} connections",
                self.target_rate.unwrap_or_default(),
                self.concurrency
            ),
        };
        let _ = writeln!(out, "{} {} ({mode})", self.label, self.url);
        let _ = writeln!(
            out,
            "  requests    {} in {:.2} s: {} ok, {} errors ({} non-2xx, {} transport, {} timeouts)",
            self.requests,
            self.duration_s,
            self.ok,
            self.errors.total(),
            self.errors.non_2xx,
            self.errors.transport,
            self.errors.timeouts
        );
        if !self.errors.by_status.is_empty() {
            let statuses: Vec<String> = self
                .errors
                .by_status
                .iter()
                .map(|(s, n)| format!("{s}: {n}"))
                .collect();
            let _ = writeln!(out, "  statuses    {}", statuses.join(", "));
        }
        if let Some(first) = &self.errors.first {
            let _ = writeln!(out, "  first error {first}");
        }
        let _ = writeln!(out, "  throughput  {:.0} req/s", self.throughput_rps);
        let _ = writeln!(out, "  latency     {}", percentile_line(&self.latency_ms));
        match &self.speed_to_assign_ms {
            Some(sta) => {
                let _ = writeln!(out, "  to assign   {}", percentile_line(sta));
            }
            None => {
                let _ = writeln!(
                    out,
                    "  to assign   n/a (answers carry no received_at/routed_at)"
                );
            }
        }
        out
    }
}

fn percentile_line(p: &Percentiles) -> String {
    format!(
        "p50 {:.3} ms  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  (mean {:.3}, n={})",
        p.p50, p.p90, p.p99, p.p999, p.max, p.mean, p.count
    )
}

/// Markdown tables of many runs: closed-loop runs with their throughput as a ratio to
/// the `baseline` label's run at the same concurrency, then open-loop runs.
pub fn markdown_tables(runs: &[Summary], baseline: &str) -> String {
    let mut out = String::new();
    let closed: Vec<&Summary> = runs.iter().filter(|r| r.mode == Mode::Closed).collect();
    if !closed.is_empty() {
        out.push_str(
            "| target | concurrency | req/s | p50 ms | p99 ms | p99.9 ms | errors | vs baseline |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        for run in &closed {
            let base = closed
                .iter()
                .find(|b| b.label == baseline && b.concurrency == run.concurrency);
            let ratio = match base {
                Some(b) if b.throughput_rps > 0.0 => {
                    format!("{:.2}", run.throughput_rps / b.throughput_rps)
                }
                _ => "–".to_owned(),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {} |",
                run.label,
                run.concurrency,
                run.throughput_rps,
                run.latency_ms.p50,
                run.latency_ms.p99,
                run.latency_ms.p999,
                run.errors.total(),
                ratio
            );
        }
    }
    let open: Vec<&Summary> = runs.iter().filter(|r| r.mode == Mode::Open).collect();
    if !open.is_empty() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(
            "| target | rate req/s | achieved req/s | p50 ms | p99 ms | p99.9 ms | max ms | errors | to-assign p50 ms | to-assign p99 ms |\n",
        );
        out.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
        for run in &open {
            let (sta50, sta99) = match &run.speed_to_assign_ms {
                Some(s) => (format!("{:.3}", s.p50), format!("{:.3}", s.p99)),
                None => ("n/a".to_owned(), "n/a".to_owned()),
            };
            let _ = writeln!(
                out,
                "| {} | {:.0} | {:.0} | {:.3} | {:.3} | {:.3} | {:.3} | {} | {} | {} |",
                run.label,
                run.target_rate.unwrap_or_default(),
                run.throughput_rps,
                run.latency_ms.p50,
                run.latency_ms.p99,
                run.latency_ms.p999,
                run.latency_ms.max,
                run.errors.total(),
                sta50,
                sta99
            );
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(label: &str, concurrency: usize, rps: f64) -> Summary {
        Summary {
            label: label.to_owned(),
            url: "http://127.0.0.1:1/v1/leads".to_owned(),
            run_id: "r".to_owned(),
            mode: Mode::Closed,
            concurrency,
            target_rate: None,
            duration_s: 1.0,
            requests: rps as u64,
            ok: rps as u64,
            errors: Errors::default(),
            throughput_rps: rps,
            latency_ms: Percentiles::default(),
            speed_to_assign_ms: None,
        }
    }

    #[test]
    fn ratio_is_taken_at_the_same_concurrency() {
        let runs = vec![
            run("bare-baseline", 1, 1000.0),
            run("bare-baseline", 64, 40000.0),
            run("leadrouter-sqlite", 1, 500.0),
            run("leadrouter-sqlite", 64, 30000.0),
        ];
        let table = markdown_tables(&runs, "bare-baseline");
        assert!(table.contains("| leadrouter-sqlite | 1 | 500 |"), "{table}");
        assert!(
            table
                .lines()
                .any(|l| l.starts_with("| leadrouter-sqlite | 64 ") && l.ends_with("| 0.75 |")),
            "{table}"
        );
    }

    #[test]
    fn percentiles_are_in_milliseconds() {
        let mut h = new_histogram();
        for _ in 0..100 {
            h.record(1_500_000).unwrap();
        }
        let p = Percentiles::from_histogram(&h);
        assert!((p.p50 - 1.5).abs() < 0.01, "{p:?}");
        assert_eq!(p.count, 100);
    }

    #[test]
    fn summary_json_round_trips() {
        let s = run("x", 16, 10.0);
        let json = serde_json::to_string(&s).unwrap();
        assert_eq!(serde_json::from_str::<Summary>(&json).unwrap(), s);
    }
}
