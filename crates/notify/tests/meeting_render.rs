//! The messages of a meeting (issue 22): the lead's and the rep's emails in their own
//! zones with the invitation attached, the rep's Slack line, the `meeting.*` webhooks.

mod common;
mod invite_support;

use common::parse_config;
use invite_support::parse;
use leadrouter_notify::invite::{Meeting, MeetingEvent, Person};
use leadrouter_notify::{
    Channel, InvitationEmail, Kind, MeetingNotice, Outgoing, Rendered, Renderer,
};
use serde_json::Value;

const CFG: &str = r#"
[notify]
base_url = "https://leadrouter.example"
[notify.slack]
default_webhook_env = "SLACK_WEBHOOK_URL"
team_webhooks_env = { "emea" = "SLACK_WEBHOOK_EMEA" }
[notify.email]
smtp_url_env = "LEADROUTER_SMTP_URL"
from = "Northwind Sales <sales@northwind.example>"
[[notify.webhook]]
name = "crm"
url = "https://crm.example.com/hooks/leadrouter"
secret_env = "CRM_WEBHOOK_SECRET"
events = ["lead.assigned", "meeting.booked", "meeting.rescheduled", "meeting.cancelled"]
[[notify.webhook]]
name = "warehouse"
url = "https://dw.example.com/hooks"
secret_env = "DW_WEBHOOK_SECRET"
events = ["lead.assigned"]
"#;

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

pub fn notice(event: MeetingEvent) -> MeetingNotice {
    MeetingNotice {
        lead_id: "lead-77".into(),
        meeting: Meeting {
            uid: Meeting::uid_for("b-9", "leadrouter.example"),
            sequence: 0,
            start: ts("2026-03-03T15:00:00Z"),
            end: ts("2026-03-03T15:30:00Z"),
            summary: "Northwind demo".into(),
            description: "Booked from the demo request form.".into(),
            organizer: Person {
                name: "Alex Kim".into(),
                email: "alex.kim@northwind.example".into(),
            },
            attendee: Person {
                name: "Jane Doe".into(),
                email: "jane@brightlane.example".into(),
            },
            location: None,
            url: Some("https://meet.northwind.example/alex".into()),
            reschedule_url: Some("https://leadrouter.example/book/r/tok9".into()),
            cancel_url: Some("https://leadrouter.example/book/c/tok9".into()),
            created: Some(ts("2026-03-01T12:00:00Z")),
            dtstamp: ts("2026-03-01T12:00:00Z"),
        },
        event,
        lead_time_zone: "America/New_York".into(),
        rep_id: "alex".into(),
        rep_time_zone: "Europe/Berlin".into(),
        rep_slack: Some("U024BE7LH".into()),
        team: Some("emea".into()),
        lead_company: Some("Brightlane".into()),
    }
}

fn render(n: &MeetingNotice) -> Rendered {
    Renderer::new(&parse_config(CFG))
        .unwrap()
        .meeting(n, ts("2026-03-01T12:00:05Z"))
}

fn email_to(r: &Rendered, address: &str) -> InvitationEmail {
    let found: Vec<&Outgoing> = r
        .messages
        .iter()
        .filter(|m| m.channel == Channel::Email && m.recipient == address)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "one email to {address} in {:#?}",
        r.messages
    );
    assert_eq!(found[0].kind, Kind::Meeting);
    assert_eq!(found[0].lead_id, "lead-77");
    serde_json::from_value(found[0].payload.clone()).unwrap()
}

fn one(r: &Rendered, channel: &Channel) -> Value {
    let found: Vec<&Outgoing> = r
        .messages
        .iter()
        .filter(|m| &m.channel == channel)
        .collect();
    assert_eq!(found.len(), 1, "one {channel:?} in {:#?}", r.messages);
    found[0].payload.clone()
}

