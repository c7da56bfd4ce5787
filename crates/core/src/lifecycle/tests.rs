//! One test per lifecycle rule, on a small config: a pool team of two reps (one with a
//! manager), a rep of no team, and leadership.

use super::*;
use crate::config::{LoadError, SourceText, compile::compile};
use crate::engine::decide;
use crate::state::{AvailabilityOverride, PriorPerson, PriorStatus};
use serde_json::json;

const CFG: &str = r#"
[routing]
default_team = "pool"

[[manager]]
id = "m1"
name = "Mona Manager"

[[manager]]
id = "cro"
name = "Chris Cro"

[leadership]
notify = ["cro"]

[[rep]]
id = "a"
name = "Ann"
team = "pool"
manager = "m1"

[[rep]]
id = "b"
name = "Bob"
team = "pool"

[[team]]
id = "pool"
"#;

fn cfg() -> CompiledConfig {
    compile(SourceText::new("t.toml", CFG), &|p: &str| {
        Err(LoadError::Io {
            path: p.into(),
            source: std::io::Error::other("no files in this test"),
        })
    })
    .expect("config compiles")
}

fn now() -> Timestamp {
    Timestamp::from_second(1_800_000_000).unwrap()
}

fn parsed() -> Lead {
    Lead::from_json(&json!({"email": "pat@acme.com", "country": "US", "employees": "500", "industry": "software"}))
        .expect("lead")
        .0
}

const NO_QUEUES: Ladder<'static> = Ladder {
    alert_queues: &[],
    queue_alert_after: SignedDuration::from_mins(30),
};

/// An open, untouched lead of pat@acme.com owned by `owner` at `stage`.
fn lead(owner: Option<&str>, stage: Stage) -> LeadView {
    LeadView {
        id: "L1".into(),
        email: Some("pat@acme.com".into()),
        received_at: now() - SignedDuration::from_hours(2),
        owner: owner.map(str::to_string),
        queue: None,
        team: Some("pool".into()),
        status: LeadStatus::Open,
        stage,
        outcome: None,
        outcome_at: None,
        contact_by: None,
        accepted_at: None,
        first_touch_at: None,
    }
}

fn known(owner: &str) -> StateSnapshot {
    let mut s = StateSnapshot::default();
    s.people.insert(
        "pat@acme.com".into(),
        PriorPerson {
            owner: Some(owner.into()),
            status: PriorStatus::Open,
            disqualified_at: None,
            note: None,
        },
    );
    s
}

fn routed(c: &CompiledConfig, state: &StateSnapshot) -> Routed {
    let l = parsed();
    decide(c, RoutingInput::new(&l, state, now()))
}

fn load(rep: &str, stage: Stage, add: bool) -> Effect {
    let rep = crate::text::Text::copy(rep);
    if add {
        Effect::AddLoad { rep, stage }
    } else {
        Effect::RemoveLoad { rep, stage }
    }
}

fn kind(c: &Change) -> DecisionKind {
    c.history.as_ref().expect("history").kind
}

// --- routing: VAL-3 / VAL-4 ------------------------------------------------------------

#[test]
fn a_new_person_gets_a_new_lead_and_the_full_sla_ladder() {
    let c = cfg();
    let r = routed(&c, &StateSnapshot::default());
    assert!(r.decision.owner.is_some(), "{:?}", r.decision);
    let ch = route(r, None, now(), &NO_QUEUES);
    assert!(ch.lead.is_none());
    assert_eq!(kind(&ch), DecisionKind::Route);
    assert_eq!(ch.notices, vec![Notice::Assignment]);
    let steps: Vec<SlaStep> = ch.timers.iter().map(|t| t.step).collect();
    assert_eq!(
        steps,
        [SlaStep::Manager, SlaStep::Reassign, SlaStep::Leadership]
    );
    assert!(ch.timers[0].due < ch.timers[1].due && ch.timers[1].due < ch.timers[2].due);
    assert!(ch.cancel_timers);
    assert_eq!(ch.person.as_deref(), Some("pat@acme.com"));
    assert_eq!(
        ch.effects.last(),
        Some(&Effect::ReopenPerson {
            email: "pat@acme.com".into()
        })
    );
}

