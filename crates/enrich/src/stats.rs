//! Per-provider counters for metrics and the quarterly "enrichment quality" audit: how
//! often a provider was asked, how often it knew the company, which fields it supplied,
//! what went wrong, and how long it took. Everything is lock-free atomics so recording
//! costs nanoseconds on the hot path; [`ProviderStats`] is the serialisable snapshot.

use crate::record::Field;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Duration;

/// A snapshot of one provider's counters, as returned by `Enricher::stats`.
///
/// Lead-level counters (`calls` = `hits` + `misses` + `errors` + `budget_exhausted`, plus
/// `skipped` leads the provider could not be asked about) describe what the routing saw;
/// request-level counters (`requests`, `timeouts`, `retries`) describe the traffic an
/// HTTP provider actually received.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ProviderStats {
    pub name: String,
    /// "file", "http" or "signals".
    pub kind: &'static str,
    /// Leads this provider was consulted for.
    pub calls: u64,
    /// Consultations that returned at least one field.
    pub hits: u64,
    /// Consultations where the provider had nothing for the company.
    pub misses: u64,
    /// Consultations that failed (HTTP error, timeout, malformed JSON, circuit open, …).
    pub errors: u64,
    /// Consultations cut short by the per-lead budget (or skipped because it was spent).
    pub budget_exhausted: u64,
    /// Leads not sent to this provider: no corporate domain to look up (personal or
    /// disposable email, no email), or every field it supplies was already known.
    pub skipped: u64,
    /// HTTP: answered from the in-memory cache.
    pub cache_hits: u64,
    /// HTTP: answered by waiting for another lead's in-flight request (coalesced).
    pub coalesced: u64,
    /// HTTP: answered from the persistent cache (no request spent).
    pub persistent_cache_hits: u64,
    /// HTTP: requests sent, retries included.
    pub requests: u64,
    /// HTTP: requests that ran past the provider's timeout.
    pub timeouts: u64,
    /// HTTP: retries after a retryable failure (5xx, 429, timeout, connection error).
    pub retries: u64,
    /// HTTP: requests not sent because the rate limit's next slot was past the budget.
    pub rate_limited: u64,
    /// HTTP: consultations refused because the circuit was open.
    pub circuit_rejections: u64,
    /// HTTP: times the circuit breaker opened.
    pub circuit_opened: u64,
    /// HTTP: "closed", "open" or "half-open".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub circuit: Option<&'static str>,
    /// Field → how many answers contained it (coverage).
    pub field_coverage: BTreeMap<&'static str, u64>,
    /// Field → how many leads got that field from this provider (it was still missing).
    pub fields_filled: BTreeMap<&'static str, u64>,
    /// Time spent per consultation, as the lead saw it (cache hits included).
    pub latency: LatencySummary,
    /// HTTP: time per request sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_latency: Option<LatencySummary>,
    /// File: what the last (re)load read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileStats>,
}

/// What a firmographic file load found.
#[derive(Debug, Clone, Default, Serialize)]
pub struct FileStats {
    pub path: String,
    pub loaded_at: String,
    /// Companies indexed.
    pub rows: usize,
    /// Rows that could not be used (no domain and no name, malformed line).
    pub skipped: usize,
    /// Rows whose domain was already taken by an earlier row (the first one wins).
    pub duplicate_domains: usize,
    /// Cells whose value could not be used (a domain column holding `https:`, an
    /// employee count that is no number); the row is kept without them.
    pub unusable_values: usize,
    /// The first few problems, with line numbers.
    pub issues: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct LatencySummary {
    pub count: u64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
}

/// Log-linear histogram of microseconds: 8 sub-buckets per power of two, so a reported
/// percentile is within 12.5 % of the true value. Fixed size, atomics only.
pub struct Histogram {
    buckets: Box<[AtomicU64]>,
    count: AtomicU64,
    max: AtomicU64,
}

const SUB_BITS: u32 = 3;
const SUB: u64 = 1 << SUB_BITS;
const BUCKETS: usize = (SUB as usize) * 40;

fn bucket_of(us: u64) -> usize {
    if us < SUB {
        return us as usize;
    }
    let exp = 63 - us.leading_zeros(); // >= SUB_BITS
    let sub = (us >> (exp - SUB_BITS)) & (SUB - 1);
    let idx = ((exp - SUB_BITS + 1) as u64 * SUB + sub) as usize;
    idx.min(BUCKETS - 1)
}

/// Largest value that falls in bucket `idx`.
fn bucket_upper(idx: usize) -> u64 {
    let idx = idx as u64;
    if idx < SUB {
        return idx;
    }
    let exp = idx / SUB + SUB_BITS as u64 - 1;
    let sub = idx % SUB;
    let lower = (1u64 << exp) + (sub << (exp - SUB_BITS as u64));
    lower + (1u64 << (exp - SUB_BITS as u64)) - 1
}

impl Default for Histogram {
    fn default() -> Self {
        Histogram {
            buckets: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            count: AtomicU64::new(0),
            max: AtomicU64::new(0),
        }
    }
}

impl Histogram {
    pub fn record(&self, d: Duration) {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.buckets[bucket_of(us)].fetch_add(1, Relaxed);
        self.count.fetch_add(1, Relaxed);
        self.max.fetch_max(us, Relaxed);
    }

