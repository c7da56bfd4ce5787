//! CRM write-back dead letters over the API (CRM-1): `GET /v1/crm/dead-letters` lists
//! them, `POST /v1/crm/dead-letters/{id}/retry` puts one back in line (unless a later
//! write for the same lead has already reached the CRM or is waiting: re-sending the
//! older one would overwrite newer values, so that answers 409). `POST /v1/crm/sync`
//! pulls the CRM's users and accounts now (CRM-3). Admin only; retries and syncs are
//! audited.

use super::{ApiError, AppState, require};
use crate::auth::Role;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use leadrouter_store::{CrmRequeue, CrmRow, from_micros};
use serde_json::{Value, json};

/// Most dead letters listed.
pub const LIST_LIMIT: i64 = 500;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/v1/crm/dead-letters", get(list))
        .route("/v1/crm/dead-letters/{id}/retry", post(retry))
        .route("/v1/crm/sync", post(sync_now))
}

/// The longest an on-demand sync is waited for (it goes on in the background after).
const SYNC_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

/// `POST /v1/crm/sync`: pull the CRM's users and accounts now and rebuild the overlay;
/// the answer is the run's report. Audited as `crm.sync` with what it did or why not.
async fn sync_now(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    use crate::crm::sync::SyncError;
    use axum::http::StatusCode;
    require(&st, &headers, Role::Admin)?;
    let Some(sync) = st.crm_sync.clone() else {
        return Err(ApiError::NotFound(
            "CRM connection (none is configured: see docs/crm.md)".into(),
        ));
    };
    // A task of its own: a client that gives up does not cut a pull in half.
    let run = tokio::spawn(async move { sync.run().await });
    let result = match tokio::time::timeout(SYNC_TIMEOUT, run).await {
        Err(_) => Err(ApiError::Status(
            StatusCode::GATEWAY_TIMEOUT,
            "the CRM sync is taking longer than 2 minutes; it goes on in the background".into(),
        )),
        Ok(Err(e)) => Err(ApiError::Unavailable(format!("the sync task failed: {e}"))),
        Ok(Ok(Ok(report))) => Ok(report),
        Ok(Ok(Err(SyncError::NotConfigured))) => {
            return Err(ApiError::NotFound(
                "CRM connection (none is configured: add [crm] to the routing config, docs/crm.md)"
                    .into(),
            ));
        }
        Ok(Ok(Err(SyncError::Crm(e)))) => Err(ApiError::Status(
            StatusCode::BAD_GATEWAY,
            format!(
                "the CRM sync failed: {e}; what was already stored is kept and routing goes on with it"
            ),
        )),
        Ok(Ok(Err(e))) => Err(ApiError::Unavailable(e.to_string())),
    };
    let detail = match &result {
        Ok(r) => json!({
            "provider": r.provider,
            "users": r.users,
            "accounts": r.accounts,
            "complete": r.complete,
            "overlay_accounts": r.overlay_accounts,
            "findings": r.findings.len(),
        }),
        Err(e) => json!({ "failed": format!("{e:?}") }),
    };
    let _ = super::audit::audit(
        &st.shared,
        super::audit::Audit::new(super::actor(&st, &headers), "crm.sync").detail(detail),
    )
    .await;
    result.map(|r| Json(r).into_response())
}

/// A dead letter as the API and the console show it (the payload's values stay out:
/// they are the lead's personal data, readable on the lead itself).
pub fn dead_letter_json(r: &CrmRow) -> Value {
    json!({
        "id": r.id,
        "lead_id": r.lead_id,
        "kind": r.kind,
        "attempts": r.attempts,
        "last_error": r.last_error,
        "created_at": from_micros(r.created_at),
    })
}

async fn list(State(st): State<AppState>, headers: HeaderMap) -> Result<Response, ApiError> {
    require(&st, &headers, Role::Admin)?;
    let rows = st
        .shared
        .store
        .crm_dead_letters(LIST_LIMIT)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let v: Vec<Value> = rows.iter().map(dead_letter_json).collect();
    Ok(Json(json!({ "dead_letters": v })).into_response())
}

async fn retry(
    State(st): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    require(&st, &headers, Role::Admin)?;
    if id.len() > 64 {
        return Err(ApiError::NotFound("dead letter".into()));
    }
    let done = requeue(&st, &id).await?;
    let _ = super::audit::audit(
        &st.shared,
        super::audit::Audit::new(super::actor(&st, &headers), "crm.retry")
            .detail(json!({ "id": id })),
    )
    .await;
    Ok(Json(done).into_response())
}

/// Requeue one dead letter (the API's and the console's retry).
pub async fn requeue(st: &AppState, id: &str) -> Result<Value, ApiError> {
    let now = st.shared.clock.now().as_microsecond();
    match st
        .shared
        .store
        .crm_requeue(id, now)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?
    {
        CrmRequeue::Requeued => {
            st.shared.crm.wake.notify_one();
            Ok(json!({ "id": id, "requeued": true }))
        }
        CrmRequeue::Superseded => Err(ApiError::Conflict(
            "a later write for this lead has reached the CRM or is waiting; this one is not re-sent".into(),
        )),
        CrmRequeue::NotFound => Err(ApiError::NotFound(format!("dead letter {id}"))),
    }
}
