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

use crate::config::{
    CompiledConfig, Intent, Layer, Method, QueueRole, RepIdx, STRIDE_SCALE, Target, TeamIdx,
    Tiebreaker, Tier,
};
use crate::domains::parse_email;
use crate::lead::{Enrichment, FieldIssue, Lead, parse_employees};
use crate::matrix::ones;
use crate::normalize::{company_key, postal, token};
use crate::state::{Effect, PriorStatus, StateSnapshot};
use crate::trace::*;
use jiff::Timestamp;
use jiff::civil::Date;

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

struct Ctx<'a> {
    cfg: &'a CompiledConfig,
    input: RoutingInput<'a>,
    facts: Facts,
    steps: Vec<Step>,
    flags: Vec<Flag>,
    notes: Vec<String>,
    fallbacks: Vec<String>,
    effects: Vec<Effect>,
    account: Option<String>,
    /// Local (weekday Mon=0, minute of day, date, "HH:MM") per zone, computed on first use.
    local: Vec<Option<(usize, u16, Date)>>,
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
    let facts = normalize(cfg, &input);
    let mut cx = Ctx {
        cfg,
        input,
        facts,
        steps: Vec::with_capacity(2),
        flags: Vec::new(),
        notes: Vec::new(),
        fallbacks: Vec::new(),
        effects: Vec::with_capacity(3),
        account: None,
        local: vec![None; cfg.zones.len()],
    };
    let overridden = cx.check_rep(rep, true).err();
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
    let facts = normalize(cfg, &input);
    let mut cx = Ctx {
        cfg,
        input,
        facts,
        steps: Vec::with_capacity(8),
        flags: Vec::new(),
        notes: Vec::new(),
        fallbacks: Vec::new(),
        effects: Vec::with_capacity(4),
        account: None,
        local: vec![None; cfg.zones.len()],
    };
    if !cx.facts.issues.is_empty() {
        cx.flags.push(Flag::MalformedInput);
    }
    let (path, outcome, rule, headline) = cx.route();
    cx.finish(path, outcome, rule, headline)
}

