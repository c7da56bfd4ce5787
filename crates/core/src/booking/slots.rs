//! Free slots: the rep's working hours in the rep's zone, minus out-of-office windows
//! and calendar busy blocks, minus existing bookings (each with its buffers), from the
//! minimum notice on, at most the daily cap of meetings per local day, over the next
//! `days_ahead` days. Wall-clock times are stepped in the rep's zone, so a slot at 09:00
//! stays at 09:00 across a DST change; a start that falls in a DST gap does not exist
//! and is skipped, one in a fold takes the earlier instant.

use super::BookingConfig;
use crate::config::WorkingHours;
use jiff::civil::{Date, DateTime};
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

/// A meeting time, `[start, end)` in UTC.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub struct Slot {
    pub start: Timestamp,
    pub end: Timestamp,
}

/// What one rep's free slots are computed from.
#[derive(Debug, Clone, Copy)]
pub struct SlotQuery<'a> {
    pub cfg: &'a BookingConfig,
    pub tz: &'a TimeZone,
    pub hours: &'a WorkingHours,
    /// Out-of-office windows (config and overrides).
    pub away: &'a [(Timestamp, Timestamp)],
    /// Calendar busy blocks.
    pub busy: &'a [(Timestamp, Timestamp)],
    /// The rep's active bookings.
    pub booked: &'a [(Timestamp, Timestamp)],
    pub now: Timestamp,
}

impl SlotQuery<'_> {
    /// The instants the slots can fall in: from `now` to the end of the rep's last day
    /// shown. Busy blocks and bookings are needed for this span (plus the buffers).
    pub fn span(&self) -> (Timestamp, Timestamp) {
        let today = self.now.to_zoned(self.tz.clone()).date();
        let last = today
            .checked_add(jiff::Span::new().days(i64::from(self.cfg.days_ahead)))
            .unwrap_or(today);
        let end = local(self.tz, last.to_datetime(jiff::civil::Time::midnight()))
            .unwrap_or(self.now)
            .saturating_add(SignedDuration::from_hours(12))
            .unwrap_or(Timestamp::MAX);
        (self.now, end)
    }
}

/// A local wall time in `tz`: None in a gap, the earlier instant in a fold.
fn local(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    let amb = tz.to_ambiguous_timestamp(dt);
    match amb.offset() {
        AmbiguousOffset::Unambiguous { offset } | AmbiguousOffset::Fold { before: offset, .. } => {
            offset.to_timestamp(dt).ok()
        }
        AmbiguousOffset::Gap { .. } => None,
    }
}

/// The end of a working range: in a gap, the instant after it.
fn local_end(tz: &TimeZone, dt: DateTime) -> Option<Timestamp> {
    tz.to_ambiguous_timestamp(dt).compatible().ok()
}

/// Sorted, merged `[start, end)` intervals.
fn merge(mut v: Vec<(Timestamp, Timestamp)>) -> Vec<(Timestamp, Timestamp)> {
    v.retain(|(a, b)| a < b);
    v.sort_unstable();
    let mut out: Vec<(Timestamp, Timestamp)> = Vec::with_capacity(v.len());
    for (a, b) in v {
        match out.last_mut() {
            Some(last) if a <= last.1 => last.1 = last.1.max(b),
            _ => out.push((a, b)),
        }
    }
    out
}

fn overlaps(blocked: &[(Timestamp, Timestamp)], s: Timestamp, e: Timestamp) -> bool {
    // The first block ending after `s`; it overlaps when it starts before `e`.
    let i = blocked.partition_point(|b| b.1 <= s);
    blocked.get(i).is_some_and(|b| b.0 < e)
}

fn widen(t: Timestamp, d: SignedDuration) -> Timestamp {
    t.saturating_add(d).unwrap_or(t)
}

/// The free slots, in time order.
pub fn free_slots(q: &SlotQuery<'_>) -> Vec<Slot> {
    slots(q, usize::MAX)
}

/// The first free slot, if any.
pub fn earliest_free(q: &SlotQuery<'_>) -> Option<Slot> {
    slots(q, 1).into_iter().next()
}

