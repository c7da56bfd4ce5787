//! Time zones: a TZID as feeds write it → a zone local times are read in.
//!
//! In order: the VTIMEZONE's `X-LIC-LOCATION` (an IANA name), the TZID itself as an IANA
//! name or one of the names calendar programs use instead (Windows/Outlook names such as
//! "W. Europe Standard Time", "(UTC+01:00) Amsterdam, …" labels, "/mozilla.org/…/Europe/
//! Berlin": calcard's table), then the VTIMEZONE's own rules — matched against the IANA
//! zones by their offsets and the instants of both changes in the reference year, or, if
//! none matches, its standard offset with a warning — and finally UTC with a warning.

use crate::lines::{When, parse_offset};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate, NaiveDateTime, Offset, TimeZone, Utc};
use std::str::FromStr;

/// Where local wall-clock times are anchored.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Zone {
    Iana(chrono_tz::Tz),
    Fixed(FixedOffset),
}

impl Zone {
    pub const UTC: Zone = Zone::Iana(chrono_tz::UTC);

    /// The instant of a local wall-clock time. In a DST gap the time is moved forward by
    /// the gap (RFC 5545 §3.3.5); in an overlap the first occurrence is taken.
    pub fn instant(&self, local: NaiveDateTime) -> DateTime<Utc> {
        match self {
            Zone::Fixed(off) => {
                (local - chrono::Duration::seconds(off.local_minus_utc().into())).and_utc()
            }
            Zone::Iana(tz) => match tz.from_local_datetime(&local) {
                chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
                chrono::LocalResult::Ambiguous(a, _) => a.with_timezone(&Utc),
                chrono::LocalResult::None => {
                    // The offset before the gap applied to the wall time lands after it.
                    let before = local - chrono::Duration::hours(3);
                    let off = tz
                        .offset_from_local_datetime(&before)
                        .earliest()
                        .map(|o| o.fix().local_minus_utc())
                        .unwrap_or(0);
                    (local - chrono::Duration::seconds(off.into())).and_utc()
                }
            },
        }
    }

    /// Local midnight of `date`.
    pub fn midnight(&self, date: NaiveDate) -> DateTime<Utc> {
        self.instant(date.and_hms_opt(0, 0, 0).unwrap_or_default())
    }
}

/// One STANDARD or DAYLIGHT block of a VTIMEZONE.
#[derive(Debug, Clone, Default)]
pub struct Observance {
    pub daylight: bool,
    pub start: Option<NaiveDateTime>,
    pub offset_from: Option<i32>,
    pub offset_to: Option<i32>,
    pub rrule: Option<String>,
}

/// A VTIMEZONE block as read.
#[derive(Debug, Clone, Default)]
pub struct VTimezone {
    pub tzid: String,
    pub lic_location: Option<String>,
    pub observances: Vec<Observance>,
}

/// What resolving a TZID gave, and what to warn about.
pub struct Resolved {
    pub zone: Zone,
    pub warning: Option<String>,
}

