//! Per-config runtime pieces that are not part of the routing core: the notification
//! renderer, the delivery client, the link signer, and the server clock.

use jiff::{SignedDuration, Timestamp};
use leadrouter_core::config::{CompiledConfig, QueueRole};
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
    pub fn build(cfg: &CompiledConfig) -> Result<NotifyRuntime, String> {
        let fmt = |e: leadrouter_notify::ConfigErrors| {
            e.0.iter()
                .map(|x| format!("  [notify] {x}"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        let nc = NotifyConfig::parse(cfg.notify.as_ref()).map_err(fmt)?;
        let renderer = Renderer::new(&nc).map_err(fmt)?;
        let env = |k: &str| std::env::var(k).ok();
        let notifier = Notifier::new(&nc, &env).map_err(fmt)?;
        let links = LinkSigner::new(&nc, &env).map_err(fmt)?;
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
