//! CRM page (CRM-1, CRM-3): the write-backs that ended dead, newest first, each with its
//! lead, attempts and the CRM's last answer, and a retry button (admin; the same requeue
//! as `POST /v1/crm/dead-letters/{id}/retry`, audited); then the CRM's users as last
//! synced, each with the rep it maps to, whether it is active and the accounts it owns
//! (a deactivated user's accounts flagged, OPS-1), the mapping findings and the state of
//! the last sync. Staff only.

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

/// A CRM user as last synced.
pub struct UserRow {
    pub crm_id: String,
    pub name: String,
    pub email: String,
    pub active: bool,
    /// The rep it maps to ("" when none).
    pub rep: String,
    /// Accounts it owns in the CRM.
    pub accounts: usize,
}

/// Where one incremental read stands.
pub struct SyncRow {
    pub kind: &'static str,
    pub at: String,
    pub error: String,
}

/// Most CRM users listed.
const USERS_LIMIT: usize = 500;

#[derive(Template)]
#[template(path = "console/crm.html")]
struct Page {
    nav: Nav,
    provider: String,
    pending: i64,
    dead: Vec<DeadRow>,
    admin: bool,
    users: Vec<UserRow>,
    /// Users not listed past [`USERS_LIMIT`].
    more_users: usize,
    findings: Vec<String>,
    sync: Vec<SyncRow>,
}

/// The CRM users, the mapping findings and the sync positions of the connection in
/// force (empty without one).
async fn synced(
    st: &ConsoleState,
) -> Result<(Vec<UserRow>, usize, Vec<String>, Vec<SyncRow>), ConsoleError> {
    let shared = &st.app.shared;
    let Some(rt) = shared.crm.runtime.load_full() else {
        return Ok(Default::default());
    };
    let provider = rt.client.provider();
    let cfg = shared.config.load_full();
    let (users, accounts, mapping) =
        crate::crm::sync::stored_mapping(&*shared.store, &cfg, provider, &rt.config)
            .await
            .map_err(|e| ConsoleError::Unavailable(e.to_string()))?;
    let mut owned: std::collections::HashMap<&str, usize> = Default::default();
    for a in &accounts {
        if let Some(o) = &a.owner_crm_id {
            *owned.entry(o.as_str()).or_default() += 1;
        }
    }
    let mut rows: Vec<UserRow> = users
        .iter()
        .map(|u| UserRow {
            crm_id: u.crm_id.clone(),
            name: u.name.clone(),
            email: u.email.clone(),
            active: u.active,
            rep: mapping.rep_of.get(&u.crm_id).cloned().unwrap_or_default(),
            accounts: owned.get(u.crm_id.as_str()).copied().unwrap_or(0),
        })
        .collect();
    // Deactivated users who still own accounts first (they need a human), then by name.
    rows.sort_by(|a, b| {
        (a.active || a.accounts == 0, a.rep.is_empty(), &a.name).cmp(&(
            b.active || b.accounts == 0,
            b.rep.is_empty(),
            &b.name,
        ))
    });
    let more = rows.len().saturating_sub(USERS_LIMIT);
    rows.truncate(USERS_LIMIT);
    let findings = mapping.findings.iter().map(|f| f.message()).collect();
    let mut sync = Vec::new();
    for kind in ["users", "accounts"] {
        if let Some(p) = shared.store.crm_position(provider, kind).await? {
            sync.push(SyncRow {
                kind,
                at: from_micros(p.updated_at)
                    .strftime("%Y-%m-%d %H:%M:%S UTC")
                    .to_string(),
                error: p.last_error.unwrap_or_default(),
            });
        }
    }
    Ok((rows, more, findings, sync))
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
    let (users, more_users, findings, sync) = synced(&st).await?;
    Ok(html(
        Page {
            admin: matches!(s.role, super::Role::Admin),
            nav: Nav::new(&s, &st, "crm"),
            provider,
            pending,
            dead,
            users,
            more_users,
            findings,
            sync,
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