impl<'a> Ctx<'a> {
    fn route(&mut self) -> (RoutePath, Outcome, Option<String>, String) {
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
                format!("junk: {r}"),
            );
        }

        // VAL-3 / VAL-4: a known person goes back to their owner.
        if let Some(email) = self.facts.email.clone()
            && let Some(prior) = self.input.state.people.get(&email)
        {
            let owner = prior
                .owner
                .as_deref()
                .and_then(|o| cfg.rep_by_id.get(o).copied());
            let owner_name = prior.owner.clone();
            let usable = owner.filter(|r| cfg.rep(*r).active);
            let (path, outcome_text) = match (prior.status, prior.disqualified_at) {
                (PriorStatus::Open, _) => (
                    Some(RoutePath::KnownPerson),
                    "existing person: stays with the current owner".to_string(),
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
                        (Some(RoutePath::Recycled), text)
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
                            ),
                        )
                    }
                }
            };
            match (path, usable) {
                (Some(path), Some(rep)) => {
                    self.steps.push(Step::KnownPerson {
                        email: email.clone(),
                        owner: owner_name,
                        outcome: outcome_text.clone(),
                    });
                    let out = self.resolve(Target::Rep(rep), "owner");
                    return (path, out, None, outcome_text);
                }
                (Some(_), None) if prior.owner.is_some() => {
                    self.flags.push(Flag::PriorOwnerInactive);
                    self.steps.push(Step::KnownPerson {
                        email: email.clone(),
                        owner: owner_name,
                        outcome: "owner inactive or unknown: routed as new and flagged".into(),
                    });
                }
                (Some(_), None) => self.steps.push(Step::KnownPerson {
                    email: email.clone(),
                    owner: None,
                    outcome: "known person without an owner: routed as new".into(),
                }),
                (None, _) => self.steps.push(Step::KnownPerson {
                    email: email.clone(),
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
            match a.owner {
                Some(owner) => {
                    let active = cfg.rep(owner).active;
                    let outcome =
                        if active {
                            "account owner wins".to_string()
                        } else {
                            // ACC-4: keep the account with its team through the owner's
                            // fallback chain, and flag it for reassignment.
                            self.flags.push(Flag::AccountOwnerInactive);
                            self.notes.push(format!(
                            "Account {} ({}) is owned by inactive rep {}: reassign the account.",
                            a.name, a.domain, cfg.rep(owner).id
                        ));
                            "owner inactive: routed by the owner's fallback chain and flagged"
                                .to_string()
                        };
                    self.steps.push(Step::Account {
                        matched_by: Some(by.to_string()),
                        account: Some(format!("{} ({})", a.name, a.domain)),
                        owner: Some(cfg.rep(owner).id.clone()),
                        named: a.named,
                        outcome,
                    });
                    let out = self.resolve(Target::Rep(owner), "account owner");
                    return (path, out, None, format!("{kind} {} ({})", a.name, a.domain));
                }
                None => {
                    self.flags.push(Flag::AccountOwnerInactive);
                    let why = "account has no owner: routed by the matrix and flagged".to_string();
                    self.notes
                        .push(format!("Account {} ({}): {why}.", a.name, a.domain));
                    self.steps.push(Step::Account {
                        matched_by: Some(by.to_string()),
                        account: Some(format!("{} ({})", a.name, a.domain)),
                        owner: None,
                        named: a.named,
                        outcome: why,
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
                    Some(d) => format!("no account for {d}"),
                    None => "no usable email domain".into(),
                },
            });
        }

        if self.facts.personal_email && account.is_none() {
            let domain = self.facts.email_domain.clone().unwrap_or_default();
            self.steps.push(Step::PersonalEmail {
                domain: domain.clone(),
                outcome: "no account mapped from company or enrichment: review queue".into(),
            });
            return (
                RoutePath::PersonalEmailReview,
                Outcome::Queue(cfg.queue(QueueRole::Review)),
                None,
                format!("personal email ({domain}) not mapped to a known account: needs review"),
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
                "company size and industry both unknown: general qualification".into(),
            );
        }

        // TIER-4: unqualified to nurture.
        let tier = self.facts.tier.unwrap_or(Tier::Standard);
        if tier == Tier::Standard && self.facts.score < cfg.scoring.nurture_below {
            let text = format!(
                "tier standard with score {} below {}: nurture",
                self.facts.score, cfg.scoring.nurture_below
            );
            self.steps.push(Step::Nurture {
                outcome: text.clone(),
            });
            return (
                RoutePath::Nurture,
                Outcome::Queue(cfg.queue(QueueRole::Nurture)),
                None,
                format!("unqualified ({text})"),
            );
        }

        // SEG-2 matrix.
        let values = crate::config::Dim::ALL.map(|d| self.facts.dim(d));
        let cands = cfg.rule_index.candidates(&values);
        let mut it = ones(&cands);
        let count = cands.iter().map(|w| w.count_ones()).sum::<u32>();
        if let Some(w) = it.next() {
            let rule = &cfg.rules[w];
            let also: Vec<String> = it
                .map(|i| &cfg.rules[i])
                .take_while(|r| {
                    r.priority == rule.priority
                        && r.layer == rule.layer
                        && r.specificity == rule.specificity
                })
                .filter(|r| r.target != rule.target)
                .map(|r| r.id.clone())
                .collect();
            if !also.is_empty() {
                self.flags.push(Flag::AmbiguousRule);
            }
            self.steps.push(Step::Matrix {
                matched: Some(RuleRef {
                    id: rule.id.clone(),
                    layer: rule.layer,
                    priority: rule.priority,
                    origin: rule.origin.to_string(),
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
            let headline = format!(
                "{} {} matched{}",
                path.label(),
                rule.id,
                describe_conditions(rule)
            );
            return (path, out, Some(rule.id.clone()), headline);
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
                format!("no matrix rule matched: default team {}", cfg.team(t).id),
            );
        }
        (
            RoutePath::CatchAll,
            Outcome::Queue(cfg.queue(QueueRole::CatchAll)),
            None,
            "no matrix rule matched and no default team: catch-all".into(),
        )
    }

    fn match_account(&self) -> Option<(u32, &'static str)> {
        let cfg = self.cfg;
        if !self.facts.personal_email
            && let Some(d) = &self.facts.email_domain
            && let Some(a) = cfg.account_by_domain.get(d)
        {
            return Some((*a, "email domain"));
        }
        if let Some(e) = self.input.enrichment
            && let Some(d) = e
                .domain
                .as_deref()
                .and_then(crate::domains::registrable_domain)
            && let Some(a) = cfg.account_by_domain.get(&d)
        {
            return Some((*a, "enriched domain"));
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
    fn resolve(&mut self, target: Target, role: &str) -> Outcome {
        let mut visited_teams: Vec<TeamIdx> = Vec::new();
        let mut target = target;
        let mut role = role.to_string();
        loop {
            match target {
                Target::Queue(q) => return Outcome::Queue(q),
                Target::Rep(r) => {
                    let last = match self.rep_chain(r, &role) {
                        Ok(out) => return out,
                        Err(last) => last,
                    };
                    let (from, because) = match last {
                        Some((rep, skip)) => (self.cfg.rep(rep).id.clone(), skip.to_string()),
                        None => (self.cfg.rep(r).id.clone(), "unavailable".to_string()),
                    };
                    // Fell through the chain: the rep's team, else the catch-all.
                    match self.cfg.rep(r).team {
                        Some(t) if !visited_teams.contains(&t) => {
                            self.fallback(
                                &from,
                                &format!("team:{}", self.cfg.team(t).id),
                                &because,
                            );
                            target = Target::Team(t);
                            role = "team".into();
                        }
                        _ if self
                            .cfg
                            .routing
                            .default_team
                            .is_some_and(|t| !visited_teams.contains(&t)) =>
                        {
                            // ASG-1: the default team comes before the catch-all.
                            let t = self.cfg.routing.default_team.unwrap_or_default();
                            self.fallback(
                                &from,
                                &format!("team:{}", self.cfg.team(t).id),
                                &because,
                            );
                            target = Target::Team(t);
                            role = "default team".into();
                        }
                        _ => {
                            self.flags.push(Flag::NobodyAvailable);
                            let q = self.cfg.queue(QueueRole::CatchAll);
                            self.fallback(
                                &from,
                                &format!("queue:{}", self.cfg.queue_name(q)),
                                &format!("{because}; nobody else on the path"),
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
                    let over = self.cfg.team(t).overflow;
                    let over = match over {
                        Target::Team(o) if visited_teams.contains(&o) => {
                            Target::Queue(self.cfg.queue(QueueRole::CatchAll))
                        }
                        other => other,
                    };
                    if matches!(over, Target::Queue(_)) {
                        self.flags.push(Flag::NobodyAvailable);
                    }
                    self.fallback(
                        &format!("team:{}", self.cfg.team(t).id),
                        &self.cfg.target_label(over),
                        "no member available",
                    );
                    target = over;
                }
            }
        }
    }

    fn fallback(&mut self, from: &str, to: &str, because: &str) {
        if !self.flags.contains(&Flag::Fallback) {
            self.flags.push(Flag::Fallback);
        }
        self.fallbacks.push(format!("{from}: {because} → {to}"));
        self.steps.push(Step::Fallback {
            from: from.to_string(),
            to: to.to_string(),
            because: because.to_string(),
        });
    }

    /// Primary → backup → team lead. None when all three are unavailable.
    fn rep_chain(
        &mut self,
        primary: RepIdx,
        role: &str,
    ) -> Result<Outcome, Option<(RepIdx, Skip)>> {
        let cfg = self.cfg;
        let mut tried: Vec<RepIdx> = Vec::with_capacity(3);
        let backup = cfg.rep(primary).backup;
        let lead = cfg.rep(primary).team.and_then(|t| cfg.team(t).lead);
        let chain = [
            (Some(primary), role),
            (backup, "backup"),
            (lead, "team lead"),
        ];
        let mut last: Option<(RepIdx, Skip)> = None;
        for (rep, role) in chain {
            let Some(rep) = rep else { continue };
            if tried.contains(&rep) {
                continue;
            }
            tried.push(rep);
            if let Some((prev, why)) = last.take() {
                self.fallback(
                    &cfg.rep(prev).id,
                    &format!("{role} {}", cfg.rep(rep).id),
                    &why.to_string(),
                );
            }
            let respect = cfg
                .rep(rep)
                .team
                .map(|t| cfg.team(t).respect_working_hours)
                .unwrap_or(true);
            match self.check_rep(rep, respect) {
                Ok(()) => {
                    self.steps.push(Step::Rep {
                        rep: cfg.rep(rep).id.clone(),
                        role: role.to_string(),
                        verdict: Verdict::Chosen,
                    });
                    self.assign_effects(rep);
                    return Ok(Outcome::Rep(rep, None));
                }
                Err(skip) => {
                    self.steps.push(Step::Rep {
                        rep: cfg.rep(rep).id.clone(),
                        role: role.to_string(),
                        verdict: Verdict::Skipped { skip: skip.clone() },
                    });
                    last = Some((rep, skip));
                }
            }
        }
        Err(last)
    }

    fn local_time(&mut self, zone: u16) -> (usize, u16, Date) {
        if let Some(v) = self.local[zone as usize] {
            return v;
        }
        let z = self
            .input
            .now
            .to_zoned(self.cfg.zones[zone as usize].clone());
        let v = (
            z.weekday().to_monday_zero_offset() as usize,
            z.hour() as u16 * 60 + z.minute() as u16,
            z.date(),
        );
        self.local[zone as usize] = Some(v);
        v
    }

    /// ASG-4 / ASG-5 availability of one rep at `now`.
    fn check_rep(&mut self, r: RepIdx, respect_hours: bool) -> Result<(), Skip> {
        let cfg = self.cfg;
        let rep = cfg.rep(r);
        let now = self.input.now;
        if !rep.active {
            return Err(Skip::Inactive);
        }
        if self.input.exclude.contains(&rep.id.as_str()) {
            return Err(Skip::Excluded);
        }
        if let Some(o) = self.input.state.availability.get(&rep.id)
            && o.out
            && o.out_until.is_none_or(|u| now < u)
        {
            return Err(Skip::OutOfOffice {
                until: o.out_until,
                note: o.note.clone(),
            });
        }
        if let Some(w) = rep
            .out_of_office
            .iter()
            .find(|w| w.from <= now && now < w.to)
        {
            return Err(Skip::OutOfOffice {
                until: Some(w.to),
                note: w.note.clone(),
            });
        }
        let (wd, minute, date) = self.local_time(rep.zone);
        if respect_hours
            && let Some(h) = &rep.working_hours
            && !h.contains(wd, minute)
        {
            return Err(Skip::OutsideHours {
                local_time: format!(
                    "{} {:02}:{:02} {}",
                    ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"][wd],
                    minute / 60,
                    minute % 60,
                    rep.tz_name
                ),
                hours: h.text.clone(),
            });
        }
        if let Some(cap) = rep.daily_cap {
            let count = self.input.state.daily_count(&rep.id, date);
            if count >= cap {
                return Err(Skip::DailyCap { count, cap });
            }
        }
        if let Some(capacity) = rep.capacity {
            let load = self.load(r);
            if load + cfg.stage_weights.early > capacity + 1e-9 {
                return Err(Skip::AtCapacity { load, capacity });
            }
        }
        Ok(())
    }

    fn load(&self, r: RepIdx) -> f64 {
        self.input
            .state
            .loads
            .get(&self.cfg.rep(r).id)
            .map(|l| l.weighted(&self.cfg.stage_weights))
            .unwrap_or(0.0)
    }

    fn assign_effects(&mut self, r: RepIdx) {
        let rep = self.cfg.rep(r);
        let (_, _, date) = self.local_time(rep.zone);
        self.effects.push(Effect::AddEarlyLoad {
            rep: rep.id.clone(),
        });
        self.effects.push(Effect::CountDaily {
            rep: rep.id.clone(),
            date,
        });
        if let Some(email) = &self.facts.email {
            self.effects.push(Effect::SetOwner {
                email: email.clone(),
                rep: rep.id.clone(),
            });
        }
    }

    /// ASG-2 / ASG-4: pick a member of a team by its method.
    fn pick_from_team(&mut self, t: TeamIdx) -> Option<RepIdx> {
        let cfg = self.cfg;
        let team = cfg.team(t);
        let rotation = self.input.state.rotations.get(&team.id);
        let vt = rotation.map(|r| r.virtual_time).unwrap_or(0);
        let stride = |r: RepIdx| match team.method {
            Method::RoundRobin => STRIDE_SCALE / 1000,
            _ => cfg.rep(r).stride,
        };
        // Effective pass: a rep new to the rotation, or back from time away, starts at the
        // team's clock — no reset for others, no catch-up burst for them.
        let mut order: Vec<(u64, usize, RepIdx)> = team
            .members
            .iter()
            .enumerate()
            .map(|(pos, &r)| {
                let p = match rotation.and_then(|rot| rot.passes.get(&cfg.rep(r).id)) {
                    None => vt,
                    Some(&p) if p >= vt => p,
                    // Skipped while away: just after the clock, so whoever is due at the
                    // clock goes first and the returning rep's next pass does not tie
                    // with (and, by file order, win against) the rep who just had a turn.
                    Some(_) => vt.saturating_add(1),
                };
                (p, pos, r)
            })
            .collect();
        let mut candidates = Vec::with_capacity(order.len());
        let mut chosen: Option<(RepIdx, u64)> = None;
        match team.method {
            Method::RoundRobin | Method::WeightedRoundRobin => {
                order.sort_unstable();
                for &(pass, _, r) in &order {
                    if chosen.is_some() {
                        candidates.push(Candidate {
                            rep: cfg.rep(r).id.clone(),
                            verdict: Verdict::NotReached,
                            load: None,
                            pass: Some(pass),
                        });
                        continue;
                    }
                    let verdict = match self.check_rep(r, team.respect_working_hours) {
                        Ok(()) => {
                            chosen = Some((r, pass));
                            Verdict::Chosen
                        }
                        Err(skip) => Verdict::Skipped { skip },
                    };
                    candidates.push(Candidate {
                        rep: cfg.rep(r).id.clone(),
                        verdict,
                        load: None,
                        pass: Some(pass),
                    });
                }
            }
            Method::LeastLoaded => {
                let mut best: Option<(f64, u64, usize, RepIdx)> = None;
                let mut rows = Vec::with_capacity(order.len());
                for &(pass, pos, r) in &order {
                    let load = self.load(r);
                    let res = self.check_rep(r, team.respect_working_hours);
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
                    rows.push((r, pass, load, res));
                }
                if let Some((_, _, _, r)) = best {
                    let pass = rows.iter().find(|x| x.0 == r).map(|x| x.1).unwrap_or(vt);
                    chosen = Some((r, pass));
                }
                for (r, pass, load, res) in rows {
                    let verdict = match res {
                        Err(skip) => Verdict::Skipped { skip },
                        Ok(()) if chosen.is_some_and(|c| c.0 == r) => Verdict::Chosen,
                        Ok(()) => Verdict::Passed,
                    };
                    candidates.push(Candidate {
                        rep: cfg.rep(r).id.clone(),
                        verdict,
                        load: Some(load),
                        pass: Some(pass),
                    });
                }
            }
        }
        self.steps.push(Step::Team {
            team: team.id.clone(),
            method: team.method.name().to_string(),
            candidates,
        });
        let (rep, pass) = chosen?;
        self.effects.push(Effect::AdvanceRotation {
            team: team.id.clone(),
            rep: cfg.rep(rep).id.clone(),
            pass: pass.saturating_add(stride(rep)),
            virtual_time: pass,
        });
        self.assign_effects(rep);
        Some(rep)
    }

    fn finish(
        mut self,
        path: RoutePath,
        outcome: Outcome,
        rule: Option<String>,
        headline: String,
    ) -> Routed {
        let cfg = self.cfg;
        let tier = self.facts.tier.unwrap_or(Tier::Standard);
        let times = cfg.sla_for(tier, self.facts.segment.as_deref());
        let now = self.input.now;
        let (owner, queue, team) = match outcome {
            Outcome::Rep(r, t) => {
                let rep = cfg.rep(r);
                (
                    Some(Owner {
                        id: rep.id.clone(),
                        name: rep.name.clone(),
                    }),
                    None,
                    t.or(rep.team).map(|t| cfg.team(t).id.clone()),
                )
            }
            Outcome::Queue(q) => (None, Some(cfg.queue_name(q).to_string()), None),
        };
        if queue.is_some() {
            // A queued lead is owned by nobody yet: no load, no daily count, no rotation.
            self.effects.clear();
        }
        let mut reason = headline;
        if !self.fallbacks.is_empty() {
            reason.push_str("; ");
            reason.push_str(&self.fallbacks.join("; "));
        }
        match (&owner, &queue) {
            (Some(o), _) => reason.push_str(&format!(" → {}", o.name)),
            (None, Some(q)) => reason.push_str(&format!(" → queue {q}")),
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
            config_version: cfg.version.clone(),
            decided_at: now,
        };
        Routed {
            decision,
            trace: RoutingTrace {
                config_version: cfg.version.clone(),
                at: now,
                facts: self.facts,
                steps: self.steps,
            },
            effects: self.effects,
        }
    }
}

fn describe_conditions(rule: &crate::config::Rule) -> String {
    let parts: Vec<String> = crate::config::Dim::ALL
        .iter()
        .filter(|d| !rule.cond(**d).is_empty())
        .map(|d| format!("{}={}", d.name(), rule.cond(*d).join("|")))
        .collect();
    if parts.is_empty() {
        String::new()
    } else {
        format!(" ({})", parts.join(", "))
    }
}

/// Normalise the lead and its enrichment into the facts rules are matched on, and score it.
fn normalize(cfg: &CompiledConfig, input: &RoutingInput) -> Facts {
    let lead = input.lead;
    let enr = input.enrichment;
    let mut f = Facts {
        issues: input.issues.to_vec(),
        ..Default::default()
    };
    if let Some(raw) = &lead.email {
        match parse_email(raw) {
            Ok(e) => {
                f.personal_email = cfg.domains.is_personal(&e);
                f.disposable_email = cfg.domains.is_disposable(&e);
                f.email_domain = Some(e.registrable.clone());
                f.email = Some(e.normalized);
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

    // Firmographics: the provider's figure beats what the visitor typed.
    let source = |field: &str| {
        enr.and_then(|e| e.sources.get(field).cloned())
            .map(|p| format!("enrichment:{p}"))
            .unwrap_or_else(|| "enrichment".into())
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
    f.segment = f
        .employees
        .and_then(|n| cfg.segment_for(n))
        .map(str::to_string);
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
    f.country = country.map(str::to_string);
    f.region = country.and_then(|c| cfg.geo.region(c)).map(str::to_string);
    let state = lead
        .state
        .as_deref()
        .or_else(|| enr.and_then(|e| e.state.as_deref()));
    f.state = state.map(|s| match country.and_then(|c| cfg.geo.subdivision(c, s)) {
        Some(code) => code.to_string(),
        None => s.trim().to_uppercase(),
    });
    f.postal_code = lead
        .zip
        .as_deref()
        .map(postal)
        .filter(|p| !p.is_empty())
        .map(|p| {
            // US ZIP+4 ("10017-1234") matches rules written for the 5-digit ZIP.
            if country == Some("US") && p.len() == 9 && p.bytes().all(|b| b.is_ascii_digit()) {
                p[..5].to_string()
            } else {
                p
            }
        });
    f.product = lead.product.as_deref().map(token).filter(|p| !p.is_empty());
    f.lead_source = lead
        .lead_source
        .as_deref()
        .map(token)
        .filter(|p| !p.is_empty());
    f.action = lead.action.as_deref().map(token).filter(|p| !p.is_empty());

    // TIER-1 intent, TIER-2 fit and score, TIER-3 tier.
    let intent = f
        .action
        .as_deref()
        .and_then(|a| cfg.intent.get(a).copied())
        .unwrap_or(Intent::Low);
    f.intent = Some(intent);
    let icp = &cfg.icp;
    f.icp_fit = f.segment.as_ref().is_some_and(|s| icp.segments.contains(s))
        && icp
            .industries
            .as_ref()
            .is_none_or(|l| f.industry.as_ref().is_some_and(|i| l.contains(i)))
        && icp
            .regions
            .as_ref()
            .is_none_or(|l| f.region.as_ref().is_some_and(|r| l.contains(r)))
        && icp
            .countries
            .as_ref()
            .is_none_or(|l| f.country.as_ref().is_some_and(|c| l.contains(c)));
    let sc = &cfg.scoring;
    let mut parts = Vec::new();
    if let Some(p) = f.segment.as_ref().and_then(|s| sc.segment.get(s)) {
        parts.push(ScorePart {
            label: format!("segment {}", f.segment.as_deref().unwrap_or("")),
            points: *p,
        });
    }
    if let Some(p) = f.industry.as_ref().and_then(|s| sc.industry.get(s)) {
        parts.push(ScorePart {
            label: format!("industry {}", f.industry.as_deref().unwrap_or("")),
            points: *p,
        });
    }
    if let Some(p) = f.action.as_ref().and_then(|s| sc.action.get(s)) {
        parts.push(ScorePart {
            label: format!("action {}", f.action.as_deref().unwrap_or("")),
            points: *p,
        });
    }
    if let Some(title) = &lead.title {
        let t = title.to_lowercase();
        for (words, p) in &sc.title {
            if let Some(w) = words.iter().find(|w| t.contains(w.as_str())) {
                parts.push(ScorePart {
                    label: format!("title has \"{w}\""),
                    points: *p,
                });
            }
        }
    }
    for (words, p) in &sc.page {
        if let Some(w) = words.iter().find(|w| {
            lead.page_history
                .iter()
                .any(|pg| pg.to_lowercase().contains(w.as_str()))
        }) {
            parts.push(ScorePart {
                label: format!("visited {w}"),
                points: *p,
            });
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
    f
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

/// VAL-2: a reason the lead is junk, or None.
fn junk_reason(
    cfg: &CompiledConfig,
    lead: &Lead,
    enr: Option<&Enrichment>,
    f: &Facts,
) -> Option<String> {
    if let Some(v) = lead.fields.get(&cfg.routing.honeypot_field)
        && !v.trim().is_empty()
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
        return Some(format!(
            "disposable email domain {}",
            f.email_domain.as_deref().unwrap_or("?")
        ));
    }
    if let Some(email) = &f.email {
        let (local, domain) = email.rsplit_once('@').unwrap_or((email, ""));
        if FAKE_DOMAINS.contains(&domain) {
            return Some(format!("test email address {email}"));
        }
        if FAKE_WORDS.contains(&local) && FAKE_WORDS.iter().any(|w| domain.starts_with(w)) {
            return Some(format!("test email address {email}"));
        }
    }
    let fake = |s: &Option<String>| {
        s.as_deref().is_some_and(|v| {
            let v = v.trim().to_lowercase();
            FAKE_WORDS.contains(&v.as_str())
                || (v.chars().count() >= 3 && v.chars().all(|c| v.starts_with(c)))
        })
    };
    let fakes = [&lead.first_name, &lead.last_name, &lead.company]
        .iter()
        .filter(|s| fake(s))
        .count();
    // One odd field could be real ("Bar" is a surname); two is a test submission.
    if fakes >= 2 {
        return Some("obvious test values in name/company".into());
    }
    None
}
