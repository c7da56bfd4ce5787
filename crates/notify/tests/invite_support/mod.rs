//! Reading an invitation back with an independent parser: `calcard` (Stalwart's RFC 5545
//! parser), never the code that wrote it. Shared by the invitation and meeting tests.
#![allow(dead_code)]

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameterName,
    ICalendarProperty,
};

#[derive(Debug, Clone, Default)]
pub struct Party {
    pub cn: String,
    /// The address without `mailto:`.
    pub address: String,
    pub role: Option<String>,
    pub partstat: Option<String>,
    pub rsvp: Option<bool>,
}

/// What a calendar client would take from the invitation.
#[derive(Debug, Clone, Default)]
pub struct Parsed {
    pub method: String,
    pub version: String,
    pub prodid: String,
    pub events: usize,
    pub uid: String,
    pub sequence: i64,
    pub status: String,
    /// Unix seconds, each checked to be a UTC (`Z`) date-time.
    pub start: i64,
    pub end: i64,
    pub dtstamp: i64,
    pub dtstarts: usize,
    pub summary: String,
    pub description: String,
    pub location: Option<String>,
    pub organizer: Party,
    pub attendees: Vec<Party>,
}

/// The one value of a property as text (an unescaped `,` or `;` would have made two).
fn value_text(e: &ICalendarEntry) -> String {
    assert_eq!(e.values.len(), 1, "one value in {e:?}");
    e.values[0]
        .clone()
        .into_text()
        .expect("a text value")
        .into_owned()
}

fn prop(c: &ICalendarComponent, p: ICalendarProperty) -> &ICalendarEntry {
    let all: Vec<&ICalendarEntry> = c.entries.iter().filter(|e| e.name == p).collect();
    assert_eq!(all.len(), 1, "exactly one {p:?} in {:#?}", c.entries);
    all[0]
}

fn utc_seconds(e: &ICalendarEntry) -> i64 {
    let dt = e
        .values
        .first()
        .and_then(|v| v.as_partial_date_time())
        .unwrap_or_else(|| panic!("{:?} is not a date-time: {e:?}", e.name));
    assert_eq!(
        (dt.tz_hour, dt.tz_minute, dt.tz_minus),
        (Some(0), Some(0), false),
        "{:?} is not in UTC: {dt:?}",
        e.name
    );
    dt.to_timestamp().expect("a full date-time")
}

fn param(e: &ICalendarEntry, name: ICalendarParameterName) -> Option<String> {
    e.parameter(&name)
        .and_then(|v| v.as_text())
        .map(str::to_string)
}

fn party(e: &ICalendarEntry) -> Party {
    Party {
        cn: param(e, ICalendarParameterName::Cn).unwrap_or_default(),
        address: e
            .calendar_address()
            .expect("a calendar address")
            .to_string(),
        role: param(e, ICalendarParameterName::Role),
        partstat: param(e, ICalendarParameterName::Partstat),
        rsvp: e
            .parameter(&ICalendarParameterName::Rsvp)
            .and_then(|v| v.as_text())
            .map(|t| t.eq_ignore_ascii_case("TRUE")),
    }
}

/// Parse `text` and take the one VEVENT's fields; panics with the parser's complaint
/// when it is not a calendar. (calcard's `strict()` mode refuses any nested BEGIN in
/// 0.3, so the lenient parser is used and checked to have kept every line instead.)
pub fn parse(text: &str) -> Parsed {
    let mut parser = calcard::Parser::new(text);
    let cal: ICalendar = match parser.entry() {
        calcard::Entry::ICalendar(c) => c,
        other => panic!("not an iCalendar object: {other:?}\n{text}"),
    };
    assert!(
        matches!(parser.entry(), calcard::Entry::Eof),
        "something after END:VCALENDAR\n{text}"
    );
    // Every content line became a property or a BEGIN/END: nothing was skipped.
    let lines = text
        .replace("\r\n ", "")
        .split("\r\n")
        .filter(|l| !l.is_empty())
        .count();
    let kept: usize = cal.components.iter().map(|c| c.entries.len() + 2).sum();
    assert_eq!(lines, kept, "the parser dropped lines of\n{text}\n{cal:#?}");
    let root = &cal.components[0];
    assert_eq!(root.component_type, ICalendarComponentType::VCalendar);
    let events: Vec<&ICalendarComponent> = cal
        .components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VEvent)
        .collect();
    assert_eq!(events.len(), 1, "one VEVENT in\n{text}");
    let ev = events[0];
    let dtstarts = ev
        .entries
        .iter()
        .filter(|e| e.name == ICalendarProperty::Dtstart)
        .count();
    Parsed {
        method: text_of(root, ICalendarProperty::Method),
        version: text_of(root, ICalendarProperty::Version),
        prodid: text_of(root, ICalendarProperty::Prodid),
        events: events.len(),
        uid: text_of(ev, ICalendarProperty::Uid),
        sequence: prop(ev, ICalendarProperty::Sequence)
            .values
            .first()
            .and_then(|v| v.as_integer())
            .expect("SEQUENCE is an integer"),
        status: text_of(ev, ICalendarProperty::Status),
        start: utc_seconds(prop(ev, ICalendarProperty::Dtstart)),
        end: utc_seconds(prop(ev, ICalendarProperty::Dtend)),
        dtstamp: utc_seconds(prop(ev, ICalendarProperty::Dtstamp)),
        dtstarts,
        summary: text_of(ev, ICalendarProperty::Summary),
        description: ev
            .entries
            .iter()
            .find(|e| e.name == ICalendarProperty::Description)
            .map(value_text)
            .unwrap_or_default(),
        location: ev
            .entries
            .iter()
            .find(|e| e.name == ICalendarProperty::Location)
            .map(value_text),
        organizer: party(prop(ev, ICalendarProperty::Organizer)),
        attendees: ev
            .entries
            .iter()
            .filter(|e| e.name == ICalendarProperty::Attendee)
            .map(party)
            .collect(),
    }
}

fn text_of(c: &ICalendarComponent, p: ICalendarProperty) -> String {
    value_text(prop(c, p))
}
