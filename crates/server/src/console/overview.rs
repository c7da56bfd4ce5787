//! Overview: leads today and this week, speed-to-assign p50/p99, SLA compliance by tier,
//! leads waiting in a triage queue for more than 15 minutes, fallback frequency, routing
//! accuracy, and 30 days of charts from the daily rollups. Days are the organisation's
//! (`organization.timezone`); every figure on the page comes from one read snapshot.

use super::charts::{self, TIER_COLORS};
use super::metrics::{days, duration_text};
use super::report::{last_week, org_zone, window};
use super::{ConsoleState, Nav, PageResult, html, staff};
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use leadrouter_core::config::QueueRole;
use leadrouter_store::reporting::DAY_US;

pub struct Card {
    pub key: &'static str,
    pub label: &'static str,
    pub value: String,
    pub sub: String,
    pub status: &'static str,
}

pub struct Row {
    pub id: String,
    pub received: String,
    pub name: String,
    pub company: String,
    pub tier: String,
    pub path: String,
    pub destination: String,
}

#[derive(Template)]
#[template(path = "console/overview.html")]
struct Page {
    nav: Nav,
    cards: Vec<Card>,
    leads_chart: String,
    speed_chart: String,
    fallback_chart: String,
    sla_chart: String,
    recent: Vec<Row>,
}

pub const TRIAGE_AGE_US: i64 = 15 * 60 * 1_000_000;

