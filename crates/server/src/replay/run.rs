//! The replay loop: read the history of the window in commit order from one read-only
//! snapshot, rebuild the routing state at the window's start (the last checkpoint before
//! it, the people from the events before that, the events since), then re-decide each
//! routing event of the window while applying every other recorded change at its place.
//!
//! Two threads share the work: the caller's reads and decodes pages ([`super::feed`]),
//! a worker applies them to the worlds and re-decides (`Worlds`), a few pages behind.

use super::feed::{self, Body, Chunk, Event, Feed, Txn, Version};
use super::report::{self, ChangedLead, LeadChange, Report, Tally};
use super::world::World;
use jiff::Timestamp;
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::state::StateSnapshot;
use leadrouter_core::trace::{Decision, RoutingTrace};
use leadrouter_store::{EventRange, HistoryReader};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{0}")]
    Store(#[from] leadrouter_store::StoreError),
    #[error(
        "config version {0} decided leads in the window but is not in the config history (it served before history was kept); pass --config to replay through a candidate instead"
    )]
    MissingVersion(String),
    #[error("config version {version} from the history does not compile: {error}")]
    Compile { version: String, error: String },
    #[error("routing event {version}/{idx} is unreadable: {why}")]
    Corrupt { version: i64, idx: i64, why: String },
    #[error("the replay's worker thread failed: {0}")]
    Worker(String),
}

/// What to replay.
#[derive(Clone, Default)]
pub struct ReplayOptions {
    pub since: Option<Timestamp>,
    pub until: Option<Timestamp>,
    /// The candidate config; None replays each lead with the version that was live
    /// (fidelity mode).
    pub candidate: Option<Arc<CompiledConfig>>,
    /// Changed leads listed (the rest are counted), and how many of them carry traces.
    pub list_limit: usize,
    pub trace_limit: usize,
    /// Events read per page (0: [`feed::PAGE`] on SQLite, [`feed::PAGE_PG`] on
    /// PostgreSQL).
    pub page_events: u32,
    /// Of each [`feed::SHARE_OF`] routing transactions, how many the reading thread
    /// leaves for the worker to finish decoding; None: shared as the replay goes, by
    /// which thread waits for the other.
    pub worker_share: Option<u32>,
}

impl ReplayOptions {
    pub const LIST_LIMIT: usize = 1_000;
    pub const TRACE_LIMIT: usize = 200;
}

fn ts(us: i64) -> String {
    leadrouter_store::from_micros(us).to_string()
}

/// The stored trace of a routing decision, rendered.
async fn stored_trace(reader: &mut HistoryReader, lead_id: &str, at: i64) -> Option<String> {
    let (d, t) = reader.stored_decision(lead_id, at).await.ok()??;
    let d: Decision = d.parse()?;
    let t: RoutingTrace = t.parse()?;
    Some(t.render(&d))
}

/// What the worker found.
#[derive(Default)]
struct Found {
    tally: Tally,
    changed_leads: Vec<ChangedLead>,
    changed_not_listed: u64,
    lead_changes: Vec<LeadChange>,
    effect_mismatches: u64,
    decide_time: std::time::Duration,
    /// Time spent applying chunks (deciding included).
    busy: std::time::Duration,
    last: Option<Arc<CompiledConfig>>,
}

/// The worker's side: the worlds, taking each transaction in commit order.
struct Worlds {
    world: World,
    since: Option<i64>,
    candidate: Option<Arc<CompiledConfig>>,
    list_limit: usize,
    trace_limit: usize,
    versions: Vec<Version>,
    done: Arc<AtomicU64>,
    found: Found,
}

impl Worlds {
    /// Apply a chunk. It is read by reference and handed back to the reading thread to
    /// be freed there, where its memory is allocated again for the next page.
    fn chunk(&mut self, c: &mut Chunk) -> Result<(), ReplayError> {
        if !c.versions.is_empty() {
            self.versions = std::mem::take(&mut c.versions);
        }
        for t in &mut c.txns {
            t.finish()?;
            for ev in &mut t.events {
                if let (Some(no), Some(key)) = (ev.lead, ev.new_lead.take()) {
                    self.world.add_lead(no, key);
                }
            }
            let t = &*t;
            // A routing transaction starts: it reads its routing jobs' people.
            self.world.begin_batch(&t.emails);
            for ev in &t.events {
                self.event(t, ev)?;
            }
        }
        Ok(())
    }

