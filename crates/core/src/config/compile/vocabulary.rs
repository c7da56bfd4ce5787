//! The lead's vocabulary as the config defines it: queues, segments (SEG-1), industries
//! and regions, intent (TIER-1), ICP and scoring (TIER-2), SLA times (TIER-3) and the
//! capacity stage weights (ASG-4).

use super::*;

/// The vocabulary sections, compiled; the people and rule sections refer to them.
pub(super) struct Vocabulary {
    pub queues: Vec<String>,
    pub queue_roles: HashMap<QueueRole, QueueIdx>,
    pub segments: Vec<Segment>,
    pub segment_names: Vec<String>,
    pub industry_alias: HashMap<String, Text>,
    pub geo: Geo,
    pub intent: HashMap<String, Intent>,
    pub icp: Icp,
    pub tier_by_action: Vec<TierByAction>,
    pub scoring: Scoring,
    pub sla: HashMap<(Tier, Option<String>), SlaTimes>,
    pub stage_weights: StageWeights,
}

/// An industry as rules and scoring name it: its canonical name when it is an alias.
pub(super) fn canonical_industry(alias: &HashMap<String, Text>, s: &str) -> String {
    let t = token(s);
    alias.get(&t).map(|c| c.to_string()).unwrap_or(t)
}

impl Compiler<'_> {
    pub(super) fn vocabulary(&mut self, raw: &RawConfig) -> Vocabulary {
        // Queues.
        let q = &raw.queues;
        let mut queues: Vec<String> = Vec::new();
        let mut queue_roles = HashMap::default();
        for (role, name, default) in [
            (QueueRole::CatchAll, &q.catch_all, "catch-all"),
            (QueueRole::Review, &q.review, "review"),
            (QueueRole::Qualification, &q.qualification, "qualification"),
            (QueueRole::Nurture, &q.nurture, "nurture"),
            (QueueRole::Junk, &q.junk, "junk"),
        ] {
            let name = name.clone().unwrap_or_else(|| default.to_string());
            if queues.contains(&name) {
                self.e.at(
                    None,
                    "queues",
                    Some(&name),
                    "two queue roles share one name",
                    Some(
                        "give catch_all, review, qualification, nurture and junk distinct names"
                            .into(),
                    ),
                );
            }
            queue_roles.insert(role, queues.len() as QueueIdx);
            queues.push(name);
        }
        for x in &q.extra {
            if queues.contains(x) {
                self.e
                    .at(None, "queues.extra", Some(x), "queue defined twice", None);
            } else {
                queues.push(x.clone());
            }
        }

        // Segments (SEG-1).
        let mut segments: Vec<Segment> = if raw.segments.is_empty() {
            DEFAULT_SEGMENTS
                .iter()
                .map(|(n, m)| Segment {
                    name: n.to_string(),
                    min_employees: *m,
                })
                .collect()
        } else {
            let mut seen = HashSet::default();
            raw.segments
                .iter()
                .filter_map(|s| {
                    let name = token(&s.get_ref().name);
                    if !seen.insert(name.clone()) {
                        self.e.at(
                            self.line(s.span(), "name"),
                            "segment.name",
                            Some(&name),
                            "segment defined twice",
                            None,
                        );
                        return None;
                    }
                    Some(Segment {
                        name,
                        min_employees: s.get_ref().min_employees,
                    })
                })
                .collect()
        };
        segments.sort_by_key(|s| std::cmp::Reverse(s.min_employees));
        let segment_names: Vec<String> = segments.iter().map(|s| s.name.clone()).collect();

        // Industries and regions.
        let mut industry_alias = HashMap::default();
        for (canon, aliases) in &raw.industries {
            // One shared text per industry: a decision's industry is a clone of it.
            let canon = Text::shared(token(canon));
            industry_alias.insert(canon.to_string(), canon.clone());
            for a in aliases {
                industry_alias.insert(token(a), canon.clone());
            }
        }
        let geo0 = crate::geo::Geo::new(&std::collections::HashMap::new());
        let mut regions: std::collections::HashMap<String, Vec<String>> =
            std::collections::HashMap::new();
        for (region, countries) in &raw.regions {
            for c in countries {
                if geo0.country(c).is_none() {
                    self.e.at(
                        None,
                        format!("regions.{region}"),
                        Some(c),
                        "unknown country",
                        Some("use ISO 3166 alpha-2 codes such as US, DE, SG".into()),
                    );
                }
            }
            regions.insert(region.to_uppercase(), countries.clone());
        }
        let geo = crate::geo::Geo::new(&regions);

        // Intent (TIER-1).
        let mut intent = HashMap::default();
        let high = raw.intent.high.clone().unwrap_or_else(|| {
            vec![
                "demo_request".into(),
                "pricing_inquiry".into(),
                "trial_signup".into(),
            ]
        });
        let medium = raw
            .intent
            .medium
            .clone()
            .unwrap_or_else(|| vec!["content_download".into(), "webinar_registration".into()]);
        for a in medium {
            intent.insert(token(&a), Intent::Medium);
        }
        for a in high {
            intent.insert(token(&a), Intent::High);
        }

        // ICP (TIER-2).
        let icp_segments = match &raw.icp.segments {
            Some(list) => list
                .get_ref()
                .iter()
                .filter_map(|s| {
                    let n = token(s.get_ref());
                    if segment_names.contains(&n) {
                        Some(n)
                    } else {
                        self.e.at(
                            self.line_at(s.span().start),
                            "icp.segments",
                            Some(s.get_ref()),
                            "unknown segment",
                            Some(format!("known segments: {}", segment_names.join(", "))),
                        );
                        None
                    }
                })
                .collect(),
            None => {
                let mut v = segment_names.clone();
                if v.len() > 1 {
                    v.pop();
                }
                v
            }
        };
        let norm_industry = |s: &String| canonical_industry(&industry_alias, s);
        let icp = Icp {
            segments: icp_segments,
            industries: raw
                .icp
                .industries
                .as_ref()
                .map(Spanned::get_ref)
                .filter(|v| !v.is_empty())
                .map(|v| v.iter().map(norm_industry).collect()),
            regions: raw
                .icp
                .regions
                .as_ref()
                .map(|v| v.get_ref().iter().map(|r| r.to_uppercase()).collect()),
            countries: raw.icp.countries.as_ref().map(|v| {
                v.get_ref()
                    .iter()
                    .filter_map(|c| geo.country(c).map(str::to_string))
                    .collect()
            }),
        };

        let tier_by_action = self.tier_by_action(raw, &segment_names);

        // Scoring (TIER-2).
        let pts = |m: &std::collections::BTreeMap<String, i32>, d: &[(&str, i32)]| {
            if m.is_empty() {
                d.iter().map(|(k, v)| (k.to_string(), *v)).collect()
            } else {
                m.iter()
                    .map(|(k, v)| (token(k), *v))
                    .collect::<HashMap<_, _>>()
            }
        };
        let kw = |v: &[RawKeywordPoints]| {
            v.iter()
                .map(|k| {
                    (
                        k.contains
                            .iter()
                            .map(|s| s.get_ref().to_lowercase())
                            .collect(),
                        k.points,
                    )
                })
                .collect()
        };
        let mut industry_points: HashMap<String, i32> = HashMap::default();
        for (k, v) in &raw.scoring.industry {
            industry_points.insert(norm_industry(k), *v);
        }
        let scoring = Scoring {
            nurture_below: raw.scoring.nurture_below.unwrap_or(10),
            segment: pts(
                &raw.scoring.segment,
                &[("enterprise", 30), ("mid_market", 20), ("smb", 10)],
            ),
            industry: industry_points,
            action: pts(
                &raw.scoring.action,
                &[
                    ("demo_request", 30),
                    ("pricing_inquiry", 25),
                    ("trial_signup", 25),
                    ("content_download", 10),
                    ("webinar_registration", 10),
                ],
            ),
            title: kw(&raw.scoring.title),
            page: kw(&raw.scoring.page),
            icp_fit: raw.scoring.icp_fit.unwrap_or(20),
        };

        // SLA (TIER-3).
        let mut sla = HashMap::default();
        for (tier, given, (r, c)) in [
            (Tier::Hot, &raw.sla.hot, ("5m", "5m")),
            (Tier::Warm, &raw.sla.warm, ("15m", "1h")),
            (Tier::Standard, &raw.sla.standard, ("1h", "24h")),
        ] {
            let given = given.clone().unwrap_or_default();
            let base = SlaTimes {
                route_within: dur(r).unwrap_or_default(),
                contact_within: dur(c).unwrap_or_default(),
            };
            let times = self.sla_times(
                &format!("sla.{}", tier.name()),
                base,
                given.route_within.as_ref(),
                given.contact_within.as_ref(),
            );
            sla.insert((tier, None), times);
        }
        for o in &raw.sla.overrides {
            let or = o.get_ref();
            let Some(tier) = Tier::parse(&or.tier) else {
                self.e.at(
                    self.line(o.span(), "tier"),
                    "sla.override.tier",
                    Some(&or.tier),
                    "unknown tier",
                    Some("use hot, warm or standard".into()),
                );
                continue;
            };
            let seg = token(&or.segment);
            if !segment_names.contains(&seg) {
                self.e.at(
                    self.line(o.span(), "segment"),
                    "sla.override.segment",
                    Some(&or.segment),
                    "unknown segment",
                    Some(format!("known segments: {}", segment_names.join(", "))),
                );
                continue;
            }
            let base = sla[&(tier, None)];
            let times = self.sla_times(
                "sla.override",
                base,
                or.route_within.as_ref(),
                or.contact_within.as_ref(),
            );
            sla.insert((tier, Some(seg)), times);
        }

        // Capacity stage weights (ASG-4).
        let stage_weights = StageWeights {
            early: raw.capacity.early.unwrap_or(0.5),
            mid: raw.capacity.mid.unwrap_or(1.0),
            late: raw.capacity.late.unwrap_or(1.5),
        };
        for (n, w) in [
            ("early", stage_weights.early),
            ("mid", stage_weights.mid),
            ("late", stage_weights.late),
        ] {
            if !(w.is_finite() && w >= 0.0) {
                self.e.at(
                    None,
                    format!("capacity.{n}"),
                    Some(&w.to_string()),
                    "stage weight must be a non-negative number",
                    None,
                );
            }
        }
        Vocabulary {
            queues,
            queue_roles,
            segments,
            segment_names,
            industry_alias,
            geo,
            intent,
            icp,
            tier_by_action,
            scoring,
            sla,
            stage_weights,
        }
    }
}

