//! End to end at the notify level: a booked meeting's invitations rendered, delivered over
//! SMTP to the real test server, and read back from the received MIME message with an
//! independent MIME parser (`mail-parser`) and iCalendar parser (`calcard`).

mod common;
mod invite_support;

use common::{env_of, parse_config};
use invite_support::parse;
use leadrouter_notify::invite::{Meeting, MeetingEvent, Person};
use leadrouter_notify::{Channel, DeliveryResult, MeetingNotice, Notifier, Renderer};
use leadrouter_testsupport::smtp::{Mail, SmtpServer};
use mail_parser::{MessageParser, MimeHeaders, PartType};

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

const CFG: &str = r#"
[notify]
base_url = "https://leadrouter.example"
timeout_secs = 5
[notify.email]
smtp_url_env = "SMTP_URL"
from = "Northwind Sales <sales@northwind.example>"
"#;

fn notice(event: MeetingEvent, meeting: Meeting) -> MeetingNotice {
    MeetingNotice {
        lead_id: "lead-5".into(),
        meeting,
        event,
        lead_time_zone: "Asia/Kolkata".into(),
        rep_id: "alex".into(),
        rep_time_zone: "America/Los_Angeles".into(),
        rep_slack: None,
        team: None,
        lead_company: None,
    }
}

fn booked() -> Meeting {
    Meeting {
        uid: Meeting::uid_for("b-31", "leadrouter.example"),
        sequence: 0,
        start: ts("2026-07-14T16:00:00Z"),
        end: ts("2026-07-14T16:45:00Z"),
        summary: "Northwind demo, with Zoë".into(),
        description: "Agenda: pricing; SSO, audit logs.".into(),
        organizer: Person {
            name: "Alex Kim".into(),
            email: "alex.kim@northwind.example".into(),
        },
        attendee: Person {
            name: "Zoë Ångström-Nair".into(),
            email: "zoe@brightlane.example".into(),
        },
        location: None,
        url: Some("https://meet.northwind.example/alex".into()),
        reschedule_url: Some("https://leadrouter.example/book/r/t31".into()),
        cancel_url: Some("https://leadrouter.example/book/c/t31".into()),
        created: Some(ts("2026-07-01T08:00:00Z")),
        dtstamp: ts("2026-07-01T08:00:00Z"),
    }
}

/// What the received message holds: the text, the `text/calendar` alternative (with its
/// `method` parameter) and the `invite.ics` attachment, by walking the MIME tree.
struct Received {
    subject: String,
    text: String,
    calendar: String,
    calendar_method: String,
    calendar_charset: String,
    attachment: String,
    attachment_type: String,
    shape: Vec<String>,
}

fn read(mail: &Mail) -> Received {
    let msg = MessageParser::default()
        .parse(mail.data.as_bytes())
        .expect("a MIME message");
    let mut r = Received {
        subject: msg.subject().unwrap_or_default().to_string(),
        text: String::new(),
        calendar: String::new(),
        calendar_method: String::new(),
        calendar_charset: String::new(),
        attachment: String::new(),
        attachment_type: String::new(),
        shape: Vec::new(),
    };
    for part in &msg.parts {
        let ct = part.content_type().expect("every part has a Content-Type");
        let kind = format!(
            "{}/{}",
            ct.ctype().to_ascii_lowercase(),
            ct.subtype().unwrap_or("").to_ascii_lowercase()
        );
        r.shape.push(kind.clone());
        let body = || String::from_utf8(part.contents().to_vec()).expect("UTF-8");
        match (kind.as_str(), part.attachment_name()) {
            ("text/plain", None) => {
                assert!(matches!(part.body, PartType::Text(_)));
                r.text = body();
            }
            ("text/calendar", None) => {
                r.calendar = body();
                r.calendar_method = ct.attribute("method").unwrap_or("").to_string();
                r.calendar_charset = ct.attribute("charset").unwrap_or("").to_string();
            }
            (_, Some("invite.ics")) => {
                r.attachment = body();
                r.attachment_type = kind.clone();
            }
            _ => {}
        }
    }
    r
}

