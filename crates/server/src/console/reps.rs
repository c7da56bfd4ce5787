//! Reps: the roster with stage-weighted load against capacity, today's count against the
//! daily cap, who is available now and why not (the engine's own check,
//! `engine::rep_availability`: off shift in their zone, out of office until when, at
//! capacity, at the daily cap) with an out-of-office toggle (the sequencer's availability
//! job, ASG-5), SLA compliance and acceptance time per rep, and distribution fairness
//! (each rep's share of a team's rotation leads against their share of its weight).
//! Also "My leads", the page a rep sees (a manager: their reps' leads).

use super::metrics::{Ratio, TeamFairness};
use super::report::last_week;
use super::{
    ConsoleError, ConsoleState, FormData, Nav, PageResult, check_csrf, html, session, staff,
};
use crate::sequencer::Job;
use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect};
use leadrouter_core::engine::rep_availability;
use leadrouter_core::lifecycle::LeadStatus;
use leadrouter_core::trace::Skip;

/// Why a rep cannot take a lead now, in words, with instants in the viewer's zone.
pub fn unavailable_text(skip: &Skip, times: &super::time::Times) -> String {
    match skip {
        Skip::Inactive => "inactive (left or disabled in config)".into(),
        Skip::OutOfOffice { until, note } => format!(
            "out of office{}{}",
            until
                .map(|u| format!(" until {}", times.at(u)))
                .unwrap_or_default(),
            note.as_deref()
                .map(|n| format!(" — {n}"))
                .unwrap_or_default()
        ),
        Skip::OutsideHours { local_time, hours } => {
            format!("off shift: local time {local_time}, hours {hours}")
        }
        Skip::DailyCap { count, cap } => format!("at daily cap ({count} of {cap} today)"),
        Skip::AtCapacity { load, capacity } => {
            format!("at capacity (load {load:.1} of {capacity:.1})")
        }
        Skip::Excluded => skip.to_string(),
    }
}

pub struct RepRow {
    pub id: String,
    pub name: String,
    pub team: String,
    pub available: bool,
    pub availability: String,
    pub load: String,
    pub load_class: &'static str,
    pub today: String,
    pub today_class: &'static str,
    pub leads: i64,
    pub sla: String,
    pub sla_class: &'static str,
    pub acceptance: String,
    pub out_override: bool,
    /// CRM-3: the rep's CRM user is deactivated in the CRM.
    pub crm_inactive: bool,
    /// Issue 22: the rep's calendar feed, if the config gives one.
    pub calendar: Option<CalendarCell>,
}

/// A rep's calendar feed on the reps page: fresh or stale, when it was last fetched, the
/// last error, and the calendar's out-of-office in force.
pub struct CalendarCell {
    pub stale: bool,
    pub state: &'static str,
    pub fetched: String,
    pub error: Option<String>,
    pub out_of_office: Option<String>,
}

fn calendar_cell(
    status: Option<crate::calendar::FeedStatus>,
    now: jiff::Timestamp,
    times: &super::time::Times,
) -> CalendarCell {
    let status = status.unwrap_or_default();
    let stale = status.is_stale(now);
    CalendarCell {
        stale,
        state: match (status.fetched_at, stale) {
            (None, _) if status.last_error.is_some() => "failing, no copy",
            (None, _) => "not fetched yet",
            (Some(_), true) => "stale",
            (Some(_), false) => "fresh",
        },
        fetched: status
            .fetched_at
            .map(|t| format!("last fetched {}", times.at(t)))
            .unwrap_or_default(),
        error: status.last_error.map(|e| {
            format!(
                "{e} ({})",
                status.error_at.map(|t| times.at(t)).unwrap_or_default()
            )
        }),
        out_of_office: status
            .out_of_office
            .map(|(until, title)| format!("out of office until {} — {title}", times.at(until))),
    }
}

pub struct FairRow {
    pub team: String,
    pub score: String,
    pub leads: i64,
    pub reps: Vec<(String, i64, String, String)>,
}

#[derive(Template)]
#[template(path = "console/reps.html")]
struct Page {
    nav: Nav,
    reps: Vec<RepRow>,
    fairness: Vec<FairRow>,
    /// The rep ↔ CRM user findings of the last sync (CRM-3).
    crm: Vec<String>,
}

fn sla_class(r: Ratio) -> &'static str {
    match r.value() {
        Some(v) if v < 0.75 => "bad",
        Some(_) => "good",
        None => "",
    }
}