    fn event(&mut self, txn: &Txn, ev: &Event) -> Result<(), ReplayError> {
        let in_window = self.since.is_none_or(|s| ev.at >= s);
        let found = &mut self.found;
        let lead_id = ev.lead_id.as_deref();
        let (input, recorded, email) = match &ev.body {
            Body::Change { kind, after } => {
                let cand_before =
                    self.world
                        .change(ev.lead, after.as_ref(), &ev.effects, &ev.people);
                let moved = ev
                    .effects
                    .iter()
                    .any(|e| matches!(e, leadrouter_core::state::Effect::RemoveLoad { .. }));
                let listed = kind == "reassign" || (kind == "sla" && moved);
                if in_window && listed && found.lead_changes.len() < self.list_limit.max(1) {
                    found.lead_changes.push(LeadChange {
                        lead_id: lead_id.unwrap_or_default().to_string(),
                        at: ev.at,
                        kind: kind.clone(),
                        actor: ev.actor.clone(),
                        owner_after: after.as_ref().and_then(|a| a.owner.clone()),
                        candidate_owner_before: cand_before,
                    });
                }
                return Ok(());
            }
            Body::Route {
                input,
                recorded,
                email,
            } => (input, recorded, email),
            Body::Left(_) => {
                return Err(ReplayError::Corrupt {
                    version: txn.version,
                    idx: ev.idx,
                    why: "its transaction was not finished decoding".into(),
                });
            }
        };
        let lead_id = lead_id.unwrap_or_default();
        let Some(lead) = ev.lead else {
            return Err(ReplayError::Corrupt {
                version: txn.version,
                idx: ev.idx,
                why: "its lead was not numbered".into(),
            });
        };
        if !in_window {
            let email = email.and_then(|i| txn.emails.get(i)).map(String::as_str);
            self.world
                .before_window_route(lead, email, recorded, &ev.effects, &ev.people);
            return Ok(());
        }
        let version = self.versions.get(ev.version);
        let cfg = match (&self.candidate, version.and_then(|v| v.compiled.as_ref())) {
            (Some(c), _) => c.clone(),
            (None, Some(c)) => c.clone(),
            (None, None) => {
                return Err(ReplayError::Corrupt {
                    version: txn.version,
                    idx: ev.idx,
                    why: "its config version was not read".into(),
                });
            }
        };
        let r = self
            .world
            .route(&cfg, lead, input, recorded, &ev.effects, &ev.people);
        found.last = Some(cfg);
        found.effect_mismatches += u64::from(r.effects_differ);
        found.decide_time += r.decide_time;
        found.tally.add(recorded, &r.result);
        if !recorded.same_decision(&r.result) {
            if found.changed_leads.len() < self.list_limit.max(1) {
                let traced = found.changed_leads.len() < self.trace_limit;
                found.changed_leads.push(ChangedLead {
                    lead_id: lead_id.to_string(),
                    at: ev.at,
                    config_version: version.map(|v| v.name.to_string()).unwrap_or_default(),
                    before: recorded.clone(),
                    after: r.result,
                    // Read from the store once the worker is done.
                    before_trace: None,
                    after_trace: r
                        .routed
                        .as_ref()
                        .filter(|_| traced)
                        .map(|x| x.trace.render(&x.decision)),
                });
            } else {
                found.changed_not_listed += 1;
            }
        }
        self.done.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }
}

/// Share the work between the two threads: the reader leaves more transactions undecoded
/// for the worker while the worker waits for chunks (nothing queued: the reader is the
/// slower), and fewer while chunks wait for the worker. Which thread is slower depends
/// on the mode (fidelity decodes more, a candidate keeps two worlds), the backend and the
/// host. Decoding is most of the reader's work: moving some of it evens the two out.
fn balance(feed: &mut Feed, queued: usize) {
    let share = feed.share();
    if queued == 0 {
        feed.set_share(share + 1);
    } else if queued >= READ_AHEAD {
        feed.set_share(share.saturating_sub(1));
    }
}

