//! The invitations read back by an independent iCalendar parser (`calcard`, Stalwart's
//! RFC 5545 parser): the times in UTC, UID, SEQUENCE, METHOD, STATUS, organizer and
//! attendee with their parameters, and hostile names and texts escaped and folded.

mod invite_support;

use invite_support::{Parsed, parse};
use leadrouter_notify::invite::{FOLD_AT, MAX_SUMMARY, Meeting, Method, Person, ics};

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

fn meeting() -> Meeting {
    Meeting {
        uid: Meeting::uid_for("b-1042", "leadrouter.example"),
        sequence: 0,
        start: ts("2026-03-03T15:00:00Z"),
        end: ts("2026-03-03T15:30:00Z"),
        summary: "Demo: Northwind × Brightlane".into(),
        description: "Intro call booked from the demo form.".into(),
        organizer: Person {
            name: "Alex Kim".into(),
            email: "alex.kim@northwind.example".into(),
        },
        attendee: Person {
            name: "Jane Doe".into(),
            email: "jane@brightlane.example".into(),
        },
        location: None,
        url: Some("https://meet.northwind.example/alex-kim".into()),
        reschedule_url: Some("https://leadrouter.example/book/r/tok1".into()),
        cancel_url: Some("https://leadrouter.example/book/c/tok1".into()),
        created: Some(ts("2026-03-01T12:00:00Z")),
        dtstamp: ts("2026-03-01T12:00:00Z"),
    }
}

/// The wire form every invitation must have, whatever a parser tolerates.
fn assert_wire_form(text: &str) {
    assert!(text.starts_with("BEGIN:VCALENDAR\r\n"), "{text}");
    assert!(text.ends_with("END:VCALENDAR\r\n"), "{text}");
    assert!(
        !text.replace("\r\n", "").contains(['\n', '\r']),
        "a bare CR or LF: {text:?}"
    );
    for line in text.split("\r\n") {
        assert!(
            line.len() <= FOLD_AT,
            "{} octets (max {FOLD_AT}): {line:?}",
            line.len()
        );
        assert!(
            !line.chars().any(|c| c.is_control()),
            "a control character in {line:?}"
        );
    }
}

#[test]
fn booked_invitation_parses_back_with_its_fields() {
    let m = meeting();
    let text = ics(&m, Method::Request);
    assert_wire_form(&text);
    let p = parse(&text);
    assert_eq!(p.method, "REQUEST");
    assert_eq!(p.version, "2.0");
    assert!(p.prodid.starts_with("-//leadrouter//"), "{}", p.prodid);
    assert_eq!(p.uid, "booking-b-1042@leadrouter.example");
    assert_eq!(p.sequence, 0);
    assert_eq!(p.status, "CONFIRMED");
    // Times: the same instants, written in UTC.
    assert_eq!(p.start, ts("2026-03-03T15:00:00Z").as_second());
    assert_eq!(p.end, ts("2026-03-03T15:30:00Z").as_second());
    assert_eq!(p.dtstamp, ts("2026-03-01T12:00:00Z").as_second());
    assert!(text.contains("\r\nDTSTART:20260303T150000Z\r\n"), "{text}");
    assert!(text.contains("\r\nDTEND:20260303T153000Z\r\n"), "{text}");
    assert_eq!(p.summary, "Demo: Northwind × Brightlane");
    assert!(
        p.description
            .starts_with("Intro call booked from the demo form.\n")
    );
    assert!(
        p.description
            .contains("Reschedule: https://leadrouter.example/book/r/tok1"),
        "{}",
        p.description
    );
    assert!(
        p.description
            .contains("Cancel: https://leadrouter.example/book/c/tok1")
    );
    assert_eq!(
        p.location.as_deref(),
        Some("https://meet.northwind.example/alex-kim")
    );
    assert_eq!(p.organizer.cn, "Alex Kim");
    assert_eq!(p.organizer.address, "alex.kim@northwind.example");
    assert_eq!(p.attendees.len(), 1);
    let a = &p.attendees[0];
    assert_eq!(a.cn, "Jane Doe");
    assert_eq!(a.address, "jane@brightlane.example");
    assert_eq!(a.role.as_deref(), Some("REQ-PARTICIPANT"));
    assert_eq!(a.partstat.as_deref(), Some("NEEDS-ACTION"));
    assert_eq!(a.rsvp, Some(true));
}

#[test]
fn reschedule_keeps_the_uid_and_raises_the_sequence() {
    let m = meeting();
    let moved = m.rescheduled(
        ts("2026-03-04T17:00:00Z"),
        ts("2026-03-04T17:45:00Z"),
        ts("2026-03-02T09:00:00Z"),
    );
    let p = parse(&ics(&moved, Method::Request));
    let before = parse(&ics(&m, Method::Request));
    assert_eq!(p.uid, before.uid);
    assert_eq!(p.sequence, before.sequence + 1);
    assert_eq!(p.method, "REQUEST");
    assert_eq!(p.status, "CONFIRMED");
    assert_eq!(p.start, ts("2026-03-04T17:00:00Z").as_second());
    assert_eq!(p.end, ts("2026-03-04T17:45:00Z").as_second());
    assert_eq!(p.dtstamp, ts("2026-03-02T09:00:00Z").as_second());
    assert_eq!(p.attendees[0].address, "jane@brightlane.example");

    // A second move goes on counting.
    let again = moved.rescheduled(moved.start, moved.end, ts("2026-03-02T10:00:00Z"));
    assert_eq!(parse(&ics(&again, Method::Request)).sequence, 2);
}