#[test]
fn booked_sends_both_invitations_in_each_readers_zone() {
    let r = render(&notice(MeetingEvent::Booked));
    assert!(r.skipped.is_empty(), "{:#?}", r.skipped);
    // 2 emails, 1 Slack, 1 webhook (the warehouse does not subscribe).
    assert_eq!(r.messages.len(), 4, "{:#?}", r.messages);

    let lead = email_to(&r, "jane@brightlane.example");
    let e = &lead.email;
    assert_eq!(e.from, "Alex Kim <sales@northwind.example>");
    assert_eq!(
        e.reply_to.as_deref(),
        Some("Alex Kim <alex.kim@northwind.example>")
    );
    assert_eq!(e.to, "Jane Doe <jane@brightlane.example>");
    // 15:00 UTC is 10:00 in New York (EST, UTC-05:00).
    assert_eq!(
        e.subject,
        "Confirmed: Northwind demo with Alex Kim, Tue, Mar 3, 10:00 EST (UTC-05:00)"
    );
    assert!(
        e.text
            .starts_with("Hi Jane,\n\nYour meeting with Alex Kim is booked.\n"),
        "{}",
        e.text
    );
    assert!(
        e.text.contains(
            "When:  Tuesday, March 3, 2026, 10:00–10:30 EST (UTC-05:00, America/New_York)\n"
        ),
        "{}",
        e.text
    );
    assert!(
        e.text
            .contains("With:  Alex Kim <alex.kim@northwind.example>\n")
    );
    assert!(
        e.text
            .contains("Where: https://meet.northwind.example/alex\n")
    );
    assert!(
        e.text
            .contains("Reschedule: https://leadrouter.example/book/r/tok9\n")
    );
    assert!(
        e.text
            .contains("Cancel: https://leadrouter.example/book/c/tok9\n")
    );
    assert!(
        !e.text.contains("Berlin"),
        "the lead sees their own zone only"
    );
    let cal = lead.calendar.as_ref().expect("an invitation");
    assert_eq!(cal.method, "REQUEST");
    let p = parse(&cal.ics);
    assert_eq!(p.method, "REQUEST");
    assert_eq!(p.uid, "booking-b-9@leadrouter.example");
    assert_eq!(p.start, ts("2026-03-03T15:00:00Z").as_second());
    assert_eq!(p.organizer.address, "alex.kim@northwind.example");
    assert_eq!(p.attendees[0].address, "jane@brightlane.example");

    let rep = email_to(&r, "alex.kim@northwind.example");
    let e = &rep.email;
    assert_eq!(e.from, "Northwind Sales <sales@northwind.example>");
    assert_eq!(
        e.reply_to.as_deref(),
        Some("Jane Doe <jane@brightlane.example>")
    );
    // The same instant is 16:00 in Berlin (CET, UTC+01:00).
    assert_eq!(
        e.subject,
        "Meeting booked: Jane Doe (Brightlane), Tue, Mar 3, 16:00 CET (UTC+01:00)"
    );
    assert!(
        e.text
            .starts_with("Jane Doe (Brightlane) booked a meeting with you.\n")
    );
    assert!(
        e.text.contains(
            "When:  Tuesday, March 3, 2026, 16:00–16:30 CET (UTC+01:00, Europe/Berlin)\n"
        ),
        "{}",
        e.text
    );
    assert!(e.text.contains(
        "Lead's time: Tuesday, March 3, 2026, 10:00–10:30 EST (UTC-05:00, America/New_York)\n"
    ));
    assert!(
        e.text
            .contains("Lead:  Jane Doe <jane@brightlane.example>\n")
    );
    assert!(
        e.text
            .contains("Reschedule: https://leadrouter.example/book/r/tok9\n")
    );
    assert_eq!(rep.calendar, lead.calendar, "one invitation for both");
}

#[test]
fn slack_says_meeting_booked_for_the_time_with_the_lead() {
    let r = render(&notice(MeetingEvent::Booked));
    let s = one(&r, &Channel::Slack);
    let out = r
        .messages
        .iter()
        .find(|m| m.channel == Channel::Slack)
        .unwrap();
    assert_eq!(out.recipient, "team:emea", "the rep's team channel");
    assert_eq!(
        s["text"],
        "Meeting booked for Tue, Mar 3, 16:00 CET (UTC+01:00) with Jane Doe (Brightlane)"
    );
    let section = s["blocks"][0]["text"]["text"].as_str().unwrap();
    assert!(
        section.starts_with(":calendar: <@U024BE7LH> Meeting booked for "),
        "{section}"
    );
    let context = s["blocks"][1].to_string();
    assert!(context.contains("10:00–10:30 EST"), "{context}");

    // A lead named to ping the channel pings nobody.
    let mut n = notice(MeetingEvent::Booked);
    n.meeting.attendee.name = "<!channel> Mallory".into();
    let s = one(&render(&n), &Channel::Slack);
    let text = s["text"].as_str().unwrap();
    assert!(!text.contains("<!channel>"), "{text}");
    assert!(text.contains("&lt;!channel&gt; Mallory"), "{text}");
}

