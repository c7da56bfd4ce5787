//! Queues (OPS-3): catch-all, review, qualification, nurture, junk and the dead-lettered
//! notifications; each lead with why it is there and a one-click assign, which is the
//! sequencer's manual reassignment job (ASG-6, recorded with the console user as actor).
//!
//! The assign list is preselected with the rep routing would pick now (issue 23): the
//! engine's target resolution (`engine::suggest`: the lead's team, else the default team,
//! with backups, team leads and overflow) on a copy of the committed state, as "Try a
//! lead" runs `decide`. Every rep in the list says whether they are available now (the
//! engine's own check), and assigning someone who is not says so after the assignment.

use super::{
    ConsoleError, ConsoleState, FormData, Nav, PageResult, check_csrf, html, session, staff,
};
use crate::sequencer::{Job, LeadOp};
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use leadrouter_core::config::{CompiledConfig, Target};
use leadrouter_core::engine::{rep_availability, suggest};
use leadrouter_core::state::StateSnapshot;
use leadrouter_core::trace::Skip;
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
    /// The rep routing would pick now (preselected), and what routing would do in words.
    pub suggested: String,
    pub suggestion: String,
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

/// The active reps as assign choices, each saying whether they could take a lead now.
pub fn rep_options(
    cfg: &CompiledConfig,
    state: &StateSnapshot,
    now: jiff::Timestamp,
) -> Vec<RepOption> {
    cfg.reps
        .iter()
        .enumerate()
        .filter(|(_, r)| r.active)
        .map(|(i, r)| {
            let team = r.team.map(|t| cfg.team(t).name.clone()).unwrap_or_default();
            let why = match rep_availability(cfg, state, now, i as u32) {
                Ok(()) => String::new(),
                Err(skip) => format!(" — {}", short_skip(&skip)),
            };
            RepOption {
                id: r.id.clone(),
                label: format!("{} ({team}){why}", r.name),
            }
        })
        .collect()
}

/// A skip reason in a few words, for a list entry.
fn short_skip(skip: &Skip) -> &'static str {
    match skip {
        Skip::Inactive => "inactive",
        Skip::OutOfOffice { .. } => "out of office",
        Skip::OutsideHours { .. } => "off shift",
        Skip::DailyCap { .. } => "at daily cap",
        Skip::AtCapacity { .. } => "at capacity",
        Skip::Excluded => "excluded",
    }
}

/// What routing would do with a queued lead now: the lead's team, else the default team,
/// resolved by the engine. `None` when there is no team to ask.
fn suggestion(
    cfg: &CompiledConfig,
    state: &StateSnapshot,
    now: jiff::Timestamp,
    team: Option<&str>,
) -> Option<(String, String)> {
    let t = team
        .and_then(|t| cfg.team_by_id.get(t).copied())
        .or(cfg.routing.default_team)?;
    let sug = suggest(cfg, state, now, Target::Team(t));
    let team_name = &cfg.team(t).name;
    Some(match (sug.rep, sug.queue) {
        (Some(r), _) => {
            let rep = cfg.rep(r);
            (
                rep.id.clone(),
                format!("routing would pick {} now ({team_name})", rep.name),
            )
        }
        (None, Some(q)) => (
            String::new(),
            format!(
                "nobody in {team_name} is available now; routing would send it to {}",
                cfg.queue_name(q)
            ),
        ),
        (None, None) => (String::new(), String::new()),
    })
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
    /// The assigned rep could not have taken a lead now (they get it anyway).
    warning: Option<String>,
    limit: i64,
}

#[derive(Deserialize, Default)]
pub struct QueueQuery {
    q: Option<String>,
    assigned: Option<String>,
    /// Set by the assign when the chosen rep was unavailable: hours, capacity, daily,
    /// away, inactive.
    warn: Option<String>,
}

pub async fn page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(query): Query<QueueQuery>,
) -> PageResult {
    let s = staff(&st, &headers).await?;
    let (nav, times) = Nav::with_times(&s, &st, &headers, "queues");
    let cfg = st.app.shared.config.load_full();
    let now = st.app.shared.clock.now().as_microsecond();
    // One snapshot: the tab counts agree with the list shown under them.
    let mut snap = st.app.shared.store.snapshot().await?;
    let counts = snap
        .queue_counts(&cfg.queues, now - super::overview::TRIAGE_AGE_US)
        .await?;
    let dead = snap.dead_letters(LIST_LIMIT).await?;
    // The committed routing state, for the suggestions (a copy: nothing is kept).
    let state = snap.state().await?;
    let clock = st.app.shared.clock.now();
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
                created: times.ts(m.created_at),
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
                let (suggested, suggestion) =
                    suggestion(&cfg, &state, clock, l.team.as_deref()).unwrap_or_default();
                Row {
                    suggested,
                    suggestion,
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
    let reps = rep_options(&cfg, &state, clock);
    Ok(html(
        Page {
            nav,
            tabs,
            current,
            rows,
            dead: dead_rows,
            reps,
            warning: query.assigned.as_deref().and_then(|r| {
                let name = super::rep_name(&cfg, r);
                let why = match query.warn.as_deref()? {
                    "hours" => "is off shift (outside working hours)",
                    "capacity" => "is at capacity",
                    "daily" => "has reached their daily cap",
                    "away" => "is out of office",
                    "inactive" => "is inactive",
                    _ => return None,
                };
                Some(format!(
                    "{name} {why}: they have the lead, but may not act on it soon."
                ))
            }),
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
    // Whether the chosen rep could take a lead now, on the committed state before this
    // assignment (the engine's check): the page then warns.
    let cfg = st.app.shared.config.load_full();
    let warn = match cfg.rep_by_id.get(&rep) {
        Some(idx) => {
            let state = st.app.shared.store.state().await?;
            match rep_availability(&cfg, &state, st.app.shared.clock.now(), *idx) {
                Ok(()) => None,
                Err(Skip::OutsideHours { .. }) => Some("hours"),
                Err(Skip::AtCapacity { .. }) => Some("capacity"),
                Err(Skip::DailyCap { .. }) => Some("daily"),
                Err(Skip::OutOfOffice { .. }) => Some("away"),
                Err(Skip::Inactive | Skip::Excluded) => Some("inactive"),
            }
        }
        None => None,
    };
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
            let rep = form_urlencoded::byte_serialize(rep.as_bytes()).collect::<String>();
            let warn = warn.map(|w| format!("&warn={w}")).unwrap_or_default();
            format!("/console/queues?q={q}&assigned={rep}{warn}")
        }
        _ => format!("/console/leads/{id}"),
    };
    Ok(Redirect::to(&back).into_response())
}
