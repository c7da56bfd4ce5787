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
//! The hot path allocates little: ids, names, labels and fixed phrases in the trace are
//! [`Text`]s shared with the config (see [`crate::config::TraceText`]), skip reasons
//! keep their parts and are formatted only when shown, and scratch lists live on the
//! stack.

use crate::config::{
    CompiledConfig, Intent, Layer, Method, QueueRole, RepIdx, STRIDE_SCALE, Target, TeamIdx,
    Tiebreaker, Tier,
};
use crate::domains::parse_email_parts;
use crate::lead::{Enrichment, FieldIssue, Lead, parse_employees};
use crate::matrix::ones;
use crate::normalize::{company_key, postal};
use crate::state::{Effect, PriorStatus, StateSnapshot, turn_pass};
use crate::text::Text;
use crate::trace::*;
use crate::zone::LocalNow;
use jiff::Timestamp;
use smallvec::SmallVec;

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
    /// takes this lead because the owner is away, outside hours or at a limit (ASG-5).
    keep_owner: Option<RepIdx>,
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
            local,
        }
    }

    /// Normalise the lead into the facts (separate from [`Ctx::new`]: the context is then
    /// built where the caller keeps it, not moved there).
    #[inline(always)]
    fn normalize(&mut self) {
        self.segment = normalize(self.cfg, &self.input, &mut self.facts);
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
    fn route(&mut self) -> (RoutePath, Outcome, Option<Text>, String) {
        let cfg = self.cfg;
        // VAL-2: junk never reaches a rep.
        let junk = junk_reason(cfg, self.input.lead, self.input.enrichment, &self.facts);
        self.steps.push(Step::Junk {
            reason: junk.clone(),
        });
        if let Some(r) = junk {
            return (
                RoutePath::Junk,
                Outcome::Queue(cfg.queue(QueueRole::Junk)),
                None,
                start_reason(&["junk: ", &r]),
            );
        }

        // VAL-3 / VAL-4: a known person goes back to their owner.
        let state = self.input.state;
        if let Some(prior) = self
            .facts
            .email
            .as_deref()
            .and_then(|e| state.people.person(e))
        {
            let email = self.facts.email.clone().unwrap_or_default();
            let owner = prior
                .owner
                .as_deref()
                .and_then(|o| cfg.rep_by_id.get(o).copied());
            let owner_name = prior.owner.clone();
            let usable = owner.filter(|r| cfg.rep(*r).active);
            let (path, outcome_text): (_, Text) = match (prior.status, prior.disqualified_at) {
                (PriorStatus::Open, _) => (
                    Some(RoutePath::KnownPerson),
                    "existing person: stays with the current owner".into(),
                ),
                (PriorStatus::Disqualified, at) => {
                    let days = at
                        .map(|t| (self.input.now.duration_since(t).as_hours() / 24).max(0))
                        .unwrap_or(i64::MAX);
                    if days < cfg.routing.recycle_after_days as i64 {
                        let note = prior
                            .note
                            .as_deref()
                            .map(|n| format!(" ({n})"))
                            .unwrap_or_default();
                        let text = format!(
                            "recycled: disqualified {days} day(s) ago{note}; back to the original rep"
                        );
                        self.notes.push(format!(
                            "Previous interaction: disqualified {days} day(s) ago{note}."
                        ));
                        (Some(RoutePath::Recycled), text.into())
                    } else {
                        (
                            None,
                            format!(
                                "disqualified {} day(s) ago, older than {} days: treated as new",
                                if days == i64::MAX {
                                    "?".into()
                                } else {
                                    days.to_string()
                                },
                                cfg.routing.recycle_after_days
                            )
                            .into(),
                        )
                    }
                }
            };
            match (path, usable) {
                (Some(path), Some(rep)) => {
                    self.steps.push(Step::KnownPerson {
                        email,
                        owner: owner_name,
                        outcome: outcome_text.clone(),
                    });
                    self.keep_owner = Some(rep);
                    let out = self.resolve(Target::Rep(rep), "owner");
                    return (path, out, None, start_reason(&[&outcome_text]));
                }
                (Some(_), None) if prior.owner.is_some() => {
                    self.flags.push(Flag::PriorOwnerInactive);
                    self.steps.push(Step::KnownPerson {
                        email,
                        owner: owner_name,
                        outcome: "owner inactive or unknown: routed as new and flagged".into(),
                    });
                }
                (Some(_), None) => self.steps.push(Step::KnownPerson {
                    email,
                    owner: None,
                    outcome: "known person without an owner: routed as new".into(),
                }),
                (None, _) => self.steps.push(Step::KnownPerson {
                    email,
                    owner: owner_name,
                    outcome: outcome_text,
                }),
            }
        }

        // ACC-1 / ACC-2 / ACC-3: account match.
        let account = self.match_account();
        if let Some((idx, by)) = account {
            let a = &cfg.accounts[idx as usize];
            self.account = Some(a.domain.clone());
            let kind = if a.named { "named account" } else { "account" };
            let path = if a.named {
                RoutePath::NamedAccount
            } else {
                RoutePath::AccountOwner
            };
            let label = cat(&[&a.name, " (", &a.domain, ")"]);
            match a.owner {
                Some(owner) => {
                    let active = cfg.rep(owner).active;
                    let outcome: Text = if active {
                        "account owner wins".into()
                    } else {
                        // ACC-4: keep the account with its team through the owner's
                        // fallback chain, and flag it for reassignment.
                        self.flags.push(Flag::AccountOwnerInactive);
                        self.notes.push(format!(
                            "Account {} ({}) is owned by inactive rep {}: reassign the account.",
                            a.name,
                            a.domain,
                            cfg.rep(owner).id
                        ));
                        "owner inactive: routed by the owner's fallback chain and flagged".into()
                    };
                    let headline = start_reason(&[kind, " ", &label]);
                    self.steps.push(Step::Account {
                        matched_by: Some(Text::from_static(by)),
                        account: Some(label),
                        owner: Some(cfg.text.rep_id[owner as usize].clone()),
                        named: a.named,
                        outcome,
                    });
                    let out = self.resolve(Target::Rep(owner), "account owner");
                    return (path, out, None, headline);
                }
                None => {
                    self.flags.push(Flag::AccountOwnerInactive);
                    let why = "account has no owner: routed by the matrix and flagged";
                    self.notes
                        .push(format!("Account {} ({}): {why}.", a.name, a.domain));
                    self.steps.push(Step::Account {
                        matched_by: Some(Text::from_static(by)),
                        account: Some(label),
                        owner: None,
                        named: a.named,
                        outcome: Text::from_static(why),
                    });
                }
            }
        } else {
            self.steps.push(Step::Account {
                matched_by: None,
                account: None,
                owner: None,
                named: false,
                outcome: match &self.facts.email_domain {
                    Some(d) => cat(&["no account for ", d]).into(),
                    None => "no usable email domain".into(),
                },
            });
        }

        if self.facts.personal_email && account.is_none() {
            let domain = self.facts.email_domain.clone().unwrap_or_default();
            let headline = start_reason(&[
                "personal email (",
                &domain,
                ") not mapped to a known account: needs review",
            ]);
            self.steps.push(Step::PersonalEmail {
                domain,
                outcome: "no account mapped from company or enrichment: review queue".into(),
            });
            return (
                RoutePath::PersonalEmailReview,
                Outcome::Queue(cfg.queue(QueueRole::Review)),
                None,
                headline,
            );
        }

        // ENR-5: neither size nor industry.
        if cfg.routing.route_unknown_firmographics
            && self.facts.segment.is_none()
            && self.facts.industry.is_none()
        {
            self.steps.push(Step::Qualification {
                outcome: "neither company size nor industry known: qualification queue".into(),
            });
            return (
                RoutePath::Qualification,
                Outcome::Queue(cfg.queue(QueueRole::Qualification)),
                None,
                start_reason(&["company size and industry both unknown: general qualification"]),
            );
        }

        // TIER-4: unqualified to nurture.
        let tier = self.facts.tier.unwrap_or(Tier::Standard);
        if tier == Tier::Standard && self.facts.score < cfg.scoring.nurture_below {
            let (mut a, mut b) = ([0u8; 11], [0u8; 11]);
            let text = cat(&[
                "tier standard with score ",
                int(self.facts.score, &mut a),
                " below ",
                int(cfg.scoring.nurture_below, &mut b),
                ": nurture",
            ]);
            let headline = start_reason(&["unqualified (", &text, ")"]);
            self.steps.push(Step::Nurture { outcome: text });
            return (
                RoutePath::Nurture,
                Outcome::Queue(cfg.queue(QueueRole::Nurture)),
                None,
                headline,
            );
        }

        // SEG-2 matrix.
        let values = crate::config::Dim::ALL.map(|d| self.facts.dim(d));
        let cands = cfg.rule_index.candidate_bits(&values);
        let mut it = ones(&cands);
        let count = cands.iter().map(|w| w.count_ones()).sum::<u32>();
        if let Some(w) = it.next() {
            let rule = &cfg.rules[w];
            let also: Vec<Text> = it
                .map(|i| (i, &cfg.rules[i]))
                .take_while(|(_, r)| {
                    r.priority == rule.priority
                        && r.layer == rule.layer
                        && r.specificity == rule.specificity
                })
                .filter(|(_, r)| r.target != rule.target)
                .map(|(i, _)| cfg.text.rule_id[i].clone())
                .collect();
            if !also.is_empty() {
                self.flags.push(Flag::AmbiguousRule);
            }
            let id = &cfg.text.rule_id[w];
            self.steps.push(Step::Matrix {
                matched: Some(RuleRef {
                    id: id.clone(),
                    layer: rule.layer,
                    priority: rule.priority,
                    origin: cfg.text.rule_origin[w].clone(),
                }),
                also_matched: also,
                candidates: count,
                rules: cfg.rules.len() as u32,
                considered: Vec::new(),
            });
            let path = match rule.layer {
                Layer::Territory => RoutePath::Territory,
                Layer::Segment => RoutePath::Segment,
            };
            let out = self.resolve(rule.target, "rule target");
            let headline = start_reason(&[
                path.label(),
                " ",
                id,
                " matched",
                &cfg.text.rule_conditions[w],
            ]);
            return (path, out, Some(id.clone()), headline);
        }
        self.steps.push(Step::Matrix {
            matched: None,
            also_matched: Vec::new(),
            candidates: 0,
            rules: cfg.rules.len() as u32,
            considered: Vec::new(),
        });
        if let Some(t) = cfg.routing.default_team {
            let out = self.resolve(Target::Team(t), "default team");
            return (
                RoutePath::DefaultTeam,
                out,
                None,
                start_reason(&["no matrix rule matched: default team ", &cfg.team(t).id]),
            );
        }
        (
            RoutePath::CatchAll,
            Outcome::Queue(cfg.queue(QueueRole::CatchAll)),
            None,
            start_reason(&["no matrix rule matched and no default team: catch-all"]),
        )
    }

    fn match_account(&self) -> Option<(u32, &'static str)> {
        let cfg = self.cfg;
        if !self.facts.personal_email
            && let Some(d) = &self.facts.email_domain
            && let Some(a) = cfg.account_by_domain.get(d.as_str())
        {
            return Some((*a, "email domain"));
        }
        if let Some(d) = self.input.enrichment.and_then(|e| e.domain.as_deref())
            && let Some(a) = crate::domains::with_registrable_domain(d, |r| {
                r.and_then(|r| cfg.account_by_domain.get(r).copied())
            })
        {
            return Some((a, "enriched domain"));
        }
        // Company-name matching only where the email cannot say (ACC-3): a corporate
        // domain that is not an account is not overridden by a typed company name.
        if self.facts.personal_email || self.facts.email_domain.is_none() {
            for name in [
                self.input.lead.company.as_deref(),
                self.input.enrichment.and_then(|e| e.company.as_deref()),
            ]
            .into_iter()
            .flatten()
            {
                if let Some(a) = cfg.account_by_name.get(&company_key(name)) {
                    return Some((*a, "company name"));
                }
            }
        }
        None
    }

    /// Resolve a target to an owner or a queue, following ASG-5 fallbacks.
    fn resolve(&mut self, target: Target, role: &'static str) -> Outcome {
        let cfg = self.cfg;
        let mut visited_teams: SmallVec<[TeamIdx; 8]> = SmallVec::new();
        let mut target = target;
        let mut role = role;
        loop {
            match target {
                Target::Queue(q) => return Outcome::Queue(q),
                Target::Rep(r) => {
                    let last = match self.rep_chain(r, role) {
                        Ok(out) => return out,
                        Err(last) => last,
                    };
                    let (from, because): (Text, Text) = match last {
                        Some((rep, skip)) => (cfg.text.rep_id[rep as usize].clone(), skip.text()),
                        None => (cfg.text.rep_id[r as usize].clone(), "unavailable".into()),
                    };
                    // Fell through the chain: the rep's team, else the catch-all.
                    match cfg.rep(r).team {
                        Some(t) if !visited_teams.contains(&t) => {
                            self.fallback(from, cfg.text.team_label[t as usize].clone(), because);
                            target = Target::Team(t);
                            role = "team";
                        }
                        _ if cfg
                            .routing
                            .default_team
                            .is_some_and(|t| !visited_teams.contains(&t)) =>
                        {
                            // ASG-1: the default team comes before the catch-all.
                            let t = cfg.routing.default_team.unwrap_or_default();
                            self.fallback(from, cfg.text.team_label[t as usize].clone(), because);
                            target = Target::Team(t);
                            role = "default team";
                        }
                        _ => {
                            self.flags.push(Flag::NobodyAvailable);
                            let q = cfg.queue(QueueRole::CatchAll);
                            self.fallback(
                                from,
                                cfg.text.queue_label[q as usize].clone(),
                                cat(&[&because, "; nobody else on the path"]).into(),
                            );
                            return Outcome::Queue(q);
                        }
                    }
                }
                Target::Team(t) => {
                    visited_teams.push(t);
                    if let Some(rep) = self.pick_from_team(t) {
                        return Outcome::Rep(rep, Some(t));
                    }
                    let over = cfg.team(t).overflow;
                    let over = match over {
                        Target::Team(o) if visited_teams.contains(&o) => {
                            Target::Queue(cfg.queue(QueueRole::CatchAll))
                        }
                        other => other,
                    };
                    if matches!(over, Target::Queue(_)) {
                        self.flags.push(Flag::NobodyAvailable);
                    }
                    self.fallback(
                        cfg.text.team_label[t as usize].clone(),
                        cfg.text.target_label(over),
                        "no member available".into(),
                    );
                    target = over;
                }
            }
        }
    }

    fn fallback(&mut self, from: Text, to: Text, because: Text) {
        if !self.flags.contains(&Flag::Fallback) {
            self.flags.push(Flag::Fallback);
        }
        self.steps.push(Step::Fallback { from, to, because });
    }

    /// Primary → backup → team lead. None when all three are unavailable.
    fn rep_chain(
        &mut self,
        primary: RepIdx,
        role: &'static str,
    ) -> Result<Outcome, Option<(RepIdx, Skip)>> {
        let cfg = self.cfg;
        let mut tried: SmallVec<[RepIdx; 3]> = SmallVec::new();
        let backup = cfg.rep(primary).backup;
        let lead = cfg.rep(primary).team.and_then(|t| cfg.team(t).lead);
        let chain = [
            (Some(primary), role),
            (backup, "backup"),
            (lead, "team lead"),
        ];
        let mut last: Option<(RepIdx, Skip)> = None;
        for (i, (rep, role)) in chain.into_iter().enumerate() {
            let Some(rep) = rep else { continue };
            if tried.contains(&rep) {
                continue;
            }
            tried.push(rep);
            if let Some((prev, why)) = last.take() {
                // Only the backup and the team lead are ever fallen back to.
                let to = match i {
                    1 => cfg.text.rep_as_backup[rep as usize].clone(),
                    _ => cfg.text.rep_as_team_lead[rep as usize].clone(),
                };
                self.fallback(cfg.text.rep_id[prev as usize].clone(), to, why.text());
            }
            let respect = cfg
                .rep(rep)
                .team
                .map(|t| cfg.team(t).respect_working_hours)
                .unwrap_or(true);
            match self.check_rep(rep, respect, None) {
                Ok(()) => {
                    self.steps.push(Step::Rep {
                        rep: cfg.text.rep_id[rep as usize].clone(),
                        role: Text::from_static(role),
                        verdict: Verdict::Chosen,
                    });
                    self.assign_effects(rep);
                    return Ok(Outcome::Rep(rep, None));
                }
                Err(miss) => {
                    let skip = self.skip(rep, miss);
                    self.steps.push(Step::Rep {
                        rep: cfg.text.rep_id[rep as usize].clone(),
                        role: Text::from_static(role),
                        verdict: Verdict::Skipped { skip: skip.clone() },
                    });
                    last = Some((rep, skip));
                }
            }
        }
        Err(last)
    }

    /// The local time in `zone` (cached: a team walk asks once per member).
    #[inline]
    fn local_time(&mut self, zone: u16) -> LocalNow {
        match self.local[zone as usize] {
            Some(v) => v,
            None => self.local_time_first(zone),
        }
    }

    #[cold]
    #[inline(never)]
    fn local_time_first(&mut self, zone: u16) -> LocalNow {
        let v = self.cfg.zones[zone as usize].local(self.input.now);
        self.local[zone as usize] = Some(v);
        v
    }

    /// ASG-4 / ASG-5 availability of one rep at `now`. `load` is the rep's load when the
    /// caller already has it. Inlined: a team walk calls it once per member.
    #[inline(always)]
    fn check_rep(
        &mut self,
        r: RepIdx,
        respect_hours: bool,
        load: Option<f64>,
    ) -> Result<(), Miss<'a>> {
        let cfg = self.cfg;
        let state = self.input.state;
        let rc = &cfg.text.rep_check[r as usize];
        let id = || rc.id.as_str();
        let now = self.input.now;
        if !rc.active {
            return Err(Miss::Inactive);
        }
        if !self.input.exclude.is_empty() && self.input.exclude.contains(&id()) {
            return Err(Miss::Excluded);
        }
        let overrides = &state.availability;
        let over = match overrides.is_empty() {
            true => None,
            false => match overrides.by_index(&cfg.text.reps) {
                Some(by_rep) => by_rep[r as usize].as_deref(),
                None => overrides.get(id()),
            },
        };
        if let Some(o) = over
            && o.out
            && o.out_until.is_none_or(|u| now < u)
        {
            return Err(Miss::Away {
                until: o.out_until,
                note: o.note.as_deref(),
            });
        }
        if rc.has_out_of_office
            && let Some(w) = cfg
                .rep(r)
                .out_of_office
                .iter()
                .find(|w| w.from <= now && now < w.to)
        {
            return Err(Miss::Away {
                until: Some(w.to),
                note: w.note.as_deref(),
            });
        }
        let (wd, minute, date) = self.local_time(rc.zone);
        let hours = rc.hours as usize;
        if respect_hours && !cfg.text.hours[hours].contains(cfg.rep(r), wd as usize, minute) {
            return Err(Miss::Hours {
                weekday: wd,
                minute,
            });
        }
        if let Some(cap) = rc.daily_cap {
            let daily = &state.daily;
            let count = match daily.by_index(&cfg.text.reps) {
                Some(by_rep) => match by_rep[r as usize] {
                    Some(d) if d.date == date => d.count,
                    _ => 0,
                },
                None => state.daily_count(id(), date),
            };
            if count >= cap {
                return Err(Miss::Daily(count));
            }
        }
        if let Some(capacity) = rc.capacity {
            let load = load.unwrap_or_else(|| self.load(r));
            if load + cfg.stage_weights.early > capacity + 1e-9 {
                return Err(Miss::Capacity(load));
            }
        }
        Ok(())
    }

    /// The compact record of one member's check in a team walk; an out-of-office skip is
    /// kept whole in `away`.
    fn walked(&self, r: RepIdx, res: Result<(), Miss<'a>>, away: &mut Vec<Skip>) -> Walked {
        let mut w = Walked::new(r, WalkVerdict::Chosen);
        let Err(miss) = res else { return w };
        w.verdict = match miss {
            Miss::Inactive => WalkVerdict::Inactive,
            Miss::Excluded => WalkVerdict::Excluded,
            Miss::Away { .. } => {
                w.count = away.len() as u32;
                away.push(self.skip(r, miss));
                WalkVerdict::OutOfOffice
            }
            Miss::Hours { weekday, minute } => {
                (w.weekday, w.minute) = (weekday, minute);
                WalkVerdict::OutsideHours
            }
            Miss::Daily(count) => {
                w.count = count;
                WalkVerdict::DailyCap
            }
            Miss::Capacity(load) => {
                w.load = load;
                WalkVerdict::AtCapacity
            }
        };
        w
    }

    /// The trace's skip reason for what the check found.
    fn skip(&self, r: RepIdx, miss: Miss<'a>) -> Skip {
        match miss {
            Miss::Away { until, note } => Skip::OutOfOffice {
                until,
                note: note.map(Text::copy),
            },
            _ => {
                let w = self.walked(r, Err(miss), &mut Vec::new());
                self.cfg.text.walk.skip(&w, &[]).unwrap_or(Skip::Inactive)
            }
        }
    }

    fn load(&self, r: RepIdx) -> f64 {
        let loads = &self.input.state.loads;
        let load = match loads.by_index(&self.cfg.text.reps) {
            Some(by_rep) => by_rep[r as usize].as_ref(),
            None => loads.get(self.cfg.text.rep_id[r as usize].as_str()),
        };
        load.map(|l| l.weighted(&self.cfg.stage_weights))
            .unwrap_or(0.0)
    }

    fn assign_effects(&mut self, r: RepIdx) {
        let rep = self.cfg.rep(r);
        let id = &self.cfg.text.rep_id[r as usize];
        let (_, _, date) = self.local_time(rep.zone);
        self.effects.push(Effect::AddEarlyLoad { rep: id.clone() });
        self.effects.push(Effect::CountDaily {
            rep: id.clone(),
            date,
        });
        let Some(email) = &self.facts.email else {
            return;
        };
        // Someone covering for a known person's owner who is only unavailable (still
        // active) takes this lead; the person stays with their owner.
        let owner = match self.keep_owner {
            Some(o) if o != r => {
                let name = &self.cfg.rep(o).name;
                self.notes.push(format!(
                    "Covering for {name}, who is unavailable now; {name} stays the owner of {email}."
                ));
                o
            }
            _ => r,
        };
        self.effects.push(Effect::SetOwner {
            email: email.clone(),
            rep: self.cfg.text.rep_id[owner as usize].clone(),
        });
    }

    /// ASG-2 / ASG-4: pick a member of a team by its method.
    fn pick_from_team(&mut self, t: TeamIdx) -> Option<RepIdx> {
        let cfg = self.cfg;
        let team = cfg.team(t);
        let rotations = &self.input.state.rotations;
        let by_team = rotations.by_index(&cfg.text.teams);
        let (rotation, vt) = match by_team {
            Some(by_team) => (None, by_team[t as usize].as_ref().map(|r| r.virtual_time)),
            None => {
                let rotation = rotations.get(&team.id);
                (rotation, rotation.map(|r| r.virtual_time))
            }
        };
        let vt = vt.unwrap_or(0);
        let stride = |r: RepIdx| match team.method {
            Method::RoundRobin => STRIDE_SCALE / 1000,
            _ => cfg.rep(r).stride,
        };
        // Effective pass: a rep new to the rotation, or back from time away, starts at the
        // team's clock — no reset for others, no catch-up burst for them.
        let effective = |pass: u64| turn_pass(Some(pass), vt);
        let round_robin = matches!(team.method, Method::RoundRobin | Method::WeightedRoundRobin);
        // (pass, position, rep) per member, on the stack for teams of up to 64.
        let n = team.members.len();
        let mut inline = [Turn(0); 64];
        let mut heap = Vec::new();
        let order: &mut [Turn] = if n <= inline.len() {
            &mut inline[..n]
        } else {
            heap.resize(n, Turn(0));
            &mut heap
        };
        let indexed = by_team.map(|b| b[t as usize].as_ref());
        // `ready`: the turns hold every member's pass, in turn order for a round-robin
        // walk — read from the rotations' index, which keeps each team's order, or all at
        // the clock when the team has no rotation yet. Otherwise the passes are read below
        // and a round-robin walk sorts the team. Least-loaded walks in member order.
        let ready = match indexed {
            Some(Some(rot)) if round_robin && rot.turns.len() == n => {
                for (slot, &(pass, pos)) in order.iter_mut().zip(&rot.turns) {
                    *slot = Turn::new(pass, pos as usize, team.members[pos as usize]);
                }
                true
            }
            _ => {
                for (slot, (pos, &r)) in order.iter_mut().zip(team.members.iter().enumerate()) {
                    *slot = Turn::new(vt, pos, r);
                }
                matches!(indexed, Some(None))
            }
        };
        // The members' passes when not ready: from the rotations' index by team
        // and member position, else read from the rotation (keyed by rep id) in one
        // ordered pass over both when that is cheaper than a lookup per member.
        match indexed {
            _ if ready => {}
            Some(Some(rot)) => {
                for (slot, p) in order.iter_mut().zip(&rot.passes) {
                    if let Some(p) = p {
                        slot.set_pass(effective(*p));
                    }
                }
            }
            Some(None) => {}
            None => {
                if let Some(rot) = rotation.filter(|r| !r.passes.is_empty()) {
                    let slots = &mut *order;
                    if rot.passes.len() <= 4 * slots.len() {
                        let mut entries = rot.passes.iter().peekable();
                        for &pos in &cfg.text.team_members_by_id[t as usize] {
                            let slot = &mut slots[pos];
                            let id = cfg.text.rep_id[slot.rep() as usize].as_str();
                            while entries.next_if(|(k, _)| k.as_str() < id).is_some() {}
                            if let Some((k, p)) = entries.peek()
                                && k.as_str() == id
                            {
                                slot.set_pass(effective(**p));
                            }
                        }
                    } else {
                        for slot in slots.iter_mut() {
                            if let Some(p) = rot
                                .passes
                                .get(cfg.text.rep_id[slot.rep() as usize].as_str())
                            {
                                slot.set_pass(effective(*p));
                            }
                        }
                    }
                }
            }
        }
        let mut candidates: Vec<Walked> = Vec::with_capacity(n);
        let mut away = Vec::new();
        let mut chosen: Option<(RepIdx, u64)> = None;
        match team.method {
            Method::RoundRobin | Method::WeightedRoundRobin => {
                if !ready {
                    sort_turns(order, &team.members);
                }
                for &turn in order.iter() {
                    let (pass, r) = (turn.pass(), turn.rep());
                    let mut w = if chosen.is_some() {
                        Walked::new(r, WalkVerdict::NotReached)
                    } else {
                        let res = self.check_rep(r, team.respect_working_hours, None);
                        if res.is_ok() {
                            chosen = Some((r, pass));
                        }
                        self.walked(r, res, &mut away)
                    };
                    (w.pass, w.has_pass) = (pass, true);
                    candidates.push(w);
                }
            }
            Method::LeastLoaded => {
                // Every member gets a verdict in member order; the chosen one (or ones, if
                // listed twice) is marked once the least loaded is known.
                let mut best: Option<(f64, u64, usize, RepIdx)> = None;
                for &turn in order.iter() {
                    let (pass, pos, r) = (turn.pass(), turn.pos(), turn.rep());
                    let load = self.load(r);
                    let res = self.check_rep(r, team.respect_working_hours, Some(load));
                    if res.is_ok() {
                        let key_pass = match team.tiebreaker {
                            Tiebreaker::Rotation => pass,
                            Tiebreaker::RepOrder => 0,
                        };
                        let better = match best {
                            None => true,
                            Some((bl, bp, bpos, _)) => (load, key_pass, pos) < (bl, bp, bpos),
                        };
                        if better {
                            best = Some((load, key_pass, pos, r));
                        }
                    }
                    let mut w = self.walked(r, res, &mut away);
                    if w.verdict == WalkVerdict::Chosen {
                        w.verdict = WalkVerdict::Passed;
                    }
                    (w.load, w.has_load) = (load, true);
                    (w.pass, w.has_pass) = (pass, true);
                    candidates.push(w);
                }
                if let Some((_, _, _, r)) = best {
                    let pass = order
                        .iter()
                        .find(|x| x.rep() == r)
                        .map(|x| x.pass())
                        .unwrap_or(vt);
                    chosen = Some((r, pass));
                    for (c, o) in candidates.iter_mut().zip(order.iter()) {
                        if o.rep() == r && c.verdict == WalkVerdict::Passed {
                            c.verdict = WalkVerdict::Chosen;
                        }
                    }
                }
            }
        }
        self.steps.push(Step::Team {
            team: cfg.text.team_id[t as usize].clone(),
            method: Text::from_static(team.method.name()),
            candidates: Candidates::walk(cfg.text.walk.clone(), candidates, away),
        });
        let (rep, pass) = chosen?;
        self.effects.push(Effect::AdvanceRotation {
            team: cfg.text.team_id[t as usize].clone(),
            rep: cfg.text.rep_id[rep as usize].clone(),
            pass: pass.saturating_add(stride(rep)),
            virtual_time: pass,
        });
        self.assign_effects(rep);
        Some(rep)
    }

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
        let contact_by = owner
            .as_ref()
            .map(|_| now.saturating_add(times.contact_within).unwrap_or(now));
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

