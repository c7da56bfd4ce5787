//! The CRM write-back worker (CRM-1, OPS-4): claims due `crm_outbox` rows (a lease; one
//! row per lead, its oldest, so a later write never overtakes an earlier one), sends
//! them in batches of the client's `max_batch()`, and records each row's outcome:
//! done; rejected by the CRM for its content → dead letter at once; a failed call →
//! retry with exponential backoff, dead after `max_attempts`; rate limited → retry
//! after the CRM's wait without counting an attempt, and the worker pauses for that
//! wait. It also paces itself by the CRM's reported headroom and keeps the rep → CRM
//! owner directory fresh. Routing never waits for any of this.

use super::{CrmRuntime, CrmState};
use crate::sequencer::Shared;
use jiff::SignedDuration;
use leadrouter_crm::{CallError, RecordOutcome};
use leadrouter_store::{CrmResult, CrmRow, micros};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long a claim holds before another worker may take the rows.
pub const LEASE: SignedDuration = SignedDuration::from_secs(120);
/// The outer bound on one batch's calls (the client's per-call timeouts are inside it).
const BATCH_TIMEOUT: Duration = Duration::from_secs(90);
const IDLE_POLL: Duration = Duration::from_millis(250);
/// After a batch that was not full, wait this long for more rows before claiming again:
/// fewer, fuller calls (the CRM's rate limit) and fewer claim/complete writes beside the
/// routing writer (SQLite has one write lock), for at most this much added lag.
const LINGER: Duration = Duration::from_millis(200);
/// Longest single pause for a rate limit or an exhausted window.
const MAX_PAUSE: Duration = Duration::from_secs(60);
/// Longest backoff between attempts: a CRM back after an outage is caught up within it.
const MAX_BACKOFF_SECS: f64 = 300.0;

/// Backoff before retry `attempt` (1-based): 2 s, 4 s, 8 s, … capped at 5 min, ±20%.
pub fn backoff(attempt: i64) -> SignedDuration {
    let base = 2f64.powi(attempt.clamp(1, 20) as i32).min(MAX_BACKOFF_SECS);
    let jitter = 0.8 + rand::random::<f64>() * 0.4;
    SignedDuration::from_secs_f64(base * jitter)
}

