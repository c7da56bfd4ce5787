use super::slots::by_day;
use super::*;
use crate::config::compile::parse_working_hours;
use jiff::tz::TimeZone;
use proptest::prelude::*;

fn cfg() -> BookingConfig {
    BookingConfig {
        actions: vec!["demo_request".into()],
        tiers: vec![Tier::Hot],
        meeting: SignedDuration::from_mins(30),
        buffer_before: SignedDuration::ZERO,
        buffer_after: SignedDuration::ZERO,
        min_notice: SignedDuration::from_hours(4),
        days_ahead: 7,
        daily_cap: 8,
        step: SignedDuration::from_mins(30),
        default_hours: parse_working_hours(&["Mon-Fri 09:00-17:00".into()]).unwrap(),
        link_valid: SignedDuration::from_hours(24),
        title: "Demo".into(),
    }
}

fn t(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn tz(n: &str) -> TimeZone {
    TimeZone::get(n).unwrap()
}

fn local(s: &str, z: &TimeZone) -> Timestamp {
    s.parse::<jiff::civil::DateTime>()
        .unwrap()
        .to_zoned(z.clone())
        .unwrap()
        .timestamp()
}

fn q<'a>(
    c: &'a BookingConfig,
    z: &'a TimeZone,
    busy: &'a [(Timestamp, Timestamp)],
    booked: &'a [(Timestamp, Timestamp)],
    now: Timestamp,
) -> SlotQuery<'a> {
    SlotQuery {
        cfg: c,
        tz: z,
        hours: &c.default_hours,
        away: &[],
        busy,
        booked,
        now,
    }
}

#[test]
fn offers_by_action_or_tier() {
    let c = cfg();
    assert!(c.offers(Some("Demo Request"), Tier::Standard));
    assert!(c.offers(None, Tier::Hot));
    assert!(!c.offers(Some("newsletter"), Tier::Warm));
}

#[test]
fn working_hours_minus_notice() {
    let c = cfg();
    let z = tz("Europe/Berlin");
    // Monday 2026-03-02 07:00 in Berlin; four hours' notice: the first slot is 11:00.
    let now = local("2026-03-02T07:00", &z);
    let s = free_slots(&q(&c, &z, &[], &[], now));
    assert_eq!(s[0].start, local("2026-03-02T11:00", &z));
    assert_eq!(s[0].end, local("2026-03-02T11:30", &z));
    let days = by_day(&s, &z);
    // Mon (11:00-16:30: 12 slots) and Tue-Fri (16 each); the weekend and next Mon are outside 7 days.
    assert_eq!(days.len(), 5, "{days:?}");
    assert_eq!(days[0].slots.len(), 12);
    assert!(days[1..].iter().all(|d| d.slots.len() == 16));
    // The last slot of a day ends at 17:00, not after.
    assert_eq!(days[1].slots[15].end, local("2026-03-03T17:00", &z));
    assert_eq!(earliest_free(&q(&c, &z, &[], &[], now)), Some(s[0]));
}

#[test]
fn busy_blocks_with_buffers() {
    let mut c = cfg();
    c.buffer_before = SignedDuration::from_mins(15);
    c.buffer_after = SignedDuration::from_mins(15);
    let z = tz("Europe/Berlin");
    let now = local("2026-03-02T00:00", &z);
    let busy = [(local("2026-03-03T13:00", &z), local("2026-03-03T14:00", &z))];
    let s = free_slots(&q(&c, &z, &busy, &[], now));
    let tue: Vec<_> = s
        .iter()
        .filter(|x| x.start.to_zoned(z.clone()).date() == jiff::civil::date(2026, 3, 3))
        .map(|x| x.start)
        .collect();
    assert!(tue.contains(&local("2026-03-03T12:00", &z)));
    // 12:30-13:00 leaves no 15 minutes after; 14:00 leaves none before.
    assert!(!tue.contains(&local("2026-03-03T12:30", &z)));
    assert!(!tue.contains(&local("2026-03-03T13:30", &z)));
    assert!(!tue.contains(&local("2026-03-03T14:00", &z)));
    assert!(tue.contains(&local("2026-03-03T14:30", &z)));
}