pub async fn page(State(st): State<ConsoleState>, headers: HeaderMap) -> PageResult {
    let s = staff(&st, &headers).await?;
    let (nav, times) = Nav::with_times(&s, &st, &headers, "reps");
    let cfg = st.app.shared.config.load_full();
    let now = st.app.shared.clock.now();
    // One snapshot: the loads and the week's figures are of the same commit.
    let mut snap = st.app.shared.store.snapshot().await?;
    let state = snap.state().await?;
    let week = last_week(&mut *snap, &cfg, now.as_microsecond()).await?;
    snap.end().await?;
    let w = cfg.stage_weights;
    let crm_findings = st
        .app
        .crm_sync
        .as_ref()
        .map(|c| c.findings())
        .unwrap_or_default();
    let crm_inactive: std::collections::BTreeSet<&str> = crm_findings
        .iter()
        .filter(|f| {
            matches!(
                f,
                leadrouter_crm::mapping::MappingFinding::RepCrmUserInactive { .. }
            )
        })
        .filter_map(|f| f.rep())
        .collect();
    let mut reps = Vec::new();
    for r in &cfg.reps {
        let load = state.loads.get(&r.id).cloned().unwrap_or_default();
        let weighted = f64::from(load.early) * w.early
            + f64::from(load.mid) * w.mid
            + f64::from(load.late) * w.late;
        let today_date = now.to_zoned(r.tz.clone()).date();
        let today = state
            .daily
            .get(&r.id)
            .filter(|d| d.date == today_date)
            .map(|d| d.count)
            .unwrap_or(0);
        let over = state
            .availability
            .get(&r.id)
            .filter(|o| o.out && o.out_until.is_none_or(|u| u > now));
        // The engine's own check (ASG-4/5), as a lead routed now would meet it.
        let idx = cfg.rep_by_id[&r.id];
        let (available, availability) = match rep_availability(&cfg, &state, now, idx) {
            Ok(()) => (
                true,
                if r.working_hours.is_some() {
                    format!(
                        "available now (in working hours, {} {})",
                        now.to_zoned(r.tz.clone()).strftime("%a %H:%M"),
                        r.tz_name
                    )
                } else {
                    "available now".into()
                },
            ),
            Err(skip) => (false, unavailable_text(&skip, &times)),
        };
        let fig = week.figures.reps.iter().find(|x| x.rep == r.id);
        let sla = fig.map(|f| f.sla).unwrap_or_default();
        reps.push(RepRow {
            id: r.id.clone(),
            name: r.name.clone(),
            team: r.team.map(|t| cfg.team(t).name.clone()).unwrap_or_default(),
            available,
            availability,
            load: match r.capacity {
                Some(c) => format!("{weighted:.1} / {c:.1}"),
                None => format!("{weighted:.1}"),
            },
            load_class: if r.capacity.is_some_and(|c| weighted >= c) {
                "bad"
            } else {
                ""
            },
            today: match r.daily_cap {
                Some(c) => format!("{today} / {c}"),
                None => today.to_string(),
            },
            today_class: if r.daily_cap.is_some_and(|c| today >= c) {
                "bad"
            } else {
                ""
            },
            leads: fig.map(|f| f.leads).unwrap_or(0),
            sla: if sla.den > 0 {
                format!("{} ({} of {})", sla.percent(), sla.num, sla.den)
            } else {
                "–".into()
            },
            sla_class: sla_class(sla),
            acceptance: fig
                .map(|f| f.acceptance.text())
                .unwrap_or_else(|| "–".into()),
            out_override: over.is_some(),
            crm_inactive: crm_inactive.contains(r.id.as_str()),
            calendar: r
                .calendar
                .as_ref()
                .map(|_| calendar_cell(st.app.calendars.status(&r.id), now, &times)),
        });
    }
    let fairness = week.figures.fairness.iter().map(fair_row).collect();
    Ok(html(
        Page {
            nav,
            reps,
            fairness,
            crm: crm_findings.iter().map(|f| f.message()).collect(),
        }
        .render()?,
    ))
}

fn fair_row(t: &TeamFairness) -> FairRow {
    FairRow {
        team: t.team.clone(),
        score: t
            .score
            .map(|s| format!("{:.1}%", s * 100.0))
            .unwrap_or_else(|| "–".into()),
        leads: t.leads,
        reps: t
            .reps
            .iter()
            .map(|r| {
                (
                    r.rep.clone(),
                    r.leads,
                    format!("{:.1}%", r.share * 100.0),
                    format!("{:.1}%", r.expected * 100.0),
                )
            })
            .collect(),
    }
}

