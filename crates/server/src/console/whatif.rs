//! What if (OPS-5, admins only): choose a window, paste or upload a candidate config (or
//! pick a stored version), replay the window's stored leads through it in the background
//! and read the difference: the replay report's own tables and SVG chart
//! ([`crate::replay::html::sections`], the same body `leadrouter replay --html` writes),
//! each changed lead linked to its two traces side by side. The running replay is shown
//! with a progress bar; the page reloads itself (a `Refresh` header: console pages run no
//! script) until it is done. The work itself is in [`super::whatif_run`].

use super::whatif_run::{self, Request, Run, Upload};
use super::{
    ConsoleError, ConsoleState, FormData, Nav, PageResult, Role, Session, check_csrf, html, session,
};
use crate::replay::html::{self as report_html, ChangedLeads};
use crate::replay::render::outcome;
use askama::Template;
use axum::extract::{Multipart, Path, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Redirect};
use std::collections::HashMap;
use std::sync::Arc;

/// The console's side of what-if runs: admins only.
pub async fn admin(st: &ConsoleState, headers: &HeaderMap) -> Result<Session, ConsoleError> {
    let s = session(st, headers).await?;
    if s.role != Role::Admin {
        return Err(ConsoleError::Forbidden);
    }
    Ok(s)
}

pub struct VersionOption {
    pub version: String,
    pub label: String,
    pub live: bool,
}

pub struct RunRow {
    pub id: String,
    pub started: String,
    pub by: String,
    pub candidate: String,
    pub window: String,
    pub status: String,
}

#[derive(Template)]
#[template(path = "console/whatif.html")]
struct Page {
    nav: Nav,
    errors: Vec<String>,
    versions: Vec<VersionOption>,
    runs: Vec<RunRow>,
    since: String,
    until: String,
    toml: String,
    max_mb: usize,
    keep: usize,
}

#[derive(Template)]
#[template(path = "console/whatif_run.html")]
struct RunPage {
    nav: Nav,
    id: String,
    started: String,
    by: String,
    candidate: String,
    window: String,
    running: bool,
    done: u64,
    total: u64,
    took: String,
    error: Option<String>,
    style: &'static str,
    body: String,
}

#[derive(Template)]
#[template(path = "console/whatif_lead.html")]
struct LeadPage {
    nav: Nav,
    run: String,
    lead_id: String,
    before: String,
    after: String,
    style: &'static str,
    traces: String,
}

fn window(run: &Run, times: &super::time::Times) -> String {
    format!(
        "{} to {}",
        run.since
            .map_or("the start of history".into(), |t| times.at(t)),
        run.until.map_or("now".into(), |t| times.at(t))
    )
}

fn status(run: &Run) -> String {
    if let Some(r) = run.report() {
        return format!("done: {} of {} changed", r.changed, r.routed);
    }
    if let Some(e) = run.error() {
        return format!("failed: {e}");
    }
    let (done, total) = run.progress();
    format!("running: {done} of {total}")
}

struct Form {
    since: String,
    until: String,
    toml: String,
}

async fn render_page(
    st: &ConsoleState,
    s: &Session,
    headers: &HeaderMap,
    errors: Vec<String>,
    form: Form,
) -> PageResult {
    let (nav, times) = Nav::with_times(s, st, headers, "whatif");
    let live = st.app.shared.config.load().version.clone();
    let mut versions: Vec<VersionOption> = st
        .app
        .shared
        .store
        .config_versions()
        .await?
        .into_iter()
        .rev()
        .map(|v| VersionOption {
            label: format!(
                "{} · {} · {}",
                v.version,
                times.ts(v.loaded_at),
                v.loaded_by
            ),
            live: v.version == live,
            version: v.version,
        })
        .collect();
    versions.truncate(200);
    let runs = st
        .whatif
        .runs()
        .iter()
        .map(|r| RunRow {
            id: r.id.clone(),
            started: times.ts(r.started_at),
            by: r.by.clone(),
            candidate: r.candidate.clone(),
            window: window(r, &times),
            status: status(r),
        })
        .collect();
    let status = if errors.is_empty() {
        axum::http::StatusCode::OK
    } else {
        axum::http::StatusCode::BAD_REQUEST
    };
    let body = Page {
        nav,
        errors,
        versions,
        runs,
        since: form.since,
        until: form.until,
        toml: form.toml,
        max_mb: whatif_run::MAX_UPLOAD_BYTES >> 20,
        keep: whatif_run::KEEP_RUNS,
    }
    .render()?;
    Ok((status, html(body)).into_response())
}