#[test]
fn bookings_block_and_cap_the_day() {
    let mut c = cfg();
    c.daily_cap = 2;
    c.buffer_after = SignedDuration::from_mins(30);
    let z = tz("America/Chicago");
    let now = local("2026-03-02T00:00", &z);
    let one = [(local("2026-03-03T10:00", &z), local("2026-03-03T10:30", &z))];
    let s = free_slots(&q(&c, &z, &[], &one, now));
    assert!(!s.iter().any(|x| x.start == local("2026-03-03T10:00", &z)));
    // The booking's buffer after it blocks 10:30 too.
    assert!(!s.iter().any(|x| x.start == local("2026-03-03T10:30", &z)));
    assert!(s.iter().any(|x| x.start == local("2026-03-03T11:00", &z)));
    let two = [
        one[0],
        (local("2026-03-03T15:00", &z), local("2026-03-03T15:30", &z)),
    ];
    let s = free_slots(&q(&c, &z, &[], &two, now));
    assert!(
        !s.iter()
            .any(|x| x.start.to_zoned(z.clone()).date() == jiff::civil::date(2026, 3, 3)),
        "the daily cap is reached on Tuesday"
    );
    assert!(
        s.iter()
            .any(|x| x.start.to_zoned(z.clone()).date() == jiff::civil::date(2026, 3, 4))
    );
}

#[test]
fn dst_keeps_wall_clock_and_skips_the_gap() {
    let mut c = cfg();
    c.min_notice = SignedDuration::ZERO;
    c.default_hours =
        parse_working_hours(&["Mon-Fri 09:00-10:00".into(), "Sun 01:00-04:00".into()]).unwrap();
    let z = tz("America/New_York");
    // Friday 2026-03-06 to Thursday 2026-03-12: clocks go forward on Sunday 8 March at 02:00.
    let now = local("2026-03-06T00:00", &z);
    let s = free_slots(&q(&c, &z, &[], &[], now));
    let starts: Vec<Timestamp> = s.iter().map(|x| x.start).collect();
    // 09:00 is 14:00 UTC before the change and 13:00 UTC after.
    assert!(starts.contains(&t("2026-03-06T14:00:00Z")));
    assert!(starts.contains(&t("2026-03-09T13:00:00Z")));
    assert!(!starts.contains(&t("2026-03-09T14:00:00Z")));
    let sunday: Vec<String> = s
        .iter()
        .filter(|x| x.start.to_zoned(z.clone()).date() == jiff::civil::date(2026, 3, 8))
        .map(|x| x.start.to_zoned(z.clone()).time().to_string())
        .collect();
    // 02:00 and 02:30 do not exist that night.
    assert_eq!(sunday, ["01:00:00", "01:30:00", "03:00:00", "03:30:00"]);
    // Every meeting lasts its 30 minutes in real time, even across the change.
    assert!(
        s.iter()
            .all(|x| x.end.duration_since(x.start) == SignedDuration::from_mins(30))
    );
}

#[test]
fn a_fold_takes_the_earlier_instant_once() {
    let mut c = cfg();
    c.min_notice = SignedDuration::ZERO;
    c.default_hours = parse_working_hours(&["Sun 01:00-04:00".into()]).unwrap();
    let z = tz("Europe/Berlin");
    // Clocks go back from 03:00 CEST to 02:00 CET on Sunday 25 October 2026.
    let now = t("2026-10-24T12:00:00Z");
    let s = free_slots(&q(&c, &z, &[], &[], now));
    let starts: Vec<Timestamp> = s.iter().map(|x| x.start).collect();
    assert_eq!(
        starts,
        [
            t("2026-10-24T23:00:00Z"), // 01:00 CEST
            t("2026-10-24T23:30:00Z"),
            t("2026-10-25T00:00:00Z"), // 02:00, the first of the two
            t("2026-10-25T00:30:00Z"),
            t("2026-10-25T02:00:00Z"), // 03:00 CET
            t("2026-10-25T02:30:00Z"), // ends 04:00 CET
        ]
    );
}

