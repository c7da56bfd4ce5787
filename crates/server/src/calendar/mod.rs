//! Rep calendars (issue 22): each rep's iCalendar feed fetched on a schedule, its last
//! good copy kept in memory and in the database, and what it says used twice:
//! - out of office (ASG-5): while a calendar out-of-office period covers now, the worker
//!   has the sequencer set the rep out of office until its end — the same
//!   `Effect::SetOutOfOffice` the API and console use, so it is committed, recorded as a
//!   routing event and replayed like theirs. Calendar overrides carry the note prefix
//!   [`NOTE_PREFIX`] and the actor [`ACTOR`]; the calendar never replaces or clears an
//!   override set by hand while it is in force (see [`change`]);
//! - busy blocks for booking: [`CalendarCache::busy`], answered from memory.
//!
//! Routing never waits for a calendar: the worker runs beside it and submits changes as
//! ordinary jobs. `settings.rs` reads `[calendar]`, `fetch.rs` makes one guarded,
//! conditional, bounded request, `worker.rs` schedules, keeps the copies and submits the
//! out-of-office changes. See docs/calendars.md.

pub mod fetch;
pub mod settings;
pub mod worker;

use chrono::{DateTime, Utc};
use jiff::Timestamp;
use leadrouter_calendar::{Calendar, Interval};
use leadrouter_core::state::AvailabilityOverride;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

pub use settings::CalendarSettings;

/// The actor of the calendar's availability jobs (history, audit log).
pub const ACTOR: &str = "calendar";
/// How a calendar-set override's note starts; notes set by hand may not.
pub const NOTE_PREFIX: &str = "calendar:";

pub fn is_calendar_note(note: &str) -> bool {
    note.starts_with(NOTE_PREFIX)
}

/// The note of a calendar out-of-office: the prefix and the event's title.
pub fn note_for(title: &str) -> String {
    let title: String = title.trim().chars().take(200).collect();
    if title.is_empty() {
        NOTE_PREFIX.to_string()
    } else {
        format!("{NOTE_PREFIX} {title}")
    }
}

/// Whether a calendar job changes the rep's override, given the override in force:
/// `want` is the calendar's out-of-office (until, note), or None for "not out".
/// Nothing changes while an override set by hand is in force (out, not a calendar note,
/// not expired); an override the calendar set is replaced when it differs, and cleared
/// when the calendar no longer has the rep out.
pub fn change(
    current: Option<&AvailabilityOverride>,
    want: Option<(Timestamp, &str)>,
    now: Timestamp,
) -> bool {
    let ours = current.is_some_and(|o| o.note.as_deref().is_some_and(is_calendar_note));
    let manual_in_force =
        current.is_some_and(|o| o.out && !ours && o.out_until.is_none_or(|u| now < u));
    if manual_in_force {
        return false;
    }
    match want {
        Some((until, note)) => !current.is_some_and(|o| {
            ours && o.out && o.out_until == Some(until) && o.note.as_deref() == Some(note)
        }),
        None => ours,
    }
}

/// One rep's feed as the console and booking see it.
#[derive(Debug, Clone, Default)]
pub struct FeedStatus {
    /// The parsed last good copy (None: no copy yet).
    pub calendar: Option<Arc<Calendar>>,
    /// Last successful fetch (200 or 304).
    pub fetched_at: Option<Timestamp>,
    /// Last time the feed's content changed.
    pub changed_at: Option<Timestamp>,
    pub last_error: Option<String>,
    pub error_at: Option<Timestamp>,
    /// The calendar's out-of-office in force at the last check: (until, title).
    pub out_of_office: Option<(Timestamp, String)>,
    /// A successful fetch older than this is stale.
    pub stale_after: std::time::Duration,
}

impl FeedStatus {
    /// Fresh: fetched successfully within `stale_after` and not failing since.
    pub fn is_stale(&self, now: Timestamp) -> bool {
        let Some(at) = self.fetched_at else {
            return true;
        };
        let failing = self.error_at.is_some_and(|e| e > at);
        let old = now.as_microsecond() - at.as_microsecond()
            > i64::try_from(self.stale_after.as_micros()).unwrap_or(i64::MAX);
        failing || old
    }
}

