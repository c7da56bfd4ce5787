//! Static analysis of a compiled config (OPS-2), run by `leadrouter check` and shown in the
//! console: coverage gaps in the matrix, shadowed rules, overlapping rules with no
//! tiebreaker, inactive or missing people on routing paths, teams nobody can staff.
//!
//! Gaps are found by enumerating the values the matrix itself mentions on each dimension
//! (plus "anything else" and "unknown") and asking the same rule index the engine uses.

use crate::config::{CompiledConfig, Dim, Layer, Rule, Target, Tier, postal_matches};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    Warning,
    Note,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub severity: Severity,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let sev = match self.severity {
            Severity::Warning => "warning",
            Severity::Note => "note",
        };
        write!(f, "{sev}[{}]: ", self.kind)?;
        if let Some(l) = &self.location {
            write!(f, "{l}: ")?;
        }
        write!(f, "{}", self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n    fix: {fix}")?;
        }
        Ok(())
    }
}

/// Most coverage combinations examined before the analysis reports it stopped.
pub const MAX_COMBINATIONS: usize = 500_000;
/// Most gaps listed one by one.
pub const MAX_GAPS_LISTED: usize = 40;

pub fn analyze(cfg: &CompiledConfig) -> Vec<Finding> {
    let mut out = Vec::new();
    people(cfg, &mut out);
    shadowed_and_overlapping(cfg, &mut out);
    coverage(cfg, &mut out);
    out
}

fn people(cfg: &CompiledConfig, out: &mut Vec<Finding>) {
    for t in &cfg.teams {
        let active = t.members.iter().filter(|r| cfg.rep(**r).active).count();
        if active == 0 {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "team-without-active-rep",
                location: Some(t.origin.to_string()),
                message: format!(
                    "team {} has no active member: every lead sent there overflows to {}",
                    t.id,
                    cfg.target_label(t.overflow)
                ),
                fix: Some(
                    "add active reps (rep.team or team.members) or stop routing to it".into(),
                ),
            });
        }
        if let Some(l) = t.lead
            && !cfg.rep(l).active
        {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "inactive-team-lead",
                location: Some(t.origin.to_string()),
                message: format!("team {} lead {} is inactive", t.id, cfg.rep(l).id),
                fix: Some("name an active team lead".into()),
            });
        }
    }
    for r in &cfg.reps {
        if let Some(b) = r.backup
            && r.active
            && !cfg.rep(b).active
        {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "inactive-backup",
                location: Some(r.origin.to_string()),
                message: format!("rep {} has inactive backup {}", r.id, cfg.rep(b).id),
                fix: Some("name an active backup".into()),
            });
        }
    }
    for rule in &cfg.rules {
        if let Target::Rep(r) = rule.target
            && !cfg.rep(r).active
        {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "rule-to-inactive-rep",
                location: Some(rule.origin.to_string()),
                message: format!(
                    "rule {} routes to inactive rep {}: its leads always take the fallback",
                    rule.id,
                    cfg.rep(r).id
                ),
                fix: Some("route the rule to an active rep or to a team".into()),
            });
        }
    }
    let mut by_owner: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in &cfg.accounts {
        if let Some(o) = a.owner
            && !cfg.rep(o).active
        {
            by_owner.entry(&cfg.rep(o).id).or_default().push(&a.domain);
        }
    }
    for (owner, domains) in by_owner {
        let shown: Vec<&str> = domains.iter().take(10).copied().collect();
        out.push(Finding {
            severity: Severity::Warning,
            kind: "account-owner-inactive",
            location: None,
            message: format!(
                "{} account(s) owned by inactive rep {owner}: {}{}",
                domains.len(),
                shown.join(", "),
                if domains.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            ),
            fix: Some(
                "reassign these accounts (ACC-4); until then they go to the owner's backup".into(),
            ),
        });
    }
    let unowned = cfg.accounts.iter().filter(|a| a.owner.is_none()).count();
    if unowned > 0 {
        out.push(Finding {
            severity: Severity::Note,
            kind: "account-without-owner",
            location: None,
            message: format!("{unowned} account(s) have no owner and route by the matrix"),
            fix: None,
        });
    }
}

