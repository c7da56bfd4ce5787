//! The messages of a booked, rescheduled or cancelled meeting (issue 22, MTG-1/2): the
//! lead's and the rep's emails, each carrying the iCalendar invitation (see
//! [`crate::invite`]) and stating the time in the reader's own zone with its UTC offset;
//! the rep's Slack line "meeting booked for … with …"; the `meeting.*` webhook events.
//!
//! Like every renderer: pure, the caller passes the time, and what is not sent is
//! reported in [`Rendered::skipped`] with the reason.

use super::*;
use crate::config::EmailConfig;
use crate::invite::{self, Meeting, MeetingEvent, Method};
use crate::message::{CalendarPart, InvitationEmail};
use jiff::tz::TimeZone;
use lettre::message::Mailbox;

/// Everything the meeting messages need, as the booking code knows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MeetingNotice {
    /// The lead the meeting is with (outbox ordering, `X-LeadRouter-Lead`).
    pub lead_id: String,
    /// The meeting as it is now: for a reschedule the new times and SEQUENCE, for a
    /// cancellation the SEQUENCE after the last one sent.
    pub meeting: Meeting,
    pub event: MeetingEvent,
    /// IANA zone the lead booked in (the booking page's zone); UTC if unknown.
    pub lead_time_zone: String,
    pub rep_id: String,
    /// The rep's IANA zone (`tz` of the rep in the config); UTC if unknown.
    pub rep_time_zone: String,
    /// Slack member id (`U…`) to mention in the rep's Slack line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rep_slack: Option<String>,
    /// The rep's team, for the team's Slack channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub team: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_company: Option<String>,
}

impl MeetingNotice {
    fn company(&self) -> Option<String> {
        self.lead_company
            .as_deref()
            .map(shown_company)
            .filter(|c| !c.is_empty())
    }

    /// "Jane Doe (Acme)" or "Jane Doe".
    fn lead_label(&self) -> String {
        let name = self.meeting.attendee_name();
        let name = if name.is_empty() {
            shown_text(&self.meeting.attendee.email, 254)
        } else {
            name
        };
        match self.company() {
            Some(c) => format!("{name} ({c})"),
            None => name,
        }
    }
}

fn zone(name: &str) -> TimeZone {
    TimeZone::get(name.trim()).unwrap_or(TimeZone::UTC)
}

/// "Tuesday, March 3, 2026, 10:00–10:30 EST (UTC-05:00, America/New_York)".
pub(crate) fn when_long(start: Timestamp, end: Timestamp, tz: &TimeZone) -> String {
    let s = start.to_zoned(tz.clone());
    let e = end.to_zoned(tz.clone());
    let end_part = if s.date() == e.date() {
        e.strftime("%H:%M").to_string()
    } else {
        e.strftime("%A, %B %-d, %H:%M").to_string()
    };
    format!(
        "{}, {}–{end_part} {}",
        s.strftime("%A, %B %-d, %Y"),
        s.strftime("%H:%M"),
        zone_label(&s)
    )
}

/// "Tue, Mar 3, 10:00 EST (UTC-05:00)".
pub(crate) fn when_short(start: Timestamp, tz: &TimeZone) -> String {
    let s = start.to_zoned(tz.clone());
    let abbr = s.strftime("%Z").to_string();
    if s.offset() == jiff::tz::Offset::UTC && abbr == "UTC" {
        return format!("{} UTC", s.strftime("%a, %b %-d, %H:%M"));
    }
    format!(
        "{} {abbr} (UTC{})",
        s.strftime("%a, %b %-d, %H:%M"),
        s.strftime("%:z")
    )
}

/// "EST (UTC-05:00, America/New_York)"; "UTC" for UTC.
fn zone_label(z: &jiff::Zoned) -> String {
    let abbr = z.strftime("%Z").to_string();
    let name = z.time_zone().iana_name().unwrap_or("");
    if z.offset() == jiff::tz::Offset::UTC && (name.is_empty() || name == "UTC") {
        return "UTC".to_string();
    }
    let offset = z.strftime("%:z").to_string();
    // Zones without a letter abbreviation show "+03": say the offset once.
    let abbr = if abbr.starts_with(['+', '-']) {
        String::new()
    } else {
        format!("{abbr} ")
    };
    if name.is_empty() {
        format!("{abbr}(UTC{offset})")
    } else {
        format!("{abbr}(UTC{offset}, {name})")
    }
}

