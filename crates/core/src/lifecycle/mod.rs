//! The lead-lifecycle rules: what happens to a stored lead after it was first routed —
//! a known person submitting again (VAL-3) or coming back after a disqualification
//! (VAL-4), manual reassignment (ASG-6), disqualification, outcomes, accept / first touch
//! (SLA-1), the SLA ladder (SLA-2/3, in [`sla`]) and rep availability.
//!
//! Like the engine, these are pure functions: a plain view of the stored lead (and, where
//! a rule routes again, the config and state snapshot) goes in; a [`Change`] comes out —
//! the lead as it is afterwards, the history entry to record, the [`Effect`]s on routing
//! state, the timers to cancel and set, and which notifications to render. The caller (the
//! server's sequencer) applies it in the routing transaction: effects through
//! [`crate::state::StateSnapshot::apply`], rows through the store, messages through the
//! notification renderer.

mod kinds;
pub mod sla;
#[cfg(test)]
mod tests;

pub use kinds::{DecisionKind, LeadStatus, Outcome, SlaStep, Stage, UnknownText};
pub use sla::{Due, Ladder, SlaAction, fire, manager_of};

use crate::config::CompiledConfig;
use crate::engine::{Routed, RoutingInput, assign_manually};
use crate::lead::{FieldIssue, Lead};
use crate::state::{Effect, StateSnapshot};
use crate::trace::RoutePath;
use jiff::{SignedDuration, Timestamp};

/// A stored lead as the lifecycle rules see it: who has it and where it stands.
#[derive(Debug, Clone, PartialEq)]
pub struct LeadView {
    pub id: String,
    /// The normalised email, when the lead has one that parses.
    pub email: Option<String>,
    pub received_at: Timestamp,
    pub owner: Option<String>,
    pub queue: Option<String>,
    pub team: Option<String>,
    pub status: LeadStatus,
    pub stage: Stage,
    pub outcome: Option<Outcome>,
    pub outcome_at: Option<Timestamp>,
    pub contact_by: Option<Timestamp>,
    pub accepted_at: Option<Timestamp>,
    pub first_touch_at: Option<Timestamp>,
}

impl LeadView {
    fn is_open(&self) -> bool {
        self.status == LeadStatus::Open
    }

    /// Open and neither accepted nor touched: the SLA ladder still runs for it.
    pub fn untouched(&self) -> bool {
        self.is_open() && self.first_touch_at.is_none() && self.accepted_at.is_none()
    }
}

/// SLA-1: what the rep reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    Accept,
    Contacted,
}

/// An entry for the lead's decision history.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryEntry {
    pub kind: DecisionKind,
    pub reason: String,
    pub owner: Option<String>,
    pub queue: Option<String>,
    /// Who acted: None for routing, the caller for manual operations, `sla` for timers.
    pub actor: Option<String>,
}

/// An SLA timer to create.
#[derive(Debug, Clone, PartialEq)]
pub struct TimerSet {
    pub step: SlaStep,
    pub due: Timestamp,
    /// The owner the step is set for; it acts only if the lead still has that owner.
    pub owner: Option<String>,
}

/// A notification to render, in order.
#[derive(Debug, Clone, PartialEq)]
pub enum Notice {
    /// NTF-1..4 for the change's routed decision.
    Assignment,
    /// The change's routed decision took the lead from `from` (None: from a queue).
    Reassignment { from: Option<String> },
    /// The `lead.accepted` / `lead.contacted` webhook event.
    Touched(Touch),
    /// SLA-2: the manager at this index of the config's managers, at `multiple` x SLA.
    ManagerAlert { manager: u32, multiple: u32 },
    /// SLA-2: the `lead.sla_escalated` webhook event for this step.
    Escalated(SlaStep),
    /// SLA-3: the lead has waited `age` in `queue`.
    QueueAlert { queue: String, age: SignedDuration },
    /// A meeting booked, moved or cancelled (issue 22): the invitation's data.
    Meeting(Box<crate::booking::Meeting>),
}

