//! The routing history a batch writes (OPS-5): one event per job that changed routing
//! state or made a routing decision, with the effects it applied in the order it applied
//! them, and now and then a checkpoint of the state after the batch. Written in the
//! batch's own transaction, so the history never disagrees with the state.

use super::batch::Writes;
use super::{BatchCtx, Job, LeadOp, Touch};
use crate::replay::record::LeadAfter;
use leadrouter_core::state::StateSnapshot;
use leadrouter_store::{EventRow, LeadRecord, micros};
use std::sync::atomic::{AtomicU64, Ordering};

/// Events between two checkpoints of one process (and the first batch of a process
/// always writes one), so a rebuild applies at most about this many events.
pub const CHECKPOINT_EVERY: u64 = 20_000;

/// Events written by this process since its last checkpoint (`u64::MAX`: none yet).
/// Only how often checkpoints are taken depends on it, never what they hold.
static SINCE_CHECKPOINT: AtomicU64 = AtomicU64::new(u64::MAX);

/// A routing decision's event, made by `route_one` and completed by [`record`].
pub(super) struct RouteStash {
    pub(super) lead_id: String,
    pub(super) at: i64,
    /// The decision's input, packed (`RouteInput::pack`).
    pub(super) input: Vec<u8>,
    pub(super) result: Option<String>,
}

/// After `job` was decided: its event, if it made a decision or applied effects.
pub(super) fn record(
    w: &mut Writes,
    bx: &BatchCtx<'_>,
    job: &Job,
    leads: &std::collections::HashMap<String, LeadRecord>,
    timer_lead: Option<&str>,
) {
    let effects = std::mem::take(&mut w.pending);
    let people = std::mem::take(&mut w.pending_people);
    let stash = w.route_stash.take();
    if effects.is_empty() && stash.is_none() && people.is_empty() {
        return;
    }
    let people = (!people.is_empty())
        .then(|| serde_json::to_string(&people).ok())
        .flatten();
    let effects = serde_json::to_string(&effects).unwrap_or_else(|_| "[]".into());
    let config_version = bx.cfg.version.clone();
    let after = |id: &str| {
        leads.get(id).and_then(|l| {
            serde_json::to_string(&LeadAfter {
                owner: l.owner.clone(),
                queue: l.queue.clone(),
                team: l.team.clone(),
                status: l.status,
                stage: l.stage,
            })
            .ok()
        })
    };
    let now = micros(bx.clock.now());
    let row = match (job, stash) {
        (Job::Route(r, _), Some(s)) => EventRow {
            at: s.at,
            kind: "route".into(),
            lead_id: Some(s.lead_id),
            actor: Some(r.source.clone()),
            config_version,
            input: None,
            input_packed: Some(s.input),
            effects,
            result: s.result,
            people: None,
        },
        (
            Job::Lead {
                lead_id, op, actor, ..
            },
            _,
        ) => EventRow {
            at: now,
            kind: match op {
                LeadOp::Reassign { .. } => "reassign",
                LeadOp::Disqualify { .. } => "disqualify",
                LeadOp::Outcome { .. } => "outcome",
            }
            .into(),
            lead_id: Some(lead_id.clone()),
            actor: Some(actor.clone()),
            config_version,
            input: None,
            input_packed: None,
            effects,
            result: after(lead_id),
            people: None,
        },
        (
            Job::Touch {
                lead_id,
                touch,
                actor,
                ..
            },
            _,
        ) => EventRow {
            at: now,
            kind: match touch {
                Touch::Accept => "accept",
                Touch::Contacted => "contacted",
            }
            .into(),
            lead_id: Some(lead_id.clone()),
            actor: Some(actor.clone()),
            config_version,
            input: None,
            input_packed: None,
            effects,
            result: after(lead_id),
            people: None,
        },
        (Job::Booking { lead_id, actor, .. }, _) => EventRow {
            at: now,
            // A booking that moved the lead to another rep is a reassignment.
            kind: if effects == "[]" {
                "booking"
            } else {
                "reassign"
            }
            .into(),
            lead_id: Some(lead_id.clone()),
            actor: Some(actor.clone()),
            config_version,
            input: None,
            input_packed: None,
            effects,
            result: after(lead_id),
            people: None,
        },
        (Job::Sla { .. }, _) => EventRow {
            at: now,
            kind: "sla".into(),
            lead_id: timer_lead.map(str::to_string),
            actor: Some("sla".into()),
            config_version,
            input: None,
            input_packed: None,
            effects,
            result: timer_lead.and_then(after),
            people: None,
        },
        (Job::Availability { actor, .. }, _) => EventRow {
            at: now,
            kind: "availability".into(),
            lead_id: None,
            actor: Some(actor.clone()),
            config_version,
            input: None,
            input_packed: None,
            effects,
            result: None,
            people: None,
        },
        // A routing job whose decision was not stashed applies no effects of its own.
        (Job::Route(r, _), None) => EventRow {
            at: now,
            kind: "route_other".into(),
            lead_id: None,
            actor: Some(r.source.clone()),
            config_version,
            input: None,
            input_packed: None,
            effects,
            result: None,
            people: None,
        },
    };
    w.batch.events.push(EventRow { people, ..row });
}

/// A checkpoint of `state` as a batch starts (without people: they are rebuilt from the
/// person rows the events record) when one is due: at a process's first batch and then
/// every [`CHECKPOINT_EVERY`] events. The batch writes it as the state after the
/// previous version.
pub(super) fn checkpoint_if_due(state: &StateSnapshot) -> Option<String> {
    let due = SINCE_CHECKPOINT
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
            (v == u64::MAX || v >= CHECKPOINT_EVERY).then_some(0)
        })
        .is_ok();
    if !due {
        return None;
    }
    let snapshot = StateSnapshot {
        rotations: state.rotations.clone(),
        loads: state.loads.clone(),
        daily: state.daily.clone(),
        availability: state.availability.clone(),
        people: Default::default(),
    };
    serde_json::to_string(&snapshot).ok()
}

/// Count a batch's events towards the next checkpoint.
pub(super) fn count(events: usize) {
    let _ = SINCE_CHECKPOINT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
        (v != u64::MAX).then(|| v.saturating_add(events as u64))
    });
}