/// A member's turn in a team walk: (pass, position in the team, rep) in one integer, so
/// sorting by it is sorting by the triple (one comparison instead of three).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Turn(u128);

impl Turn {
    fn new(pass: u64, pos: usize, rep: RepIdx) -> Turn {
        Turn((pass as u128) << 64 | (pos as u128 & 0xffff_ffff) << 32 | rep as u128)
    }
    fn pass(self) -> u64 {
        (self.0 >> 64) as u64
    }
    fn pos(self) -> usize {
        (self.0 >> 32) as u32 as usize
    }
    fn rep(self) -> RepIdx {
        self.0 as u32
    }
    fn set_pass(&mut self, pass: u64) {
        *self = Turn::new(pass, self.pos(), self.rep());
    }
}

/// Sort a team's turns by (pass, position): by a 64-bit key (pass relative to the
/// least, position) when the passes are close enough for one, which halves the work of
/// the comparisons and moves; else by the 128-bit turns. Positions are unique, so both
/// give the same order.
fn sort_turns(order: &mut [Turn], members: &[RepIdx]) {
    const POS_BITS: u32 = 16;
    if order.len() < 2 {
        return;
    }
    let (lo, hi) = order.iter().fold((u64::MAX, 0), |(lo, hi), t| {
        (lo.min(t.pass()), hi.max(t.pass()))
    });
    if order.len() > 32 || order.len() > 1 << POS_BITS || hi - lo >= 1 << (64 - POS_BITS) {
        sort_small(order);
        return;
    }
    let mut keys = [0u64; 32];
    let keys = &mut keys[..order.len()];
    for (k, t) in keys.iter_mut().zip(order.iter()) {
        *k = (t.pass() - lo) << POS_BITS | t.pos() as u64;
    }
    sort_small(keys);
    for (t, k) in order.iter_mut().zip(keys.iter()) {
        let pos = (k & ((1 << POS_BITS) - 1)) as usize;
        *t = Turn::new(lo + (k >> POS_BITS), pos, members[pos]);
    }
}