/// A rule's conditions with the regions its countries imply filled in, so "country = DE"
/// is seen to lie inside "region = EMEA" and outside "region = AMER".
fn effective(cfg: &CompiledConfig, r: &Rule) -> [Vec<String>; 9] {
    let mut c = r.conds.clone();
    if c[Dim::Region as usize].is_empty() && !c[Dim::Country as usize].is_empty() {
        let mut regions: Vec<String> = c[Dim::Country as usize]
            .iter()
            .filter_map(|k| cfg.geo.region(k).map(str::to_string))
            .collect();
        regions.sort();
        regions.dedup();
        c[Dim::Region as usize] = regions;
    }
    c
}

/// `b`'s condition on `d` is contained in `a`'s (every value `b` accepts, `a` accepts).
fn covers(a: &[Vec<String>; 9], b: &[Vec<String>; 9], d: Dim) -> bool {
    let (ca, cb) = (&a[d as usize], &b[d as usize]);
    if ca.is_empty() {
        return true;
    }
    if cb.is_empty() {
        return false;
    }
    cb.iter().all(|v| {
        if d == Dim::PostalCode {
            let vb = v.trim_end_matches('*');
            ca.iter().any(|p| {
                if v.ends_with('*') {
                    p.ends_with('*') && vb.starts_with(p.trim_end_matches('*'))
                } else {
                    postal_matches(p, v)
                }
            })
        } else {
            ca.contains(v)
        }
    })
}

fn intersects(a: &[Vec<String>; 9], b: &[Vec<String>; 9], d: Dim) -> bool {
    let (ca, cb) = (&a[d as usize], &b[d as usize]);
    if ca.is_empty() || cb.is_empty() {
        return true;
    }
    if d == Dim::PostalCode {
        return ca.iter().any(|x| {
            cb.iter().any(|y| {
                let (px, py) = (x.trim_end_matches('*'), y.trim_end_matches('*'));
                match (x.ends_with('*'), y.ends_with('*')) {
                    (true, true) => px.starts_with(py) || py.starts_with(px),
                    (true, false) => py.starts_with(px),
                    (false, true) => px.starts_with(py),
                    (false, false) => x == y,
                }
            })
        });
    }
    ca.iter().any(|v| cb.contains(v))
}

/// Territory rules listed by name in one `segment-outranks-territory` note.
const OUTRANKED_LISTED: usize = 8;

