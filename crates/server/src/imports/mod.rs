//! CSV imports as background jobs (CAP-3; issue 24 items 1 and 2). An upload is read as
//! it streams in ([`csv::CsvStream`]), its rows stored in the job's table in batches
//! (`ImportStore`) before it is acknowledged; a worker then routes the rows through the
//! sequencer in file order, at a bounded rate and with a few rows in flight, so a large
//! list never starves live intake and never holds a request open for minutes. Progress
//! and per-row results are read back from the store. After a crash the job is claimed
//! again once its lease runs out; rows already committed replay through their
//! idempotency keys (`import:<import id>:<line>`), so none is imported twice.

pub mod csv;

use crate::sequencer::{Job, JobError, RouteJob, Sequencer, Shared};
use leadrouter_core::lead::Lead;
use leadrouter_store::imports::{ImportJob, RowOutcome};
use serde_json::{Value, json};
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Mutex, Notify, oneshot};
use tokio::time::Instant;

/// Default for `LEADROUTER_IMPORT_ROWS_PER_SECOND`: the most rows one instance hands
/// the sequencer per second across all import jobs.
pub const DEFAULT_ROWS_PER_SECOND: u32 = 1000;
/// Rows of one job waiting for the sequencer at once: live leads queue behind at most
/// this many import rows per running job.
const IN_FLIGHT: usize = 16;
/// Jobs one instance works on at once.
const JOBS_AT_ONCE: i64 = 2;
/// A worker's claim on a job; renewed with every recorded batch, so a job whose worker
/// died is taken up again within this.
const LEASE: Duration = Duration::from_secs(10);
/// Outcomes are written in batches of this many rows, or at least this often.
const RECORD_EVERY_ROWS: usize = 100;
const RECORD_EVERY: Duration = Duration::from_millis(500);
/// A job left `receiving` this long (its upload died with its process) is deleted.
const STALE_UPLOAD: Duration = Duration::from_secs(3600);
/// How long a row waits for the sequencer before it is retried later.
const ROW_REPLY_TIMEOUT: Duration = Duration::from_secs(45);

/// The import worker's shared parts: its id, the wake-up for new jobs and the pace.
pub struct Imports {
    worker: String,
    wake: Notify,
    /// Wakes whoever waits for a job to progress (`POST /v1/imports`' short wait).
    pub progress: Notify,
    /// The earliest instant the next row may go to the sequencer.
    next_slot: Mutex<Instant>,
    interval: Duration,
}

impl Imports {
    /// The rate from `LEADROUTER_IMPORT_ROWS_PER_SECOND` (default
    /// [`DEFAULT_ROWS_PER_SECOND`]).
    pub fn from_env() -> Result<Imports, String> {
        let rate = match std::env::var("LEADROUTER_IMPORT_ROWS_PER_SECOND") {
            Err(_) => DEFAULT_ROWS_PER_SECOND,
            Ok(v) => v
                .trim()
                .parse::<u32>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| {
                    format!(
                        "LEADROUTER_IMPORT_ROWS_PER_SECOND={v:?} is not a positive whole number of rows per second (default {DEFAULT_ROWS_PER_SECOND})"
                    )
                })?,
        };
        Ok(Imports::with_rate(rate))
    }

    pub fn with_rate(rows_per_second: u32) -> Imports {
        Imports {
            worker: format!("import-{}", uuid::Uuid::now_v7()),
            wake: Notify::new(),
            progress: Notify::new(),
            next_slot: Mutex::new(Instant::now()),
            interval: Duration::from_secs(1) / rows_per_second.max(1),
        }
    }

    /// A job was sealed: look for work now rather than at the next poll.
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Wait for the next row's turn: rows leave at most at the configured rate across
    /// all jobs, without a burst after an idle spell.
    async fn pace(&self) {
        let at = {
            let mut slot = self.next_slot.lock().await;
            let now = Instant::now();
            let at = (*slot).max(now);
            *slot = at + self.interval;
            at
        };
        tokio::time::sleep_until(at).await;
    }
}

/// Start the worker: it claims queued jobs (and jobs whose worker died) and runs them.
pub fn spawn(shared: Arc<Shared>, sequencer: Sequencer, imports: Arc<Imports>) {
    tokio::spawn(async move {
        let mut last_sweep = Instant::now() - STALE_UPLOAD;
        let running = Arc::new(tokio::sync::Semaphore::new(JOBS_AT_ONCE as usize));
        loop {
            let free = running.available_permits() as i64;
            if free > 0 {
                let now = shared.clock.now().as_microsecond();
                match shared
                    .store
                    .import_claim(&imports.worker, now, LEASE.as_micros() as i64, free)
                    .await
                {
                    Ok(jobs) => {
                        for job in jobs {
                            let Ok(permit) = running.clone().try_acquire_owned() else {
                                break;
                            };
                            let run = JobRun {
                                shared: shared.clone(),
                                sequencer: sequencer.clone(),
                                imports: imports.clone(),
                                job,
                            };
                            tokio::spawn(async move {
                                run.run().await;
                                drop(permit);
                            });
                        }
                    }
                    Err(e) => tracing::warn!(error = %e, "claiming import jobs failed; retrying"),
                }
            }
            if last_sweep.elapsed() > Duration::from_secs(60) {
                last_sweep = Instant::now();
                let before = shared.clock.now().as_microsecond() - STALE_UPLOAD.as_micros() as i64;
                match shared.store.import_sweep(before).await {
                    Ok(0) => {}
                    Ok(n) => {
                        tracing::info!(jobs = n, "deleted imports whose upload never finished")
                    }
                    Err(e) => tracing::warn!(error = %e, "sweeping unfinished imports failed"),
                }
            }
            let _ = tokio::time::timeout(Duration::from_secs(1), imports.wake.notified()).await;
        }
    });
}