#[test]
fn webhooks_carry_the_meeting_without_the_links() {
    let r = render(&notice(MeetingEvent::Booked));
    let w = one(&r, &Channel::Webhook { name: "crm".into() });
    assert_eq!(w["type"], "meeting.booked");
    assert_eq!(w["timestamp"], "2026-03-01T12:00:05Z");
    let d = &w["data"];
    assert_eq!(d["lead_id"], "lead-77");
    assert_eq!(d["rep_id"], "alex");
    assert_eq!(d["meeting"]["uid"], "booking-b-9@leadrouter.example");
    assert_eq!(d["meeting"]["sequence"], 0);
    assert_eq!(d["meeting"]["status"], "confirmed");
    assert_eq!(d["meeting"]["start"], "2026-03-03T15:00:00Z");
    assert_eq!(d["meeting"]["end"], "2026-03-03T15:30:00Z");
    assert_eq!(d["meeting"]["attendee"]["email"], "jane@brightlane.example");
    assert_eq!(d["meeting"]["organizer"]["name"], "Alex Kim");
    assert_eq!(d["meeting"]["lead_time_zone"], "America/New_York");
    let body = w.to_string();
    assert!(
        !body.contains("tok9"),
        "signed links are credentials: {body}"
    );

    // Rescheduled and cancelled.
    let mut n = notice(MeetingEvent::Rescheduled {
        previous_start: ts("2026-03-03T15:00:00Z"),
        previous_end: ts("2026-03-03T15:30:00Z"),
    });
    n.meeting = n.meeting.rescheduled(
        ts("2026-03-05T14:00:00Z"),
        ts("2026-03-05T14:30:00Z"),
        ts("2026-03-02T08:00:00Z"),
    );
    let w = one(&render(&n), &Channel::Webhook { name: "crm".into() });
    assert_eq!(w["type"], "meeting.rescheduled");
    assert_eq!(w["data"]["meeting"]["sequence"], 1);
    assert_eq!(w["data"]["previous"]["start"], "2026-03-03T15:00:00Z");
    assert_eq!(w["data"]["meeting"]["start"], "2026-03-05T14:00:00Z");

    let mut n = notice(MeetingEvent::Cancelled);
    n.meeting = n.meeting.cancelled(ts("2026-03-02T08:00:00Z"));
    let w = one(&render(&n), &Channel::Webhook { name: "crm".into() });
    assert_eq!(w["type"], "meeting.cancelled");
    assert_eq!(w["data"]["meeting"]["status"], "cancelled");
    assert_eq!(w["data"]["meeting"]["method"], "CANCEL");
}

#[test]
fn reschedule_and_cancel_send_the_update_with_the_next_sequence() {
    let booked = notice(MeetingEvent::Booked);
    let mut n = notice(MeetingEvent::Rescheduled {
        previous_start: booked.meeting.start,
        previous_end: booked.meeting.end,
    });
    n.meeting = booked.meeting.rescheduled(
        ts("2026-03-05T14:00:00Z"),
        ts("2026-03-05T14:30:00Z"),
        ts("2026-03-02T08:00:00Z"),
    );
    let r = render(&n);
    let lead = email_to(&r, "jane@brightlane.example");
    assert!(
        lead.email
            .subject
            .starts_with("Updated: Northwind demo with Alex Kim, now Thu, Mar 5, 09:00 EST")
    );
    assert!(
        lead.email
            .text
            .contains("When:  Thursday, March 5, 2026, 09:00–09:30 EST")
    );
    assert!(
        lead.email
            .text
            .contains("Was:   Tuesday, March 3, 2026, 10:00–10:30 EST")
    );
    let p = parse(&lead.calendar.unwrap().ics);
    assert_eq!((p.method.as_str(), p.sequence), ("REQUEST", 1));
    assert_eq!(p.uid, "booking-b-9@leadrouter.example");
    assert_eq!(p.start, ts("2026-03-05T14:00:00Z").as_second());
    let slack = one(&r, &Channel::Slack);
    assert_eq!(
        slack["text"],
        "Meeting rescheduled to Thu, Mar 5, 15:00 CET (UTC+01:00) with Jane Doe (Brightlane) (was Tue, Mar 3, 16:00 CET (UTC+01:00))"
    );

    let mut n = notice(MeetingEvent::Cancelled);
    n.meeting = booked
        .meeting
        .rescheduled(
            ts("2026-03-05T14:00:00Z"),
            ts("2026-03-05T14:30:00Z"),
            ts("2026-03-02T08:00:00Z"),
        )
        .cancelled(ts("2026-03-02T09:00:00Z"));
    let r = render(&n);
    for to in ["jane@brightlane.example", "alex.kim@northwind.example"] {
        let e = email_to(&r, to);
        let cal = e.calendar.expect("the cancellation");
        assert_eq!(cal.method, "CANCEL");
        let p = parse(&cal.ics);
        assert_eq!(
            (p.method.as_str(), p.status.as_str(), p.sequence),
            ("CANCEL", "CANCELLED", 2)
        );
        assert!(
            e.email.subject.starts_with("Cancelled: ")
                || e.email.subject.starts_with("Meeting cancelled: ")
        );
        assert!(
            !e.email.text.contains("tok9"),
            "no links to a cancelled meeting: {}",
            e.email.text
        );
    }
    assert_eq!(
        one(&r, &Channel::Slack)["text"],
        "Meeting cancelled: Thu, Mar 5, 15:00 CET (UTC+01:00) with Jane Doe (Brightlane)"
    );
}

