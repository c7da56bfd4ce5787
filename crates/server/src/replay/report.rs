//! The difference a replay found, as figures: per rep, team and queue, leads before →
//! after and the projected load against capacity; tier and segment shifts; catch-all
//! counts; fairness within each team; the changed leads with both traces; changes to
//! stored leads made by people or the SLA ladder, apart. Pure: built from the tally the
//! run keeps and the two worlds' final states.

use super::record::RouteResult;
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::state::StateSnapshot;
use serde::Serialize;
use std::collections::BTreeMap;

/// Leads before (as they happened) and after (the replay).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct BeforeAfter {
    pub before: u64,
    pub after: u64,
}

/// The leads of each rep, team, queue and path before and after, and the tier and
/// segment shifts: [`Tally::totals`].
#[derive(Debug, Clone, Default)]
pub struct Totals {
    pub reps: BTreeMap<String, BeforeAfter>,
    pub teams: BTreeMap<String, BeforeAfter>,
    pub queues: BTreeMap<String, BeforeAfter>,
    pub paths: BTreeMap<String, BeforeAfter>,
    /// (before, after) → leads, for tier and segment.
    pub tier_shifts: BTreeMap<(String, String), u64>,
    pub segment_shifts: BTreeMap<(String, String), u64>,
}

/// What a decision counts under: owner, team, queue, path, tier and segment.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Counted<S> {
    owner: Option<S>,
    team: Option<S>,
    queue: Option<S>,
    path: S,
    tier: S,
    segment: Option<S>,
}

impl<'a> Counted<&'a str> {
    fn of(r: &'a RouteResult) -> Counted<&'a str> {
        Counted {
            owner: r.owner.as_deref(),
            team: r.team.as_deref(),
            queue: r.queue.as_deref(),
            path: &r.path,
            tier: &r.tier,
            segment: r.segment.as_deref(),
        }
    }

    fn owned(&self) -> Counted<Box<str>> {
        Counted {
            owner: self.owner.map(Into::into),
            team: self.team.map(Into::into),
            queue: self.queue.map(Into::into),
            path: self.path.into(),
            tier: self.tier.into(),
            segment: self.segment.map(Into::into),
        }
    }

    fn is(&self, k: &Counted<Box<str>>) -> bool {
        self.owner == k.owner.as_deref()
            && self.team == k.team.as_deref()
            && self.queue == k.queue.as_deref()
            && self.path == &*k.path
            && self.tier == &*k.tier
            && self.segment == k.segment.as_deref()
    }
}

/// A decision as recorded and as re-decided. `&str` and `Box<str>` hash alike, so the
/// borrowed pair finds the owned one.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Pair<S> {
    before: Counted<S>,
    after: Counted<S>,
}

impl hashbrown::Equivalent<Pair<Box<str>>> for Pair<&str> {
    fn equivalent(&self, k: &Pair<Box<str>>) -> bool {
        self.before.is(&k.before) && self.after.is(&k.after)
    }
}

/// Counts kept while the replay runs: each distinct pair of decisions (as recorded, as
/// re-decided) once, with its number of leads. A million leads fall into a few thousand
/// pairs at most, so a lead costs one hash lookup; [`Tally::totals`] sums them up.
#[derive(Debug, Clone, Default)]
pub struct Tally {
    pub routed: u64,
    pub changed: u64,
    pairs: hashbrown::HashMap<Pair<Box<str>>, u64, rustc_hash::FxBuildHasher>,
}

impl Tally {
    pub fn add(&mut self, before: &RouteResult, after: &RouteResult) {
        self.routed += 1;
        if !before.same_decision(after) {
            self.changed += 1;
        }
        let pair = Pair {
            before: Counted::of(before),
            after: Counted::of(after),
        };
        match self.pairs.get_mut(&pair) {
            Some(n) => *n += 1,
            None => {
                let owned = Pair {
                    before: pair.before.owned(),
                    after: pair.after.owned(),
                };
                self.pairs.insert(owned, 1);
            }
        }
    }