#[test]
fn a_resubmission_to_the_same_owner_keeps_the_stage_and_adds_no_load() {
    let c = cfg();
    let r = routed(&c, &known("a"));
    assert_eq!(r.decision.path, RoutePath::KnownPerson);
    let ch = route(r, Some(&lead(Some("a"), Stage::Mid)), now(), &NO_QUEUES);
    assert_eq!(kind(&ch), DecisionKind::Resubmission);
    let after = ch.lead.expect("the open lead is updated");
    assert_eq!(
        (after.owner.as_deref(), after.stage),
        (Some("a"), Stage::Mid)
    );
    assert!(!ch.effects.iter().any(|e| matches!(
        e,
        Effect::AddEarlyLoad { .. } | Effect::CountDaily { .. } | Effect::RemoveLoad { .. }
    )));
    assert_eq!(ch.notices, vec![Notice::Assignment]);
}

#[test]
fn a_resubmission_to_a_new_owner_moves_the_load_and_starts_early() {
    let c = cfg();
    let r = routed(&c, &known("a"));
    let ch = route(r, Some(&lead(Some("b"), Stage::Late)), now(), &NO_QUEUES);
    assert_eq!(ch.effects[0], load("b", Stage::Late, false));
    assert!(
        ch.effects
            .contains(&Effect::AddEarlyLoad { rep: "a".into() })
    );
    let after = ch.lead.expect("updated");
    assert_eq!(
        (after.owner.as_deref(), after.stage),
        (Some("a"), Stage::Early)
    );
    assert_eq!(
        ch.notices,
        vec![Notice::Reassignment {
            from: Some("b".into())
        }]
    );
}

#[test]
fn a_resubmission_clears_acceptance_and_touch() {
    let c = cfg();
    let mut old = lead(Some("a"), Stage::Early);
    old.accepted_at = Some(now());
    old.first_touch_at = Some(now());
    let ch = route(routed(&c, &known("a")), Some(&old), now(), &NO_QUEUES);
    let after = ch.lead.expect("updated");
    assert_eq!((after.accepted_at, after.first_touch_at), (None, None));
}

#[test]
fn a_recycled_person_reopens_their_disqualified_lead_at_the_early_stage() {
    let c = cfg();
    let mut r = routed(&c, &StateSnapshot::default());
    r.decision.path = RoutePath::Recycled;
    let mut old = lead(Some("a"), Stage::Late);
    old.status = LeadStatus::Disqualified;
    let ch = route(r, Some(&old), now(), &NO_QUEUES);
    assert_eq!(kind(&ch), DecisionKind::Recycle);
    let after = ch.lead.expect("reopened");
    assert_eq!(
        (after.status, after.stage),
        (LeadStatus::Open, Stage::Early)
    );
    // The disqualification already took the lead off the old owner's load.
    assert!(
        !ch.effects
            .iter()
            .any(|e| matches!(e, Effect::RemoveLoad { .. }))
    );
}

#[test]
fn a_known_person_whose_lead_is_closed_gets_a_new_lead() {
    let c = cfg();
    let mut old = lead(Some("a"), Stage::Late);
    old.status = LeadStatus::Won;
    let ch = route(routed(&c, &known("a")), Some(&old), now(), &NO_QUEUES);
    assert!(ch.lead.is_none());
    assert_eq!(kind(&ch), DecisionKind::Route);
}

// --- the SLA ladder: which timers ------------------------------------------------------

#[test]
fn an_unowned_lead_in_an_alerting_queue_gets_a_queue_age_timer_only() {
    let c = cfg();
    let mut state = StateSnapshot::default();
    for rep in ["a", "b"] {
        state.apply(&[Effect::SetOutOfOffice {
            rep: rep.into(),
            until: None,
            note: None,
        }]);
    }
    let r = routed(&c, &state);
    let queue = r.decision.queue.as_deref().expect("queued").to_string();
    let alerting = [queue];
    let l = Ladder {
        alert_queues: &alerting,
        queue_alert_after: SignedDuration::from_mins(30),
    };
    let timers = l.timers(&r.decision, now());
    assert_eq!(
        timers,
        vec![TimerSet {
            step: SlaStep::QueueAge,
            due: now() + SignedDuration::from_mins(30),
            owner: None
        }]
    );
    assert!(NO_QUEUES.timers(&r.decision, now()).is_empty());
}

// --- manual reassignment (ASG-6) -------------------------------------------------------

fn reassign_to<'a>(
    c: &'a CompiledConfig,
    state: &'a StateSnapshot,
    l: &'a Lead,
    rep: &'a str,
) -> Reassign<'a> {
    Reassign {
        cfg: c,
        state,
        parsed: l,
        issues: &[],
        rep,
        actor: "admin",
        note: None,
        now: now(),
    }
}

