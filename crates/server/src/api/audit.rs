//! The audit trail's HTTP side (issue 24): where a request came from, the one entry point
//! for recording an action that does not go through the sequencer ([`audit`]), the
//! hourly summary of key use, and `GET /v1/audit`.
//!
//! The client address is the TCP peer, taken by a middleware ([`client_scope`]) and kept
//! in a task-local for the request, so any handler (API or console) can record it and
//! pass it on to the sequencer without threading it through every signature. Headers
//! such as `X-Forwarded-For` are not trusted: a client could write anything there.

use super::{ApiError, AppState, require};
use crate::auth::{Identity, Role, presented_key};
use crate::sequencer::Shared;
use axum::Json;
use axum::extract::{ConnectInfo, Query, Request, State};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use leadrouter_store::{AuditEntry, AuditQuery, micros};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

tokio::task_local! {
    static CLIENT: Option<String>;
}

/// Middleware: run the request with its peer address in scope ([`client_address`]).
pub async fn client_scope(req: Request, next: Next) -> Response {
    let addr = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip().to_string());
    CLIENT.scope(addr, next.run(req)).await
}

/// The address of the client whose request is being handled; `None` outside a request
/// (SLA timers, the weekly schedule, SIGHUP).
pub fn client_address() -> Option<String> {
    CLIENT.try_with(Clone::clone).ok().flatten()
}

/// An action to record: who did what (and to which lead or other subject). The time and
/// the client address are filled in by [`audit`].
#[derive(Debug, Clone)]
pub struct Audit {
    pub actor: String,
    pub action: &'static str,
    pub lead_id: Option<String>,
    pub subject: Option<String>,
    pub detail: Option<Value>,
}

impl Audit {
    pub fn new(actor: impl Into<String>, action: &'static str) -> Self {
        Audit {
            actor: actor.into(),
            action,
            lead_id: None,
            subject: None,
            detail: None,
        }
    }

    pub fn lead(mut self, id: impl Into<String>) -> Self {
        self.lead_id = Some(id.into());
        self
    }

    pub fn subject(mut self, s: impl Into<String>) -> Self {
        self.subject = Some(s.into());
        self
    }

    pub fn detail(mut self, d: Value) -> Self {
        self.detail = Some(d);
        self
    }

    /// The row, at `now`, from the current request's client address.
    pub fn entry(self, now: Timestamp) -> AuditEntry {
        AuditEntry {
            at: micros(now),
            actor: self.actor,
            action: self.action.to_string(),
            lead_id: self.lead_id,
            subject: self.subject,
            address: client_address(),
            detail: self.detail.map(|d| d.to_string()),
        }
    }
}

/// Record an action that did not go through the sequencer, durably: it returns once the
/// row is committed. A failure is logged here; callers whose action must not stand
/// unrecorded fail with it, others go on.
pub async fn audit(shared: &Shared, a: Audit) -> Result<(), leadrouter_store::StoreError> {
    let entry = a.entry(shared.clock.now());
    let r = shared
        .store
        .audit_append(std::slice::from_ref(&entry))
        .await;
    if let Err(e) = &r {
        tracing::error!(error = %e, action = %entry.action, actor = %entry.actor, "could not write an audit entry");
    }
    r
}

/// How often one key used from one address is recorded: lead intake can be thousands of
/// requests a minute, so key use is summarised rather than logged per request.
const KEY_USE_EVERY_US: i64 = 3_600_000_000;
/// Bounds the summary's memory when many addresses use keys; past it, the map restarts
/// (which at worst records a key use again early).
const KEY_USE_MAX: usize = 10_000;

/// When each (key, address) was last recorded as used.
#[derive(Default)]
pub struct KeyUse {
    seen: Mutex<HashMap<(String, Option<String>), i64>>,
}

impl KeyUse {
    /// Record `who` using their key now, unless it was recorded from this address within
    /// the hour. Written in the background: the request does not wait for it.
    pub fn note(&self, shared: &std::sync::Arc<Shared>, who: &Identity) {
        let now = shared.clock.now();
        let address = client_address();
        let at = micros(now);
        {
            let Ok(mut seen) = self.seen.lock() else {
                return;
            };
            let k = (who.name.clone(), address.clone());
            if seen.get(&k).is_some_and(|t| at - t < KEY_USE_EVERY_US) {
                return;
            }
            if seen.len() >= KEY_USE_MAX {
                seen.clear();
            }
            seen.insert(k, at);
        }
        let entry = AuditEntry {
            at,
            actor: who.actor(),
            action: "key.use".into(),
            lead_id: None,
            subject: None,
            address,
            detail: Some(
                json!({ "role": match who.role { Role::Admin => "admin", Role::Intake => "intake" } })
                    .to_string(),
            ),
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            if let Err(e) = shared.store.audit_append(&[entry]).await {
                tracing::error!(error = %e, "could not record key use in the audit log");
            }
        });
    }
}

/// The caller's identity, for handlers that have already passed `require`.
pub(super) fn identity(st: &AppState, headers: &HeaderMap) -> Option<Identity> {
    presented_key(headers).and_then(|k| st.keys.identify(k))
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(super) struct ListQuery {
    actor: Option<String>,
    action: Option<String>,
    lead: Option<String>,
    from: Option<String>,
    to: Option<String>,
    before: Option<i64>,
    limit: Option<i64>,
}

fn instant(field: &str, v: &Option<String>) -> Result<Option<i64>, ApiError> {
    match v {
        None => Ok(None),
        Some(s) => s
            .parse::<Timestamp>()
            .map(|t| Some(micros(t)))
            .map_err(|e| {
                ApiError::Invalid(vec![crate::intake::FieldError {
                    field: field.into(),
                    message: format!("not an RFC 3339 instant such as 2026-11-30T09:00:00Z: {e}"),
                    value: Some(s.clone()),
                }])
            }),
    }
}

/// `GET /v1/audit` (admin): newest first; `next` is the `before` of the next page.
pub(super) async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ListQuery>,
) -> Result<Response, ApiError> {
    require(&st, &headers, Role::Admin)?;
    let limit = q.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::Invalid(vec![crate::intake::FieldError {
            field: "limit".into(),
            message: "must be 1-1000".into(),
            value: Some(limit.to_string()),
        }]));
    }
    let query = AuditQuery {
        actor: q.actor,
        action: q.action,
        lead_id: q.lead,
        from: instant("from", &q.from)?,
        to: instant("to", &q.to)?,
        before: q.before,
        limit,
    };
    let rows = st
        .shared
        .store
        .audit_list(&query)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let next = (rows.len() as i64 == limit)
        .then(|| rows.last().map(|r| r.id))
        .flatten();
    let entries: Vec<Value> = rows.iter().map(record_json).collect();
    Ok(Json(json!({ "entries": entries, "next": next })).into_response())
}

pub(crate) fn record_json(r: &leadrouter_store::AuditRecord) -> Value {
    let e = &r.entry;
    json!({
        "id": r.id,
        "at": leadrouter_store::from_micros(e.at),
        "actor": e.actor,
        "action": e.action,
        "lead_id": e.lead_id,
        "subject": e.subject,
        "address": e.address,
        "detail": e.detail.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
    })
}