    pub fn summary(&self) -> LatencySummary {
        let counts: Vec<u64> = self.buckets.iter().map(|b| b.load(Relaxed)).collect();
        let total: u64 = counts.iter().sum();
        let max = self.max.load(Relaxed);
        let pct = |p: f64| -> u64 {
            if total == 0 {
                return 0;
            }
            let rank = ((total as f64) * p).ceil().max(1.0) as u64;
            let mut seen = 0;
            for (i, c) in counts.iter().enumerate() {
                seen += c;
                if seen >= rank {
                    return bucket_upper(i).min(max);
                }
            }
            max
        };
        LatencySummary {
            count: total,
            p50_us: pct(0.50),
            p99_us: pct(0.99),
            max_us: max,
        }
    }
}

/// The live counters behind a [`ProviderStats`].
#[derive(Default)]
pub struct Counters {
    pub calls: AtomicU64,
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub errors: AtomicU64,
    pub budget_exhausted: AtomicU64,
    pub skipped: AtomicU64,
    pub cache_hits: AtomicU64,
    pub coalesced: AtomicU64,
    pub persistent_cache_hits: AtomicU64,
    pub requests: AtomicU64,
    pub timeouts: AtomicU64,
    pub retries: AtomicU64,
    pub rate_limited: AtomicU64,
    pub circuit_rejections: AtomicU64,
    pub circuit_opened: AtomicU64,
    coverage: [AtomicU64; Field::ALL.len()],
    filled: [AtomicU64; Field::ALL.len()],
    pub latency: Histogram,
    pub request_latency: Histogram,
}

pub fn bump(c: &AtomicU64) {
    c.fetch_add(1, Relaxed);
}

impl Counters {
    pub fn covered(&self, f: Field) {
        bump(&self.coverage[f as usize]);
    }

    pub fn filled(&self, f: Field) {
        bump(&self.filled[f as usize]);
    }

    pub fn snapshot(&self, name: &str, kind: &'static str) -> ProviderStats {
        let map = |arr: &[AtomicU64]| {
            Field::ALL
                .iter()
                .zip(arr)
                .map(|(f, c)| (f.name(), c.load(Relaxed)))
                .filter(|(_, n)| *n > 0)
                .collect()
        };
        ProviderStats {
            name: name.to_string(),
            kind,
            calls: self.calls.load(Relaxed),
            hits: self.hits.load(Relaxed),
            misses: self.misses.load(Relaxed),
            errors: self.errors.load(Relaxed),
            budget_exhausted: self.budget_exhausted.load(Relaxed),
            skipped: self.skipped.load(Relaxed),
            cache_hits: self.cache_hits.load(Relaxed),
            coalesced: self.coalesced.load(Relaxed),
            persistent_cache_hits: self.persistent_cache_hits.load(Relaxed),
            requests: self.requests.load(Relaxed),
            timeouts: self.timeouts.load(Relaxed),
            retries: self.retries.load(Relaxed),
            rate_limited: self.rate_limited.load(Relaxed),
            circuit_rejections: self.circuit_rejections.load(Relaxed),
            circuit_opened: self.circuit_opened.load(Relaxed),
            circuit: None,
            field_coverage: map(&self.coverage),
            fields_filled: map(&self.filled),
            latency: self.latency.summary(),
            request_latency: None,
            file: None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_monotonic_and_bounded() {
        let mut last = 0;
        for us in [0u64, 1, 7, 8, 9, 15, 16, 17, 100, 1_000, 65_432, 10_000_000] {
            let b = bucket_of(us);
            assert!(b >= last, "{us}");
            last = b;
            let upper = bucket_upper(b);
            assert!(upper >= us, "{us} -> bucket {b} upper {upper}");
            assert!(
                upper as f64 <= us as f64 * 1.125 + 1.0,
                "{us} upper {upper}"
            );
        }
    }

    #[test]
    fn percentiles() {
        let h = Histogram::default();
        for i in 1..=1000u64 {
            h.record(Duration::from_micros(i));
        }
        let s = h.summary();
        assert_eq!(s.count, 1000);
        assert!((500..=563).contains(&s.p50_us), "{s:?}");
        assert!((990..=1000).contains(&s.p99_us), "{s:?}");
        assert_eq!(s.max_us, 1000);
        assert_eq!(Histogram::default().summary(), LatencySummary::default());
    }
}