/// `n` in decimal (as `n.to_string()`), written at the end of `buf`.
fn int(n: i32, buf: &mut [u8; 11]) -> &str {
    let mut i = buf.len();
    let mut m = n.unsigned_abs();
    loop {
        i -= 1;
        buf[i] = b'0' + (m % 10) as u8;
        m /= 10;
        if m == 0 {
            break;
        }
    }
    if n < 0 {
        i -= 1;
        buf[i] = b'-';
    }
    std::str::from_utf8(&buf[i..]).unwrap_or_default()
}

/// Sort a short list in place (insertion sort: no set-up, and the rotation order is
/// often nearly sorted already); the result is `sort_unstable`'s for a total order.
fn sort_small<T: Ord + Copy>(v: &mut [T]) {
    if v.len() > 32 {
        v.sort_unstable();
        return;
    }
    for i in 1..v.len() {
        let x = v[i];
        let mut j = i;
        while j > 0 && v[j - 1] > x {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = x;
    }
}

/// `haystack.contains(needle)` for the short texts and keywords of scoring, without the
/// set-up of the general substring search: the first two bytes are checked before the
/// rest is compared, byte by byte (keywords are a few bytes; a `memcmp` call per position
/// whose first byte matched cost more than the comparison).
fn has_word(haystack: &str, bytes: &ByteSet, needle: &str, needle_bytes: &[u64; 4]) -> bool {
    let (h, n) = (haystack.as_bytes(), needle.as_bytes());
    // Most keywords have a byte the text lacks: no scan for those.
    if !bytes.has_all(needle_bytes) {
        return false;
    }
    match n {
        [] => true,
        _ if n.len() > h.len() => false,
        [a] => h.contains(a),
        [a, b, rest @ ..] => h
            .windows(n.len())
            .any(|w| w[0] == *a && w[1] == *b && w[2..].iter().zip(rest).all(|(x, y)| x == y)),
    }
}

/// The bytes that occur in a text, to rule out keywords before searching for them.
struct ByteSet([u64; 4]);

impl ByteSet {
    fn of(s: &str) -> ByteSet {
        ByteSet(crate::normalize::byte_set(s))
    }

    /// Whether every byte of `set` (a [`crate::normalize::byte_set`]) is in this one.
    fn has_all(&self, set: &[u64; 4]) -> bool {
        (0..4).all(|i| set[i] & !self.0[i] == 0)
    }
}

/// Whether `s` is its own lower case (ASCII without capitals).
fn is_lower_ascii(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii() && !b.is_ascii_uppercase())
}

