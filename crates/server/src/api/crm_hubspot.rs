//! HubSpot webhooks in (CRM-2): `POST /v1/crm/hubspot/webhook` takes HubSpot's batched
//! JSON array of events, checks `X-HubSpot-Signature-v3` over the raw body before
//! anything else (401 and nothing stored on a forged or stale request), fetches the
//! contacts the events name, and routes them through the same path as `POST /v1/leads`
//! with an idempotency key from the HubSpot record id, so a redelivered event never
//! routes a contact twice. It answers 2xx only once every lead is committed; on a CRM or
//! storage failure it answers 503 and HubSpot redelivers.
//!
//! Loop prevention: a change made by our own app (`sourceId` = `[crm.hubspot] app_id`),
//! a property change to a property leadrouter writes, and a contact that already carries
//! a leadrouter lead id (our write-back created or updated it) are not routed.

use super::{ApiError, AppState, submit_route};
use crate::sequencer::RouteJob;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use leadrouter_core::lead::Lead;
use leadrouter_crm::config::Credentials;
use leadrouter_crm::hubspot::signature::verify_v3;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

pub const PATH: &str = "/v1/crm/hubspot/webhook";
/// HubSpot sends at most 100 events a request; a little room for its envelope.
pub const MAX_BODY: usize = 256 * 1024;
const MAX_EVENTS: usize = 100;
/// Longest wait for HubSpot to answer the contacts read.
const FETCH_TIMEOUT: Duration = Duration::from_secs(15);

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/v1/crm/hubspot/webhook",
        super::limited(post(webhook), MAX_BODY),
    )
}

fn unauthorized(why: &str) -> ApiError {
    tracing::warn!(why, "HubSpot webhook refused");
    ApiError::Unauthorized
}

async fn webhook(
    State(st): State<AppState>,
    headers: HeaderMap,
    uri: axum::http::Uri,
    body: Bytes,
) -> Result<Response, ApiError> {
    let Some(rt) = st.shared.crm.runtime.load_full() else {
        return Err(ApiError::NotFound(
            "no HubSpot connection is configured".into(),
        ));
    };
    let Credentials::HubSpot(creds) = &rt.config.credentials else {
        return Err(ApiError::NotFound(
            "no HubSpot connection is configured".into(),
        ));
    };
    let Some(secret) = &creds.client_secret else {
        return Err(unauthorized(
            "no client secret configured ([crm.hubspot] client_secret_env)",
        ));
    };
    let header = |n: &str| headers.get(n).and_then(|v| v.to_str().ok());
    let path = uri.path_and_query().map_or(PATH, |p| p.as_str());
    // HubSpot signs the URL it called. Configured: that one. Otherwise rebuilt from Host
    // (behind a TLS-terminating proxy the scheme is https even though we see http).
    let candidates: Vec<String> = match &creds.webhook_url {
        Some(u) => vec![u.as_str().to_string()],
        None => {
            let host = header("host").unwrap_or("");
            vec![
                format!("https://{host}{path}"),
                format!("http://{host}{path}"),
            ]
        }
    };
    let now = st.shared.clock.now();
    let (ts, sig) = (
        header("x-hubspot-request-timestamp"),
        header("x-hubspot-signature-v3"),
    );
    let mut verdict = Err(leadrouter_crm::hubspot::signature::SignatureError::Missing);
    for c in &candidates {
        verdict = verify_v3(secret.0.as_bytes(), "POST", c, &body, ts, sig, now);
        if verdict.is_ok() {
            break;
        }
    }
    if let Err(e) = verdict {
        return Err(unauthorized(&e.to_string()));
    }
    let events: Vec<Value> = serde_json::from_slice(&body)
        .map_err(|e| ApiError::BadRequest(format!("body is not a JSON array of events: {e}")))?;
    if events.len() > MAX_EVENTS {
        return Err(ApiError::BadRequest(format!(
            "more than {MAX_EVENTS} events"
        )));
    }
    let ours: BTreeSet<&str> = rt
        .config
        .fields
        .written()
        .into_iter()
        .chain(["hubspot_owner_id"])
        .collect();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut skipped = 0usize;
    for e in &events {
        let kind = e["subscriptionType"].as_str().unwrap_or("");
        let Some(id) = e["objectId"].as_i64().map(|i| i.to_string()) else {
            skipped += 1;
            continue;
        };
        let by_us = creds.app_id.is_some_and(|app| {
            e["sourceId"].as_str().and_then(|s| s.parse::<i64>().ok()) == Some(app)
                || e["sourceId"].as_i64() == Some(app)
        });
        let our_property = kind == "contact.propertyChange"
            && e["propertyName"].as_str().is_some_and(|p| ours.contains(p));
        if !kind.starts_with("contact.") || kind == "contact.deletion" || by_us || our_property {
            skipped += 1;
            continue;
        }
        ids.insert(id);
    }
    let ids: Vec<String> = ids.into_iter().collect();
    let leads = if ids.is_empty() {
        Vec::new()
    } else {
        match tokio::time::timeout(FETCH_TIMEOUT, rt.client.leads_by_id(&ids)).await {
            Ok(Ok(l)) => l,
            Ok(Err(e)) => {
                return Err(ApiError::Unavailable(format!(
                    "reading the contacts from HubSpot: {e}"
                )));
            }
            Err(_) => {
                return Err(ApiError::Unavailable(
                    "reading the contacts from HubSpot timed out".into(),
                ));
            }
        }
    };
    let received_at = st.shared.clock.now();
    let mut jobs = Vec::new();
    let mut invalid = 0usize;
    for l in leads {
        if l.changed_by_us {
            skipped += 1;
            continue;
        }
        let payload = Value::Object(l.lead);
        let Ok((lead, issues)) = Lead::from_json(&payload) else {
            invalid += 1;
            continue;
        };
        if crate::intake::validate(&lead).is_err() || crate::intake::check_limits(&payload).is_err()
        {
            // A contact without a usable email or phone cannot be routed; HubSpot keeps it.
            invalid += 1;
            continue;
        }
        jobs.push(RouteJob {
            lead,
            enrichment: None,
            payload: Arc::new(payload),
            issues,
            source: "hubspot".into(),
            idempotency_key: Some(format!("hubspot:contact:{}", l.crm_id)),
            received_at,
            explain: false,
        });
    }
    let replies = futures::future::join_all(jobs.into_iter().map(|j| submit_route(&st, j))).await;
    let mut routed = Vec::new();
    for r in replies {
        let r = r?;
        routed.push(json!({ "lead_id": r.lead_id, "replayed": r.replayed }));
    }
    Ok(Json(json!({
        "events": events.len(),
        "routed": routed,
        "skipped": skipped,
        "invalid": invalid,
    }))
    .into_response())
}