struct JobRun {
    shared: Arc<Shared>,
    sequencer: Sequencer,
    imports: Arc<Imports>,
    job: ImportJob,
}

/// A row handed to the sequencer, waiting for its commit.
struct InFlight {
    line: i64,
    reply: oneshot::Receiver<Result<crate::sequencer::RouteReply, JobError>>,
}

impl JobRun {
    async fn run(self) {
        let id = self.job.id.clone();
        match self.work().await {
            Ok(true) => tracing::info!(job = %id, "import done"),
            Ok(false) => {}
            Err(e) => {
                tracing::warn!(job = %id, error = %e, "import paused; it resumes when its lease runs out")
            }
        }
        self.imports.progress.notify_waiters();
    }

    /// Route every pending row; true when the job is done, false when another worker
    /// took it over (or rows must wait for the writer).
    async fn work(&self) -> Result<bool, String> {
        let store = &self.shared.store;
        let job = &self.job;
        let received_at = jiff::Timestamp::from_microsecond(job.received_at)
            .unwrap_or_else(|_| self.shared.clock.now());
        let mut after = 0i64;
        let mut in_flight: VecDeque<InFlight> = VecDeque::new();
        let mut done: Vec<RowOutcome> = Vec::new();
        let mut last_record = Instant::now();
        let mut retry_later = false;
        loop {
            let rows = store
                .import_pending(&job.id, after, 256)
                .await
                .map_err(|e| e.to_string())?;
            if rows.is_empty() {
                break;
            }
            for row in rows {
                after = row.line;
                self.imports.pace().await;
                let payload: Value = serde_json::from_str(&row.payload).unwrap_or(Value::Null);
                let (lead, issues) = Lead::from_json(&payload).unwrap_or_default();
                let enrichment = self.shared.enricher.load_full().enrich(&lead).await;
                let (tx, rx) = oneshot::channel();
                let route = RouteJob {
                    lead,
                    enrichment: Some(enrichment),
                    payload: Arc::new(payload),
                    issues,
                    source: format!("import:{}", job.import_id),
                    idempotency_key: Some(format!("import:{}:{}", job.import_id, row.line)),
                    received_at,
                    explain: false,
                };
                self.sequencer
                    .submit(Job::Route(Box::new(route), tx))
                    .await
                    .map_err(|e| format!("{e:?}"))?;
                in_flight.push_back(InFlight {
                    line: row.line,
                    reply: rx,
                });
                while in_flight.len() >= IN_FLIGHT {
                    if let Some(f) = in_flight.pop_front() {
                        retry_later |= settle(f, &mut done).await;
                    }
                }
                if done.len() >= RECORD_EVERY_ROWS || last_record.elapsed() >= RECORD_EVERY {
                    if !self.record(&mut done).await? {
                        return Ok(false);
                    }
                    last_record = Instant::now();
                }
            }
        }
        while let Some(f) = in_flight.pop_front() {
            retry_later |= settle(f, &mut done).await;
        }
        if !self.record(&mut done).await? {
            return Ok(false);
        }
        if retry_later {
            return Err("the writer did not confirm every row".into());
        }
        let now = self.shared.clock.now().as_microsecond();
        store
            .import_finish(&job.id, now)
            .await
            .map_err(|e| e.to_string())
    }

    /// Write the outcomes so far and renew the lease; false if the job was lost.
    async fn record(&self, done: &mut Vec<RowOutcome>) -> Result<bool, String> {
        let store = &self.shared.store;
        let now = self.shared.clock.now().as_microsecond();
        store
            .import_record(&self.job.id, done, now)
            .await
            .map_err(|e| e.to_string())?;
        done.clear();
        self.imports.progress.notify_waiters();
        store
            .import_renew(
                &self.job.id,
                &self.imports.worker,
                now + LEASE.as_micros() as i64,
            )
            .await
            .map_err(|e| e.to_string())
    }
}

/// Wait for a row's commit and note its outcome. A row the writer could not confirm
/// stays pending (it is retried when the job resumes): true then.
async fn settle(f: InFlight, done: &mut Vec<RowOutcome>) -> bool {
    let reply = match tokio::time::timeout(ROW_REPLY_TIMEOUT, f.reply).await {
        Ok(Ok(r)) => r,
        Ok(Err(_)) | Err(_) => return true,
    };
    match reply {
        Ok(r) => {
            let body: Value = serde_json::from_str(r.body.get()).unwrap_or(Value::Null);
            done.push(RowOutcome {
                line: f.line,
                imported: true,
                result: json!({
                    "lead_id": r.lead_id,
                    "owner": body["owner"],
                    "queue": body["queue"],
                })
                .to_string(),
            });
            false
        }
        Err(JobError::Unavailable(_) | JobError::Unknown(_)) => true,
        Err(JobError::Invalid { field, message }) => {
            done.push(RowOutcome {
                line: f.line,
                imported: false,
                result: json!([{ "field": field, "message": message }]).to_string(),
            });
            false
        }
        Err(JobError::NotFound(what)) => {
            done.push(RowOutcome {
                line: f.line,
                imported: false,
                result: json!([{ "field": "row", "message": format!("{what} not found") }])
                    .to_string(),
            });
            false
        }
    }
}