/// Call `f` with `s` in lower case: `s` itself when it already is, lower-cased on the
/// stack when it is short ASCII, else in a new string.
fn with_lowercase<R>(s: &str, f: impl FnOnce(&str) -> R) -> R {
    const N: usize = 128;
    if is_lower_ascii(s) {
        return f(s);
    }
    if !s.is_ascii() || s.len() > N {
        return f(&s.to_lowercase());
    }
    let mut buf = [0u8; N];
    let buf = &mut buf[..s.len()];
    buf.copy_from_slice(s.as_bytes());
    buf.make_ascii_lowercase();
    // ASCII in, ASCII out.
    f(std::str::from_utf8(buf).unwrap_or_default())
}

/// Normalise the lead and its enrichment into the facts rules are matched on, and score
/// it. Also returns the index of the lead's segment.
fn normalize(cfg: &CompiledConfig, input: &RoutingInput, f: &mut Facts) -> Option<usize> {
    let lead = input.lead;
    let enr = input.enrichment;
    if let Some(raw) = &lead.email {
        match parse_email_parts(raw) {
            Ok(e) => {
                (f.personal_email, f.disposable_email) =
                    cfg.domains.classify(e.domain(), e.registrable());
                let (email, domain) = e.into_texts();
                f.email_domain = Some(domain);
                f.email = Some(email);
            }
            Err(why) => f.issues.push(FieldIssue::new(
                "email",
                format!("not a usable address: {why}"),
            )),
        }
    }
    f.company = lead
        .company
        .clone()
        .or_else(|| enr.and_then(|e| e.company.clone()));
    if let Some(e) = enr {
        f.enrichment_sources = e.sources.clone();
        f.enrichment_failures = e.failures.clone();
    }

    // Firmographics: the provider's figure beats what the visitor typed.
    let source = |field: &str| -> Text {
        match enr.and_then(|e| e.sources.get(field)) {
            Some(p) => cat(&["enrichment:", p]).into(),
            None => "enrichment".into(),
        }
    };
    if let Some(n) = enr.and_then(|e| e.employees) {
        f.employees = Some(n);
        f.employees_source = Some(source("employees"));
    } else if let Some(raw) = &lead.employees {
        match parse_employees(raw) {
            Some(n) => {
                f.employees = Some(n);
                f.employees_source = Some("form".into());
            }
            None => f.issues.push(FieldIssue::new(
                "employees",
                format!("`{raw}` is not a number of employees"),
            )),
        }
    }
    let segment = f.employees.and_then(|n| cfg.segment_index(n));
    f.segment = segment.map(|i| cfg.text.segment[i].clone());
    if let Some(i) = enr
        .and_then(|e| e.industry.as_deref())
        .and_then(|i| cfg.normalize_industry(i))
    {
        f.industry = Some(i);
        f.industry_source = Some(source("industry"));
    } else if let Some(i) = lead
        .industry
        .as_deref()
        .and_then(|i| cfg.normalize_industry(i))
    {
        f.industry = Some(i);
        f.industry_source = Some("form".into());
    }

    // Geography: the form's country, else the enriched HQ.
    let mut country = None;
    if let Some(c) = &lead.country {
        match cfg.geo.country(c) {
            Some(a2) => country = Some(a2),
            None => f.issues.push(FieldIssue::new(
                "country",
                format!("`{c}` is not a known country"),
            )),
        }
    }
    if country.is_none() {
        country = enr
            .and_then(|e| e.country.as_deref())
            .and_then(|c| cfg.geo.country(c));
    }
    f.country = country.map(Text::from_static);
    f.region = country.and_then(|c| cfg.geo.region_text(c));
    let state = lead
        .state
        .as_deref()
        .or_else(|| enr.and_then(|e| e.state.as_deref()));
    f.state = state.map(|s| match country.and_then(|c| cfg.geo.subdivision(c, s)) {
        Some(code) => Text::from_static(code),
        None => s.trim().to_uppercase().into(),
    });
    f.postal_code = lead
        .zip
        .as_deref()
        .map(postal)
        .filter(|p| !p.is_empty())
        .map(|mut p| {
            // US ZIP+4 ("10017-1234") matches rules written for the 5-digit ZIP.
            if country == Some("US") && p.len() == 9 && p.bytes().all(|b| b.is_ascii_digit()) {
                p.truncate(5);
            }
            p
        });
    f.product = lead.product.as_deref().and_then(|p| cfg.text.token(p));
    f.lead_source = lead.lead_source.as_deref().and_then(|s| cfg.text.token(s));
    f.action = lead.action.as_deref().and_then(|a| cfg.text.token(a));

    // TIER-1 intent, TIER-2 fit and score, TIER-3 tier.
    let intent = f
        .action
        .as_deref()
        .and_then(|a| cfg.intent.get(a).copied())
        .unwrap_or(Intent::Low);
    f.intent = Some(intent);
    let icp = &cfg.icp;
    let listed = |l: &[String], v: Option<&str>| v.is_some_and(|v| l.iter().any(|x| x == v));
    f.icp_fit = listed(&icp.segments, f.segment.as_deref())
        && icp
            .industries
            .as_ref()
            .is_none_or(|l| listed(l, f.industry.as_deref()))
        && icp
            .regions
            .as_ref()
            .is_none_or(|l| listed(l, f.region.as_deref()))
        && icp
            .countries
            .as_ref()
            .is_none_or(|l| listed(l, f.country.as_deref()));
    // Points by rule, with the labels the config prepared ("segment enterprise", …).
    let sc = &cfg.scoring;
    let tx = &cfg.text;
    let mut parts = Vec::with_capacity(6);
    for (value, rules) in [
        (f.segment.as_deref(), &tx.score_segment),
        (f.industry.as_deref(), &tx.score_industry),
        (f.action.as_deref(), &tx.score_action),
    ] {
        if let Some((points, label)) = value.and_then(|v| rules.get(v)) {
            parts.push(ScorePart {
                label: label.clone(),
                points: *points,
            });
        }
    }
    if let Some(title) = &lead.title
        && !sc.title.is_empty()
    {
        with_lowercase(title, |t| {
            let bytes = ByteSet::of(t);
            for (((words, p), labels), masks) in sc
                .title
                .iter()
                .zip(&tx.score_title)
                .zip(&tx.score_title_bytes)
            {
                if let Some(i) = words
                    .iter()
                    .zip(masks)
                    .position(|(w, m)| has_word(t, &bytes, w, m))
                {
                    parts.push(ScorePart {
                        label: labels[i].clone(),
                        points: *p,
                    });
                }
            }
        });
    }
    if !sc.page.is_empty() && !lead.page_history.is_empty() {
        // Per group, the first keyword found on any page: the least, over the pages, of
        // the first found on each (each page lower-cased on the stack in turn).
        let mut first: SmallVec<[usize; 8]> = smallvec::smallvec![usize::MAX; sc.page.len()];
        for page in &lead.page_history {
            with_lowercase(page, |pg| {
                let bytes = ByteSet::of(pg);
                for (((words, _), masks), best) in sc
                    .page
                    .iter()
                    .zip(&tx.score_page_bytes)
                    .zip(first.iter_mut())
                {
                    let before = &words[..(*best).min(words.len())];
                    if let Some(i) = before
                        .iter()
                        .zip(masks)
                        .position(|(w, m)| has_word(pg, &bytes, w, m))
                    {
                        *best = i;
                    }
                }
            });
        }
        for (((_, p), labels), &i) in sc.page.iter().zip(&tx.score_page).zip(&first) {
            if i != usize::MAX {
                parts.push(ScorePart {
                    label: labels[i].clone(),
                    points: *p,
                });
            }
        }
    }
    if f.icp_fit && sc.icp_fit != 0 {
        parts.push(ScorePart {
            label: "ICP fit".into(),
            points: sc.icp_fit,
        });
    }
    f.score = parts.iter().map(|p| p.points).sum();
    f.score_parts = parts;
    f.tier = Some(match (intent, f.icp_fit) {
        (Intent::High, true) => Tier::Hot,
        (Intent::Medium, true) | (Intent::High, false) => Tier::Warm,
        _ => Tier::Standard,
    });
    segment
}

