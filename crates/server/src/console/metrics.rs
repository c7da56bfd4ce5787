//! MET-1 figures, computed from stored data: the window aggregates and daily rollups the
//! store returns ([`leadrouter_store::reporting`]) go in, plain numbers come out. Pure
//! functions, so the overview, the reps page, the weekly report, the CSV export and the
//! Prometheus gauges all show the same figures, and tests can check them exactly.

use leadrouter_core::config::CompiledConfig;
use leadrouter_store::reporting::{DailyRow, SpeedRow, WindowGroup, speed_bucket_upper};
use serde::Serialize;
use std::collections::BTreeMap;

/// MET-1 SLA compliance targets by tier (hot, warm, standard).
pub const SLA_TARGETS: [(&str, f64); 3] = [("hot", 0.85), ("warm", 0.80), ("standard", 0.75)];
/// Routing accuracy target (share assigned right first time).
pub const ACCURACY_TARGET: f64 = 0.90;
/// Paths where a team's rotation chose the rep: the leads distribution fairness is about.
pub const ROTATION_PATHS: [&str; 3] = ["territory", "segment", "default_team"];
/// Paths whose queue is the intended destination, not a lead left unassigned.
pub const DESTINATION_PATHS: [&str; 2] = ["junk", "nurture"];

/// A ratio with its parts, so pages can show "41 of 50 (82%)" and tell "no data" apart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Ratio {
    pub num: i64,
    pub den: i64,
}

impl Ratio {
    pub fn value(self) -> Option<f64> {
        (self.den > 0).then(|| self.num as f64 / self.den as f64)
    }
    pub fn percent(self) -> String {
        match self.value() {
            Some(v) => format!("{:.1}%", v * 100.0),
            None => "–".into(),
        }
    }
}

/// A mean duration in seconds over `n` observations.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Mean {
    pub sum_us: i64,
    pub n: i64,
}

impl Mean {
    pub fn seconds(self) -> Option<f64> {
        (self.n > 0).then(|| self.sum_us as f64 / self.n as f64 / 1e6)
    }
    pub fn text(self) -> String {
        self.seconds()
            .map(duration_text)
            .unwrap_or_else(|| "–".into())
    }
}

