//! [`RoutingTrace::explain`]: the matrix step expanded into one line per rule considered,
//! recomputed from the facts the trace holds and the config it names (EXP-2).

use super::{RoutingTrace, RuleCheck, Step};
use crate::config::{CompiledConfig, Dim};

impl RoutingTrace {
    /// Fill in every matrix rule considered (in precedence order up to the winner, or all
    /// of them when none matched) with the condition that failed.
    pub fn explain(&mut self, cfg: &CompiledConfig) {
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
