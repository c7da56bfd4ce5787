//! The HTTP API. Handlers parse and validate, hand work to the sequencer, and turn its
//! answer into a response; they never write to the database themselves. The bodies the
//! sequencer answers with are in [`responses`]; the pages behind signed accept/contacted
//! links in `links`.

pub mod audit;
pub mod booking;
pub mod crm_salesforce;
mod forms;
mod guard;
mod imports;
mod links;
pub(crate) use links::trace_span;
pub mod crm;
mod crm_hubspot;
pub(crate) mod people;
pub mod responses;
pub mod search;

use crate::auth::{Keys, Role, presented_key};
use crate::intake::{self, FieldError};
use crate::sequencer::{Job, JobError, LeadOp, RouteJob, Sequencer, Shared, Touch};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use forms::{form_post, form_token};
use guard::limited;
use jiff::Timestamp;
use leadrouter_core::lead::Lead;
use links::{link_act, link_page};
use responses::lead_json;
use serde::Deserialize;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::oneshot;

/// Longest a request waits for the sequencer before answering 503.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(45);
/// Body limits per route (docs/api.md, "Errors"; docs/security.md).
const MAX_JSON_BYTES: usize = 256 * 1024;
const MAX_FORM_BYTES: usize = 64 * 1024;
/// The admin API's small JSON bodies (a rep id and a note, an outcome, a duration).
const MAX_ADMIN_JSON_BYTES: usize = 16 * 1024;
const MAX_KEY_LEN: usize = 255;

#[derive(Clone)]
pub struct AppState {
    pub shared: Arc<Shared>,
    pub sequencer: Sequencer,
    pub keys: Keys,
    pub config_path: PathBuf,
    /// The CSV import worker's pace and wake-ups.
    pub imports: Arc<crate::imports::Imports>,
    /// Key use already recorded in the audit log (summarised per key and address).
    pub key_use: Arc<audit::KeyUse>,
    /// The public forms' rate limits and bot-check tokens.
    pub forms: Arc<crate::form_guard::FormGuard>,
    /// Salesforce Outbound Messages (CRM-2), when enabled.
    pub salesforce: Option<Arc<crm_salesforce::OutboundSettings>>,
    /// The CRM sync (CRM-3), when a CRM is connected.
    pub crm_sync: Option<Arc<crate::crm::sync::CrmSync>>,
    /// Each rep's calendar feed in memory (issue 22): busy blocks for booking, status for
    /// the console.
    pub calendars: Arc<crate::calendar::CalendarCache>,
    /// Calendar busy blocks for booking (issue 22).
    pub busy: Arc<dyn leadrouter_core::booking::BusyTimes>,
}

