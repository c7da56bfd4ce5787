//! Booking benchmark (issue 22): the free slots of one booking page view for a rep with a
//! year of recurring calendar events, timed side by side with the routing decision of the
//! same lead, interleaved in one run (docs/benchmarks.md, "Booking slots").
//!
//! The rep's calendar: a daily stand-up, a weekly 1:1, a fortnightly review, a monthly
//! all-hands and three ad-hoc meetings a working day, for a year from now (about 1,100
//! busy blocks), plus 20 meetings already booked in the window. A page view asks the
//! calendar for the window's blocks (a sorted, in-memory calendar cache: binary search)
//! and computes the free slots (`booking::free_slots`); the `--whole-year` row hands the
//! slot computation every block of the year instead (a cache that does not cut to the
//! window). The decision is `engine::decide` on the same lead with the fixture's state.
//!
//! Usage: `cargo run --release -p leadrouter-core --example booking_bench [-- ROUNDS]`
//! (scripts/bench-booking.sh).

use jiff::{SignedDuration, Timestamp};
use leadrouter_core::booking::{BusyTimes, SlotQuery, free_slots};
use leadrouter_core::engine::{RoutingInput, decide};
use leadrouter_core::lead::Lead;
use leadrouter_core::state::StateSnapshot;
use std::hint::black_box;
use std::time::Instant;

const BOOKING: &str = r#"
[booking]
actions = ["demo_request"]
meeting = "30m"
buffer_before = "10m"
buffer_after = "15m"
min_notice = "4h"
days_ahead = 14
daily_cap = 6
slot_step = "15m"
"#;

/// A calendar cache: blocks sorted by start, cut to the asked window by binary search.
struct Calendar {
    blocks: Vec<(Timestamp, Timestamp)>,
    longest: SignedDuration,
}

impl BusyTimes for Calendar {
    fn busy(&self, _: &str, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        let lo = self.blocks.partition_point(|b| b.0 < from - self.longest);
        let hi = self.blocks.partition_point(|b| b.0 < to);
        self.blocks[lo..hi]
            .iter()
            .copied()
            .filter(|b| b.1 > from)
            .collect()
    }
}

fn year_of_events(tz: &jiff::tz::TimeZone, from: Timestamp) -> Vec<(Timestamp, Timestamp)> {
    let mut out = Vec::new();
    let start = from.to_zoned(tz.clone()).date();
    let mut seed = 0x9e37_79b9_7f4a_7c15u64;
    let mut rnd = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    for d in 0..365 {
        let day = start + jiff::Span::new().days(d);
        let wd = day.weekday().to_monday_zero_offset();
        if wd >= 5 {
            continue;
        }
        let at = |h: i8, m: i8, mins: i64| {
            let s = day.at(h, m, 0, 0).to_zoned(tz.clone()).unwrap().timestamp();
            (s, s + SignedDuration::from_mins(mins))
        };
        out.push(at(9, 30, 15)); // stand-up
        if wd == 1 {
            out.push(at(14, 0, 60)); // weekly 1:1
        }
        if wd == 3 && d % 14 < 7 {
            out.push(at(10, 0, 90)); // fortnightly review
        }
        if day.day() <= 7 && wd == 4 {
            out.push(at(16, 0, 60)); // monthly all-hands
        }
        for _ in 0..3 {
            let h = 9 + rnd(8) as i8;
            let m = [0, 15, 30, 45][rnd(4) as usize];
            out.push(at(h, m, 15 * (1 + rnd(4) as i64)));
        }
    }
    out.sort();
    out
}