#[test]
fn a_reassignment_moves_the_weight_at_the_lead_stage() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let ch = reassign(
        &lead(Some("a"), Stage::Mid),
        reassign_to(&c, &s, &p, "b"),
        &NO_QUEUES,
    )
    .unwrap()
    .expect("a change");
    assert!(ch.effects.contains(&load("a", Stage::Mid, false)));
    assert!(ch.effects.contains(&load("b", Stage::Mid, true)));
    assert!(
        !ch.effects
            .iter()
            .any(|e| matches!(e, Effect::AddEarlyLoad { .. }))
    );
    let after = ch.lead.as_ref().expect("updated");
    assert_eq!(
        (after.owner.as_deref(), after.stage),
        (Some("b"), Stage::Mid)
    );
    assert_eq!(kind(&ch), DecisionKind::Manual);
    assert_eq!(
        ch.notices,
        vec![Notice::Reassignment {
            from: Some("a".into())
        }]
    );
    assert_eq!(ch.person.as_deref(), Some("pat@acme.com"));
    assert!(ch.cancel_timers);
    assert!(ch.timers.iter().all(|t| t.owner.as_deref() == Some("b")));
}

#[test]
fn a_reassignment_to_the_current_owner_changes_nothing() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let r = reassign(
        &lead(Some("a"), Stage::Early),
        reassign_to(&c, &s, &p, "a"),
        &NO_QUEUES,
    );
    assert_eq!(r.map(|c| c.is_none()), Ok(true));
}

#[test]
fn a_reassignment_to_an_unknown_rep_is_refused() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let r = reassign(
        &lead(Some("a"), Stage::Early),
        reassign_to(&c, &s, &p, "zed"),
        &NO_QUEUES,
    );
    assert!(matches!(r, Err(Refusal::Invalid { field: "rep", .. })));
}

#[test]
fn reassigning_a_closed_lead_moves_no_load() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let mut l = lead(Some("a"), Stage::Late);
    l.status = LeadStatus::Won;
    let ch = reassign(&l, reassign_to(&c, &s, &p, "b"), &NO_QUEUES)
        .unwrap()
        .expect("a change");
    assert!(!ch.effects.iter().any(|e| matches!(
        e,
        Effect::AddLoad { .. } | Effect::RemoveLoad { .. } | Effect::AddEarlyLoad { .. }
    )));
}

// --- disqualification and outcomes ----------------------------------------------------

#[test]
fn a_disqualification_takes_the_lead_off_the_load_and_remembers_the_person() {
    let ch = disqualify(
        &lead(Some("a"), Stage::Mid),
        Some("student"),
        "admin",
        now(),
    )
    .unwrap();
    assert_eq!(
        ch.effects,
        vec![
            load("a", Stage::Mid, false),
            Effect::DisqualifyPerson {
                email: "pat@acme.com".into(),
                owner: Some("a".into()),
                at: now(),
                note: Some("student".into()),
            }
        ]
    );
    assert_eq!(ch.lead.unwrap().status, LeadStatus::Disqualified);
    assert!(ch.cancel_timers);
    assert_eq!(ch.history.unwrap().reason, "disqualified: student");
}

#[test]
fn only_open_leads_can_be_disqualified() {
    let mut l = lead(Some("a"), Stage::Mid);
    l.status = LeadStatus::Lost;
    assert_eq!(
        disqualify(&l, None, "admin", now()).unwrap_err(),
        Refusal::Invalid {
            field: "status",
            message: "lead is lost, only open leads can be disqualified".into()
        }
    );
}

#[test]
fn an_opportunity_moves_an_open_lead_to_the_mid_stage() {
    let ch = outcome(&lead(Some("a"), Stage::Early), "opportunity", "rep", now()).unwrap();
    assert_eq!(
        ch.effects,
        vec![load("a", Stage::Early, false), load("a", Stage::Mid, true)]
    );
    let after = ch.lead.unwrap();
    assert_eq!(
        (after.status, after.stage, after.outcome, after.outcome_at),
        (
            LeadStatus::Open,
            Stage::Mid,
            Some(Outcome::Opportunity),
            Some(now())
        )
    );
    assert!(!ch.cancel_timers);
}

#[test]
fn a_won_lead_is_closed_off_the_load_and_its_ladder_stops() {
    let ch = outcome(&lead(Some("a"), Stage::Late), "won", "rep", now()).unwrap();
    assert_eq!(ch.effects, vec![load("a", Stage::Late, false)]);
    let after = ch.lead.unwrap();
    assert_eq!((after.status, after.stage), (LeadStatus::Won, Stage::Late));
    assert!(ch.cancel_timers);
}