/// The emails of a meeting notice, each with the invitation: one to the lead (in the
/// lead's zone, written as from the rep like the NTF-3 confirmation) and one to the rep
/// (in the rep's zone, Reply-To the lead). `email_cfg` is `[notify.email]`.
pub fn meeting_emails(n: &MeetingNotice, email_cfg: &EmailConfig) -> Rendered {
    let mut out = Rendered::default();
    let kind = Kind::Meeting;
    if let Err(why) = n.meeting.check() {
        out.skip("email", kind, None, why);
        return out;
    }
    let m = &n.meeting;
    let configured: Mailbox = match email_cfg.from.parse() {
        Ok(b) => b,
        Err(e) => {
            out.skip(
                "email",
                kind,
                None,
                format!("notify.email.from is not a mailbox: {e}"),
            );
            return out;
        }
    };
    // `check` parsed both addresses.
    let rep_addr: lettre::Address = m.organizer.email.trim().parse().expect("checked");
    let lead_addr: lettre::Address = m.attendee.email.trim().parse().expect("checked");
    let rep_name = m.organizer_name();
    let lead_name = m.attendee_name();
    let named = |name: &str, a: lettre::Address| {
        Mailbox::new(Some(name.to_string()).filter(|n| !n.is_empty()), a)
    };
    let method = n.event.method();
    let calendar = CalendarPart {
        method: method.as_str().to_string(),
        ics: invite::ics(m, method),
    };

    let (from, reply_to) = match email_cfg.confirmation_sender {
        ConfirmationSender::RepAddress => (named(&rep_name, rep_addr.clone()), None),
        ConfirmationSender::RepName => (
            named(&rep_name, configured.email.clone()),
            Some(named(&rep_name, rep_addr.clone()).to_string()),
        ),
    };
    let (subject, text) = lead_email(n);
    out.messages.push(invitation(
        n,
        InvitationEmail {
            email: EmailPayload {
                from: from.to_string(),
                reply_to,
                to: named(&lead_name, lead_addr.clone()).to_string(),
                subject: clean_subject(&subject),
                text,
                html: None,
            },
            calendar: Some(calendar.clone()),
        },
    ));

    let (subject, text) = rep_email(n);
    out.messages.push(invitation(
        n,
        InvitationEmail {
            email: EmailPayload {
                from: configured.to_string(),
                reply_to: Some(named(&lead_name, lead_addr).to_string()),
                to: named(&rep_name, rep_addr).to_string(),
                subject: clean_subject(&subject),
                text,
                html: None,
            },
            calendar: Some(calendar),
        },
    ));
    out
}

fn invitation(n: &MeetingNotice, p: InvitationEmail) -> Outgoing {
    let recipient = p
        .email
        .to
        .parse::<Mailbox>()
        .map(|m| m.email.to_string())
        .unwrap_or_else(|_| p.email.to.clone());
    Outgoing {
        channel: Channel::Email,
        recipient,
        kind: Kind::Meeting,
        lead_id: n.lead_id.clone(),
        payload: serde_json::to_value(p).expect("email payload serializes"),
    }
}

/// The "Where:" line, if any.
fn place(m: &Meeting) -> Option<String> {
    match (m.clean_location(), m.clean_url()) {
        (Some(l), Some(u)) => Some(format!("{l} ({u})")),
        (Some(l), None) => Some(l),
        (None, Some(u)) => Some(u.to_string()),
        (None, None) => None,
    }
}

/// The links paragraph (not for a cancellation: there is nothing left to move).
fn links(m: &Meeting, event: MeetingEvent) -> String {
    if event.method() == Method::Cancel {
        return String::new();
    }
    let mut s = String::new();
    if let Some(u) = m.clean_reschedule_url() {
        s.push_str(&format!("Need another time? Reschedule: {u}\n"));
    }
    if let Some(u) = m.clean_cancel_url() {
        s.push_str(&format!("Can't make it? Cancel: {u}\n"));
    }
    s
}

fn lead_email(n: &MeetingNotice) -> (String, String) {
    let m = &n.meeting;
    let tz = zone(&n.lead_time_zone);
    let rep = m.organizer_name();
    let summary = m.clean_summary();
    let short = when_short(m.start, &tz);
    let lead_first = m
        .attendee_name()
        .split_whitespace()
        .next()
        .map(|f| format!("Hi {f},"))
        .unwrap_or_else(|| "Hi,".to_string());
    let (subject, opening) = match n.event {
        MeetingEvent::Booked => (
            format!("Confirmed: {summary} with {rep}, {short}"),
            format!("Your meeting with {rep} is booked."),
        ),
        MeetingEvent::Rescheduled { .. } => (
            format!("Updated: {summary} with {rep}, now {short}"),
            format!("Your meeting with {rep} has moved to a new time."),
        ),
        MeetingEvent::Cancelled => (
            format!("Cancelled: {summary} with {rep}, {short}"),
            format!("Your meeting with {rep} is cancelled."),
        ),
    };
    let mut body = format!("{lead_first}\n\n{opening}\n\n");
    body.push_str(&format!("What:  {summary}\n"));
    body.push_str(&format!("When:  {}\n", when_long(m.start, m.end, &tz)));
    if let MeetingEvent::Rescheduled {
        previous_start,
        previous_end,
    } = n.event
    {
        body.push_str(&format!(
            "Was:   {}\n",
            when_long(previous_start, previous_end, &tz)
        ));
    }
    body.push_str(&format!("With:  {rep} <{}>\n", m.organizer.email.trim()));
    if let Some(p) = place(m) {
        body.push_str(&format!("Where: {p}\n"));
    }
    let description = invite::clean_block(&m.description, invite::MAX_DESCRIPTION);
    if !description.is_empty() && n.event.method() == Method::Request {
        body.push_str(&format!("\n{description}\n"));
    }
    let links = links(m, n.event);
    if !links.is_empty() {
        body.push_str(&format!("\n{links}"));
    }
    body.push_str(match n.event.method() {
        Method::Request | Method::Publish => {
            "\nThe calendar invitation is attached (invite.ics): accept it to add the meeting to your calendar.\n"
        }
        Method::Cancel => "\nThe attached update (invite.ics) removes the meeting from your calendar.\n",
    });
    (subject, body)
}

