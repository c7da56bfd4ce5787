//! Booking a meeting with the assigned rep (MTG-1, MTG-2; issue 22): the compiled
//! `[booking]` section, which leads are offered booking, and the free slots (pure, in
//! [`slots`]). Calendars come in through [`BusyTimes`]; the server glues a calendar cache
//! to it, [`NoCalendar`] is the rep with no feed.
//!
//! Like the engine, nothing here reads a clock or does I/O: `now`, the rep's busy blocks
//! and the existing bookings are inputs.

mod config;
mod lifecycle;
pub mod slots;
#[cfg(test)]
mod tests;

pub(crate) use config::compile;
pub use lifecycle::{Meeting, MeetingChange, meeting};
pub use slots::{DaySlots, Slot, SlotQuery, by_day, earliest_free, free_slots, is_free};

use crate::config::{Tier, WorkingHours};
use jiff::{SignedDuration, Timestamp};

/// The compiled `[booking]` section.
#[derive(Debug, Clone)]
pub struct BookingConfig {
    /// Actions (as tokens) whose leads are offered booking.
    pub actions: Vec<String>,
    /// Tiers whose leads are offered booking.
    pub tiers: Vec<Tier>,
    pub meeting: SignedDuration,
    pub buffer_before: SignedDuration,
    pub buffer_after: SignedDuration,
    pub min_notice: SignedDuration,
    /// Days shown, from the rep's today.
    pub days_ahead: u32,
    /// Most meetings a rep takes per local day.
    pub daily_cap: u32,
    /// Distance between slot starts.
    pub step: SignedDuration,
    /// Hours used for a rep whose config has none.
    pub default_hours: WorkingHours,
    /// How long a booking page link stays valid.
    pub link_valid: SignedDuration,
    /// The meeting's title in messages.
    pub title: String,
}

impl BookingConfig {
    /// A lead of this action (as written) and tier is offered booking: its action is
    /// listed, or its tier is.
    pub fn offers(&self, action: Option<&str>, tier: Tier) -> bool {
        self.tiers.contains(&tier)
            || action
                .map(crate::normalize::token)
                .is_some_and(|a| self.actions.contains(&a))
    }
}

/// A rep's calendar busy blocks, `[start, end)` in UTC, overlapping `[from, to)`.
/// Implementations return what they hold and never wait on a feed.
pub trait BusyTimes: Send + Sync {
    fn busy(&self, rep: &str, from: Timestamp, to: Timestamp) -> Vec<(Timestamp, Timestamp)>;
}

/// No calendar: every rep is free within their working hours.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoCalendar;

impl BusyTimes for NoCalendar {
    fn busy(&self, _: &str, _: Timestamp, _: Timestamp) -> Vec<(Timestamp, Timestamp)> {
        Vec::new()
    }
}
