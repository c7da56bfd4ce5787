//! Salesforce Outbound Messages (CRM-2).
//!
//! `POST /v1/crm/salesforce/outbound`: Salesforce posts a SOAP `notifications` message
//! of up to 100 Leads. The optional `token` query parameter is checked before the body
//! is read; then the organisation id, then each notification's Lead goes through the
//! same intake as `POST /v1/leads` (validation, enrichment, the sequencer) with the
//! idempotency key `salesforce:{record id}:{notification id}`, so a redelivery never
//! routes twice. `<Ack>true</Ack>` is answered only after every lead's transaction has
//! committed; otherwise a SOAP fault, and Salesforce redelivers. A Lead last modified by
//! our integration user, or already carrying our external id, is our own write-back: it
//! is acknowledged and not routed (loop prevention). A notification that can never be
//! routed (not a Lead, no email or phone) is acknowledged and logged: a redelivery
//! could not fix it.

use super::{AppState, MAX_KEY_LEN, guard, submit_route};
use crate::intake;
use crate::sequencer::RouteJob;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use leadrouter_core::lead::Lead;
use leadrouter_crm::salesforce::{outbound, wire};
use serde_json::Value;
use std::sync::Arc;

/// What the outbound endpoint checks, from `LEADROUTER_SALESFORCE_*`.
#[derive(Clone, Debug)]
pub struct OutboundSettings {
    /// The org whose messages are accepted (15 or 18 characters).
    pub org_id: String,
    /// When set, the endpoint URL configured in Salesforce carries `?token=…`.
    pub token: Option<String>,
    /// The integration user our write-back is made as (loop prevention).
    pub integration_user_id: Option<String>,
    /// The Lead field holding leadrouter's lead id (`LEADROUTER_SALESFORCE_EXTERNAL_ID_FIELD`);
    /// `None`: the one `[crm.fields] lead_id` writes back (see `external_id_field`).
    pub external_id_field: Option<String>,
}

/// The Lead field that holds leadrouter's lead id: the variable when set, else the one a
/// Salesforce `[crm]` connection writes back (`[crm.fields] lead_id`), else the default.
/// Loop prevention must look at the field the write-back fills.
fn external_id_field(sf: &OutboundSettings, st: &AppState) -> String {
    if let Some(f) = &sf.external_id_field {
        return f.clone();
    }
    st.shared
        .crm
        .runtime
        .load()
        .as_ref()
        .filter(|rt| rt.config.provider == leadrouter_crm::config::ProviderKind::Salesforce)
        .and_then(|rt| rt.config.fields.lead_id.clone())
        .unwrap_or_else(|| "LeadRouter_Id__c".into())
}

impl OutboundSettings {
    /// `None` (the endpoint answers 404) unless `LEADROUTER_SALESFORCE_ORG_ID` is set.
    pub fn from_env() -> Option<OutboundSettings> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.trim().is_empty());
        Some(OutboundSettings {
            org_id: var("LEADROUTER_SALESFORCE_ORG_ID")?.trim().to_string(),
            token: var("LEADROUTER_SALESFORCE_OUTBOUND_TOKEN"),
            integration_user_id: var("LEADROUTER_SALESFORCE_INTEGRATION_USER_ID"),
            external_id_field: var("LEADROUTER_SALESFORCE_EXTERNAL_ID_FIELD"),
        })
    }
}

pub(super) fn router(state: AppState) -> axum::Router<AppState> {
    use axum::middleware::from_fn_with_state as guarded;
    axum::Router::new()
        .route(
            "/v1/crm/salesforce/outbound",
            guard::limited(post(receive), outbound::MAX_OUTBOUND_BYTES),
        )
        .route_layer(guarded(state, token_guard))
}

fn soap(status: StatusCode, body: String) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/xml; charset=utf-8")],
        body,
    )
        .into_response()
}

#[derive(serde::Deserialize)]
struct TokenQuery {
    token: Option<String>,
}

/// A refusal sent before the body was read: the connection is not kept, since the unread
/// body would be taken for the next request.
fn refuse_unread(status: StatusCode, message: &str) -> Response {
    let mut r = soap(status, outbound::fault(true, message));
    r.headers_mut().insert(
        header::CONNECTION,
        axum::http::HeaderValue::from_static("close"),
    );
    r
}