    /// The counts per rep, team, queue and path, and the shifts.
    pub fn totals(&self) -> Totals {
        fn bump(map: &mut BTreeMap<String, BeforeAfter>, key: Option<&str>, after: bool, n: u64) {
            let Some(key) = key else { return };
            let v = match map.get_mut(key) {
                Some(v) => v,
                None => map.entry(key.to_string()).or_default(),
            };
            if after {
                v.after += n;
            } else {
                v.before += n;
            }
        }
        fn shift(map: &mut BTreeMap<(String, String), u64>, b: &str, a: &str, n: u64) {
            *map.entry((b.to_string(), a.to_string())).or_default() += n;
        }
        let mut t = Totals::default();
        for (p, &n) in &self.pairs {
            for (c, after) in [(&p.before, false), (&p.after, true)] {
                bump(&mut t.reps, c.owner.as_deref(), after, n);
                bump(&mut t.teams, c.team.as_deref(), after, n);
                bump(&mut t.queues, c.queue.as_deref(), after, n);
                bump(&mut t.paths, Some(&c.path), after, n);
            }
            shift(&mut t.tier_shifts, &p.before.tier, &p.after.tier, n);
            shift(
                &mut t.segment_shifts,
                p.before.segment.as_deref().unwrap_or("unknown"),
                p.after.segment.as_deref().unwrap_or("unknown"),
                n,
            );
        }
        t
    }
}

/// A lead whose decision changed, with both traces (as rendered text).
#[derive(Debug, Clone, Serialize)]
pub struct ChangedLead {
    pub lead_id: String,
    /// Microseconds since the epoch.
    pub at: i64,
    pub config_version: String,
    pub before: RouteResult,
    pub after: RouteResult,
    pub before_trace: Option<String>,
    pub after_trace: Option<String>,
}

/// A change to a stored lead in the window made by a person or the SLA ladder.
#[derive(Debug, Clone, Serialize)]
pub struct LeadChange {
    pub lead_id: String,
    pub at: i64,
    pub kind: String,
    pub actor: Option<String>,
    /// Owner afterwards (as it happened), and the candidate's owner before it.
    pub owner_after: Option<String>,
    pub candidate_owner_before: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RepRow {
    pub rep: String,
    pub team: Option<String>,
    pub leads: BeforeAfter,
    /// Stage-weighted open load at the window's end, as it happened and projected.
    pub load_before: f64,
    pub load_after: f64,
    pub capacity: Option<f64>,
    pub over_capacity: bool,
}

/// How evenly a team's leads are spread over its members (Jain's index of leads per
/// unit of weight: 1 = exactly in proportion to weight; 1/n = one rep got everything).
#[derive(Debug, Clone, Serialize)]
pub struct Fairness {
    pub team: String,
    pub reps: usize,
    pub before: Option<f64>,
    pub after: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Shift {
    pub before: String,
    pub after: String,
    pub leads: u64,
}

/// The whole report.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub mode: String,
    pub candidate_version: Option<String>,
    pub since: Option<String>,
    pub until: Option<String>,
    pub history_start: Option<String>,
    pub routed: u64,
    pub changed: u64,
    /// Fidelity mode: decisions whose effects differ from those recorded.
    pub effect_mismatches: u64,
    pub reps: Vec<RepRow>,
    pub teams: BTreeMap<String, BeforeAfter>,
    pub queues: BTreeMap<String, BeforeAfter>,
    pub paths: BTreeMap<String, BeforeAfter>,
    pub catch_all: BeforeAfter,
    pub tier_shifts: Vec<Shift>,
    pub segment_shifts: Vec<Shift>,
    pub fairness: Vec<Fairness>,
    pub changed_leads: Vec<ChangedLead>,
    /// Changed leads beyond those listed.
    pub changed_not_listed: u64,
    pub lead_changes: Vec<LeadChange>,
    pub notes: Vec<String>,
    pub timing: Timing,
}

/// How long the replay took, against the time its decisions alone took (the in-process
/// decision rate of the same leads, in the same run): docs/benchmarks.md.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Timing {
    pub wall_seconds: f64,
    pub decide_seconds: f64,
    /// The reading thread's time reading and decoding the history (waits excluded).
    pub read_seconds: f64,
    /// The worker's time applying it to the worlds, deciding included.
    pub apply_seconds: f64,
    pub replay_per_second: f64,
    pub decide_per_second: f64,
    /// replay_per_second / decide_per_second.
    pub ratio: f64,
}

