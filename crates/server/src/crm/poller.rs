//! The CRM poller (CRM-2, for teams that cannot configure webhooks): with `[crm]
//! poll_every`, reads the leads/contacts modified since the last poll (overlapping by a
//! minute, as the CRM's modified times are not strictly ordered with its commits) and
//! routes those not changed by leadrouter itself, with the same idempotency key as the
//! webhook (`hubspot:contact:{id}`), so a contact seen by both, or by two polls, is
//! routed once. The watermark is stored (`crm_sync_state`, kind `leads`) after each
//! poll, so a restart neither misses the contacts changed while leadrouter was down nor
//! re-reads further back than the overlap; without a stored one the first poll looks
//! back `poll_every`. A poll that stops at its page limit moves the watermark only to
//! the newest record it read, so the next poll goes on from there.

use crate::sequencer::{Job, RouteJob, Sequencer, Shared};
use jiff::{SignedDuration, Timestamp};
use leadrouter_core::lead::Lead;
use leadrouter_store::{SyncPosition, from_micros, micros};
use std::sync::Arc;
use std::time::Duration;

/// Re-read this much before the watermark on every poll.
const OVERLAP: SignedDuration = SignedDuration::from_mins(1);
/// Most pages read per poll.
const MAX_PAGES: usize = 100;
/// The `crm_sync_state` kind of the watermark.
const KIND: &str = "leads";

/// The stored watermark of `provider`'s poller (`None` when never stored or unreadable:
/// the caller looks back `poll_every`).
async fn stored_watermark(shared: &Shared, provider: &str) -> Option<Timestamp> {
    match shared.store.crm_position(provider, KIND).await {
        Ok(p) => p.and_then(|p| p.high_water).map(from_micros),
        Err(e) => {
            tracing::warn!(error = %e, "reading the CRM poller's watermark failed");
            None
        }
    }
}

pub fn spawn(shared: Arc<Shared>, sequencer: Sequencer) {
    tokio::spawn(async move {
        // (provider, watermark): read from storage when the provider is first seen.
        let mut watermark: Option<(&'static str, Option<Timestamp>)> = None;
        loop {
            let Some(rt) = shared.crm.runtime.load_full() else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            let Some(every) = rt.config.poll_every else {
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            };
            let provider = rt.config.provider.as_str();
            let mark = match watermark {
                Some((p, w)) if p == provider => w,
                _ => stored_watermark(&shared, provider).await,
            };
            let now = shared.clock.now();
            let since = mark.unwrap_or_else(|| {
                now - SignedDuration::try_from(every).unwrap_or(SignedDuration::from_mins(1))
            }) - OVERLAP;
            let mut next = mark;
            match poll(&shared, &sequencer, &rt, since).await {
                Ok(p) => {
                    if p.seen > 0 {
                        tracing::info!(seen = p.seen, routed = p.routed, "CRM poll");
                    }
                    // Complete: everything up to the poll's start is read. Cut short:
                    // up to the newest record read (pages come oldest first).
                    let reached = if p.complete { Some(now) } else { p.newest };
                    next = mark.max(reached);
                    if let Some(w) = next.filter(|w| Some(*w) != mark) {
                        let pos = SyncPosition {
                            high_water: Some(micros(w)),
                            ..SyncPosition::default()
                        };
                        if let Err(e) = shared
                            .store
                            .crm_set_position(provider, KIND, &pos, micros(shared.clock.now()))
                            .await
                        {
                            tracing::warn!(error = %e, "storing the CRM poller's watermark failed; it is kept in memory");
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "CRM poll failed; retrying next time"),
            }
            watermark = Some((provider, next));
            tokio::time::sleep(every).await;
        }
    });
}

async fn poll(
    shared: &Shared,
    sequencer: &Sequencer,
    rt: &super::CrmRuntime,
    since: Timestamp,
) -> Result<Polled, String> {
    let mut out = Polled::default();
    let mut cursor: Option<String> = None;
    for _ in 0..MAX_PAGES {
        let page = tokio::time::timeout(
            rt.config.timeout * 2,
            rt.client.leads_since(since, cursor.as_deref()),
        )
        .await
        .map_err(|_| "the CRM read timed out".to_string())?
        .map_err(|e| e.to_string())?;
        for l in page.items {
            out.seen += 1;
            out.newest = out.newest.max(Some(l.modified));
            if l.changed_by_us {
                continue;
            }
            let payload = serde_json::Value::Object(l.lead);
            let Ok((lead, issues)) = Lead::from_json(&payload) else {
                continue;
            };
            if crate::intake::validate(&lead).is_err()
                || crate::intake::check_limits(&payload).is_err()
            {
                continue;
            }
            let enrichment = Some(shared.enricher.load_full().enrich(&lead).await);
            let job = RouteJob {
                lead,
                enrichment,
                payload: Arc::new(payload),
                issues,
                source: rt.config.provider.as_str().into(),
                idempotency_key: Some(format!(
                    "{}:contact:{}",
                    rt.config.provider.as_str(),
                    l.crm_id
                )),
                received_at: shared.clock.now(),
                explain: false,
            };
            let (tx, rx) = tokio::sync::oneshot::channel();
            sequencer
                .submit(Job::Route(Box::new(job), tx))
                .await
                .map_err(|e| e.to_string())?;
            match tokio::time::timeout(Duration::from_secs(30), rx).await {
                Ok(Ok(Ok(r))) if !r.replayed => out.routed += 1,
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err(e))) => return Err(e.to_string()),
                _ => return Err("the writer did not answer".into()),
            }
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => {
                out.complete = true;
                break;
            }
        }
    }
    Ok(out)
}

/// What one poll read.
#[derive(Default)]
struct Polled {
    seen: usize,
    routed: usize,
    /// The newest modification time read.
    newest: Option<Timestamp>,
    /// The last page was reached.
    complete: bool,
}