fn shadowed_and_overlapping(cfg: &CompiledConfig, out: &mut Vec<Finding>) {
    let rules = &cfg.rules;
    let eff: Vec<[Vec<String>; 9]> = rules.iter().map(|r| effective(cfg, r)).collect();
    // Per segment rule: the territory rules it outranks by priority, with a different
    // target, on leads both match (one note per segment rule).
    let mut outranked: Vec<Vec<usize>> = vec![Vec::new(); rules.len()];
    for (j, b) in rules.iter().enumerate() {
        // Rules are in precedence order: only earlier rules can shadow a later one.
        if let Some(a) = rules[..j]
            .iter()
            .enumerate()
            .find(|(i, _)| Dim::ALL.iter().all(|d| covers(&eff[*i], &eff[j], *d)))
            .map(|(_, a)| a)
        {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "shadowed-rule",
                location: Some(b.origin.to_string()),
                message: format!(
                    "rule {} can never match: rule {} ({}, priority {}) matches every lead it would",
                    b.id, a.id, a.origin, a.priority
                ),
                fix: Some(format!(
                    "remove rule {}, narrow rule {}, or give {} a higher priority",
                    b.id, a.id, b.id
                )),
            });
            continue;
        }
        for (i, a) in rules[..j].iter().enumerate() {
            if a.layer == Layer::Segment
                && b.layer == Layer::Territory
                && a.priority > b.priority
                && a.target != b.target
                && Dim::ALL.iter().all(|d| intersects(&eff[i], &eff[j], *d))
            {
                outranked[i].push(j);
            }
            if a.priority == b.priority
                && a.layer == b.layer
                && a.specificity == b.specificity
                && a.target != b.target
                && Dim::ALL.iter().all(|d| intersects(&eff[i], &eff[j], *d))
            {
                out.push(Finding {
                    severity: Severity::Warning,
                    kind: "overlapping-rules",
                    location: Some(b.origin.to_string()),
                    message: format!(
                        "rules {} ({}) and {} overlap at priority {} with different targets; {} wins only by file order",
                        a.id, a.origin, b.id, b.priority, a.id
                    ),
                    fix: Some(
                        "give one of them a higher priority, or make them disjoint (the tiebreaker must be explicit)"
                            .into(),
                    ),
                });
            }
        }
    }
    for (i, over) in outranked.iter().enumerate() {
        let Some(&first) = over.first() else { continue };
        let a = &rules[i];
        let (whom, fix_whom) = match over.as_slice() {
            [_] => (
                format!(
                    "territory rule {} (priority {})",
                    rules[first].id, rules[first].priority
                ),
                rules[first].id.clone(),
            ),
            _ => {
                let mut names: Vec<&str> = over
                    .iter()
                    .take(OUTRANKED_LISTED)
                    .map(|&j| rules[j].id.as_str())
                    .collect();
                if over.len() > OUTRANKED_LISTED {
                    names.push("…");
                }
                (
                    format!("{} territory rules ({})", over.len(), names.join(", ")),
                    "those rules".to_string(),
                )
            }
        };
        out.push(Finding {
            severity: Severity::Note,
            kind: "segment-outranks-territory",
            location: Some(a.origin.to_string()),
            message: format!(
                "segment rule {} (priority {}) outranks {whom}: leads that match both go to {}, not by territory",
                a.id,
                a.priority,
                cfg.target_label(a.target)
            ),
            fix: Some(format!(
                "if territory should win (ASG-1), give {fix_whom} a priority of at least {}",
                a.priority
            )),
        });
    }
}

/// A value on one dimension used for coverage: a concrete value, "other" (something the
/// matrix never names) or unknown (missing on the lead).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Probe {
    Value(String),
    Other,
    Unknown,
}

impl Probe {
    fn as_value(&self) -> Option<&str> {
        match self {
            Probe::Value(v) => Some(v),
            // A value no rule names: any string that no condition lists.
            Probe::Other => Some("\u{0}other"),
            Probe::Unknown => None,
        }
    }

    fn label(&self) -> String {
        match self {
            Probe::Value(v) => v.clone(),
            Probe::Other => "(other)".into(),
            Probe::Unknown => "(unknown)".into(),
        }
    }
}

#[derive(Clone)]
struct GeoPoint {
    region: Probe,
    country: Probe,
    state: Probe,
    postal: Probe,
}

impl GeoPoint {
    fn region_label(&self) -> String {
        format!("region={}", self.region.label())
    }

    fn label(&self) -> String {
        let mut s = self.region_label();
        for (name, p) in [
            ("country", &self.country),
            ("state", &self.state),
            ("postal_code", &self.postal),
        ] {
            if *p != Probe::Unknown {
                s.push_str(&format!(" {name}={}", p.label()));
            }
        }
        s
    }
}