pub async fn page(State(st): State<ConsoleState>, headers: HeaderMap) -> PageResult {
    let s = admin(&st, &headers).await?;
    let form = Form {
        since: String::new(),
        until: String::new(),
        toml: String::new(),
    };
    render_page(&st, &s, &headers, Vec::new(), form).await
}

/// The multipart form's fields: text fields by name, files as UTF-8 text.
async fn read_form(mut mp: Multipart) -> Result<HashMap<String, String>, ConsoleError> {
    const FIELDS: [&str; 9] = [
        "csrf",
        "since",
        "until",
        "source",
        "stored_version",
        "toml",
        "toml_file",
        "matrix_file",
        "accounts_file",
    ];
    let mut out = HashMap::new();
    loop {
        let field = match mp.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(ConsoleError::Bad(format!(
                    "the upload could not be read ({e}); at most {} MB in all",
                    whatif_run::MAX_UPLOAD_BYTES >> 20
                )));
            }
        };
        let Some(name) = field
            .name()
            .filter(|n| FIELDS.contains(n))
            .map(str::to_string)
        else {
            continue;
        };
        let bytes = field.bytes().await.map_err(|e| {
            ConsoleError::Bad(format!(
                "the upload could not be read ({e}); at most {} MB in all",
                whatif_run::MAX_UPLOAD_BYTES >> 20
            ))
        })?;
        let text = String::from_utf8(bytes.to_vec())
            .map_err(|_| ConsoleError::Bad(format!("{name}: not UTF-8 text")))?;
        out.insert(name, text);
    }
    Ok(out)
}