#[test]
fn an_outcome_on_a_closed_lead_moves_no_load() {
    let mut l = lead(Some("a"), Stage::Late);
    l.status = LeadStatus::Lost;
    let ch = outcome(&l, "proposal", "rep", now()).unwrap();
    assert!(ch.effects.is_empty());
    assert_eq!(ch.lead.unwrap().status, LeadStatus::Open);
}

#[test]
fn an_unknown_outcome_is_refused_with_the_choices() {
    let e = outcome(&lead(Some("a"), Stage::Early), "maybe", "rep", now()).unwrap_err();
    assert_eq!(
        e,
        Refusal::Invalid {
            field: "outcome",
            message: "`maybe` is not an outcome; use opportunity, proposal, won or lost".into()
        }
    );
}

// --- accept / first touch (SLA-1) ------------------------------------------------------

#[test]
fn first_contact_implies_acceptance_and_stops_the_ladder() {
    let ch = touch(
        &lead(Some("a"), Stage::Early),
        Touch::Contacted,
        "a",
        None,
        now(),
    )
    .unwrap()
    .expect("a change");
    let after = ch.lead.unwrap();
    assert_eq!(
        (after.accepted_at, after.first_touch_at),
        (Some(now()), Some(now()))
    );
    assert!(ch.cancel_timers);
    assert_eq!(ch.notices, vec![Notice::Touched(Touch::Contacted)]);
    assert_eq!(ch.history.unwrap().reason, "contacted by a");
}

#[test]
fn a_second_accept_changes_nothing() {
    let mut l = lead(Some("a"), Stage::Early);
    l.accepted_at = Some(now());
    assert_eq!(
        touch(&l, Touch::Accept, "a", None, now()).map(|c| c.is_none()),
        Ok(true)
    );
}

#[test]
fn a_link_sent_to_a_former_owner_is_refused() {
    let e = touch(
        &lead(Some("b"), Stage::Early),
        Touch::Accept,
        "x",
        Some("a"),
        now(),
    )
    .unwrap_err();
    let Refusal::Invalid { field, message } = e else {
        panic!("{e:?}")
    };
    assert_eq!(field, "owner");
    assert!(
        message.contains("sent to a but the lead is now owned by b"),
        "{message}"
    );
}

// --- SLA rungs (SLA-2/3) ---------------------------------------------------------------

fn due<'a>(
    c: &'a CompiledConfig,
    s: &'a StateSnapshot,
    p: &'a Lead,
    step: SlaStep,
    owner: Option<&'a str>,
) -> Due<'a> {
    Due {
        cfg: c,
        state: s,
        parsed: p,
        step,
        owner,
        now: now(),
    }
}

#[test]
fn the_manager_rung_alerts_the_owners_manager() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let (action, ch) = fire(
        &lead(Some("a"), Stage::Early),
        due(&c, &s, &p, SlaStep::Manager, Some("a")),
    );
    assert_eq!(
        action,
        SlaAction::ManagerAlert {
            manager: "m1".into()
        }
    );
    assert_eq!(
        ch.notices,
        vec![
            Notice::ManagerAlert {
                manager: 0,
                multiple: 1
            },
            Notice::Escalated(SlaStep::Manager)
        ]
    );
    assert_eq!(kind(&ch), DecisionKind::SlaManagerAlert);
    assert!(ch.lead.is_none() && ch.effects.is_empty());
}

#[test]
fn the_manager_rung_without_a_manager_only_records_it() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let (action, ch) = fire(
        &lead(Some("b"), Stage::Early),
        due(&c, &s, &p, SlaStep::Manager, Some("b")),
    );
    assert_eq!(action, SlaAction::None { why: "no manager" });
    assert!(ch.notices.is_empty());
    assert_eq!(
        ch.history.unwrap().reason,
        "SLA missed by b; no manager configured"
    );
}

#[test]
fn a_rung_set_for_a_former_owner_does_nothing() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let (action, ch) = fire(
        &lead(Some("b"), Stage::Early),
        due(&c, &s, &p, SlaStep::Manager, Some("a")),
    );
    assert!(matches!(action, SlaAction::None { .. }));
    assert!(ch.history.is_none() && ch.notices.is_empty());
}

#[test]
fn a_touched_lead_is_not_escalated() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let mut l = lead(Some("a"), Stage::Early);
    l.accepted_at = Some(now());
    for step in [SlaStep::Manager, SlaStep::Reassign, SlaStep::Leadership] {
        let (action, ch) = fire(&l, due(&c, &s, &p, step, Some("a")));
        assert!(matches!(action, SlaAction::None { .. }), "{step}");
        assert!(ch.history.is_none(), "{step}");
    }
}

