//! Queues (OPS-3): catch-all, review, qualification, nurture, junk and the dead-lettered
//! notifications; each lead with why it is there and a one-click assign, which is the
//! sequencer's manual reassignment job (ASG-6, recorded with the console user as actor).

use super::{
    ConsoleError, ConsoleState, FormData, Nav, PageResult, check_csrf, html, session, staff,
};
use crate::sequencer::{Job, LeadOp};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use serde::Deserialize;

const LIST_LIMIT: i64 = 100;

pub struct Tab {
    pub key: String,
    pub label: String,
    pub open: i64,
    pub older: i64,
}

pub struct Row {
    pub id: String,
    pub age: String,
    pub name: String,
    pub company: String,
    pub email: String,
    pub tier: String,
    pub path: String,
    pub why: String,
}

pub struct Dead {
    pub lead_id: String,
    /// The lead's page, or the report page for a weekly report (`report:<week>`).
    pub href: String,
    pub what: &'static str,
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub attempts: i64,
    pub error: String,
    pub created: String,
}

pub struct RepOption {
    pub id: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "console/queues.html")]
struct Page {
    nav: Nav,
    tabs: Vec<Tab>,
    current: String,
    rows: Vec<Row>,
    dead: Vec<Dead>,
    reps: Vec<RepOption>,
    flash: Option<String>,
    limit: i64,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    q: Option<String>,
    assigned: Option<String>,
}

pub async fn page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<QueueQuery>,
) -> PageResult {
    let s = staff(&st, &headers).await?;
    let cfg = st.app.shared.config.load_full();
    let now = st.app.shared.clock.now().as_microsecond();
    // One snapshot: the tab counts agree with the list shown under them.
    let mut snap = st.app.shared.store.snapshot().await?;
    let counts = snap
        .queue_counts(&cfg.queues, now - super::overview::TRIAGE_AGE_US)
        .await?;
    let dead = snap.dead_letters(LIST_LIMIT).await?;
    let mut tabs: Vec<Tab> = counts
        .iter()
        .map(|c| Tab {
            key: c.queue.clone(),
            label: c.queue.replace('_', " "),
            open: c.open,
            older: c.older,
        })
        .collect();
    tabs.push(Tab {
        key: "dead".into(),
        label: "dead-lettered notifications".into(),
        open: dead.len() as i64,
        older: 0,
    });
    let current = query
        .q
        .filter(|q| tabs.iter().any(|t| &t.key == q))
        .unwrap_or_else(|| cfg.queues.first().cloned().unwrap_or_else(|| "dead".into()));
    let mut rows = Vec::new();
    let mut dead_rows = Vec::new();
    if current == "dead" {
        dead_rows = dead
            .into_iter()
            .map(|m| Dead {
                href: match m.lead_id.strip_prefix("report:") {
                    Some(week) => format!("/console/report?week={week}"),
                    None => format!("/console/leads/{}", m.lead_id),
                },
                what: if m.lead_id.starts_with("report:") {
                    "report"
                } else {
                    "lead"
                },
                lead_id: m.lead_id,
                kind: m.kind,
                channel: m.channel,
                recipient: m.recipient,
                attempts: m.attempts,
                error: m.last_error.unwrap_or_default(),
                created: super::ts(m.created_at),
            })
            .collect();
    } else {
        let leads = snap.queue_leads(&current, LIST_LIMIT).await?;
        let ids: Vec<String> = leads.iter().map(|l| l.id.clone()).collect();
        let reasons = snap.reasons(&ids).await?;
        rows = leads
            .into_iter()
            .map(|l| {
                let (name, company) = super::lead_name(&l.payload, l.email.as_deref());
                Row {
                    age: super::age(now, l.received_at),
                    why: reasons.get(&l.id).cloned().unwrap_or_default(),
                    email: l.email.unwrap_or_default(),
                    id: l.id,
                    name,
                    company,
                    tier: l.tier,
                    path: l.path,
                }
            })
            .collect();
    }
    snap.end().await?;
    let reps = cfg
        .reps
        .iter()
        .filter(|r| r.active)
        .map(|r| RepOption {
            id: r.id.clone(),
            label: format!(
                "{} ({})",
                r.name,
                r.team.map(|t| cfg.team(t).name.clone()).unwrap_or_default()
            ),
        })
        .collect();
    Ok(html(
        Page {
            nav: Nav::new(&s, &st, "queues"),
            tabs,
            current,
            rows,
            dead: dead_rows,
            reps,
            flash: query
                .assigned
                .map(|r| format!("Assigned to {}.", super::rep_name(&cfg, &r))),
            limit: LIST_LIMIT,
        }
        .render()?,
    ))
}

/// One-click assign from a queue or the lead page: the manual reassignment job.
pub async fn assign(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> PageResult {
    let s = session(&st, &headers).await?;
    let form = FormData::parse(&body)?;
    check_csrf(&s, &headers, &form)?;
    if !s.is_staff() {
        return Err(ConsoleError::Forbidden);
    }
    let rep = form
        .get("rep")
        .ok_or_else(|| ConsoleError::Bad("choose a rep to assign the lead to".into()))?
        .to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    st.app
        .sequencer
        .submit(Job::Lead {
            lead_id: id.clone(),
            op: LeadOp::Reassign {
                rep: rep.clone(),
                note: form.get("note").map(|n| n.chars().take(500).collect()),
            },
            actor: format!("console:{}", s.user),
            address: crate::api::audit::client_address(),
            reply: tx,
        })
        .await?;
    super::wait(rx).await?;
    let back = match form.get("back") {
        Some(q)
            if q.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
        {
            format!("/console/queues?q={q}&assigned={rep}")
        }
        _ => format!("/console/leads/{id}"),
    };
    Ok(Redirect::to(&back).into_response())
}