/// The calendars in memory, by rep id: cheap to read from any task (a read lock and an
/// `Arc` clone). The worker is the only writer.
#[derive(Debug, Default)]
pub struct CalendarCache {
    feeds: RwLock<HashMap<String, FeedStatus>>,
}

impl CalendarCache {
    /// The rep's busy blocks within `[from, to)`, merged (see
    /// `leadrouter_calendar::Calendar::busy`). None: the rep has no feed, or no copy of
    /// it has been read yet.
    pub fn busy(
        &self,
        rep_id: &str,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Option<Vec<Interval>> {
        let cal = self.calendar(rep_id)?;
        Some(cal.busy(from, to))
    }

    /// The rep's parsed calendar, if any.
    pub fn calendar(&self, rep_id: &str) -> Option<Arc<Calendar>> {
        let feeds = self.feeds.read().unwrap_or_else(|p| p.into_inner());
        feeds.get(rep_id)?.calendar.clone()
    }

    /// The rep's feed status (None: no feed configured).
    pub fn status(&self, rep_id: &str) -> Option<FeedStatus> {
        let feeds = self.feeds.read().unwrap_or_else(|p| p.into_inner());
        feeds.get(rep_id).cloned()
    }

    fn update(&self, rep_id: &str, f: impl FnOnce(&mut FeedStatus)) {
        let mut feeds = self.feeds.write().unwrap_or_else(|p| p.into_inner());
        f(feeds.entry(rep_id.to_string()).or_default());
    }

    /// Keep only the reps in `keep` (a rep whose feed was removed from the config).
    fn retain(&self, keep: &dyn Fn(&str) -> bool) {
        let mut feeds = self.feeds.write().unwrap_or_else(|p| p.into_inner());
        feeds.retain(|k, _| keep(k));
    }
}

/// chrono ↔ jiff at microsecond precision.
pub fn to_chrono(t: Timestamp) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(t.as_microsecond()).unwrap_or_default()
}

pub fn to_jiff(t: DateTime<Utc>) -> Timestamp {
    Timestamp::from_microsecond(t.timestamp_micros()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// The calendars as booking's busy blocks (issue 22): answered from memory, never
/// waiting on a feed; a rep without a feed (or without a copy yet) has none.
#[derive(Debug, Clone)]
pub struct BookingBusy(pub Arc<CalendarCache>);

impl leadrouter_core::booking::BusyTimes for BookingBusy {
    fn busy(&self, rep: &str, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        self.0
            .busy(rep, to_chrono(from), to_chrono(to))
            .unwrap_or_default()
            .into_iter()
            .map(|i| (to_jiff(i.start), to_jiff(i.end)))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ovr(out: bool, until: Option<&str>, note: Option<&str>) -> AvailabilityOverride {
        AvailabilityOverride {
            out,
            out_until: until.map(|u| u.parse().unwrap()),
            note: note.map(str::to_string),
        }
    }

    #[test]
    fn the_calendar_never_touches_a_manual_override_in_force() {
        let now: Timestamp = "2026-12-07T10:00:00Z".parse().unwrap();
        let until: Timestamp = "2026-12-10T00:00:00Z".parse().unwrap();
        let want = Some((until, "calendar: Vacation"));
        // Nothing set: set it; set the same already: nothing to do; a different end: set.
        assert!(change(None, want, now));
        let same = ovr(
            true,
            Some("2026-12-10T00:00:00Z"),
            Some("calendar: Vacation"),
        );
        assert!(!change(Some(&same), want, now));
        let other = ovr(
            true,
            Some("2026-12-09T00:00:00Z"),
            Some("calendar: Vacation"),
        );
        assert!(change(Some(&other), want, now));
        // Back in the calendar: clear ours, never a manual one.
        assert!(change(Some(&same), None, now));
        assert!(!change(None, None, now));
        let manual = ovr(true, None, Some("sick"));
        assert!(!change(Some(&manual), want, now));
        assert!(!change(Some(&manual), None, now));
        let manual_until = ovr(true, Some("2026-12-08T00:00:00Z"), None);
        assert!(!change(Some(&manual_until), want, now));
        // A manual override that has run out no longer holds the calendar back.
        let expired = ovr(true, Some("2026-12-01T00:00:00Z"), Some("trip"));
        assert!(change(Some(&expired), want, now));
        assert!(!change(Some(&expired), None, now));
    }
}