/// The zone of `tzid`, with its VTIMEZONE block if the feed has one.
pub fn resolve(tzid: &str, vtz: Option<&VTimezone>, reference_year: i32) -> Resolved {
    let named = |name: &str| -> Option<Zone> {
        match calcard::common::timezone::Tz::from_str(name.trim()).ok()? {
            calcard::common::timezone::Tz::Tz(tz) => Some(Zone::Iana(tz)),
            calcard::common::timezone::Tz::Fixed(off) => Some(Zone::Fixed(off)),
            calcard::common::timezone::Tz::Floating => None,
        }
    };
    if let Some(z) = vtz
        .and_then(|v| v.lic_location.as_deref())
        .and_then(|l| named(l.strip_prefix("SystemV/").unwrap_or(l)))
    {
        return Resolved {
            zone: z,
            warning: None,
        };
    }
    if let Some(z) = named(tzid) {
        return Resolved {
            zone: z,
            warning: None,
        };
    }
    if let Some(v) = vtz {
        if let Some(tz) = match_rules(v, reference_year) {
            return Resolved {
                zone: Zone::Iana(tz),
                warning: Some(format!(
                    "time zone \"{tzid}\" is not a known name; its VTIMEZONE rules match {}, used instead",
                    tz.name()
                )),
            };
        }
        let standard = v
            .observances
            .iter()
            .filter(|o| !o.daylight)
            .chain(v.observances.iter())
            .find_map(|o| o.offset_to);
        if let Some(off) = standard.and_then(FixedOffset::east_opt) {
            return Resolved {
                zone: Zone::Fixed(off),
                warning: Some(format!(
                    "time zone \"{tzid}\" is not a known name and its VTIMEZONE rules match no IANA zone; its standard offset {off} is used all year"
                )),
            };
        }
    }
    Resolved {
        zone: Zone::UTC,
        warning: Some(format!(
            "time zone \"{tzid}\" is unknown and has no usable VTIMEZONE; its times are read as UTC"
        )),
    }
}

/// The first IANA zone with the VTIMEZONE's offsets, changing at the same instants in
/// `year` (each observance's onset from its RRULE, or its DTSTART if that falls in `year`).
fn match_rules(v: &VTimezone, year: i32) -> Option<chrono_tz::Tz> {
    // (instant, offset before, offset after) of each change in `year`, and one offset in
    // force at an instant when no change is known.
    let mut changes: Vec<(DateTime<Utc>, i32, i32)> = Vec::new();
    let mut steady: Option<i32> = None;
    let jan = NaiveDate::from_ymd_opt(year, 1, 1)?.and_hms_opt(0, 0, 0)?;
    let next = NaiveDate::from_ymd_opt(year + 1, 1, 1)?.and_hms_opt(0, 0, 0)?;
    for o in &v.observances {
        let (Some(start), Some(from), Some(to)) = (o.start, o.offset_from, o.offset_to) else {
            continue;
        };
        let onset_local = match &o.rrule {
            Some(rule) => yearly_onset(start, rule, jan, next),
            None => (start >= jan && start < next).then_some(start),
        };
        match onset_local {
            Some(local) => {
                let at = (local - chrono::Duration::seconds(from.into())).and_utc();
                changes.push((at, from, to));
            }
            None if o.rrule.is_none() && start < jan => steady = Some(to),
            None => {}
        }
    }
    if changes.is_empty() && steady.is_none() {
        return None;
    }
    let offset_at = |tz: chrono_tz::Tz, at: DateTime<Utc>| {
        tz.offset_from_utc_datetime(&at.naive_utc())
            .fix()
            .local_minus_utc()
    };
    chrono_tz::TZ_VARIANTS.iter().copied().find(|tz| {
        if changes.is_empty() {
            let mid = jan.and_utc();
            let summer = mid.with_month(7).unwrap_or(mid);
            return steady.is_some_and(|s| offset_at(*tz, mid) == s && offset_at(*tz, summer) == s);
        }
        changes.iter().all(|(at, from, to)| {
            offset_at(*tz, *at - chrono::Duration::hours(1)) == *from
                && offset_at(*tz, *at + chrono::Duration::hours(1)) == *to
        })
    })
}

/// The first local onset of a yearly observance rule within [jan, next).
fn yearly_onset(
    start: NaiveDateTime,
    rule: &str,
    jan: NaiveDateTime,
    next: NaiveDateTime,
) -> Option<NaiveDateTime> {
    if !rule.is_ascii() {
        // As in `expand_wall`: rrule panics on a multi-byte character in BYDAY.
        return None;
    }
    // Local wall times expanded as if UTC: the rule's BYDAY/BYMONTH are wall-clock rules.
    let tz = rrule::Tz::UTC;
    let dtstart = tz.from_utc_datetime(&start);
    let set = rrule::RRule::<rrule::Unvalidated>::from_str(rule)
        .ok()?
        .build(dtstart)
        .ok()?
        .after(tz.from_utc_datetime(&jan))
        .before(tz.from_utc_datetime(&next));
    set.all(2).dates.first().map(|d| d.naive_utc())
}