fn rep_email(n: &MeetingNotice) -> (String, String) {
    let m = &n.meeting;
    let tz = zone(&n.rep_time_zone);
    let lead_tz = zone(&n.lead_time_zone);
    let lead = n.lead_label();
    let short = when_short(m.start, &tz);
    let (subject, opening) = match n.event {
        MeetingEvent::Booked => (
            format!("Meeting booked: {lead}, {short}"),
            format!("{lead} booked a meeting with you."),
        ),
        MeetingEvent::Rescheduled { .. } => (
            format!("Meeting rescheduled: {lead}, now {short}"),
            format!("Your meeting with {lead} moved to a new time."),
        ),
        MeetingEvent::Cancelled => (
            format!("Meeting cancelled: {lead}, {short}"),
            format!("Your meeting with {lead} is cancelled."),
        ),
    };
    let mut body = format!("{opening}\n\n");
    body.push_str(&format!("What:  {}\n", m.clean_summary()));
    body.push_str(&format!("When:  {}\n", when_long(m.start, m.end, &tz)));
    let lead_offset = m.start.to_zoned(lead_tz.clone()).offset();
    let rep_offset = m.start.to_zoned(tz.clone()).offset();
    if lead_offset != rep_offset || lead_tz.iana_name() != tz.iana_name() {
        body.push_str(&format!(
            "Lead's time: {}\n",
            when_long(m.start, m.end, &lead_tz)
        ));
    }
    if let MeetingEvent::Rescheduled {
        previous_start,
        previous_end,
    } = n.event
    {
        body.push_str(&format!(
            "Was:   {}\n",
            when_long(previous_start, previous_end, &tz)
        ));
    }
    body.push_str(&format!(
        "Lead:  {} <{}>\n",
        m.attendee_name(),
        m.attendee.email.trim()
    ));
    if let Some(c) = n.company() {
        body.push_str(&format!("Company: {c}\n"));
    }
    if let Some(p) = place(m) {
        body.push_str(&format!("Where: {p}\n"));
    }
    let description = invite::clean_block(&m.description, invite::MAX_DESCRIPTION);
    if !description.is_empty() && n.event.method() == Method::Request {
        body.push_str(&format!("\n{description}\n"));
    }
    let links = links(m, n.event);
    if !links.is_empty() {
        body.push_str(&format!("\n{links}"));
    }
    (subject, body)
}

impl Renderer {
    /// Everything a meeting notice sends: the two invitation emails (when
    /// `[notify.email]` is set), the rep's Slack line on the team's channel (when
    /// `[notify.slack]` is set) and the `meeting.*` event to each subscribed webhook,
    /// stamped `at`.
    pub fn meeting(&self, n: &MeetingNotice, at: Timestamp) -> Rendered {
        let mut out = Rendered::default();
        if !self.cfg.enabled {
            return out;
        }
        let kind = Kind::Meeting;
        if let Err(why) = n.meeting.check() {
            out.skip("all", kind, None, why);
            return out;
        }
        match &self.cfg.email {
            Some(e) => out.extend(meeting_emails(n, e)),
            None => out.skip(
                "email",
                kind,
                None,
                "email is not configured ([notify.email]): no invitation is sent",
            ),
        }
        match self.slack_key_for_team(n.team.as_deref()) {
            Some(key) => out.messages.push(Outgoing {
                channel: Channel::Slack,
                recipient: key,
                kind,
                lead_id: n.lead_id.clone(),
                payload: meeting_slack(n),
            }),
            None => out.skip(
                "slack",
                kind,
                Some(&n.rep_id),
                "no Slack webhook configured ([notify.slack])",
            ),
        }
        let event = n.event.event_type();
        let payload = meeting_event_payload(n, at);
        out.messages
            .extend(self.cfg.webhooks_for(event).map(|w| Outgoing {
                channel: Channel::Webhook {
                    name: w.name.clone(),
                },
                recipient: w.name.clone(),
                kind: Kind::Webhook,
                lead_id: n.lead_id.clone(),
                payload: payload.clone(),
            }));
        out
    }
}

