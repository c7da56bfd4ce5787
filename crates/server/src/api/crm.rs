//! CRM write-back dead letters over the API (CRM-1): `GET /v1/crm/dead-letters` lists
//! them, `POST /v1/crm/dead-letters/{id}/retry` puts one back in line (unless a later
//! write for the same lead has already reached the CRM or is waiting: re-sending the
//! older one would overwrite newer values, so that answers 409). Admin only; a retry is
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
