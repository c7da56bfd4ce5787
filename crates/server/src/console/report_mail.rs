//! The weekly report by email (MET-2): on the configured day and time
//! (`[notify.weekly_report]`, default Monday 08:00 in `organization.timezone`) the last
//! full ISO week's report (weeks in `organization.timezone`) goes to every manager with an email address (sales leadership
//! are managers too) and to `notify.weekly_report.to`, as HTML with a plain-text part.
//!
//! Exactly once per week: the `weekly_reports` row (keyed by the ISO week) and the outbox
//! rows (lead id `report:<week>`) are written in one transaction, and a second writer —
//! another instance, or this one after a restart — finds the row and queues nothing. The
//! outbox worker delivers, retries and dead-letters them like every other message.
//! `POST /v1/reports/weekly/send?week=…` (admin key) queues a week now, under the same rule.

use super::report::{email_html, email_text, week_window};
use super::{ConsoleError, ConsoleState};
use crate::auth::{Role as KeyRole, presented_key};
use axum::Json;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::civil::{Time, Weekday};
use jiff::tz::TimeZone;
use jiff::{Span, Timestamp};
use leadrouter_core::config::CompiledConfig;
use leadrouter_notify::{Channel, EmailPayload, Kind, Outgoing, WeeklyReportConfig};
use leadrouter_store::OutboxRow;
use leadrouter_store::reporting::WeeklyReportRow;
use serde::Deserialize;
use std::time::Duration;

/// How often the schedule is checked (one primary-key read when nothing is due).
const POLL: Duration = Duration::from_secs(5);

/// The outbox lead id of a week's report messages.
pub fn report_key(week: &str) -> String {
    format!("report:{week}")
}

/// When the report is sent, resolved against the organization's zone.
#[derive(Debug, Clone)]
pub struct Schedule {
    pub day: Weekday,
    pub time: Time,
    pub tz: TimeZone,
}

impl Schedule {
    pub fn new(w: &WeeklyReportConfig, cfg: &CompiledConfig) -> Schedule {
        let tz = w
            .timezone
            .as_deref()
            // Validated when the config was parsed.
            .and_then(|z| TimeZone::get(z).ok())
            .unwrap_or_else(|| cfg.organization_tz.clone());
        Schedule {
            day: w.day,
            time: w.time,
            tz,
        }
    }

    /// The latest scheduled send at or before `now` (DST-correct in the schedule's zone).
    pub fn latest(&self, now: Timestamp) -> Option<Timestamp> {
        let local = now.to_zoned(self.tz.clone());
        let date = local.date();
        let back = (date.weekday().to_monday_zero_offset() - self.day.to_monday_zero_offset())
            .rem_euclid(7);
        let day = date.checked_sub(Span::new().days(i64::from(back))).ok()?;
        let at = day.to_datetime(self.time).to_zoned(self.tz.clone()).ok()?;
        if at.timestamp() <= now {
            return Some(at.timestamp());
        }
        let prev = day.checked_sub(Span::new().days(7)).ok()?;
        Some(
            prev.to_datetime(self.time)
                .to_zoned(self.tz.clone())
                .ok()?
                .timestamp(),
        )
    }
}

/// Every manager with an email address (leadership included) and the extra recipients,
/// sorted and without duplicates.
pub fn recipients(cfg: &CompiledConfig, w: &WeeklyReportConfig) -> Vec<String> {
    let mut out: Vec<String> = cfg
        .managers
        .iter()
        .filter_map(|m| m.email.clone())
        .chain(w.to.iter().cloned())
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty())
        .collect();
    out.sort_by_key(|a| a.to_ascii_lowercase());
    out.dedup_by(|a, b| a.eq_ignore_ascii_case(b));
    out
}

#[derive(Debug)]
pub enum Queued {
    /// Queued now, to these recipients.
    Sent { week: String, to: Vec<String> },
    /// Already queued earlier (by the schedule, another instance or the API).
    Already(WeeklyReportRow),
}

