//! [`Zone`]: a rep's time zone with its UTC offsets worked out when the config is
//! compiled, so a decision converts `now` to the rep's local weekday, minute and date with
//! a table lookup and integer arithmetic instead of evaluating the zone's rules.
//!
//! A team walk asks for the local time of every zone its members are in (a lead that falls
//! through an account owner, a backup and three teams asks for a dozen). The answers are
//! the same as [`TimeZone::to_datetime`]'s: the offsets are jiff's, taken from its
//! transitions over [`WINDOW`]; an instant outside that window is converted by jiff
//! itself.

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;

/// Local (weekday Mon=0, minute of day, date) at an instant in one zone.
pub type LocalNow = (u8, u16, Date);

/// The UTC seconds whose offsets are precomputed: 2000-01-01 to 2100-01-01. Decisions,
/// replays and simulations are made in these years; others take jiff's slower path.
pub const WINDOW: std::ops::Range<i64> = 946_684_800..4_102_444_800;

const DAY: i64 = 86_400;

/// A time zone, and the offsets it has over [`WINDOW`].
#[derive(Debug, Clone)]
pub struct Zone {
    tz: TimeZone,
    /// The UTC second each offset starts at, ascending; the first is `WINDOW.start`.
    starts: Box<[i64]>,
    /// Seconds east of UTC from the matching start until the next one.
    offsets: Box<[i32]>,
    /// Per 2^[`BUCKET_SHIFT`] seconds of the window from its start: the index of the
    /// offset in force when that stretch begins (an offset changes at most a few times in
    /// one). Empty when there are too many offsets to index with `u16`; then jiff converts.
    buckets: Box<[u16]>,
}

/// Seconds per entry of [`Zone::buckets`]: 2^22, about 48.5 days.
const BUCKET_SHIFT: u32 = 22;

/// 2000-01-01 was a Saturday: 5 days after Monday.
const WINDOW_START_WEEKDAY: u64 = 5;

/// Days from 1970-01-01 to 2000-01-01.
const WINDOW_START_DAY: u64 = 10_957;

impl Zone {
    /// The zone with its offsets over [`WINDOW`] (a fixed zone has one; a zone with
    /// daylight saving time about two a year).
    pub fn new(tz: TimeZone) -> Zone {
        let start = Timestamp::from_second(WINDOW.start).expect("2000-01-01 is a timestamp");
        let mut starts = vec![WINDOW.start];
        let mut offsets = vec![tz.to_offset(start).seconds()];
        for t in tz.following(start) {
            let at = t.timestamp().as_second();
            if at >= WINDOW.end {
                break;
            }
            // A transition that only renames the zone or flips the DST flag keeps the
            // offset: nothing to record.
            let offset = t.offset().seconds();
            if offsets.last() != Some(&offset) {
                starts.push(at);
                offsets.push(offset);
            }
        }
        let span = WINDOW.end - WINDOW.start;
        let buckets = match starts.len() <= usize::from(u16::MAX) {
            true => (0..=(span >> BUCKET_SHIFT))
                .map(|b| {
                    let at = WINDOW.start + (b << BUCKET_SHIFT);
                    (starts.partition_point(|&s| s <= at) - 1) as u16
                })
                .collect(),
            false => Box::default(),
        };
        Zone {
            tz,
            starts: starts.into(),
            offsets: offsets.into(),
            buckets,
        }
    }

    pub fn time_zone(&self) -> &TimeZone {
        &self.tz
    }

    /// Local weekday, minute of the day and date at `now`: as
    /// `self.time_zone().to_datetime(now)` gives them.
    #[inline]
    pub fn local(&self, now: Timestamp) -> LocalNow {
        let second = now.as_second();
        if WINDOW.contains(&second)
            && let Some(v) = self.local_in_window(second)
        {
            return v;
        }
        by_jiff(&self.tz, now)
    }

    /// [`Zone::local`] for a second in [`WINDOW`], from the table (None for a local time
    /// before the window starts, or a zone with too many offsets to index).
    #[inline]
    fn local_in_window(&self, second: i64) -> Option<LocalNow> {
        let rel = (second - WINDOW.start) as u64;
        let mut i = usize::from(*self.buckets.get((rel >> BUCKET_SHIFT) as usize)?);
        while self.starts.get(i + 1).is_some_and(|&s| s <= second) {
            i += 1;
        }
        let local = u64::try_from(rel as i64 + i64::from(*self.offsets.get(i)?)).ok()?;
        let (days, of_day) = (local / DAY as u64, local % DAY as u64);
        let (y, m, d) = civil_from_days(days + WINDOW_START_DAY);
        let date = Date::new(y as i16, m as i8, d as i8).ok()?;
        let weekday = ((days + WINDOW_START_WEEKDAY) % 7) as u8;
        Some((weekday, (of_day / 60) as u16, date))
    }
}