#[test]
fn the_reassign_rung_moves_the_lead_and_starts_the_new_owners_clock() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let (action, ch) = fire(
        &lead(Some("a"), Stage::Mid),
        due(&c, &s, &p, SlaStep::Reassign, Some("a")),
    );
    assert_eq!(
        action,
        SlaAction::Reassigned {
            from: "a".into(),
            to: "b".into()
        }
    );
    assert!(ch.effects.contains(&load("a", Stage::Mid, false)));
    assert!(ch.effects.contains(&load("b", Stage::Mid, true)));
    assert!(!ch.cancel_timers, "the 3x leadership alert stays");
    assert_eq!(ch.timers.len(), 1);
    assert_eq!(
        (ch.timers[0].step, ch.timers[0].owner.as_deref()),
        (SlaStep::Manager, Some("b"))
    );
    assert_eq!(
        ch.notices,
        vec![
            Notice::Reassignment {
                from: Some("a".into())
            },
            Notice::Escalated(SlaStep::Reassign)
        ]
    );
    // The person follows the lead, as for a manual reassignment: the state's owner
    // and the stored person row agree.
    assert_eq!(ch.person.as_deref(), Some("pat@acme.com"));
    assert!(ch.effects.iter().any(|e| matches!(
        e,
        Effect::SetOwner { email, rep } if &**email == "pat@acme.com" && &**rep == "b"
    )));
    assert_eq!(ch.lead.unwrap().owner.as_deref(), Some("b"));
}

#[test]
fn the_reassign_rung_with_nobody_else_available_keeps_the_owner() {
    let (c, p) = (cfg(), parsed());
    let mut s = StateSnapshot::default();
    s.availability.insert(
        "b".into(),
        AvailabilityOverride {
            out: true,
            out_until: None,
            note: None,
        },
    );
    let (action, ch) = fire(
        &lead(Some("a"), Stage::Mid),
        due(&c, &s, &p, SlaStep::Reassign, Some("a")),
    );
    assert_eq!(
        action,
        SlaAction::None {
            why: "no other rep available"
        }
    );
    assert!(ch.lead.is_none() && ch.effects.is_empty());
    assert_eq!(kind(&ch), DecisionKind::SlaReassign);
}

#[test]
fn the_leadership_rung_alerts_leadership_whoever_owns_the_lead_now() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let (action, ch) = fire(
        &lead(Some("b"), Stage::Early),
        due(&c, &s, &p, SlaStep::Leadership, Some("a")),
    );
    assert_eq!(
        action,
        SlaAction::LeadershipAlert {
            to: vec!["cro".into()]
        }
    );
    assert_eq!(
        ch.notices,
        vec![
            Notice::ManagerAlert {
                manager: 1,
                multiple: 3
            },
            Notice::Escalated(SlaStep::Leadership)
        ]
    );
    assert_eq!(
        ch.history.unwrap().reason,
        "not touched within 3x SLA: escalated to cro"
    );
}

#[test]
fn the_queue_age_rung_alerts_for_an_unowned_open_lead() {
    let (c, s, p) = (cfg(), StateSnapshot::default(), parsed());
    let mut l = lead(None, Stage::Early);
    l.queue = Some("unassigned".into());
    let (action, ch) = fire(&l, due(&c, &s, &p, SlaStep::QueueAge, None));
    assert_eq!(
        action,
        SlaAction::QueueAlert {
            queue: "unassigned".into()
        }
    );
    assert_eq!(
        ch.notices,
        vec![Notice::QueueAlert {
            queue: "unassigned".into(),
            age: SignedDuration::from_hours(2)
        }]
    );
    assert_eq!(ch.history.unwrap().reason, "in queue unassigned for 2 h");
}

// --- availability ----------------------------------------------------------------------

#[test]
fn availability_is_an_effect_for_a_known_rep_only() {
    let c = cfg();
    let out = availability(&c, "a", true, None, Some("trip".into())).unwrap();
    assert_eq!(
        out.effects,
        vec![Effect::SetOutOfOffice {
            rep: "a".into(),
            until: None,
            note: Some("trip".into())
        }]
    );
    let back = availability(&c, "a", false, None, None).unwrap();
    assert_eq!(
        back.effects,
        vec![Effect::ClearOutOfOffice { rep: "a".into() }]
    );
    assert_eq!(
        availability(&c, "zed", true, None, None).unwrap_err(),
        Refusal::NotFound("rep zed".into())
    );
}
