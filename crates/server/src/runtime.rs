//! Per-config runtime pieces that are not part of the routing core: the notification
//! renderer, the delivery client, the link signer, and the server clock.

use jiff::{SignedDuration, Timestamp};
use leadrouter_core::config::{CompiledConfig, ConfigError, QueueRole};
use leadrouter_notify::{LinkSigner, Notifier, NotifyConfig, Renderer};
use std::sync::atomic::{AtomicI64, Ordering};

/// Everything needed to render and deliver notifications for one config version.
pub struct NotifyRuntime {
    pub config: NotifyConfig,
    pub renderer: Renderer,
    pub notifier: Notifier,
    pub links: LinkSigner,
    /// SLA-3: queues whose leads raise an alert after `queue_alert_after`.
    pub alert_queues: Vec<String>,
    pub queue_alert_after: SignedDuration,
}

impl NotifyRuntime {
    /// Build for `cfg`; the errors are formatted for the serve/reload messages.
    pub fn build(cfg: &CompiledConfig) -> Result<NotifyRuntime, String> {
        Self::try_build(cfg).map_err(|e| render_errors("notify", &e))
    }

    /// Parse `[notify]`, compile its templates and resolve its secrets from the process
    /// environment. `serve`, a reload and `leadrouter check` all call this, so a config
    /// that passes the check is not refused by the server.
    pub fn try_build(cfg: &CompiledConfig) -> Result<NotifyRuntime, Vec<ConfigError>> {
        let nc = NotifyConfig::parse(&cfg.source).map_err(|e| e.0)?;
        let renderer = Renderer::new(&nc).map_err(|e| e.0)?;
        let env = |k: &str| std::env::var(k).ok();
        let (notifier, links) = match (Notifier::new(&nc, &env), LinkSigner::new(&nc, &env)) {
            (Ok(n), Ok(l)) => (n, l),
            (n, l) => {
                let errs = n.err().into_iter().chain(l.err()).flat_map(|e| e.0);
                return Err(errs.collect());
            }
        };
        let alert_queues = [
            QueueRole::CatchAll,
            QueueRole::Review,
            QueueRole::Qualification,
        ]
        .iter()
        .map(|r| cfg.queue_name(cfg.queue(*r)).to_string())
        .collect();
        Ok(NotifyRuntime {
            config: nc,
            renderer,
            notifier,
            links,
            alert_queues,
            queue_alert_after: SignedDuration::from_mins(15),
        })
    }
}

/// `check` warnings from `[notify]`: SLA escalations that no configured channel reaches
/// (they are recorded only). Empty when `[notify]` does not parse (`check` reports that
/// as an error already).
pub fn notify_findings(cfg: &CompiledConfig) -> Vec<leadrouter_core::analysis::Finding> {
    match NotifyConfig::parse(&cfg.source) {
        Ok(nc) => leadrouter_notify::config::escalation_findings(cfg, &nc),
        Err(_) => Vec::new(),
    }
}

/// The server's clock. In production it is the system clock; started with
/// `LEADROUTER_TEST_CLOCK=1` it can be moved forward through `POST /v1/admin/clock`, so
/// SLA ladders can be tested end to end without waiting.
#[derive(Default)]
pub struct Clock {
    offset_us: AtomicI64,
    pub adjustable: bool,
}

impl Clock {
    pub fn new(adjustable: bool) -> Clock {
        Clock {
            offset_us: AtomicI64::new(0),
            adjustable,
        }
    }

    pub fn now(&self) -> Timestamp {
        let off = self.offset_us.load(Ordering::Relaxed);
        Timestamp::now()
            .checked_add(SignedDuration::from_micros(off))
            .unwrap_or_else(|_| Timestamp::now())
    }

    /// Move the clock forward (test clock only).
    pub fn advance(&self, by: SignedDuration) -> Result<Timestamp, &'static str> {
        if !self.adjustable {
            return Err(
                "the clock is the system clock; start the server with LEADROUTER_TEST_CLOCK=1 to move it",
            );
        }
        if by.is_negative() {
            return Err("the clock only moves forward");
        }
        let us = i64::try_from(by.as_micros()).unwrap_or(i64::MAX);
        self.offset_us.fetch_add(us, Ordering::Relaxed);
        Ok(self.now())
    }
}

/// The enrichment chain for one config version, with its cache persisted in the store.
pub fn build_enricher(
    cfg: &CompiledConfig,
    store: std::sync::Arc<dyn leadrouter_store::Store>,
) -> Result<leadrouter_enrich::Enricher, String> {
    let cache: std::sync::Arc<dyn leadrouter_enrich::PersistentCache> =
        std::sync::Arc::new(StoreCache { store });
    enricher(cfg, Some(cache)).map_err(|e| render_errors("enrichment", &e))
}

/// Parse `[enrichment]` and build its provider chain (files loaded, secrets read from the
/// process environment). `serve`, a reload, `route --enrich` and `leadrouter check` all
/// call this.
pub fn enricher(
    cfg: &CompiledConfig,
    cache: Option<std::sync::Arc<dyn leadrouter_enrich::PersistentCache>>,
) -> Result<leadrouter_enrich::Enricher, Vec<ConfigError>> {
    let e = leadrouter_enrich::Enricher::from_config(&cfg.source, &cfg.base_dir, cache)?;
    e.set_domain_lists(cfg.domains.clone());
    Ok(e)
}

fn render_errors(section: &str, errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(|x| format!("  [{section}] {x}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// ENR-2: enrichment results survive restarts in the database, so a restart does not
/// re-spend API credits. Failures to read or write the cache only cost a provider call.
struct StoreCache {
    store: std::sync::Arc<dyn leadrouter_store::Store>,
}

#[async_trait::async_trait]
impl leadrouter_enrich::PersistentCache for StoreCache {
    async fn get(&self, provider: &str, key: &str) -> Option<(serde_json::Value, Timestamp)> {
        let now = Timestamp::now().as_microsecond();
        let fut = self.store.cache_get(provider, key, now);
        match tokio::time::timeout(std::time::Duration::from_millis(200), fut).await {
            Ok(Ok(Some((v, exp)))) => Some((v, leadrouter_store::from_micros(exp))),
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "enrichment cache read failed");
                None
            }
            _ => None,
        }
    }

    async fn put(&self, provider: &str, key: &str, value: &serde_json::Value, expires: Timestamp) {
        let fut = self
            .store
            .cache_put(provider, key, value, expires.as_microsecond());
        match tokio::time::timeout(std::time::Duration::from_secs(2), fut).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => tracing::warn!(error = %e, "enrichment cache write failed"),
            Err(_) => tracing::warn!("enrichment cache write timed out"),
        }
    }
}
