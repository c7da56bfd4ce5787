//! A batch's bookkeeping: what it reads (one query per kind, inside the routing
//! transaction or, for jobs decided late, from committed rows), the [`Decider`] that runs
//! its jobs in arrival order on the cached state, and [`Writes`], the rows it will write
//! (assembled into one `BatchWrite`) with the parts of the state its effects touched.

use super::{BatchCtx, Job, JobError, Reply, RouteJob, RouteReply, db};
use crate::metrics::RouteObs;
use jiff::Timestamp;
use leadrouter_core::lifecycle::SlaStep;
use leadrouter_core::state::{Effect, PriorPerson, PriorStatus, StateSnapshot};
use leadrouter_notify::Outgoing;
use leadrouter_store::{
    AuditEntry, BatchWrite, LeadRecord, OutboxRow, PersonWrite, RepStateWrite, StoredPerson,
    StoredResponse, TimerRow, micros,
};
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

/// A batch decided in memory: the answers, the rows to write, the routing metrics to
/// record once it is committed.
pub(super) struct Decided {
    pub(super) replies: Vec<Reply>,
    pub(super) batch: BatchWrite,
    pub(super) routes: Vec<RouteObs>,
}

/// The rows a batch will write, and which parts of the state it touched.
#[derive(Default)]
pub(super) struct Writes {
    pub(super) batch: BatchWrite,
    reps: BTreeSet<String>,
    rotations: BTreeSet<(String, String)>,
    teams: BTreeSet<String>,
    people: HashMap<String, PersonWrite>,
    /// Leads created in this batch (nothing stored to cancel for them).
    pub(super) fresh: HashSet<String>,
    /// Leads with timers created in this batch, and leads already in `cancel_timers`.
    timer_leads: HashSet<String>,
    cancelled: HashSet<String>,
    /// Routing metrics, recorded once the batch is committed.
    pub(super) routes: Vec<RouteObs>,
    /// The effects the job being decided has applied so far, and its routing decision:
    /// its history event (`super::history`).
    pub(super) pending: Vec<Effect>,
    pub(super) route_stash: Option<super::history::RouteStash>,
    /// The person rows the job being decided wrote, as written.
    pub(super) pending_people: Vec<(String, PriorPerson)>,
    /// The state as the batch started, when a checkpoint is due (`super::history`).
    checkpoint: Option<String>,
}

impl Writes {
    /// Apply effects to the state and note what they touched, so that [`Writes::finish`]
    /// writes it. People are written by [`Writes::person`], which the caller makes for
    /// the lead's person (a person row carries more than the effects change).
    pub(super) fn apply(&mut self, state: &mut StateSnapshot, effects: &[Effect]) {
        state.apply(effects);
        self.pending.extend_from_slice(effects);
        for e in effects {
            match e {
                Effect::AdvanceRotation { team, rep, .. } => {
                    self.rotations.insert((team.to_string(), rep.to_string()));
                    self.teams.insert(team.to_string());
                }
                Effect::AddEarlyLoad { rep }
                | Effect::CountDaily { rep, .. }
                | Effect::AddLoad { rep, .. }
                | Effect::RemoveLoad { rep, .. }
                | Effect::SetOutOfOffice { rep, .. }
                | Effect::ClearOutOfOffice { rep } => {
                    self.reps.insert(rep.to_string());
                }
                Effect::SetOwner { .. }
                | Effect::DisqualifyPerson { .. }
                | Effect::ReopenPerson { .. } => {}
            }
        }
    }

    pub(super) fn person(
        &mut self,
        state: &StateSnapshot,
        email: &str,
        at: i64,
        new_lead: bool,
        lead_id: &str,
    ) {
        let prior = state.people.get(email).cloned().unwrap_or(PriorPerson {
            owner: None,
            status: PriorStatus::Open,
            disqualified_at: None,
            note: None,
        });
        let w = self.people.entry(email.to_string()).or_insert(PersonWrite {
            email: email.to_string(),
            prior: prior.clone(),
            seen_at: at,
            new_leads: 0,
            last_lead_id: lead_id.to_string(),
        });
        self.pending_people.push((email.to_string(), prior.clone()));
        w.prior = prior;
        w.seen_at = at;
        w.new_leads += i64::from(new_lead);
        w.last_lead_id = lead_id.to_string();
    }