/// [`Zone::local`] as jiff computes it (outside [`WINDOW`], and the tests' reference).
fn by_jiff(tz: &TimeZone, now: Timestamp) -> LocalNow {
    let dt = tz.to_datetime(now);
    (
        dt.weekday().to_monday_zero_offset() as u8,
        dt.hour() as u16 * 60 + dt.minute() as u16,
        dt.date(),
    )
}

/// The proleptic Gregorian (year, month, day) of a day counted from 1970-01-01, for days
/// on or after it (Howard Hinnant's `civil_from_days`,
/// <https://howardhinnant.github.io/date_algorithms.html>, in unsigned arithmetic).
#[inline]
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097; // day of the 400-year era, [0, 146096]
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365; // [0, 399]
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100); // [0, 365], from March 1st
    let mp = (5 * doy + 2) / 153; // [0, 11], March = 0
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ZONES: &[&str] = &[
        "UTC",
        "America/New_York",
        "America/Los_Angeles",
        "America/Sao_Paulo",
        "America/St_Johns",
        "Europe/London",
        "Europe/Berlin",
        "Europe/Moscow",
        "Asia/Dubai",
        "Asia/Kolkata",
        "Asia/Kathmandu",
        "Asia/Tokyo",
        "Australia/Sydney",
        "Australia/Lord_Howe",
        "Pacific/Auckland",
        "Pacific/Chatham",
        "Pacific/Apia",
        "Africa/Casablanca",
    ];

    #[test]
    fn civil_from_days_is_jiffs_calendar() {
        let epoch = Date::constant(1970, 1, 1);
        for days in (0..1_000_000u64).step_by(97).chain(0..1_000) {
            let want = epoch + jiff::Span::new().days(days as i64);
            let (y, m, d) = civil_from_days(days);
            let want = (want.year() as u64, want.month() as u64, want.day() as u64);
            assert_eq!((y, m, d), want, "day {days}");
        }
    }

    #[test]
    fn every_transition_and_both_sides_of_it() {
        for name in ZONES {
            let tz = TimeZone::get(name).unwrap();
            let zone = Zone::new(tz.clone());
            let from = Timestamp::from_second(WINDOW.start - 5 * DAY).unwrap();
            let mut n = 0;
            for t in tz.following(from) {
                let at = t.timestamp().as_second();
                if at > WINDOW.end + 5 * DAY {
                    break;
                }
                for s in [
                    at - 86_401,
                    at - 3_601,
                    at - 1,
                    at,
                    at + 1,
                    at + 1_799,
                    at + 3_600,
                ] {
                    let now = Timestamp::from_second(s).unwrap();
                    assert_eq!(zone.local(now), by_jiff(&tz, now), "{name} at {now}");
                }
                n += 1;
            }
            for s in [WINDOW.start - 1, WINDOW.start, WINDOW.end - 1, WINDOW.end] {
                let now = Timestamp::from_second(s).unwrap();
                assert_eq!(zone.local(now), by_jiff(&tz, now), "{name} at {now}");
            }
            // Zones with daylight saving time all through the window have two changes a
            // year; the others (fixed since 2000, or rules changed in it) at least the edges.
            let dst = [
                "America/New_York",
                "Europe/London",
                "Australia/Sydney",
                "Pacific/Chatham",
            ];
            if dst.contains(name) {
                assert!(n >= 200, "{name}: {n} transitions");
            }
        }
    }

    fn built() -> &'static [Zone] {
        static ZONES_BUILT: std::sync::LazyLock<Vec<Zone>> = std::sync::LazyLock::new(|| {
            ZONES
                .iter()
                .map(|n| Zone::new(TimeZone::get(n).unwrap()))
                .collect()
        });
        &ZONES_BUILT
    }

    proptest! {
        #[test]
        fn local_is_jiffs(zone in 0..ZONES.len(), ns in -3_000_000_000_000_000_000i128..6_000_000_000_000_000_000) {
            let zone = &built()[zone];
            let now = Timestamp::from_nanosecond(ns).unwrap();
            prop_assert_eq!(zone.local(now), by_jiff(zone.time_zone(), now));
        }
    }
}