const FAKE_WORDS: &[&str] = &[
    "test", "testing", "asdf", "asdfgh", "qwerty", "qwer", "foo", "bar", "foobar", "xxx", "aaa",
    "abc", "abcd", "none", "na", "n/a", "fake", "dummy", "sample", "noname", "nobody",
];
const FAKE_DOMAINS: &[&str] = &[
    "test.com",
    "test.de",
    "example.com",
    "example.org",
    "example.net",
    "asdf.com",
    "email.tst",
    "fake.com",
    "domain.com",
    "qwerty.com",
];

/// A placeholder value: a test word, or one character repeated (3+ times), in any case.
fn is_fake_value(v: &str) -> bool {
    let v = crate::normalize::trim(v);
    if v.is_ascii() {
        // FAKE_WORDS are ASCII lower case: comparing without case is comparing the
        // lower-cased value.
        let b = v.as_bytes();
        FAKE_WORDS.iter().any(|w| v.eq_ignore_ascii_case(w))
            || (b.len() >= 3 && b.iter().all(|c| c.eq_ignore_ascii_case(&b[0])))
    } else {
        let v = v.to_lowercase();
        FAKE_WORDS.contains(&v.as_str())
            || (v.chars().count() >= 3 && v.chars().all(|c| v.starts_with(c)))
    }
}

