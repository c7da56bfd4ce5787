//! The messages a meeting sends (issue 22), rendered in the routing transaction like
//! every notice: a plain email to the lead (their time zone) and to the rep (theirs),
//! with the reschedule/cancel link, and the rep's Slack line "meeting booked for …"
//! when Slack is set up; a booking is also the `lead.contacted` event (first touch),
//! carrying the meeting.
//!
//! Everything an iCalendar invitation needs is in [`Invitation`] (UID = booking id,
//! SEQUENCE, METHOD, UTC times, organizer = rep, attendee = lead, links), built once and
//! handed to [`email`]; this file is the one to swap for one that attaches the ICS.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use leadrouter_core::booking::{Meeting, MeetingChange};
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::lead::Lead;
use leadrouter_notify::{Channel, EmailPayload, Kind, LinkSigner, NotifyConfig, Outgoing};
use serde::{Deserialize, Serialize};

/// What an invitation (METHOD:REQUEST or METHOD:CANCEL) for the meeting carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invitation {
    /// The booking id: the invitation's UID (with `@leadrouter` appended by renderers
    /// that want a domain part).
    pub uid: String,
    pub sequence: i64,
    /// `REQUEST` (booked or moved) or `CANCEL`.
    pub method: String,
    pub change: MeetingChange,
    pub start: Timestamp,
    pub end: Timestamp,
    pub summary: String,
    pub organizer_name: String,
    pub organizer_email: Option<String>,
    pub organizer_tz: String,
    pub attendee_name: Option<String>,
    pub attendee_email: Option<String>,
    pub attendee_tz: Option<String>,
    /// The page to move or cancel the meeting (signed), when links are signed.
    pub manage_url: Option<String>,
    pub previous_start: Option<Timestamp>,
}

/// The invitation for `m` (None when the rep is no longer in the config).
pub fn invitation(
    cfg: &CompiledConfig,
    links: &LinkSigner,
    lead_id: &str,
    lead: &Lead,
    m: &Meeting,
) -> Option<Invitation> {
    let rep = cfg.rep(*cfg.rep_by_id.get(&m.rep)?);
    let title = cfg.booking.as_ref().map_or("Meeting", |b| b.title.as_str());
    let name = [lead.first_name.as_deref(), lead.last_name.as_deref()]
        .into_iter()
        .flatten()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let company = lead
        .company
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty());
    Some(Invitation {
        uid: m.booking_id.clone(),
        sequence: m.sequence,
        method: if m.change == MeetingChange::Cancelled {
            "CANCEL"
        } else {
            "REQUEST"
        }
        .into(),
        change: m.change,
        start: m.start,
        end: m.end,
        summary: match company {
            Some(c) => format!("{title}: {} / {c}", rep.name),
            None => format!("{title} with {}", rep.name),
        },
        organizer_name: rep.name.clone(),
        organizer_email: rep.email.clone(),
        organizer_tz: rep.tz_name.clone(),
        attendee_name: (!name.is_empty()).then_some(name),
        attendee_email: lead
            .email
            .as_deref()
            .map(str::trim)
            .filter(|e| leadrouter_core::domains::parse_email(e).is_ok())
            .map(str::to_string),
        attendee_tz: m.lead_tz.clone(),
        manage_url: (m.change != MeetingChange::Cancelled)
            .then(|| super::token::manage_url(links, &m.booking_id, lead_id, m.end))
            .flatten(),
        previous_start: m.previous.map(|p| p.start),
    })
}

/// "Tuesday 3 March 2026, 14:00–14:30 (Europe/Berlin)".
pub fn when(start: Timestamp, end: Timestamp, tz_name: &str) -> String {
    let tz = TimeZone::get(tz_name).unwrap_or(TimeZone::UTC);
    let (s, e) = (start.to_zoned(tz.clone()), end.to_zoned(tz));
    format!(
        "{}, {}–{} ({tz_name})",
        s.strftime("%A %-d %B %Y"),
        s.strftime("%H:%M"),
        e.strftime("%H:%M")
    )
}

/// One sanitised line (no CR/LF) for subjects and names.
fn line(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(200)
        .collect()
}

/// An email about the meeting for one side: `to_lead` writes to the attendee in their
/// zone, else to the organizer in theirs.
pub fn email(inv: &Invitation, from: &str, to_lead: bool) -> Option<EmailPayload> {
    let (to, tz) = if to_lead {
        (
            inv.attendee_email.clone()?,
            inv.attendee_tz
                .clone()
                .unwrap_or_else(|| inv.organizer_tz.clone()),
        )
    } else {
        (inv.organizer_email.clone()?, inv.organizer_tz.clone())
    };
    let other = if to_lead {
        inv.organizer_name.clone()
    } else {
        inv.attendee_name
            .clone()
            .or(inv.attendee_email.clone())
            .unwrap_or_else(|| "a lead".into())
    };
    let other = line(&other);
    let at = when(inv.start, inv.end, &tz);
    let utc = format!(
        "{} – {} UTC",
        inv.start.strftime("%Y-%m-%d %H:%M"),
        inv.end.strftime("%H:%M")
    );
    let (subject, head) = match inv.change {
        MeetingChange::Booked => (
            format!("Meeting booked: {other}, {at}"),
            format!("Your meeting with {other} is booked."),
        ),
        MeetingChange::Rescheduled => (
            format!("Meeting moved: {other}, {at}"),
            format!("Your meeting with {other} has moved."),
        ),
        MeetingChange::Cancelled => (
            format!("Meeting cancelled: {other}, {at}"),
            format!("Your meeting with {other} is cancelled."),
        ),
    };
    let mut text = format!(
        "{head}\n\nWhen: {at}\n       {utc}\nWhat: {}\n",
        line(&inv.summary)
    );
    if let Some(p) = inv.previous_start {
        text.push_str(&format!(
            "Was:  {}\n",
            when(p, p + (inv.end.duration_since(inv.start)), &tz)
        ));
    }
    if !to_lead && let Some(e) = &inv.attendee_email {
        text.push_str(&format!("Lead: {e}\n"));
    }
    if to_lead && let Some(u) = &inv.manage_url {
        text.push_str(&format!("\nNeed another time? Reschedule or cancel: {u}\n"));
    }
    Some(EmailPayload {
        from: from.to_string(),
        reply_to: if to_lead {
            inv.organizer_email.clone()
        } else {
            None
        },
        to,
        subject: line(&subject),
        text,
        html: None,
    })
}