/// A VTIMEZONE observance's DTSTART (always local time).
pub fn observance_start(w: When) -> Option<NaiveDateTime> {
    match w {
        When::Local(t) | When::Utc(t) => Some(t),
        When::Date(d) => d.and_hms_opt(0, 0, 0),
    }
}

pub fn offset(v: &str) -> Option<i32> {
    parse_offset(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obs(daylight: bool, start: &str, from: i32, to: i32, rule: &str) -> Observance {
        Observance {
            daylight,
            start: NaiveDateTime::parse_from_str(start, "%Y%m%dT%H%M%S").ok(),
            offset_from: Some(from),
            offset_to: Some(to),
            rrule: Some(rule.to_string()),
        }
    }

    #[test]
    fn names_windows_and_iana() {
        assert_eq!(
            resolve("W. Europe Standard Time", None, 2026).zone,
            Zone::Iana(chrono_tz::Europe::Berlin)
        );
        assert_eq!(
            resolve("Pacific Standard Time", None, 2026).zone,
            Zone::Iana(chrono_tz::America::Los_Angeles)
        );
        assert_eq!(
            resolve("America/New_York", None, 2026).zone,
            Zone::Iana(chrono_tz::America::New_York)
        );
        let r = resolve("Nowhere Standard Time", None, 2026);
        assert_eq!(r.zone, Zone::UTC);
        assert!(r.warning.unwrap().contains("read as UTC"));
    }

    #[test]
    fn unknown_names_fall_back_to_the_vtimezone_rules() {
        let eu = VTimezone {
            tzid: "Custom Central".into(),
            lic_location: None,
            observances: vec![
                obs(
                    false,
                    "16010101T030000",
                    7200,
                    3600,
                    "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
                ),
                obs(
                    true,
                    "16010101T020000",
                    3600,
                    7200,
                    "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
                ),
            ],
        };
        let r = resolve("Custom Central", Some(&eu), 2026);
        let Zone::Iana(tz) = r.zone else {
            panic!("expected an IANA zone")
        };
        // Whichever zone matched, it changes when Berlin does in 2026.
        for (y, m, d, h) in [
            (2026, 3, 29, 0),
            (2026, 3, 29, 2),
            (2026, 10, 25, 0),
            (2026, 10, 25, 2),
        ] {
            let at = Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap();
            let want = chrono_tz::Europe::Berlin
                .offset_from_utc_datetime(&at.naive_utc())
                .fix();
            assert_eq!(
                tz.offset_from_utc_datetime(&at.naive_utc()).fix(),
                want,
                "{at}"
            );
        }
        assert!(r.warning.unwrap().contains("rules match"));
        // A zone no IANA zone has: its standard offset all year.
        let odd = VTimezone {
            tzid: "Odd".into(),
            lic_location: None,
            observances: vec![
                obs(
                    false,
                    "16010101T030000",
                    7260,
                    3660,
                    "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU",
                ),
                obs(
                    true,
                    "16010101T020000",
                    3660,
                    7260,
                    "FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU",
                ),
            ],
        };
        let r = resolve("Odd", Some(&odd), 2026);
        assert_eq!(r.zone, Zone::Fixed(FixedOffset::east_opt(3660).unwrap()));
    }

    #[test]
    fn gap_times_move_forward() {
        let berlin = Zone::Iana(chrono_tz::Europe::Berlin);
        let gap = NaiveDate::from_ymd_opt(2026, 3, 29)
            .unwrap()
            .and_hms_opt(2, 30, 0)
            .unwrap();
        assert_eq!(
            berlin.instant(gap),
            Utc.with_ymd_and_hms(2026, 3, 29, 1, 30, 0).unwrap()
        );
    }
}