fn coverage(cfg: &CompiledConfig, out: &mut Vec<Finding>) {
    let mentioned = |d: Dim| -> BTreeSet<String> {
        cfg.rules
            .iter()
            .flat_map(|r| r.cond(d).iter().cloned())
            .collect()
    };
    let segments: Vec<Probe> = cfg
        .segments
        .iter()
        .map(|s| Probe::Value(s.name.clone()))
        .chain([Probe::Unknown])
        .collect();
    let industries: Vec<Probe> = mentioned(Dim::Industry)
        .into_iter()
        .map(Probe::Value)
        .chain([Probe::Other, Probe::Unknown])
        .collect();
    let simple = |d: Dim| -> Vec<Probe> {
        let m = mentioned(d);
        if m.is_empty() {
            vec![Probe::Unknown]
        } else {
            m.into_iter()
                .map(Probe::Value)
                .chain([Probe::Other, Probe::Unknown])
                .collect()
        }
    };
    let products = simple(Dim::Product);
    let sources = simple(Dim::LeadSource);
    let tiers: Vec<Probe> = if mentioned(Dim::Tier).is_empty() {
        vec![Probe::Value("standard".into())]
    } else {
        Tier::ALL
            .iter()
            .map(|t| Probe::Value(t.name().into()))
            .collect()
    };
    let geo = geo_points(cfg);

    let total = segments.len()
        * industries.len()
        * geo.len()
        * products.len()
        * sources.len()
        * tiers.len();
    if total > MAX_COMBINATIONS {
        out.push(Finding {
            severity: Severity::Note,
            kind: "coverage-skipped",
            location: None,
            message: format!(
                "coverage analysis skipped: {total} combinations of matrix values exceed {MAX_COMBINATIONS}"
            ),
            fix: None,
        });
        return;
    }
    // Rows of six columns: segment, industry, geography, product, lead source, tier.
    let geo_labels: Vec<String> = geo.iter().map(GeoPoint::label).collect();
    let mut gaps: Vec<[String; 6]> = Vec::new();
    for s in &segments {
        for i in &industries {
            // Leads with neither size nor industry go to qualification before the matrix.
            if cfg.routing.route_unknown_firmographics
                && *s == Probe::Unknown
                && *i == Probe::Unknown
            {
                continue;
            }
            for (gi, g) in geo.iter().enumerate() {
                for p in &products {
                    for src in &sources {
                        for t in &tiers {
                            let probe =
                                [s, i, &g.region, &g.country, &g.state, &g.postal, p, src, t];
                            let values = probe.map(Probe::as_value);
                            let c = cfg.rule_index.candidates(&values);
                            if c.iter().all(|w| *w == 0) {
                                gaps.push([
                                    format!("segment={}", s.label()),
                                    format!("industry={}", i.label()),
                                    geo_labels[gi].clone(),
                                    format!("product={}", p.label()),
                                    format!("lead_source={}", src.label()),
                                    format!("tier={}", t.label()),
                                ]);
                            }
                        }
                    }
                }
            }
        }
    }
    if gaps.is_empty() {
        return;
    }
    let dest = match cfg.routing.default_team {
        Some(t) => format!("the default team {}", cfg.team(t).id),
        None => format!(
            "the catch-all queue {}",
            cfg.queue_name(cfg.queue(crate::config::QueueRole::CatchAll))
        ),
    };
    let severity = if cfg.routing.default_team.is_some() {
        Severity::Note
    } else {
        Severity::Warning
    };
    let n = gaps.len();
    // Geography merges by region first: every point of a region → "region=R".
    let mut region_points: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for g in &geo {
        region_points
            .entry(g.region_label())
            .or_default()
            .insert(g.label());
    }
    let mut rows: Vec<[String; 6]> = Vec::new();
    let mut grouped: BTreeMap<[String; 6], BTreeSet<String>> = BTreeMap::new();
    for g in gaps {
        let region = geo
            .iter()
            .find(|p| p.label() == g[2])
            .map(GeoPoint::region_label)
            .unwrap_or_default();
        let mut key = g.clone();
        key[2] = region;
        grouped.entry(key).or_default().insert(g[2].clone());
    }
    for (key, labels) in grouped {
        if region_points.get(&key[2]) == Some(&labels) {
            rows.push(key);
        } else {
            for l in labels {
                let mut k = key.clone();
                k[2] = l;
                rows.push(k);
            }
        }
    }
    let mut geo_domain: BTreeSet<String> = region_points.keys().cloned().collect();
    geo_domain.extend(geo_labels.iter().cloned());
    let domains: [BTreeSet<String>; 6] = [
        segments
            .iter()
            .map(|p| format!("segment={}", p.label()))
            .collect(),
        industries
            .iter()
            .map(|p| format!("industry={}", p.label()))
            .collect(),
        region_points.keys().cloned().collect(),
        products
            .iter()
            .map(|p| format!("product={}", p.label()))
            .collect(),
        sources
            .iter()
            .map(|p| format!("lead_source={}", p.label()))
            .collect(),
        tiers
            .iter()
            .map(|p| format!("tier={}", p.label()))
            .collect(),
    ];
    let collapsed = collapse(rows, &domains);
    let mut lines: Vec<String> = collapsed
        .iter()
        .take(MAX_GAPS_LISTED)
        .map(|g| {
            let parts: Vec<&str> = g.iter().map(String::as_str).filter(|v| *v != "*").collect();
            format!(
                "    - {}",
                if parts.is_empty() {
                    "(any lead)".into()
                } else {
                    parts.join(" ")
                }
            )
        })
        .collect();
    if collapsed.len() > MAX_GAPS_LISTED {
        lines.push(format!(
            "    … and {} more",
            collapsed.len() - MAX_GAPS_LISTED
        ));
    }
    out.push(Finding {
        severity,
        kind: "coverage-gap",
        location: None,
        message: format!(
            "{n} combination(s) of matrix values match no rule and fall through to {dest}:\n{}",
            lines.join("\n")
        ),
        fix: Some(
            "add rules (or a broader rule) for these combinations, or accept the fallthrough"
                .into(),
        ),
    });
}

