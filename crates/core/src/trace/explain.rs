//! [`RoutingTrace::explain`]: the matrix step expanded into one line per rule considered,
//! and the ICP fit criterion by criterion, recomputed from the facts the trace holds and
//! the config it names (EXP-2).

use super::{Facts, RoutingTrace, RuleCheck, Step};
use crate::config::{CompiledConfig, Dim};

impl RoutingTrace {
    /// Fill in every matrix rule considered (in precedence order up to the winner, or all
    /// of them when none matched) with the condition that failed.
    pub fn explain(&mut self, cfg: &CompiledConfig) {
        self.facts.icp_checks = icp_checks(cfg, &self.facts);
        let facts = &self.facts;
        for step in &mut self.steps {
            if let Step::Matrix {
                matched,
                considered,
                ..
            } = step
            {
                considered.clear();
                for rule in &cfg.rules {
                    let failed = Dim::ALL.iter().find(|d| !rule.accepts(**d, facts.dim(**d)));
                    let is_winner = matched.as_ref().is_some_and(|m| m.id == *rule.id);
                    considered.push(RuleCheck {
                        id: rule.id.clone(),
                        matched: failed.is_none(),
                        failed_on: failed.map(|d| {
                            format!(
                                "{} is {} (rule wants {})",
                                d.name(),
                                facts.dim(*d).unwrap_or("unknown"),
                                rule.cond(*d).join("|")
                            )
                        }),
                    });
                    if is_winner {
                        break;
                    }
                }
            }
        }
    }
}

/// TIER-2: each ICP criterion with the lead's value and whether it holds, in the order
/// the engine checks them (all must hold).
fn icp_checks(cfg: &CompiledConfig, f: &Facts) -> Vec<String> {
    let icp = &cfg.icp;
    let mut out = Vec::with_capacity(4);
    let mut check = |what: &str, value: Option<&str>, list: Option<&[String]>| {
        let shown = value.unwrap_or("unknown");
        out.push(match list {
            None => format!("{what} {shown}: any {what} fits (not part of the ICP)"),
            Some([]) => format!("{what} {shown}: no — the ICP lists no {what}, so nothing fits"),
            Some(l) => {
                let yes = value.is_some_and(|v| l.iter().any(|x| x == v));
                format!(
                    "{what} {shown}: {} (ICP {what}: {})",
                    if yes { "yes" } else { "no" },
                    l.join(", ")
                )
            }
        });
    };
    check("segment", f.segment.as_deref(), Some(&icp.segments));
    check("industry", f.industry.as_deref(), icp.industries.as_deref());
    check("region", f.region.as_deref(), icp.regions.as_deref());
    check("country", f.country.as_deref(), icp.countries.as_deref());
    out
}