impl Timing {
    pub fn of(
        routed: u64,
        wall: std::time::Duration,
        decide: std::time::Duration,
        read: std::time::Duration,
        apply: std::time::Duration,
    ) -> Timing {
        let rate = |d: std::time::Duration| {
            if d.is_zero() {
                0.0
            } else {
                routed as f64 / d.as_secs_f64()
            }
        };
        let (replay, decided) = (rate(wall), rate(decide));
        Timing {
            wall_seconds: wall.as_secs_f64(),
            decide_seconds: decide.as_secs_f64(),
            read_seconds: read.as_secs_f64(),
            apply_seconds: apply.as_secs_f64(),
            replay_per_second: replay,
            decide_per_second: decided,
            ratio: if decided > 0.0 { replay / decided } else { 0.0 },
        }
    }
}

fn jain(xs: &[f64]) -> Option<f64> {
    let sum: f64 = xs.iter().sum();
    let sq: f64 = xs.iter().map(|x| x * x).sum();
    (sum > 0.0 && !xs.is_empty()).then(|| (sum * sum) / (xs.len() as f64 * sq))
}

fn shifts(m: &BTreeMap<(String, String), u64>) -> Vec<Shift> {
    m.iter()
        .filter(|((b, a), _)| b != a)
        .map(|((b, a), n)| Shift {
            before: b.clone(),
            after: a.clone(),
            leads: *n,
        })
        .collect()
}

/// The per-rep rows and team fairness for `cfg` (the candidate's, or in fidelity mode
/// the last live version), with loads from the two worlds' final states.
pub fn rep_rows(
    cfg: &CompiledConfig,
    totals: &Totals,
    live: &StateSnapshot,
    cand: &StateSnapshot,
) -> (Vec<RepRow>, Vec<Fairness>) {
    let mut rows = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for rep in &cfg.reps {
        seen.insert(rep.id.clone());
        let load = |s: &StateSnapshot| {
            s.loads
                .get(&rep.id)
                .map_or(0.0, |l| l.weighted(&cfg.stage_weights))
        };
        let (load_before, load_after) = (load(live), load(cand));
        rows.push(RepRow {
            rep: rep.id.clone(),
            team: rep.team.map(|t| cfg.teams[t as usize].id.clone()),
            leads: totals.reps.get(&rep.id).copied().unwrap_or_default(),
            load_before,
            load_after,
            capacity: rep.capacity,
            over_capacity: rep.capacity.is_some_and(|c| load_after > c),
        });
    }
    // Owners the config no longer names (a candidate that removed a rep).
    for (rep, n) in &totals.reps {
        if !seen.contains(rep) {
            rows.push(RepRow {
                rep: rep.clone(),
                team: None,
                leads: *n,
                load_before: 0.0,
                load_after: 0.0,
                capacity: None,
                over_capacity: false,
            });
        }
    }
    let fairness = cfg
        .teams
        .iter()
        .map(|t| {
            let per = |after: bool| {
                let xs: Vec<f64> = t
                    .members
                    .iter()
                    .map(|&m| {
                        let rep = &cfg.reps[m as usize];
                        let n = totals.reps.get(&rep.id).copied().unwrap_or_default();
                        let n = if after { n.after } else { n.before };
                        n as f64 / rep.weight.max(f64::MIN_POSITIVE)
                    })
                    .collect();
                jain(&xs)
            };
            Fairness {
                team: t.id.clone(),
                reps: t.members.len(),
                before: per(false),
                after: per(true),
            }
        })
        .collect();
    (rows, fairness)
}

