//! Meeting invitations (issue 22, MTG-1/2): the iCalendar object (RFC 5545) sent as an
//! iTIP message (RFC 5546) inside an email (iMIP, RFC 6047), so that Gmail, Outlook and
//! Apple Mail show "Meeting booked with …" with Yes/No buttons and put it in the calendar.
//!
//! # How to call it (booking code, coordinator)
//!
//! ```ignore
//! use leadrouter_notify::invite::{Meeting, MeetingEvent, Person};
//! use leadrouter_notify::render::MeetingNotice;
//!
//! // 1. Booked: build the meeting once and keep uid + sequence with the booking row.
//! let m = Meeting {
//!     uid: Meeting::uid_for(&booking_id, "leadrouter.example.com"),
//!     sequence: 0,
//!     start, end,                                   // jiff::Timestamp, UTC instants
//!     summary: "Demo: Acme × Brightlane".into(),
//!     description: "Intro call booked from the demo form.".into(),
//!     organizer: Person { name: rep.name, email: rep.email },   // the rep
//!     attendee: Person { name: lead_name, email: lead_email },  // the lead
//!     location: None, url: Some(video_link),
//!     reschedule_url: Some(signed_reschedule_link),
//!     cancel_url: Some(signed_cancel_link),
//!     created: Some(now), dtstamp: now,
//! };
//! let notice = MeetingNotice {
//!     lead_id, meeting: m, event: MeetingEvent::Booked,
//!     lead_time_zone: "America/New_York".into(),   // the zone the lead booked in
//!     rep_id: rep.id, rep_time_zone: rep.tz_name,  // the rep's zone
//!     rep_slack: rep.slack, team: decision.team, lead_company: lead.company,
//! };
//! // Emails with the invitation to the lead and the rep, the rep's Slack line and the
//! // `meeting.booked` webhook events: put `rendered.messages` in the outbox.
//! let rendered = renderer.meeting(&notice, now);
//!
//! // 2. Rescheduled: same UID, SEQUENCE + 1, METHOD:REQUEST.
//! let moved = m.rescheduled(new_start, new_end, now);
//! // event: MeetingEvent::Rescheduled { previous_start: m.start, previous_end: m.end }
//!
//! // 3. Cancelled: same UID, SEQUENCE + 1, METHOD:CANCEL, STATUS:CANCELLED.
//! let gone = m.cancelled(now);            // event: MeetingEvent::Cancelled
//! ```
//!
//! Store the new `sequence` with the booking each time: a calendar ignores an update whose
//! SEQUENCE is not above the one it has. [`ics`]`(&m, Method::Publish)` alone gives the
//! VCALENDAR text for an "add to calendar" download on the confirmation page (serve it
//! as `text/calendar; charset=utf-8`).
//!
//! # Why a writer of our own
//!
//! The `icalendar` crate can write METHOD and parameters, but (0.16) it quotes a
//! parameter only when it holds `:` or `;` — a lead named "Doe, Jane" becomes two CN
//! values — passes `"` and line breaks through into parameters (no RFC 6868), folds by
//! mixing character and byte positions, writes parameters in hash-map order, and brings
//! chrono where this workspace uses jiff. What we emit is one fixed shape of about twenty
//! lines, so it is written here, and the tests read every invitation back with an
//! independent parser (`calcard`).
//!
//! Everything a person typed (the lead's name comes from a public form) is cleaned before
//! it is written: control characters and invisible direction marks removed, names on one
//! line without links, every value capped; TEXT escaped (`\\`, `\;`, `\,`, `\n`);
//! parameter values always quoted (`"` and `^` replaced, see `param`); lines folded at 75 octets on UTF-8
//! character boundaries; CRLF line ends.

use crate::config::EventType;
use crate::text::{one_line, shown_person, truncate};
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;

/// Longest SUMMARY / LOCATION kept (characters).
pub const MAX_SUMMARY: usize = 200;
/// Longest DESCRIPTION kept (characters) and its most lines.
pub const MAX_DESCRIPTION: usize = 2000;
pub const MAX_DESCRIPTION_LINES: usize = 40;
/// Longest URL kept; a longer one is left out (a cut URL is a broken link).
pub const MAX_URL: usize = 2000;
/// Longest UID kept.
pub const MAX_UID: usize = 255;
/// The most octets on one line before folding (RFC 5545 §3.1), CRLF excluded.
pub const FOLD_AT: usize = 75;

/// A person in the meeting: the rep (organizer) or the lead (attendee).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub name: String,
    pub email: String,
}

