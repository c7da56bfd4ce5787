//! The decision engine: `(lead, enrichment, state, config, now) -> Routed`.
//!
//! Order of the hierarchy (ASG-1), each step recorded in the trace:
//! junk (VAL-2) → known person / recycling (VAL-3, VAL-4) → account owner and named
//! accounts (ACC-1, ACC-2; inactive owner falls through, ACC-4) → personal email to review
//! (ACC-3) → neither size nor industry known to qualification (ENR-5) → unqualified to
//! nurture (TIER-4) → matrix rules, territory before segment at equal priority (SEG-2) →
//! default team → catch-all. A rep target that is unavailable falls to the backup, then
//! the team lead, then the team; a team with nobody available overflows (ASG-5).
//!
//! No I/O, no clock, no globals: everything comes in through [`RoutingInput`], everything
//! to remember goes out as [`Effect`]s.
//!
//! This module holds the entry points ([`decide`], [`assign_manually`]), the decision's
//! context and how it is finished into a [`Routed`]. The jobs of a decision live beside
//! it: `facts` (normalising the lead and scoring it, junk checks), `path` (the steps of
//! the hierarchy), `resolve` (a target to an owner: the rep chain and availability) and
//! `team` (walking a team by its method).
//!
//! The hot path allocates little: ids, names, labels and fixed phrases in the trace are
//! [`Text`]s shared with the config (see [`crate::config::TraceText`]), skip reasons
//! keep their parts and are formatted only when shown, and scratch lists live on the
//! stack.

mod facts;
mod hold;
mod path;
mod resolve;
mod suggest;
mod team;

pub use suggest::{Suggestion, rep_availability, suggest};

use crate::config::{CompiledConfig, Intent, RepIdx, TeamIdx, Tier};
use crate::lead::{Enrichment, FieldIssue, Lead};
use crate::state::{Effect, StateSnapshot};
use crate::text::Text;
use crate::trace::*;
use crate::zone::LocalNow;
use jiff::Timestamp;

/// Everything a decision depends on.
#[derive(Debug, Clone, Copy)]
pub struct RoutingInput<'a> {
    pub lead: &'a Lead,
    pub enrichment: Option<&'a Enrichment>,
    pub state: &'a StateSnapshot,
    pub now: Timestamp,
    /// Field problems found while reading the lead (reported in the trace).
    pub issues: &'a [FieldIssue],
    /// Reps that must not get this lead (e.g. SLA reassignment away from the current owner).
    pub exclude: &'a [&'a str],
    /// An SLA reassignment away from this rep (who is also in `exclude`): in a team the
    /// rep belongs to, the walk starts at the member after them and the rotation does not
    /// move, so first assignments stay a fair rotation and reassigned leads are spread in
    /// turn (docs/config.md "SLA reassignment and the rotation").
    pub reassign_from: Option<&'a str>,
    /// Accounts synced from the CRM (CRM-3), consulted with the config's accounts in the
    /// order their precedence says; `None`: the config's accounts only.
    pub crm_accounts: Option<&'a crate::crm_accounts::CrmAccounts>,
}

impl<'a> RoutingInput<'a> {
    pub fn new(lead: &'a Lead, state: &'a StateSnapshot, now: Timestamp) -> Self {
        RoutingInput {
            lead,
            enrichment: None,
            state,
            now,
            issues: &[],
            exclude: &[],
            reassign_from: None,
            crm_accounts: None,
        }
    }
}

/// A decision, its trace and the state changes to commit with it.
#[derive(Debug, Clone, PartialEq)]
pub struct Routed {
    pub decision: Decision,
    pub trace: RoutingTrace,
    pub effects: Vec<Effect>,
}

enum Outcome {
    Rep(RepIdx, Option<TeamIdx>),
    Queue(u32),
}

/// Why a rep is unavailable, as the availability check found it: the parts of a
/// [`Skip`] that are not the rep's own (see [`WalkTable`]).
#[derive(Clone, Copy)]
enum Miss<'a> {
    Inactive,
    Excluded,
    Away {
        until: Option<Timestamp>,
        note: Option<&'a str>,
    },
    Hours {
        weekday: u8,
        minute: u16,
    },
    Daily(u32),
    Capacity(f64),
}

