//! Prometheus metrics (`GET /metrics`): leads routed by path and tier, speed-to-assign
//! (received → routed), the sequencer's batch sizes and commit times.

use leadrouter_core::trace::Decision;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
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
    deliveries: Family<DeliveryLabels, Counter>,
    delivery_latency: Histogram,
    timer_lag: Histogram,
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
        Metrics {
            deliveries,
            delivery_latency,
            timer_lag,
            registry: Mutex::new(registry),
            routed,
            fallbacks,
            speed_to_assign,
            batch_size,
            batch_seconds,
        }
    }
}

impl Metrics {
    pub fn observe_route(&self, d: &Decision, received: jiff::Timestamp, routed: jiff::Timestamp) {
        let path = serde_json::to_value(d.path)
            .ok()
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        self.routed
            .get_or_create(&RouteLabels {
                path,
                tier: d.tier.name().into(),
                assigned: d.owner.is_some().to_string(),
            })
            .inc();
        if d.flags.contains(&leadrouter_core::trace::Flag::Fallback) {
            self.fallbacks.inc();
        }
        let secs = routed.duration_since(received).as_secs_f64().max(0.0);
        self.speed_to_assign.observe(secs);
    }

    pub fn observe_batch(&self, n: usize, took: std::time::Duration) {
        self.batch_size.observe(n as f64);
        self.batch_seconds.observe(took.as_secs_f64());
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

    pub fn encode(&self) -> String {
        let mut out = String::new();
        let reg = self.registry.lock().unwrap_or_else(|e| e.into_inner());
        if prometheus_client::encoding::text::encode(&mut out, &reg).is_err() {
            out.clear();
        }
        out
    }
}