/// One booked meeting, as the invitation describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Meeting {
    /// Stable for the booking's whole life (see [`Meeting::uid_for`]).
    pub uid: String,
    /// 0 when booked; +1 on every reschedule and on the cancellation.
    pub sequence: u32,
    pub start: Timestamp,
    pub end: Timestamp,
    pub summary: String,
    pub description: String,
    /// The rep.
    pub organizer: Person,
    /// The lead.
    pub attendee: Person,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// A video-call or meeting page link.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Signed links the booking code serves; written in the emails and the invitation's
    /// description, never in webhooks (they are credentials).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reschedule_url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_url: Option<String>,
    /// When the booking was made.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<Timestamp>,
    /// When this version of the invitation was made (DTSTAMP).
    pub dtstamp: Timestamp,
}

/// The iTIP method of an invitation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    /// A new meeting or an update of one (same UID, higher SEQUENCE).
    Request,
    /// The meeting is off.
    Cancel,
    /// Not an invitation: a copy to import ("add to calendar" on the confirmation page).
    /// No ATTENDEE (RFC 5546 §3.2.1), so importing it asks nobody to reply.
    Publish,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Request => "REQUEST",
            Method::Cancel => "CANCEL",
            Method::Publish => "PUBLISH",
        }
    }
}

/// What happened to a meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MeetingEvent {
    Booked,
    /// Moved; the previous times are shown in the emails and the webhook.
    Rescheduled {
        previous_start: Timestamp,
        previous_end: Timestamp,
    },
    Cancelled,
}

impl MeetingEvent {
    pub fn method(self) -> Method {
        match self {
            MeetingEvent::Cancelled => Method::Cancel,
            _ => Method::Request,
        }
    }

    pub fn event_type(self) -> EventType {
        match self {
            MeetingEvent::Booked => EventType::MeetingBooked,
            MeetingEvent::Rescheduled { .. } => EventType::MeetingRescheduled,
            MeetingEvent::Cancelled => EventType::MeetingCancelled,
        }
    }

    /// "booked", "rescheduled", "cancelled".
    pub fn verb(self) -> &'static str {
        match self {
            MeetingEvent::Booked => "booked",
            MeetingEvent::Rescheduled { .. } => "rescheduled",
            MeetingEvent::Cancelled => "cancelled",
        }
    }
}

impl Meeting {
    /// `booking-<id>@<host>`, with anything but letters, digits, `-`, `_` and `.` in the
    /// id or host replaced by `-`: the same booking always gives the same UID.
    pub fn uid_for(booking_id: &str, host: &str) -> String {
        let safe = |s: &str| -> String {
            s.trim()
                .chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                        c
                    } else {
                        '-'
                    }
                })
                .take(100)
                .collect()
        };
        let host = safe(host);
        let host = if host.is_empty() {
            "leadrouter.invalid".to_string()
        } else {
            host
        };
        format!("booking-{}@{host}", safe(booking_id))
    }

    /// The same meeting at another time: same UID, SEQUENCE + 1, new DTSTAMP.
    pub fn rescheduled(&self, start: Timestamp, end: Timestamp, dtstamp: Timestamp) -> Meeting {
        Meeting {
            sequence: self.sequence.saturating_add(1),
            start,
            end,
            dtstamp,
            ..self.clone()
        }
    }

    /// The cancellation of this meeting: same UID and times, SEQUENCE + 1.
    pub fn cancelled(&self, dtstamp: Timestamp) -> Meeting {
        Meeting {
            sequence: self.sequence.saturating_add(1),
            dtstamp,
            ..self.clone()
        }
    }

    /// What makes a meeting unsendable: an end not after the start, an address that is
    /// not one.
    pub fn check(&self) -> Result<(), String> {
        if self.end <= self.start {
            return Err(format!(
                "the meeting ends ({}) before it starts ({})",
                self.end, self.start
            ));
        }
        for (who, p) in [("organizer", &self.organizer), ("attendee", &self.attendee)] {
            if p.email.trim().parse::<lettre::Address>().is_err() {
                return Err(format!("the {who}'s address {:?} is not valid", p.email));
            }
        }
        if self.uid.trim().is_empty() {
            return Err("the meeting has no UID".into());
        }
        Ok(())
    }

    /// The rep's and the lead's names as written everywhere (one line, no links, capped).
    pub fn organizer_name(&self) -> String {
        shown_person(&self.organizer.name)
    }

    pub fn attendee_name(&self) -> String {
        shown_person(&self.attendee.name)
    }

    pub fn clean_summary(&self) -> String {
        clean_line(&self.summary, MAX_SUMMARY)
    }

    pub fn clean_location(&self) -> Option<String> {
        self.location
            .as_deref()
            .map(|l| clean_line(l, MAX_SUMMARY))
            .filter(|l| !l.is_empty())
    }

    pub fn clean_url(&self) -> Option<&str> {
        self.url.as_deref().and_then(clean_url)
    }

    pub fn clean_reschedule_url(&self) -> Option<&str> {
        self.reschedule_url.as_deref().and_then(clean_url)
    }

    pub fn clean_cancel_url(&self) -> Option<&str> {
        self.cancel_url.as_deref().and_then(clean_url)
    }
}

