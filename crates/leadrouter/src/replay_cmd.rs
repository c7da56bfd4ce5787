//! `leadrouter replay`: re-decide the stored leads of a window through a candidate config
//! (or, with no config or `--as-live`, through the versions that were live) and print the
//! difference. The logic is `leadrouter_server::replay`; this file reads the arguments,
//! shows the progress bar on a terminal and writes the chosen format.

use anyhow::{Context, Result, bail};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use leadrouter_server::replay::{self, ReplayOptions, html, render};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// What `leadrouter replay` was asked.
pub struct ReplayArgs {
    pub database_url: String,
    pub config: Option<PathBuf>,
    pub stored_version: Option<String>,
    pub as_live: bool,
    pub since: Option<String>,
    pub until: Option<String>,
    pub json: bool,
    pub csv: bool,
    pub html: Option<PathBuf>,
    pub list: usize,
    pub page_events: u32,
    pub worker_share: Option<u32>,
}

fn instant(flag: &str, s: &str) -> Result<jiff::Timestamp> {
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Ok(t);
    }
    // A bare date is that day's start in UTC.
    match s.parse::<jiff::civil::Date>() {
        Ok(d) => Ok(d
            .to_zoned(jiff::tz::TimeZone::UTC)
            .with_context(|| format!("{flag} {s:?}"))?
            .timestamp()),
        Err(_) => bail!(
            "{flag} {s:?}: expected an RFC 3339 instant (2026-11-23T15:00:00Z) or a date (2026-11-23)"
        ),
    }
}

pub fn run(a: ReplayArgs) -> Result<ExitCode> {
    if [a.json, a.csv].iter().filter(|x| **x).count() > 1 {
        bail!("--json and --csv print to stdout: choose one");
    }
    if a.as_live && (a.config.is_some() || a.stored_version.is_some()) {
        bail!("--as-live replays with the versions that were live: drop --config/--stored-version");
    }
    if a.config.is_some() && a.stored_version.is_some() {
        bail!("--config and --stored-version both name the candidate: choose one");
    }
    let since = a
        .since
        .as_deref()
        .map(|s| instant("--since", s))
        .transpose()?;
    let until = a
        .until
        .as_deref()
        .map(|s| instant("--until", s))
        .transpose()?;
    if let (Some(s), Some(u)) = (since, until)
        && u < s
    {
        bail!("--until {u} is before --since {s}");
    }
    crate::keep_freed_memory();
    let rt = tokio::runtime::Runtime::new()?;
    rt.block_on(async {
        let mut reader = replay::HistoryReader::open(&a.database_url)
            .await
            .with_context(|| format!("opening {} read-only", redact(&a.database_url)))?;
        let candidate = match (&a.config, &a.stored_version) {
            (Some(path), _) => Some(Arc::new(crate::load_config(path)?)),
            (None, Some(v)) => {
                let row = reader
                    .config_version(v)
                    .await?
                    .with_context(|| format!("--stored-version {v}: not in the config history"))?;
                let cfg = leadrouter_server::config_history::compile_stored(&row)
                    .map_err(|e| anyhow::anyhow!("--stored-version {v}: {e}"))?;
                Some(Arc::new(cfg))
            }
            (None, None) => None,
        };
        let fidelity = candidate.is_none();
        let opts = ReplayOptions {
            since,
            until,
            candidate,
            list_limit: a.list,
            trace_limit: ReplayOptions::TRACE_LIMIT.min(a.list),
            page_events: a.page_events,
            worker_share: a.worker_share,
        };
        let bar = if std::io::stderr().is_terminal() {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:40} {pos}/{len} leads ({per_sec}, eta {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        let mut progress = |done: u64, total: u64| {
            if done.is_multiple_of(256) || done == total {
                bar.set_length(total);
                bar.set_position(done);
            }
        };
        let report = replay::run(&mut reader, &opts, &mut progress).await;
        bar.finish_and_clear();
        let _ = reader.close().await;
        let report = report?;
        if let Some(path) = &a.html {
            std::fs::write(path, html::page(&report))
                .with_context(|| format!("writing {}", path.display()))?;
        }
        if a.json {
            println!("{}", render::json(&report));
        } else if a.csv {
            print!("{}", render::csv(&report)?);
        } else {
            print!("{}", render::text(&report));
        }
        // In fidelity mode a difference is a failure (a scriptable check).
        let differs = report.changed > 0 || report.effect_mismatches > 0;
        Ok(if fidelity && differs {
            ExitCode::from(1)
        } else {
            ExitCode::SUCCESS
        })
    })
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    match rest.split_once('@') {
        Some((user, host)) => match user.split_once(':') {
            Some((name, _)) => format!("{scheme}://{name}:***@{host}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}
