//! Config history (OPS-5, admins only: the stored text may hold settings not every
//! console user should read): every config version that served, who loaded it and when,
//! and the difference between any two — rules, teams, reps and managers by id and field,
//! accounts counted, other settings by key, files by name ([`super::config_history_diff`]),
//! with a line diff of the TOML as a secondary view.

use super::config_history_diff::{self, ConfigDiff, TextLine};
use super::whatif::admin;
use super::{ConsoleError, ConsoleState, Nav, PageResult, html};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use leadrouter_store::ConfigVersionRow;
use std::collections::HashMap;

pub struct VersionRow {
    pub version: String,
    pub loaded_at: String,
    pub loaded_by: String,
    pub main_name: String,
    pub live: bool,
}

pub struct Compared {
    pub a: String,
    pub b: String,
    pub diff: ConfigDiff,
    /// Why the rule-level sections are missing (a version that no longer compiles).
    pub compile_error: Option<String>,
    pub text: Option<Vec<TextLine>>,
}

#[derive(Template)]
#[template(path = "console/config_history.html")]
struct Page {
    nav: Nav,
    versions: Vec<VersionRow>,
    a: String,
    b: String,
    compared: Option<Compared>,
}

/// Versions listed (newest first); older ones stay in the database.
const LISTED: usize = 500;

async fn stored(st: &ConsoleState, v: &str) -> Result<ConfigVersionRow, ConsoleError> {
    if v.len() > 100 {
        return Err(ConsoleError::Bad(
            "a version is at most 100 characters".into(),
        ));
    }
    st.app
        .shared
        .store
        .config_version(v)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("config version {v}")))
}

async fn compare(st: &ConsoleState, a: &str, b: &str) -> Result<Compared, ConsoleError> {
    let (ra, rb) = (stored(st, a).await?, stored(st, b).await?);
    // Compiling two configs and a quadratic line diff are CPU work: off the async workers.
    let work = tokio::task::spawn_blocking(move || {
        let ca = crate::config_history::compile_stored(&ra);
        let cb = crate::config_history::compile_stored(&rb);
        let (compiled, compile_error) = match (&ca, &cb) {
            (Ok(x), Ok(y)) => (Some((x, y)), None),
            (Err(e), _) => (None, Some(format!("{}: {e}", ra.version))),
            (_, Err(e)) => (None, Some(format!("{}: {e}", rb.version))),
        };
        let diff = config_history_diff::diff(&ra, &rb, compiled);
        let text = config_history_diff::text_diff(&ra.main_text, &rb.main_text, 3);
        Compared {
            a: ra.version.clone(),
            b: rb.version.clone(),
            diff,
            compile_error,
            text,
        }
    });
    work.await
        .map_err(|e| ConsoleError::Unavailable(format!("comparing versions: {e}")))
}

pub async fn page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> PageResult {
    let s = admin(&st, &headers).await?;
    let (nav, times) = Nav::with_times(&s, &st, &headers, "config");
    let live = st.app.shared.config.load().version.clone();
    let all = st.app.shared.store.config_versions().await?;
    let versions: Vec<VersionRow> = all
        .iter()
        .rev()
        .take(LISTED)
        .map(|v| VersionRow {
            version: v.version.clone(),
            loaded_at: times.ts(v.loaded_at),
            loaded_by: v.loaded_by.clone(),
            main_name: v.main_name.clone(),
            live: v.version == live,
        })
        .collect();
    let pick = |k: &str| {
        q.get(k)
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
    };
    // By default the version before the newest against the newest.
    let (a, b) = match (pick("a"), pick("b")) {
        (Some(a), Some(b)) => (Some(a), Some(b)),
        _ if versions.len() >= 2 => (
            Some(versions[1].version.clone()),
            Some(versions[0].version.clone()),
        ),
        _ => (None, None),
    };
    let compared = match (&a, &b) {
        (Some(a), Some(b)) => Some(compare(&st, a, b).await?),
        _ => None,
    };
    Ok(html(
        Page {
            nav,
            versions,
            a: a.unwrap_or_default(),
            b: b.unwrap_or_default(),
            compared,
        }
        .render()?,
    ))
}