/// The VCALENDAR text of `m` as an iTIP `method` message, CRLF line ends, folded.
pub fn ics(m: &Meeting, method: Method) -> String {
    let mut w = Writer::default();
    w.line("BEGIN:VCALENDAR");
    w.line(&format!(
        "PRODID:-//leadrouter//leadrouter {}//EN",
        env!("CARGO_PKG_VERSION")
    ));
    w.line("VERSION:2.0");
    w.line("CALSCALE:GREGORIAN");
    w.line(&format!("METHOD:{}", method.as_str()));
    w.line("BEGIN:VEVENT");
    w.text("UID", &clean_line(&m.uid, MAX_UID));
    w.line(&format!("SEQUENCE:{}", m.sequence));
    w.line(&format!("DTSTAMP:{}", utc(m.dtstamp)));
    if let Some(c) = m.created {
        w.line(&format!("CREATED:{}", utc(c)));
    }
    w.line(&format!("DTSTART:{}", utc(m.start)));
    w.line(&format!("DTEND:{}", utc(m.end)));
    w.text("SUMMARY", &m.clean_summary());
    let mut description = clean_block(&m.description, MAX_DESCRIPTION);
    if method != Method::Cancel {
        for (label, url) in [
            ("Reschedule", m.clean_reschedule_url()),
            ("Cancel", m.clean_cancel_url()),
        ] {
            if let Some(u) = url {
                if !description.is_empty() {
                    description.push('\n');
                }
                let _ = write!(description, "{label}: {u}");
            }
        }
    }
    if !description.is_empty() {
        w.text("DESCRIPTION", &description);
    }
    match (m.clean_location(), m.clean_url()) {
        (Some(l), _) => w.text("LOCATION", &l),
        // A video link is where the meeting is: calendars show LOCATION, not URL.
        (None, Some(u)) => w.text("LOCATION", u),
        (None, None) => {}
    }
    if let Some(u) = m.clean_url() {
        w.line(&format!("URL:{u}"));
    }
    w.line(&format!(
        "ORGANIZER;CN={}:{}",
        param(&m.organizer_name()),
        mailto(&m.organizer.email)
    ));
    if method != Method::Publish {
        w.line(&format!(
            "ATTENDEE;CN={};ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:{}",
            param(&m.attendee_name()),
            mailto(&m.attendee.email)
        ));
    }
    w.line(match method {
        Method::Request | Method::Publish => "STATUS:CONFIRMED",
        Method::Cancel => "STATUS:CANCELLED",
    });
    w.line("TRANSP:OPAQUE");
    w.line("END:VEVENT");
    w.line("END:VCALENDAR");
    w.out
}

#[derive(Default)]
struct Writer {
    out: String,
}

impl Writer {
    /// One content line, folded.
    fn line(&mut self, line: &str) {
        fold_into(&mut self.out, line);
    }

    /// A TEXT property.
    fn text(&mut self, name: &str, value: &str) {
        self.line(&format!("{name}:{}", escape_text(value)));
    }
}

/// Append `line` folded at [`FOLD_AT`] octets (a continuation line's leading space
/// counts), never inside a UTF-8 character, and end it with CRLF.
pub fn fold_into(out: &mut String, line: &str) {
    let mut used = 0;
    for c in line.chars() {
        let n = c.len_utf8();
        if used + n > FOLD_AT {
            out.push_str("\r\n ");
            used = 1;
        }
        out.push(c);
        used += n;
    }
    out.push_str("\r\n");
}

/// RFC 5545 §3.3.11 TEXT: `\` `;` `,` and line breaks escaped.
pub fn escape_text(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            ';' => out.push_str("\\;"),
            ',' => out.push_str("\\,"),
            '\n' => out.push_str("\\n"),
            '\r' => {}
            c => out.push(c),
        }
    }
    out
}