struct Ctx<'a> {
    cfg: &'a CompiledConfig,
    input: RoutingInput<'a>,
    facts: Facts,
    /// Index of `facts.segment` in the config's segments.
    segment: Option<usize>,
    steps: Vec<Step>,
    flags: Vec<Flag>,
    notes: Vec<String>,
    effects: Vec<Effect>,
    account: Option<String>,
    /// VAL-3 / VAL-4: the known person's owner, who stays their owner when someone else
    /// takes this lead (the owner is excluded from it: an SLA reassignment).
    keep_owner: Option<RepIdx>,
    /// When the SLA clock starts, if not `now`: the start of the owner's next working
    /// window for a lead held for its owner.
    sla_from: Option<Timestamp>,
    /// Local time per zone, computed on first use: the caller's (on its stack), so the
    /// context stays small enough to move cheaply.
    local: &'a mut [Option<LocalNow>],
}

/// Zones whose local time a decision caches without a heap allocation.
const LOCAL_INLINE: usize = 64;

/// Room for the local time of every zone of `cfg`: in `inline`, else in `heap`.
fn local_times<'b>(
    cfg: &CompiledConfig,
    inline: &'b mut [Option<LocalNow>; LOCAL_INLINE],
    heap: &'b mut Vec<Option<LocalNow>>,
) -> &'b mut [Option<LocalNow>] {
    match cfg.zones.len() {
        n if n <= LOCAL_INLINE => &mut inline[..n],
        n => {
            heap.resize(n, None);
            heap
        }
    }
}

impl<'a> Ctx<'a> {
    /// The context, before the lead is normalised ([`Ctx::normalize`]). Inlined:
    /// `Facts` is a few hundred bytes, each move of it a `memcpy`.
    #[inline(always)]
    fn new(
        cfg: &'a CompiledConfig,
        input: RoutingInput<'a>,
        steps: usize,
        local: &'a mut [Option<LocalNow>],
    ) -> Self {
        Ctx {
            cfg,
            input,
            facts: Facts::with_issues(input.issues.to_vec()),
            segment: None,
            steps: Vec::with_capacity(steps),
            flags: Vec::new(),
            notes: Vec::new(),
            // Allocated on the first effect (queued leads have none).
            effects: Vec::new(),
            account: None,
            keep_owner: None,
            sla_from: None,
            local,
        }
    }

    /// Normalise the lead into the facts (separate from [`Ctx::new`]: the context is then
    /// built where the caller keeps it, not moved there).
    #[inline(always)]
    fn normalize(&mut self) {
        self.segment = facts::normalize(self.cfg, &self.input, &mut self.facts);
    }
}

/// ASG-6: assign a lead to a named rep by hand. The choice stands even if the rep is
/// unavailable (the trace says what it overrode); load, daily count and ownership are
/// updated as for any assignment. Errors only for an unknown rep id.
pub fn assign_manually(
    cfg: &CompiledConfig,
    input: RoutingInput<'_>,
    rep_id: &str,
    by: &str,
    note: Option<&str>,
) -> Result<Routed, String> {
    let rep = *cfg
        .rep_by_id
        .get(rep_id)
        .ok_or_else(|| format!("unknown rep `{rep_id}`"))?;
    let (mut inline, mut heap) = ([None; LOCAL_INLINE], Vec::new());
    let mut cx = Ctx::new(cfg, input, 2, local_times(cfg, &mut inline, &mut heap));
    cx.normalize();
    let overridden = cx
        .check_rep(rep, true, None)
        .err()
        .map(|miss| Box::new(cx.skip(rep, miss)));
    cx.steps.push(Step::Manual {
        by: by.to_string(),
        rep: rep_id.to_string(),
        note: note.map(str::to_string),
        overridden,
    });
    if let Some(n) = note {
        cx.notes.push(n.to_string());
    }
    cx.assign_effects(rep);
    let headline = format!("manually assigned by {by}");
    Ok(cx.finish(RoutePath::Manual, Outcome::Rep(rep, None), None, headline))
}

/// Route one lead.
pub fn decide(cfg: &CompiledConfig, input: RoutingInput<'_>) -> Routed {
    // Steps: 7 × 120 bytes stays under 1 KiB, where allocators switch to their slower
    // large-block path (most traces have 4–6 steps).
    let (mut inline, mut heap) = ([None; LOCAL_INLINE], Vec::new());
    let mut cx = Ctx::new(cfg, input, STEPS, local_times(cfg, &mut inline, &mut heap));
    cx.normalize();
    if !cx.facts.issues.is_empty() {
        cx.flags.push(Flag::MalformedInput);
    }
    if let Some(by) = &cx.facts.company_domain_by {
        cx.flags.push(Flag::CompanyDomainOverFreeMailList);
        cx.notes.push(format!(
            "{} is on the free-mail list, but the company's own data ({by}) names it: routed as a company domain",
            cx.facts.email_domain.as_deref().unwrap_or("?")
        ));
    }
    let (path, outcome, rule, headline) = cx.route();
    cx.finish(path, outcome, rule, headline)
}

