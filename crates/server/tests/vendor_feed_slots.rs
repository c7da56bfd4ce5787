//! Issue 22: the free slots the vendors' calendar exports produce. The Google- and
//! Outlook-shaped feeds of `crates/calendar/tests/feeds` (VTIMEZONE blocks, weekly
//! recurrences with an EXDATE and a RECURRENCE-ID override, all-day out-of-office, a DST
//! change just before the window) are parsed by `leadrouter-calendar`, their busy blocks
//! handed to booking's slot computation the way the server does (`calendar::BookingBusy`),
//! and every slot of the window is asserted: working hours 09:00–17:00 in the rep's zone,
//! 30-minute meetings every 30 minutes, minus exactly the feed's busy time.

use jiff::civil::{Date, Time};
use jiff::tz::TimeZone;
use jiff::{SignedDuration, Timestamp};
use leadrouter_calendar::{Calendar, ParseOptions};
use leadrouter_core::booking::{BookingConfig, SlotQuery, free_slots};
use leadrouter_core::config::Tier;
use leadrouter_core::config::compile::parse_working_hours;
use leadrouter_server::calendar::{to_chrono, to_jiff};

fn feed(name: &str) -> String {
    std::fs::read_to_string(format!(
        "{}/../calendar/tests/feeds/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap()
}

fn cfg(days_ahead: u32) -> BookingConfig {
    BookingConfig {
        actions: vec!["demo_request".into()],
        tiers: vec![Tier::Hot],
        meeting: SignedDuration::from_mins(30),
        buffer_before: SignedDuration::ZERO,
        buffer_after: SignedDuration::ZERO,
        min_notice: SignedDuration::ZERO,
        days_ahead,
        daily_cap: 100,
        step: SignedDuration::from_mins(30),
        default_hours: parse_working_hours(&["Mon-Fri 09:00-17:00".into()]).unwrap(),
        link_valid: SignedDuration::from_hours(24),
        title: "Demo".into(),
    }
}

/// The slots (local start times by date) for a rep in `zone` whose calendar is `cal`.
fn slots(cal: &Calendar, zone: &str, now: &str, days: u32) -> Vec<(Date, Time)> {
    let tz = TimeZone::get(zone).unwrap();
    let cfg = cfg(days);
    let now: Timestamp = now.parse().unwrap();
    let probe = SlotQuery {
        cfg: &cfg,
        tz: &tz,
        hours: &cfg.default_hours,
        away: &[],
        busy: &[],
        booked: &[],
        now,
    };
    let (from, to) = probe.span();
    let busy: Vec<(Timestamp, Timestamp)> = cal
        .busy(to_chrono(from), to_chrono(to))
        .into_iter()
        .map(|i| (to_jiff(i.start), to_jiff(i.end)))
        .collect();
    let q = SlotQuery {
        busy: &busy,
        ..probe
    };
    free_slots(&q)
        .into_iter()
        .map(|s| {
            let z = s.start.to_zoned(tz.clone());
            assert_eq!(s.end.duration_since(s.start), SignedDuration::from_mins(30));
            (z.date(), z.time())
        })
        .collect()
}

/// Every half hour from 09:00 to 16:30 on each day, less the `taken` local times.
fn expected(days: &[(&str, &[&str])]) -> Vec<(Date, Time)> {
    let mut out = Vec::new();
    for (day, taken) in days {
        let d: Date = day.parse().unwrap();
        for half in 18..34 {
            let t = Time::new(half / 2, (half % 2) * 30, 0, 0).unwrap();
            let hm = t.strftime("%H:%M").to_string();
            if !taken.contains(&hm.as_str()) {
                out.push((d, t));
            }
        }
    }
    out
}

const ALL_DAY: &[&str] = &[
    "09:00", "09:30", "10:00", "10:30", "11:00", "11:30", "12:00", "12:30", "13:00", "13:30",
    "14:00", "14:30", "15:00", "15:30", "16:00", "16:30",
];

#[test]
fn google_feed_slots_in_berlin_after_the_dst_change() {
    let cal = Calendar::parse(&feed("google.ics"), &ParseOptions::default()).unwrap();
    // Monday 30 March 2026, 08:00 in Berlin (summer time since Sunday); three days shown.
    let got = slots(&cal, "Europe/Berlin", "2026-03-30T06:00:00Z", 3);
    let want = expected(&[
        // The standup moved by its override to 14:00 CEST.
        ("2026-03-30", &["14:00"]),
        // A timed "Out of office" 09:00–18:00 CEST: nothing left.
        ("2026-03-31", ALL_DAY),
        // The Wednesday standup at 10:00 CEST (its TZID is Berlin, so 08:00 UTC now).
        ("2026-04-01", &["10:00"]),
    ]);
    assert_eq!(got, want);
}

#[test]
fn outlook_feed_slots_in_los_angeles_after_the_dst_change() {
    let opts = ParseOptions {
        floating_zone: Some(chrono_tz::America::Los_Angeles),
        ..ParseOptions::default()
    };
    let cal = Calendar::parse(&feed("outlook.ics"), &opts).unwrap();
    // Monday 9 March 2026, midnight in Los Angeles (daylight time since Sunday); Monday
    // to Friday.
    let got = slots(&cal, "America/Los_Angeles", "2026-03-09T07:00:00Z", 5);
    let want = expected(&[
        // Customer lunch 12:00–13:00 PDT (a "Customized Time Zone" matched by its rules).
        ("2026-03-09", &["12:00", "12:30"]),
        // The review moved by its override to 13:00 PDT.
        ("2026-03-10", &["13:00", "13:30"]),
        // Focus time is TRANSPARENT: free.
        ("2026-03-11", &[]),
        // The Thursday review is removed by EXDATE.
        ("2026-03-12", &[]),
        // All-day out of office: nothing left.
        ("2026-03-13", ALL_DAY),
    ]);
    assert_eq!(got, want);
}