/// The Slack key for a rep's team, as the rep notifications use it.
fn slack_key(cfg: &NotifyConfig, team: Option<&str>) -> Option<String> {
    let slack = cfg.slack.as_ref()?;
    if let Some(t) = team
        && slack.team_webhooks_env.contains_key(t)
    {
        return Some(format!(
            "{}{t}",
            leadrouter_notify::render::SLACK_TEAM_PREFIX
        ));
    }
    slack
        .default_webhook_env
        .as_ref()
        .map(|_| leadrouter_notify::render::SLACK_DEFAULT.to_string())
}

/// Slack's three control characters in message text.
fn slack_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The outbox messages for a meeting notice.
pub fn render(
    cfg: &CompiledConfig,
    ncfg: &NotifyConfig,
    links: &LinkSigner,
    lead_id: &str,
    lead: &Lead,
    m: &Meeting,
) -> Vec<Outgoing> {
    let mut out = Vec::new();
    if !ncfg.enabled {
        return out;
    }
    let Some(inv) = invitation(cfg, links, lead_id, lead, m) else {
        return out;
    };
    if let Some(e) = &ncfg.email {
        for (to_lead, kind) in [
            (true, Kind::LeadConfirmation),
            (false, Kind::RepNotification),
        ] {
            if let Some(p) = email(&inv, &e.from, to_lead) {
                out.push(Outgoing {
                    channel: Channel::Email,
                    recipient: p.to.clone(),
                    kind,
                    lead_id: lead_id.to_string(),
                    payload: serde_json::to_value(p).unwrap_or_default(),
                });
            }
        }
    }
    let team = cfg
        .rep_by_id
        .get(&m.rep)
        .and_then(|i| cfg.rep(*i).team)
        .map(|t| cfg.teams[t as usize].id.as_str());
    if let Some(key) = slack_key(ncfg, team) {
        let rep = cfg.rep(cfg.rep_by_id[&m.rep]);
        let mention = rep
            .slack
            .as_deref()
            .filter(|s| s.starts_with('U') && s.chars().all(|c| c.is_ascii_alphanumeric()))
            .map(|s| format!("<@{s}> "))
            .unwrap_or_default();
        let who = inv
            .attendee_name
            .clone()
            .or(inv.attendee_email.clone())
            .unwrap_or_else(|| lead_id.to_string());
        let verb = match m.change {
            MeetingChange::Booked => "booked",
            MeetingChange::Rescheduled => "moved",
            MeetingChange::Cancelled => "cancelled",
        };
        let text = format!(
            "{mention}meeting {verb} for {}: {}",
            slack_escape(&line(&who)),
            when(inv.start, inv.end, &rep.tz_name)
        );
        out.push(Outgoing {
            channel: Channel::Slack,
            recipient: key,
            kind: Kind::RepNotification,
            lead_id: lead_id.to_string(),
            payload: serde_json::json!({ "text": text, "unfurl_links": false, "unfurl_media": false }),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inv() -> Invitation {
        Invitation {
            uid: "b1".into(),
            sequence: 0,
            method: "REQUEST".into(),
            change: MeetingChange::Booked,
            start: "2026-03-03T13:00:00Z".parse().unwrap(),
            end: "2026-03-03T13:30:00Z".parse().unwrap(),
            summary: "Demo with Ann Rep".into(),
            organizer_name: "Ann Rep".into(),
            organizer_email: Some("ann@example.com".into()),
            organizer_tz: "Europe/Berlin".into(),
            attendee_name: Some("Lee\r\nBcc: x@y".into()),
            attendee_email: Some("lee@example.org".into()),
            attendee_tz: Some("America/New_York".into()),
            manage_url: Some("https://x/book/manage/t".into()),
            previous_start: None,
        }
    }

    #[test]
    fn each_side_reads_its_own_zone() {
        let lead = email(&inv(), "bot@example.com", true).unwrap();
        assert_eq!(lead.to, "lee@example.org");
        assert!(
            lead.text.contains("08:00–08:30 (America/New_York)"),
            "{}",
            lead.text
        );
        assert!(lead.text.contains("2026-03-03 13:00 – 13:30 UTC"));
        assert!(lead.text.contains("https://x/book/manage/t"));
        assert_eq!(lead.reply_to.as_deref(), Some("ann@example.com"));
        let rep = email(&inv(), "bot@example.com", false).unwrap();
        assert!(
            rep.text.contains("14:00–14:30 (Europe/Berlin)"),
            "{}",
            rep.text
        );
        // A name cannot add header lines.
        assert!(!rep.subject.contains('\n') && !rep.subject.contains('\r'));
        assert!(!rep.text.contains("manage"));
    }
}