    /// Cancel a lead's pending timers, including any this batch created.
    pub(super) fn cancel_timers(&mut self, lead_id: &str) {
        if self.timer_leads.contains(lead_id) {
            self.batch.timers.retain(|t| t.lead_id != lead_id);
        }
        // A lead created in this batch has no stored timers to cancel.
        if !self.fresh.contains(lead_id) && self.cancelled.insert(lead_id.to_string()) {
            self.batch.cancel_timers.push(lead_id.to_string());
        }
    }

    pub(super) fn queue_messages(
        &mut self,
        lead_id: &str,
        messages: Vec<Outgoing>,
        now: Timestamp,
    ) {
        for m in messages {
            let payload = serde_json::to_value(&m).unwrap_or(Value::Null);
            self.batch.outbox.push(OutboxRow {
                id: uuid::Uuid::now_v7().to_string(),
                lead_id: lead_id.to_string(),
                kind: super::notices::label(&m.kind),
                channel: m.channel.label(),
                recipient: m.recipient.clone(),
                payload,
                status: "pending".into(),
                attempts: 0,
                next_attempt_at: micros(now),
                last_error: None,
                created_at: micros(now),
                delivered_at: None,
            });
        }
    }

    pub(super) fn timer(
        &mut self,
        lead_id: &str,
        step: SlaStep,
        due: Timestamp,
        owner: Option<&str>,
        now: Timestamp,
    ) {
        if !self.timer_leads.contains(lead_id) {
            self.timer_leads.insert(lead_id.to_string());
        }
        self.batch.timers.push(TimerRow {
            id: uuid::Uuid::now_v7().to_string(),
            lead_id: lead_id.to_string(),
            step,
            due_at: micros(due),
            status: "pending".into(),
            owner: owner.map(str::to_string),
            fired_at: None,
            created_at: micros(now),
        });
    }

    fn finish(mut self, state: &StateSnapshot, now: i64) -> BatchWrite {
        super::history::count(self.batch.events.len());
        if let Some(s) = self.checkpoint.take() {
            self.batch.checkpoint = Some((now, s));
        }
        for (team, rep) in &self.rotations {
            if let Some(p) = state.rotations.get(team).and_then(|r| r.passes.get(rep)) {
                self.batch
                    .rotations
                    .push((team.clone(), rep.clone(), clamp(*p)));
            }
        }
        for team in &self.teams {
            if let Some(r) = state.rotations.get(team) {
                self.batch
                    .clocks
                    .push((team.clone(), clamp(r.virtual_time)));
            }
        }
        for rep in &self.reps {
            let load = state.loads.get(rep).copied().unwrap_or_default();
            let daily = state.daily.get(rep);
            let avail = state.availability.get(rep);
            self.batch.rep_state.push(RepStateWrite {
                rep: rep.clone(),
                early: load.early.into(),
                mid: load.mid.into(),
                late: load.late.into(),
                daily_date: daily.map(|d| d.date.to_string()),
                daily_count: daily.map(|d| i64::from(d.count)).unwrap_or(0),
                out: avail.is_some_and(|a| a.out),
                out_until: avail.and_then(|a| a.out_until).map(micros),
                out_note: avail.and_then(|a| a.note.clone()),
            });
        }
        let mut people: Vec<PersonWrite> = self.people.into_values().collect();
        people.sort_by(|a, b| a.email.cmp(&b.email));
        self.batch.people = people;
        self.batch
    }
}