#[test]
fn cancel_is_method_cancel_status_cancelled_next_sequence() {
    let m = meeting().rescheduled(
        ts("2026-03-04T17:00:00Z"),
        ts("2026-03-04T17:30:00Z"),
        ts("2026-03-02T09:00:00Z"),
    );
    let gone = m.cancelled(ts("2026-03-02T11:00:00Z"));
    let text = ics(&gone, Method::Cancel);
    assert_wire_form(&text);
    let p = parse(&text);
    assert_eq!(p.method, "CANCEL");
    assert_eq!(p.status, "CANCELLED");
    assert_eq!(p.sequence, 2);
    assert_eq!(p.uid, "booking-b-1042@leadrouter.example");
    assert_eq!(p.start, ts("2026-03-04T17:00:00Z").as_second());
    assert_eq!(p.organizer.address, "alex.kim@northwind.example");
    assert_eq!(p.attendees[0].address, "jane@brightlane.example");
    // No links to a meeting that is off.
    assert!(!p.description.contains("Reschedule:"), "{}", p.description);
}

#[test]
fn publish_is_a_copy_without_attendee() {
    let text = ics(&meeting(), Method::Publish);
    assert_wire_form(&text);
    let p = parse(&text);
    assert_eq!(p.method, "PUBLISH");
    assert_eq!(p.status, "CONFIRMED");
    assert!(p.attendees.is_empty(), "{text}");
    assert_eq!(p.organizer.address, "alex.kim@northwind.example");
    assert_eq!(p.start, ts("2026-03-03T15:00:00Z").as_second());
    assert!(
        p.description
            .contains("Cancel: https://leadrouter.example/book/c/tok1")
    );
}

#[test]
fn hostile_names_and_texts_round_trip_escaped_and_folded() {
    let mut m = meeting();
    // A line break trying to add an attendee, and list/parameter separators.
    m.attendee.name = "Jane\r\nATTENDEE:mailto:evil@attacker.example".into();
    m.organizer.name = "Doe, Jane; \"JJ\": the ^ rep".into();
    m.summary = "Demo; with, Jane\\ \nDTSTART:19700101T000000Z".into();
    m.description = "Line one; a, b\\c\r\nLine two\u{7}\u{202E}\nEND:VEVENT".into();
    m.location = Some("Room 4, Floor 2; HQ".into());
    let text = ics(&m, Method::Request);
    assert_wire_form(&text);
    // On the wire: TEXT escaped, CN quoted (RFC 5545 §3.3.11, §3.2).
    let unfolded = text.replace("\r\n ", "");
    for line in [
        "SUMMARY:Demo\\; with\\, Jane\\\\ DTSTART:19700101T000000Z",
        "LOCATION:Room 4\\, Floor 2\\; HQ",
        "ORGANIZER;CN=\"Doe, Jane; 'JJ': the  rep\":mailto:alex.kim@northwind.example",
    ] {
        assert!(
            unfolded.contains(&format!("\r\n{line}\r\n")),
            "no line {line:?} in\n{text}"
        );
    }
    assert!(
        unfolded.contains("\r\nDESCRIPTION:Line one\\; a\\, b\\\\c\\nLine two\\nEND:VEVENT\\n"),
        "{text}"
    );
    let p = parse(&text);
    assert_eq!(p.attendees.len(), 1, "one attendee only");
    assert_eq!(p.attendees[0].cn, "Jane");
    assert_eq!(p.attendees[0].address, "jane@brightlane.example");
    assert_eq!(p.organizer.cn, "Doe, Jane; 'JJ': the  rep");
    assert_eq!(p.summary, "Demo; with, Jane\\ DTSTART:19700101T000000Z");
    assert_eq!(
        p.start,
        ts("2026-03-03T15:00:00Z").as_second(),
        "one DTSTART"
    );
    assert_eq!(p.dtstarts, 1);
    assert!(
        p.description
            .starts_with("Line one; a, b\\c\nLine two\nEND:VEVENT\n"),
        "{:?}",
        p.description
    );
    assert_eq!(p.location.as_deref(), Some("Room 4, Floor 2; HQ"));
    assert_eq!(p.events, 1, "one VEVENT");

    // Very long, multi-byte names and summary: capped, folded on character boundaries,
    // and read back exactly as cleaned.
    let mut m = meeting();
    let long = "Zoë Ångström 名前 🎉 ".repeat(40);
    m.attendee.name = long.clone();
    m.summary = long.clone();
    let text = ics(&m, Method::Request);
    assert_wire_form(&text);
    let p = parse(&text);
    assert_eq!(p.attendees[0].cn, m.attendee_name());
    assert!(p.attendees[0].cn.starts_with("Zoë Ångström 名前 🎉 Zoë"));
    assert!(p.attendees[0].cn.ends_with('…'));
    assert_eq!(p.summary.chars().count(), MAX_SUMMARY);
    assert!(
        long.trim_end()
            .starts_with(p.summary.trim_end_matches('…').trim_end())
    );
}

#[test]
fn every_invitation_shape_is_valid_wire_form() {
    // Plain ASCII, exactly-at-the-limit lines, emoji at fold points, CANCEL.
    for n in [0usize, 1, 60, 61, 62, 63, 64, 65, 66, 67, 68, 100, 300] {
        let mut m = meeting();
        m.summary = format!("{}🎉é", "x".repeat(n));
        m.description = "ä".repeat(n);
        for method in [Method::Request, Method::Cancel] {
            let text = ics(&m, method);
            assert_wire_form(&text);
            let p: Parsed = parse(&text);
            assert_eq!(p.summary, m.clean_summary());
            assert_eq!(p.method, method.as_str());
        }
    }
}