/// What one lifecycle operation does. Applying it: the effects to the state, `lead` as
/// the lead's update, `history` as a decision record (with `routed`'s decision and trace
/// when set), cancel the lead's pending timers (when `cancel_timers`) before creating
/// `timers`, render `notices`, and write the person row of `person`.
#[derive(Debug, Clone, Default)]
pub struct Change {
    /// The lead afterwards; None leaves the stored lead as it is.
    pub lead: Option<LeadView>,
    pub history: Option<HistoryEntry>,
    /// The decision behind the change (routing, reassignment). Its effects have been
    /// moved into (and adjusted in) `effects`.
    pub routed: Option<Routed>,
    pub effects: Vec<Effect>,
    pub cancel_timers: bool,
    pub timers: Vec<TimerSet>,
    pub notices: Vec<Notice>,
    /// The normalised email whose person row is written (as the state has it after the
    /// effects).
    pub person: Option<String>,
}

/// Why an operation was refused; nothing of it is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotFound(String),
    Invalid {
        field: &'static str,
        message: String,
    },
}

fn invalid(field: &'static str, message: String) -> Refusal {
    Refusal::Invalid { field, message }
}

/// A routed lead (VAL-3, VAL-4). `existing` is the person's last lead, if any: a known
/// person's open lead is updated, a recycled person's disqualified lead is reopened, and
/// anything else makes a new lead (`Change::lead` None). The lead's notifications and
/// SLA ladder start afresh.
pub fn route(
    mut routed: Routed,
    existing: Option<&LeadView>,
    now: Timestamp,
    ladder: &Ladder<'_>,
) -> Change {
    let d = &routed.decision;
    let reused = existing.filter(|l| match d.path {
        RoutePath::KnownPerson => l.status == LeadStatus::Open,
        RoutePath::Recycled => l.status == LeadStatus::Disqualified,
        _ => false,
    });
    let new_owner = d.owner.as_ref().map(|o| o.id.to_string());
    let mut effects = std::mem::take(&mut routed.effects);
    let mut kind = DecisionKind::Route;
    let mut notice = Notice::Assignment;
    let mut lead = None;
    if let Some(old) = reused {
        let moved = old.owner != new_owner;
        if d.path == RoutePath::KnownPerson {
            if !moved {
                // Same owner, same open lead: nothing new for the rep to carry.
                effects.retain(|e| {
                    !matches!(e, Effect::AddEarlyLoad { .. } | Effect::CountDaily { .. })
                });
            } else if let Some(prev) = &old.owner {
                effects.insert(
                    0,
                    Effect::RemoveLoad {
                        rep: prev.into(),
                        stage: old.stage,
                    },
                );
            }
        }
        if moved {
            notice = Notice::Reassignment {
                from: old.owner.clone(),
            };
        }
        kind = if d.path == RoutePath::Recycled {
            DecisionKind::Recycle
        } else {
            DecisionKind::Resubmission
        };
        lead = Some(LeadView {
            owner: new_owner.clone(),
            queue: d.queue.as_deref().map(str::to_string),
            team: d.team.as_deref().map(str::to_string),
            status: LeadStatus::Open,
            stage: if d.path == RoutePath::Recycled || moved {
                Stage::Early
            } else {
                old.stage
            },
            contact_by: d.sla.contact_by,
            accepted_at: None,
            first_touch_at: None,
            ..old.clone()
        });
    }
    let email = routed.trace.facts.email.as_ref().map(|e| e.to_string());
    if let Some(e) = &email {
        effects.push(Effect::ReopenPerson {
            email: crate::text::Text::copy(e),
        });
    }
    Change {
        history: Some(HistoryEntry {
            kind,
            reason: d.reason.clone(),
            owner: new_owner,
            queue: d.queue.as_deref().map(str::to_string),
            actor: None,
        }),
        timers: ladder.timers(d, now),
        lead,
        routed: Some(routed),
        effects,
        cancel_timers: true,
        notices: vec![notice],
        person: email,
    }
}

