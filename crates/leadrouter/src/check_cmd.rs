//! `leadrouter check`: compile errors, then the static analysis findings.
use anyhow::Result;
use std::path::Path;
use std::process::ExitCode;

pub fn run(path: &Path, _strict: bool, _json: bool) -> Result<ExitCode> {
    match leadrouter_core::config::load(path) {
        Ok(cfg) => {
            println!(
                "{}: ok ({} reps, {} teams, {} accounts, {} rules), version {}",
                path.display(),
                cfg.reps.len(),
                cfg.teams.len(),
                cfg.accounts.len(),
                cfg.rules.len(),
                cfg.version
            );
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(ExitCode::from(1))
        }
    }
}