fn slots(q: &SlotQuery<'_>, limit: usize) -> Vec<Slot> {
    let cfg = q.cfg;
    let (bb, ba) = (cfg.buffer_before, cfg.buffer_after);
    // A slot [s, e) is free when [s - before, e + after) meets no busy block or absence
    // and [s, e) meets no booking widened by its own buffers: each is one interval list
    // compared with the bare slot.
    let blocked = merge(
        q.busy
            .iter()
            .chain(q.away)
            .map(|&(a, b)| (widen(a, -ba), widen(b, bb)))
            .chain(q.booked.iter().map(|&(a, b)| (widen(a, -bb), widen(b, ba))))
            .collect(),
    );
    let earliest = widen(q.now, cfg.min_notice);
    let today = q.now.to_zoned(q.tz.clone()).date();
    let step = cfg.step.as_mins().max(1);
    let meeting = cfg.meeting;
    // The rep's local date of each booking, once (the daily cap counts them).
    let booked_days: Vec<Date> = q
        .booked
        .iter()
        .map(|(s, _)| s.to_zoned(q.tz.clone()).date())
        .collect();
    let mut out = Vec::new();
    for n in 0..i64::from(cfg.days_ahead) {
        let Ok(day) = today.checked_add(jiff::Span::new().days(n)) else {
            break;
        };
        // The cap bounds meetings, not slots: a day under it offers all its free slots.
        if booked_days.iter().filter(|d| **d == day).count() >= cfg.daily_cap as usize {
            continue;
        }
        let mut day_slots: Vec<Slot> = Vec::new();
        let wd = day.weekday().to_monday_zero_offset() as usize;
        let midnight = day.to_datetime(jiff::civil::Time::midnight());
        for &(from, to) in &q.hours.days[wd] {
            let Some(end) = midnight
                .checked_add(SignedDuration::from_mins(i64::from(to)))
                .ok()
                .and_then(|dt| local_end(q.tz, dt))
            else {
                continue;
            };
            // With no offset change between the range's first start and its end (nearly
            // always), wall-clock steps are steps in UTC: one zone lookup per range.
            let first = midnight
                .checked_add(SignedDuration::from_mins(i64::from(from)))
                .ok()
                .and_then(|dt| local(q.tz, dt));
            let steady = first.filter(|f| {
                q.tz.following(*f)
                    .next()
                    .is_none_or(|t| t.timestamp() >= end)
            });
            let mut m = i64::from(from);
            while m < i64::from(to) {
                let start = match steady {
                    Some(f) => f
                        .checked_add(SignedDuration::from_mins(m - i64::from(from)))
                        .ok(),
                    None => midnight
                        .checked_add(SignedDuration::from_mins(m))
                        .ok()
                        .and_then(|dt| local(q.tz, dt)),
                };
                m += step;
                let Some(start) = start else {
                    continue;
                };
                let Ok(stop) = start.checked_add(meeting) else {
                    break;
                };
                if stop > end {
                    break;
                }
                if start < earliest || overlaps(&blocked, start, stop) {
                    continue;
                }
                day_slots.push(Slot { start, end: stop });
            }
        }
        day_slots.sort_unstable();
        day_slots.dedup();
        for s in day_slots {
            out.push(s);
            if out.len() >= limit {
                return out;
            }
        }
    }
    out
}

/// Whether `slot` is one of the free slots now (the commit's check).
pub fn is_free(q: &SlotQuery<'_>, slot: Slot) -> bool {
    free_slots(q).contains(&slot)
}

/// Slots grouped by the day they fall on in a viewer's zone.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DaySlots {
    pub date: Date,
    pub slots: Vec<Slot>,
}

/// Group time-ordered slots by the viewer's local date.
pub fn by_day(slots: &[Slot], tz: &TimeZone) -> Vec<DaySlots> {
    let mut out: Vec<DaySlots> = Vec::new();
    for s in slots {
        let d = s.start.to_zoned(tz.clone()).date();
        match out.last_mut() {
            Some(g) if g.date == d => g.slots.push(*s),
            _ => out.push(DaySlots {
                date: d,
                slots: vec![*s],
            }),
        }
    }
    out
}
