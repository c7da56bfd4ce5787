//! Conflicts between matrix rules, in precedence order: rules that can never match (an
//! earlier rule accepts every lead they would), overlaps decided only by file order, and
//! segment rules whose priority lets them beat a territory rule (against ASG-1).

use super::{Finding, Severity};
use crate::config::{CompiledConfig, Dim, Layer, Rule, postal_matches};

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

pub(super) fn shadowed_and_overlapping(cfg: &CompiledConfig, out: &mut Vec<Finding>) {
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
                rule: Some(b.id.clone()),
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
                    rule: Some(b.id.clone()),
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
                    "territory rule {} ({}, priority {})",
                    rules[first].id, rules[first].origin, rules[first].priority
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
        // A warning: the priority overturns the hierarchy (ASG-1) for these leads, which
        // is easy to do by accident when priorities are set for other reasons. A rule
        // declared `overrides_territory` says it is meant: a note keeps it visible.
        out.push(Finding {
            severity: if a.overrides_territory {
                Severity::Note
            } else {
                Severity::Warning
            },
            kind: "segment-outranks-territory",
            location: Some(a.origin.to_string()),
            rule: Some(a.id.clone()),
            message: format!(
                "segment rule {} (priority {}) outranks {whom}: leads that match both go to {}, not by territory",
                a.id,
                a.priority,
                cfg.target_label(a.target)
            ),
            fix: Some(if a.overrides_territory {
                format!(
                    "declared with overrides_territory; if territory should win after all (ASG-1), remove it and give {fix_whom} a priority of at least {}",
                    a.priority
                )
            } else {
                format!(
                    "if territory should win (ASG-1), give {fix_whom} a priority of at least {} (at equal priority territory comes first); if {} is meant to win, set overrides_territory on it",
                    a.priority, a.id
                )
            }),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::analysis::fixture::{BASE, cfg, kinds};
    use crate::analysis::{Severity, analyze};

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
    fn a_segment_rule_that_outranks_a_territory_rule_is_a_warning() {
        let rules = "\n[[rule]]\nid = \"emea\"\nregion = [\"EMEA\"]\nroute_to = \"team:t1\"\n\n[[rule]]\nid = \"enterprise\"\npriority = 5\nsegment = [\"enterprise\"]\nroute_to = \"team:t2\"\n";
        let f = analyze(&cfg(&format!("{BASE}{rules}")));
        let n = f
            .iter()
            .find(|x| x.kind == "segment-outranks-territory")
            .unwrap_or_else(|| panic!("{f:?}"));
        assert_eq!(n.severity, Severity::Warning);
        // Where the segment rule is, and where the territory rule it beats is.
        assert_eq!(n.location.as_deref(), Some("t.toml:26"));
        assert_eq!(
            n.message,
            "segment rule enterprise (priority 5) outranks territory rule emea (t.toml:21, priority 0): leads that match both go to team:t2, not by territory"
        );
        assert_eq!(
            n.fix.as_deref(),
            Some(
                "if territory should win (ASG-1), give emea a priority of at least 5 (at equal priority territory comes first); if enterprise is meant to win, set overrides_territory on it"
            )
        );
        // Following the first fix silences it.
        let fixed = rules.replacen(
            "region = [\"EMEA\"]\n",
            "region = [\"EMEA\"]\npriority = 5\n",
            1,
        );
        let f = analyze(&cfg(&format!("{BASE}{fixed}")));
        assert!(!kinds(&f).contains(&"segment-outranks-territory"), "{f:?}");
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
        // Declared on purpose (`overrides_territory`): still listed, as a note.
        let meant = rules.replacen(
            "priority = 5\n",
            "priority = 5\noverrides_territory = true\n",
            1,
        );
        let f = analyze(&cfg(&format!("{BASE}{meant}")));
        let n = f
            .iter()
            .find(|x| x.kind == "segment-outranks-territory")
            .unwrap_or_else(|| panic!("{f:?}"));
        assert_eq!(n.severity, Severity::Note, "{f:?}");
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
