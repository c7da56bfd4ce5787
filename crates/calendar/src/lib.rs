//! A rep's calendar feed — the secret iCalendar (RFC 5545) address Google Calendar and
//! Microsoft 365/Outlook publish — turned into what routing and booking need over a
//! window `[from, to)`: the busy blocks (merged) and the out-of-office periods.
//!
//! Pure: no I/O, no clock. [`Calendar::parse`] reads the feed once (bounded in size, line
//! length and number of events); [`Calendar::busy`] and [`Calendar::out_of_office`] expand
//! recurrences for the window asked (bounded in length and in instances per rule).
//!
//! What counts:
//! - busy: every event not cancelled (STATUS:CANCELLED) and not free (TRANSP:TRANSPARENT,
//!   Outlook's `X-MICROSOFT-CDO-BUSYSTATUS:FREE`), and every out-of-office period;
//! - out of office: an event marked so by its calendar program (Outlook's
//!   `X-MICROSOFT-CDO-BUSYSTATUS:OOF`, `X-GOOGLE-EVENT-TYPE:outOfOffice` as Google's
//!   exports through its API carry it), or — Google's secret feed does not mark the type,
//!   it keeps the title, "Out of office" by default — an all-day event or one at least
//!   [`ParseOptions::long_event`] long whose title matches [`ParseOptions::ooo_title`].
//!
//! Times: UTC, TZID (IANA or the names calendar programs use, see `zones`), floating
//! and all-day dates in [`ParseOptions::floating_zone`] (the rep's zone; else the feed's
//! `X-WR-TIMEZONE`; else UTC). Recurrences follow wall-clock time across DST changes.

mod feed;
mod lines;
mod zones;

use chrono::{DateTime, Duration, TimeZone, Utc};
use feed::{Event, Timing};
pub use regex::Regex;
use std::cell::Cell;
use std::str::FromStr;
use zones::Zone;

/// A span of time `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Interval {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

/// One out-of-office period and the title of the event that made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutOfOffice {
    pub interval: Interval,
    pub title: String,
}

/// Bounds on what one feed may cost.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest feed read, in bytes.
    pub max_bytes: usize,
    /// Longest unfolded content line, in bytes.
    pub max_line: usize,
    /// Most VEVENTs in one feed.
    pub max_events: usize,
    /// Most instances one recurring event yields in one window; more are dropped.
    pub max_instances_per_rule: u16,
    /// Longest window a query expands; a longer one is cut to this length.
    pub max_window: Duration,
    /// Recurrence steps one query may take over all rules (each rule is walked from its
    /// DTSTART); past it the remaining instances are left out.
    pub max_steps: u64,
    /// A rule whose expansion (probed at parse, see [`Calendar::parse`]) takes longer
    /// than this, twice, counts its first instance only.
    pub slow_rule: std::time::Duration,
    /// Most slow rules probed in one feed; past them every remaining rule counts its first
    /// instance only.
    pub max_slow_rules: usize,
    /// Most time spent probing one feed's rules; past it likewise.
    pub rule_probe_budget: std::time::Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bytes: 5 * 1024 * 1024,
            max_line: 64 * 1024,
            max_events: 20_000,
            max_instances_per_rule: 2_000,
            max_window: Duration::days(400),
            max_steps: 500_000,
            // A rule that never matches costs 7–15 ms a probe in a release build, one that
            // calendars write tens of microseconds; debug builds are 10–30× slower.
            slow_rule: std::time::Duration::from_millis(if cfg!(debug_assertions) {
                50
            } else {
                2
            }),
            max_slow_rules: 10,
            rule_probe_budget: std::time::Duration::from_millis(if cfg!(debug_assertions) {
                10_000
            } else {
                500
            }),
        }
    }
}

/// How to read a feed.
#[derive(Debug, Clone)]
pub struct ParseOptions {
    /// The zone of floating times and all-day dates (the rep's).
    pub floating_zone: Option<chrono_tz::Tz>,
    /// Titles that make a long event out of office (case-insensitive regular expression).
    pub ooo_title: Option<regex::Regex>,
    /// How long a timed event with such a title must be to count (all-day events always do).
    pub long_event: Duration,
    /// The year a VTIMEZONE's rules are compared with the IANA zones' in.
    pub reference_year: i32,
    pub limits: Limits,
}

