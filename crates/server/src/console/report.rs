//! The weekly report (MET-2): the overview's figures for one ISO week (Monday to Sunday
//! in the organisation's zone, `organization.timezone`) as a page, as a self-contained
//! HTML email body, as CSV
//! (`GET /console/report.csv?week=2026-W47`) and as JSON for the admin API
//! (`GET /v1/reports/weekly?week=…`, admin key).

use super::metrics::{Figures, Ratio, figures, speed_quantile};
use super::{ConsoleError, ConsoleState, Nav, PageResult, html, staff};
use crate::auth::{Role as KeyRole, presented_key};
use askama::Template;
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use leadrouter_core::config::CompiledConfig;
use leadrouter_store::reporting::{DAY_US, ReadSnapshot, ReportZone};
use serde::Deserialize;
use std::fmt::Write as _;

/// Figures over a window, with speed-to-assign quantiles.
pub struct WindowFigures {
    /// The instants the window starts and ends (local midnights).
    pub from: i64,
    pub to: i64,
    pub figures: Figures,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

/// The organisation's zone: report weeks, "today" and the rollups' days follow it.
pub fn org_zone(cfg: &CompiledConfig) -> ReportZone {
    ReportZone::new(&cfg.organization_tz_name, cfg.organization_tz.clone())
}

/// MET-1 over the organisation's days `[from_day, to_day]` (day keys, see
/// [`ReportZone`]), from the rollups: the window sums from `console_window`, the speed
/// quantiles from `console_speed`, both read in the caller's snapshot. Today's row holds
/// the leads received so far (leads are never received after now).
pub async fn window(
    snap: &mut dyn ReadSnapshot,
    cfg: &CompiledConfig,
    from_day: i64,
    to_day: i64,
    now: i64,
) -> Result<WindowFigures, ConsoleError> {
    let groups = snap.window_days(from_day, to_day, now).await?;
    let speed = snap.speed(from_day, to_day).await?;
    let zone = org_zone(cfg);
    Ok(WindowFigures {
        from: zone.day_start(from_day),
        to: zone.day_start(to_day + DAY_US),
        figures: figures(&groups, cfg),
        p50: speed_quantile(&speed, 0.5),
        p99: speed_quantile(&speed, 0.99),
    })
}

/// The last seven days including today, in the organisation's zone (the overview's "this
/// week").
pub async fn last_week(
    snap: &mut dyn ReadSnapshot,
    cfg: &CompiledConfig,
    now: i64,
) -> Result<WindowFigures, ConsoleError> {
    let today = org_zone(cfg).day_of(now);
    window(snap, cfg, today - 6 * DAY_US, today, now).await
}

/// [`last_week`] in a snapshot of its own (the `/metrics` gauges).
pub async fn last_week_now(st: &ConsoleState) -> Result<WindowFigures, ConsoleError> {
    let cfg = st.app.shared.config.load_full();
    let now = st.app.shared.clock.now().as_microsecond();
    let mut snap = st.app.shared.store.snapshot().await?;
    let w = last_week(&mut *snap, &cfg, now).await?;
    snap.end().await?;
    Ok(w)
}

#[derive(Deserialize, Default)]
pub struct WeekQuery {
    week: Option<String>,
    /// `email`: the report exactly as the email body.
    view: Option<String>,
}

/// An ISO week ("2026-W47") → (label, its Monday's day key in `zone`). Default: the last
/// full week before `now` in `zone`.
pub fn parse_week(
    s: Option<&str>,
    now: jiff::Timestamp,
    zone: &ReportZone,
) -> Result<(String, i64), ConsoleError> {
    let date = match s.map(str::trim).filter(|s| !s.is_empty()) {
        None => {
            let today = now.to_zoned(zone.tz().clone()).date();
            today
                .checked_sub(jiff::Span::new().days(7))
                .map_err(|e| ConsoleError::Bad(e.to_string()))?
        }
        Some(w) => {
            let bad = || {
                ConsoleError::Bad(format!(
                    "week `{}` is not an ISO week; write it like 2026-W47",
                    w.chars().take(20).collect::<String>()
                ))
            };
            let (y, wk) = w.split_once("-W").ok_or_else(bad)?;
            let y: i16 = y.parse().map_err(|_| bad())?;
            let wk: i8 = wk.parse().map_err(|_| bad())?;
            jiff::civil::ISOWeekDate::new(y, wk, jiff::civil::Weekday::Monday)
                .map_err(|_| bad())?
                .date()
        }
    };
    let iso = date.iso_week_date();
    let monday =
        jiff::civil::ISOWeekDate::new(iso.year(), iso.week(), jiff::civil::Weekday::Monday)
            .map_err(|e| ConsoleError::Bad(e.to_string()))?
            .date();
    Ok((
        format!("{}-W{:02}", iso.year(), iso.week()),
        ReportZone::key(monday),
    ))
}

/// One line of the report, shared by the page, the email, the CSV and the API.
pub struct Line {
    pub metric: &'static str,
    pub scope: String,
    pub value: String,
    pub num: Option<i64>,
    pub den: Option<i64>,
    pub target: Option<String>,
    pub ok: Option<bool>,
}

fn ratio_line(
    metric: &'static str,
    scope: &str,
    r: Ratio,
    target: Option<f64>,
    higher_better: bool,
) -> Line {
    Line {
        metric,
        scope: scope.into(),
        value: r.value().map(|v| format!("{v:.4}")).unwrap_or_default(),
        num: Some(r.num),
        den: Some(r.den),
        target: target.map(|t| format!("{t:.2}")),
        ok: target.and_then(|t| {
            r.value()
                .map(|v| if higher_better { v >= t } else { v <= t })
        }),
    }
}

fn secs_line(metric: &'static str, scope: &str, v: Option<f64>, n: Option<i64>) -> Line {
    Line {
        metric,
        scope: scope.into(),
        value: v.map(|v| format!("{v:.6}")).unwrap_or_default(),
        num: n,
        den: None,
        target: None,
        ok: None,
    }
}

pub fn lines(w: &WindowFigures) -> Vec<Line> {
    let f = &w.figures;
    let mut out = vec![
        Line {
            metric: "leads",
            scope: String::new(),
            value: f.leads.to_string(),
            num: None,
            den: None,
            target: None,
            ok: None,
        },
        Line {
            metric: "assigned",
            scope: String::new(),
            value: f.assigned.to_string(),
            num: None,
            den: None,
            target: None,
            ok: None,
        },
        secs_line("speed_to_assign_p50_seconds", "", w.p50, None),
        secs_line("speed_to_assign_p99_seconds", "", w.p99, None),
        secs_line(
            "speed_to_assign_mean_seconds",
            "",
            f.speed_to_assign.seconds(),
            Some(f.speed_to_assign.n),
        ),
        ratio_line(
            "routing_accuracy",
            "",
            f.accuracy,
            Some(super::metrics::ACCURACY_TARGET),
            true,
        ),
        ratio_line("unassigned_rate", "", f.unassigned, Some(0.0), false),
        ratio_line("fallback_rate", "", f.fallback, None, false),
        secs_line(
            "acceptance_mean_seconds",
            "",
            f.acceptance.seconds(),
            Some(f.acceptance.n),
        ),
    ];
    for t in &f.tiers {
        out.push(ratio_line(
            "sla_compliance",
            &t.tier,
            t.sla,
            Some(t.target),
            true,
        ));
    }
    for t in &f.tiers {
        out.push(secs_line(
            "speed_to_contact_mean_seconds",
            &t.tier,
            t.speed_to_contact.seconds(),
            Some(t.speed_to_contact.n),
        ));
    }
    for p in &f.paths {
        out.push(ratio_line(
            "lead_to_opportunity",
            &p.path,
            p.opportunity,
            None,
            true,
        ));
        out.push(ratio_line("win_rate", &p.path, p.win, None, true));
    }
    for t in &f.fairness {
        out.push(Line {
            metric: "distribution_fairness",
            scope: t.team.clone(),
            value: t.score.map(|s| format!("{s:.4}")).unwrap_or_default(),
            num: Some(t.leads),
            den: None,
            target: None,
            ok: None,
        });
    }
    out
}

fn label(metric: &str) -> &'static str {
    match metric {
        "leads" => "Leads received",
        "assigned" => "Assigned to a rep",
        "speed_to_assign_p50_seconds" => "Speed to assign, p50",
        "speed_to_assign_p99_seconds" => "Speed to assign, p99",
        "speed_to_assign_mean_seconds" => "Speed to assign, mean",
        "routing_accuracy" => "Routing accuracy (never reassigned)",
        "unassigned_rate" => "Unassigned rate",
        "fallback_rate" => "Fallback frequency",
        "acceptance_mean_seconds" => "Lead acceptance time, mean",
        "sla_compliance" => "SLA compliance",
        "speed_to_contact_mean_seconds" => "Speed to contact, mean",
        "lead_to_opportunity" => "Lead to opportunity",
        "win_rate" => "Win rate (of opportunities)",
        "distribution_fairness" => "Distribution fairness (1 = by weight)",
        _ => "",
    }
}