/// Chunks read ahead of the worker (each is [`feed::PAGE`] events). Few and small: a
/// chunk's memory is freed by the reader and used again for the next, where more chunks
/// in flight would each need memory the system has to hand out (and zero) afresh.
const READ_AHEAD: usize = 2;

/// The most leads the worlds' maps are sized for up front.
const MAX_PRESIZE: u64 = 20_000_000;

/// Run the replay. `progress(done, total)` is called as routing events are re-decided
/// (`total` is an estimate until the last call).
pub async fn run(
    reader: &mut HistoryReader,
    opts: &ReplayOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report, ReplayError> {
    match run_once(reader, opts, progress).await {
        // SQLite's events were found out of storage order part way: the reader now reads
        // by key, and the replay starts again from the same snapshot.
        Err(ReplayError::Store(leadrouter_store::StoreError::HistoryOrder(why))) => {
            tracing::warn!(%why, "replay: history not in storage order; reading it again by key");
            let mut report = run_once(reader, opts, progress).await?;
            report.notes.push(format!("history read by key ({why})"));
            Ok(report)
        }
        other => other,
    }
}

async fn run_once(
    reader: &mut HistoryReader,
    opts: &ReplayOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report, ReplayError> {
    let started = std::time::Instant::now();
    let since = opts.since.map(|t| t.as_microsecond());
    let until = opts.until.map(|t| t.as_microsecond());
    let total = u64::try_from(reader.count_events(since, until).await?).unwrap_or(0);
    let mut notes = Vec::new();
    let first = reader.first_checkpoint().await?;
    let cp = match since {
        Some(s) => match reader.checkpoint_before(s).await? {
            Some(c) => Some(c),
            None => {
                if let Some(f) = &first {
                    notes.push(format!(
                        "history starts at {}, after --since: the window starts there",
                        ts(f.at)
                    ));
                }
                first.clone()
            }
        },
        None => first.clone(),
    };
    let (start, state) = match &cp {
        Some(c) => (
            c.state_version,
            serde_json::from_str::<StateSnapshot>(&c.state).map_err(|e| ReplayError::Corrupt {
                version: c.state_version,
                idx: 0,
                why: format!("checkpoint: {e}"),
            })?,
        ),
        None => {
            notes.push("no state checkpoint: replaying from an empty state".into());
            (0, StateSnapshot::default())
        }
    };
    // People are not in checkpoints: the person rows as written before it.
    let mut persisted = rustc_hash::FxHashMap::default();
    let mut after = (i64::MIN, i64::MIN);
    loop {
        let range = EventRange {
            after,
            through: Some(start),
            until: None,
            limit: feed::PAGE * 4,
        };
        let (n, last) = feed::scan(reader, range, |ev| {
            persisted.extend(feed::people(&ev)?);
            Ok(())
        })
        .await?;
        match last {
            Some(l) if n == range.limit as u64 => after = l,
            _ => break,
        }
    }
    let done = Arc::new(AtomicU64::new(0));
    let mut worlds = Worlds {
        world: World::new(
            state,
            persisted,
            opts.candidate.is_some(),
            usize::try_from(total.min(MAX_PRESIZE)).unwrap_or(0),
        ),
        since,
        candidate: opts.candidate.clone(),
        list_limit: opts.list_limit,
        trace_limit: opts.trace_limit,
        versions: Vec::new(),
        done: done.clone(),
        found: Found::default(),
    };
    let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(READ_AHEAD);
    let (back, applied) = std::sync::mpsc::channel::<Chunk>();
    // Chunks sent and not yet taken by the worker.
    let queued = Arc::new(AtomicUsize::new(0));
    let taken = queued.clone();
    let worker = std::thread::Builder::new()
        .name("replay-worlds".into())
        .spawn(move || -> Result<Worlds, ReplayError> {
            for mut c in rx {
                taken.fetch_sub(1, Ordering::Relaxed);
                let t = std::time::Instant::now();
                worlds.chunk(&mut c)?;
                worlds.found.busy += t.elapsed();
                // Freed by the reader (see `Worlds::chunk`).
                let _ = back.send(c);
            }
            Ok(worlds)
        })
        .map_err(|e| ReplayError::Worker(e.to_string()))?;
    let page = match opts.page_events {
        0 if reader.is_postgres() => feed::PAGE_PG,
        0 => feed::PAGE,
        n => i64::from(n),
    };
    let mut feed = Feed::new(start, since, until, opts.candidate.is_none(), page);
    feed.reserve(usize::try_from(total.min(MAX_PRESIZE)).unwrap_or(0));
    // The reader's time waiting for the worker to take a chunk (the rest of the loop
    // is reading and decoding).
    let mut waited = std::time::Duration::ZERO;
    let reading = std::time::Instant::now();
    let mut read_error = None;
    loop {
        applied.try_iter().for_each(drop);
        match opts.worker_share {
            Some(n) => feed.set_share(n),
            None => balance(&mut feed, queued.load(Ordering::Relaxed)),
        }
        match feed.next(reader).await {
            // The worker stopped early only on an error, which its join gives.
            Ok(Some(chunk)) => {
                let w = std::time::Instant::now();
                queued.fetch_add(1, Ordering::Relaxed);
                if tx.send(chunk).is_err() {
                    break;
                }
                waited += w.elapsed();
            }
            Ok(None) => break,
            Err(e) => {
                read_error = Some(e);
                break;
            }
        }
        let d = done.load(Ordering::Relaxed);
        progress(d, total.max(d));
        // SQLite's pages are read without waiting on anything: give the runtime a turn
        // between pages, so a caller's timeout (the console's 10 minutes) can end the
        // replay (dropping it ends the worker after the pages it holds).
        tokio::task::yield_now().await;
    }
    drop(tx);
    let read_time = reading.elapsed().saturating_sub(waited);
    let worlds = worker
        .join()
        .map_err(|_| ReplayError::Worker("it panicked".into()))??;
    if let Some(e) = read_error {
        return Err(e);
    }
    let d = done.load(Ordering::Relaxed);
    progress(d, d);
    let Worlds {
        world,
        found:
            Found {
                tally,
                mut changed_leads,
                changed_not_listed,
                lead_changes,
                effect_mismatches,
                decide_time,
                busy,
                last,
            },
        ..
    } = worlds;
    for c in changed_leads.iter_mut().take(opts.trace_limit) {
        c.before_trace = stored_trace(reader, &c.lead_id, c.at).await;
    }
    let totals = tally.totals();
    let report_cfg = match (&opts.candidate, &last) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(c)) => Some(c.clone()),
        (None, None) => None,
    };
    let (reps, fairness) = match &report_cfg {
        Some(cfg) => report::rep_rows(cfg, &totals, world.live_state(), world.candidate_state()),
        None => (Vec::new(), Vec::new()),
    };
    let mut report = Report {
        mode: if opts.candidate.is_some() {
            "candidate".into()
        } else {
            "fidelity".into()
        },
        candidate_version: opts.candidate.as_ref().map(|c| c.version.clone()),
        since: opts.since.map(|t| t.to_string()),
        until: opts.until.map(|t| t.to_string()),
        history_start: first.map(|c| ts(c.at)),
        routed: 0,
        changed: 0,
        effect_mismatches,
        reps,
        teams: Default::default(),
        queues: Default::default(),
        paths: Default::default(),
        catch_all: Default::default(),
        tier_shifts: Vec::new(),
        segment_shifts: Vec::new(),
        fairness,
        changed_leads,
        changed_not_listed,
        lead_changes,
        notes,
        timing: Default::default(),
    };
    report::fill(&mut report, &tally, totals);
    report.timing = report::Timing::of(
        tally.routed,
        started.elapsed(),
        decide_time,
        read_time,
        busy,
    );
    Ok(report)
}