/// A parameter value (a CN: the name calendars show), always quoted so `:`, `;` and `,`
/// are plain text. A quoted value cannot hold `"` or controls; RFC 6868's `^'` escape
/// is not read by Outlook or most parsers (they would show `^'`), so `"` becomes `'` and
/// `^`, the escape character, is dropped — the name stays readable everywhere.
fn param(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push('\''),
            '^' => {}
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `mailto:` + the address, with anything outside a conservative set percent-encoded.
fn mailto(email: &str) -> String {
    let mut out = String::from("mailto:");
    for b in email.trim().bytes() {
        if b.is_ascii_alphanumeric() || b"@.+-_~!$'*=".contains(&b) {
            out.push(b as char);
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// `YYYYMMDDTHHMMSSZ` (RFC 5545 §3.3.5 form 2, UTC).
fn utc(t: Timestamp) -> String {
    t.strftime("%Y%m%dT%H%M%SZ").to_string()
}

/// One line of typed text: controls and invisible marks gone, capped.
pub fn clean_line(s: &str, max: usize) -> String {
    truncate(&one_line(s), max)
}

/// Several lines of typed text: each line cleaned like [`clean_line`], at most
/// [`MAX_DESCRIPTION_LINES`] lines, `max` characters in all.
pub fn clean_block(s: &str, max: usize) -> String {
    let s = s.replace("\r\n", "\n").replace('\r', "\n");
    let lines: Vec<String> = s
        .split('\n')
        .map(one_line)
        .take(MAX_DESCRIPTION_LINES)
        .collect();
    let joined = lines.join("\n");
    truncate(joined.trim_matches('\n'), max)
}

/// An http(s) URL a calendar can link: no whitespace or controls, not too long.
pub fn clean_url(u: &str) -> Option<&str> {
    let u = u.trim();
    let ok = (u.starts_with("https://") || u.starts_with("http://"))
        && u.len() <= MAX_URL
        && !u.chars().any(|c| c.is_whitespace() || c.is_control())
        && url::Url::parse(u).is_ok();
    ok.then_some(u)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_at_75_octets_on_char_boundaries() {
        let mut out = String::new();
        let line = format!("SUMMARY:{}", "é".repeat(100));
        fold_into(&mut out, &line);
        for l in out.split("\r\n").filter(|l| !l.is_empty()) {
            assert!(l.len() <= FOLD_AT, "{} octets: {l}", l.len());
        }
        let unfolded = out.trim_end_matches("\r\n").replace("\r\n ", "");
        assert_eq!(unfolded, line);
        let mut short = String::new();
        fold_into(&mut short, "VERSION:2.0");
        assert_eq!(short, "VERSION:2.0\r\n");
        // Exactly 75 octets stay on one line; 76 fold.
        let mut exact = String::new();
        fold_into(&mut exact, &"x".repeat(75));
        assert_eq!(exact.matches("\r\n").count(), 1);
        let mut over = String::new();
        fold_into(&mut over, &"x".repeat(76));
        assert_eq!(over, format!("{}\r\n x\r\n", "x".repeat(75)));
    }

    #[test]
    fn escapes_text_and_params() {
        assert_eq!(escape_text("a\\b;c,d\ne:f"), "a\\\\b\\;c\\,d\\ne:f");
        assert_eq!(param("Doe, Jane; \"JJ\" ^x"), "\"Doe, Jane; 'JJ' x\"");
        assert_eq!(mailto("a b@x.example"), "mailto:a%20b@x.example");
        assert_eq!(mailto("jane+demo@x.example"), "mailto:jane+demo@x.example");
    }

    #[test]
    fn cleans_typed_text() {
        assert_eq!(clean_line("Jane\r\nDoe\u{202E}\u{7}", 50), "Jane Doe");
        assert_eq!(clean_block("a\r\nb\u{1b}[2J\n\n", 50), "a\nb [2J");
        assert_eq!(clean_line(&"x".repeat(300), 10).chars().count(), 10);
        assert_eq!(
            clean_url("https://meet.example/x"),
            Some("https://meet.example/x")
        );
        assert_eq!(clean_url("javascript:alert(1)"), None);
        assert_eq!(clean_url("https://a.example/\nb"), None);
    }

    #[test]
    fn uids_are_stable_and_plain() {
        assert_eq!(
            Meeting::uid_for("42", "leadrouter.example.com"),
            "booking-42@leadrouter.example.com"
        );
        assert_eq!(Meeting::uid_for("a b;c", "h\nx"), "booking-a-b-c@h-x");
    }
}
