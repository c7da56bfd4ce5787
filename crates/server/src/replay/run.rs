//! The replay loop: read the history of the window in commit order from one read-only
//! snapshot, rebuild the routing state at the window's start (the last checkpoint before
//! it, the people from the events before that, the events since), then re-decide each
//! routing event of the window while applying every other recorded change at its place.

use super::record::{LeadAfter, RouteInput, RouteResult};
use super::report::{self, ChangedLead, LeadChange, Report, Tally};
use super::world::{PersonRow, World};
use jiff::Timestamp;
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::state::{Effect, StateSnapshot};
use leadrouter_core::trace::{Decision, RoutingTrace};
use leadrouter_store::{HistoryReader, StoredEvent};
use std::collections::HashMap;
use std::sync::Arc;

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
}

impl ReplayOptions {
    pub const LIST_LIMIT: usize = 1_000;
    pub const TRACE_LIMIT: usize = 200;
}

/// Compiled config versions by hash, read from the history once each.
struct Versions {
    compiled: HashMap<String, Arc<CompiledConfig>>,
    last: Option<Arc<CompiledConfig>>,
}

impl Versions {
    async fn get(
        &mut self,
        reader: &mut HistoryReader,
        version: &str,
    ) -> Result<Arc<CompiledConfig>, ReplayError> {
        if let Some(c) = self.compiled.get(version) {
            return Ok(c.clone());
        }
        let row = reader
            .config_version(version)
            .await?
            .ok_or_else(|| ReplayError::MissingVersion(version.to_string()))?;
        let cfg =
            crate::config_history::compile_stored(&row).map_err(|e| ReplayError::Compile {
                version: version.to_string(),
                error: e.to_string(),
            })?;
        let cfg = Arc::new(cfg);
        self.compiled.insert(version.to_string(), cfg.clone());
        Ok(cfg)
    }
}

fn corrupt(ev: &StoredEvent, why: impl std::fmt::Display) -> ReplayError {
    ReplayError::Corrupt {
        version: ev.state_version,
        idx: ev.idx,
        why: why.to_string(),
    }
}

fn parse<T: serde::de::DeserializeOwned>(
    ev: &StoredEvent,
    what: &str,
    text: Option<&str>,
) -> Result<T, ReplayError> {
    let text = text.ok_or_else(|| corrupt(ev, format!("{what} missing")))?;
    serde_json::from_str(text).map_err(|e| corrupt(ev, format!("{what}: {e}")))
}

fn ts(us: i64) -> String {
    leadrouter_store::from_micros(us).to_string()
}

/// The person rows an event wrote.
fn people(ev: &StoredEvent) -> Result<Vec<PersonRow>, ReplayError> {
    match &ev.row.people {
        Some(text) => parse(ev, "people", Some(text)),
        None => Ok(Vec::new()),
    }
}

/// The normalised email a routing job reads its person by (as the sequencer does).
fn email_of(input: &RouteInput) -> Option<String> {
    input
        .lead
        .email
        .as_deref()
        .and_then(|e| leadrouter_core::domains::parse_email(e).ok())
        .map(|e| e.normalized)
}

/// The stored trace of a routing decision, rendered.
async fn stored_trace(reader: &mut HistoryReader, lead_id: &str, at: i64) -> Option<String> {
    let (d, t) = reader.stored_decision(lead_id, at).await.ok()??;
    let d: Decision = d.parse()?;
    let t: RoutingTrace = t.parse()?;
    Some(t.render(&d))
}

