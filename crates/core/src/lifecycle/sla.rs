//! The SLA ladder (SLA-2/3): which timers a fresh assignment sets, and what each rung
//! does when its timer comes due. An owned lead untouched at 1x its contact SLA alerts the
//! owner's manager, at 2x goes to another rep, at 3x alerts leadership; an unowned lead
//! waiting in an alerting queue raises a queue alert. A rung acts only while the lead is
//! still waiting for the owner it was set for.

use super::{Change, DecisionKind, HistoryEntry, LeadView, Notice, SlaStep, TimerSet};
use crate::config::CompiledConfig;
use crate::engine::{RoutingInput, decide};
use crate::lead::Lead;
use crate::state::{Effect, StateSnapshot};
use crate::trace::Decision;
use jiff::{SignedDuration, Timestamp};

/// What the ladder needs from the notification settings.
#[derive(Debug, Clone, Copy)]
pub struct Ladder<'a> {
    /// Queues whose unowned leads raise an alert (SLA-3).
    pub alert_queues: &'a [String],
    pub queue_alert_after: SignedDuration,
}

impl Ladder<'_> {
    /// The timers a fresh decision sets: manager, reassign and leadership at 1x, 2x and
    /// 3x the contact SLA for an owner; a queue alert for an alerting queue.
    pub fn timers(&self, d: &Decision, now: Timestamp) -> Vec<TimerSet> {
        // The contact clock starts when the decision says (later than now for a lead
        // held for its owner's working window), never earlier than now.
        let start = d
            .sla
            .contact_by
            .and_then(|c| c.checked_sub(d.sla.contact_within).ok())
            .map_or(now, |s| s.max(now));
        let at = |after: SignedDuration| start.saturating_add(after).unwrap_or(start);
        match (&d.owner, &d.queue) {
            (Some(o), _) => [
                (1, SlaStep::Manager),
                (2, SlaStep::Reassign),
                (3, SlaStep::Leadership),
            ]
            .into_iter()
            .map(|(k, step)| TimerSet {
                step,
                due: at(d.sla.contact_within * k),
                owner: Some(o.id.to_string()),
            })
            .collect(),
            (None, Some(q)) if self.alert_queues.iter().any(|a| a == q.as_str()) => {
                vec![TimerSet {
                    step: SlaStep::QueueAge,
                    due: now.saturating_add(self.queue_alert_after).unwrap_or(now),
                    owner: None,
                }]
            }
            _ => Vec::new(),
        }
    }
}

/// What a due timer did, for the reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SlaAction {
    None { why: &'static str },
    ManagerAlert { manager: String },
    Reassigned { from: String, to: String },
    LeadershipAlert { to: Vec<String> },
    QueueAlert { queue: String },
}

/// A due timer, with what a rung that routes again needs.
pub struct Due<'a> {
    pub cfg: &'a CompiledConfig,
    pub state: &'a StateSnapshot,
    /// The stored lead's payload, read again.
    pub parsed: &'a Lead,
    pub step: SlaStep,
    /// The owner the timer was set for.
    pub owner: Option<&'a str>,
    pub now: Timestamp,
}

/// The manager who hears about a rep's missed SLA: the rep's own, else their team's.
pub fn manager_of(cfg: &CompiledConfig, rep: &str) -> Option<u32> {
    let r = cfg.rep(*cfg.rep_by_id.get(rep)?);
    r.manager
        .or_else(|| r.team.and_then(|t| cfg.team(t).manager))
}

