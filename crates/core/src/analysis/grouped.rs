//! Findings summarised for reading: one group per kind, with its count, the first few
//! findings in full and the rules it falls on most. A 2,000-row matrix can have hundreds
//! of thousands of overlaps; `check` prints these groups and leaves the full list to
//! `--verbose` and `--json`.

use super::{Finding, Severity};
use serde::Serialize;
use std::collections::HashMap;

/// All findings of one kind.
#[derive(Debug, Clone, Serialize)]
pub struct Group<'a> {
    pub kind: &'static str,
    pub severity: Severity,
    pub count: usize,
    /// The first findings of the kind, in the analysis' order.
    pub examples: Vec<&'a Finding>,
    /// How many distinct rules the kind's findings name.
    pub rules: usize,
    /// The rules with the most findings of this kind (most first, then first seen), with
    /// their counts; at most `top_rules`.
    pub top_rules: Vec<(&'a str, usize)>,
}

/// Group `findings` by kind: warnings first, then in order of first appearance.
pub fn group(findings: &[Finding], examples: usize, top_rules: usize) -> Vec<Group<'_>> {
    let mut order: Vec<&'static str> = Vec::new();
    // Per kind: the group and, per rule, (findings, order first seen).
    type PerRule<'f> = HashMap<&'f str, (usize, usize)>;
    let mut groups: HashMap<&'static str, (Group<'_>, PerRule<'_>)> = HashMap::new();
    for f in findings {
        let (g, rules) = groups.entry(f.kind).or_insert_with(|| {
            order.push(f.kind);
            (
                Group {
                    kind: f.kind,
                    severity: f.severity,
                    count: 0,
                    examples: Vec::new(),
                    rules: 0,
                    top_rules: Vec::new(),
                },
                HashMap::new(),
            )
        });
        g.count += 1;
        // A kind holding both (a note for a declared override) counts as a warning.
        g.severity = g.severity.min(f.severity);
        if g.examples.len() < examples {
            g.examples.push(f);
        }
        if let Some(r) = f.rule.as_deref() {
            let n = rules.len();
            rules.entry(r).or_insert((0, n)).0 += 1;
        }
    }
    let mut out: Vec<Group<'_>> = order
        .into_iter()
        .filter_map(|k| groups.remove(k))
        .map(|(mut g, rules)| {
            g.rules = rules.len();
            let mut rules: Vec<(&str, usize, usize)> =
                rules.into_iter().map(|(r, (n, i))| (r, n, i)).collect();
            rules.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
            g.top_rules = rules
                .into_iter()
                .take(top_rules)
                .map(|(r, n, _)| (r, n))
                .collect();
            g
        })
        .collect();
    out.sort_by_key(|g| g.severity);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(kind: &'static str, rule: &str, severity: Severity) -> Finding {
        Finding {
            severity,
            kind,
            location: None,
            rule: Some(rule.into()),
            message: format!("{kind} on {rule}"),
            fix: None,
        }
    }

    #[test]
    fn groups_count_every_finding_and_keep_the_first_examples() {
        let mut all = vec![f("a-note", "x", Severity::Note)];
        for i in 0..1000 {
            all.push(f("overlap", &format!("r{}", i % 7), Severity::Warning));
        }
        all.push(f("overlap", "r3", Severity::Warning));
        let g = group(&all, 3, 2);
        assert_eq!(g.len(), 2);
        assert_eq!((g[0].kind, g[0].count, g[0].rules), ("overlap", 1001, 7));
        assert_eq!(g[0].examples.len(), 3);
        assert_eq!(g[0].examples[0].message, "overlap on r0");
        // r0..r5 have 143 each (1000 = 142*7 + 6), r3 one more.
        assert_eq!(g[0].top_rules, vec![("r3", 144), ("r0", 143)]);
        assert_eq!((g[1].kind, g[1].count), ("a-note", 1));
    }
}
