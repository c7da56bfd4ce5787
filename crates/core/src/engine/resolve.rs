//! From a target to an owner or a queue (ASG-5): a rep, then their backup, then their
//! team lead, then their team; a team with nobody available overflows. Also the
//! availability check of one rep (ASG-4: inactive, excluded, away, hours, daily cap,
//! capacity) and the effects of giving a rep a lead.

use super::{Ctx, Miss, Outcome, cat};
use crate::config::{QueueRole, RepIdx, Target, TeamIdx};
use crate::state::Effect;
use crate::text::Text;
use crate::trace::*;
use crate::zone::LocalNow;
use smallvec::SmallVec;

impl<'a> Ctx<'a> {
    /// Resolve a target to an owner or a queue, following ASG-5 fallbacks.
    pub(super) fn resolve(&mut self, target: Target, role: &'static str) -> Outcome {
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

    pub(super) fn fallback(&mut self, from: Text, to: Text, because: Text) {
        if !self.flags.contains(&Flag::Fallback) {
            self.flags.push(Flag::Fallback);
        }
        self.steps.push(Step::Fallback { from, to, because });
    }

    /// VAL-3 / VAL-4: a known person's lead stays with their (active) owner even when the
    /// owner is unavailable now — out of office, outside working hours, at the daily cap
    /// or at capacity. The SLA is then covered by the owner's backup, else their team
    /// lead, whoever is available first ([`RoutingTrace::sla_cover`] names them); neither
    /// takes the lead, its load or the person. Only an owner excluded from this lead (an
    /// SLA reassignment) goes through the fallback chain as any rep target does. Returns
    /// the outcome and, when the owner is unavailable, the words for the reason.
    pub(super) fn keep_with_owner(&mut self, owner: RepIdx) -> (Outcome, Option<String>) {
        let cfg = self.cfg;
        let miss = match self.check_rep(owner, self.respects_hours(owner), None) {
            Ok(()) => None,
            Err(Miss::Excluded | Miss::Inactive) => {
                return (self.resolve(Target::Rep(owner), "owner"), None);
            }
            Err(miss) => Some(self.skip(owner, miss)),
        };
        let owner_id = cfg.text.rep_id[owner as usize].clone();
        let Some(skip) = miss else {
            self.steps.push(Step::Rep {
                rep: owner_id,
                role: Text::from_static("owner"),
                verdict: Verdict::Chosen,
            });
            self.assign_effects(owner);
            return (Outcome::Rep(owner, None), None);
        };
        self.steps.push(Step::Rep {
            rep: owner_id,
            role: Text::from_static("owner"),
            verdict: Verdict::Skipped { skip: skip.clone() },
        });
        let backup = cfg.rep(owner).backup;
        let lead = cfg.rep(owner).team.and_then(|t| cfg.team(t).lead);
        let mut cover = None;
        for (i, (rep, role)) in [(backup, SLA_COVER_BACKUP), (lead, SLA_COVER_TEAM_LEAD)]
            .into_iter()
            .enumerate()
        {
            let Some(rep) = rep.filter(|&r| r != owner && !(i == 1 && Some(r) == backup)) else {
                continue;
            };
            let verdict = match self.check_rep(rep, self.respects_hours(rep), None) {
                Ok(()) => Verdict::Chosen,
                Err(miss) => Verdict::Skipped {
                    skip: self.skip(rep, miss),
                },
            };
            let chosen = verdict == Verdict::Chosen;
            self.steps.push(Step::Rep {
                rep: cfg.text.rep_id[rep as usize].clone(),
                role: Text::from_static(role),
                verdict,
            });
            if chosen {
                cover = Some((rep, role));
                break;
            }
        }
        let name = &cfg.rep(owner).name;
        let email = self.facts.email.as_deref().unwrap_or_default();
        let (note, words) = match cover {
            Some((c, role)) => {
                let (cover, as_) = (&cfg.rep(c).name, role.trim_start_matches("SLA cover "));
                (
                    format!(
                        "{name} is unavailable now ({skip}); {cover} {as_} covers this lead's SLA. {name} stays the owner of {email}."
                    ),
                    format!("{name} unavailable: {skip}; SLA covered by {cover} {as_}"),
                )
            }
            None => (
                format!(
                    "{name} is unavailable now ({skip}) and no backup or team lead is available to cover; {name} stays the owner of {email} and keeps the SLA."
                ),
                format!("{name} unavailable: {skip}; nobody available to cover the SLA"),
            ),
        };
        self.notes.push(note);
        self.assign_effects(owner);
        (Outcome::Rep(owner, None), Some(words))
    }

    /// Whether `rep`'s working hours apply (their team's setting; yes without a team).
    pub(super) fn respects_hours(&self, rep: RepIdx) -> bool {
        let cfg = self.cfg;
        cfg.rep(rep)
            .team
            .map(|t| cfg.team(t).respect_working_hours)
            .unwrap_or(true)
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
            match self.check_rep(rep, self.respects_hours(rep), None) {
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
    pub(super) fn local_time(&mut self, zone: u16) -> LocalNow {
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
    pub(super) fn check_rep(
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
    pub(super) fn walked(
        &self,
        r: RepIdx,
        res: Result<(), Miss<'a>>,
        away: &mut Vec<Skip>,
    ) -> Walked {
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
    pub(super) fn skip(&self, r: RepIdx, miss: Miss<'a>) -> Skip {
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

    pub(super) fn load(&self, r: RepIdx) -> f64 {
        let loads = &self.input.state.loads;
        let load = match loads.by_index(&self.cfg.text.reps) {
            Some(by_rep) => by_rep[r as usize].as_ref(),
            None => loads.get(self.cfg.text.rep_id[r as usize].as_str()),
        };
        load.map(|l| l.weighted(&self.cfg.stage_weights))
            .unwrap_or(0.0)
    }

    pub(super) fn assign_effects(&mut self, r: RepIdx) {
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
}
