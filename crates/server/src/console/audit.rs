//! Audit log page (issue 24): who did what, when and from where, newest first, filtered
//! by actor, action or lead, a page at a time (keyset: "older" carries the last id).
//! Staff only (admin and ops): it shows every user's logins and addresses.

use super::{ConsoleError, ConsoleState, Nav, PageResult, html, staff};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use leadrouter_store::AuditQuery;
use serde::Deserialize;

const PAGE: i64 = 100;

pub struct EntryRow {
    pub at: String,
    pub actor: String,
    pub action: String,
    pub lead_id: String,
    pub subject: String,
    pub address: String,
    pub detail: String,
}

#[derive(Template)]
#[template(path = "console/audit.html")]
struct Page {
    nav: Nav,
    actor: String,
    action: String,
    lead: String,
    entries: Vec<EntryRow>,
    /// The query string of the next (older) page, when there is one.
    older: Option<String>,
}

#[derive(Deserialize, Default)]
pub struct Filter {
    actor: Option<String>,
    action: Option<String>,
    lead: Option<String>,
    before: Option<i64>,
}

fn given(v: Option<String>) -> Option<String> {
    v.map(|s| s.trim().chars().take(200).collect::<String>())
        .filter(|s| !s.is_empty())
}

pub async fn page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(f): Query<Filter>,
) -> PageResult {
    let s = staff(&st, &headers).await?;
    let (nav, times) = Nav::with_times(&s, &st, &headers, "audit");
    let q = AuditQuery {
        actor: given(f.actor),
        action: given(f.action),
        lead_id: given(f.lead),
        from: None,
        to: None,
        before: f.before,
        limit: PAGE,
    };
    let rows = st
        .app
        .shared
        .store
        .audit_list(&q)
        .await
        .map_err(|e| ConsoleError::Unavailable(e.to_string()))?;
    let older = (rows.len() as i64 == PAGE)
        .then(|| rows.last())
        .flatten()
        .map(|last| {
            let mut qs = form_urlencoded::Serializer::new(String::new());
            for (k, v) in [
                ("actor", &q.actor),
                ("action", &q.action),
                ("lead", &q.lead_id),
            ] {
                if let Some(v) = v {
                    qs.append_pair(k, v);
                }
            }
            qs.append_pair("before", &last.id.to_string());
            qs.finish()
        });
    let entries = rows
        .into_iter()
        .map(|r| {
            let e = r.entry;
            EntryRow {
                at: times.ts_seconds(e.at),
                actor: e.actor,
                action: e.action,
                lead_id: e.lead_id.unwrap_or_default(),
                subject: e.subject.unwrap_or_default(),
                address: e.address.unwrap_or_default(),
                detail: e.detail.unwrap_or_default(),
            }
        })
        .collect();
    Ok(html(
        Page {
            nav,
            actor: q.actor.unwrap_or_default(),
            action: q.action.unwrap_or_default(),
            lead: q.lead_id.unwrap_or_default(),
            entries,
            older,
        }
        .render()?,
    ))
}
