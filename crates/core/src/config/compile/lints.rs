//! Values that compile but can never do what they say, found while the source spans are
//! at hand and kept as warnings for `check` ([`CompiledConfig::lints`]): an ICP nothing
//! can fit, scoring keywords with stray spaces, and matrix values no normalised lead can
//! equal (a state none of the rule's countries has, a country outside the rule's regions,
//! a postal code normalisation empties, an industry outside `[industries]`).

use super::tables::RuleSpec;
use super::vocabulary::Vocabulary;
use super::*;
use crate::analysis::{Finding, Severity};

/// Kinds, as `check` groups them.
const ICP: &str = "icp-never-fits";
const KEYWORD: &str = "keyword-spaces";
const NEVER: &str = "value-never-matches";

impl Compiler<'_> {
    fn lint(
        &mut self,
        kind: &'static str,
        at: (&str, usize),
        rule: Option<&str>,
        message: String,
        fix: String,
    ) {
        self.lints.push(Finding {
            severity: Severity::Warning,
            kind,
            location: Some(format!("{}:{}", at.0, at.1)),
            rule: rule.map(str::to_string),
            message,
            fix: Some(fix),
        });
    }

    /// `[icp]` and `[scoring]` keywords.
    pub(super) fn lint_vocabulary(&mut self, raw: &RawConfig, v: &Vocabulary) {
        let file = self.e.src.path.clone();
        let icp = &raw.icp;
        if let Some(list) = &icp.segments
            && list.get_ref().is_empty()
        {
            let line = self.e.src.line_of(list.span().start);
            self.lint(
                ICP,
                (&file, line),
                None,
                "[icp] segments = [] : no lead can fit the ICP, so no lead is hot and `icp_fit` points are never given".into(),
                format!(
                    "list the segments that fit (known: {}), or remove the key to count every segment but the smallest",
                    v.segment_names.join(", ")
                ),
            );
        }
        for (key, list) in [("regions", &icp.regions), ("countries", &icp.countries)] {
            let Some(list) = list else { continue };
            let line = self.e.src.line_of(list.span().start);
            if list.get_ref().is_empty() {
                self.lint(
                    ICP,
                    (&file, line),
                    None,
                    format!("[icp] {key} = [] : no lead can fit the ICP"),
                    format!(
                        "list the {key} that fit, or remove the key to leave them out of the ICP"
                    ),
                );
                continue;
            }
            for value in list.get_ref() {
                let known = match key {
                    "regions" => v
                        .geo
                        .regions()
                        .contains(value.trim().to_uppercase().as_str()),
                    _ => v.geo.country(value).is_some(),
                };
                if !known {
                    let fix = if key == "regions" {
                        format!(
                            "known regions: {}",
                            v.geo.regions().into_iter().collect::<Vec<_>>().join(", ")
                        )
                    } else {
                        "use ISO 3166 alpha-2 codes such as US, DE, SG".to_string()
                    };
                    self.lint(
                        NEVER,
                        (&file, line),
                        None,
                        format!(
                            "[icp] {key}: `{value}` is not a known {}; no lead matches it",
                            &key[..key.len() - 1]
                        ),
                        fix,
                    );
                }
            }
        }
        if let Some(list) = &icp.industries {
            let line = self.e.src.line_of(list.span().start);
            for value in list.get_ref() {
                if let Some(fix) = unknown_industry(v, value) {
                    self.lint(
                        NEVER,
                        (&file, line),
                        None,
                        format!("[icp] industries: `{value}` is not one of the [industries] names; only a lead whose industry is written exactly so fits"),
                        fix,
                    );
                }
            }
        }
        for (table, groups) in [("title", &raw.scoring.title), ("page", &raw.scoring.page)] {
            for k in groups {
                for w in &k.contains {
                    let word = w.get_ref();
                    let line = self.e.src.line_of(w.span().start);
                    let message = if word.trim().is_empty() {
                        format!(
                            "[[scoring.{table}]] keyword `{word}` is blank: it matches every {table} and gives {} points to all",
                            k.points
                        )
                    } else if word.trim() != word {
                        let end = match (
                            word.starts_with(char::is_whitespace),
                            word.ends_with(char::is_whitespace),
                        ) {
                            (true, true) => "leading and trailing spaces",
                            (true, false) => "a leading space",
                            _ => "a trailing space",
                        };
                        format!(
                            "[[scoring.{table}]] keyword `{word}` has {end}: it does not match `{}` at the start or end of a {table}, nor next to punctuation",
                            word.trim()
                        )
                    } else {
                        continue;
                    };
                    self.lint(
                        KEYWORD,
                        (&file, line),
                        None,
                        message,
                        format!("write \"{}\" (keywords match anywhere inside the text, case-insensitively)", word.trim()),
                    );
                }
            }
        }
    }

    /// One matrix rule's values, normalised (`conds`) and as written (`spec`).
    pub(super) fn lint_rule(&mut self, spec: &RuleSpec, conds: &[Vec<String>; 9], v: &Vocabulary) {
        let at = (spec.file.as_str(), spec.line);
        let id = spec.id.as_str();
        let geo = &v.geo;
        let countries: Vec<&'static str> = spec.conds[Dim::Country as usize]
            .iter()
            .filter_map(|c| geo.country(c))
            .collect();
        // A state none of the rule's countries has; a state name where codes are compared.
        for raw in &spec.conds[Dim::State as usize] {
            let everywhere = geo.subdivision_anywhere(raw);
            let where_ = || {
                let list: Vec<String> = everywhere
                    .iter()
                    .take(4)
                    .map(|(c, code)| format!("{code} in {c}"))
                    .collect();
                if list.is_empty() {
                    "it is not a state or province of any country".to_string()
                } else {
                    format!("it is {}", list.join(", "))
                }
            };
            let message = match countries.as_slice() {
                [] if everywhere.is_empty() => format!(
                    "rule {id}: state `{raw}` is not a state or province of any country; no lead with a known country matches it"
                ),
                [] if !everywhere
                    .iter()
                    .any(|(_, code)| code.eq_ignore_ascii_case(raw.trim())) =>
                {
                    format!(
                        "rule {id}: state `{raw}` is a name, but a lead's state is compared as its code once its country is known ({}); only leads that give no country match",
                        where_()
                    )
                }
                [] => continue,
                cs if !cs.iter().any(|c| geo.subdivision(c, raw).is_some()) => format!(
                    "rule {id}: state `{raw}` is not a state or province of {} ({}); no lead can match",
                    cs.join(" or "),
                    where_()
                ),
                [_] => continue,
                cs if !cs.iter().any(|c| {
                    geo.subdivision(c, raw)
                        .is_some_and(|code| code.eq_ignore_ascii_case(raw.trim()))
                }) =>
                {
                    format!(
                        "rule {id}: state `{raw}` is a name; with several countries on the rule it is compared as written, but leads' states are codes, so no lead can match"
                    )
                }
                _ => continue,
            };
            self.lint(
                NEVER,
                at,
                Some(id),
                message,
                "write the state's ISO 3166-2 code (CA, NY, ON, BY…) and name its country on the rule".into(),
            );
        }
        // A country outside every region the rule names.
        let regions = &conds[Dim::Region as usize];
        if !regions.is_empty() {
            for c in &countries {
                let r = geo.region(c).unwrap_or("?");
                if !regions.iter().any(|x| x == r) {
                    self.lint(
                        NEVER,
                        at,
                        Some(id),
                        format!(
                            "rule {id}: country {c} is in region {r}, not in the rule's region {}; no lead from {c} matches",
                            regions.join("|")
                        ),
                        format!("remove the region condition (the country implies it), or add {r} to it"),
                    );
                }
            }
        }
        // Postal codes normalisation empties, and US ZIP+4 codes (leads' are cut to 5).
        for (raw, n) in spec.conds[Dim::PostalCode as usize]
            .iter()
            .zip(&conds[Dim::PostalCode as usize])
        {
            let us = countries.is_empty() || countries.contains(&"US");
            if n.is_empty() {
                self.lint(
                    NEVER,
                    at,
                    Some(id),
                    format!(
                        "rule {id}: postal code `{raw}` has no letters or digits; no lead can match"
                    ),
                    "write the code (\"94105\") or a prefix ending in * (\"94*\")".into(),
                );
            } else if us && n.len() == 9 && n.bytes().all(|b| b.is_ascii_digit()) {
                self.lint(
                    NEVER,
                    at,
                    Some(id),
                    format!("rule {id}: postal code `{raw}` is a ZIP+4, but US leads are compared by their 5-digit ZIP; no US lead matches"),
                    format!("write \"{}\"", &n[..5]),
                );
            }
        }
        for raw in &spec.conds[Dim::Industry as usize] {
            if let Some(fix) = unknown_industry(v, raw) {
                self.lint(
                    NEVER,
                    at,
                    Some(id),
                    format!("rule {id}: industry `{raw}` is not one of the [industries] names or aliases; only a lead whose industry is written exactly so matches"),
                    fix,
                );
            }
        }
    }
}

/// The fix for an industry that is neither a canonical name nor an alias, when the
/// config defines `[industries]` (without the table every folded value is an industry).
fn unknown_industry(v: &Vocabulary, value: &str) -> Option<String> {
    if v.industry_alias.is_empty() {
        return None;
    }
    let t = token(value);
    if v.industry_alias.contains_key(&t) {
        return None;
    }
    let mut names: Vec<&str> = v.industry_alias.values().map(|t| t.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    Some(
        match crate::config::suggest::closest(&t, names.iter().copied()) {
            Some(k) => {
                format!("did you mean `{k}`? Or add `{t}` to [industries] (as a name or an alias)")
            }
            None => format!(
                "use one of {}, or add `{t}` to [industries]",
                names.join(", ")
            ),
        },
    )
}