fn geo_points(cfg: &CompiledConfig) -> Vec<GeoPoint> {
    let mut pts: Vec<GeoPoint> = Vec::new();
    let mut push = |p: GeoPoint| {
        if !pts.iter().any(|q| {
            q.region == p.region
                && q.country == p.country
                && q.state == p.state
                && q.postal == p.postal
        }) {
            pts.push(p);
        }
    };
    let region_of = |c: &str| {
        cfg.geo
            .region(c)
            .map(|r| Probe::Value(r.to_string()))
            .unwrap_or(Probe::Unknown)
    };
    let mut regions: BTreeSet<String> = cfg.geo.regions().into_iter().map(str::to_string).collect();
    regions.extend(
        cfg.rules
            .iter()
            .flat_map(|r| r.cond(Dim::Region).iter().cloned()),
    );
    for r in regions {
        push(GeoPoint {
            region: Probe::Value(r),
            country: Probe::Other,
            state: Probe::Unknown,
            postal: Probe::Unknown,
        });
    }
    push(GeoPoint {
        region: Probe::Unknown,
        country: Probe::Unknown,
        state: Probe::Unknown,
        postal: Probe::Unknown,
    });
    for rule in &cfg.rules {
        for c in rule.cond(Dim::Country) {
            let base = GeoPoint {
                region: region_of(c),
                country: Probe::Value(c.clone()),
                state: Probe::Unknown,
                postal: Probe::Unknown,
            };
            push(base.clone());
            for s in rule.cond(Dim::State) {
                push(GeoPoint {
                    state: Probe::Value(s.clone()),
                    ..base.clone()
                });
                push(GeoPoint {
                    state: Probe::Other,
                    ..base.clone()
                });
                for p in rule.cond(Dim::PostalCode) {
                    push(GeoPoint {
                        state: Probe::Value(s.clone()),
                        postal: Probe::Value(p.trim_end_matches('*').to_string()),
                        ..base.clone()
                    });
                }
            }
        }
    }
    pts
}