#[test]
fn config_errors_name_the_key_and_line() {
    let dir = std::env::temp_dir().join(format!("booking-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let base = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../leadrouter/tests/fixtures/notify.toml"
    ))
    .unwrap();
    let path = dir.join("c.toml");
    let good = "\n[booking]\nmeeting = \"45m\"\ntiers = [\"warm\"]\n";
    std::fs::write(&path, format!("{base}{good}")).unwrap();
    let cfg = crate::config::load(&path).expect("a good [booking]");
    let b = cfg.booking.expect("compiled");
    assert_eq!(b.meeting, SignedDuration::from_mins(45));
    assert_eq!(b.tiers, [Tier::Warm]);
    assert_eq!(b.actions, ["demo_request"]);
    let bad = "\n[booking]\nmeeting = \"2m\"\ndays_ahead = 0\ntiers = [\"lukewarm\"]\n";
    std::fs::write(&path, format!("{base}{bad}")).unwrap();
    let e = crate::config::load(&path).unwrap_err().to_string();
    let _ = std::fs::remove_dir_all(&dir);
    for want in [
        "booking.meeting",
        "booking.days_ahead",
        "booking.tiers",
        "lukewarm",
    ] {
        assert!(e.contains(want), "{want} in {e}");
    }
    let lines = base.lines().count();
    assert!(
        e.contains(&format!("c.toml:{}", lines + 3)),
        "the meeting line: {e}"
    );
}

/// The same question answered the slow way: every step of every working range, checked
/// against each interval.
fn naive(q: &SlotQuery<'_>) -> Vec<Slot> {
    let mut out = Vec::new();
    let today = q.now.to_zoned(q.tz.clone()).date();
    for n in 0..i64::from(q.cfg.days_ahead) {
        let day = today.checked_add(jiff::Span::new().days(n)).unwrap();
        let count = q
            .booked
            .iter()
            .filter(|(s, _)| s.to_zoned(q.tz.clone()).date() == day)
            .count();
        if count >= q.cfg.daily_cap as usize {
            continue;
        }
        let wd = day.weekday().to_monday_zero_offset() as usize;
        for &(a, b) in &q.hours.days[wd] {
            let mut m = i64::from(a);
            while m < i64::from(b) {
                let dt =
                    day.to_datetime(jiff::civil::Time::midnight()) + SignedDuration::from_mins(m);
                let end_dt = day.to_datetime(jiff::civil::Time::midnight())
                    + SignedDuration::from_mins(i64::from(b));
                m += q.cfg.step.as_mins();
                let Ok(z) = dt.to_zoned(q.tz.clone()) else {
                    continue;
                };
                if z.datetime() != dt {
                    continue; // in a gap
                }
                let s = z.timestamp();
                let e = s + q.cfg.meeting;
                if e > end_dt.to_zoned(q.tz.clone()).unwrap().timestamp() {
                    break;
                }
                if s < q.now + q.cfg.min_notice {
                    continue;
                }
                let (pb, pa) = (s - q.cfg.buffer_before, e + q.cfg.buffer_after);
                let clash_busy = q.busy.iter().chain(q.away).any(|&(x, y)| x < pa && pb < y);
                let clash_booked = q
                    .booked
                    .iter()
                    .any(|&(x, y)| x - q.cfg.buffer_before < e && s < y + q.cfg.buffer_after);
                if !clash_busy && !clash_booked {
                    out.push(Slot { start: s, end: e });
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]
    #[test]
    fn matches_the_naive_computation(
        zone in prop::sample::select(vec!["UTC", "Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kolkata"]),
        start_h in 0i64..24 * 400,
        busy in prop::collection::vec((0i64..24 * 60 * 10, 5i64..300), 0..25),
        booked in prop::collection::vec((0i64..24 * 60 * 10, 15i64..60), 0..6),
        before in 0i64..30, after in 0i64..30, cap in 1u32..4, step in prop::sample::select(vec![15i64, 20, 30, 45]),
    ) {
        let mut c = cfg();
        c.buffer_before = SignedDuration::from_mins(before);
        c.buffer_after = SignedDuration::from_mins(after);
        c.daily_cap = cap;
        c.step = SignedDuration::from_mins(step);
        c.default_hours = parse_working_hours(&["Mon-Fri 08:00-12:00".into(), "Tue,Sat 13:00-02:30".into()]).unwrap();
        let z = tz(zone);
        let now = t("2025-01-01T00:00:00Z") + SignedDuration::from_hours(start_h);
        let iv = |v: &[(i64, i64)]| -> Vec<(Timestamp, Timestamp)> {
            v.iter().map(|&(o, l)| {
                let s = now + SignedDuration::from_mins(o);
                (s, s + SignedDuration::from_mins(l))
            }).collect()
        };
        let (busy, booked) = (iv(&busy), iv(&booked));
        let query = q(&c, &z, &busy, &booked, now);
        let fast = free_slots(&query);
        prop_assert_eq!(&fast, &naive(&query));
        prop_assert!(fast.windows(2).all(|w| w[0].start < w[1].start));
    }
}