fn clamp(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// The batch's reads, one query each, made inside a routing transaction.
#[derive(Default)]
pub(super) struct Reads {
    replays: HashMap<String, StoredResponse>,
    known: HashMap<String, StoredPerson>,
    timers: HashMap<String, TimerRow>,
    leads: HashMap<String, LeadRecord>,
    /// Booking jobs' bookings (issue 22), read under the state lock.
    pub(super) bookings: Vec<leadrouter_store::BookingRow>,
}

/// What a routing job reads by key: its idempotency key and its normalised email.
pub(super) fn route_keys(r: &RouteJob) -> (Option<&str>, Option<String>) {
    (
        r.idempotency_key.as_deref(),
        r.lead
            .email
            .as_deref()
            .and_then(|e| leadrouter_core::domains::parse_email(e).ok())
            .map(|e| e.normalized),
    )
}

pub(super) fn reads_for(jobs: &[Job]) -> leadrouter_store::BatchReadsFor {
    let mut want = leadrouter_store::BatchReadsFor::default();
    for j in jobs {
        match j {
            Job::Route(r, _) => {
                let (key, email) = route_keys(r);
                want.keys.extend(key.map(str::to_string));
                want.emails.extend(email);
            }
            Job::Sla { timer_id, .. } => want.timer_ids.push(timer_id.clone()),
            Job::Lead { lead_id, .. }
            | Job::Touch { lead_id, .. }
            | Job::Booking { lead_id, .. } => want.lead_ids.push(lead_id.clone()),
            Job::Availability { .. } => {}
        }
    }
    want
}

impl From<leadrouter_store::BatchReads> for Reads {
    fn from(found: leadrouter_store::BatchReads) -> Reads {
        Reads {
            replays: found.replays,
            known: found.known,
            timers: found
                .timers
                .into_iter()
                .map(|t| (t.id.clone(), t))
                .collect(),
            leads: found.leads.into_iter().map(|l| (l.id.clone(), l)).collect(),
            bookings: Vec::new(),
        }
    }
}

pub(super) async fn read_batch(
    tx: &mut dyn leadrouter_store::Tx,
    jobs: &[Job],
) -> Result<Reads, JobError> {
    let mut reads: Reads = tx.batch_reads(reads_for(jobs)).await.map_err(db)?.into();
    let (reps, leads, since) = super::booking::reads_for(jobs);
    if !reps.is_empty() {
        reads.bookings = tx.bookings(&reps, &leads, since).await.map_err(db)?;
    }
    Ok(reads)
}

/// A batch being decided in memory, job by job in arrival order, each seeing the effects
/// of the ones before it, on the cached state. No I/O.
pub(super) struct Decider {
    replays: HashMap<String, StoredResponse>,
    pub(super) timers: HashMap<String, TimerRow>,
    /// Stored leads this batch read or wrote, as they are after its jobs so far.
    pub(super) leads: HashMap<String, LeadRecord>,
    /// The last lead of each known person (by normalised email).
    pub(super) last_lead: HashMap<String, String>,
    pub(super) w: Writes,
    /// Bookings this batch read or wrote, as they are after its jobs so far.
    pub(super) bookings: Vec<leadrouter_store::BookingRow>,
    replies: Vec<Reply>,
    in_batch: HashMap<String, RouteReply>,
}

impl Decider {
    pub(super) fn new(state: &mut StateSnapshot, reads: Reads) -> Decider {
        // The cached snapshot's people are only ever the batch's own reads (the store
        // holds them all); this is not a routing change, so it is no effect.
        state.people.clear();
        let checkpoint = super::history::checkpoint_if_due(state);
        let mut d = Decider {
            replays: HashMap::new(),
            timers: HashMap::new(),
            leads: HashMap::new(),
            last_lead: HashMap::new(),
            w: Writes {
                checkpoint,
                ..Writes::default()
            },
            bookings: Vec::new(),
            replies: Vec::new(),
            in_batch: HashMap::new(),
        };
        d.add_reads(state, reads);
        d
    }

    /// Take in more reads for jobs still to come. What this batch already holds (read
    /// before, or written by one of its jobs) is newer and stays.
    pub(super) fn add_reads(&mut self, state: &mut StateSnapshot, reads: Reads) {
        let Reads {
            replays,
            known,
            timers,
            leads,
            bookings,
        } = reads;
        for b in bookings {
            if !self.bookings.iter().any(|x| x.id == b.id) {
                self.bookings.push(b);
            }
        }
        for (k, v) in replays {
            self.replays.entry(k).or_insert(v);
        }
        for (k, v) in timers {
            self.timers.entry(k).or_insert(v);
        }
        for (k, v) in leads {
            self.leads.entry(k).or_insert(v);
        }
        for (email, p) in known {
            if state.people.contains_key(&email) || self.last_lead.contains_key(&email) {
                continue;
            }
            if let Some(id) = p.last_lead_id {
                self.last_lead.insert(email.clone(), id);
            }
            state.people.insert(email, p.prior);
        }
    }

    /// Decide one job and queue its reply.
    pub(super) fn decide(&mut self, bx: &BatchCtx<'_>, state: &mut StateSnapshot, job: &Job) {
        let reply = match job {
            Job::Route(r, _) => Reply::Route(Ok(self.route(bx, state, r))),
            Job::Lead {
                lead_id, op, actor, ..
            } => Reply::Value(self.lead_op(bx, state, lead_id, op, actor)),
            Job::Touch {
                lead_id,
                touch,
                actor,
                as_owner,
                ..
            } => Reply::Value(self.touch(bx, state, lead_id, *touch, actor, as_owner.as_deref())),
            Job::Sla { timer_id, .. } => Reply::Value(self.fire_timer(bx, state, timer_id)),
            Job::Booking {
                lead_id, op, actor, ..
            } => Reply::Value(self.booking(bx, state, lead_id, op, actor)),
            Job::Availability {
                rep,
                out,
                until,
                note,
                actor,
                ..
            } => Reply::Value(self.availability(
                bx,
                state,
                super::apply::AvailabilityRequest {
                    rep,
                    out: *out,
                    until: *until,
                    note: note.clone(),
                    actor,
                },
            )),
        };
        let timer_lead = match job {
            Job::Sla { timer_id, .. } => self.timers.get(timer_id).map(|t| t.lead_id.as_str()),
            _ => None,
        };
        super::history::record(&mut self.w, bx, job, &self.leads, timer_lead);
        let done = match &reply {
            Reply::Route(r) => r.is_ok(),
            // A calendar job that changed nothing is not audited.
            Reply::Value(r) => r.as_ref().is_ok_and(|v| v.get("unchanged").is_none()),
            Reply::Failed(_) => false,
        };
        // Routing is audited as key use, so a lead's job reads no clock here.
        if done
            && !matches!(job, Job::Route(..))
            && let Some(entry) = audit_entry(job, micros(bx.clock.now()))
        {
            self.w.batch.audit.push(entry);
        }
        self.replies.push(reply);
    }

    /// A routing job: an idempotent replay (stored, or earlier in this batch), else a
    /// decision whose reply is stored under its key.
    fn route(&mut self, bx: &BatchCtx<'_>, state: &mut StateSnapshot, r: &RouteJob) -> RouteReply {
        if let Some(key) = &r.idempotency_key {
            if let Some(s) = self.replays.get(key) {
                return RouteReply {
                    status: s.status,
                    body: s.response.clone(),
                    lead_id: s.lead_id.clone(),
                    replayed: true,
                };
            }
            if let Some(first) = self.in_batch.get(key) {
                let mut again = first.clone();
                again.replayed = true;
                return again;
            }
        }
        let reply = self.route_one(bx, state, r);
        if let Some(key) = &r.idempotency_key {
            self.w.batch.idempotency.push((
                key.clone(),
                StoredResponse {
                    lead_id: reply.lead_id.clone(),
                    status: reply.status,
                    response: reply.body.clone(),
                },
                micros(r.received_at),
            ));
            self.in_batch.insert(key.clone(), reply.clone());
        }
        reply
    }

    /// Make the JSON texts and zstd frames of the rows decided so far, outside the write
    /// lock (and for a batch decided ahead, while the previous COMMIT is in flight). If
    /// this fails, the write makes them again and fails the batch with the error.
    pub(super) fn prepare(&mut self) {
        if let Err(e) = self.w.batch.prepare() {
            tracing::warn!(error = %e, "could not prepare a batch's stored values ahead of its write");
        }
    }

    pub(super) fn finish(mut self, state: &StateSnapshot, now: i64) -> Decided {
        self.prepare();
        let routes = std::mem::take(&mut self.w.routes);
        let batch = self.w.finish(state, now);
        Decided {
            replies: self.replies,
            batch,
            routes,
        }
    }
}

/// The audit entry for a job that changed something, written in the same transaction as
/// the change. Routing is audited as key use by the API (one entry per key and address
/// per hour), not per lead.
fn audit_entry(job: &Job, at: i64) -> Option<AuditEntry> {
    use super::{LeadOp, Touch};
    let (actor, action, lead_id, subject, address, detail) = match job {
        Job::Route(..) => return None,
        Job::Lead {
            lead_id,
            op,
            actor,
            address,
            ..
        } => {
            // The audit log is append-only and outlives an erasure (SEC-3), so it keeps no
            // free text about the lead: a note or reason may name the person. The text
            // itself is in the lead's history, which erasure scrubs.
            let (action, detail) = match op {
                LeadOp::Reassign { rep, note } => (
                    "lead.reassign",
                    serde_json::json!({ "rep": rep, "note": note.is_some() }),
                ),
                LeadOp::Disqualify { reason } => (
                    "lead.disqualify",
                    serde_json::json!({ "reason": reason.is_some() }),
                ),
                LeadOp::Outcome { outcome } => {
                    ("lead.outcome", serde_json::json!({ "outcome": outcome }))
                }
            };
            (actor, action, Some(lead_id), None, address, detail)
        }
        Job::Touch {
            lead_id,
            touch,
            actor,
            address,
            ..
        } => {
            let action = match touch {
                Touch::Accept => "lead.accept",
                Touch::Contacted => "lead.contacted",
            };
            (actor, action, Some(lead_id), None, address, Value::Null)
        }
        Job::Booking {
            lead_id,
            op,
            actor,
            address,
            ..
        } => {
            // No visitor data: the time and rep only (the audit log outlives erasure).
            let (action, detail) = match op {
                super::BookingOp::Book { rep, slot, .. } => (
                    "booking.book",
                    serde_json::json!({ "rep": rep, "start": slot.start }),
                ),
                super::BookingOp::Reschedule {
                    booking_id, slot, ..
                } => (
                    "booking.reschedule",
                    serde_json::json!({ "booking": booking_id, "start": slot.start }),
                ),
                super::BookingOp::Cancel { booking_id, .. } => (
                    "booking.cancel",
                    serde_json::json!({ "booking": booking_id }),
                ),
            };
            (actor, action, Some(lead_id), None, address, detail)
        }
        Job::Availability {
            rep,
            out,
            until,
            note,
            actor,
            address,
            ..
        } => (
            actor,
            "rep.availability",
            None,
            Some(rep),
            address,
            serde_json::json!({ "out_of_office": out, "until": until, "note": note }),
        ),
        Job::Sla { timer_id, .. } => {
            return Some(AuditEntry {
                at,
                actor: "sla".into(),
                action: "sla.fire".into(),
                lead_id: None,
                subject: Some(timer_id.clone()),
                address: None,
                detail: None,
            });
        }
    };
    Some(AuditEntry {
        at,
        actor: actor.clone(),
        action: action.into(),
        lead_id: lead_id.cloned(),
        subject: subject.cloned(),
        address: address.clone(),
        detail: (!detail.is_null()).then(|| detail.to_string()),
    })
}

/// Decide every job of a batch in arrival order on `state`. No I/O.
pub(super) fn decide_batch(
    bx: &BatchCtx<'_>,
    state: &mut StateSnapshot,
    reads: Reads,
    jobs: &[Job],
) -> Decided {
    let mut d = Decider::new(state, reads);
    for job in jobs {
        d.decide(bx, state, job);
    }
    d.finish(state, micros(bx.clock.now()))
}