/// Render a week's report and queue it for every recipient, unless the week was queued
/// before. `week = None`: the last full week before `now`.
pub async fn queue_week(
    st: &ConsoleState,
    week: Option<&str>,
    now: Timestamp,
    actor: &str,
) -> Result<Queued, ConsoleError> {
    let nrt = st.app.shared.notify.load_full();
    let Some(email) = nrt.config.email.as_ref() else {
        return Err(ConsoleError::Bad(
            "email is not configured: add [notify.email] (smtp_url_env, from) to send the weekly report".into(),
        ));
    };
    let cfg = st.app.shared.config.load_full();
    let to = recipients(&cfg, &nrt.config.weekly_report);
    if to.is_empty() {
        return Err(ConsoleError::Bad(
            "the weekly report has no recipients: give [[managers]] an email, or set notify.weekly_report.to".into(),
        ));
    }
    let (week, start, w) = week_window(st, week, now).await?;
    let store = &st.app.shared.store;
    if let Some(done) = store.weekly_report(&week).await? {
        return Ok(Queued::Already(done));
    }
    let org = cfg.organization_name.clone();
    let zone = super::report::org_zone(&cfg);
    let html = email_html(&org, &week, start, zone.name(), &w)?;
    let text = email_text(&org, &week, start, zone.name(), &w);
    let subject = format!("{org}: lead routing report {week}");
    let at = now.as_microsecond();
    let key = report_key(&week);
    let mut rows = Vec::new();
    for addr in &to {
        let out = Outgoing {
            channel: Channel::Email,
            recipient: addr.clone(),
            kind: Kind::WeeklyReport,
            lead_id: key.clone(),
            payload: serde_json::to_value(EmailPayload {
                from: email.from.clone(),
                reply_to: None,
                to: addr.clone(),
                subject: subject.clone(),
                text: text.clone(),
                html: Some(html.clone()),
            })
            .map_err(|e| ConsoleError::Unavailable(e.to_string()))?,
        };
        rows.push(OutboxRow {
            id: uuid::Uuid::now_v7().to_string(),
            lead_id: key.clone(),
            kind: "weekly_report".into(),
            channel: "email".into(),
            recipient: addr.clone(),
            payload: serde_json::to_value(&out)
                .map_err(|e| ConsoleError::Unavailable(e.to_string()))?,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: at,
            last_error: None,
            created_at: at,
            delivered_at: None,
        });
    }
    let row = WeeklyReportRow {
        week: week.clone(),
        queued_at: at,
        recipients: to.len() as i64,
        actor: actor.into(),
    };
    if !store.weekly_report_queue(&row, &rows).await? {
        // Another instance queued it between the check and the write.
        return match store.weekly_report(&week).await? {
            Some(done) => Ok(Queued::Already(done)),
            None => Err(ConsoleError::Unavailable(format!(
                "weekly report {week}: neither queued nor recorded"
            ))),
        };
    }
    st.app.shared.outbox_wake.notify_one();
    Ok(Queued::Sent { week, to })
}

/// The scheduler: checks every few seconds whether a send time has passed whose week is
/// not queued yet (send times from before this process started count only within
/// `catch_up_hours`). Off while `[notify.email]` is missing or `enabled = false`; a config
/// reload takes effect at the next check.
pub fn spawn(st: ConsoleState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(POLL);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_done: Option<String> = None;
        // Send times before this (less the catch-up) passed before this process ran and
        // are not sent by the schedule (a fresh install does not mail last week at once).
        let started = st.app.shared.clock.now();
        loop {
            tick.tick().await;
            let nrt = st.app.shared.notify.load_full();
            let wr = &nrt.config.weekly_report;
            if nrt.config.email.is_none() || !wr.enabled {
                continue;
            }
            let cfg = st.app.shared.config.load_full();
            let now = st.app.shared.clock.now();
            let Some(at) = Schedule::new(wr, &cfg).latest(now) else {
                continue;
            };
            if at < started.checked_sub(wr.catch_up).unwrap_or(started) {
                continue;
            }
            // The week is the organisation's, whatever zone the send time is given in.
            let zone = super::report::org_zone(&cfg);
            let Ok((week, _)) = super::report::parse_week(None, at, &zone) else {
                continue;
            };
            if last_done.as_deref() == Some(week.as_str()) {
                continue;
            }
            match queue_week(&st, Some(&week), now, "schedule").await {
                Ok(Queued::Sent { week, to }) => {
                    tracing::info!(%week, recipients = to.len(), "weekly report queued");
                    let entry = crate::api::audit::Audit::new("schedule", "report.send")
                        .subject(week.clone())
                        .detail(serde_json::json!({ "recipients": to.len() }));
                    let _ = crate::api::audit::audit(&st.app.shared, entry).await;
                    last_done = Some(week);
                }
                Ok(Queued::Already(_)) => last_done = Some(week),
                Err(ConsoleError::Bad(m)) => {
                    tracing::warn!(%week, "weekly report not sent: {m}");
                    // Retried at the next check; a config fix takes effect then.
                }
                Err(e) => {
                    tracing::warn!(%week, error = ?e, "queueing the weekly report failed; retrying")
                }
            }
        }
    });
}

