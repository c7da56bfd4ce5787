//! Unit tests of the window logic on small hand-written feeds; the vendor-shaped feeds are
//! in `tests/`.

use super::*;

fn at(s: &str) -> DateTime<Utc> {
    s.parse().unwrap()
}

fn feed(body: &str) -> String {
    format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n{body}END:VCALENDAR\r\n")
}

fn iv(a: &str, b: &str) -> Interval {
    Interval {
        start: at(a),
        end: at(b),
    }
}

#[test]
fn utc_event_busy_and_clipped() {
    let cal = Calendar::parse(
        &feed("BEGIN:VEVENT\r\nUID:1\r\nDTSTART:20261207T090000Z\r\nDTEND:20261207T100000Z\r\nSUMMARY:Call\r\nEND:VEVENT\r\n"),
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!(
        cal.busy(at("2026-12-07T00:00:00Z"), at("2026-12-08T00:00:00Z")),
        vec![iv("2026-12-07T09:00:00Z", "2026-12-07T10:00:00Z")]
    );
    assert_eq!(
        cal.busy(at("2026-12-07T09:30:00Z"), at("2026-12-07T09:45:00Z")),
        vec![iv("2026-12-07T09:30:00Z", "2026-12-07T09:45:00Z")]
    );
    assert!(
        cal.busy(at("2026-12-07T10:00:00Z"), at("2026-12-08T00:00:00Z"))
            .is_empty()
    );
    assert!(
        cal.out_of_office(at("2026-12-01T00:00:00Z"), at("2026-12-31T00:00:00Z"))
            .is_empty()
    );
}

#[test]
fn overlapping_and_touching_blocks_merge() {
    let cal = Calendar::parse(
        &feed(
            "BEGIN:VEVENT\r\nUID:1\r\nDTSTART:20261207T090000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:2\r\nDTSTART:20261207T093000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:3\r\nDTSTART:20261207T103000Z\r\nDURATION:PT30M\r\nEND:VEVENT\r\n\
             BEGIN:VEVENT\r\nUID:4\r\nDTSTART:20261207T120000Z\r\nDURATION:PT30M\r\nEND:VEVENT\r\n",
        ),
        &ParseOptions::default(),
    )
    .unwrap();
    assert_eq!(
        cal.busy(at("2026-12-07T00:00:00Z"), at("2026-12-08T00:00:00Z")),
        vec![
            iv("2026-12-07T09:00:00Z", "2026-12-07T11:00:00Z"),
            iv("2026-12-07T12:00:00Z", "2026-12-07T12:30:00Z")
        ]
    );
}

#[test]
fn floating_times_and_all_day_dates_are_in_the_reps_zone() {
    let body = "BEGIN:VEVENT\r\nUID:1\r\nDTSTART:20261207T090000\r\nDTEND:20261207T100000\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:20261209\r\nDTEND;VALUE=DATE:20261210\r\nSUMMARY:Offsite\r\nEND:VEVENT\r\n";
    let opts = ParseOptions {
        floating_zone: Some(chrono_tz::America::New_York),
        ..ParseOptions::default()
    };
    let cal = Calendar::parse(&feed(body), &opts).unwrap();
    assert_eq!(
        cal.busy(at("2026-12-07T00:00:00Z"), at("2026-12-11T00:00:00Z")),
        vec![
            iv("2026-12-07T14:00:00Z", "2026-12-07T15:00:00Z"),
            iv("2026-12-09T05:00:00Z", "2026-12-10T05:00:00Z")
        ]
    );
}

#[test]
fn transparent_cancelled_and_free_do_not_block() {
    let body = "BEGIN:VEVENT\r\nUID:1\r\nDTSTART:20261207T090000Z\r\nDURATION:PT1H\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:2\r\nDTSTART:20261207T110000Z\r\nDURATION:PT1H\r\nSTATUS:CANCELLED\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:3\r\nDTSTART:20261207T130000Z\r\nDURATION:PT1H\r\nX-MICROSOFT-CDO-BUSYSTATUS:FREE\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:4\r\nDTSTART:20261207T150000Z\r\nDURATION:PT1H\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\n";
    let cal = Calendar::parse(&feed(body), &ParseOptions::default()).unwrap();
    assert_eq!(
        cal.busy(at("2026-12-07T00:00:00Z"), at("2026-12-08T00:00:00Z")),
        vec![iv("2026-12-07T15:00:00Z", "2026-12-07T16:00:00Z")]
    );
}

#[test]
fn out_of_office_by_marker_or_by_a_long_titled_event() {
    let body = "BEGIN:VEVENT\r\nUID:1\r\nDTSTART:20261207T090000Z\r\nDURATION:PT30M\r\nSUMMARY:OOO sync\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:2\r\nDTSTART:20261208T080000Z\r\nDURATION:PT6H\r\nSUMMARY:Vacation (half day)\r\nTRANSP:TRANSPARENT\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:3\r\nDTSTART:20261209T120000Z\r\nDURATION:PT1H\r\nSUMMARY:Dentist\r\nX-MICROSOFT-CDO-BUSYSTATUS:OOF\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:4\r\nDTSTART:20261210T120000Z\r\nDURATION:PT2H\r\nSUMMARY:Away\r\nX-GOOGLE-EVENT-TYPE:outOfOffice\r\nEND:VEVENT\r\n";
    let cal = Calendar::parse(&feed(body), &ParseOptions::default()).unwrap();
    let oof = cal.out_of_office(at("2026-12-07T00:00:00Z"), at("2026-12-14T00:00:00Z"));
    let got: Vec<(Interval, &str)> = oof.iter().map(|o| (o.interval, o.title.as_str())).collect();
    assert_eq!(
        got,
        vec![
            (
                iv("2026-12-08T08:00:00Z", "2026-12-08T14:00:00Z"),
                "Vacation (half day)"
            ),
            (
                iv("2026-12-09T12:00:00Z", "2026-12-09T13:00:00Z"),
                "Dentist"
            ),
            (iv("2026-12-10T12:00:00Z", "2026-12-10T14:00:00Z"), "Away"),
        ]
    );
    // A free-marked OOF event is still busy time.
    assert!(
        cal.busy(at("2026-12-08T00:00:00Z"), at("2026-12-09T00:00:00Z"))
            .contains(&iv("2026-12-08T08:00:00Z", "2026-12-08T14:00:00Z"))
    );
    let none = ParseOptions {
        ooo_title: None,
        ..ParseOptions::default()
    };
    let cal = Calendar::parse(&feed(body), &none).unwrap();
    assert_eq!(
        cal.out_of_office(at("2026-12-07T00:00:00Z"), at("2026-12-14T00:00:00Z"))
            .len(),
        2
    );
}

#[test]
fn out_of_office_at_chains_touching_periods() {
    let body = "BEGIN:VEVENT\r\nUID:1\r\nDTSTART;VALUE=DATE:20261207\r\nDTEND;VALUE=DATE:20261212\r\nSUMMARY:Vacation\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:2\r\nDTSTART;VALUE=DATE:20261212\r\nDTEND;VALUE=DATE:20261214\r\nSUMMARY:Out of office\r\nEND:VEVENT\r\n";
    let cal = Calendar::parse(&feed(body), &ParseOptions::default()).unwrap();
    let now = at("2026-12-08T10:00:00Z");
    let o = cal.out_of_office_at(now, Duration::days(30)).unwrap();
    assert_eq!(
        o.interval,
        iv("2026-12-07T00:00:00Z", "2026-12-14T00:00:00Z")
    );
    assert_eq!(o.title, "Vacation");
    assert!(
        cal.out_of_office_at(at("2026-12-14T00:00:00Z"), Duration::days(30))
            .is_none()
    );
}

#[test]
fn bounds() {
    let opts = ParseOptions {
        limits: Limits {
            max_bytes: 100,
            ..Limits::default()
        },
        ..ParseOptions::default()
    };
    assert!(matches!(
        Calendar::parse(&feed(&"X-PAD:0123456789\r\n".repeat(10)), &opts),
        Err(CalendarError::TooLarge { .. })
    ));
    let opts = ParseOptions {
        limits: Limits {
            max_events: 2,
            ..Limits::default()
        },
        ..ParseOptions::default()
    };
    let ev = "BEGIN:VEVENT\r\nUID:1\r\nDTSTART:20261207T090000Z\r\nEND:VEVENT\r\n".repeat(3);
    assert_eq!(
        Calendar::parse(&feed(&ev), &opts).unwrap_err(),
        CalendarError::TooManyEvents { max: 2 }
    );
    assert_eq!(
        Calendar::parse("<html>", &ParseOptions::default()).unwrap_err(),
        CalendarError::NotICalendar
    );
    assert!(matches!(
        Calendar::parse(
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nEND:VCALENDAR\r\n",
            &ParseOptions::default()
        ),
        Err(CalendarError::Malformed { line: 3, .. })
    ));
    // A minutely rule over a year: at most max_instances_per_rule instances, and the
    // window is cut to max_window.
    let opts = ParseOptions {
        limits: Limits {
            max_instances_per_rule: 50,
            max_window: Duration::days(1),
            ..Limits::default()
        },
        ..ParseOptions::default()
    };
    let body = "BEGIN:VEVENT\r\nUID:m\r\nDTSTART:20261207T000000Z\r\nDURATION:PT1M\r\nRRULE:FREQ=MINUTELY;INTERVAL=2;BYSECOND=0\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:late\r\nDTSTART:20261209T000000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n";
    let cal = Calendar::parse(&feed(body), &opts).unwrap();
    let busy = cal.busy(at("2026-12-07T00:00:00Z"), at("2027-12-07T00:00:00Z"));
    assert_eq!(busy.len(), 50);
    assert_eq!(busy[49].end, at("2026-12-07T01:39:00Z"));
}

#[test]
fn unreadable_events_are_skipped_with_a_warning() {
    let body = "BEGIN:VEVENT\r\nUID:bad\r\nDTSTART:tomorrow\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:ok\r\nDTSTART:20261207T090000Z\r\nDURATION:PT1H\r\nEND:VEVENT\r\n";
    let cal = Calendar::parse(&feed(body), &ParseOptions::default()).unwrap();
    assert_eq!(cal.event_count(), 1);
    assert!(
        cal.warnings()[0].contains("tomorrow"),
        "{:?}",
        cal.warnings()
    );
}

#[test]
fn an_unreadable_rule_keeps_the_first_instance_with_a_warning() {
    let body = "BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20261207T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=SOMETIMES\r\nEND:VEVENT\r\n";
    let cal = Calendar::parse(&feed(body), &ParseOptions::default()).unwrap();
    assert_eq!(
        cal.busy(at("2026-12-01T00:00:00Z"), at("2026-12-31T00:00:00Z")),
        vec![iv("2026-12-07T09:00:00Z", "2026-12-07T10:00:00Z")]
    );
    assert!(
        cal.warnings().iter().any(|w| w.contains("FREQ=SOMETIMES")),
        "{:?}",
        cal.warnings()
    );
}

#[test]
fn a_rule_with_a_multi_byte_character_is_unreadable_not_a_panic() {
    // rrule 0.14 cuts a BYDAY value by bytes and panicked on `TU—`, in an event's rule and
    // in a VTIMEZONE's (found by the `ics` fuzz target; fuzz/corpus/ics/*-non-ascii).
    let body = "BEGIN:VTIMEZONE\r\nTZID:Customized Time Zone\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:-0800\r\nTZOFFSETTO:-0700\r\nRRULE:FREQ=YEARLY;BYDAY=2SU\u{2014};BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n\
                BEGIN:VEVENT\r\nUID:z\r\nDTSTART;TZID=Customized Time Zone:20261208T090000\r\nDURATION:PT1H\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:r\r\nDTSTART:20261207T090000Z\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;BYDAY=MO,TU\u{2014}\r\nEND:VEVENT\r\n";
    let cal = Calendar::parse(&feed(body), &ParseOptions::default()).unwrap();
    assert_eq!(cal.event_count(), 2);
    assert_eq!(
        cal.busy(at("2026-12-07T00:00:00Z"), at("2026-12-08T00:00:00Z")),
        vec![iv("2026-12-07T09:00:00Z", "2026-12-07T10:00:00Z")]
    );
    assert!(
        cal.warnings().iter().any(|w| w.contains("not read")),
        "{:?}",
        cal.warnings()
    );
}

#[test]
fn all_day_weekly_with_a_date_until_and_exdate() {
    let body = "BEGIN:VEVENT\r\nUID:f\r\nDTSTART;VALUE=DATE:20261204\r\nDTEND;VALUE=DATE:20261205\r\nRRULE:FREQ=WEEKLY;UNTIL=20261225\r\nEXDATE;VALUE=DATE:20261211\r\nSUMMARY:Holiday\r\nEND:VEVENT\r\n";
    let opts = ParseOptions {
        floating_zone: Some(chrono_tz::Europe::Berlin),
        ..ParseOptions::default()
    };
    let cal = Calendar::parse(&feed(body), &opts).unwrap();
    assert!(cal.warnings().is_empty(), "{:?}", cal.warnings());
    let got: Vec<Interval> = cal
        .out_of_office(at("2026-12-01T00:00:00Z"), at("2027-01-31T00:00:00Z"))
        .into_iter()
        .map(|o| o.interval)
        .collect();
    assert_eq!(
        got,
        vec![
            iv("2026-12-03T23:00:00Z", "2026-12-04T23:00:00Z"),
            iv("2026-12-17T23:00:00Z", "2026-12-18T23:00:00Z"),
            iv("2026-12-24T23:00:00Z", "2026-12-25T23:00:00Z"),
        ]
    );
}

#[test]
fn old_daily_and_weekly_rules_are_walked_from_near_the_window() {
    // A daily standup since 1990 and a fortnightly review since 2000 (Mondays, with an
    // exception): a query in 2026 sees the right instances with a small step budget.
    let body = "BEGIN:VEVENT\r\nUID:d\r\nDTSTART;TZID=Europe/Berlin:19900101T093000\r\nDURATION:PT15M\r\nRRULE:FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR\r\nEND:VEVENT\r\n\
                BEGIN:VEVENT\r\nUID:w\r\nDTSTART;TZID=Europe/Berlin:20000103T140000\r\nDURATION:PT1H\r\nRRULE:FREQ=WEEKLY;INTERVAL=2;BYDAY=MO\r\nEXDATE;TZID=Europe/Berlin:20260330T140000\r\nEND:VEVENT\r\n";
    let opts = ParseOptions {
        limits: Limits {
            max_steps: 200,
            ..Limits::default()
        },
        ..ParseOptions::default()
    };
    let cal = Calendar::parse(&feed(body), &opts).unwrap();
    let busy = cal.busy(at("2026-03-23T00:00:00Z"), at("2026-04-07T00:00:00Z"));
    // Weekdays 09:30 Berlin (CET to 27 Mar, CEST from 30 Mar); fortnightly Mondays from
    // 3 Jan 2000: 23 Mar 2026 is one (1,368 weeks later), 6 Apr too; 30 Mar is not one.
    let mut want = Vec::new();
    for (day, utc_hour) in [
        ("2026-03-23", 8),
        ("2026-03-24", 8),
        ("2026-03-25", 8),
        ("2026-03-26", 8),
        ("2026-03-27", 8),
        ("2026-03-30", 7),
        ("2026-03-31", 7),
        ("2026-04-01", 7),
        ("2026-04-02", 7),
        ("2026-04-03", 7),
        ("2026-04-06", 7),
    ] {
        let start = at(&format!("{day}T{utc_hour:02}:30:00Z"));
        want.push(Interval {
            start,
            end: start + Duration::minutes(15),
        });
    }
    want.push(iv("2026-03-23T13:00:00Z", "2026-03-23T14:00:00Z"));
    want.push(iv("2026-04-06T12:00:00Z", "2026-04-06T13:00:00Z"));
    want.sort();
    assert_eq!(busy, want);
}

/// A hostile invitation's rule: never matches, so rrule searches its 100,000 periods
/// (~15 ms in a release build, far more in a debug one) on every expansion.
const NEVER: &str = "FREQ=HOURLY;BYMONTH=2;BYMONTHDAY=31";

fn never_matching(uid: usize) -> String {
    format!(
        "BEGIN:VEVENT\r\nUID:n{uid}\r\nDTSTART:20261207T110000Z\r\nDURATION:PT1H\r\nRRULE:{NEVER}\r\nSUMMARY:Invite {uid}\r\nEND:VEVENT\r\n"
    )
}

const STANDUP: &str = "BEGIN:VEVENT\r\nUID:s\r\nDTSTART:20261207T090000Z\r\nDURATION:PT15M\r\nRRULE:FREQ=DAILY\r\nSUMMARY:Standup\r\nEND:VEVENT\r\n";

/// Limits with a slow-rule threshold far from both kinds of rule on any host: a daily
/// standup probes in well under a millisecond even in a debug build, the never-matching
/// rule in well over 20.
fn screening(max_slow_rules: usize) -> ParseOptions {
    let mut opts = ParseOptions::default();
    opts.limits.slow_rule = std::time::Duration::from_millis(20);
    opts.limits.max_slow_rules = max_slow_rules;
    opts
}

#[test]
fn a_rule_too_slow_to_expand_counts_its_first_instance_only() {
    let cal = Calendar::parse(
        &feed(&format!("{STANDUP}{}", never_matching(1))),
        &screening(10),
    )
    .unwrap();
    assert!(
        cal.warnings()
            .iter()
            .any(|w| w.contains(NEVER) && w.contains("too slow to expand")),
        "{:?}",
        cal.warnings()
    );
    // The standup still recurs; the invitation is its first hour alone.
    assert_eq!(
        cal.busy(at("2026-12-07T00:00:00Z"), at("2026-12-09T00:00:00Z")),
        vec![
            iv("2026-12-07T09:00:00Z", "2026-12-07T09:15:00Z"),
            iv("2026-12-07T11:00:00Z", "2026-12-07T12:00:00Z"),
            iv("2026-12-08T09:00:00Z", "2026-12-08T09:15:00Z"),
        ]
    );
}

#[test]
fn past_the_slow_rule_limit_the_remaining_rules_are_not_probed() {
    let invites: String = (1..=5).map(never_matching).collect();
    let cal = Calendar::parse(&feed(&format!("{invites}{STANDUP}")), &screening(2)).unwrap();
    let slow = cal
        .warnings()
        .iter()
        .filter(|w| w.contains("too slow to expand"))
        .count();
    assert_eq!(slow, 2, "{:?}", cal.warnings());
    assert!(
        cal.warnings()
            .iter()
            .any(|w| w.starts_with("4 more recurring events count their first instance only")),
        "{:?}",
        cal.warnings()
    );
    // Past the limit the standup, read after the invitations, is its first instance too.
    assert_eq!(
        cal.busy(at("2026-12-08T00:00:00Z"), at("2026-12-09T00:00:00Z")),
        vec![]
    );
}
