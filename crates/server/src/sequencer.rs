//! The sequencer: the one task per process that writes to the database.
//!
//! Requests hand it jobs over a channel. It takes whatever is queued (up to
//! [`MAX_BATCH`]) and processes the batch in one transaction: take the routing-state lock,
//! reload the state if another instance changed it, read the batch's known people and
//! idempotency keys, decide each lead in arrival order (each decision sees the effects of
//! the ones before it), write leads, decisions and state, commit — and only then answer
//! every request in the batch. One fsync serves the whole batch (group commit); nothing
//! is acknowledged before it is durable. If the transaction fails, every request in the
//! batch gets an error and the cached state is dropped, so nothing half-done is served.

use crate::metrics::{Metrics, RouteObs};
use crate::runtime::{Clock, NotifyRuntime};
use arc_swap::ArcSwap;
use jiff::Timestamp;
use leadrouter_core::config::{CompiledConfig, StageWeights};
use leadrouter_core::engine::{RoutingInput, assign_manually, decide};
use leadrouter_core::lead::{FieldIssue, Lead};
use leadrouter_core::state::{
    AvailabilityOverride, Effect, PriorPerson, PriorStatus, StateSnapshot,
};
use leadrouter_core::trace::{Decision, RoutePath, RoutingTrace};
use leadrouter_notify::{Contact, Firmographics, NotifyContext, Outgoing, RepContact};
use leadrouter_store::{
    BatchWrite, DecisionRecord, LeadRecord, LeadUpdate, PersonWrite, RepStateWrite, Store,
    StoredPerson, StoredResponse, micros,
};
use leadrouter_store::{OutboxRow, TimerRow};
use serde_json::value::RawValue;
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

/// Most jobs committed in one transaction.
pub const MAX_BATCH: usize = 512;
/// Longest the work before COMMIT may take before its requests get an error (nothing
/// is stored then).
pub const TX_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);
/// Longest a COMMIT may take; past it the outcome is reported as unknown.
pub const COMMIT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Why a job was not done. Every variant leaves nothing written.
#[derive(Debug, Clone, thiserror::Error)]
pub enum JobError {
    #[error("{0} not found")]
    NotFound(String),
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// The commit was sent but its result is unknown (timeout or lost connection during
    /// COMMIT): the work may or may not be stored. Retrying with the same idempotency key
    /// is safe either way.
    #[error("outcome unknown: {0}")]
    Unknown(String),
}

pub struct RouteJob {
    pub lead: Lead,
    /// Filled in the request path (bounded by the enrichment budget) before the job is
    /// queued, so a slow provider never holds up the writer.
    pub enrichment: Option<leadrouter_core::lead::Enrichment>,
    pub payload: Arc<Value>,
    pub issues: Vec<FieldIssue>,
    pub source: String,
    pub idempotency_key: Option<String>,
    pub received_at: Timestamp,
    pub explain: bool,
}

/// What a route request gets back: the status and body, and whether it is a replay.
#[derive(Debug, Clone)]
pub struct RouteReply {
    pub status: u16,
    /// The JSON body as sent (and, with an idempotency key, as replayed).
    pub body: Box<RawValue>,
    pub lead_id: String,
    pub replayed: bool,
}

#[derive(Debug, Clone)]
pub enum LeadOp {
    Reassign { rep: String, note: Option<String> },
    Disqualify { reason: Option<String> },
    Outcome { outcome: String },
}

pub enum Job {
    Route(Box<RouteJob>, oneshot::Sender<Result<RouteReply, JobError>>),
    Lead {
        lead_id: String,
        op: LeadOp,
        actor: String,
        reply: oneshot::Sender<Result<Value, JobError>>,
    },
    Availability {
        rep: String,
        out: bool,
        until: Option<Timestamp>,
        note: Option<String>,
        reply: oneshot::Sender<Result<Value, JobError>>,
    },
    /// SLA-1: the rep accepted the lead or recorded first touch.
    Touch {
        lead_id: String,
        touch: Touch,
        actor: String,
        /// Set for signed links: the rep the link was sent to, who must still own the lead.
        as_owner: Option<String>,
        reply: oneshot::Sender<Result<Value, JobError>>,
    },
    /// SLA-2/3: a timer came due.
    Sla {
        timer_id: String,
        reply: oneshot::Sender<Result<Value, JobError>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Touch {
    Accept,
    Contacted,
}

/// Shared by the HTTP handlers and the sequencer.
pub struct Shared {
    pub config: ArcSwap<CompiledConfig>,
    pub store: Arc<dyn Store>,
    pub metrics: Metrics,
    pub notify: ArcSwap<NotifyRuntime>,
    pub clock: Clock,
    pub enricher: ArcSwap<leadrouter_enrich::Enricher>,
    /// Woken after a commit that queued messages, so delivery starts at once.
    pub outbox_wake: tokio::sync::Notify,
}

/// What a batch needs besides the store: the config and notify runtime it was started
/// with, the clock and the metrics.
struct BatchCtx<'a> {
    cfg: &'a CompiledConfig,
    nrt: &'a NotifyRuntime,
    clock: &'a Clock,
    metrics: &'a Metrics,
}

#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Job>,
}

impl Sequencer {
    pub fn start(shared: Arc<Shared>) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        tokio::spawn(run(shared, rx));
        Sequencer { tx }
    }

    pub async fn submit(&self, job: Job) -> Result<(), JobError> {
        self.tx
            .send(job)
            .await
            .map_err(|_| JobError::Unavailable("the writer has stopped".into()))
    }

    pub fn is_alive(&self) -> bool {
        !self.tx.is_closed()
    }
}

struct Cache {
    version: i64,
    state: StateSnapshot,
}

/// Decisions made ahead for the next batch while this one's write and COMMIT were in
/// flight, on the state as this batch leaves it. They stand only if nothing else wrote
/// in between: the next transaction checks the state version under the lock (and the
/// config and notify runtime must be the ones they were made with); otherwise they are
/// dropped, the state is reloaded and the batch is decided again. Nothing of them is sent before their own
/// COMMIT.
struct Ahead {
    version: i64,
    cfg: Arc<CompiledConfig>,
    nrt: Arc<NotifyRuntime>,
    decided: Decided,
}

/// A batch decided in memory: the answers, the rows to write, the routing metrics to
/// record once it is committed.
struct Decided {
    replies: Vec<Reply>,
    batch: BatchWrite,
    routes: Vec<RouteObs>,
}

/// What a committed batch hands back to the loop.
struct Done {
    replies: Vec<Reply>,
    queued_messages: bool,
    routes: Vec<RouteObs>,
    /// The next batch (the jobs left in `next`), decided while this one committed.
    ahead: Option<(i64, Decided)>,
    /// This batch had been decided ahead, and that was void (another writer moved the
    /// state in between).
    redone: bool,
}

/// After decisions made ahead were void, this many batches are not decided ahead: with
/// several instances taking turns on the state lock nearly every such decision would be
/// made twice. Then it is tried again.
const AHEAD_BACKOFF: u32 = 16;

/// Move whatever is queued into `jobs`, up to [`MAX_BATCH`].
fn drain_queued(rx: &mut mpsc::Receiver<Job>, jobs: &mut Vec<Job>) {
    while jobs.len() < MAX_BATCH {
        match rx.try_recv() {
            Ok(j) => jobs.push(j),
            Err(_) => break,
        }
    }
}

