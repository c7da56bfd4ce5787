//! The retention job (issue 24, SEC-3): applies `[retention]` in the background. Leads
//! received more than `leads_days` ago are pseudonymised as an erasure does (the row and
//! its figures stay; the person's row goes with their latest lead), decisions older than
//! `traces_days` lose their trace, and outbox rows delivered more than
//! `delivered_outbox_days` ago are deleted, and audit entries older than `audit_days`
//! (default 400; always on) are pruned behind the horizon the database enforces (see
//! `leadrouter_store::audit`). Each step runs in bounded batches, each its own short
//! transaction under the routing lock, so routing waits at most one batch.
//! Where a pass got to is kept in memory: after a restart the first pass starts again
//! from the oldest row, which costs one index scan and nothing else.

use crate::sequencer::Shared;
use leadrouter_core::config::Retention;
use std::sync::Arc;
use std::time::Duration;

/// How often the job looks for expired data (the test clock moves in jumps: look often).
const POLL: Duration = Duration::from_secs(30);
const TEST_POLL: Duration = Duration::from_millis(200);
/// Rows per transaction: small enough that a routing batch never waits long for one.
const BATCH: i64 = 500;
const DAY_US: i64 = 86_400_000_000;

/// Where the passes over leads and decisions have got to.
#[derive(Debug, Default)]
struct Marks {
    leads_from: i64,
    traces_from: i64,
}

pub fn spawn(shared: Arc<Shared>) {
    tokio::spawn(async move {
        let poll = if shared.clock.adjustable {
            TEST_POLL
        } else {
            POLL
        };
        let mut marks = Marks::default();
        loop {
            let retention = shared.config.load().retention;
            if let Err(e) = pass(&shared, &retention, &mut marks).await {
                tracing::warn!(error = %e, "retention pass failed; retrying");
            }
            // On its own: a refused horizon (an application clock far ahead of the
            // database's) must not stop the passes over personal data.
            if let Err(e) = prune_audit(&shared, retention.audit_days).await {
                tracing::warn!(error = %e, "pruning the audit log failed; retrying");
            }
            tokio::time::sleep(poll).await;
        }
    });
}

/// One pass: every step until it reaches its cutoff.
async fn pass(
    shared: &Shared,
    r: &Retention,
    marks: &mut Marks,
) -> Result<(), leadrouter_store::StoreError> {
    let store = &shared.store;
    if let Some(days) = r.leads_days {
        loop {
            let now = shared.clock.now().as_microsecond();
            let p = store
                .expire_leads(now - i64::from(days) * DAY_US, marks.leads_from, BATCH, now)
                .await?;
            marks.leads_from = p.next;
            if p.scanned > 0 {
                tracing::info!(
                    leads = p.counts.leads,
                    people = p.counts.people,
                    "retention: leads pseudonymised"
                );
            }
            if p.scanned < BATCH as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    if let Some(days) = r.traces_days {
        loop {
            let now = shared.clock.now().as_microsecond();
            let p = store
                .expire_traces(now - i64::from(days) * DAY_US, marks.traces_from, BATCH)
                .await?;
            marks.traces_from = p.next;
            if p.scanned < BATCH as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    if let Some(days) = r.delivered_outbox_days {
        loop {
            let now = shared.clock.now().as_microsecond();
            let n = store
                .expire_delivered_outbox(now - i64::from(days) * DAY_US, BATCH)
                .await?;
            if n < BATCH as u64 {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(())
}

/// Audit entries older than `days` deleted, oldest first, in batches.
async fn prune_audit(shared: &Shared, days: u32) -> Result<(), leadrouter_store::StoreError> {
    loop {
        let now = shared.clock.now().as_microsecond();
        let n = shared
            .store
            .audit_prune(now - i64::from(days) * DAY_US, BATCH, now)
            .await?;
        if n > 0 {
            tracing::info!(entries = n, days, "retention: audit entries pruned");
        }
        if n < BATCH as u64 {
            return Ok(());
        }
        tokio::task::yield_now().await;
    }
}
