//! The lead-lifecycle rules applied to stored leads. Each job asks a rule of
//! `leadrouter_core::lifecycle` for its change set and applies it to the batch: effects
//! to the cached state (through `Writes::apply`, so the store writes what they touched),
//! the lead's update, its history entry, its timers, its notifications and its person
//! row. The rules decide; nothing here does.

use super::batch::Decider;
use super::notices::{parsed_lead, render};
use super::{BatchCtx, JobError, LeadOp, RouteJob, RouteReply, Touch};
use crate::api::responses::{availability_json, lead_json, route_body, sla_json};
use crate::metrics::RouteObs;
use jiff::Timestamp;
use leadrouter_core::engine::{RoutingInput, decide};
use leadrouter_core::lead::Lead;
use leadrouter_core::lifecycle::{
    self, Change, Due, Ladder, LeadStatus, LeadView, Reassign, Refusal, SlaAction, Stage,
};
use leadrouter_core::state::StateSnapshot;
use leadrouter_core::trace::Decision;
use leadrouter_store::{DecisionRecord, JsonText, LeadRecord, LeadUpdate, from_micros, micros};
use serde_json::Value;

impl From<Refusal> for JobError {
    fn from(r: Refusal) -> JobError {
        match r {
            Refusal::NotFound(what) => JobError::NotFound(what),
            Refusal::Invalid { field, message } => JobError::Invalid {
                field: field.into(),
                message,
            },
        }
    }
}

pub(super) fn ladder<'a>(bx: &BatchCtx<'a>) -> Ladder<'a> {
    Ladder {
        alert_queues: &bx.nrt.alert_queues,
        queue_alert_after: bx.nrt.queue_alert_after,
    }
}

/// The lifecycle rules' view of a stored lead.
pub(super) fn view(l: &LeadRecord) -> LeadView {
    LeadView {
        id: l.id.clone(),
        email: l
            .email
            .as_deref()
            .and_then(|e| leadrouter_core::domains::parse_email(e).ok())
            .map(|e| e.normalized),
        received_at: from_micros(l.received_at),
        owner: l.owner.clone(),
        queue: l.queue.clone(),
        team: l.team.clone(),
        status: l.status,
        stage: l.stage,
        outcome: l.outcome,
        outcome_at: l.outcome_at.map(from_micros),
        contact_by: l.contact_by.map(from_micros),
        accepted_at: l.accepted_at.map(from_micros),
        first_touch_at: l.first_touch_at.map(from_micros),
    }
}

/// `after`'s lifecycle columns into the stored lead.
fn set(l: &mut LeadRecord, after: &LeadView) {
    l.owner = after.owner.clone();
    l.queue = after.queue.clone();
    l.team = after.team.clone();
    l.status = after.status;
    l.stage = after.stage;
    l.outcome = after.outcome;
    l.outcome_at = after.outcome_at.map(micros);
    l.contact_by = after.contact_by.map(micros);
    l.accepted_at = after.accepted_at.map(micros);
    l.first_touch_at = after.first_touch_at.map(micros);
}

fn update_of(l: &LeadRecord) -> LeadUpdate {
    LeadUpdate {
        id: l.id.clone(),
        owner: l.owner.clone(),
        queue: l.queue.clone(),
        team: l.team.clone(),
        status: l.status,
        stage: l.stage,
        outcome: l.outcome,
        outcome_at: l.outcome_at,
        contact_by: l.contact_by,
        accepted_at: l.accepted_at,
        first_touch_at: l.first_touch_at,
    }
}

