//! Feeds shaped like the vendors' real exports: Google Calendar's secret iCal address
//! (VTIMEZONE with X-LIC-LOCATION, X-WR-TIMEZONE, single events in UTC, overrides with a
//! RECURRENCE-ID, EXDATE, all-day events marked free) and Microsoft 365/Outlook's
//! published calendar (Windows zone names, "Customized Time Zone", X-MICROSOFT-CDO-*
//! busy status, UNTIL in UTC). Each window holds a DST change: Europe/Berlin on
//! 29 March 2026, the US on 8 March 2026. Every busy block and OOF period is asserted.

use chrono::{DateTime, Utc};
use leadrouter_calendar::{Calendar, Interval, ParseOptions};

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn iv(a: &str, b: &str) -> Interval {
    Interval {
        start: at(a),
        end: at(b),
    }
}

fn feed(name: &str) -> String {
    std::fs::read_to_string(format!("{}/tests/feeds/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

#[test]
fn google_export_across_the_berlin_dst_change() {
    // No rep zone given: all-day dates are read in the feed's X-WR-TIMEZONE (Berlin).
    let cal = Calendar::parse(&feed("google.ics"), &ParseOptions::default()).unwrap();
    assert!(cal.warnings().is_empty(), "{:?}", cal.warnings());
    let (from, to) = (at("2026-03-23T00:00:00Z"), at("2026-04-02T00:00:00Z"));
    assert_eq!(
        cal.busy(from, to),
        vec![
            // Mon 23 Mar standup 10:00 CET.
            iv("2026-03-23T09:00:00Z", "2026-03-23T09:30:00Z"),
            // The 30-minute "OOO check-in" blocks time but is not out of office.
            iv("2026-03-24T15:00:00Z", "2026-03-24T15:30:00Z"),
            // Wed 25 Mar standup removed by EXDATE; Thu-Fri all-day "Out of office" (free
            // in Google's export, out of office all the same), Berlin midnights.
            iv("2026-03-25T23:00:00Z", "2026-03-27T23:00:00Z"),
            // The cancelled demo on Fri 27 Mar is gone. Mon 30 Mar: the override moved the
            // standup to 14:00 CEST.
            iv("2026-03-30T12:00:00Z", "2026-03-30T12:30:00Z"),
            // Tue 31 Mar: a timed "Out of office" in UTC.
            iv("2026-03-31T07:00:00Z", "2026-03-31T16:00:00Z"),
            // Wed 1 Apr standup 10:00 CEST: an hour earlier in UTC than before the change.
            iv("2026-04-01T08:00:00Z", "2026-04-01T08:30:00Z"),
        ]
    );
    let oof: Vec<(Interval, String)> = cal
        .out_of_office(from, to)
        .into_iter()
        .map(|o| (o.interval, o.title))
        .collect();
    assert_eq!(
        oof,
        vec![
            (
                iv("2026-03-25T23:00:00Z", "2026-03-27T23:00:00Z"),
                "Out of office".to_string()
            ),
            (
                iv("2026-03-31T07:00:00Z", "2026-03-31T16:00:00Z"),
                "Out of office".to_string()
            ),
        ]
    );
}

#[test]
fn google_export_with_the_reps_zone_reads_all_day_dates_there() {
    let opts = ParseOptions {
        floating_zone: Some(chrono_tz::America::New_York),
        ..ParseOptions::default()
    };
    let cal = Calendar::parse(&feed("google.ics"), &opts).unwrap();
    let oof = cal.out_of_office(at("2026-03-23T00:00:00Z"), at("2026-03-30T00:00:00Z"));
    assert_eq!(
        oof[0].interval,
        iv("2026-03-26T04:00:00Z", "2026-03-28T04:00:00Z")
    );
}

#[test]
fn outlook_export_across_the_us_dst_change() {
    let opts = ParseOptions {
        floating_zone: Some(chrono_tz::America::Los_Angeles),
        ..ParseOptions::default()
    };
    let cal = Calendar::parse(&feed("outlook.ics"), &opts).unwrap();
    // "Customized Time Zone" is no known name: matched by its rules, with a warning.
    assert_eq!(cal.warnings().len(), 1, "{:?}", cal.warnings());
    assert!(cal.warnings()[0].contains("Customized Time Zone"));
    let (from, to) = (at("2026-03-02T08:00:00Z"), at("2026-03-20T07:00:00Z"));
    assert_eq!(
        cal.busy(from, to),
        vec![
            // Pipeline review Tue/Thu 09:00 PST.
            iv("2026-03-03T17:00:00Z", "2026-03-03T18:00:00Z"),
            iv("2026-03-05T17:00:00Z", "2026-03-05T18:00:00Z"),
            // Wed 4 Mar focus time is FREE. Mon 9 Mar, after the change: customer lunch
            // 12:00 PDT in the customised zone.
            iv("2026-03-09T19:00:00Z", "2026-03-09T20:00:00Z"),
            // Tue 10 Mar: the override moved the review to 13:00 PDT.
            iv("2026-03-10T20:00:00Z", "2026-03-10T21:00:00Z"),
            // Thu 12 Mar removed by EXDATE; Fri 13 Mar all-day OOF (Los Angeles midnights).
            iv("2026-03-13T07:00:00Z", "2026-03-14T07:00:00Z"),
            // Mon 16 Mar: an 8-hour "PTO", out of office by its title.
            iv("2026-03-16T16:00:00Z", "2026-03-17T00:00:00Z"),
            // Tue 17 / Thu 19 Mar review at 09:00 PDT.
            iv("2026-03-17T16:00:00Z", "2026-03-17T17:00:00Z"),
            iv("2026-03-19T16:00:00Z", "2026-03-19T17:00:00Z"),
        ]
    );
    let oof: Vec<(Interval, String)> = cal
        .out_of_office(from, to)
        .into_iter()
        .map(|o| (o.interval, o.title))
        .collect();
    assert_eq!(
        oof,
        vec![
            (
                iv("2026-03-13T07:00:00Z", "2026-03-14T07:00:00Z"),
                "Dentist & errands".to_string()
            ),
            (
                iv("2026-03-16T16:00:00Z", "2026-03-17T00:00:00Z"),
                "PTO".to_string()
            ),
        ]
    );
    // UNTIL=20260430T160000Z ends the series: the last review is Thu 30 Apr.
    let late = cal.busy(at("2026-04-27T00:00:00Z"), at("2026-05-10T00:00:00Z"));
    assert_eq!(
        late,
        vec![
            iv("2026-04-28T16:00:00Z", "2026-04-28T17:00:00Z"),
            iv("2026-04-30T16:00:00Z", "2026-04-30T17:00:00Z"),
        ]
    );
}

#[test]
fn a_year_of_weekly_meetings_expands_in_a_long_window() {
    let cal = Calendar::parse(&feed("google.ics"), &ParseOptions::default()).unwrap();
    let busy = cal.busy(at("2026-03-01T00:00:00Z"), at("2027-03-01T00:00:00Z"));
    // Two standups a week for a year, less the one EXDATE; plus the single events.
    let standups = busy
        .iter()
        .filter(|i| (i.end - i.start) == chrono::Duration::minutes(30))
        .count();
    assert_eq!(
        standups,
        104 - 1 + 1,
        "Mon+Wed for 52 weeks, one removed, the check-in"
    );
}

#[test]
fn damaged_feeds_fail_or_parse_but_never_panic() {
    // Every truncation of both feeds, and a few hostile values, parse to an error or a
    // calendar whose queries answer.
    let (from, to) = (at("2026-01-01T00:00:00Z"), at("2027-01-01T00:00:00Z"));
    for name in ["google.ics", "outlook.ics"] {
        let text = feed(name);
        for cut in (0..text.len()).step_by(23) {
            if !text.is_char_boundary(cut) {
                continue;
            }
            if let Ok(cal) = Calendar::parse(&text[..cut], &ParseOptions::default()) {
                let _ = cal.busy(from, to);
                let _ = cal.out_of_office(from, to);
            }
        }
    }
    let hostile = [
        "DTSTART;VALUE=DATE:20261207\r\nDURATION:P99999999W",
        "DTSTART:20261207T090000Z\r\nDURATION:PT999999999999S",
        "DTSTART:99991231T235959Z\r\nDTEND:99991231T235959Z\r\nRRULE:FREQ=SECONDLY",
        "DTSTART:00010101T000000Z\r\nDURATION:PT1S\r\nRRULE:FREQ=SECONDLY",
        "DTSTART;TZID=\"\":20261207T090000\r\nRRULE:FREQ=DAILY;COUNT=0",
        "DTSTART:20261207T090000\r\nRRULE:FREQ=YEARLY;BYMONTH=13;BYMONTHDAY=-40",
    ];
    for h in hostile {
        let text = format!(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:h\r\n{h}\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
        );
        if let Ok(cal) = Calendar::parse(&text, &ParseOptions::default()) {
            let _ = cal.busy(from, to);
            let _ = cal.out_of_office(from, to);
            let _ = cal.busy(at("9999-12-01T00:00:00Z"), at("9999-12-31T00:00:00Z"));
        }
    }
}