pub async fn start(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    mp: Multipart,
) -> PageResult {
    let s = admin(&st, &headers).await?;
    let fields = read_form(mp).await?;
    let form = FormData(fields);
    check_csrf(&s, &headers, &form)?;
    let keep = Form {
        since: form.get("since").unwrap_or("").to_string(),
        until: form.get("until").unwrap_or("").to_string(),
        toml: form.0.get("toml").cloned().unwrap_or_default(),
    };
    let (_, times) = Nav::with_times(&s, &st, &headers, "whatif");
    let tz = jiff::tz::TimeZone::get(times.name()).unwrap_or(jiff::tz::TimeZone::UTC);
    let mut errors = Vec::new();
    let mut when = |k: &str| match form.get(k) {
        None => None,
        Some(v) => whatif_run::instant(k, v, &tz)
            .map_err(|e| errors.push(e))
            .ok(),
    };
    let (since, until) = (when("since"), when("until"));
    if let (Some(a), Some(b)) = (since, until)
        && b < a
    {
        errors.push(format!("until ({b}) is before since ({a})"));
    }
    let live = st.app.shared.config.load().version.clone();
    let store = st.app.shared.store.clone();
    let candidate = if form.get("source") == Some("stored") {
        let v = form.get("stored_version").unwrap_or("");
        match store.config_version(v).await? {
            None => Err(format!("stored version {v:?} is not in the config history")),
            Some(row) => tokio::task::spawn_blocking(move || {
                crate::config_history::compile_stored(&row)
                    .map(|c| (c, format!("stored version {}", row.version)))
                    .map_err(|e| format!("stored version {}: {e}", row.version))
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string())),
        }
    } else {
        let uploaded = form.get("toml_file").is_some();
        let toml = form
            .get("toml_file")
            .or_else(|| form.get("toml"))
            .unwrap_or("")
            .to_string();
        if toml.is_empty() {
            Err("paste the candidate config's TOML or upload its file".to_string())
        } else {
            let upload = Upload {
                toml,
                matrix_csv: form.get("matrix_file").map(str::to_string),
                accounts_csv: form.get("accounts_file").map(str::to_string),
            };
            let fallback = store.config_version(&live).await?;
            tokio::task::spawn_blocking(move || {
                whatif_run::compile_upload(&upload, fallback.as_ref()).map(|c| {
                    let how = if uploaded { "uploaded" } else { "pasted" };
                    let label = format!("{how} config {}", c.version);
                    (c, label)
                })
            })
            .await
            .unwrap_or_else(|e| Err(e.to_string()))
        }
    };
    let candidate = match candidate {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let Some((candidate, label)) = candidate.filter(|_| errors.is_empty()) else {
        return render_page(&st, &s, &headers, errors, keep).await;
    };
    let run = st.whatif.start(Request {
        by: s.user.clone(),
        now_us: st.app.shared.clock.now().as_microsecond(),
        since,
        until,
        candidate: Arc::new(candidate),
        label,
    });
    match run {
        Ok(run) => {
            let detail = serde_json::json!({ "run": run.id, "candidate": run.candidate });
            let _ = crate::api::audit::audit(
                &st.app.shared,
                crate::api::audit::Audit::new(format!("console:{}", s.user), "console.whatif")
                    .detail(detail),
            )
            .await;
            Ok(Redirect::to(&format!("/console/whatif/{}", run.id)).into_response())
        }
        Err(e) => render_page(&st, &s, &headers, vec![e], keep).await,
    }
}

/// A run this instance does not have: runs live in the memory of the instance that
/// started them, the last few only.
fn gone(id: &str) -> ConsoleError {
    ConsoleError::NotFound(format!(
        "What-if run {} (runs are kept in the memory of the instance that started them, the last {}, until it restarts; with several instances, keep the console on one)",
        id.chars().take(40).collect::<String>(),
        whatif_run::KEEP_RUNS
    ))
}

pub async fn run_page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> PageResult {
    let s = admin(&st, &headers).await?;
    let run = st.whatif.get(&id).ok_or_else(|| gone(&id))?;
    let (nav, times) = Nav::with_times(&s, &st, &headers, "whatif");
    let (done, total) = run.progress();
    let body = match run.report() {
        Some(r) => {
            let link = |lead: &str| format!("/console/whatif/{}/leads/{lead}", run.id);
            report_html::sections(&r, ChangedLeads::Linked(&link))
        }
        None => String::new(),
    };
    let running = run.running();
    let page = RunPage {
        nav,
        id: run.id.clone(),
        started: times.ts(run.started_at),
        by: run.by.clone(),
        candidate: run.candidate.clone(),
        window: window(&run, &times),
        running,
        done,
        total,
        took: super::time::seconds(run.elapsed().as_secs_f64()),
        error: run.error(),
        style: report_html::STYLE,
        body,
    }
    .render()?;
    let mut resp = html(page);
    if running {
        resp.headers_mut()
            .insert(header::REFRESH, HeaderValue::from_static("2"));
    }
    Ok(resp)
}

pub async fn lead_page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path((id, lead)): Path<(String, String)>,
) -> PageResult {
    let s = admin(&st, &headers).await?;
    let report = st
        .whatif
        .get(&id)
        .and_then(|r| r.report())
        .ok_or_else(|| gone(&id))?;
    let c = report
        .changed_leads
        .iter()
        .find(|c| c.lead_id == lead)
        .ok_or_else(|| ConsoleError::NotFound("changed lead in this run".into()))?;
    let page = LeadPage {
        nav: Nav::with_times(&s, &st, &headers, "whatif").0,
        run: id,
        lead_id: c.lead_id.clone(),
        before: outcome(&c.before),
        after: outcome(&c.after),
        style: report_html::STYLE,
        traces: report_html::traces(c),
    }
    .render()?;
    Ok(html(page))
}