/// One error shape for the whole API: a code, a message, field errors when there are
/// any. Internals are logged, never sent.
#[derive(Debug)]
pub enum ApiError {
    Unauthorized,
    Forbidden,
    NotFound(String),
    BadRequest(String),
    /// 409: the request conflicts with what is stored (e.g. a report already sent).
    Conflict(String),
    Invalid(Vec<FieldError>),
    Unavailable(String),
    Unknown(String),
    /// 413: the body is over the route's limit (bytes).
    TooLarge(usize),
    /// Any other status, from axum's own rejections (`guard::json_errors`).
    Status(StatusCode, String),
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, code, message, errors) = match self {
            ApiError::Unauthorized => (
                StatusCode::UNAUTHORIZED,
                "unauthorized",
                "missing or wrong API key: send `Authorization: Bearer <key>`".to_string(),
                vec![],
            ),
            ApiError::Forbidden => (
                StatusCode::FORBIDDEN,
                "forbidden",
                "this key may only submit leads; use an admin key".to_string(),
                vec![],
            ),
            ApiError::NotFound(what) => (
                StatusCode::NOT_FOUND,
                "not_found",
                format!("{what} not found"),
                vec![],
            ),
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, "bad_request", m, vec![]),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, "conflict", m, vec![]),
            ApiError::Invalid(errors) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid",
                "the request has invalid fields; nothing was stored".to_string(),
                errors,
            ),
            ApiError::Unavailable(m) => {
                tracing::warn!(error = %m, "answering 503");
                (StatusCode::SERVICE_UNAVAILABLE, "unavailable", "storage is unavailable; nothing was stored, retry with the same Idempotency-Key".to_string(), vec![])
            }
            ApiError::TooLarge(max) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "too_large",
                format!(
                    "the body is over this route's limit of {}; nothing was read or stored",
                    size_text(max)
                ),
                vec![],
            ),
            ApiError::Status(status, text) => {
                let code = match status.as_u16() {
                    400 => "bad_request",
                    401 => "unauthorized",
                    403 => "forbidden",
                    404 => "not_found",
                    405 => "method_not_allowed",
                    408 => "timeout",
                    409 => "conflict",
                    413 => "too_large",
                    415 => "unsupported_media_type",
                    422 => "invalid",
                    429 => "too_many_requests",
                    503 => "unavailable",
                    _ if status.is_server_error() => "internal",
                    _ => "bad_request",
                };
                let message = if text.is_empty() {
                    status.canonical_reason().unwrap_or("error").to_lowercase()
                } else {
                    text
                };
                (status, code, message, vec![])
            }
            ApiError::Unknown(m) => {
                tracing::warn!(error = %m, "answering 503 with an unknown outcome");
                (StatusCode::SERVICE_UNAVAILABLE, "outcome_unknown", "the request may or may not have been stored; retry with the same Idempotency-Key (a retry never creates a duplicate)".to_string(), vec![])
            }
        };
        let mut body = json!({ "error": code, "message": message });
        if !errors.is_empty() {
            body["errors"] = json!(errors);
        }
        let mut resp = (status, Json(body)).into_response();
        if status == StatusCode::SERVICE_UNAVAILABLE {
            // Clients should back off briefly and retry with the same key.
            resp.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        resp
    }
}

/// 262144 → "256 KiB".
fn size_text(bytes: usize) -> String {
    if bytes >= 1 << 20 && bytes.is_multiple_of(1 << 20) {
        format!("{} MiB", bytes >> 20)
    } else if bytes >= 1 << 10 && bytes.is_multiple_of(1 << 10) {
        format!("{} KiB", bytes >> 10)
    } else {
        format!("{bytes} bytes")
    }
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::NotFound(w) => ApiError::NotFound(w),
            JobError::Invalid { field, message } => ApiError::Invalid(vec![FieldError {
                field,
                message,
                value: None,
            }]),
            JobError::Unavailable(m) => ApiError::Unavailable(m),
            JobError::Unknown(m) => ApiError::Unknown(m),
        }
    }
}

fn require(st: &AppState, headers: &HeaderMap, role: Role) -> Result<(), ApiError> {
    let Some(key) = presented_key(headers) else {
        return Err(ApiError::Unauthorized);
    };
    match st.keys.identify(key) {
        None => Err(ApiError::Unauthorized),
        Some(who) if who.role < role => Err(ApiError::Forbidden),
        Some(who) => {
            st.key_use.note(&st.shared, &who);
            Ok(())
        }
    }
}

async fn wait<T>(rx: oneshot::Receiver<Result<T, JobError>>) -> Result<T, ApiError> {
    match tokio::time::timeout(REPLY_TIMEOUT, rx).await {
        Ok(Ok(r)) => r.map_err(ApiError::from),
        Ok(Err(_)) => Err(ApiError::Unavailable(
            "the writer dropped the request".into(),
        )),
        Err(_) => Err(ApiError::Unavailable(
            "timed out waiting for the writer".into(),
        )),
    }
}