/// Before the body is read: the endpoint is enabled and the token (if any) matches.
async fn token_guard(
    State(st): State<AppState>,
    Query(q): Query<TokenQuery>,
    req: Request,
    next: Next,
) -> Response {
    let Some(sf) = &st.salesforce else {
        return refuse_unread(
            StatusCode::NOT_FOUND,
            "Salesforce outbound messages are not enabled here",
        );
    };
    if let Some(want) = &sf.token {
        use subtle::ConstantTimeEq;
        let given = q.token.unwrap_or_default();
        if !bool::from(given.as_bytes().ct_eq(want.as_bytes())) {
            return refuse_unread(
                StatusCode::UNAUTHORIZED,
                "missing or wrong token in the endpoint URL",
            );
        }
    }
    next.run(req).await
}

async fn receive(State(st): State<AppState>, body: Bytes) -> Response {
    let Some(sf) = st.salesforce.clone() else {
        return soap(StatusCode::NOT_FOUND, outbound::fault(true, "not enabled"));
    };
    let msg = match outbound::parse(&body) {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "refused a Salesforce outbound message");
            return soap(
                StatusCode::INTERNAL_SERVER_ERROR,
                outbound::fault(true, &e.to_string()),
            );
        }
    };
    if !msg.from_org(&sf.org_id) {
        tracing::warn!(org = %msg.organization_id, "Salesforce outbound message from another organisation");
        return soap(
            StatusCode::FORBIDDEN,
            outbound::fault(
                true,
                "the OrganizationId is not the organisation this endpoint serves",
            ),
        );
    }
    let received_at = st.shared.clock.now();
    let ext_field = external_id_field(&sf, &st);
    let (mut ours, mut unroutable) = (0usize, 0usize);
    let mut jobs = Vec::with_capacity(msg.notifications.len());
    for n in &msg.notifications {
        let why_not = |why: &str| {
            tracing::warn!(notification = %n.id, object = %n.object, record = n.fields.get("Id").map(String::as_str).unwrap_or(""), why, "Salesforce notification acknowledged without routing");
        };
        if n.object != "Lead" {
            why_not("only Lead notifications are routed");
            unroutable += 1;
            continue;
        }
        let Some(inbound) =
            wire::inbound_lead(&n.record(), sf.integration_user_id.as_deref(), &ext_field)
        else {
            why_not("no record Id");
            unroutable += 1;
            continue;
        };
        if inbound.changed_by_us {
            ours += 1;
            continue;
        }
        let key = format!("salesforce:{}:{}", inbound.crm_id, n.id);
        if key.len() > MAX_KEY_LEN {
            why_not("ids too long for an idempotency key");
            unroutable += 1;
            continue;
        }
        let payload = Value::Object(inbound.lead);
        let (lead, issues) = match Lead::from_json(&payload) {
            Ok(x) => x,
            Err(e) => {
                why_not(&e.problem);
                unroutable += 1;
                continue;
            }
        };
        if let Err(errors) = intake::check_limits(&payload).and_then(|()| intake::validate(&lead)) {
            let text: Vec<String> = errors
                .iter()
                .map(|e| format!("{}: {}", e.field, e.message))
                .collect();
            why_not(&text.join("; "));
            unroutable += 1;
            continue;
        }
        jobs.push(RouteJob {
            lead,
            enrichment: None,
            payload: Arc::new(payload),
            issues,
            source: "salesforce".into(),
            idempotency_key: Some(key),
            received_at,
            explain: false,
        });
    }
    let total = jobs.len();
    let results = futures::future::join_all(jobs.into_iter().map(|j| submit_route(&st, j))).await;
    let failed: Vec<String> = results
        .into_iter()
        .filter_map(|r| r.err().map(|e| format!("{e:?}")))
        .collect();
    if !failed.is_empty() {
        tracing::warn!(failed = failed.len(), total, first = %failed[0], "Salesforce outbound message not acknowledged; Salesforce will redeliver");
        return soap(
            StatusCode::INTERNAL_SERVER_ERROR,
            outbound::fault(
                false,
                &format!(
                    "{} of {total} leads could not be stored; redeliver (stored ones are not routed twice)",
                    failed.len()
                ),
            ),
        );
    }
    tracing::info!(
        routed = total,
        ours,
        unroutable,
        "Salesforce outbound message acknowledged"
    );
    soap(StatusCode::OK, outbound::ack())
}
