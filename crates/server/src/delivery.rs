//! The outbox worker (NTF-5): claims due messages (a lease, so a worker that dies mid-send
//! gives its rows back when the lease runs out; `SKIP LOCKED` on PostgreSQL so instances
//! share the work), delivers them with the row id as idempotency key, and records the
//! outcome: delivered, retry with exponential backoff (or the server's Retry-After), or
//! dead after `MAX_ATTEMPTS` — dead letters stay visible through the API. Routing never
//! waits for any of this.

use crate::sequencer::Shared;
use jiff::SignedDuration;
use leadrouter_notify::{DeliveryResult, Outgoing};
use leadrouter_store::{OutboxResult, OutboxRow, micros};
use std::sync::Arc;
use std::time::Duration;

/// Attempts before a message is dead-lettered (about 17 hours of backoff in all).
pub const MAX_ATTEMPTS: i64 = 12;
/// How long a claim holds before another worker may take the row.
pub const LEASE: SignedDuration = SignedDuration::from_secs(60);
const BATCH: i64 = 64;
/// Sends under way at once per process.
const MAX_IN_FLIGHT: usize = 128;
const IDLE_POLL: Duration = Duration::from_millis(250);

/// Backoff before retry `attempt` (1-based): 2 s, 4 s, 8 s, … capped at 4 h, ±20% jitter.
pub fn backoff(attempt: i64) -> SignedDuration {
    let base = 2f64.powi(attempt.clamp(1, 20) as i32).min(4.0 * 3600.0);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    SignedDuration::from_secs_f64(base * jitter)
}

pub fn spawn(shared: Arc<Shared>) {
    let worker = format!("{}-{}", std::process::id(), uuid::Uuid::now_v7());
    // Each claimed row is sent by its own task, so one slow receiver holds up only its
    // own rows. Rows in flight stay pending, so the next row of the same lead, channel
    // and recipient is not claimable until this one is recorded: order holds.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    // Outcomes are recorded by one task, as many at a time as have come in, each with its
    // send's permit: the permit (and so the row's place in line) is released only once
    // the outcome is committed. At most MAX_IN_FLIGHT are ever queued here.
    let (done_tx, done_rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(record_outcomes(shared.clone(), done_rx));
    tokio::spawn(async move {
        loop {
            // Wait for room before claiming, so a lease never runs while a row waits.
            let Ok(first) = in_flight.clone().acquire_owned().await else {
                return;
            };
            let room = 1 + in_flight.available_permits().min(BATCH as usize - 1);
            let now = shared.clock.now();
            let claimed = shared
                .store
                .claim_outbox(&worker, micros(now), micros_of(LEASE), room as i64)
                .await;
            let rows = match claimed {
                Ok(r) => r,
                Err(e) => {
                    drop(first);
                    tracing::warn!(error = %e, "claiming outbox rows failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if rows.is_empty() {
                drop(first);
                // Woken by the sequencer after a commit with messages, by a finished
                // send (the next row of its lead may now be due), or poll.
                let _ = tokio::time::timeout(IDLE_POLL, shared.outbox_wake.notified()).await;
                continue;
            }
            let nrt = shared.notify.load_full();
            let mut first = Some(first);
            for row in rows {
                let permit = match first.take() {
                    Some(p) => p,
                    // `room` permits were free when claiming and only this loop takes
                    // them, so this does not wait.
                    None => match in_flight.clone().acquire_owned().await {
                        Ok(p) => p,
                        Err(_) => return,
                    },
                };
                let nrt = nrt.clone();
                let shared = shared.clone();
                let done_tx = done_tx.clone();
                tokio::spawn(async move {
                    let result = attempt(&nrt.notifier, &row).await;
                    let now = shared.clock.now();
                    let outcome = outcome(&row, result, now);
                    shared.metrics.observe_delivery(&row, &outcome, now);
                    // The recorder only stops with the process.
                    let _ = done_tx.send(Done {
                        id: row.id,
                        outcome,
                        permit,
                    });
                });
            }
        }
    });
}

/// A send's outcome on its way to the database.
struct Done {
    id: String,
    outcome: OutboxResult,
    permit: tokio::sync::OwnedSemaphorePermit,
}

/// Records outcomes in batches: one transaction for whatever has arrived (on SQLite one
/// write lock and one fsync instead of one per message, beside the routing writer). If a
/// batch fails, its outcomes are recorded one by one, so one bad row loses only itself: a
/// row whose outcome is not recorded is retried once its lease lapses, and the
/// idempotency key lets the receiver drop the duplicate.
async fn record_outcomes(shared: Arc<Shared>, mut rx: tokio::sync::mpsc::UnboundedReceiver<Done>) {
    let mut batch: Vec<Done> = Vec::new();
    while rx.recv_many(&mut batch, MAX_IN_FLIGHT).await > 0 {
        let (rows, permits): (Vec<(String, OutboxResult)>, Vec<_>) = batch
            .drain(..)
            .map(|d| ((d.id, d.outcome), d.permit))
            .unzip();
        if let Err(e) = shared.store.complete_outbox_many(&rows).await {
            tracing::warn!(error = %e, n = rows.len(), "recording deliveries as one batch failed; recording them one by one");
            for (id, outcome) in &rows {
                if let Err(e) = shared.store.complete_outbox(id, outcome).await {
                    tracing::error!(error = %e, id = %id, "recording a delivery failed");
                }
            }
        }
        // Releases the permits: the next row of each lead and receiver may go now.
        drop(permits);
        shared.outbox_wake.notify_one();
    }
}

fn micros_of(d: SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

async fn attempt(notifier: &leadrouter_notify::Notifier, row: &OutboxRow) -> DeliveryResult {
    let out: Outgoing = match serde_json::from_value(row.payload.clone()) {
        Ok(o) => o,
        Err(e) => {
            return DeliveryResult::Failed {
                error: format!("stored message is unreadable: {e}"),
            };
        }
    };
    // The notifier enforces its own per-call timeout; this is the outer guard.
    match tokio::time::timeout(Duration::from_secs(30), notifier.deliver(&out, &row.id)).await {
        Ok(r) => r,
        Err(_) => DeliveryResult::Retry {
            after: None,
            error: "delivery timed out after 30 s".into(),
        },
    }
}

fn outcome(row: &OutboxRow, result: DeliveryResult, now: jiff::Timestamp) -> OutboxResult {
    match result {
        DeliveryResult::Delivered => OutboxResult::Delivered { at: micros(now) },
        DeliveryResult::Failed { error } => OutboxResult::Dead { error },
        DeliveryResult::Retry { after, error } => {
            let attempt = row.attempts + 1;
            if attempt >= MAX_ATTEMPTS {
                return OutboxResult::Dead {
                    error: format!("gave up after {attempt} attempts: {error}"),
                };
            }
            let wait = match after {
                Some(a) => SignedDuration::try_from(a)
                    .unwrap_or(backoff(attempt))
                    .max(backoff(attempt) / 4),
                None => backoff(attempt),
            };
            OutboxResult::Retry {
                next_at: micros(now.saturating_add(wait).unwrap_or(now)),
                error,
            }
        }
    }
}