async fn run(shared: Arc<Shared>, mut rx: mpsc::Receiver<Job>) {
    let mut cache: Option<Cache> = None;
    let mut jobs: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    // Jobs taken off the channel during the previous batch's transaction; they are the
    // next batch (and were decided ahead if that transaction committed).
    let mut next: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    // Jobs taken off the channel during a write and COMMIT that could not be decided
    // ahead (`decide_late`); they come after `next`, as the batch after it.
    let mut held: Vec<Job> = Vec::new();
    let mut ahead: Option<Ahead> = None;
    // Batches left before deciding ahead is tried again (see `AHEAD_BACKOFF`).
    let mut backoff: u32 = 0;
    loop {
        if next.is_empty() {
            // Nothing was decided ahead; what was held is the next batch.
            std::mem::swap(&mut next, &mut held);
        }
        if next.is_empty() {
            let Some(first) = rx.recv().await else { break };
            jobs.push(first);
            drain_queued(&mut rx, &mut jobs);
        } else {
            std::mem::swap(&mut jobs, &mut next);
            // Held jobs follow the ones decided ahead, as the batch after them (nothing
            // is decided late while they wait: see `process`).
            next.append(&mut held);
        }
        let cfg = shared.config.load_full();
        let nrt = shared.notify.load_full();
        let pre = match ahead.take() {
            Some(a) if Arc::ptr_eq(&a.cfg, &cfg) && Arc::ptr_eq(&a.nrt, &nrt) => {
                Some((a.version, a.decided))
            }
            Some(_) => {
                // Decided under a config that has since been reloaded: the cached state
                // carries those decisions' effects, so it goes too.
                cache = None;
                None
            }
            None => None,
        };
        let bx = BatchCtx {
            cfg: &cfg,
            nrt: &nrt,
            clock: &shared.clock,
            metrics: &shared.metrics,
        };
        let started = std::time::Instant::now();
        let n = jobs.len();
        // The COMMIT carries its own timeout inside `process`; this one bounds the rest,
        // and since it may cut into the COMMIT its outcome is reported as unknown.
        let result = tokio::time::timeout(
            TX_TIMEOUT + COMMIT_TIMEOUT,
            process(
                &*shared.store,
                &bx,
                &mut cache,
                &jobs,
                pre,
                backoff == 0,
                &mut rx,
                &mut next,
                &mut held,
            ),
        )
        .await
        .unwrap_or_else(|_| Err(JobError::Unknown("routing transaction timed out".into())));
        shared.metrics.observe_batch(n, started.elapsed());
        match result {
            Ok(done) => {
                backoff = if done.redone {
                    AHEAD_BACKOFF
                } else {
                    backoff.saturating_sub(1)
                };
                if done.queued_messages {
                    shared.outbox_wake.notify_waiters();
                    shared.outbox_wake.notify_one();
                }
                for r in &done.routes {
                    shared.metrics.observe_route(r);
                }
                for (job, reply) in jobs.drain(..).zip(done.replies) {
                    deliver(job, reply);
                }
                ahead = done.ahead.map(|(version, decided)| Ahead {
                    version,
                    cfg: cfg.clone(),
                    nrt: nrt.clone(),
                    decided,
                });
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = n, "routing transaction failed; nothing in it was acknowledged");
                // Also drops any decisions made ahead for `next`: it is decided afresh.
                cache = None;
                for job in jobs.drain(..) {
                    deliver(job, Reply::Failed(e.clone()));
                }
            }
        }
    }
}

enum Reply {
    Route(Result<RouteReply, JobError>),
    Value(Result<Value, JobError>),
    Failed(JobError),
}

fn deliver(job: Job, reply: Reply) {
    // A requester that gave up (timeout, disconnect) just drops its receiver; the work
    // is committed all the same and a retry with the same idempotency key finds it.
    match job {
        Job::Route(_, tx) => {
            let _ = tx.send(match reply {
                Reply::Route(r) => r,
                Reply::Failed(e) => Err(e),
                Reply::Value(_) => Err(JobError::Unavailable("internal: reply mismatch".into())),
            });
        }
        Job::Lead { reply: tx, .. }
        | Job::Availability { reply: tx, .. }
        | Job::Touch { reply: tx, .. }
        | Job::Sla { reply: tx, .. } => {
            let _ = tx.send(match reply {
                Reply::Value(r) => r,
                Reply::Failed(e) => Err(e),
                Reply::Route(_) => Err(JobError::Unavailable("internal: reply mismatch".into())),
            });
        }
    }
}

fn db(e: leadrouter_store::StoreError) -> JobError {
    JobError::Unavailable(e.to_string())
}

/// The rows a batch will write, and which parts of the state it touched.
#[derive(Default)]
struct Writes {
    batch: BatchWrite,
    reps: BTreeSet<String>,
    rotations: BTreeSet<(String, String)>,
    teams: BTreeSet<String>,
    people: HashMap<String, PersonWrite>,
    /// Leads created in this batch (nothing stored to cancel for them).
    fresh: std::collections::HashSet<String>,
    /// Leads with timers created in this batch, and leads already in `cancel_timers`.
    timer_leads: std::collections::HashSet<String>,
    cancelled: std::collections::HashSet<String>,
    /// Routing metrics, recorded once the batch is committed.
    routes: Vec<RouteObs>,
}

impl Writes {
    fn apply(&mut self, state: &mut StateSnapshot, effects: &[Effect]) {
        state.apply(effects);
        for e in effects {
            match e {
                Effect::AdvanceRotation { team, rep, .. } => {
                    self.rotations.insert((team.to_string(), rep.to_string()));
                    self.teams.insert(team.to_string());
                }
                Effect::AddEarlyLoad { rep } | Effect::CountDaily { rep, .. } => {
                    self.reps.insert(rep.to_string());
                }
                Effect::SetOwner { .. } => {}
            }
        }
    }

    fn person(
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
        w.prior = prior;
        w.seen_at = at;
        w.new_leads += i64::from(new_lead);
        w.last_lead_id = lead_id.to_string();
    }

    /// Cancel a lead's pending timers, including any this batch created.
    fn cancel_timers(&mut self, lead_id: &str) {
        if self.timer_leads.contains(lead_id) {
            self.batch.timers.retain(|t| t.lead_id != lead_id);
        }
        // A lead created in this batch has no stored timers to cancel.
        if !self.fresh.contains(lead_id) && self.cancelled.insert(lead_id.to_string()) {
            self.batch.cancel_timers.push(lead_id.to_string());
        }
    }