/// Merge rows that, with every other column equal, cover a column's whole domain into
/// one row with "*" there; column by column.
fn collapse(rows: Vec<[String; 6]>, domains: &[BTreeSet<String>; 6]) -> Vec<[String; 6]> {
    let mut rows = rows;
    for d in (0..6).rev() {
        let mut groups: BTreeMap<[String; 6], BTreeSet<String>> = BTreeMap::new();
        for r in &rows {
            let mut key = r.clone();
            key[d] = String::new();
            groups.entry(key).or_default().insert(r[d].clone());
        }
        let mut next = Vec::new();
        for (key, vals) in groups {
            let missing: Vec<&String> = domains[d].difference(&vals).collect();
            if missing.is_empty() {
                let mut k = key;
                k[d] = "*".into();
                next.push(k);
            } else if vals.len() >= 2 && missing.len() <= 3 {
                // "every value but these": the values some rule always catches.
                let name = missing[0].split('=').next().unwrap_or("?");
                let list: Vec<&str> = missing
                    .iter()
                    .map(|m| m.split_once('=').map(|x| x.1).unwrap_or(m))
                    .collect();
                let mut k = key;
                k[d] = format!("{name}∉{{{}}}", list.join(","));
                next.push(k);
            } else {
                for v in vals {
                    let mut k = key.clone();
                    k[d] = v;
                    next.push(k);
                }
            }
        }
        rows = next;
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{LoadError, SourceText, compile::compile};

    fn cfg(toml: &str) -> CompiledConfig {
        compile(SourceText::new("t.toml", toml), &|p: &str| {
            Err(LoadError::Io {
                path: p.into(),
                source: std::io::Error::other("no files in this test"),
            })
        })
        .expect("config compiles")
    }

    const BASE: &str = r#"
[[rep]]
id = "a"
name = "A"
team = "t1"
[[rep]]
id = "b"
name = "B"
team = "t2"
[[rep]]
id = "gone"
name = "Gone"
active = false
[[team]]
id = "t1"
[[team]]
id = "t2"
[[team]]
id = "empty"
"#;

    fn kinds(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|x| x.kind).collect()
    }

    #[test]
    fn shadowed_rule_is_reported_with_both_locations() {
        let c = cfg(&format!(
            "{BASE}\n[[rule]]\nid = \"broad\"\npriority = 10\nregion = [\"EMEA\"]\nroute_to = \"team:t1\"\n\n[[rule]]\nid = \"narrow\"\nregion = [\"EMEA\"]\ncountry = [\"DE\"]\nroute_to = \"team:t2\"\n"
        ));
        let f = analyze(&c);
        let s = f
            .iter()
            .find(|x| x.kind == "shadowed-rule")
            .expect("shadowed");
        assert!(
            s.message.contains("rule narrow can never match"),
            "{}",
            s.message
        );
        assert!(s.message.contains("t.toml:"), "{}", s.message);
    }

    #[test]
    fn overlap_without_tiebreaker_is_reported_and_priority_fixes_it() {
        let rules = "\n[[rule]]\nid = \"by-region\"\nregion = [\"EMEA\"]\nroute_to = \"team:t1\"\n\n[[rule]]\nid = \"by-country\"\ncountry = [\"DE\", \"US\"]\nroute_to = \"team:t2\"\n";
        let f = analyze(&cfg(&format!("{BASE}{rules}")));
        assert!(kinds(&f).contains(&"overlapping-rules"), "{f:?}");
        let fixed = rules.replacen(
            "id = \"by-country\"",
            "id = \"by-country\"\npriority = 5",
            1,
        );
        let f = analyze(&cfg(&format!("{BASE}{fixed}")));
        assert!(!kinds(&f).contains(&"overlapping-rules"), "{f:?}");
    }

    #[test]
    fn a_segment_rule_that_outranks_a_territory_rule_is_noted() {
        let rules = "\n[[rule]]\nid = \"emea\"\nregion = [\"EMEA\"]\nroute_to = \"team:t1\"\n\n[[rule]]\nid = \"enterprise\"\npriority = 5\nsegment = [\"enterprise\"]\nroute_to = \"team:t2\"\n";
        let f = analyze(&cfg(&format!("{BASE}{rules}")));
        let n = f
            .iter()
            .find(|x| x.kind == "segment-outranks-territory")
            .unwrap_or_else(|| panic!("{f:?}"));
        assert_eq!(n.severity, Severity::Note);
        assert_eq!(
            n.message,
            "segment rule enterprise (priority 5) outranks territory rule emea (priority 0): leads that match both go to team:t2, not by territory"
        );
        // One note per segment rule, however many territory rules it outranks.
        let two = format!(
            "{rules}\n[[rule]]\nid = \"apac\"\nregion = [\"APAC\"]\nroute_to = \"team:t1\"\n"
        );
        let f = analyze(&cfg(&format!("{BASE}{two}")));
        let notes: Vec<&Finding> = f
            .iter()
            .filter(|x| x.kind == "segment-outranks-territory")
            .collect();
        assert_eq!(notes.len(), 1, "{f:?}");
        assert!(
            notes[0]
                .message
                .contains("outranks 2 territory rules (emea, apac)"),
            "{}",
            notes[0].message
        );
        // At equal priority territory comes first (ASG-1): nothing to say.
        let equal = rules.replacen("priority = 5\n", "", 1);
        let f = analyze(&cfg(&format!("{BASE}{equal}")));
        assert!(!kinds(&f).contains(&"segment-outranks-territory"), "{f:?}");
        // The same target either way: nothing to say.
        let same = rules.replacen("team:t2", "team:t1", 1);
        let f = analyze(&cfg(&format!("{BASE}{same}")));
        assert!(!kinds(&f).contains(&"segment-outranks-territory"), "{f:?}");
    }

    #[test]
    fn gaps_are_listed_concretely_and_warn_without_default_team() {
        let c = cfg(&format!(
            "{BASE}\n[[rule]]\nid = \"ent\"\nsegment = [\"enterprise\"]\nroute_to = \"team:t1\"\n"
        ));
        let f = analyze(&c);
        let g = f.iter().find(|x| x.kind == "coverage-gap").expect("gap");
        assert_eq!(g.severity, Severity::Warning);
        assert!(g.message.contains("catch-all"), "{}", g.message);
        assert!(
            g.message.contains("segment∉{(unknown),enterprise}"),
            "{}",
            g.message
        );
        // Full coverage: no gap.
        let c = cfg(&format!(
            "{BASE}\n[[rule]]\nid = \"all\"\nroute_to = \"team:t1\"\n"
        ));
        assert!(!kinds(&analyze(&c)).contains(&"coverage-gap"));
    }

    #[test]
    fn people_problems() {
        let c = cfg(&format!(
            "{BASE}\n[[account]]\ndomain = \"globex.com\"\nowner = \"gone\"\n\n[[rule]]\nid = \"r\"\nroute_to = \"rep:gone\"\n"
        ));
        let k = kinds(&analyze(&c));
        assert!(k.contains(&"team-without-active-rep"), "{k:?}");
        assert!(k.contains(&"account-owner-inactive"), "{k:?}");
        assert!(k.contains(&"rule-to-inactive-rep"), "{k:?}");
    }

    #[test]
    fn a_country_inside_an_earlier_region_rule_is_shadowed() {
        let c = cfg(&format!(
            "{BASE}\n[[rule]]\nid = \"emea\"\nregion = [\"EMEA\"]\nroute_to = \"team:t1\"\n\n[[rule]]\nid = \"de\"\ncountry = [\"DE\"]\nroute_to = \"team:t2\"\n\n[[rule]]\nid = \"gb-elsewhere\"\nregion = [\"AMER\"]\nroute_to = \"team:t2\"\n"
        ));
        let f = analyze(&c);
        let shadowed: Vec<&str> = f
            .iter()
            .filter(|x| x.kind == "shadowed-rule")
            .map(|x| x.message.as_str())
            .collect();
        assert_eq!(shadowed.len(), 1, "{f:?}");
        assert!(shadowed[0].starts_with("rule de can never match"), "{f:?}");
        assert!(!kinds(&f).contains(&"overlapping-rules"), "{f:?}");
    }
}
