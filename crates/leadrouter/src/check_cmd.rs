//! `leadrouter check CONFIG`: compile the routing config, then `[notify]` and
//! `[enrichment]` exactly as `serve` and a reload do (errors → exit 1), then static
//! analysis (warnings → exit 0, or 1 with --strict; notes never fail).
use anyhow::Result;
use leadrouter_core::analysis::{Severity, analyze};
use leadrouter_core::config::{CompiledConfig, LoadError};
use leadrouter_server::runtime;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, strict: bool, json: bool) -> Result<ExitCode> {
    let cfg = match leadrouter_core::config::load(path).and_then(|cfg| {
        check_sections(&cfg)?;
        Ok(cfg)
    }) {
        Ok(cfg) => cfg,
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
    let findings = analyze(&cfg);
    let warnings = findings
        .iter()
        .filter(|f| f.severity == Severity::Warning)
        .count();
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
                "findings": findings,
            }))?
        );
    } else {
        for f in &findings {
            println!("{f}");
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
            findings.len() - warnings
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
/// not refused by the server started in the same environment.
fn check_sections(cfg: &CompiledConfig) -> Result<(), LoadError> {
    let mut errors = runtime::NotifyRuntime::try_build(cfg)
        .err()
        .unwrap_or_default();
    if let Err(e) = runtime::enricher(cfg, None) {
        errors.extend(e);
    }
    if let Err(e) = leadrouter_server::crm::CrmRuntime::try_build(cfg) {
        errors.extend(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(LoadError::Invalid(errors))
    }
}
