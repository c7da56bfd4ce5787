//! CRM page (CRM-1): the write-backs that ended dead, newest first, each with its lead,
//! attempts and the CRM's last answer, and a retry button (admin; the same requeue as
//! `POST /v1/crm/dead-letters/{id}/retry`, audited). Staff only.

use super::{ConsoleError, ConsoleState, Nav, PageResult, html, session, staff};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use leadrouter_store::from_micros;

pub struct DeadRow {
    pub id: String,
    pub lead_id: String,
    pub kind: String,
    pub attempts: i64,
    pub error: String,
    pub at: String,
}

#[derive(Template)]
#[template(path = "console/crm.html")]
struct Page {
    nav: Nav,
    provider: String,
    pending: i64,
    dead: Vec<DeadRow>,
    admin: bool,
}

pub async fn page(State(st): State<ConsoleState>, headers: HeaderMap) -> PageResult {
    let s = staff(&st, &headers).await?;
    let shared = &st.app.shared;
    let provider = shared
        .crm
        .runtime
        .load()
        .as_ref()
        .map(|r| r.config.provider.as_str().to_string())
        .unwrap_or_default();
    let (pending, _) = shared.store.crm_counts().await?;
    let rows = shared
        .store
        .crm_dead_letters(crate::api::crm::LIST_LIMIT)
        .await?;
    let dead = rows
        .into_iter()
        .map(|r| DeadRow {
            at: from_micros(r.created_at)
                .strftime("%Y-%m-%d %H:%M:%S UTC")
                .to_string(),
            id: r.id,
            lead_id: r.lead_id,
            kind: r.kind,
            attempts: r.attempts,
            error: r.last_error.unwrap_or_default(),
        })
        .collect();
    Ok(html(
        Page {
            admin: matches!(s.role, super::Role::Admin),
            nav: Nav::new(&s, &st, "crm"),
            provider,
            pending,
            dead,
        }
        .render()?,
    ))
}

pub async fn retry(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let s = session(&st, &headers).await?;
    let form = super::FormData::parse(&body)?;
    super::check_csrf(&s, &headers, &form)?;
    if !matches!(s.role, super::Role::Admin) {
        return Err(ConsoleError::Forbidden);
    }
    use crate::api::ApiError;
    match crate::api::crm::requeue(&st.app, &id).await {
        Ok(_) => {}
        Err(ApiError::NotFound(m)) => return Err(ConsoleError::NotFound(m)),
        Err(ApiError::Conflict(m)) => return Err(ConsoleError::Bad(m)),
        Err(e) => return Err(ConsoleError::Unavailable(format!("{e:?}"))),
    }
    let entry = crate::api::audit::Audit::new(format!("console:{}", s.user), "crm.retry")
        .detail(serde_json::json!({ "id": id }));
    let _ = crate::api::audit::audit(&st.app.shared, entry).await;
    Ok(axum::response::Redirect::to("/console/crm").into_response())
}
