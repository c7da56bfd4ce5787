//! `leadrouter check CONFIG`: compile the routing config, then `[notify]` and
//! `[enrichment]` exactly as `serve` and a reload do (errors → exit 1), then static
//! analysis (warnings → exit 0, or 1 with --strict; notes never fail).
use anyhow::Result;
use leadrouter_core::analysis::{Severity, analyze};
use leadrouter_core::config::{CompiledConfig, LoadError};
use leadrouter_server::runtime;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, strict: bool, json: bool, database: Option<&str>) -> Result<ExitCode> {
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
                "findings": findings,
                "crm_findings": crm,
            }))?
        );
    } else {
        for f in &findings {
            println!("{f}");
        }
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
/// not refused by the server started in the same environment.
fn check_sections(cfg: &CompiledConfig) -> Result<(), LoadError> {
    let mut errors = runtime::NotifyRuntime::try_build(cfg)
        .err()
        .unwrap_or_default();
    if let Err(e) = runtime::enricher(cfg, None) {
        errors.extend(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(LoadError::Invalid(errors))
    }
}

/// The rep ↔ CRM user findings for every provider with synced users in the database
/// (`LEADROUTER_CRM_USER_MAP` as the service reads it).
fn crm_findings(cfg: &CompiledConfig, url: &str) -> Result<Vec<serde_json::Value>> {
    let user_map = match std::env::var("LEADROUTER_CRM_USER_MAP") {
        Ok(m) => {
            leadrouter_server::crm::sync::parse_user_map(&m).map_err(|e| anyhow::anyhow!(e))?
        }
        Err(_) => Default::default(),
    };
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let store = leadrouter_store::open(url)
            .await
            .map_err(|e| anyhow::anyhow!("opening the database for the CRM findings: {e}"))?;
        let mut out = Vec::new();
        for provider in ["salesforce", "hubspot"] {
            let (users, _, mapping) =
                leadrouter_server::crm::sync::stored_mapping(&*store, cfg, provider, &user_map)
                    .await
                    .map_err(|e| anyhow::anyhow!("{e}"))?;
            if users.is_empty() {
                continue;
            }
            for f in &mapping.findings {
                let mut v = serde_json::to_value(f)?;
                v["provider"] = provider.into();
                v["message"] = f.message().into();
                out.push(v);
            }
        }
        Ok(out)
    })
}
