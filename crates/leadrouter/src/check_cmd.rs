//! `leadrouter check CONFIG`: compile the routing config, then `[notify]` and
//! `[enrichment]` exactly as `serve` and a reload do (errors → exit 1), then static
//! analysis (warnings → exit 0, or 1 with --strict; notes never fail).
//!
//! A few findings are printed in full. Beyond [`FULL_UP_TO`], the text output groups them
//! by kind (count, the first [`EXAMPLES`] in full, the rules with the most) and by rule;
//! `--verbose` prints every finding, `--json` lists every finding plus the groups.
use anyhow::Result;
use leadrouter_core::analysis::{Finding, Group, Severity, analyze, group};
use leadrouter_core::config::{CompiledConfig, LoadError};
use leadrouter_server::runtime;
use std::path::Path;
use std::process::ExitCode;

/// Most findings printed one by one without `--verbose`.
pub const FULL_UP_TO: usize = 25;
/// Findings of a kind shown in full in the grouped output.
pub const EXAMPLES: usize = 3;
/// Rules named per kind, and in the by-rule summary.
pub const TOP_RULES: usize = 5;

pub fn run(
    path: &Path,
    strict: bool,
    json: bool,
    verbose: bool,
    database: Option<&str>,
) -> Result<ExitCode> {
    let (cfg, file_findings) = match leadrouter_core::config::load(path).and_then(|cfg| {
        let found = check_sections(&cfg)?;
        Ok((cfg, found))
    }) {
        Ok(loaded) => loaded,
        Err(e) => {
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&serde_json::json!({
                        "ok": false,
                        "message": e.to_string(),
                        "errors": e.errors(),
                    }))?
                );
            } else {
                eprintln!("{e}");
            }
            return Ok(ExitCode::from(1));
        }
    };
    let mut findings = analyze(&cfg);
    findings.extend(file_findings);
    findings.extend(runtime::notify_findings(&cfg));
    // CRM-3 / OPS-1: reps and CRM users as last synced into this database.
    let crm = match database {
        Some(url) => crm_findings(&cfg, url)?,
        None => Vec::new(),
    };
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count()
        + crm.len();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({
                "ok": true,
                "version": cfg.version,
                "reps": cfg.reps.len(),
                "teams": cfg.teams.len(),
                "accounts": cfg.accounts.len(),
                "rules": cfg.rules.len(),
                "warnings": warnings,
                "groups": group(&findings, EXAMPLES, TOP_RULES),
                "findings": findings,
                "crm_findings": crm,
            }))?
        );
    } else {
        print_findings(&findings, verbose);
        for f in &crm {
            println!(
                "warning: crm ({}): {}",
                f["provider"].as_str().unwrap_or(""),
                f["message"].as_str().unwrap_or("")
            );
        }
        println!(
            "{}: {} reps, {} teams, {} accounts, {} rules; config version {}; {} warning(s), {} note(s)",
            path.display(),
            cfg.reps.len(),
            cfg.teams.len(),
            cfg.accounts.len(),
            cfg.rules.len(),
            cfg.version,
            warnings,
            findings.len() + crm.len() - warnings
        );
    }
    Ok(if strict && warnings > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `[notify]` and `[enrichment]` through the functions `serve` and a reload call (secrets
/// from this process's environment, enrichment files read), so a config this passes is
/// not refused by the server started in the same environment. What the firmographic files
/// could not use (a domain column holding `https:`) comes back as warnings.
fn check_sections(cfg: &CompiledConfig) -> Result<Vec<Finding>, LoadError> {
    let mut errors = runtime::NotifyRuntime::try_build(cfg)
        .err()
        .unwrap_or_default();
    let mut found = Vec::new();
    match runtime::enricher(cfg, None) {
        Err(e) => errors.extend(e),
        Ok(enricher) => {
            for file in enricher.stats().into_iter().filter_map(|p| p.file) {
                for issue in &file.issues {
                    found.push(Finding {
                        severity: Severity::Warning,
                        kind: "enrichment-file",
                        location: Some(file.path.clone()),
                        rule: None,
                        message: issue.clone(),
                        fix: Some(
                            "correct the file (each problem names its line) and reload; until then those values are not used"
                                .into(),
                        ),
                    });
                }
            }
        }
    }
    if let Err(e) = leadrouter_server::crm::CrmRuntime::try_build(cfg) {
        errors.extend(e);
    }
    // `[calendar]`, as serve and a reload read it.
    if let Err(e) = leadrouter_server::calendar::CalendarSettings::from_config(cfg) {
        errors.push(leadrouter_core::config::ConfigError {
            file: cfg.source.path.clone(),
            line: None,
            field: "calendar".into(),
            value: None,
            message: e.trim().to_string(),
            fix: Some("see docs/config.md 3.22 for each key's bounds".into()),
        });
    }
    if errors.is_empty() {
        Ok(found)
    } else {
        Err(LoadError::Invalid(errors))
    }
}

/// Every finding when there are few (or with `--verbose`), else the groups.
fn print_findings(findings: &[Finding], verbose: bool) {
    use std::io::Write;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    if verbose || findings.len() <= FULL_UP_TO {
        for f in findings {
            let _ = writeln!(out, "{f}");
        }
        return;
    }
    let groups = group(findings, EXAMPLES, TOP_RULES);
    for g in &groups {
        let _ = writeln!(out, "{}", group_text(g));
    }
    // By rule: the rules with the most findings over every kind.
    let mut by_rule: std::collections::HashMap<&str, (usize, usize)> = Default::default();
    for f in findings {
        if let Some(r) = f.rule.as_deref() {
            let n = by_rule.len();
            by_rule.entry(r).or_insert((0, n)).0 += 1;
        }
    }
    let mut by_rule: Vec<(&str, usize, usize)> =
        by_rule.into_iter().map(|(r, (n, i))| (r, n, i)).collect();
    by_rule.sort_by(|a, b| b.1.cmp(&a.1).then(a.2.cmp(&b.2)));
    if !by_rule.is_empty() {
        let top: Vec<String> = by_rule
            .iter()
            .take(TOP_RULES)
            .map(|(r, n, _)| format!("{r} ({n})"))
            .collect();
        let _ = writeln!(
            out,
            "by rule: findings on {} rules; most: {}",
            by_rule.len(),
            top.join(", ")
        );
    }
    let _ = writeln!(
        out,
        "{} findings in {} kinds, grouped; every finding: leadrouter check --verbose (text) or --json",
        findings.len(),
        groups.len()
    );
}

/// One kind: its count, the first findings in full, the rules it falls on most.
fn group_text(g: &Group<'_>) -> String {
    let sev = match g.severity {
        Severity::Warning => "warning",
        Severity::Note => "note",
    };
    let mut s = format!("{sev}[{}]: {} finding(s)", g.kind, g.count);
    if g.rules > 0 {
        s.push_str(&format!(" on {} rule(s)", g.rules));
    }
    if g.count > g.examples.len() {
        s.push_str(&format!(", the first {}:", g.examples.len()));
    } else {
        s.push(':');
    }
    for f in &g.examples {
        for line in f.to_string().lines() {
            s.push_str("\n  ");
            s.push_str(line);
        }
    }
    if g.rules > 1 && g.top_rules.first().is_some_and(|(_, n)| *n > 1) {
        let top: Vec<String> = g
            .top_rules
            .iter()
            .map(|(r, n)| format!("{r} ({n})"))
            .collect();
        s.push_str(&format!("\n  most on: {}", top.join(", ")));
        if g.rules > g.top_rules.len() {
            s.push_str(", …");
        }
    }
    s
}

/// The rep ↔ CRM user findings of the `[crm]` connection from the users and accounts
/// last synced into the database (none without `[crm]`; a `[crm]` that does not parse is
/// already an error of the check).
fn crm_findings(cfg: &CompiledConfig, url: &str) -> Result<Vec<serde_json::Value>> {
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let store = leadrouter_store::open(url)
            .await
            .map_err(|e| anyhow::anyhow!("opening the database for the CRM findings: {e}"))?;
        let found = leadrouter_server::crm::sync::stored_findings(&*store, cfg)
            .await
            .map_err(|e| anyhow::anyhow!("{e}"))?;
        let mut out = Vec::new();
        for (provider, f) in found
            .iter()
            .flat_map(|(p, fs)| fs.iter().map(move |f| (*p, f)))
        {
            let mut v = serde_json::to_value(f)?;
            v["provider"] = provider.into();
            v["message"] = f.message().into();
            out.push(v);
        }
        Ok(out)
    })
}