/// The default out-of-office title pattern.
pub const DEFAULT_OOO_TITLE: &str = "OOO|Out of office|Out of the office|Vacation|Holiday|PTO";

impl Default for ParseOptions {
    fn default() -> Self {
        ParseOptions {
            floating_zone: None,
            ooo_title: Some(
                title_pattern(DEFAULT_OOO_TITLE).expect("the default pattern compiles"),
            ),
            long_event: Duration::hours(4),
            reference_year: 2026,
            limits: Limits::default(),
        }
    }
}

/// A title pattern as configured (`"OOO|Out of office|Vacation"`): a case-insensitive
/// regular expression, its compiled size bounded.
pub fn title_pattern(pattern: &str) -> Result<regex::Regex, CalendarError> {
    regex::RegexBuilder::new(pattern)
        .case_insensitive(true)
        .size_limit(1 << 20)
        .build()
        .map_err(|e| CalendarError::BadPattern(e.to_string()))
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CalendarError {
    #[error("the feed is {bytes} bytes, more than the {max} allowed")]
    TooLarge { bytes: usize, max: usize },
    #[error("the feed has more than {max} events")]
    TooManyEvents { max: usize },
    #[error("not an iCalendar feed (it does not start with BEGIN:VCALENDAR)")]
    NotICalendar,
    #[error("line {line}: {message}")]
    Malformed { line: usize, message: String },
    #[error("out-of-office title pattern: {0}")]
    BadPattern(String),
}

/// A parsed feed.
#[derive(Debug, Clone)]
pub struct Calendar {
    events: Vec<Event>,
    warnings: Vec<String>,
    limits: Limits,
}

impl Calendar {
    pub fn parse(ics: &str, opts: &ParseOptions) -> Result<Calendar, CalendarError> {
        if ics.len() > opts.limits.max_bytes {
            return Err(CalendarError::TooLarge {
                bytes: ics.len(),
                max: opts.limits.max_bytes,
            });
        }
        let ics = ics.strip_prefix('\u{feff}').unwrap_or(ics).trim_start();
        if !ics
            .get(..15)
            .is_some_and(|h| h.eq_ignore_ascii_case("BEGIN:VCALENDAR"))
        {
            return Err(CalendarError::NotICalendar);
        }
        let lines = lines::lines(ics, opts.limits.max_line)
            .map_err(|(line, message)| CalendarError::Malformed { line, message })?;
        let mut parsed = feed::read(&lines, opts)?;
        parsed.events.retain(|e| !e.cancelled);
        let mut cal = Calendar {
            events: parsed.events,
            warnings: parsed.warnings,
            limits: opts.limits.clone(),
        };
        cal.screen_rules();
        Ok(cal)
    }

    /// Probe every recurring event's rule once: one that cannot be read, or that takes
    /// longer than `slow_rule` to expand, counts its first instance only (its rule is
    /// dropped, so no query pays for it again), with a warning. Between two instances
    /// rrule may search up to 100,000 periods (its fixed `MAX_ITER_LOOP`), which the step
    /// budget does not see: a rule that never matches (`FREQ=HOURLY;BYMONTH=2;
    /// BYMONTHDAY=31`, in an invitation anyone can send a rep) cost ~15 ms per event at
    /// every query. Past `max_slow_rules` slow rules or `rule_probe_budget` spent probing,
    /// the remaining rules count their first instance only, unprobed.
    fn screen_rules(&mut self) {
        let limits = self.limits.clone();
        let mut spent = std::time::Duration::ZERO;
        let mut slow = 0usize;
        let mut left_out = 0usize;
        for i in 0..self.events.len() {
            let Some(rule) = self.events[i].rrule.clone() else {
                continue;
            };
            if slow >= limits.max_slow_rules || spent >= limits.rule_probe_budget {
                self.events[i].rrule = None;
                left_out += 1;
                continue;
            }
            let (read, took) = self.probe(&self.events[i], &rule);
            spent += took;
            let why = if !read {
                Some("not read")
            } else if took > limits.slow_rule && {
                // Once more: a pause of this thread is not the rule's cost.
                let (_, again) = self.probe(&self.events[i], &rule);
                spent += again;
                again > limits.slow_rule
            } {
                slow += 1;
                Some("too slow to expand")
            } else {
                None
            };
            if let Some(why) = why {
                let e = &mut self.events[i];
                self.warnings.push(format!(
                    "event \"{}\": RRULE \"{rule}\" {why}; only its first instance counts",
                    e.title
                ));
                e.rrule = None;
            }
        }
        if left_out > 0 {
            self.warnings.push(format!(
                "{left_out} more recurring events count their first instance only: the feed's rules took too long to expand"
            ));
        }
    }

    /// Expand `rule` for a second at the event's start and for a day `max_window` later
    /// (as far as a query reaches): whether it could be read, and the time both took.
    fn probe(&self, e: &Event, rule: &str) -> (bool, std::time::Duration) {
        let started = std::time::Instant::now();
        let first = first_instance(e).start;
        let read = self
            .expand(e, rule, first, first + Duration::seconds(1), &Cell::new(16))
            .is_some();
        // Only its time counts: a window past the rule's UNTIL reads as nothing to expand.
        // (With room for the few days `expand` widens a window by.)
        let room = first.checked_add_signed(self.limits.max_window + Duration::days(8));
        if read && room.is_some() {
            let far = first + self.limits.max_window;
            let budget = Cell::new(self.limits.max_steps);
            let _ = self.expand(e, rule, far, far + Duration::days(1), &budget);
        }
        (read, started.elapsed())
    }

    /// What the feed had that was read approximately or skipped (unknown zones, unreadable
    /// events or rules).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Events read (cancelled ones left out; a recurring event counts once).
    pub fn event_count(&self) -> usize {
        self.events.len()
    }

    /// Busy time within `[from, to)`, merged and clipped to the window.
    pub fn busy(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Interval> {
        let to = self.cap(from, to);
        let budget = Cell::new(self.limits.max_steps);
        let mut spans = Vec::new();
        for e in self.events.iter().filter(|e| e.opaque || e.out_of_office) {
            self.instances(e, from, to, &budget, &mut |i| spans.push(i));
        }
        let mut merged = merge(spans);
        for i in &mut merged {
            i.start = i.start.max(from);
            i.end = i.end.min(to);
        }
        merged.retain(|i| i.start < i.end);
        merged
    }

    /// Out-of-office periods overlapping `[from, to)`, whole (not clipped), by start.
    pub fn out_of_office(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<OutOfOffice> {
        let to = self.cap(from, to);
        let budget = Cell::new(self.limits.max_steps);
        let mut out = Vec::new();
        for e in self.events.iter().filter(|e| e.out_of_office) {
            self.instances(e, from, to, &budget, &mut |interval| {
                out.push(OutOfOffice {
                    interval,
                    title: e.title.clone(),
                })
            });
        }
        out.sort_by(|a, b| {
            a.interval
                .cmp(&b.interval)
                .then_with(|| a.title.cmp(&b.title))
        });
        out.dedup();
        out
    }

    /// The out-of-office period covering `now`, chained with any that overlap or touch it
    /// (Friday's "Vacation" running into next week's), looking `horizon` ahead: its end is
    /// when the rep is back. The title is the one in force at `now`.
    pub fn out_of_office_at(&self, now: DateTime<Utc>, horizon: Duration) -> Option<OutOfOffice> {
        let periods = self.out_of_office(now, now + horizon);
        let current = periods
            .iter()
            .find(|p| p.interval.start <= now && now < p.interval.end)?;
        let mut end = current.interval.end;
        let mut start = current.interval.start;
        for p in &periods {
            if p.interval.start <= end && p.interval.end > end {
                end = p.interval.end;
            }
            if p.interval.start <= now {
                start = start.min(p.interval.start);
            }
        }
        Some(OutOfOffice {
            interval: Interval { start, end },
            title: current.title.clone(),
        })
    }

    fn cap(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> DateTime<Utc> {
        to.min(from + self.limits.max_window)
    }

    /// Each instance of `e` overlapping `[from, to)`.
    fn instances(
        &self,
        e: &Event,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        budget: &Cell<u64>,
        f: &mut dyn FnMut(Interval),
    ) {
        if from >= to {
            return;
        }
        let overlaps = |i: &Interval| {
            i.start < to && i.end > from || (i.start == i.end && i.start >= from && i.start < to)
        };
        let Some(rule) = &e.rrule else {
            let i = first_instance(e);
            if overlaps(&i) && i.start < i.end {
                f(i);
            }
            return;
        };
        let Some(occurrences) = self.expand(e, rule, from, to, budget) else {
            // An unreadable rule: the first instance alone still counts.
            let i = first_instance(e);
            if overlaps(&i) && i.start < i.end {
                f(i);
            }
            return;
        };
        for i in occurrences {
            if i.start < i.end && overlaps(&i) && !e.removed.contains(&i.start) {
                f(i);
            }
        }
    }

    /// The instances of a recurring event starting in `[from - length, to)`.
    fn expand(
        &self,
        e: &Event,
        rule: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        budget: &Cell<u64>,
    ) -> Option<Vec<Interval>> {
        let limit = self.limits.max_instances_per_rule;
        match &e.timing {
            Timing::AllDay { date, days, zone } => {
                // Dates recur as dates: expand local midnights as if UTC, then place each
                // date in the rep's zone.
                let start = date.and_hms_opt(0, 0, 0)?;
                let rule = &until_as_wall(rule, None);
                let dates = expand_wall(
                    rule,
                    start,
                    rrule::Tz::UTC,
                    from - Duration::days(*days + 2),
                    to + Duration::days(2),
                    limit,
                    budget,
                )?;
                Some(
                    dates
                        .into_iter()
                        .map(|d| {
                            let day = d.naive_utc().date();
                            Interval {
                                start: zone.midnight(day),
                                end: zone.midnight(day + Duration::days(*days)),
                            }
                        })
                        .collect(),
                )
            }
            Timing::Timed {
                local,
                zone,
                length,
                ..
            } => {
                let (tz, shift) = match zone {
                    Zone::Iana(tz) => (rrule::Tz::Tz(*tz), Duration::zero()),
                    // A fixed offset has no DST: expand its wall times as UTC and shift.
                    Zone::Fixed(off) => (
                        rrule::Tz::UTC,
                        Duration::seconds(off.local_minus_utc().into()),
                    ),
                };
                let rule = &until_as_wall(rule, Some(*zone));
                let dates = expand_wall(
                    rule,
                    *local,
                    tz,
                    from - *length + shift,
                    to + shift,
                    limit,
                    budget,
                )?;
                Some(
                    dates
                        .into_iter()
                        .map(|d| {
                            let start = d.with_timezone(&Utc) - shift;
                            Interval {
                                start,
                                end: start + *length,
                            }
                        })
                        .collect(),
                )
            }
        }
    }
}

/// An event's first (or only) instance.
fn first_instance(e: &Event) -> Interval {
    match &e.timing {
        Timing::AllDay { date, days, zone } => Interval {
            start: zone.midnight(*date),
            end: zone.midnight(*date + Duration::days(*days)),
        },
        Timing::Timed { start, length, .. } => Interval {
            start: *start,
            end: *start + *length,
        },
    }
}

/// Occurrences of `rule` from the wall time `start` in `tz`, starting within
/// `[after, before)`, at most `limit`. None if the rule cannot be read.
fn expand_wall(
    rule: &str,
    start: chrono::NaiveDateTime,
    tz: rrule::Tz,
    after: DateTime<Utc>,
    before: DateTime<Utc>,
    limit: u16,
    budget: &Cell<u64>,
) -> Option<Vec<DateTime<rrule::Tz>>> {
    if !rule.is_ascii() {
        // RFC 5545 rules are ASCII; rrule 0.14 cuts a BYDAY value by bytes and panics on
        // a multi-byte character (`BYDAY=MO,TU\u{fffd}`).
        return None;
    }
    let start = fast_forward(rule, start, after);
    let dtstart = tz.from_local_datetime(&start).earliest().or_else(|| {
        tz.from_local_datetime(&(start + Duration::hours(1)))
            .earliest()
    })?;
    let set = rrule::RRule::<rrule::Unvalidated>::from_str(rule)
        .ok()?
        .build(dtstart)
        .ok()?
        .limit();
    // Walked from DTSTART: every step counts against the query's budget, so a
    // FREQ=SECONDLY rule from the year 1 costs what the budget allows, no more.
    let mut dates = Vec::new();
    for d in &set {
        let left = budget.get();
        if left == 0 {
            break;
        }
        budget.set(left - 1);
        let u = d.with_timezone(&Utc);
        if u >= before {
            break;
        }
        if u >= after {
            dates.push(d);
            if dates.len() >= usize::from(limit) {
                break;
            }
        }
    }
    Some(dates)
}

/// DTSTART moved forward by whole periods to just before the window, for the rules where
/// that changes no instance: DAILY and WEEKLY without COUNT or BYSETPOS (instances are
/// DTSTART plus whole periods, filtered by the BY* parts, and UNTIL is absolute). A
/// standup started in 2015 then costs a few steps per query, not a decade of them.
fn fast_forward(
    rule: &str,
    start: chrono::NaiveDateTime,
    after: DateTime<Utc>,
) -> chrono::NaiveDateTime {
    let mut days = None;
    let mut interval: i64 = 1;
    for part in rule.split(';') {
        let Some((k, v)) = part.split_once('=') else {
            continue;
        };
        match k.trim().to_ascii_uppercase().as_str() {
            "FREQ" => match v.trim().to_ascii_uppercase().as_str() {
                "DAILY" => days = Some(1),
                "WEEKLY" => days = Some(7),
                _ => return start,
            },
            "INTERVAL" => match v.trim().parse::<i64>() {
                Ok(n) if (1..=10_000).contains(&n) => interval = n,
                _ => return start,
            },
            "COUNT" | "BYSETPOS" => return start,
            _ => {}
        }
    }
    let Some(days) = days else { return start };
    let period = days * interval;
    // The window's start as wall time is within a day of its UTC time; keep two days'
    // margin.
    let target = after.naive_utc() - Duration::days(2);
    let gap = (target - start).num_days();
    if gap <= period {
        return start;
    }
    start + Duration::days(gap / period * period)
}

/// The rule with its UNTIL written as the expander reads it: a UTC instant in the frame
/// the rule is expanded in (wall time as UTC for all-day dates and fixed offsets). Feeds
/// write UNTIL as a DATE, a local time or a UTC instant whatever DTSTART is; RFC 5545
/// wants it to match DTSTART, the expander refuses a mismatch.
fn until_as_wall(rule: &str, zone: Option<Zone>) -> String {
    let parts: Vec<String> = rule
        .split(';')
        .map(|part| {
            let Some((k, v)) = part.split_once('=') else {
                return part.to_string();
            };
            if !k.trim().eq_ignore_ascii_case("UNTIL") {
                return part.to_string();
            }
            let instant = match lines::parse_when(v) {
                // A date: through the end of that day.
                Some(lines::When::Date(d)) => d.and_hms_opt(23, 59, 59).map(|t| match zone {
                    Some(z) => z.instant(t),
                    None => t.and_utc(),
                }),
                Some(lines::When::Local(t)) => Some(match zone {
                    Some(z) => z.instant(t),
                    None => t.and_utc(),
                }),
                Some(lines::When::Utc(t)) => Some(t.and_utc()),
                None => None,
            };
            let Some(instant) = instant else {
                return part.to_string();
            };
            let wall = match zone {
                Some(Zone::Fixed(off)) => instant + Duration::seconds(off.local_minus_utc().into()),
                _ => instant,
            };
            format!("UNTIL={}", wall.format("%Y%m%dT%H%M%SZ"))
        })
        .collect();
    parts.join(";")
}

/// Sorted, overlapping and touching spans joined.
fn merge(mut spans: Vec<Interval>) -> Vec<Interval> {
    spans.sort();
    let mut out: Vec<Interval> = Vec::with_capacity(spans.len());
    for s in spans {
        match out.last_mut() {
            Some(last) if s.start <= last.end => last.end = last.end.max(s.end),
            _ => out.push(s),
        }
    }
    out
}

#[cfg(test)]
mod tests;