/// SLA-2/3: a timer came due for `lead`.
pub fn fire(lead: &LeadView, t: Due<'_>) -> (SlaAction, Change) {
    let cfg = t.cfg;
    let untouched = lead.untouched();
    let still_owner = lead.owner.is_some() && lead.owner.as_deref() == t.owner;
    let history = |kind, reason, owner: Option<String>, queue| HistoryEntry {
        kind,
        reason,
        owner,
        queue,
        actor: Some("sla".to_string()),
    };
    match t.step {
        SlaStep::Manager if untouched && still_owner => {
            let owner = lead.owner.clone().unwrap_or_default();
            let Some(m) = manager_of(cfg, &owner) else {
                let h = history(
                    DecisionKind::SlaManagerAlert,
                    format!("SLA missed by {owner}; no manager configured"),
                    lead.owner.clone(),
                    None,
                );
                return (
                    SlaAction::None { why: "no manager" },
                    Change {
                        history: Some(h),
                        ..Change::default()
                    },
                );
            };
            let id = cfg.managers[m as usize].id.clone();
            let change = Change {
                history: Some(history(
                    DecisionKind::SlaManagerAlert,
                    format!("not touched within SLA: escalated to manager {id}"),
                    lead.owner.clone(),
                    None,
                )),
                notices: vec![
                    Notice::ManagerAlert {
                        manager: m,
                        multiple: 1,
                    },
                    Notice::Escalated(SlaStep::Manager),
                ],
                ..Change::default()
            };
            (SlaAction::ManagerAlert { manager: id }, change)
        }
        SlaStep::Reassign if untouched && still_owner => reassign(lead, t),
        SlaStep::Leadership if untouched && lead.owner.is_some() => {
            let sent: Vec<String> = cfg
                .leadership
                .iter()
                .map(|m| cfg.managers[*m as usize].id.clone())
                .collect();
            let mut notices: Vec<Notice> = cfg
                .leadership
                .iter()
                .map(|m| Notice::ManagerAlert {
                    manager: *m,
                    multiple: 3,
                })
                .collect();
            notices.push(Notice::Escalated(SlaStep::Leadership));
            let to = if sent.is_empty() {
                "nobody (no leadership configured)".to_string()
            } else {
                sent.join(", ")
            };
            let change = Change {
                history: Some(history(
                    DecisionKind::SlaLeadershipAlert,
                    format!("not touched within 3x SLA: escalated to {to}"),
                    lead.owner.clone(),
                    None,
                )),
                notices,
                ..Change::default()
            };
            (SlaAction::LeadershipAlert { to: sent }, change)
        }
        SlaStep::QueueAge if lead.is_open() && lead.owner.is_none() => {
            let queue = lead.queue.clone().unwrap_or_default();
            let age = t.now.duration_since(lead.received_at);
            let change = Change {
                history: Some(history(
                    DecisionKind::QueueAlert,
                    format!("in queue {queue} for {}", crate::words::duration(age)),
                    None,
                    Some(queue.clone()),
                )),
                notices: vec![Notice::QueueAlert {
                    queue: queue.clone(),
                    age,
                }],
                ..Change::default()
            };
            (SlaAction::QueueAlert { queue }, change)
        }
        _ => (
            SlaAction::None {
                why: "lead already touched, reassigned or closed",
            },
            Change::default(),
        ),
    }
}

/// 2x: the lead goes to the rep the engine picks without the owner, with its stage and
/// load. The new owner's own SLA clock starts (their manager hears at 1x of it); the 3x
/// leadership alert set at the first assignment stays, and there is no second automatic
/// reassignment, so a lead never bounces between reps.
fn reassign(lead: &LeadView, t: Due<'_>) -> (SlaAction, Change) {
    let owner = lead.owner.clone().unwrap_or_default();
    let exclude = [owner.as_str()];
    let mut input = RoutingInput::new(t.parsed, t.state, t.now);
    input.exclude = &exclude;
    input.reassign_from = Some(owner.as_str());
    let mut routed = decide(t.cfg, input);
    let nd = &routed.decision;
    let history = |reason, owner| HistoryEntry {
        kind: DecisionKind::SlaReassign,
        reason,
        owner,
        queue: None,
        actor: Some("sla".to_string()),
    };
    let Some(new_owner) = nd
        .owner
        .as_ref()
        .map(|o| o.id.to_string())
        .filter(|o| *o != owner)
    else {
        let h = history(
            format!("2x SLA: no other rep available; stays with {owner}"),
            lead.owner.clone(),
        );
        return (
            SlaAction::None {
                why: "no other rep available",
            },
            Change {
                history: Some(h),
                ..Change::default()
            },
        );
    };
    let mut effects: Vec<Effect> = std::mem::take(&mut routed.effects)
        .into_iter()
        .filter(|e| !matches!(e, Effect::AddEarlyLoad { .. }))
        .collect();
    effects.push(Effect::RemoveLoad {
        rep: crate::text::Text::copy(&owner),
        stage: lead.stage,
    });
    effects.push(Effect::AddLoad {
        rep: crate::text::Text::copy(&new_owner),
        stage: lead.stage,
    });
    let nd = &routed.decision;
    let after = LeadView {
        owner: Some(new_owner.clone()),
        queue: None,
        team: nd.team.as_deref().map(str::to_string),
        contact_by: nd.sla.contact_by,
        accepted_at: None,
        first_touch_at: None,
        ..lead.clone()
    };
    let change = Change {
        history: Some(history(
            format!("not touched within 2x SLA by {owner}: {}", nd.reason),
            after.owner.clone(),
        )),
        timers: vec![TimerSet {
            step: SlaStep::Manager,
            due: t.now.saturating_add(nd.sla.contact_within).unwrap_or(t.now),
            owner: Some(new_owner.clone()),
        }],
        notices: vec![
            Notice::Reassignment {
                from: Some(owner.clone()),
            },
            Notice::Escalated(SlaStep::Reassign),
        ],
        // The decision's SetOwner moved the person to the new owner in the state; the
        // row follows, or a restart or another instance would still see the old owner.
        person: lead.email.clone(),
        lead: Some(after),
        routed: Some(routed),
        effects,
        ..Change::default()
    };
    (
        SlaAction::Reassigned {
            from: owner,
            to: new_owner,
        },
        change,
    )
}