/// VAL-2: a reason the lead is junk, or None.
fn junk_reason(
    cfg: &CompiledConfig,
    lead: &Lead,
    enr: Option<&Enrichment>,
    f: &Facts,
) -> Option<String> {
    if let Some(v) = lead.fields.get(&cfg.routing.honeypot_field)
        && !crate::normalize::trim(v).is_empty()
    {
        return Some(format!(
            "honeypot field `{}` was filled",
            cfg.routing.honeypot_field
        ));
    }
    if let Some(r) = enr.and_then(|e| e.junk_reason.clone()) {
        return Some(r);
    }
    if f.disposable_email {
        return Some(cat(&[
            "disposable email domain ",
            f.email_domain.as_deref().unwrap_or("?"),
        ]));
    }
    if let Some(email) = &f.email {
        let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
        if FAKE_DOMAINS.contains(&domain) {
            return Some(cat(&["test email address ", email]));
        }
        if FAKE_WORDS.contains(&local) && FAKE_WORDS.iter().any(|w| domain.starts_with(w)) {
            return Some(cat(&["test email address ", email]));
        }
    }
    let fakes = [&lead.first_name, &lead.last_name, &lead.company]
        .iter()
        .filter(|s| s.as_deref().is_some_and(is_fake_value))
        .count();
    // One odd field could be real ("Bar" is a surname); two is a test submission.
    if fakes >= 2 {
        return Some("obvious test values in name/company".into());
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn int_is_to_string() {
        let mut buf = [0u8; 11];
        for n in [0, 7, -7, 10, -10, 20, 99, -100, 12345, i32::MAX, i32::MIN] {
            assert_eq!(int(n, &mut buf), n.to_string());
        }
    }

    #[test]
    fn sort_small_sorts() {
        let mut seed = 7u64;
        for n in [0, 1, 2, 5, 20, 32, 33, 70] {
            let mut v: Vec<(u64, usize)> = (0..n)
                .map(|i| {
                    seed = seed.wrapping_mul(6364136223846793005).wrapping_add(1);
                    ((seed >> 60) % 4, i)
                })
                .collect();
            let mut w = v.clone();
            sort_small(&mut v);
            w.sort_unstable();
            assert_eq!(v, w);
        }
    }

    #[test]
    fn sort_turns_is_a_sort_of_the_turns() {
        let members: Vec<RepIdx> = (0..40).map(|i| (i * 7 % 41) as RepIdx).collect();
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        for case in 0..1000 {
            let n = case % 41;
            // Equal passes, close ones, spreads near and past what the 64-bit key holds.
            let spread = [0u64, 3, 1 << 40, (1 << 48) - 1, 1 << 48, u64::MAX / 4][case % 6];
            let base = 1u64 << 20;
            let mut turns: Vec<Turn> = (0..n)
                .map(|pos| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    let pass = base + if spread == 0 { 0 } else { (seed >> 1) % spread };
                    Turn::new(pass, pos, members[pos])
                })
                .collect();
            let mut want = turns.clone();
            want.sort_unstable();
            sort_turns(&mut turns, &members);
            assert!(turns == want, "case {case}: n {n}, spread {spread}");
        }
    }

    #[test]
    fn has_word_is_contains() {
        let hay = [
            "",
            "a",
            "vp sales",
            "/pricing/enterprise",
            "head of it",
            "ünïcode vp",
            "aaab",
        ];
        let words = [
            "", "a", "vp", "vp ", "/pricing", "head of", "it", "ï", "aab", "b", "zz",
        ];
        for h in hay {
            for w in words {
                assert_eq!(
                    has_word(h, &ByteSet::of(h), w, &crate::normalize::byte_set(w)),
                    h.contains(w),
                    "{h:?} {w:?}"
                );
            }
        }
    }

    #[test]
    fn fake_values_as_before() {
        let old = |v: &str| {
            let v = v.trim().to_lowercase();
            FAKE_WORDS.contains(&v.as_str())
                || (v.chars().count() >= 3 && v.chars().all(|c| v.starts_with(c)))
        };
        for v in [
            "", "Test", " N/A ", "aaa", "AaA", "aa", "Bar", "Smith", "ZZZZ", "ÄÄÄ", "ääÄ", "Tést",
            "xXx", "abcd", "ABCDE",
        ] {
            assert_eq!(is_fake_value(v), old(v), "{v:?}");
        }
    }

    #[test]
    fn with_lowercase_is_to_lowercase() {
        let long = "X".repeat(200);
        for s in [
            "/pricing",
            "/Pricing",
            "ÜBER",
            "über",
            "",
            "VP of Data & Analytics",
            &long,
        ] {
            assert_eq!(with_lowercase(s, str::to_string), s.to_lowercase());
        }
        let s = "/docs";
        assert!(with_lowercase(s, |t| std::ptr::eq(t, s)));
    }
}
