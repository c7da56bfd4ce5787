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

/// Counts kept while the replay runs.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Tally {
    pub routed: u64,
    pub changed: u64,
    pub reps: BTreeMap<String, BeforeAfter>,
    pub teams: BTreeMap<String, BeforeAfter>,
    pub queues: BTreeMap<String, BeforeAfter>,
    pub paths: BTreeMap<String, BeforeAfter>,
    /// (before, after) → leads, for tier and segment.
    pub tier_shifts: BTreeMap<(String, String), u64>,
    pub segment_shifts: BTreeMap<(String, String), u64>,
}

impl Tally {
    pub fn add(&mut self, before: &RouteResult, after: &RouteResult) {
        self.routed += 1;
        if !before.same_decision(after) {
            self.changed += 1;
        }
        // Keys are few and seen again and again: copied only the first time.
        fn bump(map: &mut BTreeMap<String, BeforeAfter>, key: &str, after: bool) {
            let v = match map.get_mut(key) {
                Some(v) => v,
                None => map.entry(key.to_string()).or_default(),
            };
            if after {
                v.after += 1;
            } else {
                v.before += 1;
            }
        }
        let count = |map: &mut BTreeMap<String, BeforeAfter>, b: Option<&str>, a: Option<&str>| {
            if let Some(b) = b {
                bump(map, b, false);
            }
            if let Some(a) = a {
                bump(map, a, true);
            }
        };
        count(
            &mut self.reps,
            before.owner.as_deref(),
            after.owner.as_deref(),
        );
        count(
            &mut self.teams,
            before.team.as_deref(),
            after.team.as_deref(),
        );
        count(
            &mut self.queues,
            before.queue.as_deref(),
            after.queue.as_deref(),
        );
        count(&mut self.paths, Some(&before.path), Some(&after.path));
        fn shift(map: &mut BTreeMap<(String, String), u64>, b: &str, a: &str) {
            match map.iter_mut().find(|((x, y), _)| x == b && y == a) {
                Some((_, n)) => *n += 1,
                None => {
                    map.insert((b.to_string(), a.to_string()), 1);
                }
            }
        }
        shift(&mut self.tier_shifts, &before.tier, &after.tier);
        shift(
            &mut self.segment_shifts,
            before.segment.as_deref().unwrap_or("unknown"),
            after.segment.as_deref().unwrap_or("unknown"),
        );
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
    tally: &Tally,
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
            leads: tally.reps.get(&rep.id).copied().unwrap_or_default(),
            load_before,
            load_after,
            capacity: rep.capacity,
            over_capacity: rep.capacity.is_some_and(|c| load_after > c),
        });
    }
    // Owners the config no longer names (a candidate that removed a rep).
    for (rep, n) in &tally.reps {
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
                        let n = tally.reps.get(&rep.id).copied().unwrap_or_default();
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
pub fn fill(report: &mut Report, tally: &Tally) {
    report.routed = tally.routed;
    report.changed = tally.changed;
    report.teams = tally.teams.clone();
    report.queues = tally.queues.clone();
    report.paths = tally.paths.clone();
    report.catch_all = tally.paths.get("catch_all").copied().unwrap_or_default();
    report.tier_shifts = shifts(&tally.tier_shifts);
    report.segment_shifts = shifts(&tally.segment_shifts);
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

    #[test]
    fn jain_index_is_one_when_even_and_one_over_n_when_one_rep_gets_all() {
        assert_eq!(jain(&[3.0, 3.0, 3.0]), Some(1.0));
        assert!((jain(&[6.0, 0.0, 0.0]).unwrap_or(0.0) - 1.0 / 3.0).abs() < 1e-12);
        assert_eq!(jain(&[0.0, 0.0]), None);
    }
}