#[derive(Deserialize, Default)]
pub struct SendQuery {
    week: Option<String>,
}

/// `POST /v1/reports/weekly/send?week=2026-W47` (admin key): queue that week's report
/// now (default: the last full week). 202 with the recipients; 409 when the week was
/// already sent; 400 without email or recipients, or for a malformed week.
pub async fn send_now(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<SendQuery>,
) -> Response {
    use crate::api::ApiError;
    let who = match presented_key(&headers).and_then(|k| st.app.keys.identify(k)) {
        None => return ApiError::Unauthorized.into_response(),
        Some(who) if who.role == KeyRole::Admin => who,
        Some(_) => return ApiError::Forbidden.into_response(),
    };
    let now = st.app.shared.clock.now();
    match queue_week(&st, q.week.as_deref(), now, &who.actor()).await {
        Ok(Queued::Sent { week, to }) => {
            let entry = crate::api::audit::Audit::new(who.actor(), "report.send")
                .subject(week.clone())
                .detail(serde_json::json!({ "recipients": to.len() }));
            let _ = crate::api::audit::audit(&st.app.shared, entry).await;
            (
            StatusCode::ACCEPTED,
            Json(serde_json::json!({ "week": week, "queued": true, "recipients": to })),
        )
            .into_response()
        }
        Ok(Queued::Already(r)) => ApiError::Conflict(format!(
            "the report for {} was already queued at {} by {} to {} recipients; it is sent once per week",
            r.week,
            leadrouter_store::from_micros(r.queued_at),
            r.actor,
            r.recipients
        ))
        .into_response(),
        Err(ConsoleError::Bad(m)) => ApiError::BadRequest(m).into_response(),
        Err(e) => ApiError::Unavailable(format!("{e:?}")).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn latest_send_is_the_last_scheduled_time_in_the_zone() {
        let s = Schedule {
            day: Weekday::Monday,
            time: Time::constant(8, 0, 0, 0),
            tz: TimeZone::get("Europe/Berlin").unwrap(),
        };
        // Monday 2026-11-30 08:00 in Berlin is 07:00 UTC.
        assert_eq!(
            s.latest(at("2026-11-30T07:00:00Z")),
            Some(at("2026-11-30T07:00:00Z"))
        );
        // A minute before: the previous Monday.
        assert_eq!(
            s.latest(at("2026-11-30T06:59:00Z")),
            Some(at("2026-11-23T07:00:00Z"))
        );
        // Midweek: this week's Monday.
        assert_eq!(
            s.latest(at("2026-12-02T12:00:00Z")),
            Some(at("2026-11-30T07:00:00Z"))
        );
        // Summer time: 08:00 in Berlin is 06:00 UTC.
        assert_eq!(
            s.latest(at("2026-07-08T00:00:00Z")),
            Some(at("2026-07-06T06:00:00Z"))
        );
        // The report sent on Monday 2026-11-30 covers 2026-W48 (Nov 23–29).
        let utc = leadrouter_store::reporting::ReportZone::utc();
        let (week, _) =
            super::super::report::parse_week(None, at("2026-11-30T07:00:00Z"), &utc).unwrap();
        assert_eq!(week, "2026-W48");
    }

    #[test]
    fn friday_schedule_in_utc() {
        let s = Schedule {
            day: Weekday::Friday,
            time: Time::constant(17, 30, 0, 0),
            tz: TimeZone::UTC,
        };
        assert_eq!(
            s.latest(at("2026-12-01T10:00:00Z")),
            Some(at("2026-11-27T17:30:00Z"))
        );
    }
}