pub struct ShownLine {
    pub label: &'static str,
    pub scope: String,
    pub value: String,
    pub detail: String,
    pub target: String,
    pub status: &'static str,
}

fn shown(lines: &[Line]) -> Vec<ShownLine> {
    lines
        .iter()
        .map(|l| {
            let is_secs = l.metric.ends_with("_seconds");
            let value = if l.value.is_empty() {
                "–".to_string()
            } else if is_secs {
                l.value
                    .parse::<f64>()
                    .map(super::metrics::duration_text)
                    .unwrap_or_default()
            } else if l.den.is_some() {
                l.value
                    .parse::<f64>()
                    .map(|v| format!("{:.1}%", v * 100.0))
                    .unwrap_or_default()
            } else {
                l.value.clone()
            };
            ShownLine {
                label: label(l.metric),
                scope: l.scope.clone(),
                value,
                detail: match (l.num, l.den) {
                    (Some(n), Some(d)) => format!("{n} of {d}"),
                    (Some(n), None) => format!("n = {n}"),
                    _ => String::new(),
                },
                target: l
                    .target
                    .as_ref()
                    .and_then(|t| t.parse::<f64>().ok())
                    .map(|t| format!("{:.0}%", t * 100.0))
                    .unwrap_or_default(),
                status: match l.ok {
                    Some(true) => "good",
                    Some(false) => "bad",
                    None => "",
                },
            }
        })
        .collect()
}

