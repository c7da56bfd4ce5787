//! Static analysis of a compiled config (OPS-2), run by `leadrouter check` and shown in the
//! console: coverage gaps in the matrix, shadowed rules, overlapping rules with no
//! tiebreaker, inactive or missing people on routing paths, teams nobody can staff.
//!
//! Gaps are found by enumerating the values the matrix itself mentions on each dimension
//! (plus "anything else" and "unknown") and asking the same rule index the engine uses.
//!
//! This module holds the findings and [`analyze`]; the checks are in `people` (inactive
//! or missing people on routing paths), `rules` (shadowed rules, overlaps without a
//! tiebreaker, segment rules that outrank territory rules) and `coverage` (gaps). Values
//! that can never match a normalised lead are found while compiling, where the source
//! spans are (`config/compile/lints.rs`, kept in [`CompiledConfig::lints`]); `grouped`
//! summarises many findings by kind and rule for `check`'s default output.

mod coverage;
mod grouped;
mod people;
mod rules;

pub use grouped::{Group, group};

use crate::config::CompiledConfig;
use serde::Serialize;

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
    /// The matrix rule the finding is about, for grouping a large matrix's findings.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
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
    people::people(cfg, &mut out);
    rules::shadowed_and_overlapping(cfg, &mut out);
    coverage::coverage(cfg, &mut out);
    // Values the compiler saw cannot work as written (file:line from the source spans).
    out.extend(cfg.lints.iter().cloned());
    out
}

/// Configs for the analysis tests.
#[cfg(test)]
mod fixture {
    use super::*;
    use crate::config::{LoadError, SourceText, compile::compile};

    pub(super) fn cfg(toml: &str) -> CompiledConfig {
        compile(SourceText::new("t.toml", toml), &|p: &str| {
            Err(LoadError::Io {
                path: p.into(),
                source: std::io::Error::other("no files in this test"),
            })
        })
        .expect("config compiles")
    }

    pub(super) const BASE: &str = r#"
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

    pub(super) fn kinds(f: &[Finding]) -> Vec<&'static str> {
        f.iter().map(|x| x.kind).collect()
    }
}