pub fn spawn(shared: Arc<Shared>) {
    let worker = format!("crm-{}-{}", std::process::id(), uuid::Uuid::now_v7());
    tokio::spawn(owner_directory(shared.clone()));
    tokio::spawn(gauges(shared.clone()));
    tokio::spawn(async move {
        let mut paused_until: Option<Instant> = None;
        loop {
            let crm = &shared.crm;
            let Some(rt) = crm.runtime.load_full() else {
                let _ = tokio::time::timeout(Duration::from_secs(1), crm.wake.notified()).await;
                continue;
            };
            if let Some(p) = paused_until.take()
                && p > Instant::now()
            {
                tokio::time::sleep_until(p.into()).await;
            }
            let hr = rt.client.headroom();
            if hr.remaining == Some(0) {
                // The window is spent: wait for it rather than collect 429s.
                let wait = hr
                    .resets_in
                    .unwrap_or(Duration::from_secs(1))
                    .min(MAX_PAUSE);
                tokio::time::sleep(wait).await;
            }
            let now = shared.clock.now();
            let limit = rt.client.max_batch().max(1) as i64;
            let rows = match shared
                .store
                .crm_claim(&worker, micros(now), micros_of(LEASE), limit)
                .await
            {
                Ok(r) => r,
                Err(e) => {
                    tracing::warn!(error = %e, "claiming CRM write-backs failed; retrying");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
            };
            if rows.is_empty() {
                let _ = tokio::time::timeout(IDLE_POLL, crm.wake.notified()).await;
                continue;
            }
            let full = rows.len() as i64 >= limit;
            let (results, pause) = send(&rt, crm, &rows, &shared).await;
            paused_until = pause
                .map(|p| Instant::now() + p.min(MAX_PAUSE))
                .or_else(|| (!full).then(|| Instant::now() + LINGER));
            if let Err(e) = shared.store.crm_complete(&results).await {
                // The rows stay pending under their lease and are sent again when it
                // lapses; the upsert is idempotent.
                tracing::error!(error = %e, n = results.len(), "recording CRM write-back outcomes failed");
            }
        }
    });
}

/// Send one batch; the outcome of every row, and how long to pause after it.
async fn send(
    rt: &CrmRuntime,
    crm: &CrmState,
    rows: &[CrmRow],
    shared: &Shared,
) -> (Vec<(String, CrmResult)>, Option<Duration>) {
    let now = shared.clock.now();
    let max_attempts = i64::from(rt.config.max_attempts);
    let mut results = Vec::with_capacity(rows.len());
    let mut sendable = Vec::new();
    let mut writes = Vec::new();
    for row in rows {
        match rt.owner_write(row) {
            Ok(w) => {
                sendable.push(row);
                writes.push(w);
            }
            // Unmapped owner or unreadable row: retrying the same will not help until
            // the mapping changes, so it is a dead letter (retryable from the console).
            Err(e) => {
                crm.metrics.write("dead");
                results.push((row.id.clone(), CrmResult::Dead { error: e }));
            }
        }
    }
    if writes.is_empty() {
        return (results, None);
    }
    let call = tokio::time::timeout(BATCH_TIMEOUT, rt.client.upsert(&writes)).await;
    let outcome = match call {
        Ok(r) => r,
        Err(_) => Err(CallError::Timeout),
    };
    let hr = rt.client.headroom();
    if let Some(r) = hr.remaining {
        crm.metrics
            .headroom
            .set(i64::try_from(r).unwrap_or(i64::MAX));
    }
    let mut pause = None;
    match outcome {
        Ok(outcomes) => {
            crm.metrics.call("ok");
            for (row, o) in sendable.iter().zip(outcomes) {
                let r = match o {
                    RecordOutcome::Written { crm_id } => {
                        crm.metrics.write("done");
                        let lag = (micros(now) - row.created_at) as f64 / 1e6;
                        crm.metrics.lag.observe(lag.max(0.0));
                        CrmResult::Done {
                            at: micros(now),
                            crm_id,
                        }
                    }
                    RecordOutcome::Rejected { reason } => {
                        crm.metrics.write("rejected");
                        CrmResult::Dead {
                            error: format!("rejected by the CRM: {reason}"),
                        }
                    }
                };
                results.push((row.id.clone(), r));
            }
        }
        Err(CallError::RateLimited { retry_after }) => {
            crm.metrics.call("rate_limited");
            let wait = retry_after.unwrap_or(Duration::from_secs(1));
            pause = Some(wait);
            let next = now
                .saturating_add(
                    SignedDuration::try_from(wait).unwrap_or(SignedDuration::from_secs(1)),
                )
                .unwrap_or(now);
            for row in &sendable {
                crm.metrics.write("retry");
                results.push((
                    row.id.clone(),
                    CrmResult::Retry {
                        next_at: micros(next),
                        error: "rate limited by the CRM".into(),
                        counted: false,
                    },
                ));
            }
        }
        Err(e) => {
            crm.metrics.call(match &e {
                CallError::Unavailable(_) => "unavailable",
                CallError::Timeout => "timeout",
                CallError::Auth(_) => "auth",
                CallError::Invalid(_) => "invalid",
                CallError::RateLimited { .. } => "rate_limited",
            });
            if matches!(e, CallError::Invalid(_)) && sendable.len() > 1 {
                // The CRM refused the whole call: send the rows one by one, so one bad
                // record costs only itself.
                for (row, w) in sendable.iter().zip(&writes) {
                    let one = tokio::time::timeout(
                        BATCH_TIMEOUT,
                        rt.client.upsert(std::slice::from_ref(w)),
                    )
                    .await;
                    let r = match one {
                        Ok(Ok(mut o)) if o.len() == 1 => match o.remove(0) {
                            RecordOutcome::Written { crm_id } => {
                                crm.metrics.write("done");
                                CrmResult::Done {
                                    at: micros(now),
                                    crm_id,
                                }
                            }
                            RecordOutcome::Rejected { reason } => {
                                crm.metrics.write("rejected");
                                CrmResult::Dead {
                                    error: format!("rejected by the CRM: {reason}"),
                                }
                            }
                        },
                        Ok(Err(e)) => failed(row, &e.to_string(), now, max_attempts, crm),
                        _ => failed(row, "the CRM call timed out", now, max_attempts, crm),
                    };
                    results.push((row.id.clone(), r));
                }
                return (results, None);
            }
            tracing::warn!(error = %e, n = sendable.len(), "CRM write-back failed; will retry");
            for row in &sendable {
                results.push((
                    row.id.clone(),
                    failed(row, &e.to_string(), now, max_attempts, crm),
                ));
            }
        }
    }
    (results, pause)
}

/// A counted failed attempt: retry after backoff, or dead after `max_attempts`.
fn failed(
    row: &CrmRow,
    error: &str,
    now: jiff::Timestamp,
    max_attempts: i64,
    crm: &CrmState,
) -> CrmResult {
    let attempt = row.attempts + 1;
    if attempt >= max_attempts {
        crm.metrics.write("dead");
        return CrmResult::Dead {
            error: format!("gave up after {attempt} attempts: {error}"),
        };
    }
    crm.metrics.write("retry");
    CrmResult::Retry {
        next_at: micros(now.saturating_add(backoff(attempt)).unwrap_or(now)),
        error: error.to_string(),
        counted: true,
    }
}

fn micros_of(d: SignedDuration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

/// Keep the CRM owner directory (active owners by email) fresh: at start, after a
/// reload, and every `sync_every`. A failed read keeps the previous directory.
async fn owner_directory(shared: Arc<Shared>) {
    let mut last: Option<(usize, Instant)> = None;
    loop {
        let Some(rt) = shared.crm.runtime.load_full() else {
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let key = Arc::as_ptr(&rt) as usize;
        let due = match last {
            Some((k, at)) => k != key || at.elapsed() >= rt.config.sync_every,
            None => true,
        };
        if due {
            match read_owners(&rt).await {
                Ok(m) => {
                    tracing::info!(owners = m.len(), "CRM owners read");
                    rt.owners_by_email.store(Arc::new(m));
                    last = Some((key, Instant::now()));
                }
                Err(e) => {
                    tracing::warn!(error = %e, "reading CRM owners failed; retrying in 30 s");
                    last = Some((
                        key,
                        Instant::now()
                            .checked_sub(
                                rt.config.sync_every.saturating_sub(Duration::from_secs(30)),
                            )
                            .unwrap_or_else(Instant::now),
                    ));
                }
            }
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Every active owner, page by page (at most 1,000 pages).
async fn read_owners(rt: &CrmRuntime) -> Result<BTreeMap<String, String>, CallError> {
    let mut out = BTreeMap::new();
    let mut cursor: Option<String> = None;
    for _ in 0..1000 {
        let page = rt.client.users(None, cursor.as_deref()).await?;
        for u in page
            .items
            .into_iter()
            .filter(|u| u.active && !u.email.is_empty())
        {
            out.insert(u.email.trim().to_ascii_lowercase(), u.crm_id);
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    Ok(out)
}

/// Pending and dead counts for `/metrics`, every 5 s.
async fn gauges(shared: Arc<Shared>) {
    loop {
        if shared.crm.runtime.load().is_some()
            && let Ok((pending, dead)) = shared.store.crm_counts().await
        {
            shared.crm.metrics.pending.set(pending);
            shared.crm.metrics.dead.set(dead);
        }
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
}