/// The route table. Routes sit in groups by how they authenticate, and the group's guard
/// (`guard.rs`) runs before any extractor, so no body is read before its key (or form
/// key, or link token) is checked: add an admin route to `admin`, never to `public`.
/// Every route that reads a body has its own limit (`guard::limited`).
pub fn router(state: AppState) -> Router {
    use axum::middleware::from_fn_with_state as guarded;
    let admin = Router::new()
        .route("/v1/leads/{id}", get(get_lead))
        .route(
            "/v1/leads/{id}/reassign",
            limited(post(reassign), MAX_ADMIN_JSON_BYTES),
        )
        .route(
            "/v1/leads/{id}/disqualify",
            limited(post(disqualify), MAX_ADMIN_JSON_BYTES),
        )
        .route(
            "/v1/leads/{id}/outcome",
            limited(post(outcome), MAX_ADMIN_JSON_BYTES),
        )
        // The import reads its body as a stream and checks the limit itself.
        .route(
            "/v1/imports",
            post(imports::create).layer(axum::middleware::from_fn_with_state(
                guard::Limit(intake::MAX_IMPORT_BYTES),
                guard::body_limit,
            )),
        )
        .route("/v1/imports/{id}", get(imports::status))
        .route("/v1/leads/{id}/accept", post(accept))
        .route("/v1/leads/{id}/contacted", post(contacted))
        .route("/v1/outbox/dead", get(dead_letters))
        .route("/v1/enrichment/stats", get(enrichment_stats))
        .route(
            "/v1/admin/clock",
            limited(post(move_clock), MAX_ADMIN_JSON_BYTES),
        )
        .route(
            "/v1/reps/{id}/availability",
            limited(put(set_availability), MAX_ADMIN_JSON_BYTES),
        )
        .route("/v1/admin/reload", post(reload))
        .route("/v1/audit", get(audit::list))
        .route("/v1/leads", get(search::list))
        .route("/metrics", get(metrics))
        .merge(people::router())
        .merge(crm::router())
        .merge(booking::routes())
        .route_layer(guarded(state.clone(), guard::admin));
    let intake_routes = Router::new()
        .route("/v1/leads", limited(post(create_lead), MAX_JSON_BYTES))
        .route_layer(guarded(state.clone(), guard::intake));
    let forms = Router::new()
        .route("/v1/forms/{key}", limited(post(form_post), MAX_FORM_BYTES))
        .route("/v1/forms/{key}/token", get(form_token))
        .route_layer(guarded(state.clone(), guard::form_key));
    // Public: no body is read (the link pages act on the signed token in the path alone).
    let public = Router::new()
        .route("/l/{token}", get(link_page).post(link_act))
        .merge(crate::booking::page::routes())
        .route("/v1/openapi.json", get(openapi))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz));
    // Authenticated by the HubSpot signature over the body (bounded by its own limit).
    let crm_hooks = crm_hubspot::router();
    let json_api = admin
        .merge(intake_routes)
        .merge(forms)
        .merge(crm_hooks)
        .layer(axum::middleware::from_fn(guard::json_errors));
    json_api
        .merge(public)
        .merge(crm_salesforce::router(state.clone()))
        .fallback(guard::not_found)
        .layer(crate::security_headers::layer(state.shared.clone()))
        .with_state(state)
}

#[derive(Deserialize, Default)]
struct ExplainQuery {
    #[serde(default)]
    explain: Option<String>,
}

/// An HTML form (or a Web-to-Lead integration) posting to the JSON endpoint gets told
/// where forms go, instead of "body is not valid JSON".
fn reject_form_body(headers: &HeaderMap) -> Result<(), ApiError> {
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    if ct.starts_with("application/x-www-form-urlencoded") || ct.starts_with("multipart/form-data")
    {
        return Err(ApiError::Status(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "POST /v1/leads takes JSON (Content-Type: application/json); HTML forms and Web-to-Lead posts belong at POST /v1/forms/{key}, with a [[form]] of that key in the config (docs/config.md, section 3.18); nothing was stored".into(),
        ));
    }
    Ok(())
}

fn parse_json(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body).map_err(|e| {
        ApiError::BadRequest(format!(
            "body is not valid JSON (line {}, column {}): {e}",
            e.line(),
            e.column()
        ))
    })
}

