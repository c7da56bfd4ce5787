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
//!
//! This file is the group-commit loop. The batch's bookkeeping (its reads, the rows it
//! will write, the decider that runs its jobs in order) is in `batch`; applying the
//! lead-lifecycle rules of `leadrouter_core::lifecycle` to stored leads is in `apply`,
//! rendering their notifications in `notices`; the response bodies are the API's
//! (`crate::api::responses`).

mod apply;
mod batch;
mod booking;
mod history;
mod notices;

use batch::{Decided, Decider, decide_batch, read_batch, reads_for, route_keys};

use crate::metrics::{Metrics, RouteObs};
use crate::runtime::{Clock, NotifyRuntime};
use arc_swap::ArcSwap;
use jiff::Timestamp;
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::lead::{FieldIssue, Lead};
use leadrouter_core::state::StateSnapshot;
use leadrouter_store::Store;
use serde_json::Value;
use serde_json::value::RawValue;
use std::sync::Arc;
use tokio::sync::{mpsc, oneshot};

pub use booking::booking_json;
pub use leadrouter_core::lifecycle::Touch;

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

/// A meeting booked, moved or cancelled (issue 22). The handler has read the rep's
/// calendar (`busy`, never waited on) and stamps `at`; the sequencer checks the slot
/// against the bookings it reads under the state lock and commits or answers
/// `{"taken": true}`.
#[derive(Debug, Clone)]
pub enum BookingOp {
    Book {
        rep: String,
        slot: leadrouter_core::booking::Slot,
        busy: Vec<(Timestamp, Timestamp)>,
        lead_tz: Option<String>,
        /// Why the lead goes to `rep` when `rep` is not its owner (the trace's reason).
        why: Option<String>,
    },
    Reschedule {
        booking_id: String,
        rep: String,
        slot: leadrouter_core::booking::Slot,
        busy: Vec<(Timestamp, Timestamp)>,
        lead_tz: Option<String>,
    },
    Cancel {
        booking_id: String,
        rep: String,
    },
}

impl BookingOp {
    /// The rep whose bookings the job reads.
    pub fn rep(&self) -> &str {
        match self {
            BookingOp::Book { rep, .. }
            | BookingOp::Reschedule { rep, .. }
            | BookingOp::Cancel { rep, .. } => rep,
        }
    }
}

#[derive(Debug, Clone)]
pub enum LeadOp {
    Reassign { rep: String, note: Option<String> },
    Disqualify { reason: Option<String> },
    Outcome { outcome: String },
}

pub enum Job {
    Route(Box<RouteJob>, oneshot::Sender<Result<RouteReply, JobError>>),
    /// `actor` and `address` (the client's, see `api::audit::client_address`) are
    /// recorded in the lead's history and the audit log, in the batch that makes the change.
    Lead {
        lead_id: String,
        op: LeadOp,
        actor: String,
        address: Option<String>,
        reply: oneshot::Sender<Result<Value, JobError>>,
    },
    Availability {
        rep: String,
        out: bool,
        until: Option<Timestamp>,
        note: Option<String>,
        actor: String,
        address: Option<String>,
        reply: oneshot::Sender<Result<Value, JobError>>,
    },
    /// SLA-1: the rep accepted the lead or recorded first touch.
    Touch {
        lead_id: String,
        touch: Touch,
        actor: String,
        address: Option<String>,
        /// Set for signed links: the rep the link was sent to, who must still own the lead.
        as_owner: Option<String>,
        reply: oneshot::Sender<Result<Value, JobError>>,
    },
    /// A meeting (issue 22); `at` bounds the bookings read (those ending after it, less a day).
    Booking {
        lead_id: String,
        op: BookingOp,
        actor: String,
        address: Option<String>,
        at: Timestamp,
        reply: oneshot::Sender<Result<Value, JobError>>,
    },
    /// SLA-2/3: a timer came due.
    Sla {
        timer_id: String,
        reply: oneshot::Sender<Result<Value, JobError>>,
    },
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
    /// The CRM connection (CRM-1..2): its runtime, worker wake-up and metrics.
    pub crm: crate::crm::CrmState,
    /// Accounts synced from the CRM (CRM-3), swapped in by the sync; each batch routes
    /// with the overlay it loaded.
    pub crm_accounts: ArcSwap<leadrouter_core::crm_accounts::CrmAccounts>,
}

/// What a batch works with: the store, the config and notify runtime it was started
/// with, the clock and the metrics.
struct BatchCtx<'a> {
    store: &'a dyn Store,
    cfg: &'a CompiledConfig,
    crm_accounts: &'a leadrouter_core::crm_accounts::CrmAccounts,
    nrt: &'a NotifyRuntime,
    clock: &'a Clock,
    metrics: &'a Metrics,
    /// Write changes back to the CRM (a `[crm]` table is in force).
    crm: Option<&'a crate::crm::CrmState>,
}