/// A new lead as routed.
fn lead_record(id: &str, r: &RouteJob, d: &Decision, now: Timestamp) -> LeadRecord {
    LeadRecord {
        id: id.to_string(),
        source: r.source.clone(),
        email: r.lead.email.clone(),
        payload: r.payload.clone(),
        received_at: micros(r.received_at),
        routed_at: micros(now),
        owner: d.owner.as_ref().map(|o| o.id.to_string()),
        queue: d.queue.as_deref().map(str::to_string),
        team: d.team.as_deref().map(str::to_string),
        segment: d.segment.as_deref().map(str::to_string),
        tier: d.tier.name().into(),
        score: d.score.into(),
        path: crate::metrics::path_name(d.path),
        rule: d.rule.as_deref().map(str::to_string),
        status: LeadStatus::Open,
        stage: Stage::Early,
        outcome: None,
        outcome_at: None,
        route_by: Some(micros(d.sla.route_by)),
        contact_by: d.sla.contact_by.map(micros),
        config_version: d.config_version.to_string(),
        account_domain: d.account.clone(),
        accepted_at: None,
        first_touch_at: None,
        fallback: d.flags.contains(&leadrouter_core::trace::Flag::Fallback),
    }
}

impl Decider {
    /// Apply a change set to `lead` (as stored before it): effects, person row, lead
    /// update, timers, messages and history. Returns the lead afterwards.
    pub(super) fn apply(
        &mut self,
        bx: &BatchCtx<'_>,
        state: &mut StateSnapshot,
        lead: &LeadRecord,
        parsed: &Lead,
        change: Change,
        now: Timestamp,
    ) -> LeadRecord {
        let Change {
            lead: after,
            history,
            routed,
            effects,
            cancel_timers,
            timers,
            notices,
            person,
        } = change;
        let w = &mut self.w;
        w.apply(state, &effects);
        if let Some(e) = &person {
            w.person(state, e, micros(now), false, &lead.id);
        }
        let mut rec = lead.clone();
        if let Some(a) = &after {
            set(&mut rec, a);
            w.batch.lead_updates.push(update_of(&rec));
        }
        if cancel_timers {
            w.cancel_timers(&lead.id);
        }
        for t in timers {
            w.timer(&lead.id, t.step, t.due, t.owner.as_deref(), now);
        }
        let rendered = render(bx, lead, parsed, routed.as_ref(), &notices, now);
        w.queue_messages(&lead.id, rendered.messages, now);
        // CRM-1: the write-back is committed with the change it reports (a meeting's
        // with its start, or `cancelled`).
        let meeting = notices.iter().find_map(|n| match n {
            leadrouter_core::lifecycle::Notice::Meeting(m) => Some(
                if m.change == leadrouter_core::booking::MeetingChange::Cancelled {
                    "cancelled".to_string()
                } else {
                    m.start.to_string()
                },
            ),
            _ => None,
        });
        if let (Some(crm), Some(h)) = (bx.crm, &history)
            && let Some(row) = crate::crm::row_for(crm, &rec, h.kind, &h.reason, meeting, now)
        {
            w.batch.crm.push(row);
        }
        if let Some(mut h) = history {
            if let Some(note) = rendered.note {
                h.reason = format!("{}; {note}", h.reason);
            }
            w.batch.decisions.push(DecisionRecord {
                lead_id: lead.id.clone(),
                kind: h.kind.as_str().into(),
                decided_at: micros(now),
                owner: h.owner,
                queue: h.queue,
                reason: h.reason,
                actor: h.actor,
                config_version: bx.cfg.version.clone(),
                decision: routed.as_ref().and_then(|r| JsonText::of(&r.decision)),
                trace: routed.as_ref().and_then(|r| JsonText::of(&r.trace)),
            });
        }
        if after.is_some() {
            self.leads.insert(rec.id.clone(), rec.clone());
        }
        rec
    }