    fn queue_messages(&mut self, lead_id: &str, messages: Vec<Outgoing>, now: Timestamp) {
        for m in messages {
            let payload = serde_json::to_value(&m).unwrap_or(Value::Null);
            self.batch.outbox.push(OutboxRow {
                id: uuid::Uuid::now_v7().to_string(),
                lead_id: lead_id.to_string(),
                kind: label(&m.kind),
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

    fn timer(
        &mut self,
        lead_id: &str,
        step: &str,
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
            step: step.to_string(),
            due_at: micros(due),
            status: "pending".into(),
            owner: owner.map(str::to_string),
            fired_at: None,
            created_at: micros(now),
        });
    }

    fn finish(mut self, state: &StateSnapshot) -> BatchWrite {
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

/// Move one open lead's weight between stages or reps (ASG-4 load).
fn shift_load(state: &mut StateSnapshot, w: &mut Writes, rep: &str, stage: &str, delta: i32) {
    let l = state.loads.entry(rep.to_string()).or_default();
    let slot = match stage {
        "mid" => &mut l.mid,
        "late" => &mut l.late,
        _ => &mut l.early,
    };
    *slot = slot.saturating_add_signed(delta);
    w.reps.insert(rep.to_string());
}

/// The batch's reads, one query each, made inside a routing transaction.
#[derive(Default)]
struct Reads {
    replays: HashMap<String, StoredResponse>,
    known: HashMap<String, StoredPerson>,
    timers: HashMap<String, TimerRow>,
    leads: HashMap<String, LeadRecord>,
}

/// What a routing job reads by key: its idempotency key and its normalised email.
fn route_keys(r: &RouteJob) -> (Option<&str>, Option<String>) {
    (
        r.idempotency_key.as_deref(),
        r.lead
            .email
            .as_deref()
            .and_then(|e| leadrouter_core::domains::parse_email(e).ok())
            .map(|e| e.normalized),
    )
}

fn reads_for(jobs: &[Job]) -> leadrouter_store::BatchReadsFor {
    let mut want = leadrouter_store::BatchReadsFor::default();
    for j in jobs {
        match j {
            Job::Route(r, _) => {
                let (key, email) = route_keys(r);
                want.keys.extend(key.map(str::to_string));
                want.emails.extend(email);
            }
            Job::Sla { timer_id, .. } => want.timer_ids.push(timer_id.clone()),
            Job::Lead { lead_id, .. } | Job::Touch { lead_id, .. } => {
                want.lead_ids.push(lead_id.clone())
            }
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
        }
    }
}

async fn read_batch(tx: &mut dyn leadrouter_store::Tx, jobs: &[Job]) -> Result<Reads, JobError> {
    Ok(tx.batch_reads(reads_for(jobs)).await.map_err(db)?.into())
}

/// A batch being decided in memory, job by job in arrival order, each seeing the effects
/// of the ones before it, on the cached state. No I/O.
struct Decider {
    replays: HashMap<String, StoredResponse>,
    timers: HashMap<String, TimerRow>,
    leads: HashMap<String, LeadRecord>,
    last_lead: HashMap<String, String>,
    w: Writes,
    replies: Vec<Reply>,
    in_batch: HashMap<String, RouteReply>,
}

impl Decider {
    fn new(state: &mut StateSnapshot, reads: Reads) -> Decider {
        state.people.clear();
        let mut d = Decider {
            replays: HashMap::new(),
            timers: HashMap::new(),
            leads: HashMap::new(),
            last_lead: HashMap::new(),
            w: Writes::default(),
            replies: Vec::new(),
            in_batch: HashMap::new(),
        };
        d.add_reads(state, reads);
        d
    }

    /// Take in more reads for jobs still to come. What this batch already holds (read
    /// before, or written by one of its jobs) is newer and stays.
    fn add_reads(&mut self, state: &mut StateSnapshot, reads: Reads) {
        let Reads {
            replays,
            known,
            timers,
            leads,
        } = reads;
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

    fn decide(&mut self, bx: &BatchCtx<'_>, state: &mut StateSnapshot, job: &Job) {
        let cfg = bx.cfg;
        let w = &mut self.w;
        let leads = &mut self.leads;
        let reply = match job {
            Job::Route(r, _) => {
                if let Some(key) = &r.idempotency_key {
                    if let Some(s) = self.replays.get(key) {
                        self.replies.push(Reply::Route(Ok(RouteReply {
                            status: s.status,
                            body: s.response.clone(),
                            lead_id: s.lead_id.clone(),
                            replayed: true,
                        })));
                        return;
                    }
                    if let Some(first) = self.in_batch.get(key) {
                        let mut again = first.clone();
                        again.replayed = true;
                        self.replies.push(Reply::Route(Ok(again)));
                        return;
                    }
                }
                let reply = route_one(bx, state, w, leads, &mut self.last_lead, r);
                if let Some(key) = &r.idempotency_key {
                    w.batch.idempotency.push((
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
                Reply::Route(Ok(reply))
            }
            Job::Lead {
                lead_id, op, actor, ..
            } => Reply::Value(lead_op(
                bx,
                state,
                w,
                leads,
                lead_id,
                op,
                actor,
                cfg.stage_weights,
            )),
            Job::Touch {
                lead_id,
                touch,
                actor,
                as_owner,
                ..
            } => Reply::Value(touch_lead(
                bx,
                w,
                leads,
                lead_id,
                *touch,
                actor,
                as_owner.as_deref(),
            )),
            Job::Sla { timer_id, .. } => Reply::Value(match self.timers.get(timer_id) {
                None => Err(JobError::NotFound(format!("timer {timer_id}"))),
                Some(t) => fire_timer(bx, state, w, leads, t),
            }),
            Job::Availability {
                rep,
                out,
                until,
                note,
                ..
            } => Reply::Value(availability(cfg, state, w, rep, *out, *until, note.clone())),
        };
        self.replies.push(reply);
    }

    /// Make the JSON texts and zstd frames of the rows decided so far, outside the write
    /// lock (and for a batch decided ahead, while the previous COMMIT is in flight). If
    /// this fails, the write makes them again and fails the batch with the error.
    fn prepare(&mut self) {
        if let Err(e) = self.w.batch.prepare() {
            tracing::warn!(error = %e, "could not prepare a batch's stored values ahead of its write");
        }
    }

    fn finish(mut self, state: &StateSnapshot) -> Decided {
        self.prepare();
        let routes = std::mem::take(&mut self.w.routes);
        let batch = self.w.finish(state);
        Decided {
            replies: self.replies,
            batch,
            routes,
        }
    }
}

/// Decide every job of a batch in arrival order on `state`. No I/O.
fn decide_batch(
    bx: &BatchCtx<'_>,
    state: &mut StateSnapshot,
    reads: Reads,
    jobs: &[Job],
) -> Decided {
    let mut d = Decider::new(state, reads);
    for job in jobs {
        d.decide(bx, state, job);
    }
    d.finish(state)
}

/// One routing transaction: lock, (re)load the state if another writer moved it, read,
/// decide (or take the decisions made ahead), then write and commit in a task of their
/// own while the jobs that arrive meanwhile are decided as the next batch
/// ([`decide_late`]).
#[allow(clippy::too_many_arguments)]
async fn process(
    store: &dyn Store,
    bx: &BatchCtx<'_>,
    cache: &mut Option<Cache>,
    jobs: &[Job],
    pre: Option<(i64, Decided)>,
    look_ahead: bool,
    rx: &mut mpsc::Receiver<Job>,
    next: &mut Vec<Job>,
    held: &mut Vec<Job>,
) -> Result<Done, JobError> {
    let mut phase = std::time::Instant::now();
    let mut tx = store.begin().await.map_err(db)?;
    bx.metrics.observe_phase("begin", lap(&mut phase));
    let version = tx.lock_state().await.map_err(db)?;
    bx.metrics.observe_phase("lock", lap(&mut phase));
    let mut redone = false;
    let decided = match pre {
        Some((v, decided)) if v == version && cache.as_ref().is_some_and(|c| c.version == v) => {
            bx.metrics.observe_ahead(true);
            decided
        }
        other => {
            if other.is_some() {
                // Another instance wrote since: what was decided ahead is void, and the
                // cached state (which carries it) with it.
                bx.metrics.observe_ahead(false);
                redone = true;
                *cache = None;
            }
            if cache.as_ref().is_none_or(|c| c.version != version) {
                let state = tx.load_state().await.map_err(db)?;
                *cache = Some(Cache { version, state });
            }
            let reads = read_batch(&mut *tx, jobs).await?;
            bx.metrics.observe_phase("read", lap(&mut phase));
            let Some(c) = cache.as_mut() else {
                return Err(JobError::Unavailable("state cache missing".into()));
            };
            let decided = decide_batch(bx, &mut c.state, reads, jobs);
            bx.metrics.observe_phase("decide", lap(&mut phase));
            decided
        }
    };
    let Decided {
        replies,
        batch,
        routes,
    } = decided;
    if batch.is_empty() {
        tx.rollback().await.map_err(db)?;
        return Ok(Done {
            replies,
            queued_messages: false,
            routes,
            ahead: None,
            redone,
        });
    }
    let queued_messages = !batch.outbox.is_empty();
    // The write and the COMMIT run as a task of their own (on SQLite, back to back on the
    // writer thread) while this one decides the jobs that arrive meanwhile.
    let mut commit = tokio::spawn(async move {
        let t = std::time::Instant::now();
        if let Err(e) = tx.write(batch, version + 1).await {
            // Nothing of this batch is stored; on PostgreSQL the failed statement has
            // aborted the transaction anyway.
            let _ = tx.rollback().await;
            return Stored::NotWritten(e);
        }
        let wrote = t.elapsed();
        let t = std::time::Instant::now();
        let r = tokio::time::timeout(COMMIT_TIMEOUT, tx.commit()).await;
        Stored::Committed {
            result: r,
            wrote,
            committed: t.elapsed(),
        }
    });
    let Some(c) = cache.as_mut() else {
        return Err(JobError::Unavailable("state cache missing".into()));
    };
    let mut decider = None;
    let mut stored = None;
    // `next` holds jobs held from before (decided in the next transaction, in order):
    // nothing taken now may go ahead of them.
    if look_ahead && next.is_empty() {
        stored = decide_late(
            store,
            bx,
            jobs,
            &mut c.state,
            &mut decider,
            &mut commit,
            rx,
            next,
            held,
        )
        .await;
    }
    let stored = match stored {
        Some(s) => s,
        None => commit.await,
    }
    .map_err(|e| JobError::Unknown(format!("COMMIT task: {e}")))?;
    let committed = match stored {
        Stored::NotWritten(e) => return Err(db(e)),
        Stored::Committed {
            result,
            wrote,
            committed,
        } => {
            bx.metrics.observe_phase("write", wrote);
            bx.metrics.observe_phase("commit", committed);
            result
        }
    };
    let ahead = decider.map(|d: Decider| (version + 1, d.finish(&c.state)));
    match committed {
        Ok(Ok(())) => {
            c.version = version + 1;
            Ok(Done {
                replies,
                queued_messages,
                routes,
                ahead,
                redone,
            })
        }
        Ok(Err(e)) => Err(JobError::Unknown(e.to_string())),
        Err(_) => Err(JobError::Unknown("COMMIT timed out".into())),
    }
}

/// What became of a batch's write and COMMIT.
enum Stored {
    /// The write failed and was rolled back: nothing of the batch is stored.
    NotWritten(leadrouter_store::StoreError),
    /// The COMMIT's outcome (an error or a timeout leaves it unknown: it may still have
    /// been applied), and how long the write and the COMMIT took.
    Committed {
        result: Result<leadrouter_store::Result<()>, tokio::time::error::Elapsed>,
        wrote: std::time::Duration,
        committed: std::time::Duration,
    },
}

/// How long the reads for jobs decided during a write and COMMIT may take; past it they
/// wait for the next transaction instead.
const LATE_READ_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// While this batch's write and COMMIT are in flight, decide the jobs that arrive
/// meanwhile as the next batch (appended to `next`, decided on the state this batch
/// leaves), reading what they need from committed rows (`Store::committed_reads`). That
/// is only right for a job whose reads this batch cannot change: a routing job whose idempotency
/// key and email no job of this batch has, behind a batch of routing jobs only (an
/// operation on a stored lead could change the lead a person's resubmission reopens).
/// The first job that does not qualify, and everything after it, goes to `held`
/// undecided, and nothing more is taken; they are read and decided in the next
/// transaction, after `next`. Returns the COMMIT's outcome if it came in here.
#[allow(clippy::too_many_arguments)]
async fn decide_late(
    store: &dyn Store,
    bx: &BatchCtx<'_>,
    jobs: &[Job],
    state: &mut StateSnapshot,
    decider: &mut Option<Decider>,
    commit: &mut tokio::task::JoinHandle<Stored>,
    rx: &mut mpsc::Receiver<Job>,
    next: &mut Vec<Job>,
    held: &mut Vec<Job>,
) -> Option<Result<Stored, tokio::task::JoinError>> {
    let mut keys = std::collections::HashSet::new();
    let mut emails = std::collections::HashSet::new();
    for j in jobs {
        let Job::Route(r, _) = j else { return None };
        let (key, email) = route_keys(r);
        keys.extend(key);
        emails.extend(email);
    }
    while next.len() < MAX_BATCH {
        let first = tokio::select! {
            biased;
            done = &mut *commit => return Some(done),
            job = rx.recv() => match job {
                Some(j) => j,
                None => return None,
            },
        };
        let started = std::time::Instant::now();
        let mut late = vec![first];
        while next.len() + late.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(j) => late.push(j),
                Err(_) => break,
            }
        }
        let fits = late
            .iter()
            .take_while(|j| match j {
                Job::Route(r, _) => {
                    let (key, email) = route_keys(r);
                    !key.is_some_and(|k| keys.contains(k))
                        && !email.is_some_and(|e| emails.contains(&e))
                }
                _ => false,
            })
            .count();
        let rest = late.split_off(fits);
        let stop = !rest.is_empty();
        held.extend(rest);
        if !late.is_empty() {
            let read =
                tokio::time::timeout(LATE_READ_TIMEOUT, store.committed_reads(reads_for(&late)))
                    .await;
            let read = match read {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!("no answer in {LATE_READ_TIMEOUT:?}")),
            };
            match read {
                Ok(found) => {
                    let d = decider.get_or_insert_with(|| Decider::new(state, Reads::default()));
                    d.add_reads(state, found.into());
                    for job in &late {
                        d.decide(bx, state, job);
                    }
                    d.prepare();
                    next.append(&mut late);
                    bx.metrics.observe_phase("decide_late", started.elapsed());
                }
                Err(why) => {
                    tracing::warn!(error = %why, "reads for jobs arriving during a write and COMMIT failed; they wait for the next transaction");
                    late.append(held);
                    *held = late;
                    return None;
                }
            }
        }
        if stop {
            return None;
        }
    }
    None
}

/// Time since `since`, and restart the stopwatch.
fn lap(since: &mut std::time::Instant) -> std::time::Duration {
    let now = std::time::Instant::now();
    let took = now - *since;
    *since = now;
    took
}

fn route_one(
    bx: &BatchCtx<'_>,
    state: &mut StateSnapshot,
    w: &mut Writes,
    leads: &mut HashMap<String, LeadRecord>,
    last_lead: &mut HashMap<String, String>,
    r: &RouteJob,
) -> RouteReply {
    let cfg = bx.cfg;
    let now = bx.clock.now();
    let mut input = RoutingInput::new(&r.lead, state, now);
    input.issues = &r.issues;
    input.enrichment = r.enrichment.as_ref();
    let routed = decide(cfg, input);
    let d = &routed.decision;
    let email = routed.trace.facts.email.clone();
    // VAL-3: a known person with an open lead updates that lead; VAL-4: a recycled one
    // reopens it. Everything else is a new lead record.
    let existing = email
        .as_ref()
        .and_then(|e| last_lead.get(e.as_str()))
        .and_then(|id| leads.get(id))
        .filter(|l| match d.path {
            RoutePath::KnownPerson => l.status == "open",
            RoutePath::Recycled => l.status == "disqualified",
            _ => false,
        })
        .cloned();
    let mut effects = routed.effects.clone();
    let (lead_id, kind, dedup) = match &existing {
        Some(old) => {
            let new_owner = d.owner.as_ref().map(|o| o.id.as_str());
            if d.path == RoutePath::KnownPerson {
                if old.owner.as_deref() == new_owner {
                    // Same owner, same open lead: nothing new for the rep to carry.
                    effects.retain(|e| {
                        !matches!(e, Effect::AddEarlyLoad { .. } | Effect::CountDaily { .. })
                    });
                } else if let Some(prev) = &old.owner {
                    shift_load(state, w, prev, &old.stage, -1);
                }
            }
            let stage = if d.path == RoutePath::Recycled || old.owner.as_deref() != new_owner {
                "early".to_string()
            } else {
                old.stage.clone()
            };
            let update = LeadUpdate {
                id: old.id.clone(),
                owner: d.owner.as_ref().map(|o| o.id.to_string()),
                queue: d.queue.as_deref().map(str::to_string),
                team: d.team.as_deref().map(str::to_string),
                status: "open".into(),
                stage: stage.clone(),
                outcome: old.outcome.clone(),
                outcome_at: old.outcome_at,
                contact_by: d.sla.contact_by.map(micros),
                accepted_at: None,
                first_touch_at: None,
            };
            if let Some(l) = leads.get_mut(&old.id) {
                l.owner = update.owner.clone();
                l.queue = update.queue.clone();
                l.status = "open".into();
                l.stage = stage;
            }
            w.batch.lead_updates.push(update);
            let kind = if d.path == RoutePath::Recycled {
                "recycle"
            } else {
                "resubmission"
            };
            (old.id.clone(), kind, true)
        }
        None => (uuid::Uuid::now_v7().to_string(), "route", false),
    };
    w.apply(state, &effects);
    if let Some(e) = &email {
        if let Some(p) = state.people.get_mut(e) {
            p.status = PriorStatus::Open;
        }
        w.person(state, e, micros(now), !dedup, &lead_id);
        last_lead.insert(e.to_string(), lead_id.clone());
    }
    if !dedup {
        w.fresh.insert(lead_id.clone());
        let rec = lead_record(&lead_id, r, d, now);
        leads.insert(lead_id.clone(), rec.clone());
        w.batch.leads.push(rec);
    }
    w.batch.decisions.push(DecisionRecord {
        lead_id: lead_id.clone(),
        kind: kind.into(),
        decided_at: micros(now),
        owner: d.owner.as_ref().map(|o| o.id.to_string()),
        queue: d.queue.as_deref().map(str::to_string),
        reason: d.reason.clone(),
        actor: None,
        config_version: d.config_version.to_string(),
        decision: leadrouter_store::JsonText::of(d),
        trace: leadrouter_store::JsonText::of(&routed.trace),
    });
    w.routes.push(RouteObs::of(d, r.received_at, now));
    let previous = existing.as_ref().map(|old| old.owner.clone());
    notify_decision(
        bx,
        w,
        &lead_id,
        &r.lead,
        d,
        &routed.trace,
        now,
        previous
            .as_ref()
            .map(|p| p.as_deref())
            .filter(|p| *p != d.owner.as_ref().map(|o| o.id.as_str())),
    );
    let mut trace = None;
    if r.explain {
        let mut t = routed.trace.clone();
        t.explain(cfg);
        trace = Some(t);
    }
    RouteReply {
        status: 201,
        body: route_body(&lead_id, d, trace.as_ref(), r.received_at, now, dedup),
        lead_id,
        replayed: false,
    }
}

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
        status: "open".into(),
        stage: "early".into(),
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

/// The CAP-1 response body, serialised once: the same text is sent, and stored for an
/// idempotent replay. Keys in alphabetical order (as the earlier `Value`-built body had).
#[derive(serde::Serialize)]
struct RouteBody<'a> {
    account: &'a Option<String>,
    config_version: &'a str,
    deduplicated: bool,
    flags: &'a [leadrouter_core::trace::Flag],
    lead_id: &'a str,
    notes: &'a [String],
    owner: &'a Option<leadrouter_core::trace::Owner>,
    path: RoutePath,
    queue: Option<&'a str>,
    reason: &'a str,
    received_at: Timestamp,
    routed_at: Timestamp,
    rule: Option<&'a str>,
    score: i32,
    segment: Option<&'a str>,
    sla: &'a leadrouter_core::trace::Sla,
    team: Option<&'a str>,
    tier: leadrouter_core::config::Tier,
    tier_number: u8,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace: Option<&'a RoutingTrace>,
    #[serde(skip_serializing_if = "Option::is_none")]
    trace_text: Option<String>,
}

/// The CAP-1 response body.
pub fn route_body(
    lead_id: &str,
    d: &Decision,
    trace: Option<&RoutingTrace>,
    received_at: Timestamp,
    routed_at: Timestamp,
    deduplicated: bool,
) -> Box<RawValue> {
    let body = RouteBody {
        account: &d.account,
        config_version: &d.config_version,
        deduplicated,
        flags: &d.flags,
        lead_id,
        notes: &d.notes,
        owner: &d.owner,
        path: d.path,
        queue: d.queue.as_deref(),
        reason: &d.reason,
        received_at,
        routed_at,
        rule: d.rule.as_deref(),
        score: d.score,
        segment: d.segment.as_deref(),
        sla: &d.sla,
        team: d.team.as_deref(),
        tier: d.tier,
        tier_number: d.tier.number(),
        trace,
        trace_text: trace.map(|t| t.render(d)),
    };
    serde_json::value::to_raw_value(&body).unwrap_or_else(|e| {
        // Not reachable with these types (every map key is text); the lead is stored and
        // assigned either way, so the client still gets its id.
        tracing::error!(error = %e, lead_id, "could not serialise a route response");
        serde_json::value::to_raw_value(&json!({ "lead_id": lead_id, "reason": d.reason }))
            .unwrap_or_else(|_| RawValue::from_string("{}".into()).expect("valid JSON"))
    })
}

#[allow(clippy::too_many_arguments)]
fn lead_op(
    bx: &BatchCtx<'_>,
    state: &mut StateSnapshot,
    w: &mut Writes,
    leads: &mut HashMap<String, LeadRecord>,
    lead_id: &str,
    op: &LeadOp,
    actor: &str,
    _weights: StageWeights,
) -> Result<Value, JobError> {
    let cfg = bx.cfg;
    let Some(lead) = leads.get(lead_id).cloned() else {
        return Err(JobError::NotFound(format!("lead {lead_id}")));
    };
    let now = bx.clock.now();
    let mut update = LeadUpdate {
        id: lead.id.clone(),
        owner: lead.owner.clone(),
        queue: lead.queue.clone(),
        team: lead.team.clone(),
        status: lead.status.clone(),
        stage: lead.stage.clone(),
        outcome: lead.outcome.clone(),
        outcome_at: lead.outcome_at,
        contact_by: lead.contact_by,
        accepted_at: lead.accepted_at,
        first_touch_at: lead.first_touch_at,
    };
    let open = lead.status == "open";
    let email = lead
        .email
        .as_deref()
        .and_then(|e| leadrouter_core::domains::parse_email(e).ok())
        .map(|e| e.normalized);
    let (kind, reason, decision, trace) = match op {
        LeadOp::Reassign { rep, note } => {
            let (parsed, issues) =
                Lead::from_json(&lead.payload).map_err(|e| JobError::Invalid {
                    field: "payload".into(),
                    message: e.problem,
                })?;
            let mut input = RoutingInput::new(&parsed, state, now);
            input.issues = &issues;
            let routed = assign_manually(cfg, input, rep, actor, note.as_deref()).map_err(|m| {
                JobError::Invalid {
                    field: "rep".into(),
                    message: m,
                }
            })?;
            if lead.owner.as_deref() == Some(rep.as_str()) {
                return Ok(lead_json(&lead));
            }
            // The lead keeps its stage; its weight moves from the old owner to the new.
            let effects: Vec<Effect> = routed
                .effects
                .iter()
                .filter(|e| !matches!(e, Effect::AddEarlyLoad { .. }))
                .cloned()
                .collect();
            w.apply(state, &effects);
            // ASG-6: the person now belongs to the new owner, so a resubmission (VAL-3)
            // follows the reassignment instead of the stored pre-reassignment owner.
            if let Some(e) = &email {
                w.person(state, e, micros(now), false, &lead.id);
            }
            if open {
                if let Some(prev) = &lead.owner {
                    shift_load(state, w, prev, &lead.stage, -1);
                }
                shift_load(state, w, rep, &lead.stage, 1);
            }
            let d = &routed.decision;
            update.owner = Some(rep.clone());
            update.queue = None;
            update.team = d.team.as_deref().map(str::to_string);
            update.contact_by = d.sla.contact_by.map(micros);
            notify_decision(
                bx,
                w,
                &lead.id,
                &parsed,
                d,
                &routed.trace,
                now,
                Some(lead.owner.as_deref()),
            );
            (
                "manual",
                d.reason.clone(),
                leadrouter_store::JsonText::of(d),
                leadrouter_store::JsonText::of(&routed.trace),
            )
        }
        LeadOp::Disqualify { reason } => {
            if !open {
                return Err(JobError::Invalid {
                    field: "status".into(),
                    message: format!(
                        "lead is {}, only open leads can be disqualified",
                        lead.status
                    ),
                });
            }
            if let Some(o) = &lead.owner {
                shift_load(state, w, o, &lead.stage, -1);
            }
            update.status = "disqualified".into();
            w.cancel_timers(&lead.id);
            if let Some(e) = &email {
                state.people.insert(
                    e.clone(),
                    PriorPerson {
                        owner: lead.owner.clone(),
                        status: PriorStatus::Disqualified,
                        disqualified_at: Some(now),
                        note: reason.clone(),
                    },
                );
                w.person(state, e, micros(now), false, &lead.id);
            }
            (
                "disqualify",
                format!(
                    "disqualified{}",
                    reason
                        .as_deref()
                        .map(|r| format!(": {r}"))
                        .unwrap_or_default()
                ),
                None,
                None,
            )
        }
        LeadOp::Outcome { outcome } => {
            let (status, stage) = match outcome.as_str() {
                "opportunity" => ("open", "mid"),
                "proposal" => ("open", "late"),
                "won" => ("won", lead.stage.as_str()),
                "lost" => ("lost", lead.stage.as_str()),
                other => {
                    return Err(JobError::Invalid {
                        field: "outcome".into(),
                        message: format!(
                            "`{other}` is not an outcome; use opportunity, proposal, won or lost"
                        ),
                    });
                }
            };
            if open && let Some(o) = &lead.owner {
                shift_load(state, w, o, &lead.stage, -1);
                if status == "open" {
                    shift_load(state, w, o, stage, 1);
                }
            }
            if status != "open" {
                w.cancel_timers(&lead.id);
            }
            update.status = status.into();
            update.stage = stage.into();
            update.outcome = Some(outcome.clone());
            update.outcome_at = Some(micros(now));
            ("outcome", format!("outcome: {outcome}"), None, None)
        }
    };
    w.batch.decisions.push(DecisionRecord {
        lead_id: lead.id.clone(),
        kind: kind.into(),
        decided_at: micros(now),
        owner: update.owner.clone(),
        queue: update.queue.clone(),
        reason,
        actor: Some(actor.to_string()),
        config_version: cfg.version.clone(),
        decision,
        trace,
    });
    let mut after = lead.clone();
    after.owner = update.owner.clone();
    after.queue = update.queue.clone();
    after.team = update.team.clone();
    after.status = update.status.clone();
    after.stage = update.stage.clone();
    after.outcome = update.outcome.clone();
    after.outcome_at = update.outcome_at;
    after.contact_by = update.contact_by;
    leads.insert(after.id.clone(), after.clone());
    w.batch.lead_updates.push(update);
    Ok(lead_json(&after))
}

pub fn lead_json(l: &LeadRecord) -> Value {
    let ts = |us: i64| leadrouter_store::from_micros(us).to_string();
    json!({
        "lead_id": l.id,
        "source": l.source,
        "email": l.email,
        "owner": l.owner,
        "queue": l.queue,
        "team": l.team,
        "account": l.account_domain,
        "segment": l.segment,
        "tier": l.tier,
        "score": l.score,
        "path": l.path,
        "rule": l.rule,
        "status": l.status,
        "stage": l.stage,
        "outcome": l.outcome,
        "outcome_at": l.outcome_at.map(ts),
        "received_at": ts(l.received_at),
        "routed_at": ts(l.routed_at),
        "route_by": l.route_by.map(ts),
        "contact_by": l.contact_by.map(ts),
        "accepted_at": l.accepted_at.map(ts),
        "first_touch_at": l.first_touch_at.map(ts),
        // MET-1: acceptance time and speed to contact.
        "acceptance_seconds": l.accepted_at.map(|a| (a - l.routed_at) as f64 / 1e6),
        "speed_to_contact_seconds": l.first_touch_at.map(|a| (a - l.routed_at) as f64 / 1e6),
        "config_version": l.config_version,
        "lead": l.payload,
    })
}

fn availability(
    cfg: &CompiledConfig,
    state: &mut StateSnapshot,
    w: &mut Writes,
    rep: &str,
    out: bool,
    until: Option<Timestamp>,
    note: Option<String>,
) -> Result<Value, JobError> {
    if !cfg.rep_by_id.contains_key(rep) {
        return Err(JobError::NotFound(format!("rep {rep}")));
    }
    if out {
        state.availability.insert(
            rep.to_string(),
            AvailabilityOverride {
                out: true,
                out_until: until,
                note: note.clone(),
            },
        );
    } else {
        state.availability.remove(rep);
    }
    w.reps.insert(rep.to_string());
    Ok(json!({ "rep": rep, "out_of_office": out, "until": until, "note": note }))
}

/// "slack", "email", "webhook:crm", "rep_notification": a serde enum as a short label.
fn label<T: serde::Serialize>(v: &T) -> String {
    match serde_json::to_value(v).unwrap_or(Value::Null) {
        Value::String(s) => s,
        Value::Object(m) => m
            .iter()
            .next()
            .map(|(k, v)| match v {
                Value::Object(inner) => match inner.values().next() {
                    Some(Value::String(x)) => format!("{k}:{x}"),
                    _ => k.clone(),
                },
                Value::String(x) => format!("{k}:{x}"),
                _ => k.clone(),
            })
            .unwrap_or_default(),
        other => other.to_string(),
    }
}

fn notify_context(
    bx: &BatchCtx<'_>,
    lead_id: &str,
    lead: &Lead,
    d: &Decision,
    trace: Option<&RoutingTrace>,
    now: Timestamp,
) -> NotifyContext {
    let cfg = bx.cfg;
    let rep = d
        .owner
        .as_ref()
        .and_then(|o| cfg.rep_by_id.get(o.id.as_str()))
        .map(|i| RepContact::from_rep(cfg.rep(*i)));
    let facts = trace.map(|t| &t.facts);
    NotifyContext {
        lead_id: lead_id.to_string(),
        lead: lead.clone(),
        decision: d.clone(),
        reason_lines: trace
            .map(|t| leadrouter_notify::render::reason_lines(d, t))
            .unwrap_or_else(|| vec![d.reason.clone()]),
        rep,
        firmographics: Firmographics {
            company: facts
                .and_then(|f| f.company.clone())
                .or_else(|| lead.company.clone()),
            employees: facts.and_then(|f| f.employees),
            industry: facts.and_then(|f| f.industry.as_deref().map(str::to_string)),
            linkedin: None,
        },
        record_url: String::new(),
        accept_url: None,
        contacted_url: None,
    }
    .with_links(bx.nrt.links.links(
        lead_id,
        d.owner.as_ref().map_or("", |o| o.id.as_str()),
        now,
    ))
}

/// NTF-1..4 and SLA-1/3 for a fresh decision: messages into the outbox and the SLA
/// ladder's timers, in the same transaction as the assignment. `previous` is set for a
/// reassignment (Some(None) = from a queue).
#[allow(clippy::too_many_arguments)]
fn notify_decision(
    bx: &BatchCtx<'_>,
    w: &mut Writes,
    lead_id: &str,
    lead: &Lead,
    d: &Decision,
    trace: &RoutingTrace,
    now: Timestamp,
    previous: Option<Option<&str>>,
) {
    // Without [notify] there is nothing to render: skip building the context (it signs
    // the accept/contacted links), but the SLA ladder below runs all the same.
    if bx.nrt.renderer.config().enabled {
        let ctx = notify_context(bx, lead_id, lead, d, Some(trace), now);
        let rendered = match previous {
            None => bx.nrt.renderer.assignment(&ctx, now),
            Some(prev) => bx.nrt.renderer.reassignment(&ctx, prev, now),
        };
        for warn in &rendered.warnings {
            tracing::warn!(lead = lead_id, warning = %warn, "template override failed; built-in template used");
        }
        w.queue_messages(lead_id, rendered.messages, now);
    }
    w.cancel_timers(lead_id);
    match (&d.owner, &d.queue) {
        (Some(o), _) => {
            // SLA-2: 1x → manager, 2x → reassign, 3x → leadership.
            let sla = d.sla.contact_within;
            for (k, step) in [(1, "manager"), (2, "reassign"), (3, "leadership")] {
                let due = now.saturating_add(sla * k).unwrap_or(now);
                w.timer(lead_id, step, due, Some(&o.id), now);
            }
        }
        (None, Some(q)) if bx.nrt.alert_queues.iter().any(|a| a == q) => {
            let due = now.saturating_add(bx.nrt.queue_alert_after).unwrap_or(now);
            w.timer(lead_id, "queue_age", due, None, now);
        }
        _ => {}
    }
}

fn parsed_lead(l: &LeadRecord) -> Lead {
    Lead::from_json(&l.payload).map(|x| x.0).unwrap_or_default()
}

fn stored_decision(l: &LeadRecord, cfg: &CompiledConfig) -> Decision {
    use leadrouter_core::trace::{Owner, Sla};
    let owner = l.owner.as_ref().map(|id| Owner {
        id: id.clone().into(),
        name: cfg
            .rep_by_id
            .get(id)
            .map(|i| cfg.rep(*i).name.clone())
            .unwrap_or_else(|| id.clone())
            .into(),
    });
    let tier = leadrouter_core::config::Tier::parse(&l.tier)
        .unwrap_or(leadrouter_core::config::Tier::Standard);
    let times = cfg.sla_for(tier, l.segment.as_deref());
    Decision {
        owner,
        queue: l.queue.clone().map(Into::into),
        path: serde_json::from_value(Value::String(l.path.clone())).unwrap_or(RoutePath::CatchAll),
        rule: l.rule.clone().map(Into::into),
        team: l.team.clone().map(Into::into),
        account: l.account_domain.clone(),
        segment: l.segment.clone().map(Into::into),
        tier,
        score: l.score as i32,
        intent: leadrouter_core::config::Intent::Low,
        icp_fit: false,
        sla: Sla {
            route_by: l
                .route_by
                .map(leadrouter_store::from_micros)
                .unwrap_or_else(|| leadrouter_store::from_micros(l.routed_at)),
            contact_by: l.contact_by.map(leadrouter_store::from_micros),
            route_within: times.route_within,
            contact_within: times.contact_within,
        },
        reason: String::new(),
        flags: Vec::new(),
        notes: Vec::new(),
        config_version: l.config_version.clone().into(),
        decided_at: leadrouter_store::from_micros(l.routed_at),
    }
}

/// SLA-1: accept / first touch. Stops the escalation ladder.
fn touch_lead(
    bx: &BatchCtx<'_>,
    w: &mut Writes,
    leads: &mut HashMap<String, LeadRecord>,
    lead_id: &str,
    touch: Touch,
    actor: &str,
    as_owner: Option<&str>,
) -> Result<Value, JobError> {
    let Some(mut lead) = leads.get(lead_id).cloned() else {
        return Err(JobError::NotFound(format!("lead {lead_id}")));
    };
    if let Some(who) = as_owner
        && lead.owner.as_deref() != Some(who)
    {
        return Err(JobError::Invalid {
            field: "owner".into(),
            message: format!(
                "this link was sent to {} but the lead is now {}; use the link in the current owner's notification",
                if who.is_empty() { "nobody" } else { who },
                match (&lead.owner, &lead.queue) {
                    (Some(o), _) => format!("owned by {o}"),
                    (None, Some(q)) => format!("in the {q} queue"),
                    (None, None) => "unassigned".to_string(),
                }
            ),
        });
    }
    let now = micros(bx.clock.now());
    let (kind, changed) = match touch {
        Touch::Accept => ("accepted", lead.accepted_at.is_none()),
        Touch::Contacted => ("contacted", lead.first_touch_at.is_none()),
    };
    if !changed {
        return Ok(lead_json(&lead));
    }
    if lead.accepted_at.is_none() {
        lead.accepted_at = Some(now);
    }
    if touch == Touch::Contacted {
        lead.first_touch_at = Some(now);
    }
    w.cancel_timers(&lead.id);
    let event = match touch {
        Touch::Accept => leadrouter_notify::EventType::LeadAccepted,
        Touch::Contacted => leadrouter_notify::EventType::LeadContacted,
    };
    let d = stored_decision(&lead, bx.cfg);
    let ctx = notify_context(
        bx,
        &lead.id,
        &parsed_lead(&lead),
        &d,
        None,
        leadrouter_store::from_micros(now),
    );
    let events = bx.nrt.renderer.event(
        event,
        &ctx,
        Default::default(),
        leadrouter_store::from_micros(now),
    );
    w.queue_messages(&lead.id, events, leadrouter_store::from_micros(now));
    w.batch.decisions.push(DecisionRecord {
        lead_id: lead.id.clone(),
        kind: kind.into(),
        decided_at: now,
        owner: lead.owner.clone(),
        queue: lead.queue.clone(),
        reason: format!("{kind} by {actor}"),
        actor: Some(actor.to_string()),
        config_version: bx.cfg.version.clone(),
        decision: None,
        trace: None,
    });
    w.batch.lead_updates.push(LeadUpdate {
        id: lead.id.clone(),
        owner: lead.owner.clone(),
        queue: lead.queue.clone(),
        team: lead.team.clone(),
        status: lead.status.clone(),
        stage: lead.stage.clone(),
        outcome: lead.outcome.clone(),
        outcome_at: lead.outcome_at,
        contact_by: lead.contact_by,
        accepted_at: lead.accepted_at,
        first_touch_at: lead.first_touch_at,
    });
    leads.insert(lead.id.clone(), lead.clone());
    Ok(lead_json(&lead))
}

/// SLA-2/3: a timer came due. Acts only if the lead is still waiting for the owner the
/// step was set for; the timer is marked fired either way (exactly once: the timer row is
/// read inside the locked routing transaction).
fn fire_timer(
    bx: &BatchCtx<'_>,
    state: &mut StateSnapshot,
    w: &mut Writes,
    leads: &mut HashMap<String, LeadRecord>,
    t: &TimerRow,
) -> Result<Value, JobError> {
    let cfg = bx.cfg;
    let now = bx.clock.now();
    if t.status != "pending" || w.batch.fired_timers.iter().any(|(id, _)| *id == t.id) {
        return Ok(json!({"timer": t.id, "action": "none", "why": "already handled"}));
    }
    w.batch.fired_timers.push((t.id.clone(), micros(now)));
    let Some(lead) = leads.get(&t.lead_id).cloned() else {
        return Ok(json!({"timer": t.id, "action": "none", "why": "lead not found"}));
    };
    let untouched =
        lead.status == "open" && lead.first_touch_at.is_none() && lead.accepted_at.is_none();
    let still_owner = lead.owner.is_some() && lead.owner == t.owner;
    let parsed = parsed_lead(&lead);
    let d = stored_decision(&lead, cfg);
    let ctx = notify_context(bx, &lead.id, &parsed, &d, None, now);
    let manager_of = |rep: &str| -> Option<Contact> {
        let r = cfg.rep(*cfg.rep_by_id.get(rep)?);
        let m = r
            .manager
            .or_else(|| r.team.and_then(|tm| cfg.team(tm).manager))?;
        Some(Contact::from_manager(&cfg.managers[m as usize]))
    };
    let record = |w: &mut Writes,
                  kind: &str,
                  reason: String,
                  owner: Option<String>,
                  queue: Option<String>| {
        w.batch.decisions.push(DecisionRecord {
            lead_id: lead.id.clone(),
            kind: kind.into(),
            decided_at: micros(now),
            owner,
            queue,
            reason,
            actor: Some("sla".into()),
            config_version: cfg.version.clone(),
            decision: None,
            trace: None,
        });
    };
    let escalated = |w: &mut Writes, step: &str| {
        let mut extra = serde_json::Map::new();
        extra.insert("step".into(), Value::String(step.into()));
        let ev = bx.nrt.renderer.event(
            leadrouter_notify::EventType::LeadSlaEscalated,
            &ctx,
            extra,
            now,
        );
        w.queue_messages(&lead.id, ev, now);
    };
    match t.step.as_str() {
        "manager" if untouched && still_owner => {
            let owner = lead.owner.clone().unwrap_or_default();
            let Some(m) = manager_of(&owner) else {
                record(
                    w,
                    "sla_manager_alert",
                    format!("SLA missed by {owner}; no manager configured"),
                    lead.owner.clone(),
                    None,
                );
                return Ok(json!({"timer": t.id, "action": "none", "why": "no manager"}));
            };
            let r = bx.nrt.renderer.manager_alert(&ctx, &m, 1);
            w.queue_messages(&lead.id, r.messages, now);
            escalated(w, "manager");
            record(
                w,
                "sla_manager_alert",
                format!("not touched within SLA: alerted manager {}", m.id),
                lead.owner.clone(),
                None,
            );
            Ok(json!({"timer": t.id, "action": "manager_alert", "manager": m.id}))
        }
        "reassign" if untouched && still_owner => {
            let owner = lead.owner.clone().unwrap_or_default();
            let exclude = [owner.as_str()];
            let mut input = RoutingInput::new(&parsed, state, now);
            input.exclude = &exclude;
            let routed = decide(cfg, input);
            let nd = &routed.decision;
            let Some(new_owner) = nd.owner.clone().filter(|o| o.id != owner) else {
                record(
                    w,
                    "sla_reassign",
                    format!("2x SLA: no other rep available; stays with {owner}"),
                    lead.owner.clone(),
                    None,
                );
                return Ok(
                    json!({"timer": t.id, "action": "none", "why": "no other rep available"}),
                );
            };
            // Move the lead: the rotation/daily effects of the new pick, and its load.
            let effects: Vec<Effect> = routed
                .effects
                .iter()
                .filter(|e| !matches!(e, Effect::AddEarlyLoad { .. }))
                .cloned()
                .collect();
            w.apply(state, &effects);
            shift_load(state, w, &owner, &lead.stage, -1);
            shift_load(state, w, &new_owner.id, &lead.stage, 1);
            let mut after = lead.clone();
            after.owner = Some(new_owner.id.to_string());
            after.team = nd.team.as_deref().map(str::to_string);
            after.contact_by = nd.sla.contact_by.map(micros);
            w.batch.lead_updates.push(LeadUpdate {
                id: after.id.clone(),
                owner: after.owner.clone(),
                queue: None,
                team: after.team.clone(),
                status: after.status.clone(),
                stage: after.stage.clone(),
                outcome: after.outcome.clone(),
                outcome_at: after.outcome_at,
                contact_by: after.contact_by,
                accepted_at: None,
                first_touch_at: None,
            });
            let nctx = notify_context(bx, &lead.id, &parsed, nd, Some(&routed.trace), now);
            let r = bx.nrt.renderer.reassignment(&nctx, Some(&owner), now);
            w.queue_messages(&lead.id, r.messages, now);
            escalated(w, "reassign");
            w.batch.decisions.push(DecisionRecord {
                lead_id: lead.id.clone(),
                kind: "sla_reassign".into(),
                decided_at: micros(now),
                owner: after.owner.clone(),
                queue: None,
                reason: format!("not touched within 2x SLA by {owner}: {}", nd.reason),
                actor: Some("sla".into()),
                config_version: cfg.version.clone(),
                decision: leadrouter_store::JsonText::of(nd),
                trace: leadrouter_store::JsonText::of(&routed.trace),
            });
            // The new owner's own SLA clock: their manager hears at 1x of it. The lead's
            // 3x leadership alert (from the first assignment) stays as it was; there is no
            // second automatic reassignment, so a lead never bounces between reps.
            let due = now.saturating_add(nd.sla.contact_within).unwrap_or(now);
            w.timer(&lead.id, "manager", due, Some(&new_owner.id), now);
            leads.insert(after.id.clone(), after);
            Ok(json!({"timer": t.id, "action": "reassigned", "from": owner, "to": new_owner.id}))
        }
        "leadership" if untouched && lead.owner.is_some() => {
            let mut sent = Vec::new();
            for m in &cfg.leadership {
                let c = Contact::from_manager(&cfg.managers[*m as usize]);
                let r = bx.nrt.renderer.manager_alert(&ctx, &c, 3);
                w.queue_messages(&lead.id, r.messages, now);
                sent.push(c.id);
            }
            escalated(w, "leadership");
            record(
                w,
                "sla_leadership_alert",
                format!(
                    "not touched within 3x SLA: alerted {}",
                    if sent.is_empty() {
                        "nobody (no leadership configured)".to_string()
                    } else {
                        sent.join(", ")
                    }
                ),
                lead.owner.clone(),
                None,
            );
            Ok(json!({"timer": t.id, "action": "leadership_alert", "to": sent}))
        }
        "queue_age" if lead.status == "open" && lead.owner.is_none() => {
            let queue = lead.queue.clone().unwrap_or_default();
            let age = now.duration_since(leadrouter_store::from_micros(lead.received_at));
            let r = bx.nrt.renderer.queue_alert(&ctx, &queue, age);
            w.queue_messages(&lead.id, r.messages, now);
            record(
                w,
                "queue_alert",
                format!(
                    "in queue {queue} for {}",
                    jiff::Span::try_from(age)
                        .map(|s| format!("{s:#}"))
                        .unwrap_or_default()
                ),
                None,
                Some(queue.clone()),
            );
            Ok(json!({"timer": t.id, "action": "queue_alert", "queue": queue}))
        }
        _ => Ok(
            json!({"timer": t.id, "action": "none", "why": "lead already touched, reassigned or closed"}),
        ),
    }
}