/// Consecutive failed routing transactions after which `/readyz` says not ready.
pub const UNREADY_AFTER_FAILURES: u32 = 3;
/// How long after the last failed transaction `/readyz` stays not ready when no
/// transaction succeeds meanwhile. Without traffic nothing can succeed, so the window
/// lets a load balancer send a little traffic again to find out.
pub const UNREADY_WINDOW: std::time::Duration = std::time::Duration::from_secs(30);

/// Whether routing transactions commit. The database can answer a ping while every write
/// fails (a full disk did exactly that: 54,001 failed writes behind a ready `/readyz`),
/// so readiness also looks at the writer's own results.
#[derive(Debug, Default)]
pub struct CommitHealth {
    failures: std::sync::atomic::AtomicU32,
    last_failure: std::sync::Mutex<Option<(std::time::Instant, String)>>,
}

impl CommitHealth {
    fn succeeded(&self) {
        self.failures.store(0, std::sync::atomic::Ordering::Relaxed);
    }

    fn failed(&self, e: &JobError) {
        self.failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        *self.last_failure.lock().unwrap_or_else(|p| p.into_inner()) =
            Some((std::time::Instant::now(), e.to_string()));
    }

    /// Why the writer is not ready: [`UNREADY_AFTER_FAILURES`] or more transactions in a
    /// row failed, the last less than [`UNREADY_WINDOW`] ago. A success clears it.
    pub fn unready(&self) -> Option<String> {
        let n = self.failures.load(std::sync::atomic::Ordering::Relaxed);
        if n < UNREADY_AFTER_FAILURES {
            return None;
        }
        let last = self.last_failure.lock().unwrap_or_else(|p| p.into_inner());
        let (at, error) = last.as_ref()?;
        (at.elapsed() < UNREADY_WINDOW).then(|| {
            format!("writes failing: {n} routing transactions in a row failed, the last: {error}")
        })
    }
}

#[derive(Clone)]
pub struct Sequencer {
    tx: mpsc::Sender<Job>,
    health: Arc<CommitHealth>,
}

impl Sequencer {
    pub fn start(shared: Arc<Shared>) -> Self {
        let (tx, rx) = mpsc::channel(MAX_BATCH * 8);
        let health = Arc::new(CommitHealth::default());
        tokio::spawn(run(shared, rx, health.clone()));
        Sequencer { tx, health }
    }