impl Compiler<'_> {
    /// `[[tier_by_action]]`: actions as tokens, segments checked (plus "unknown"), the tier
    /// parsed; each entry labelled with its line for the trace.
    fn tier_by_action(&mut self, raw: &RawConfig, segment_names: &[String]) -> Vec<TierByAction> {
        let mut out = Vec::new();
        for entry in &raw.tier_by_action {
            let e = entry.get_ref();
            let line = self.line_at(entry.span().start).unwrap_or(0);
            if e.actions.is_empty() {
                self.e.at(
                    Some(line),
                    "tier_by_action.actions",
                    None,
                    "no actions listed",
                    Some(
                        "list the actions this tier is for, e.g. actions = [\"demo_request\"]"
                            .into(),
                    ),
                );
            }
            let tier = match Tier::parse(e.tier.get_ref()) {
                Some(t) => t,
                None => {
                    self.e.at(
                        self.line_at(e.tier.span().start),
                        "tier_by_action.tier",
                        Some(e.tier.get_ref()),
                        "unknown tier",
                        Some("use hot, warm or standard".into()),
                    );
                    continue;
                }
            };
            let mut segments = Vec::new();
            for s in &e.segments {
                let t = token(s.get_ref());
                if t != TierByAction::UNKNOWN && !segment_names.contains(&t) {
                    self.e.at(
                        self.line_at(s.span().start),
                        "tier_by_action.segments",
                        Some(s.get_ref()),
                        "unknown segment",
                        Some(format!(
                            "known segments: {}, or \"unknown\" for leads of no known size",
                            segment_names.join(", ")
                        )),
                    );
                }
                segments.push(t);
            }
            let actions: Vec<String> = e.actions.iter().map(|a| token(a.get_ref())).collect();
            let seg = if segments.is_empty() {
                String::new()
            } else {
                format!(" in {}", segments.join("|"))
            };
            let label = format!(
                "{}{seg} → {} ({}:{line})",
                actions.join("|"),
                tier.name(),
                self.e.src.path
            );
            out.push(TierByAction {
                actions,
                segments,
                tier,
                label,
            });
        }
        out
    }
}