/// "412 µs", "3.2 ms", "48 s", "12 min", "5 h 6 min": the core's one duration wording.
pub fn duration_text(secs: f64) -> String {
    leadrouter_core::words::seconds(secs)
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TierFigures {
    pub tier: String,
    pub leads: i64,
    pub sla: Ratio,
    pub target: f64,
    pub speed_to_contact: Mean,
}

impl TierFigures {
    pub fn meets_target(&self) -> Option<bool> {
        self.sla.value().map(|v| v >= self.target)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PathFigures {
    pub path: String,
    pub leads: i64,
    pub opportunity: Ratio,
    /// Won among the leads that reached opportunity.
    pub win: Ratio,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RepFigures {
    pub rep: String,
    pub leads: i64,
    pub sla: Ratio,
    pub acceptance: Mean,
    pub speed_to_contact: Mean,
    pub reassigned_away: i64,
    /// Leads that reached opportunity, and of those, won (the outcomes reps record).
    pub opportunities: i64,
    pub won: i64,
}

impl RepFigures {
    /// Leads the rep accepted (the acceptance mean's observations).
    pub fn accepted(&self) -> i64 {
        self.acceptance.n
    }
    /// Leads with a recorded first touch.
    pub fn contacted(&self) -> i64 {
        self.speed_to_contact.n
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FairShare {
    pub rep: String,
    pub leads: i64,
    pub share: f64,
    pub expected: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TeamFairness {
    pub team: String,
    pub leads: i64,
    /// 1 − total variation distance between the share of leads and the share of weight:
    /// 1.0 is exactly by weight.
    pub score: Option<f64>,
    pub reps: Vec<FairShare>,
}

/// Every MET-1 figure over one window.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Figures {
    pub leads: i64,
    pub assigned: i64,
    /// Leads without an owner, other than junk and nurture (target 0).
    pub unassigned: Ratio,
    pub fallback: Ratio,
    /// Assigned leads never reassigned (target > 90%).
    pub accuracy: Ratio,
    pub speed_to_assign: Mean,
    pub acceptance: Mean,
    pub speed_to_contact: Mean,
    pub tiers: Vec<TierFigures>,
    pub paths: Vec<PathFigures>,
    pub reps: Vec<RepFigures>,
    pub fairness: Vec<TeamFairness>,
}

pub fn figures(groups: &[WindowGroup], cfg: &CompiledConfig) -> Figures {
    let mut f = Figures {
        leads: 0,
        assigned: 0,
        unassigned: Ratio::default(),
        fallback: Ratio::default(),
        accuracy: Ratio::default(),
        speed_to_assign: Mean::default(),
        acceptance: Mean::default(),
        speed_to_contact: Mean::default(),
        tiers: SLA_TARGETS
            .iter()
            .map(|(t, target)| TierFigures {
                tier: (*t).into(),
                leads: 0,
                sla: Ratio::default(),
                target: *target,
                speed_to_contact: Mean::default(),
            })
            .collect(),
        paths: Vec::new(),
        reps: Vec::new(),
        fairness: Vec::new(),
    };
    let mut paths: BTreeMap<&str, PathFigures> = BTreeMap::new();
    let mut reps: BTreeMap<&str, RepFigures> = BTreeMap::new();
    let mut teams: BTreeMap<&str, BTreeMap<&str, i64>> = BTreeMap::new();
    for g in groups {
        f.leads += g.leads;
        f.fallback.num += g.fallbacks;
        f.speed_to_assign.sum_us += g.assign_us_sum;
        f.speed_to_assign.n += g.leads;
        f.acceptance.sum_us += g.accept_us_sum;
        f.acceptance.n += g.accepted;
        f.speed_to_contact.sum_us += g.contact_us_sum;
        f.speed_to_contact.n += g.contacted;
        if !DESTINATION_PATHS.contains(&g.path.as_str()) {
            f.unassigned.den += g.leads;
            if g.owner.is_none() {
                f.unassigned.num += g.leads;
            }
        }
        if let Some(t) = f.tiers.iter_mut().find(|t| t.tier == g.tier) {
            t.leads += g.leads;
            t.sla.num += g.sla_met;
            t.sla.den += g.sla_due;
            t.speed_to_contact.sum_us += g.contact_us_sum;
            t.speed_to_contact.n += g.contacted;
        }
        let p = paths.entry(g.path.as_str()).or_insert_with(|| PathFigures {
            path: g.path.clone(),
            leads: 0,
            opportunity: Ratio::default(),
            win: Ratio::default(),
        });
        p.leads += g.leads;
        p.opportunity.num += g.opportunities;
        p.opportunity.den += g.leads;
        p.win.num += g.won;
        p.win.den += g.opportunities;
        if let Some(owner) = &g.owner {
            f.assigned += g.leads;
            f.accuracy.den += g.leads;
            f.accuracy.num += g.leads - g.reassigned;
            let r = reps.entry(owner.as_str()).or_insert_with(|| RepFigures {
                rep: owner.clone(),
                leads: 0,
                sla: Ratio::default(),
                acceptance: Mean::default(),
                speed_to_contact: Mean::default(),
                reassigned_away: 0,
                opportunities: 0,
                won: 0,
            });
            r.leads += g.leads;
            r.sla.num += g.sla_met;
            r.sla.den += g.sla_due;
            r.acceptance.sum_us += g.accept_us_sum;
            r.acceptance.n += g.accepted;
            r.speed_to_contact.sum_us += g.contact_us_sum;
            r.speed_to_contact.n += g.contacted;
            r.reassigned_away += g.reassigned;
            r.opportunities += g.opportunities;
            r.won += g.won;
            if let Some(team) = &g.team
                && ROTATION_PATHS.contains(&g.path.as_str())
            {
                *teams
                    .entry(team.as_str())
                    .or_default()
                    .entry(owner.as_str())
                    .or_default() += g.leads;
            }
        }
    }
    f.fallback.den = f.leads;
    f.paths = paths.into_values().collect();
    f.reps = reps.into_values().collect();
    f.fairness = fairness(&teams, cfg);
    f
}

fn fairness(
    counts: &BTreeMap<&str, BTreeMap<&str, i64>>,
    cfg: &CompiledConfig,
) -> Vec<TeamFairness> {
    let mut out = Vec::new();
    for team in &cfg.teams {
        let got = counts.get(team.id.as_str());
        let members: Vec<_> = team
            .members
            .iter()
            .map(|m| cfg.rep(*m))
            .filter(|r| r.active)
            .collect();
        let weight: f64 = members.iter().map(|r| r.weight).sum();
        let total: i64 = members
            .iter()
            .map(|r| got.and_then(|g| g.get(r.id.as_str())).copied().unwrap_or(0))
            .sum();
        if members.is_empty() {
            continue;
        }
        let reps: Vec<FairShare> = members
            .iter()
            .map(|r| {
                let n = got.and_then(|g| g.get(r.id.as_str())).copied().unwrap_or(0);
                FairShare {
                    rep: r.id.clone(),
                    leads: n,
                    share: if total > 0 {
                        n as f64 / total as f64
                    } else {
                        0.0
                    },
                    expected: if weight > 0.0 { r.weight / weight } else { 0.0 },
                }
            })
            .collect();
        let score = (total > 0).then(|| {
            1.0 - 0.5
                * reps
                    .iter()
                    .map(|r| (r.share - r.expected).abs())
                    .sum::<f64>()
        });
        out.push(TeamFairness {
            team: team.id.clone(),
            leads: total,
            score,
            reps,
        });
    }
    out
}

/// p-quantile (0..1) of speed-to-assign in seconds from histogram rows: the upper bound of
/// the bucket holding the quantile (four buckets per doubling, so within 19%).
pub fn speed_quantile(rows: &[SpeedRow], q: f64) -> Option<f64> {
    let mut buckets: BTreeMap<i64, i64> = BTreeMap::new();
    for r in rows {
        *buckets.entry(r.bucket).or_default() += r.n;
    }
    let total: i64 = buckets.values().sum();
    if total == 0 {
        return None;
    }
    let rank = ((q * total as f64).ceil() as i64).clamp(1, total);
    let mut seen = 0;
    for (b, n) in buckets {
        seen += n;
        if seen >= rank {
            return Some(speed_bucket_upper(b) / 1e6);
        }
    }
    None
}

/// One day of the overview charts.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayFigures {
    pub day: i64,
    pub by_tier: [i64; 3],
    pub leads: i64,
    pub fallbacks: i64,
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

/// Per-day series for the charts, one entry for every day in `[from_day, to_day]`.
pub fn days(daily: &[DailyRow], speed: &[SpeedRow], from_day: i64, to_day: i64) -> Vec<DayFigures> {
    let mut out = Vec::new();
    let mut day = from_day;
    while day <= to_day {
        let mut d = DayFigures {
            day,
            by_tier: [0; 3],
            leads: 0,
            fallbacks: 0,
            p50: None,
            p99: None,
        };
        for r in daily.iter().filter(|r| r.day == day) {
            d.leads += r.leads;
            d.fallbacks += r.fallbacks;
            if let Some(i) = SLA_TARGETS.iter().position(|(t, _)| *t == r.tier) {
                d.by_tier[i] += r.leads;
            }
        }
        let s: Vec<SpeedRow> = speed.iter().filter(|r| r.day == day).cloned().collect();
        d.p50 = speed_quantile(&s, 0.5);
        d.p99 = speed_quantile(&s, 0.99);
        out.push(d);
        day += leadrouter_store::reporting::DAY_US;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadrouter_store::reporting::speed_bucket;

    fn group(
        tier: &str,
        path: &str,
        team: Option<&str>,
        owner: Option<&str>,
        leads: i64,
    ) -> WindowGroup {
        WindowGroup {
            tier: tier.into(),
            path: path.into(),
            team: team.map(Into::into),
            owner: owner.map(Into::into),
            leads,
            ..WindowGroup::default()
        }
    }

    fn demo() -> CompiledConfig {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo.toml");
        leadrouter_core::config::load(path).expect("demo config compiles")
    }

    #[test]
    fn figures_from_known_groups() {
        let cfg = demo();
        let mut a = group("hot", "territory", Some("t"), Some("ana"), 10);
        a.sla_met = 8;
        a.sla_due = 10;
        a.reassigned = 1;
        a.fallbacks = 2;
        a.contacted = 4;
        a.contact_us_sum = 4 * 60_000_000;
        a.accepted = 2;
        a.accept_us_sum = 2 * 30_000_000;
        a.assign_us_sum = 10 * 500;
        a.opportunities = 5;
        a.won = 2;
        let mut b = group("warm", "segment", Some("t"), Some("ben"), 10);
        b.sla_met = 6;
        b.sla_due = 8;
        b.opportunities = 1;
        let c = group("standard", "catch_all", None, None, 5);
        let d = group("standard", "junk", None, None, 5);
        let f = figures(&[a, b, c, d], &cfg);
        assert_eq!(f.leads, 30);
        assert_eq!(f.assigned, 20);
        // Junk is a destination; the catch-all leads are unassigned: 5 of 25.
        assert_eq!(f.unassigned, Ratio { num: 5, den: 25 });
        assert_eq!(f.fallback, Ratio { num: 2, den: 30 });
        assert_eq!(f.accuracy, Ratio { num: 19, den: 20 });
        assert_eq!(f.accuracy.percent(), "95.0%");
        let hot = &f.tiers[0];
        assert_eq!(hot.sla, Ratio { num: 8, den: 10 });
        assert_eq!(
            hot.meets_target(),
            Some(false),
            "80% is under the 85% target"
        );
        assert_eq!(f.tiers[1].meets_target(), Some(false), "75% is under 80%");
        assert_eq!(f.tiers[2].sla.value(), None);
        assert_eq!(hot.speed_to_contact.seconds(), Some(60.0));
        assert_eq!(f.acceptance.seconds(), Some(30.0));
        let terr = f.paths.iter().find(|p| p.path == "territory").unwrap();
        assert_eq!(terr.opportunity, Ratio { num: 5, den: 10 });
        assert_eq!(terr.win, Ratio { num: 2, den: 5 });
        let ana = f.reps.iter().find(|r| r.rep == "ana").unwrap();
        assert_eq!(ana.sla, Ratio { num: 8, den: 10 });
        assert_eq!(ana.reassigned_away, 1);
        // The weekly report's per-rep table.
        assert_eq!((ana.leads, ana.accepted(), ana.contacted()), (10, 2, 4));
        assert_eq!((ana.opportunities, ana.won), (5, 2));
        let ben = f.reps.iter().find(|r| r.rep == "ben").unwrap();
        assert_eq!((ben.opportunities, ben.won), (1, 0));
    }

    #[test]
    fn fairness_compares_share_with_weight() {
        let cfg = demo();
        let team = cfg
            .teams
            .iter()
            .find(|t| t.members.iter().filter(|m| cfg.rep(**m).active).count() >= 2)
            .expect("a team with two active reps");
        let members: Vec<_> = team
            .members
            .iter()
            .map(|m| cfg.rep(*m))
            .filter(|r| r.active)
            .collect();
        let total_w: f64 = members.iter().map(|r| r.weight).sum();
        // Exactly by weight: 1000 leads split by weight share → score 1.
        let groups: Vec<WindowGroup> = members
            .iter()
            .map(|r| {
                group(
                    "hot",
                    "segment",
                    Some(&team.id),
                    Some(&r.id),
                    (1000.0 * r.weight / total_w).round() as i64,
                )
            })
            .collect();
        let f = figures(&groups, &cfg);
        let t = f.fairness.iter().find(|x| x.team == team.id).unwrap();
        assert!((t.score.unwrap() - 1.0).abs() < 0.01, "{t:?}");
        // Everything to one rep: score = 1 − (1 − w₀/W).
        let one = vec![group(
            "hot",
            "segment",
            Some(&team.id),
            Some(&members[0].id),
            100,
        )];
        let f = figures(&one, &cfg);
        let t = f.fairness.iter().find(|x| x.team == team.id).unwrap();
        let expected = members[0].weight / total_w;
        assert!((t.score.unwrap() - expected).abs() < 1e-9, "{t:?}");
        // Account-owner leads are not rotation turns and do not count.
        let acct = vec![group(
            "hot",
            "account_owner",
            Some(&team.id),
            Some(&members[0].id),
            100,
        )];
        let f = figures(&acct, &cfg);
        let t = f.fairness.iter().find(|x| x.team == team.id).unwrap();
        assert_eq!(t.leads, 0);
        assert_eq!(t.score, None);
    }

    #[test]
    fn speed_quantiles_from_histogram() {
        // 98 leads at 300 µs, 2 at 20 ms: p50 is in 300 µs's bucket, p99 in 20 ms's.
        let rows = vec![
            SpeedRow {
                day: 0,
                bucket: speed_bucket(300),
                n: 98,
            },
            SpeedRow {
                day: 0,
                bucket: speed_bucket(20_000),
                n: 2,
            },
        ];
        let p50 = speed_quantile(&rows, 0.5).unwrap();
        let p99 = speed_quantile(&rows, 0.99).unwrap();
        assert!(p50 > 300e-6 && p50 < 300e-6 * 1.19, "{p50}");
        assert!(p99 > 20e-3 && p99 < 20e-3 * 1.19, "{p99}");
        assert_eq!(speed_quantile(&[], 0.5), None);
    }

    #[test]
    fn days_fill_every_day() {
        let day = leadrouter_store::reporting::DAY_US;
        let daily = vec![DailyRow {
            day: day * 3,
            tier: "warm".into(),
            path: "segment".into(),
            leads: 7,
            assigned: 7,
            fallbacks: 1,
            assign_us_sum: 7000,
        }];
        let d = days(&daily, &[], day * 2, day * 4);
        assert_eq!(d.len(), 3);
        assert_eq!(d[0].leads, 0);
        assert_eq!(d[1].by_tier, [0, 7, 0]);
        assert_eq!(d[1].fallbacks, 1);
    }

    #[test]
    fn durations_read_naturally() {
        assert_eq!(duration_text(0.000_412), "412 µs");
        assert_eq!(duration_text(0.0032), "3.2 ms");
        assert_eq!(duration_text(48.0), "48 s");
        assert_eq!(duration_text(720.0), "12 min");
        assert_eq!(duration_text(18_360.0), "5 h 6 min");
    }
}