    /// The writer's commit results, for `/readyz`.
    pub fn commit_health(&self) -> &CommitHealth {
        &self.health
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
    crm: Arc<leadrouter_core::crm_accounts::CrmAccounts>,
    nrt: Arc<NotifyRuntime>,
    decided: Decided,
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

/// The channel and the jobs taken off it that are not in the batch in flight.
struct Intake {
    rx: mpsc::Receiver<Job>,
    /// Jobs taken off the channel during the previous batch's transaction; they are the
    /// next batch (and were decided ahead if that transaction committed).
    next: Vec<Job>,
    /// Jobs taken off the channel during a write and COMMIT that could not be decided
    /// ahead (`decide_late`); they come after `next`, as the batch after it.
    held: Vec<Job>,
}

/// The group-commit loop's state from one batch to the next.
struct BatchLoop {
    shared: Arc<Shared>,
    intake: Intake,
    /// The routing state as of the last commit (None: read it again).
    cache: Option<Cache>,
    /// The batch in flight.
    jobs: Vec<Job>,
    ahead: Option<Ahead>,
    /// Batches left before deciding ahead is tried again (see `AHEAD_BACKOFF`).
    backoff: u32,
    health: Arc<CommitHealth>,
}

async fn run(shared: Arc<Shared>, rx: mpsc::Receiver<Job>, health: Arc<CommitHealth>) {
    let mut l = BatchLoop {
        shared,
        intake: Intake {
            rx,
            next: Vec::with_capacity(MAX_BATCH),
            held: Vec::new(),
        },
        cache: None,
        jobs: Vec::with_capacity(MAX_BATCH),
        ahead: None,
        backoff: 0,
        health,
    };
    while l.take_batch().await {
        l.run_batch().await;
    }
}

impl BatchLoop {
    /// Make the next batch: the jobs decided ahead (and those held behind them), else
    /// what was held, else whatever the channel has. False once the channel is closed.
    async fn take_batch(&mut self) -> bool {
        let q = &mut self.intake;
        if q.next.is_empty() {
            // Nothing was decided ahead; what was held is the next batch.
            std::mem::swap(&mut q.next, &mut q.held);
        }
        if q.next.is_empty() {
            let Some(first) = q.rx.recv().await else {
                return false;
            };
            self.jobs.push(first);
            drain_queued(&mut q.rx, &mut self.jobs);
        } else {
            std::mem::swap(&mut self.jobs, &mut q.next);
            // Held jobs follow the ones decided ahead, as the batch after them (nothing
            // is decided late while they wait: see `process`).
            q.next.append(&mut q.held);
        }
        true
    }

    /// Process the batch in `jobs` and answer every job in it.
    async fn run_batch(&mut self) {
        let shared = self.shared.clone();
        let cfg = shared.config.load_full();
        let nrt = shared.notify.load_full();
        let crm = shared.crm_accounts.load_full();
        let pre = match self.ahead.take() {
            Some(a)
                if Arc::ptr_eq(&a.cfg, &cfg)
                    && Arc::ptr_eq(&a.nrt, &nrt)
                    && Arc::ptr_eq(&a.crm, &crm) =>
            {
                Some((a.version, a.decided))
            }
            Some(_) => {
                // Decided under a config that has since been reloaded: the cached state
                // carries those decisions' effects, so it goes too.
                self.cache = None;
                None
            }
            None => None,
        };
        let bx = BatchCtx {
            store: &*shared.store,
            cfg: &cfg,
            crm_accounts: &crm,
            nrt: &nrt,
            clock: &shared.clock,
            metrics: &shared.metrics,
            crm: shared.crm.runtime.load().is_some().then_some(&shared.crm),
        };
        let started = std::time::Instant::now();
        let n = self.jobs.len();
        // The COMMIT carries its own timeout inside `process`; this one bounds the rest,
        // and since it may cut into the COMMIT its outcome is reported as unknown.
        let result = tokio::time::timeout(
            TX_TIMEOUT + COMMIT_TIMEOUT,
            process(
                &bx,
                &mut self.cache,
                &self.jobs,
                pre,
                self.backoff == 0,
                &mut self.intake,
            ),
        )
        .await
        .unwrap_or_else(|_| Err(JobError::Unknown("routing transaction timed out".into())));
        shared.metrics.observe_batch(n, started.elapsed());
        match result {
            Ok(done) => {
                self.health.succeeded();
                self.backoff = if done.redone {
                    AHEAD_BACKOFF
                } else {
                    self.backoff.saturating_sub(1)
                };
                if done.queued_messages {
                    shared.outbox_wake.notify_waiters();
                    shared.outbox_wake.notify_one();
                }
                shared.crm.wake.notify_one();
                for r in &done.routes {
                    shared.metrics.observe_route(r);
                }
                for (job, reply) in self.jobs.drain(..).zip(done.replies) {
                    deliver(job, reply);
                }
                self.ahead = done.ahead.map(|(version, decided)| Ahead {
                    version,
                    cfg: cfg.clone(),
                    crm: crm.clone(),
                    nrt: nrt.clone(),
                    decided,
                });
            }
            Err(e) => {
                tracing::error!(error = %e, jobs = n, "routing transaction failed; nothing in it was acknowledged");
                self.health.failed(&e);
                // Also drops any decisions made ahead for `next`: it is decided afresh.
                self.cache = None;
                for job in self.jobs.drain(..) {
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
        | Job::Booking { reply: tx, .. }
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

/// One routing transaction: lock, (re)load the state if another writer moved it, read,
/// decide (or take the decisions made ahead), then write and commit in a task of their
/// own while the jobs that arrive meanwhile are decided as the next batch
/// ([`decide_late`]).
async fn process(
    bx: &BatchCtx<'_>,
    cache: &mut Option<Cache>,
    jobs: &[Job],
    pre: Option<(i64, Decided)>,
    look_ahead: bool,
    intake: &mut Intake,
) -> Result<Done, JobError> {
    let mut phase = std::time::Instant::now();
    let mut tx = bx.store.begin().await.map_err(db)?;
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
    if look_ahead && intake.next.is_empty() {
        stored = decide_late(bx, jobs, &mut c.state, &mut decider, &mut commit, intake).await;
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
    let ahead = decider.map(|d: Decider| {
        let now = bx.clock.now().as_microsecond();
        (version + 1, d.finish(&c.state, now))
    });
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
/// meanwhile as the next batch (appended to `intake.next`, decided on the state this batch
/// leaves), reading what they need from committed rows (`Store::committed_reads`). That
/// is only right for a job whose reads this batch cannot change: a routing job whose idempotency
/// key and email no job of this batch has, behind a batch of routing jobs only (an
/// operation on a stored lead could change the lead a person's resubmission reopens).
/// The first job that does not qualify, and everything after it, goes to `intake.held`
/// undecided, and nothing more is taken; they are read and decided in the next
/// transaction, after `next`. Returns the COMMIT's outcome if it came in here.
async fn decide_late(
    bx: &BatchCtx<'_>,
    jobs: &[Job],
    state: &mut StateSnapshot,
    decider: &mut Option<Decider>,
    commit: &mut tokio::task::JoinHandle<Stored>,
    intake: &mut Intake,
) -> Option<Result<Stored, tokio::task::JoinError>> {
    let Intake { rx, next, held } = intake;
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
            let read = tokio::time::timeout(
                LATE_READ_TIMEOUT,
                bx.store.committed_reads(reads_for(&late)),
            )
            .await;
            let read = match read {
                Ok(r) => r.map_err(|e| e.to_string()),
                Err(_) => Err(format!("no answer in {LATE_READ_TIMEOUT:?}")),
            };
            match read {
                Ok(found) => {
                    let d =
                        decider.get_or_insert_with(|| Decider::new(state, batch::Reads::default()));
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