/// What a manual reassignment needs besides the lead (ASG-6).
pub struct Reassign<'a> {
    pub cfg: &'a CompiledConfig,
    pub state: &'a StateSnapshot,
    /// The stored lead's payload, read again.
    pub parsed: &'a Lead,
    pub issues: &'a [FieldIssue],
    pub rep: &'a str,
    pub actor: &'a str,
    pub note: Option<&'a str>,
    pub now: Timestamp,
}

/// ASG-6: an admin gives the lead to `rep`. The lead keeps its stage and its weight moves
/// from the old owner to the new one; the person follows the lead, so a resubmission goes
/// to the new owner. The rep's own notifications and SLA ladder start. None when `rep`
/// already owns the lead.
pub fn reassign(
    lead: &LeadView,
    r: Reassign<'_>,
    ladder: &Ladder<'_>,
) -> Result<Option<Change>, Refusal> {
    let mut input = RoutingInput::new(r.parsed, r.state, r.now);
    input.issues = r.issues;
    let mut routed =
        assign_manually(r.cfg, input, r.rep, r.actor, r.note).map_err(|m| invalid("rep", m))?;
    if lead.owner.as_deref() == Some(r.rep) {
        return Ok(None);
    }
    let mut effects: Vec<Effect> = std::mem::take(&mut routed.effects)
        .into_iter()
        .filter(|e| !matches!(e, Effect::AddEarlyLoad { .. }))
        .collect();
    if lead.is_open() {
        if let Some(prev) = &lead.owner {
            effects.push(Effect::RemoveLoad {
                rep: prev.into(),
                stage: lead.stage,
            });
        }
        effects.push(Effect::AddLoad {
            rep: crate::text::Text::copy(r.rep),
            stage: lead.stage,
        });
    }
    let d = &routed.decision;
    let after = LeadView {
        owner: Some(r.rep.to_string()),
        queue: None,
        team: d.team.as_deref().map(str::to_string),
        contact_by: d.sla.contact_by,
        ..lead.clone()
    };
    Ok(Some(Change {
        history: Some(HistoryEntry {
            kind: DecisionKind::Manual,
            reason: d.reason.clone(),
            owner: after.owner.clone(),
            queue: None,
            actor: Some(r.actor.to_string()),
        }),
        timers: ladder.timers(d, r.now),
        notices: vec![Notice::Reassignment {
            from: lead.owner.clone(),
        }],
        cancel_timers: true,
        person: lead.email.clone(),
        lead: Some(after),
        routed: Some(routed),
        effects,
    }))
}

/// An open lead is disqualified: it leaves its owner's load, its SLA ladder stops, and
/// the person is remembered as disqualified, so their next submission is a recycle
/// (VAL-4).
pub fn disqualify(
    lead: &LeadView,
    reason: Option<&str>,
    actor: &str,
    now: Timestamp,
) -> Result<Change, Refusal> {
    if !lead.is_open() {
        return Err(invalid(
            "status",
            format!(
                "lead is {}, only open leads can be disqualified",
                lead.status
            ),
        ));
    }
    let mut effects = Vec::new();
    if let Some(o) = &lead.owner {
        effects.push(Effect::RemoveLoad {
            rep: o.into(),
            stage: lead.stage,
        });
    }
    if let Some(e) = &lead.email {
        effects.push(Effect::DisqualifyPerson {
            email: e.into(),
            owner: lead.owner.as_ref().map(Into::into),
            at: now,
            note: reason.map(str::to_string),
        });
    }
    Ok(Change {
        history: Some(HistoryEntry {
            kind: DecisionKind::Disqualify,
            reason: match reason {
                Some(r) => format!("disqualified: {r}"),
                None => "disqualified".to_string(),
            },
            owner: lead.owner.clone(),
            queue: lead.queue.clone(),
            actor: Some(actor.to_string()),
        }),
        lead: Some(LeadView {
            status: LeadStatus::Disqualified,
            ..lead.clone()
        }),
        effects,
        cancel_timers: true,
        person: lead.email.clone(),
        ..Change::default()
    })
}