/// Steps a decision has room for from the start.
const STEPS: usize = 7;
const _: () = assert!(STEPS * std::mem::size_of::<Step>() <= 1000);

/// The decision's reason starts as this headline, with room for what `finish` appends:
/// the owner or queue (up to ~48 bytes) and one fallback ("; from: because → to", up to
/// ~130 bytes; 0.8 a decision on average), so that is rarely a reallocation.
const REASON_ROOM: usize = 176;

fn start_reason(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum::<usize>() + REASON_ROOM);
    for p in parts {
        s.push_str(p);
    }
    s
}

/// Concatenate into a string of exactly the right capacity.
fn cat(parts: &[&str]) -> String {
    let mut s = String::with_capacity(parts.iter().map(|p| p.len()).sum());
    for p in parts {
        s.push_str(p);
    }
    s
}

impl<'a> Ctx<'a> {
    // Inlined: the decision and trace are then built where the caller returns them
    // (fewer moves of the large `Routed`).
    #[inline(always)]
    fn finish(
        mut self,
        path: RoutePath,
        outcome: Outcome,
        rule: Option<Text>,
        headline: String,
    ) -> Routed {
        let cfg = self.cfg;
        let tier = self.facts.tier.unwrap_or(Tier::Standard);
        let times = cfg.text.sla_for(tier, self.segment);
        let now = self.input.now;
        let (owner, queue, team) = match outcome {
            Outcome::Rep(r, t) => (
                Some(Owner {
                    id: cfg.text.rep_id[r as usize].clone(),
                    name: cfg.text.rep_name[r as usize].clone(),
                }),
                None,
                t.or(cfg.rep(r).team)
                    .map(|t| cfg.text.team_id[t as usize].clone()),
            ),
            Outcome::Queue(q) => (None, Some(cfg.text.queue_name[q as usize].clone()), None),
        };
        if queue.is_some() {
            // A queued lead is owned by nobody yet: no load, no daily count, no rotation.
            self.effects.clear();
        }
        // The reason: the headline, each fallback taken ("from: because → to"), and who
        // or where the lead went.
        let mut reason = headline;
        let fallbacks = self.steps.iter().filter_map(|s| match s {
            Step::Fallback { from, to, because } => Some(from.len() + to.len() + because.len()),
            _ => None,
        });
        // "; " from ": " because " → " to, and " → " name or " → queue " queue.
        let end = match (&owner, &queue) {
            (Some(o), _) => 5 + o.name.len(),
            (None, Some(q)) => 11 + q.len(),
            _ => 0,
        };
        reason.reserve(fallbacks.map(|n| n + 9).sum::<usize>() + end);
        for step in &self.steps {
            if let Step::Fallback { from, to, because } = step {
                for part in ["; ", from, ": ", because, " → ", to] {
                    reason.push_str(part);
                }
            }
        }
        match (&owner, &queue) {
            (Some(o), _) => {
                reason.push_str(" → ");
                reason.push_str(&o.name);
            }
            (None, Some(q)) => {
                reason.push_str(" → queue ");
                reason.push_str(q);
            }
            _ => {}
        }
        let clock = self.sla_from.unwrap_or(now);
        let contact_by = owner
            .as_ref()
            .map(|_| clock.saturating_add(times.contact_within).unwrap_or(clock));
        let decision = Decision {
            owner,
            queue,
            path,
            rule,
            team,
            account: self.account,
            segment: self.facts.segment.clone(),
            tier,
            score: self.facts.score,
            intent: self.facts.intent.unwrap_or(Intent::Low),
            icp_fit: self.facts.icp_fit,
            sla: Sla {
                route_by: now.saturating_add(times.route_within).unwrap_or(now),
                contact_by,
                route_within: times.route_within,
                contact_within: times.contact_within,
            },
            reason,
            flags: self.flags,
            notes: self.notes,
            config_version: cfg.text.version.clone(),
            decided_at: now,
        };
        Routed {
            decision,
            trace: RoutingTrace {
                config_version: cfg.text.version.clone(),
                at: now,
                facts: self.facts,
                steps: self.steps,
            },
            effects: self.effects,
        }
    }
}