/// Everything but the mode, window and lists, from the tally.
pub fn fill(report: &mut Report, tally: &Tally, totals: Totals) {
    report.routed = tally.routed;
    report.changed = tally.changed;
    report.catch_all = totals.paths.get("catch_all").copied().unwrap_or_default();
    report.tier_shifts = shifts(&totals.tier_shifts);
    report.segment_shifts = shifts(&totals.segment_shifts);
    report.teams = totals.teams;
    report.queues = totals.queues;
    report.paths = totals.paths;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(owner: &str, tier: &str, path: &str) -> RouteResult {
        RouteResult {
            owner: Some(owner.into()),
            queue: None,
            team: Some("t".into()),
            tier: tier.into(),
            segment: None,
            path: path.into(),
            rule: None,
            dedup: false,
        }
    }

    #[test]
    fn counts_before_and_after_and_the_shifts() {
        let mut t = Tally::default();
        t.add(
            &result("a", "hot", "territory"),
            &result("a", "hot", "territory"),
        );
        t.add(
            &result("a", "hot", "territory"),
            &result("b", "warm", "catch_all"),
        );
        assert_eq!((t.routed, t.changed), (2, 1));
        let t = t.totals();
        assert_eq!(
            t.reps["a"],
            BeforeAfter {
                before: 2,
                after: 1
            }
        );
        assert_eq!(
            t.reps["b"],
            BeforeAfter {
                before: 0,
                after: 1
            }
        );
        assert_eq!(t.tier_shifts[&("hot".into(), "warm".into())], 1);
        assert_eq!(t.paths["catch_all"].after, 1);
        assert_eq!(shifts(&t.tier_shifts).len(), 1);
    }

    fn any_result() -> impl proptest::strategy::Strategy<Value = RouteResult> {
        use proptest::prelude::*;
        let name = || proptest::option::of(prop::sample::select(vec!["a", "b", "c"]));
        (
            (name(), name(), name()),
            prop::sample::select(vec!["hot", "warm"]),
            name(),
            prop::sample::select(vec!["territory", "catch_all", "queue"]),
        )
            .prop_map(|((owner, team, queue), tier, segment, path)| RouteResult {
                owner: owner.map(str::to_string),
                queue: queue.map(str::to_string),
                team: team.map(str::to_string),
                tier: tier.into(),
                segment: segment.map(str::to_string),
                path: path.into(),
                rule: None,
                dedup: false,
            })
    }

    proptest::proptest! {
        /// Counting by pairs and summing at the end gives what counting each lead into
        /// every map as it comes gives.
        #[test]
        fn totals_by_pairs_are_the_totals_lead_by_lead(
            leads in proptest::collection::vec((any_result(), any_result()), 0..200)
        ) {
            let mut t = Tally::default();
            let mut want = Totals::default();
            fn bump(m: &mut BTreeMap<String, BeforeAfter>, k: Option<&str>, after: bool) {
                if let Some(k) = k {
                    let v = m.entry(k.to_string()).or_default();
                    if after { v.after += 1 } else { v.before += 1 }
                }
            }
            for (b, a) in &leads {
                t.add(b, a);
                for (r, after) in [(b, false), (a, true)] {
                    bump(&mut want.reps, r.owner.as_deref(), after);
                    bump(&mut want.teams, r.team.as_deref(), after);
                    bump(&mut want.queues, r.queue.as_deref(), after);
                    bump(&mut want.paths, Some(&r.path), after);
                }
                *want.tier_shifts.entry((b.tier.clone(), a.tier.clone())).or_default() += 1;
                let seg = |r: &RouteResult| r.segment.clone().unwrap_or_else(|| "unknown".into());
                *want.segment_shifts.entry((seg(b), seg(a))).or_default() += 1;
            }
            let got = t.totals();
            proptest::prop_assert_eq!(t.routed, leads.len() as u64);
            proptest::prop_assert_eq!(
                t.changed,
                leads.iter().filter(|(b, a)| !b.same_decision(a)).count() as u64
            );
            proptest::prop_assert_eq!(got.reps, want.reps);
            proptest::prop_assert_eq!(got.teams, want.teams);
            proptest::prop_assert_eq!(got.queues, want.queues);
            proptest::prop_assert_eq!(got.paths, want.paths);
            proptest::prop_assert_eq!(got.tier_shifts, want.tier_shifts);
            proptest::prop_assert_eq!(got.segment_shifts, want.segment_shifts);
        }
    }

    #[test]
    fn jain_index_is_one_when_even_and_one_over_n_when_one_rep_gets_all() {
        assert_eq!(jain(&[3.0, 3.0, 3.0]), Some(1.0));
        assert!((jain(&[6.0, 0.0, 0.0]).unwrap_or(0.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(jain(&[0.0, 0.0]), None);
    }
}