/// One rep's row of the weekly report's per-rep table.
pub struct RepLine {
    pub rep: String,
    pub name: String,
    pub leads: i64,
    pub accepted: i64,
    pub contacted: i64,
    pub sla: String,
    pub sla_class: &'static str,
    pub opportunities: i64,
    pub won: i64,
}

/// The per-rep table from the week's figures ([`super::metrics::RepFigures`]).
pub fn rep_lines(cfg: &CompiledConfig, f: &Figures) -> Vec<RepLine> {
    f.reps
        .iter()
        .map(|r| RepLine {
            name: super::rep_name(cfg, &r.rep),
            rep: r.rep.clone(),
            leads: r.leads,
            accepted: r.accepted(),
            contacted: r.contacted(),
            sla: if r.sla.den > 0 {
                format!("{} ({} of {})", r.sla.percent(), r.sla.num, r.sla.den)
            } else {
                "–".into()
            },
            sla_class: match r.sla.value() {
                Some(v) if v < 0.75 => "bad",
                Some(_) => "good",
                None => "",
            },
            opportunities: r.opportunities,
            won: r.won,
        })
        .collect()
}

/// The ISO week of the latest day with leads within the last year up to today (in the
/// organisation's zone), read from the daily rollups: the week the report opens on.
pub async fn latest_week_with_data(
    st: &ConsoleState,
    now: i64,
) -> Result<Option<String>, ConsoleError> {
    let cfg = st.app.shared.config.load_full();
    let today = org_zone(&cfg).day_of(now);
    let mut snap = st.app.shared.store.snapshot().await?;
    let daily = snap.daily(today - 371 * DAY_US, today).await?;
    snap.end().await?;
    Ok(daily
        .iter()
        .filter(|d| d.leads > 0)
        .map(|d| d.day)
        .max()
        .map(week_of_day))
}

/// "2026-W48" for a day key.
fn week_of_day(day: i64) -> String {
    let iso = ReportZone::date(day).iso_week_date();
    format!("{}-W{:02}", iso.year(), iso.week())
}

#[derive(Template)]
#[template(path = "console/report.html")]
struct ReportPage {
    nav: Nav,
    /// Opened on the latest week with leads (no week was asked for).
    latest: bool,
    reps: Vec<RepLine>,
    week: String,
    prev: String,
    next: String,
    range: String,
    lines: Vec<ShownLine>,
}

#[derive(Template)]
#[template(path = "console/report_email.html")]
struct ReportEmail<'a> {
    org: &'a str,
    week: &'a str,
    range: &'a str,
    lines: &'a [ShownLine],
}

async fn week_figures(
    st: &ConsoleState,
    q: &WeekQuery,
) -> Result<(String, i64, WindowFigures), ConsoleError> {
    week_window(st, q.week.as_deref(), st.app.shared.clock.now()).await
}

/// "Mon 2026-11-23 – Sun 2026-11-29 (Europe/Berlin)": a week from its Monday's day key.
fn range_text(start: i64, zone: &str) -> String {
    let d = |day: i64| ReportZone::date(day).strftime("%a %Y-%m-%d").to_string();
    format!("{} – {} ({zone})", d(start), d(start + 6 * DAY_US))
}

