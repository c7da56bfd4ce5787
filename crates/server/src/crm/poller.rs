//! The CRM poller (CRM-2, for teams that cannot configure webhooks): with `[crm]
//! poll_every`, reads the leads/contacts modified since the last poll (overlapping by a
//! minute, as the CRM's modified times are not strictly ordered with its commits) and
//! routes those not changed by leadrouter itself, with the same idempotency key as the
//! webhook (`hubspot:contact:{id}`), so a contact seen by both, or by two polls, is
//! routed once. The watermark lives in memory: after a restart the poller starts from
//! `poll_every` before the start.

use crate::sequencer::{Job, RouteJob, Sequencer, Shared};
use jiff::{SignedDuration, Timestamp};
use leadrouter_core::lead::Lead;
use std::sync::Arc;
use std::time::Duration;

/// Re-read this much before the watermark on every poll.
const OVERLAP: SignedDuration = SignedDuration::from_mins(1);
/// Most pages read per poll.
const MAX_PAGES: usize = 100;

pub fn spawn(shared: Arc<Shared>, sequencer: Sequencer) {
    tokio::spawn(async move {
        let mut watermark: Option<Timestamp> = None;
        loop {
            let Some(rt) = shared.crm.runtime.load_full() else {
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            };
            let Some(every) = rt.config.poll_every else {
                tokio::time::sleep(Duration::from_secs(5)).await;
                continue;
            };
            let now = shared.clock.now();
            let since = watermark.unwrap_or_else(|| {
                now - SignedDuration::try_from(every).unwrap_or(SignedDuration::from_mins(1))
            }) - OVERLAP;
            match poll(&shared, &sequencer, &rt, since).await {
                Ok((seen, routed)) => {
                    if seen > 0 {
                        tracing::info!(seen, routed, "CRM poll");
                    }
                    watermark = Some(now);
                }
                Err(e) => tracing::warn!(error = %e, "CRM poll failed; retrying next time"),
            }
            tokio::time::sleep(every).await;
        }
    });
}

async fn poll(
    shared: &Shared,
    sequencer: &Sequencer,
    rt: &super::CrmRuntime,
    since: Timestamp,
) -> Result<(usize, usize), String> {
    let (mut seen, mut routed) = (0, 0);
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
            seen += 1;
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
                Ok(Ok(Ok(r))) if !r.replayed => routed += 1,
                Ok(Ok(Ok(_))) => {}
                Ok(Ok(Err(e))) => return Err(e.to_string()),
                _ => return Err("the writer did not answer".into()),
            }
        }
        match page.next {
            Some(n) => cursor = Some(n),
            None => break,
        }
    }
    Ok((seen, routed))
}
