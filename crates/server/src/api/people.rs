//! A person's data on request (issue 24, SEC-3): `GET /v1/people/{email}/export` answers
//! with everything held about them, `DELETE /v1/people/{email}` erases them everywhere
//! (`leadrouter_store::privacy`, and the enrichment providers' in-memory caches),
//! keeping the pseudonymised lead rows the figures count.
//! Both are admin-only. The erasure takes the routing lock and moves the state version,
//! so the sequencer reloads what it cached and re-decides anything decided ahead on the
//! erased rows: a later lead from the same address is a new person.

use super::{ApiError, AppState, require};
use crate::auth::Role;
use crate::intake::FieldError;
use crate::sequencer::Shared;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use axum::{Json, Router};
use leadrouter_store::{ErasureCounts, StoreError};
use serde_json::json;

/// Longest address accepted (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/people/{email}", delete(erase))
        .route("/v1/people/{email}/export", get(export))
}

/// Erase a person everywhere this process holds them: the store, in one transaction
/// (`Privacy::erase_person`), then the in-memory caches of the enrichment providers keyed
/// by email (after the commit, so a lead routed meanwhile cannot refill them from the
/// persistent cache). The API and the console's *Erase person* both come here.
pub(crate) async fn erase_everywhere(
    shared: &Shared,
    email: &str,
    now: i64,
) -> Result<ErasureCounts, StoreError> {
    let counts = shared.store.erase_person(email, now).await?;
    let dropped = shared.enricher.load().forget(email).await;
    tracing::debug!(
        entries = dropped,
        "erasure: in-memory enrichment entries dropped"
    );
    Ok(counts)
}

/// The address from the path, or a 422 naming it.
fn email_param(email: &str) -> Result<String, ApiError> {
    let e = email.trim();
    if e.is_empty() || e.len() > MAX_EMAIL || !e.contains('@') || e.chars().any(char::is_control) {
        return Err(ApiError::Invalid(vec![FieldError {
            field: "email".into(),
            message: format!("an email address of at most {MAX_EMAIL} characters"),
            value: None,
        }]));
    }
    Ok(leadrouter_store::privacy::normalise_email(e))
}

async fn export(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Result<Response, ApiError> {
    require(&st, &headers, Role::Admin)?;
    let email = email_param(&email)?;
    let export = st
        .shared
        .store
        .person_export(&email)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    if export.is_empty() {
        return Err(ApiError::NotFound(
            "person: nothing is held about this address".into(),
        ));
    }
    let mut resp = Json(export).into_response();
    // The export is the person's data itself: no intermediary keeps a copy.
    resp.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(resp)
}

async fn erase(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(email): Path<String>,
) -> Result<Response, ApiError> {
    require(&st, &headers, Role::Admin)?;
    let email = email_param(&email)?;
    let now = st.shared.clock.now().as_microsecond();
    let counts = erase_everywhere(&st.shared, &email, now)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    // SEC-2: who erased, with the counts; never the address.
    let _ = super::audit::audit(
        &st.shared,
        super::audit::Audit::new(super::actor(&st, &headers), "person.erase")
            .detail(serde_json::to_value(&counts).unwrap_or_default()),
    )
    .await;
    tracing::info!(
        leads = counts.leads,
        people = counts.people,
        "erased a person's data on request"
    );
    Ok(Json(json!({ "erased": counts })).into_response())
}