/// Toggle out of office: the sequencer's availability job (takes effect with the next lead).
pub async fn availability(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path(rep): Path<String>,
    body: Bytes,
) -> PageResult {
    let s = session(&st, &headers).await?;
    let form = FormData::parse(&body)?;
    check_csrf(&s, &headers, &form)?;
    if !s.is_staff() {
        return Err(ConsoleError::Forbidden);
    }
    let out = match form.get("out") {
        Some("1") => true,
        Some("0") => false,
        _ => {
            return Err(ConsoleError::Bad(
                "out must be 1 (out of office) or 0 (back)".into(),
            ));
        }
    };
    let until = match form.get("until") {
        None => None,
        Some(u) => Some(u.parse::<jiff::Timestamp>().map_err(|e| {
            ConsoleError::Bad(format!(
                "until `{u}` is not an RFC 3339 instant such as 2026-11-30T09:00:00Z: {e}"
            ))
        })?),
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    st.app
        .sequencer
        .submit(Job::Availability {
            rep,
            out,
            until,
            note: form
                .get("note")
                .map(|n| n.chars().take(200).collect())
                .or_else(|| out.then(|| format!("set in the console by {}", s.user))),
            actor: format!("console:{}", s.user),
            address: crate::api::audit::client_address(),
            reply: tx,
        })
        .await?;
    super::wait(rx).await?;
    Ok(Redirect::to("/console/reps").into_response())
}

/// Leads a rep's (or a manager's) page lists.
const MY_LIMIT: i64 = 200;

pub struct MyRow {
    pub id: String,
    pub owner: String,
    pub received: String,
    pub name: String,
    pub company: String,
    pub tier: String,
    pub status: String,
    pub sla: String,
    pub sla_class: &'static str,
}

#[derive(Template)]
#[template(path = "console/my.html")]
struct MyPage {
    nav: Nav,
    manager: bool,
    rep: String,
    rows: Vec<MyRow>,
}

/// A rep's own leads, newest first; a manager's reps' leads (staff see the page for no
/// one; they have the queues).
pub async fn my_leads(State(st): State<ConsoleState>, headers: HeaderMap) -> PageResult {
    let s = session(&st, &headers).await?;
    let (nav, times) = Nav::with_times(&s, &st, &headers, "my");
    let cfg = st.app.shared.config.load_full();
    let now = st.app.shared.clock.now().as_microsecond();
    let mut snap = st.app.shared.store.snapshot().await?;
    let mut leads = Vec::new();
    for rep in super::actions::worked_reps(&cfg, &s) {
        leads.extend(snap.rep_leads(&rep, MY_LIMIT).await?);
    }
    snap.end().await?;
    leads.sort_by_key(|l| std::cmp::Reverse(l.received_at));
    leads.truncate(MY_LIMIT as usize);
    let rows = leads
        .into_iter()
        .map(|l| {
            let (name, company) = super::lead_name(&l.payload, l.email.as_deref());
            let (sla, sla_class) = match (l.contact_by, l.first_touch_at) {
                (Some(by), Some(t)) if t <= by => ("contacted in time".to_string(), "good"),
                (Some(_), Some(_)) => ("contacted late".to_string(), "bad"),
                (Some(by), None) if l.status != LeadStatus::Open.as_str() => {
                    (format!("closed (due {})", times.ts(by)), "muted")
                }
                (Some(by), None) if by >= now => {
                    (format!("due in {}", super::age(by, now)), "warn")
                }
                (Some(by), None) => (format!("overdue by {}", super::age(now, by)), "bad"),
                (None, _) => ("–".to_string(), "muted"),
            };
            MyRow {
                received: times.ts(l.received_at),
                owner: l
                    .owner
                    .as_deref()
                    .map(|o| super::rep_name(&cfg, o))
                    .unwrap_or_default(),
                id: l.id,
                name,
                company,
                tier: l.tier,
                status: l.status,
                sla,
                sla_class,
            }
        })
        .collect();
    Ok(html(
        MyPage {
            nav,
            manager: s.role == super::Role::Manager,
            rep: match s.role {
                super::Role::Manager => cfg
                    .managers
                    .iter()
                    .find(|m| m.id == s.user)
                    .map(|m| m.name.clone())
                    .unwrap_or_else(|| s.user.clone()),
                _ => super::rep_name(&cfg, &s.user),
            },
            rows,
        }
        .render()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadrouter_core::trace::LocalTime;

    /// The reps page says why a rep cannot take a lead now, with instants in the viewer's
    /// zone and no raw timestamps.
    #[test]
    fn why_a_rep_is_unavailable_reads_plainly() {
        let berlin = super::super::time::Times::named("Europe/Berlin").unwrap();
        let until: jiff::Timestamp = "2026-11-30T08:00:00Z".parse().unwrap();
        let away = Skip::OutOfOffice {
            until: Some(until),
            note: Some("conference".into()),
        };
        assert_eq!(
            unavailable_text(&away, &berlin),
            "out of office until 2026-11-30 09:00 CET — conference"
        );
        let hours = Skip::OutsideHours {
            local_time: LocalTime::new(0, 23 * 60, "Asia/Singapore".into()),
            hours: "Mon-Fri 09:00-17:00".into(),
        };
        assert_eq!(
            unavailable_text(&hours, &berlin),
            "off shift: local time Mon 23:00 Asia/Singapore, hours Mon-Fri 09:00-17:00"
        );
        assert_eq!(
            unavailable_text(&Skip::DailyCap { count: 5, cap: 5 }, &berlin),
            "at daily cap (5 of 5 today)"
        );
        assert_eq!(
            unavailable_text(
                &Skip::AtCapacity {
                    load: 4.0,
                    capacity: 4.0
                },
                &berlin
            ),
            "at capacity (load 4.0 of 4.0)"
        );
    }
}
