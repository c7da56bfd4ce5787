//! What booking does to a stored lead, as lifecycle change sets (see
//! [`crate::lifecycle`]): a booked meeting is first touch (SLA-1: the ladder stops, no
//! escalation), and a move or a cancellation is recorded in the lead's history. Each
//! carries a [`Notice::Meeting`] with what an invitation needs.

use super::Slot;
use crate::lifecycle::{Change, DecisionKind, HistoryEntry, LeadView, Notice};
use jiff::Timestamp;

/// What happened to the meeting.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingChange {
    Booked,
    Rescheduled,
    Cancelled,
}

impl MeetingChange {
    pub fn as_str(self) -> &'static str {
        match self {
            MeetingChange::Booked => "booked",
            MeetingChange::Rescheduled => "rescheduled",
            MeetingChange::Cancelled => "cancelled",
        }
    }
}

/// A meeting as its messages need it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Meeting {
    /// The booking's id: the invitation's UID.
    pub booking_id: String,
    /// The invitation's SEQUENCE.
    pub sequence: i64,
    pub rep: String,
    pub start: Timestamp,
    pub end: Timestamp,
    /// The time before a reschedule.
    pub previous: Option<Slot>,
    /// The visitor's IANA zone, for their messages.
    pub lead_tz: Option<String>,
    pub change: MeetingChange,
}

/// The change for `m` on `lead`. Booking stamps first touch (and acceptance) when they
/// are not set yet and stops the SLA ladder.
pub fn meeting(lead: &LeadView, m: Meeting, actor: &str, now: Timestamp) -> Change {
    let when = m.start.strftime("%Y-%m-%d %H:%M UTC");
    let (reason, after) = match m.change {
        MeetingChange::Booked => {
            let mut after = lead.clone();
            after.accepted_at = after.accepted_at.or(Some(now));
            after.first_touch_at = after.first_touch_at.or(Some(now));
            (
                format!(
                    "meeting booked with {} for {when}; counts as first touch",
                    m.rep
                ),
                Some(after),
            )
        }
        MeetingChange::Rescheduled => (format!("meeting moved to {when}"), None),
        MeetingChange::Cancelled => (format!("meeting for {when} cancelled"), None),
    };
    let booked = m.change == MeetingChange::Booked;
    Change {
        history: Some(HistoryEntry {
            kind: DecisionKind::Meeting,
            reason,
            owner: lead.owner.clone(),
            queue: lead.queue.clone(),
            actor: Some(actor.to_string()),
        }),
        lead: after,
        cancel_timers: booked,
        notices: vec![Notice::Meeting(Box::new(m))],
        ..Change::default()
    }
}