    /// CAP-1: decide a lead; VAL-3/4: a known person's open lead (or a recycled person's
    /// disqualified one) is updated instead of adding a new one.
    pub(super) fn route_one(
        &mut self,
        bx: &BatchCtx<'_>,
        state: &mut StateSnapshot,
        r: &RouteJob,
    ) -> RouteReply {
        let now = bx.clock.now();
        let mut input = RoutingInput::new(&r.lead, state, now);
        input.issues = &r.issues;
        input.enrichment = r.enrichment.as_ref();
        input.crm_accounts = Some(bx.crm_accounts);
        let routed = decide(bx.cfg, input);
        let d = routed.decision.clone();
        let trace = r.explain.then(|| {
            let mut t = routed.trace.clone();
            t.explain(bx.cfg);
            t
        });
        let existing = routed
            .trace
            .facts
            .email
            .as_ref()
            .and_then(|e| self.last_lead.get(e.as_str()))
            .and_then(|id| self.leads.get(id))
            .cloned();
        let mut change = lifecycle::route(
            routed,
            existing.as_ref().map(view).as_ref(),
            now,
            &ladder(bx),
        );
        let dedup = change.lead.is_some();
        let lead = match existing.filter(|_| dedup) {
            Some(old) => old,
            None => {
                let rec = lead_record(&uuid::Uuid::now_v7().to_string(), r, &d, now);
                self.w.fresh.insert(rec.id.clone());
                self.leads.insert(rec.id.clone(), rec.clone());
                self.w.batch.leads.push(rec.clone());
                rec
            }
        };
        // The person row counts a new lead, and the person's last lead is this one.
        let person = change.person.take();
        let lead_id = lead.id.clone();
        self.w.apply(state, &std::mem::take(&mut change.effects));
        if let Some(e) = person {
            self.w.person(state, &e, micros(now), !dedup, &lead_id);
            self.last_lead.insert(e, lead_id.clone());
        }
        self.apply(bx, state, &lead, &r.lead, change, now);
        self.w.route_stash = Some(super::history::RouteStash {
            lead_id: lead_id.clone(),
            at: micros(now),
            input: crate::replay::record::RouteInput {
                lead: r.lead.clone(),
                issues: r.issues.clone(),
                enrichment: r.enrichment.clone(),
                now,
                received_at: r.received_at,
            }
            .pack(),
            result: serde_json::to_string(&crate::replay::record::RouteResult::of(&d, dedup)).ok(),
        });
        self.w.routes.push(RouteObs::of(&d, r.received_at, now));
        RouteReply {
            status: 201,
            body: route_body(&lead_id, &d, trace.as_ref(), r.received_at, now, dedup),
            lead_id,
            replayed: false,
        }
    }

    /// ASG-6 reassignment, disqualification and outcomes.
    pub(super) fn lead_op(
        &mut self,
        bx: &BatchCtx<'_>,
        state: &mut StateSnapshot,
        lead_id: &str,
        op: &LeadOp,
        actor: &str,
    ) -> Result<Value, JobError> {
        let Some(lead) = self.leads.get(lead_id).cloned() else {
            return Err(JobError::NotFound(format!("lead {lead_id}")));
        };
        let now = bx.clock.now();
        let v = view(&lead);
        let (change, parsed) = match op {
            LeadOp::Reassign { rep, note } => {
                let (parsed, issues) =
                    Lead::from_json(&lead.payload).map_err(|e| JobError::Invalid {
                        field: "payload".into(),
                        message: e.problem,
                    })?;
                let r = Reassign {
                    cfg: bx.cfg,
                    state,
                    parsed: &parsed,
                    issues: &issues,
                    rep,
                    actor,
                    note: note.as_deref(),
                    now,
                };
                match lifecycle::reassign(&v, r, &ladder(bx))? {
                    Some(c) => (c, parsed),
                    None => return Ok(lead_json(&lead)),
                }
            }
            LeadOp::Disqualify { reason } => (
                lifecycle::disqualify(&v, reason.as_deref(), actor, now)?,
                Lead::default(),
            ),
            LeadOp::Outcome { outcome } => (
                lifecycle::outcome(&v, outcome, actor, now)?,
                Lead::default(),
            ),
        };
        let after = self.apply(bx, state, &lead, &parsed, change, now);
        Ok(lead_json(&after))
    }