fn pct(v: &mut [u64], p: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn main() {
    let rounds: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(20_000);
    let dir = std::env::temp_dir().join(format!("booking-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let fixture = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../leadrouter/tests/fixtures/notify.toml"
    );
    // The fixture's reps have no working hours and sit in UTC; give ann hours in Berlin.
    let text = (std::fs::read_to_string(fixture).unwrap() + BOOKING)
        .replacen(
            "id = \"ann\"\nname = \"Ann Archer\"",
            "id = \"ann\"\nname = \"Ann Archer\"\nworking_hours = [\"Mon-Fri 09:00-17:30\"]",
            1,
        )
        .replacen(
            "timezone = \"UTC\"\nbooking_link = \"https://cal.notify-test.example/ann\"",
            "timezone = \"Europe/Berlin\"\nbooking_link = \"https://cal.notify-test.example/ann\"",
            1,
        );
    let path = dir.join("bench.toml");
    std::fs::write(&path, text).unwrap();
    let cfg = leadrouter_core::config::load(&path).expect("bench config");
    let _ = std::fs::remove_dir_all(&dir);
    let b = cfg.booking.as_ref().expect("[booking]");
    let rep = cfg.rep(cfg.rep_by_id["ann"]);
    let now: Timestamp = "2026-03-02T07:00:00Z".parse().unwrap();
    let cal = Calendar {
        blocks: year_of_events(&rep.tz, now),
        longest: SignedDuration::from_hours(2),
    };
    let booked: Vec<(Timestamp, Timestamp)> = (0..20)
        .map(|i| {
            let s = now + SignedDuration::from_hours(28 + 13 * i);
            (s, s + SignedDuration::from_mins(30))
        })
        .collect();
    let lead: Lead = Lead::from_json(&serde_json::json!({
        "email": "lena@globex-industries.com", "first_name": "Lena", "company": "Globex Industries",
        "employees": 500, "industry": "software", "action": "demo_request",
    }))
    .unwrap()
    .0;
    let state = StateSnapshot::default();
    let hours = rep.working_hours.as_ref().unwrap_or(&b.default_hours);
    let page_view = |whole_year: bool| {
        let mut q = SlotQuery {
            cfg: b,
            tz: &rep.tz,
            hours,
            away: &[],
            busy: &[],
            booked: &booked,
            now,
        };
        let (from, to) = q.span();
        let window;
        q.busy = if whole_year {
            &cal.blocks
        } else {
            window = cal.busy("ann", from, to);
            &window
        };
        free_slots(&q).len()
    };
    let slots_shown = page_view(false);
    assert_eq!(slots_shown, page_view(true), "the same slots either way");
    let (mut t_slots, mut t_year, mut t_decide) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds.min(1000) {
        black_box(page_view(false));
        black_box(decide(&cfg, RoutingInput::new(&lead, &state, now)));
    }
    for _ in 0..rounds {
        let t = Instant::now();
        black_box(page_view(false));
        t_slots.push(t.elapsed().as_nanos() as u64);
        let t = Instant::now();
        black_box(decide(&cfg, RoutingInput::new(&lead, &state, now)));
        t_decide.push(t.elapsed().as_nanos() as u64);
        let t = Instant::now();
        black_box(page_view(true));
        t_year.push(t.elapsed().as_nanos() as u64);
    }
    println!(
        "calendar: {} busy blocks over a year, {} bookings; a page view shows {} slots over {} days",
        cal.blocks.len(),
        booked.len(),
        slots_shown,
        b.days_ahead
    );
    println!(
        "{:<34} {:>10} {:>10} {:>10}",
        "per call (µs)", "p50", "p99", "max"
    );
    let row = |name: &str, v: &mut Vec<u64>| {
        let (p50, p99, max) = (pct(v, 0.5), pct(v, 0.99), pct(v, 1.0));
        println!(
            "{name:<34} {:>10.2} {:>10.2} {:>10.2}",
            p50 as f64 / 1e3,
            p99 as f64 / 1e3,
            max as f64 / 1e3
        );
        p99
    };
    let s = row("slots (window from the cache)", &mut t_slots);
    let y = row("slots (whole year handed in)", &mut t_year);
    let d = row("decide (same lead)", &mut t_decide);
    println!(
        "p99 ratio to decide: slots {:.1}x, whole year {:.1}x ({rounds} rounds, interleaved)",
        s as f64 / d as f64,
        y as f64 / d as f64
    );
}
