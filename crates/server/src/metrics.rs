//! Prometheus metrics (`GET /metrics`): leads routed by path and tier, speed-to-assign
//! (received → routed), the sequencer's batch sizes and commit times.

use leadrouter_core::trace::Decision;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use std::sync::Mutex;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct RouteLabels {
    pub path: String,
    pub tier: String,
    pub assigned: String,
}

pub struct Metrics {
    registry: Mutex<Registry>,
    routed: Family<RouteLabels, Counter>,
    fallbacks: Counter,
    speed_to_assign: Histogram,
    batch_size: Histogram,
    batch_seconds: Histogram,
    batch_phase: Family<PhaseLabels, Histogram, fn() -> Histogram>,
    ahead: Family<AheadLabels, Counter>,
    deliveries: Family<DeliveryLabels, Counter>,
    delivery_latency: Histogram,
    timer_lag: Histogram,
    met1: Met1Gauges,
}

/// MET-1 over the last seven days, recomputed from stored data by the console
/// (`console::spawn_gauges`), so every instance reports the same figures.
#[derive(Default)]
struct Met1Gauges {
    sla: Family<TierLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    speed_to_contact: Family<TierLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    ratios: Family<RatioLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    seconds: Family<RatioLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    fairness: Family<TeamLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    opportunity: Family<PathLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
    win: Family<PathLabels, Gauge<f64, std::sync::atomic::AtomicU64>>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TierLabels {
    tier: String,
}
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RatioLabels {
    figure: String,
}
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TeamLabels {
    team: String,
}
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PathLabels {
    path: String,
}

/// A routing decision's metrics, taken when it is made and recorded once its batch is
/// committed (a batch that fails, or decisions made ahead that are redone, count nothing).
pub struct RouteObs {
    labels: RouteLabels,
    fallback: bool,
    seconds: f64,
}

/// A route path as stored and labelled: its serde name (`account_owner`, …).
pub fn path_name(p: leadrouter_core::trace::RoutePath) -> String {
    p.key().to_string()
}

impl RouteObs {
    pub fn of(d: &Decision, received: jiff::Timestamp, routed: jiff::Timestamp) -> RouteObs {
        let path = path_name(d.path);
        RouteObs {
            labels: RouteLabels {
                path,
                tier: d.tier.name().into(),
                assigned: d.owner.is_some().to_string(),
            },
            fallback: d.flags.contains(&leadrouter_core::trace::Flag::Fallback),
            seconds: routed.duration_since(received).as_secs_f64().max(0.0),
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct AheadLabels {
    pub outcome: &'static str,
}

/// A step of a routing transaction: `begin`, `lock` (the state lock and version), `read`
/// (the batch's reads), `decide` (every job's decision in memory, when not decided
/// ahead), `write` (the batch's INSERTs), `decide_late` (jobs that arrived during the write and COMMIT, read from committed
/// rows and decided as the next batch while those are still in flight), `commit` (the
/// COMMIT itself, start to end). `write`, `commit` and `decide_late` overlap.
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct PhaseLabels {
    pub phase: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct DeliveryLabels {
    pub channel: String,
    pub outcome: String,
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::with_prefix("leadrouter");
        let routed = Family::<RouteLabels, Counter>::default();
        registry.register(
            "leads_routed",
            "Leads routed, by path, tier and whether a rep got them",
            routed.clone(),
        );
        let fallbacks = Counter::default();
        registry.register(
            "fallbacks",
            "Decisions where the first choice was unavailable",
            fallbacks.clone(),
        );
        let speed_to_assign = Histogram::new(exponential_buckets(0.000_05, 2.0, 20));
        registry.register(
            "speed_to_assign_seconds",
            "Time from receiving a lead to its committed decision being computed",
            speed_to_assign.clone(),
        );
        let batch_size = Histogram::new(exponential_buckets(1.0, 2.0, 11));
        registry.register(
            "commit_batch_size",
            "Jobs per routing transaction (group commit)",
            batch_size.clone(),
        );
        let batch_seconds = Histogram::new(exponential_buckets(0.000_1, 2.0, 18));
        registry.register(
            "commit_batch_seconds",
            "Duration of a routing transaction",
            batch_seconds.clone(),
        );
        let batch_phase: Family<PhaseLabels, Histogram, fn() -> Histogram> =
            Family::new_with_constructor(|| Histogram::new(exponential_buckets(0.000_02, 2.0, 20)));
        registry.register(
            "commit_batch_phase_seconds",
            "Time a routing transaction spends in each step (read, decide, write, commit)",
            batch_phase.clone(),
        );
        let ahead = Family::<AheadLabels, Counter>::default();
        registry.register(
            "decided_ahead_batches",
            "Batches decided while the previous one committed: kept, or redone because another writer moved the state",
            ahead.clone(),
        );
        let deliveries = Family::<DeliveryLabels, Counter>::default();
        registry.register(
            "deliveries",
            "Delivery attempts by channel and outcome (delivered, retry, dead)",
            deliveries.clone(),
        );
        let delivery_latency = Histogram::new(exponential_buckets(0.001, 2.0, 20));
        registry.register(
            "delivery_latency_seconds",
            "From the message being queued (assignment) to its delivery",
            delivery_latency.clone(),
        );
        let timer_lag = Histogram::new(exponential_buckets(0.001, 2.0, 16));
        registry.register(
            "sla_timer_lag_seconds",
            "How late SLA timers were picked up after coming due",
            timer_lag.clone(),
        );
        let met1 = Met1Gauges::default();
        registry.register(
            "met1_sla_compliance_ratio",
            "SLA compliance by tier, last 7 days (targets 0.85/0.80/0.75)",
            met1.sla.clone(),
        );
        registry.register(
            "met1_speed_to_contact_seconds",
            "Mean speed to first contact by tier, last 7 days",
            met1.speed_to_contact.clone(),
        );
        registry.register(
            "met1_ratio",
            "MET-1 ratios over the last 7 days: routing_accuracy, unassigned_rate, fallback_rate",
            met1.ratios.clone(),
        );
        registry.register(
            "met1_duration_seconds",
            "MET-1 durations over the last 7 days: speed_to_assign_p50/p99/mean, acceptance_mean",
            met1.seconds.clone(),
        );
        registry.register(
            "met1_distribution_fairness_ratio",
            "1 - total variation between share of leads and share of weight, per team, last 7 days",
            met1.fairness.clone(),
        );
        registry.register(
            "met1_lead_to_opportunity_ratio",
            "Share of leads that reached opportunity, by routing path, last 7 days",
            met1.opportunity.clone(),
        );
        registry.register(
            "met1_win_ratio",
            "Won among opportunities, by routing path, last 7 days",
            met1.win.clone(),
        );
        Metrics {
            met1,
            deliveries,
            delivery_latency,
            timer_lag,
            registry: Mutex::new(registry),
            routed,
            fallbacks,
            speed_to_assign,
            batch_size,
            batch_seconds,
            batch_phase,
            ahead,
        }
    }
}

impl Metrics {
    /// Record a committed routing decision.
    pub fn observe_route(&self, r: &RouteObs) {
        self.routed.get_or_create(&r.labels).inc();
        if r.fallback {
            self.fallbacks.inc();
        }
        self.speed_to_assign.observe(r.seconds);
    }

    /// Whether the decisions made ahead for a batch (while the previous one committed)
    /// stood, or were made again because another writer moved the state.
    pub fn observe_ahead(&self, kept: bool) {
        self.ahead
            .get_or_create(&AheadLabels {
                outcome: if kept { "kept" } else { "redone" },
            })
            .inc();
    }

    pub fn observe_batch(&self, n: usize, took: std::time::Duration) {
        self.batch_size.observe(n as f64);
        self.batch_seconds.observe(took.as_secs_f64());
    }

    pub fn observe_phase(&self, phase: &'static str, took: std::time::Duration) {
        self.batch_phase
            .get_or_create(&PhaseLabels { phase })
            .observe(took.as_secs_f64());
    }

    pub fn observe_delivery(
        &self,
        row: &leadrouter_store::OutboxRow,
        result: &leadrouter_store::OutboxResult,
        now: jiff::Timestamp,
    ) {
        let outcome = match result {
            leadrouter_store::OutboxResult::Delivered { .. } => "delivered",
            leadrouter_store::OutboxResult::Retry { .. } => "retry",
            leadrouter_store::OutboxResult::Dead { .. } => "dead",
        };
        self.deliveries
            .get_or_create(&DeliveryLabels {
                channel: row.channel.clone(),
                outcome: outcome.into(),
            })
            .inc();
        if outcome == "delivered" {
            let secs = (now.as_microsecond() - row.created_at) as f64 / 1e6;
            self.delivery_latency.observe(secs.max(0.0));
        }
    }

    pub fn observe_timer_lag(&self, secs: f64) {
        self.timer_lag.observe(secs);
    }

    /// Set the MET-1 gauges (figures with no data are left out rather than shown as 0).
    pub fn set_met1(
        &self,
        f: &crate::console::metrics::Figures,
        p50: Option<f64>,
        p99: Option<f64>,
    ) {
        let m = &self.met1;
        for t in &f.tiers {
            let l = TierLabels {
                tier: t.tier.clone(),
            };
            if let Some(v) = t.sla.value() {
                m.sla.get_or_create(&l).set(v);
            }
            if let Some(v) = t.speed_to_contact.seconds() {
                m.speed_to_contact.get_or_create(&l).set(v);
            }
        }
        let ratio = |name: &str, v: Option<f64>| {
            if let Some(v) = v {
                m.ratios
                    .get_or_create(&RatioLabels {
                        figure: name.into(),
                    })
                    .set(v);
            }
        };
        ratio("routing_accuracy", f.accuracy.value());
        ratio("unassigned_rate", f.unassigned.value());
        ratio("fallback_rate", f.fallback.value());
        let secs = |name: &str, v: Option<f64>| {
            if let Some(v) = v {
                m.seconds
                    .get_or_create(&RatioLabels {
                        figure: name.into(),
                    })
                    .set(v);
            }
        };
        secs("speed_to_assign_p50", p50);
        secs("speed_to_assign_p99", p99);
        secs("speed_to_assign_mean", f.speed_to_assign.seconds());
        secs("acceptance_mean", f.acceptance.seconds());
        for t in &f.fairness {
            if let Some(v) = t.score {
                m.fairness
                    .get_or_create(&TeamLabels {
                        team: t.team.clone(),
                    })
                    .set(v);
            }
        }
        for p in &f.paths {
            let l = PathLabels {
                path: p.path.clone(),
            };
            if let Some(v) = p.opportunity.value() {
                m.opportunity.get_or_create(&l).set(v);
            }
            if let Some(v) = p.win.value() {
                m.win.get_or_create(&l).set(v);
            }
        }
    }

    /// Metrics computed at scrape time (e.g. [`EnrichmentCollector`]).
    /// Register a metric owned elsewhere (the CRM connection's).
    pub fn register(
        &self,
        name: &str,
        help: &str,
        metric: impl prometheus_client::registry::Metric,
    ) {
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        reg.register(name, help, metric);
    }

    pub fn register_collector(&self, c: Box<dyn prometheus_client::collector::Collector>) {
        let mut reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        reg.register_collector(c);
    }

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &reg).is_err() {
            out.clear();
        }
        out
    }
}

/// Per-provider enrichment figures (issue 4: hit rate, field coverage, latency, errors)
/// read from the enricher in force at each scrape. The enricher is rebuilt on a config
/// reload, so its counters start again from zero then (Prometheus treats that as a
/// counter reset).
#[derive(Debug)]
pub struct EnrichmentCollector {
    pub shared: std::sync::Weak<crate::sequencer::Shared>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ProviderLabels {
    provider: String,
    kind: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct FieldLabels {
    provider: String,
    field: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QuantileLabels {
    provider: String,
    quantile: String,
}

impl prometheus_client::collector::Collector for EnrichmentCollector {
    fn encode(
        &self,
        mut encoder: prometheus_client::encoding::DescriptorEncoder,
    ) -> Result<(), std::fmt::Error> {
        use prometheus_client::encoding::EncodeMetric;
        use prometheus_client::metrics::MetricType;
        use prometheus_client::metrics::counter::ConstCounter;
        use prometheus_client::metrics::gauge::ConstGauge;
        let Some(shared) = self.shared.upgrade() else {
            return Ok(());
        };
        let stats = shared.enricher.load().stats();
        let labels = |p: &leadrouter_enrich::ProviderStats| ProviderLabels {
            provider: p.name.clone(),
            kind: p.kind.to_string(),
        };
        type Pick = fn(&leadrouter_enrich::ProviderStats) -> u64;
        let counters: [(&str, &str, Pick); 12] = [
            (
                "enrichment_calls",
                "Leads the provider was asked about",
                |p| p.calls,
            ),
            ("enrichment_hits", "Calls that returned data", |p| p.hits),
            ("enrichment_misses", "Calls that found nothing", |p| {
                p.misses
            }),
            (
                "enrichment_errors",
                "Calls that failed (after retries)",
                |p| p.errors,
            ),
            (
                "enrichment_timeouts",
                "Calls cut off by the provider timeout",
                |p| p.timeouts,
            ),
            (
                "enrichment_budget_exhausted",
                "Calls skipped or cut off by the per-lead budget",
                |p| p.budget_exhausted,
            ),
            (
                "enrichment_skipped",
                "Leads not sent (personal or disposable domain, no domain)",
                |p| p.skipped,
            ),
            (
                "enrichment_cache_hits",
                "Answers from the in-memory cache",
                |p| p.cache_hits,
            ),
            (
                "enrichment_persistent_cache_hits",
                "Answers from the database cache",
                |p| p.persistent_cache_hits,
            ),
            (
                "enrichment_requests",
                "HTTP requests sent (retries included)",
                |p| p.requests,
            ),
            (
                "enrichment_rate_limited",
                "429 answers and local rate-limit waits",
                |p| p.rate_limited,
            ),
            (
                "enrichment_circuit_rejections",
                "Calls refused while the circuit was open",
                |p| p.circuit_rejections,
            ),
        ];
        for (name, help, pick) in counters {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Counter)?;
            for p in &stats {
                ConstCounter::new(pick(p)).encode(family.encode_family(&labels(p))?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "enrichment_field_filled",
            "Leads for which the provider supplied the field (field coverage)",
            None,
            MetricType::Counter,
        )?;
        for p in &stats {
            for (field, n) in &p.field_coverage {
                let l = FieldLabels {
                    provider: p.name.clone(),
                    field: field.to_string(),
                };
                ConstCounter::new(*n).encode(family.encode_family(&l)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "enrichment_latency_seconds",
            "Per-lead provider latency (p50, p99, max since start or reload)",
            None,
            MetricType::Gauge,
        )?;
        for p in &stats {
            for (q, us) in [
                ("0.5", p.latency.p50_us),
                ("0.99", p.latency.p99_us),
                ("1", p.latency.max_us),
            ] {
                let l = QuantileLabels {
                    provider: p.name.clone(),
                    quantile: q.to_string(),
                };
                ConstGauge::new(us as f64 / 1e6).encode(family.encode_family(&l)?)?;
            }
        }
        let mut family = encoder.encode_descriptor(
            "enrichment_circuit_open",
            "1 while the provider's circuit breaker is open (calls refused)",
            None,
            MetricType::Gauge,
        )?;
        for p in stats.iter().filter(|p| p.circuit.is_some()) {
            let open = i64::from(p.circuit == Some("open"));
            ConstGauge::new(open).encode(family.encode_family(&labels(p))?)?;
        }
        Ok(())
    }
}