#[tokio::test(flavor = "multi_thread")]
async fn booked_invitations_arrive_and_parse_back() {
    let smtp = SmtpServer::start();
    let cfg = parse_config(CFG);
    let notifier = Notifier::new(&cfg, &env_of(&[("SMTP_URL", smtp.url())])).unwrap();
    let renderer = Renderer::new(&cfg).unwrap();
    let rendered = renderer.meeting(
        &notice(MeetingEvent::Booked, booked()),
        ts("2026-07-01T08:00:01Z"),
    );
    let emails: Vec<_> = rendered
        .messages
        .iter()
        .filter(|m| m.channel == Channel::Email)
        .collect();
    assert_eq!(emails.len(), 2, "{:#?}", rendered);
    for (i, m) in emails.iter().enumerate() {
        assert_eq!(
            notifier.deliver(m, &format!("meeting-b31-0-{i}")).await,
            DeliveryResult::Delivered
        );
    }
    let inbox = smtp.wait_for_count(2);
    let lead = inbox
        .iter()
        .find(|m| m.is_to("zoe@brightlane.example"))
        .expect("the lead's email");
    let rep = inbox
        .iter()
        .find(|m| m.is_to("alex.kim@northwind.example"))
        .expect("the rep's email");

    for mail in [lead, rep] {
        let r = read(mail);
        // multipart/mixed [ multipart/alternative [ text/plain, text/calendar ],
        // application/ics attachment ] — the shape Gmail and Outlook send and recognise.
        assert_eq!(
            r.shape,
            [
                "multipart/mixed",
                "multipart/alternative",
                "text/plain",
                "text/calendar",
                "application/ics"
            ],
            "MIME shape"
        );
        assert_eq!(r.calendar_method, "REQUEST");
        assert!(r.calendar_charset.eq_ignore_ascii_case("utf-8"));
        assert_eq!(r.attachment_type, "application/ics");
        assert_eq!(
            r.attachment, r.calendar,
            "the attachment is the same invitation"
        );
        let p = parse(&r.calendar);
        assert_eq!(p.method, "REQUEST");
        assert_eq!(p.uid, "booking-b-31@leadrouter.example");
        assert_eq!(p.sequence, 0);
        assert_eq!(p.status, "CONFIRMED");
        assert_eq!(p.start, ts("2026-07-14T16:00:00Z").as_second());
        assert_eq!(p.end, ts("2026-07-14T16:45:00Z").as_second());
        assert_eq!(p.summary, "Northwind demo, with Zoë");
        assert_eq!(p.organizer.cn, "Alex Kim");
        assert_eq!(p.organizer.address, "alex.kim@northwind.example");
        assert_eq!(p.attendees.len(), 1);
        assert_eq!(p.attendees[0].cn, "Zoë Ångström-Nair");
        assert_eq!(p.attendees[0].address, "zoe@brightlane.example");
        assert!(
            p.description
                .starts_with("Agenda: pricing; SSO, audit logs.\n")
        );
    }

    // Each in the reader's zone: 16:00 UTC is 21:30 in Kolkata and 09:00 in Los Angeles.
    let l = read(lead);
    assert_eq!(
        l.subject,
        "Confirmed: Northwind demo, with Zoë with Alex Kim, Tue, Jul 14, 21:30 IST (UTC+05:30)"
    );
    assert!(
        l.text
            .replace("\r\n", "\n")
            .contains("When:  Tuesday, July 14, 2026, 21:30–22:15 IST (UTC+05:30, Asia/Kolkata)\n"),
        "{}",
        l.text
    );
    assert!(l.text.contains("https://leadrouter.example/book/r/t31"));
    assert!(l.text.contains("https://leadrouter.example/book/c/t31"));
    let r = read(rep);
    assert_eq!(
        r.subject,
        "Meeting booked: Zoë Ångström-Nair, Tue, Jul 14, 09:00 PDT (UTC-07:00)"
    );
    assert!(r.text.replace("\r\n", "\n").contains(
        "When:  Tuesday, July 14, 2026, 09:00–09:45 PDT (UTC-07:00, America/Los_Angeles)\n"
    ));
    assert_eq!(
        lead.header("From").as_deref(),
        Some("\"Alex Kim\" <sales@northwind.example>")
    );
    assert_eq!(lead.header("X-LeadRouter-Lead").as_deref(), Some("lead-5"));
}

#[tokio::test(flavor = "multi_thread")]
async fn cancellation_arrives_as_method_cancel() {
    let smtp = SmtpServer::start();
    let cfg = parse_config(CFG);
    let notifier = Notifier::new(&cfg, &env_of(&[("SMTP_URL", smtp.url())])).unwrap();
    let m = booked().cancelled(ts("2026-07-02T08:00:00Z"));
    let rendered = Renderer::new(&cfg).unwrap().meeting(
        &notice(MeetingEvent::Cancelled, m),
        ts("2026-07-02T08:00:01Z"),
    );
    let lead_msg = rendered
        .messages
        .iter()
        .find(|m| m.recipient == "zoe@brightlane.example")
        .expect("the lead's cancellation");
    assert_eq!(
        notifier.deliver(lead_msg, "meeting-b31-1-lead").await,
        DeliveryResult::Delivered
    );
    let inbox = smtp.wait_for_count(1);
    let r = read(&inbox[0]);
    assert_eq!(r.calendar_method, "CANCEL");
    let p = parse(&r.calendar);
    assert_eq!(
        (p.method.as_str(), p.status.as_str()),
        ("CANCEL", "CANCELLED")
    );
    assert_eq!(p.sequence, 1);
    assert_eq!(p.uid, "booking-b-31@leadrouter.example");
    assert!(r.subject.starts_with("Cancelled: "), "{}", r.subject);
}