#[test]
fn hostile_lead_input_stays_on_its_line_and_loses_links() {
    let mut n = notice(MeetingEvent::Booked);
    n.meeting.attendee.name = "Jane\r\nBcc: all@northwind.example https://evil.example/x".into();
    n.lead_company = Some("Acme\nOpen the record: http://evil.example".into());
    let r = render(&n);
    let rep = email_to(&r, "alex.kim@northwind.example");
    assert_eq!(
        rep.email.subject,
        "Meeting booked: Jane Bcc: (Acme Open the record:), Tue, Mar 3, 16:00 CET (UTC+01:00)"
    );
    assert!(
        !rep.email.text.contains("evil.example"),
        "{}",
        rep.email.text
    );
    assert_eq!(
        rep.email.reply_to.as_deref(),
        Some("\"Jane Bcc:\" <jane@brightlane.example>")
    );
    let p = parse(&rep.calendar.unwrap().ics);
    assert_eq!(p.attendees.len(), 1);
    assert_eq!(p.attendees[0].cn, "Jane Bcc:");
}

#[test]
fn what_cannot_be_sent_is_reported() {
    let mut n = notice(MeetingEvent::Booked);
    n.meeting.attendee.email = "not an address".into();
    let r = render(&n);
    assert!(r.messages.is_empty(), "{:#?}", r.messages);
    assert_eq!(r.skipped.len(), 1);
    assert!(
        r.skipped[0].reason.contains("attendee's address"),
        "{:?}",
        r.skipped
    );

    let mut n = notice(MeetingEvent::Booked);
    n.meeting.end = n.meeting.start;
    let r = render(&n);
    assert!(r.messages.is_empty());
    assert!(r.skipped[0].reason.contains("before it starts"));

    // No [notify.email] and no Slack: the webhook still goes, the rest is reported.
    let cfg = parse_config(
        r#"
[notify]
base_url = "https://leadrouter.example"
[[notify.webhook]]
name = "crm"
url = "https://crm.example.com/hooks/leadrouter"
secret_env = "CRM_WEBHOOK_SECRET"
"#,
    );
    let r = Renderer::new(&cfg)
        .unwrap()
        .meeting(&notice(MeetingEvent::Booked), ts("2026-03-01T12:00:05Z"));
    assert_eq!(
        r.messages.len(),
        1,
        "webhooks default to every event: {:#?}",
        r.messages
    );
    assert_eq!(
        r.messages[0].channel,
        Channel::Webhook { name: "crm".into() }
    );
    let skipped: Vec<&str> = r.skipped.iter().map(|s| s.channel.as_str()).collect();
    assert_eq!(skipped, ["email", "slack"]);
}

#[test]
fn rep_address_sender_writes_as_the_rep() {
    let cfg = CFG.replace(
        "from = \"Northwind Sales <sales@northwind.example>\"",
        "from = \"Northwind Sales <sales@northwind.example>\"\nconfirmation_sender = \"rep_address\"",
    );
    let r = Renderer::new(&parse_config(&cfg))
        .unwrap()
        .meeting(&notice(MeetingEvent::Booked), ts("2026-03-01T12:00:05Z"));
    let lead = email_to(&r, "jane@brightlane.example");
    assert_eq!(lead.email.from, "Alex Kim <alex.kim@northwind.example>");
    assert_eq!(lead.email.reply_to, None);
    // The rep's own copy still comes from the service address.
    let rep = email_to(&r, "alex.kim@northwind.example");
    assert_eq!(rep.email.from, "Northwind Sales <sales@northwind.example>");
}