    /// SLA-1: accept / first touch. Stops the escalation ladder.
    pub(super) fn touch(
        &mut self,
        bx: &BatchCtx<'_>,
        state: &mut StateSnapshot,
        lead_id: &str,
        touch: Touch,
        actor: &str,
        as_owner: Option<&str>,
    ) -> Result<Value, JobError> {
        let Some(lead) = self.leads.get(lead_id).cloned() else {
            return Err(JobError::NotFound(format!("lead {lead_id}")));
        };
        // Stored in microseconds: the reply shows what is stored.
        let now = from_micros(micros(bx.clock.now()));
        let Some(change) = lifecycle::touch(&view(&lead), touch, actor, as_owner, now)? else {
            return Ok(lead_json(&lead));
        };
        let after = self.apply(bx, state, &lead, &parsed_lead(&lead), change, now);
        Ok(lead_json(&after))
    }

    /// SLA-2/3: a timer came due. It acts only if the lead is still waiting for the owner
    /// the step was set for; the timer is marked fired either way (exactly once: the timer
    /// row is read inside the locked routing transaction).
    pub(super) fn fire_timer(
        &mut self,
        bx: &BatchCtx<'_>,
        state: &mut StateSnapshot,
        timer_id: &str,
    ) -> Result<Value, JobError> {
        let Some(t) = self.timers.get(timer_id).cloned() else {
            return Err(JobError::NotFound(format!("timer {timer_id}")));
        };
        let now = bx.clock.now();
        let fired = &mut self.w.batch.fired_timers;
        if t.status != "pending" || fired.iter().any(|(id, _)| *id == t.id) {
            return Ok(sla_json(
                &t.id,
                &SlaAction::None {
                    why: "already handled",
                },
            ));
        }
        fired.push((t.id.clone(), micros(now)));
        let Some(lead) = self.leads.get(&t.lead_id).cloned() else {
            return Ok(sla_json(
                &t.id,
                &SlaAction::None {
                    why: "lead not found",
                },
            ));
        };
        let parsed = parsed_lead(&lead);
        let due = Due {
            cfg: bx.cfg,
            state,
            parsed: &parsed,
            step: t.step,
            owner: t.owner.as_deref(),
            now,
        };
        let (action, change) = lifecycle::sla::fire(&view(&lead), due);
        self.apply(bx, state, &lead, &parsed, change, now);
        Ok(sla_json(&t.id, &action))
    }

    /// A rep out of office (until a time, or open-ended) or back.
    pub(super) fn availability(
        &mut self,
        bx: &BatchCtx<'_>,
        state: &mut StateSnapshot,
        req: AvailabilityRequest<'_>,
    ) -> Result<Value, JobError> {
        let AvailabilityRequest {
            rep,
            out,
            until,
            note,
            actor,
        } = req;
        // Calendar overrides are marked by their note (crate::calendar): a note set by
        // hand may not look like one, and the calendar leaves a manual override alone.
        if actor == crate::calendar::ACTOR {
            let want = until
                .filter(|_| out)
                .map(|u| (u, note.as_deref().unwrap_or_default()));
            if !crate::calendar::change(state.availability.get(rep), want, bx.clock.now()) {
                return Ok(serde_json::json!({ "rep": rep, "unchanged": true }));
            }
        } else if note
            .as_deref()
            .is_some_and(crate::calendar::is_calendar_note)
        {
            return Err(JobError::Invalid {
                field: "note".into(),
                message: format!(
                    "notes starting with \"{}\" are kept for calendar feeds; write the note without it",
                    crate::calendar::NOTE_PREFIX
                ),
            });
        }
        let change = lifecycle::availability(bx.cfg, rep, out, until, note.clone())?;
        self.w.apply(state, &change.effects);
        Ok(availability_json(rep, out, until, note.as_deref()))
    }
}

/// An availability job's request, as [`Decider::availability`] takes it.
pub(super) struct AvailabilityRequest<'j> {
    pub rep: &'j str,
    pub out: bool,
    pub until: Option<Timestamp>,
    pub note: Option<String>,
    /// Who asked: the calendar's jobs ([`crate::calendar::ACTOR`]) change nothing set by hand.
    pub actor: &'j str,
}