/// The plain line: "Meeting booked for Tue, Mar 3, 10:00 EST (UTC-05:00) with Jane Doe
/// (Acme)" in the rep's zone.
pub(crate) fn meeting_slack_text(n: &MeetingNotice) -> String {
    let m = &n.meeting;
    let tz = zone(&n.rep_time_zone);
    let lead = n.lead_label();
    match n.event {
        MeetingEvent::Booked => format!(
            "Meeting booked for {} with {lead}",
            when_short(m.start, &tz)
        ),
        MeetingEvent::Rescheduled { previous_start, .. } => format!(
            "Meeting rescheduled to {} with {lead} (was {})",
            when_short(m.start, &tz),
            when_short(previous_start, &tz)
        ),
        MeetingEvent::Cancelled => format!(
            "Meeting cancelled: {} with {lead}",
            when_short(m.start, &tz)
        ),
    }
}

fn meeting_slack(n: &MeetingNotice) -> Value {
    let text = meeting_slack_text(n);
    let mention = n
        .rep_slack
        .as_deref()
        .and_then(slack_member_id)
        .map(|id| format!("<@{id}> "))
        .unwrap_or_default();
    let m = &n.meeting;
    let mut b = Blocks::default();
    b.section(&format!(":calendar: {mention}{}", mrkdwn_escape(&text)));
    let mut context = vec![format!(
        "Lead's time: {}",
        mrkdwn_escape(&when_long(m.start, m.end, &zone(&n.lead_time_zone)))
    )];
    if let Some(u) = m.clean_url() {
        context.push(slack::link(u, "Meeting link"));
    }
    b.context(&context);
    b.into_payload(&text)
}

/// The `meeting.booked` / `meeting.rescheduled` / `meeting.cancelled` body (Standard
/// Webhooks: `{type, timestamp, data}`). The reschedule and cancel links are left out:
/// they are credentials.
pub fn meeting_event_payload(n: &MeetingNotice, at: Timestamp) -> Value {
    let m = &n.meeting;
    let method = n.event.method();
    let mut data = json!({
        "lead_id": n.lead_id,
        "rep_id": n.rep_id,
        "team": n.team,
        "meeting": {
            "uid": invite::clean_line(&m.uid, invite::MAX_UID),
            "sequence": m.sequence,
            "method": method.as_str(),
            "status": if method == Method::Cancel { "cancelled" } else { "confirmed" },
            "start": m.start.to_string(),
            "end": m.end.to_string(),
            "summary": m.clean_summary(),
            "location": m.clean_location(),
            "url": m.clean_url(),
            "organizer": {"name": m.organizer_name(), "email": m.organizer.email.trim()},
            "attendee": {"name": m.attendee_name(), "email": m.attendee.email.trim()},
            "lead_time_zone": n.lead_time_zone,
            "rep_time_zone": n.rep_time_zone,
            "created": m.created.map(|t| t.to_string()),
        },
    });
    if let MeetingEvent::Rescheduled {
        previous_start,
        previous_end,
    } = n.event
    {
        data["previous"] = json!({
            "start": previous_start.to_string(),
            "end": previous_end.to_string(),
        });
    }
    json!({
        "type": n.event.event_type().as_str(),
        "timestamp": at.to_string(),
        "data": data,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn times_in_the_readers_zone_with_offset() {
        let ny = TimeZone::get("America/New_York").unwrap();
        assert_eq!(
            when_long(ts("2026-03-03T15:00:00Z"), ts("2026-03-03T15:30:00Z"), &ny),
            "Tuesday, March 3, 2026, 10:00–10:30 EST (UTC-05:00, America/New_York)"
        );
        let kolkata = TimeZone::get("Asia/Kolkata").unwrap();
        assert_eq!(
            when_short(ts("2026-03-03T15:00:00Z"), &kolkata),
            "Tue, Mar 3, 20:30 IST (UTC+05:30)"
        );
        assert_eq!(
            when_short(ts("2026-03-03T15:00:00Z"), &TimeZone::UTC),
            "Tue, Mar 3, 15:00 UTC"
        );
        // Across midnight the end names its day.
        assert_eq!(
            when_long(ts("2026-03-03T04:45:00Z"), ts("2026-03-03T05:15:00Z"), &ny),
            "Monday, March 2, 2026, 23:45–Tuesday, March 3, 00:15 EST (UTC-05:00, America/New_York)"
        );
    }
}