/// Run the replay. `progress(done, total)` is called as routing events are re-decided.
pub async fn run(
    reader: &mut HistoryReader,
    opts: &ReplayOptions,
    progress: &mut dyn FnMut(u64, u64),
) -> Result<Report, ReplayError> {
    let started = std::time::Instant::now();
    let mut decide_time = std::time::Duration::ZERO;
    let since = opts.since.map(|t| t.as_microsecond());
    let until = opts.until.map(|t| t.as_microsecond());
    let total = u64::try_from(reader.count_routes(since, until).await?).unwrap_or(0);
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
    let mut persisted = HashMap::new();
    let mut at = (0i64, 0i64);
    loop {
        let page = reader.events_through(at, start).await?;
        let Some(last) = page.last() else { break };
        at = (last.state_version, last.idx);
        for ev in &page {
            for (e, p) in people(ev)? {
                persisted.insert(e, p);
            }
        }
    }
    let mut world = World::new(state, persisted, opts.candidate.is_some());
    let mut versions = Versions {
        compiled: HashMap::new(),
        last: None,
    };
    let mut tally = Tally::default();
    let mut changed_leads = Vec::new();
    let mut changed_not_listed = 0u64;
    let mut lead_changes = Vec::new();
    let mut effect_mismatches = 0u64;
    let mut done = 0u64;
    let mut cursor = (start, i64::MAX);
    let mut batch_version = None;
    loop {
        let mut page = reader.events_after(cursor.0, cursor.1, until).await?;
        // Whole batches only: a full page's last batch may go on in the next page.
        if page.len() as i64 == leadrouter_store::history::EVENT_PAGE
            && let Some(v) = page.last().map(|e| e.state_version)
            && page.first().is_some_and(|e| e.state_version != v)
        {
            page.retain(|e| e.state_version != v);
        }
        let Some(last) = page.last() else { break };
        cursor = (last.state_version, last.idx);
        let mut inputs: HashMap<(i64, i64), RouteInput> = HashMap::new();
        for (n, ev) in page.iter().enumerate() {
            if batch_version != Some(ev.state_version) {
                // A routing transaction starts: it reads its routing jobs' people.
                batch_version = Some(ev.state_version);
                let mut emails = Vec::new();
                let batch = page[n..]
                    .iter()
                    .take_while(|e| e.state_version == ev.state_version);
                for e in batch {
                    if e.row.kind == "route" {
                        let input: RouteInput = parse(e, "input", e.row.input.as_deref())?;
                        emails.extend(email_of(&input));
                        inputs.insert((e.state_version, e.idx), input);
                    }
                }
                world.begin_batch(&emails);
            }
            let rows = people(ev)?;
            let in_window = since.is_none_or(|s| ev.row.at >= s);
            let effects: Vec<Effect> = parse(ev, "effects", Some(&ev.row.effects))?;
            if ev.row.kind != "route" {
                let after: Option<LeadAfter> = match &ev.row.result {
                    Some(r) => Some(parse(ev, "result", Some(r))?),
                    None => None,
                };
                let lead_id = ev.row.lead_id.as_deref();
                let cand_before = world.change(lead_id, after.as_ref(), &effects, &rows);
                let moved = effects
                    .iter()
                    .any(|e| matches!(e, Effect::RemoveLoad { .. }));
                let listed = ev.row.kind == "reassign" || (ev.row.kind == "sla" && moved);
                if in_window && listed && lead_changes.len() < opts.list_limit.max(1) {
                    lead_changes.push(LeadChange {
                        lead_id: lead_id.unwrap_or_default().to_string(),
                        at: ev.row.at,
                        kind: ev.row.kind.clone(),
                        actor: ev.row.actor.clone(),
                        owner_after: after.and_then(|a| a.owner),
                        candidate_owner_before: cand_before,
                    });
                }
                continue;
            }
            let lead_id = ev.row.lead_id.as_deref().unwrap_or_default();
            let input = match inputs.remove(&(ev.state_version, ev.idx)) {
                Some(i) => i,
                None => parse(ev, "input", ev.row.input.as_deref())?,
            };
            let recorded: RouteResult = parse(ev, "result", ev.row.result.as_deref())?;
            if !in_window {
                let email = email_of(&input);
                world.before_window_route(lead_id, email.as_deref(), &recorded, &effects, &rows);
                continue;
            }
            let cfg = match &opts.candidate {
                Some(c) => c.clone(),
                None => versions.get(reader, &ev.row.config_version).await?,
            };
            versions.last = Some(cfg.clone());
            let r = world.route(&cfg, lead_id, &input, &recorded, &effects, &rows);
            effect_mismatches += u64::from(r.effects_differ);
            decide_time += r.decide_time;
            tally.add(&recorded, &r.result);
            if !recorded.same_decision(&r.result) {
                if changed_leads.len() < opts.list_limit.max(1) {
                    let traced = changed_leads.len() < opts.trace_limit;
                    let before_trace = if traced {
                        stored_trace(reader, lead_id, ev.row.at).await
                    } else {
                        None
                    };
                    changed_leads.push(ChangedLead {
                        lead_id: lead_id.to_string(),
                        at: ev.row.at,
                        config_version: ev.row.config_version.clone(),
                        before: recorded,
                        after: r.result,
                        before_trace,
                        after_trace: r
                            .routed
                            .as_ref()
                            .filter(|_| traced)
                            .map(|x| x.trace.render(&x.decision)),
                    });
                } else {
                    changed_not_listed += 1;
                }
            }
            done += 1;
            progress(done, total.max(done));
        }
    }
    let report_cfg = match (&opts.candidate, &versions.last) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(c)) => Some(c.clone()),
        (None, None) => None,
    };
    let (reps, fairness) = match &report_cfg {
        Some(cfg) => report::rep_rows(cfg, &tally, world.live_state(), world.candidate_state()),
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
    report::fill(&mut report, &tally);
    report.timing = report::Timing::of(tally.routed, started.elapsed(), decide_time);
    Ok(report)
}
