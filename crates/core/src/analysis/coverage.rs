//! Coverage gaps (OPS-2): combinations of the values the matrix mentions (plus "anything
//! else" and "unknown") that no rule matches, asked of the same rule index the engine
//! uses, merged into as few lines as possible.

use super::{Finding, MAX_COMBINATIONS, MAX_GAPS_LISTED, Severity};
use crate::config::{CompiledConfig, Dim, Tier};
use std::collections::{BTreeMap, BTreeSet};

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

pub(super) fn coverage(cfg: &CompiledConfig, out: &mut Vec<Finding>) {
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
            rule: None,
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
        rule: None,
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
    use crate::analysis::fixture::{BASE, cfg, kinds};
    use crate::analysis::{Severity, analyze};

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
}