fn route_response(r: crate::sequencer::RouteReply) -> Response {
    let status = StatusCode::from_u16(r.status).unwrap_or(StatusCode::CREATED);
    let mut resp = (status, Json(r.body)).into_response();
    if r.replayed {
        resp.headers_mut()
            .insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    resp
}

async fn submit_route(
    st: &AppState,
    mut job: RouteJob,
) -> Result<crate::sequencer::RouteReply, ApiError> {
    // ENR-1..3: enrich in the request path, before the job reaches the sequencer; the
    // enricher never fails and never takes longer than its budget.
    if job.enrichment.is_none() {
        job.enrichment = Some(st.shared.enricher.load_full().enrich(&job.lead).await);
    }
    let (tx, rx) = oneshot::channel();
    st.sequencer.submit(Job::Route(Box::new(job), tx)).await?;
    wait(rx).await
}

async fn create_lead(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<ExplainQuery>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let received_at = st.shared.clock.now();
    let key = match headers.get("idempotency-key") {
        None => None,
        Some(v) => {
            let k = v.to_str().map_err(|_| {
                ApiError::BadRequest("Idempotency-Key must be visible ASCII".into())
            })?;
            if k.is_empty() || k.len() > MAX_KEY_LEN {
                return Err(ApiError::BadRequest(format!(
                    "Idempotency-Key must be 1-{MAX_KEY_LEN} characters"
                )));
            }
            Some(k.to_string())
        }
    };
    reject_form_body(&headers)?;
    let payload = parse_json(&body)?;
    let (lead, issues) = Lead::from_json(&payload).map_err(|e| {
        ApiError::Invalid(vec![FieldError {
            field: e.field,
            message: e.problem,
            value: None,
        }])
    })?;
    intake::check_limits(&payload).map_err(ApiError::Invalid)?;
    intake::validate(&lead).map_err(ApiError::Invalid)?;
    let explain = matches!(q.explain.as_deref(), Some("true" | "1" | "yes"));
    let reply = submit_route(
        &st,
        RouteJob {
            lead,
            enrichment: None,
            payload: Arc::new(payload),
            issues,
            source: "api".into(),
            idempotency_key: key,
            received_at,
            explain,
        },
    )
    .await?;
    Ok(route_response(reply))
}

async fn get_lead(
    State(st): State<AppState>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    // One snapshot: read separately, a poll during a commit could see the new history
    // beside the old owner.
    let leadrouter_store::LeadDetail {
        lead,
        history,
        outbox: messages,
        timers,
    } = st
        .shared
        .store
        .lead_detail(&id)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
        .ok_or(ApiError::NotFound(format!("lead {id}")))?;
    let cfg = st.shared.config.load_full();
    let history: Vec<Value> = history
        .into_iter()
        .map(|h| {
            let mut trace = h.trace.as_ref().map(|t| t.to_value());
            let mut text = None;
            // A trace is expanded against the config it was decided with; when that
            // config is no longer live, the recorded (compact) trace is returned as is.
            if h.config_version == cfg.version
                && let Some(t) = &h.trace
                && let Some(mut rt) = t.parse::<leadrouter_core::trace::RoutingTrace>()
            {
                rt.explain(&cfg);
                if let Some(d) = h.decision.as_ref().and_then(|d| d.parse()) {
                    text = Some(rt.render(&d));
                }
                trace = serde_json::to_value(&rt).ok();
            }
            json!({
                "kind": h.kind,
                "decided_at": leadrouter_store::from_micros(h.decided_at),
                "owner": h.owner,
                "queue": h.queue,
                "reason": h.reason,
                "actor": h.actor,
                "config_version": h.config_version,
                "decision": h.decision,
                "trace": trace,
                "trace_text": text,
            })
        })
        .collect();
    let mut body = lead_json(&lead);
    body["history"] = Value::Array(history);
    body["messages"] = Value::Array(
        messages
            .iter()
            .map(|m| {
                json!({
                    "id": m.id, "kind": m.kind, "channel": m.channel, "recipient": m.recipient,
                    "status": m.status, "attempts": m.attempts, "last_error": m.last_error,
                    "created_at": leadrouter_store::from_micros(m.created_at),
                    "delivered_at": m.delivered_at.map(leadrouter_store::from_micros),
                })
            })
            .collect(),
    );
    body["sla_timers"] = Value::Array(
        timers
            .iter()
            .map(|t| {
                json!({
                    "step": t.step, "status": t.status, "owner": t.owner,
                    "due_at": leadrouter_store::from_micros(t.due_at),
                    "fired_at": t.fired_at.map(leadrouter_store::from_micros),
                })
            })
            .collect(),
    );
    Ok(Json(body).into_response())
}

/// Who an API call acts as: the name of its key. A client-sent `X-Actor` header is
/// ignored (issue 24: any admin key holder could name anyone with it).
fn actor(st: &AppState, headers: &HeaderMap) -> String {
    audit::identity(st, headers).map_or_else(|| "key:unknown".to_string(), |who| who.actor())
}

async fn lead_op(
    st: &AppState,
    headers: &HeaderMap,
    id: String,
    op: LeadOp,
) -> Result<Response, ApiError> {
    let (tx, rx) = oneshot::channel();
    st.sequencer
        .submit(Job::Lead {
            lead_id: id,
            op,
            actor: actor(st, headers),
            address: audit::client_address(),
            reply: tx,
        })
        .await?;
    Ok(Json(wait(rx).await?).into_response())
}

fn body_json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let v = parse_json(body)?;
    serde_json::from_value(v).map_err(|e| {
        ApiError::Invalid(vec![FieldError {
            field: "body".into(),
            message: e.to_string(),
            value: None,
        }])
    })
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ReassignBody {
    rep: String,
    note: Option<String>,
}

async fn reassign(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: ReassignBody = body_json(&body)?;
    lead_op(
        &st,
        &headers,
        id,
        LeadOp::Reassign {
            rep: b.rep,
            note: b.note,
        },
    )
    .await
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct DisqualifyBody {
    reason: Option<String>,
}

async fn disqualify(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: DisqualifyBody = if body.is_empty() {
        DisqualifyBody::default()
    } else {
        body_json(&body)?
    };
    lead_op(&st, &headers, id, LeadOp::Disqualify { reason: b.reason }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OutcomeBody {
    outcome: String,
}

async fn outcome(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: OutcomeBody = body_json(&body)?;
    lead_op(&st, &headers, id, LeadOp::Outcome { outcome: b.outcome }).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AvailabilityBody {
    out_of_office: bool,
    until: Option<String>,
    note: Option<String>,
}

async fn set_availability(
    State(st): State<AppState>,
    Path(rep): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let b: AvailabilityBody = body_json(&body)?;
    let until = match b.until {
        None => None,
        Some(s) => Some(s.parse::<Timestamp>().map_err(|e| {
            ApiError::Invalid(vec![FieldError {
                field: "until".into(),
                message: format!("not an RFC 3339 instant: {e}"),
                value: Some(s.clone()),
            }])
        })?),
    };
    let (tx, rx) = oneshot::channel();
    st.sequencer
        .submit(Job::Availability {
            rep,
            out: b.out_of_office,
            until,
            note: b.note,
            actor: actor(&st, &headers),
            address: audit::client_address(),
            reply: tx,
        })
        .await?;
    Ok(Json(wait(rx).await?).into_response())
}

async fn touch(
    st: &AppState,
    id: String,
    touch: Touch,
    actor: String,
    as_owner: Option<String>,
) -> Result<Value, ApiError> {
    let (tx, rx) = oneshot::channel();
    st.sequencer
        .submit(Job::Touch {
            lead_id: id,
            touch,
            actor,
            address: audit::client_address(),
            as_owner,
            reply: tx,
        })
        .await?;
    wait(rx).await
}

async fn accept(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(touch(&st, id, Touch::Accept, actor(&st, &headers), None).await?).into_response())
}

async fn contacted(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    Ok(Json(touch(&st, id, Touch::Contacted, actor(&st, &headers), None).await?).into_response())
}

/// Per-provider hit rate, field coverage, latency, errors (issue 4, MET audits).
async fn enrichment_stats(State(st): State<AppState>) -> Result<Response, ApiError> {
    let stats = st.shared.enricher.load_full().stats();
    Ok(Json(json!({ "providers": stats })).into_response())
}

async fn dead_letters(State(st): State<AppState>) -> Result<Response, ApiError> {
    let rows = st
        .shared
        .store
        .dead_letters(500)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let v: Vec<Value> = rows
        .iter()
        .map(|m| {
            json!({
                "id": m.id, "lead_id": m.lead_id, "kind": m.kind, "channel": m.channel,
                "recipient": m.recipient, "attempts": m.attempts, "last_error": m.last_error,
                "created_at": leadrouter_store::from_micros(m.created_at),
            })
        })
        .collect();
    Ok(Json(json!({ "dead_letters": v })).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ClockBody {
    advance: String,
}

/// Move the test clock forward (only with LEADROUTER_TEST_CLOCK=1).
async fn move_clock(State(st): State<AppState>, body: Bytes) -> Result<Response, ApiError> {
    let b: ClockBody = body_json(&body)?;
    let by: jiff::SignedDuration = b.advance.parse().map_err(|e| {
        ApiError::Invalid(vec![FieldError {
            field: "advance".into(),
            message: format!("not a duration (\"10m\", \"2h\"): {e}"),
            value: Some(b.advance.clone()),
        }])
    })?;
    match st.shared.clock.advance(by) {
        Ok(now) => Ok(Json(json!({ "now": now })).into_response()),
        Err(m) => Err(ApiError::Invalid(vec![FieldError {
            field: "clock".into(),
            message: m.into(),
            value: None,
        }])),
    }
}

async fn reload(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    let result = crate::reload_config(&st, &actor(&st, &headers)).await;
    let detail = match &result {
        Ok(version) => json!({ "reloaded": true, "version": version }),
        Err(e) => json!({ "reloaded": false, "errors": e.errors().len() }),
    };
    let _ = audit::audit(
        &st.shared,
        audit::Audit::new(actor(&st, &headers), "config.reload").detail(detail),
    )
    .await;
    match result {
        Ok(version) => Ok(Json(json!({ "reloaded": true, "version": version })).into_response()),
        Err(e) => Ok((
            StatusCode::UNPROCESSABLE_ENTITY,
            Json(json!({
                "error": "invalid_config",
                "message": e.to_string(),
                "errors": e.errors(),
                "serving": st.shared.config.load().version,
            })),
        )
            .into_response()),
    }
}

async fn readyz(State(st): State<AppState>) -> Response {
    let db = tokio::time::timeout(Duration::from_secs(2), st.shared.store.ping()).await;
    match db {
        Ok(Ok(())) if !st.sequencer.is_alive() => {
            (StatusCode::SERVICE_UNAVAILABLE, "writer stopped").into_response()
        }
        // The database can answer a ping while every write fails (full disk).
        Ok(Ok(())) => match st.sequencer.commit_health().unready() {
            None => (StatusCode::OK, "ready").into_response(),
            Some(why) => (StatusCode::SERVICE_UNAVAILABLE, why).into_response(),
        },
        Ok(Err(e)) => (StatusCode::SERVICE_UNAVAILABLE, format!("database: {e}")).into_response(),
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "database: ping timed out").into_response(),
    }
}

async fn metrics(State(st): State<AppState>) -> Result<Response, ApiError> {
    Ok((
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        st.shared.metrics.encode(),
    )
        .into_response())
}

async fn openapi() -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        include_str!("../openapi.json"),
    )
        .into_response()
}