/// The report as an HTML email body (inline styles, no links needed to read it).
pub fn email_html(
    org: &str,
    week: &str,
    start: i64,
    zone: &str,
    w: &WindowFigures,
) -> Result<String, ConsoleError> {
    let lines = shown(&lines(w));
    Ok(ReportEmail {
        org,
        week,
        range: &range_text(start, zone),
        lines: &lines,
    }
    .render()?)
}

/// The report as plain text: the alternative part of the email, for clients without HTML.
pub fn email_text(org: &str, week: &str, start: i64, zone: &str, w: &WindowFigures) -> String {
    let mut out = format!(
        "{org}: lead routing report {week}, {}\n\n",
        range_text(start, zone)
    );
    for l in shown(&lines(w)) {
        let scope = if l.scope.is_empty() {
            String::new()
        } else {
            format!(" ({})", l.scope)
        };
        let mut extra = Vec::new();
        if !l.detail.is_empty() {
            extra.push(l.detail.clone());
        }
        if !l.target.is_empty() {
            extra.push(format!("target {}", l.target));
        }
        let extra = if extra.is_empty() {
            String::new()
        } else {
            format!("  [{}]", extra.join(", "))
        };
        let _ = writeln!(out, "{}{scope}: {}{extra}", l.label, l.value);
    }
    out
}

/// The figures of an ISO week in the organisation's zone (`None`: the last full week
/// before `now`), read in one snapshot.
pub async fn week_window(
    st: &ConsoleState,
    week: Option<&str>,
    now: jiff::Timestamp,
) -> Result<(String, i64, WindowFigures), ConsoleError> {
    let cfg = st.app.shared.config.load_full();
    let (week, start) = parse_week(week, now, &org_zone(&cfg))?;
    let mut snap = st.app.shared.store.snapshot().await?;
    let w = window(
        &mut *snap,
        &cfg,
        start,
        start + 6 * DAY_US,
        now.as_microsecond(),
    )
    .await?;
    snap.end().await?;
    Ok((week, start, w))
}

pub async fn page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<WeekQuery>,
) -> PageResult {
    let s = staff(&st, &headers).await?;
    // With no week asked for, the page opens on the latest week that has leads (a new
    // installation's first week is not hidden behind an empty "last full week").
    let latest = if q.week.is_none() {
        latest_week_with_data(&st, st.app.shared.clock.now().as_microsecond()).await?
    } else {
        None
    };
    let (week, start, w) = match &latest {
        Some(week) => week_window(&st, Some(week), st.app.shared.clock.now()).await?,
        None => week_figures(&st, &q).await?,
    };
    let cfg = st.app.shared.config.load_full();
    let zone = org_zone(&cfg);
    let org = cfg.organization_name.clone();
    if q.view.as_deref() == Some("email") {
        return Ok(html(email_html(&org, &week, start, zone.name(), &w)?));
    }
    // The week `delta` after this one: "the last full week" as of a moment in the week
    // after that one (noon, clear of any DST change at midnight).
    let near = |delta: i64| {
        let then = zone.day_start(start + delta + 7 * DAY_US) + DAY_US / 2;
        parse_week(None, leadrouter_store::from_micros(then), &zone)
            .map(|x| x.0)
            .unwrap_or_default()
    };
    Ok(html(
        ReportPage {
            nav: Nav::with_times(&s, &st, &headers, "report").0,
            latest: latest.is_some(),
            reps: rep_lines(&cfg, &w.figures),
            prev: near(-7 * DAY_US),
            next: near(7 * DAY_US),
            range: range_text(start, zone.name()),
            lines: shown(&lines(&w)),
            week,
        }
        .render()?,
    ))
}

fn csv_text(week: &str, lines: &[Line]) -> String {
    let mut out = String::from("week,metric,scope,value,numerator,denominator,target\n");
    for l in lines {
        let q = |s: &str| {
            if s.contains([',', '"', '\n']) {
                format!("\"{}\"", s.replace('"', "\"\""))
            } else {
                s.to_string()
            }
        };
        let _ = writeln!(
            out,
            "{week},{},{},{},{},{},{}",
            l.metric,
            q(&l.scope),
            l.value,
            l.num.map(|n| n.to_string()).unwrap_or_default(),
            l.den.map(|n| n.to_string()).unwrap_or_default(),
            l.target.clone().unwrap_or_default()
        );
    }
    out
}