pub async fn page(State(st): State<ConsoleState>, headers: HeaderMap) -> PageResult {
    // A manager's login lands here (the login sends everyone but reps to the overview):
    // their page is the team's leads.
    if super::session(&st, &headers).await?.role == super::Role::Manager {
        return Ok(axum::response::Redirect::to("/console/my").into_response());
    }
    let s = staff(&st, &headers).await?;
    let cfg = st.app.shared.config.load_full();
    let now = st.app.shared.clock.now().as_microsecond();
    let zone = org_zone(&cfg);
    let today_day = zone.day_of(now);
    // One snapshot: the cards, charts and list never mix two commits' rows (a lead
    // counted today but missing from the week, or listed but not counted).
    let mut snap = st.app.shared.store.snapshot().await?;
    let today = window(&mut *snap, &cfg, today_day, today_day, now).await?;
    let week = last_week(&mut *snap, &cfg, now).await?;
    let triage: Vec<String> = [
        QueueRole::CatchAll,
        QueueRole::Review,
        QueueRole::Qualification,
    ]
    .iter()
    .filter_map(|r| {
        cfg.queue_roles
            .get(r)
            .map(|q| cfg.queue_name(*q).to_string())
    })
    .collect();
    let waiting: i64 = snap
        .queue_counts(&triage, now - TRIAGE_AGE_US)
        .await?
        .iter()
        .map(|q| q.older)
        .sum();
    let opt = |v: Option<f64>| v.map(duration_text).unwrap_or_else(|| "–".into());
    let wf = &week.figures;
    let mut cards = vec![
        Card {
            key: "leads-today",
            label: "Leads today",
            value: today.figures.leads.to_string(),
            sub: format!("{} assigned to reps", today.figures.assigned),
            status: "",
        },
        Card {
            key: "leads-week",
            label: "Leads, last 7 days",
            value: wf.leads.to_string(),
            sub: format!("{} assigned to reps", wf.assigned),
            status: "",
        },
        Card {
            key: "speed",
            label: "Speed to assign p50 / p99",
            value: format!("{} / {}", opt(week.p50), opt(week.p99)),
            sub: format!("today {} / {}", opt(today.p50), opt(today.p99)),
            status: if week.p99.is_some_and(|v| v > 60.0) {
                "bad"
            } else {
                "good"
            },
        },
        Card {
            key: "waiting",
            label: "Queued > 15 min",
            value: waiting.to_string(),
            sub: triage.join(", "),
            status: if waiting > 0 { "bad" } else { "good" },
        },
        Card {
            key: "unassigned",
            label: "Unassigned rate",
            value: wf.unassigned.percent(),
            sub: format!("{} of {} (target 0)", wf.unassigned.num, wf.unassigned.den),
            status: if wf.unassigned.num > 0 { "bad" } else { "good" },
        },
        Card {
            key: "fallback",
            label: "Fallback frequency",
            value: wf.fallback.percent(),
            sub: format!("{} of {} leads", wf.fallback.num, wf.fallback.den),
            status: "",
        },
        Card {
            key: "accuracy",
            label: "Routing accuracy",
            value: wf.accuracy.percent(),
            sub: "never reassigned (target 90%)".into(),
            status: match wf.accuracy.value() {
                Some(v) if v < 0.9 => "bad",
                Some(_) => "good",
                None => "",
            },
        },
        Card {
            key: "acceptance",
            label: "Acceptance time",
            value: wf.acceptance.text(),
            sub: format!("mean over {} accepted", wf.acceptance.n),
            status: "",
        },
    ];
    for t in &wf.tiers {
        cards.push(Card {
            key: match t.tier.as_str() {
                "hot" => "sla-hot",
                "warm" => "sla-warm",
                _ => "sla-standard",
            },
            label: match t.tier.as_str() {
                "hot" => "SLA compliance, hot",
                "warm" => "SLA compliance, warm",
                _ => "SLA compliance, standard",
            },
            value: t.sla.percent(),
            sub: format!(
                "{} of {} · target {:.0}% · contact {}",
                t.sla.num,
                t.sla.den,
                t.target * 100.0,
                t.speed_to_contact.text()
            ),
            status: match t.meets_target() {
                Some(true) => "good",
                Some(false) => "bad",
                None => "",
            },
        });
    }
    // 30 days of rollups for the charts.
    let from_day = today_day - 29 * DAY_US;
    let daily = snap.daily(from_day, today_day).await?;
    let speed = snap.speed(from_day, today_day).await?;
    let ds = days(&daily, &speed, from_day, today_day);
    let labels: Vec<String> = ds
        .iter()
        .map(|d| {
            leadrouter_store::reporting::ReportZone::date(d.day)
                .strftime("%m-%d")
                .to_string()
        })
        .collect();
    let leads_chart = charts::stacked_bars(
        &format!("Leads per day by tier ({})", zone.name()),
        &labels,
        &[
            (
                "hot",
                TIER_COLORS[0],
                ds.iter().map(|d| d.by_tier[0] as f64).collect(),
            ),
            (
                "warm",
                TIER_COLORS[1],
                ds.iter().map(|d| d.by_tier[1] as f64).collect(),
            ),
            (
                "standard",
                TIER_COLORS[2],
                ds.iter().map(|d| d.by_tier[2] as f64).collect(),
            ),
        ],
        "",
    );
    let ms = |v: f64| {
        if v >= 1.0 {
            format!("{v:.0} s")
        } else {
            format!("{:.1} ms", v * 1e3)
        }
    };
    let speed_chart = charts::lines(
        "Speed to assign per day, p50 and p99",
        &labels,
        &[
            ("p50", "#1c7ed6", ds.iter().map(|d| d.p50).collect()),
            ("p99", "#d9480f", ds.iter().map(|d| d.p99).collect()),
        ],
        &ms,
    );
    let fallback_chart = charts::lines(
        "Fallback frequency per day",
        &labels,
        &[(
            "share of leads that fell back",
            "#7048e8",
            ds.iter()
                .map(|d| (d.leads > 0).then(|| d.fallbacks as f64 / d.leads as f64))
                .collect(),
        )],
        &|v| format!("{:.0}%", v * 100.0),
    );
    let sla_chart = charts::bars_with_targets(
        "SLA compliance by tier, last 7 days",
        &wf.tiers.iter().map(|t| t.tier.clone()).collect::<Vec<_>>(),
        &wf.tiers.iter().map(|t| t.sla.value()).collect::<Vec<_>>(),
        &wf.tiers.iter().map(|t| t.target).collect::<Vec<_>>(),
    );
    let recent = snap.recent_leads(15).await?;
    snap.end().await?;
    let recent = recent
        .into_iter()
        .map(|l| {
            let (name, company) = super::lead_name(&l.payload, l.email.as_deref());
            Row {
                received: super::age(now, l.received_at),
                destination: match (&l.owner, &l.queue) {
                    (Some(o), _) => super::rep_name(&cfg, o),
                    (None, Some(q)) => format!("queue: {q}"),
                    _ => "–".into(),
                },
                id: l.id,
                name,
                company,
                tier: l.tier,
                path: l.path,
            }
        })
        .collect();
    Ok(html(
        Page {
            nav: Nav::with_times(&s, &st, &headers, "overview").0,
            cards,
            leads_chart,
            speed_chart,
            fallback_chart,
            sla_chart,
            recent,
        }
        .render()?,
    ))
}