/// A reported outcome: an opportunity or a proposal moves an open lead to a later stage
/// (its weight in the owner's load moves with it); won or lost closes it, which takes it
/// off the load and stops the SLA ladder.
pub fn outcome(
    lead: &LeadView,
    outcome: &str,
    actor: &str,
    now: Timestamp,
) -> Result<Change, Refusal> {
    let Ok(o) = outcome.parse::<Outcome>() else {
        return Err(invalid(
            "outcome",
            format!("`{outcome}` is not an outcome; use opportunity, proposal, won or lost"),
        ));
    };
    let (status, stage) = o.result(lead.stage);
    let mut effects = Vec::new();
    if lead.is_open()
        && let Some(owner) = &lead.owner
    {
        effects.push(Effect::RemoveLoad {
            rep: owner.into(),
            stage: lead.stage,
        });
        if status == LeadStatus::Open {
            effects.push(Effect::AddLoad {
                rep: owner.into(),
                stage,
            });
        }
    }
    Ok(Change {
        history: Some(HistoryEntry {
            kind: DecisionKind::Outcome,
            reason: format!("outcome: {o}"),
            owner: lead.owner.clone(),
            queue: lead.queue.clone(),
            actor: Some(actor.to_string()),
        }),
        lead: Some(LeadView {
            status,
            stage,
            outcome: Some(o),
            outcome_at: Some(now),
            ..lead.clone()
        }),
        effects,
        cancel_timers: status != LeadStatus::Open,
        ..Change::default()
    })
}

/// SLA-1: the rep accepted the lead or recorded first touch (contact implies acceptance).
/// It stops the SLA ladder. A signed link names the rep it was sent to (`as_owner`), who
/// must still own the lead. None when this was already recorded.
pub fn touch(
    lead: &LeadView,
    touch: Touch,
    actor: &str,
    as_owner: Option<&str>,
    now: Timestamp,
) -> Result<Option<Change>, Refusal> {
    if let Some(who) = as_owner
        && lead.owner.as_deref() != Some(who)
    {
        return Err(invalid(
            "owner",
            format!(
                "this link was sent to {} but the lead is now {}; use the link in the current owner's notification",
                if who.is_empty() { "nobody" } else { who },
                match (&lead.owner, &lead.queue) {
                    (Some(o), _) => format!("owned by {o}"),
                    (None, Some(q)) => format!("in the {q} queue"),
                    (None, None) => "unassigned".to_string(),
                }
            ),
        ));
    }
    let (kind, first) = match touch {
        Touch::Accept => (DecisionKind::Accepted, lead.accepted_at.is_none()),
        Touch::Contacted => (DecisionKind::Contacted, lead.first_touch_at.is_none()),
    };
    if !first {
        return Ok(None);
    }
    let mut after = lead.clone();
    after.accepted_at = after.accepted_at.or(Some(now));
    if touch == Touch::Contacted {
        after.first_touch_at = Some(now);
    }
    Ok(Some(Change {
        history: Some(HistoryEntry {
            kind,
            reason: format!("{kind} by {actor}"),
            owner: lead.owner.clone(),
            queue: lead.queue.clone(),
            actor: Some(actor.to_string()),
        }),
        lead: Some(after),
        cancel_timers: true,
        notices: vec![Notice::Touched(touch)],
        ..Change::default()
    }))
}

/// A rep is set out of office (until `until`, or open-ended) or back. The override sits on
/// top of the config's working hours and out-of-office windows.
pub fn availability(
    cfg: &CompiledConfig,
    rep: &str,
    out: bool,
    until: Option<Timestamp>,
    note: Option<String>,
) -> Result<Change, Refusal> {
    if !cfg.rep_by_id.contains_key(rep) {
        return Err(Refusal::NotFound(format!("rep {rep}")));
    }
    let effect = if out {
        Effect::SetOutOfOffice {
            rep: crate::text::Text::copy(rep),
            until,
            note,
        }
    } else {
        Effect::ClearOutOfOffice {
            rep: crate::text::Text::copy(rep),
        }
    };
    Ok(Change {
        effects: vec![effect],
        ..Change::default()
    })
}