pub async fn csv(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<WeekQuery>,
) -> PageResult {
    staff(&st, &headers).await?;
    let (week, _, w) = week_figures(&st, &q).await?;
    let body = csv_text(&week, &lines(&w));
    let mut resp = body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"leadrouter-{week}.csv\""))
    {
        h.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok(resp)
}

/// `GET /v1/reports/weekly?week=…` (admin API key): the same lines as JSON, and the email.
pub async fn api(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<WeekQuery>,
) -> Response {
    // An intake key is known but not allowed here: 403, as everywhere in the API.
    match presented_key(&headers).and_then(|k| st.app.keys.role(k)) {
        Some(KeyRole::Admin) => {}
        Some(_) => return crate::api::ApiError::Forbidden.into_response(),
        None => return crate::api::ApiError::Unauthorized.into_response(),
    }
    match week_figures(&st, &q).await {
        Ok((week, start, w)) => {
            let cfg = st.app.shared.config.load_full();
            let zone = org_zone(&cfg);
            let org = cfg.organization_name.clone();
            let ls: Vec<serde_json::Value> = lines(&w)
                .iter()
                .map(|l| {
                    serde_json::json!({
                        "metric": l.metric, "scope": l.scope,
                        "value": l.value.parse::<f64>().ok(),
                        "numerator": l.num, "denominator": l.den,
                        "target": l.target.as_ref().and_then(|t| t.parse::<f64>().ok()),
                        "meets_target": l.ok,
                    })
                })
                .collect();
            Json(serde_json::json!({
                "week": week,
                "from": leadrouter_store::from_micros(w.from),
                "to": leadrouter_store::from_micros(w.to),
                "time_zone": zone.name(),
                "lines": ls,
                "email_html": email_html(&org, &week, start, zone.name(), &w).ok(),
            }))
            .into_response()
        }
        Err(ConsoleError::Bad(m)) => crate::api::ApiError::BadRequest(m).into_response(),
        Err(e) => crate::api::ApiError::Unavailable(format!("{e:?}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_parse_to_monday_utc() {
        let utc = ReportZone::utc();
        let now: jiff::Timestamp = "2026-11-25T12:00:00Z".parse().unwrap();
        let (w, start) = parse_week(Some("2026-W48"), now, &utc).unwrap();
        assert_eq!(w, "2026-W48");
        assert_eq!(
            leadrouter_store::from_micros(start).to_string(),
            "2026-11-23T00:00:00Z"
        );
        // Default: the last full week.
        let (w, _) = parse_week(None, now, &utc).unwrap();
        assert_eq!(w, "2026-W47");
        for bad in ["2026-48", "W48", "2026-W60", "abc-W1"] {
            assert!(
                matches!(parse_week(Some(bad), now, &utc), Err(ConsoleError::Bad(_))),
                "{bad}"
            );
        }
    }

    /// Issue 25: the week follows the organisation's zone. Monday 2026-11-30 03:00 UTC
    /// is still Sunday evening in New York, so the last full week there is W47, not W48;
    /// in Tokyo it is Monday noon and W48 is over.
    #[test]
    fn the_last_full_week_is_the_organisations() {
        let now: jiff::Timestamp = "2026-11-30T03:00:00Z".parse().unwrap();
        let zone = |n: &str| ReportZone::named(n).unwrap();
        assert_eq!(
            parse_week(None, now, &ReportZone::utc()).unwrap().0,
            "2026-W48"
        );
        assert_eq!(
            parse_week(None, now, &zone("America/New_York")).unwrap().0,
            "2026-W47"
        );
        assert_eq!(
            parse_week(None, now, &zone("Asia/Tokyo")).unwrap().0,
            "2026-W48"
        );
        // The week's Monday is a calendar date whatever the zone.
        let (_, start) = parse_week(Some("2026-W45"), now, &zone("America/New_York")).unwrap();
        assert_eq!(ReportZone::date(start).to_string(), "2026-11-02");
        assert_eq!(
            range_text(start, "America/New_York"),
            "Mon 2026-11-02 – Sun 2026-11-08 (America/New_York)"
        );
    }

    #[test]
    fn csv_quotes_scopes() {
        let l = vec![Line {
            metric: "leads",
            scope: "a,b".into(),
            value: "3".into(),
            num: None,
            den: None,
            target: None,
            ok: None,
        }];
        assert_eq!(
            csv_text("2026-W47", &l),
            "week,metric,scope,value,numerator,denominator,target\n2026-W47,leads,\"a,b\",3,,,\n"
        );
    }
}
