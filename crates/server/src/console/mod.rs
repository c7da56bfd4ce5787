//! The operations console (issue 6, MET-2): server-rendered pages under `/console`
//! (askama templates, auto-escaped; charts are SVG drawn here), the weekly report and its
//! CSV export, and the MET-1 gauges on `/metrics`.
//!
//! This module holds the router, console users (argon2 hashes from
//! `LEADROUTER_CONSOLE_USERS`), sessions (an HttpOnly, SameSite=Strict cookie whose
//! SHA-256 is stored in `console_sessions`) and CSRF protection (a per-session token in
//! every form, checked in constant time, plus an Origin check); the login itself, with
//! its throttling and bounded password checks, is in `login`. Pages read through the
//! store's [`Reporting`](leadrouter_store::Reporting) trait; every change (assign from a
//! queue, out-of-office toggle) is a sequencer job, so the console writes nothing itself
//! except its sessions.

pub mod actions;
pub mod audit;
pub mod charts;
pub mod config_history;
pub mod config_history_diff;
pub mod crm;
pub mod flow;
pub mod lead;
mod leads;
mod login;
pub mod matrix;
pub mod metrics;
pub mod overview;
pub mod queues;
pub mod report;
pub mod report_mail;
pub mod reps;
pub mod time;
pub mod try_lead;
pub mod whatif;
pub mod whatif_run;

use crate::api::AppState;
use crate::api::audit::{Audit, audit};
use crate::sequencer::JobError;
use askama::Template;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::sync::Arc;
use subtle::ConstantTimeEq;

const SESSION_COOKIE: &str = "lr_console";
const LOGIN_COOKIE: &str = "lr_console_login";
const SESSION_TTL_US: i64 = 12 * 3600 * 1_000_000;
const MAX_FORM_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Admin,
    Ops,
    /// A manager in the config (`[[manager]] id`): acts on their team's leads.
    Manager,
    Rep,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Ops => "ops",
            Role::Manager => "manager",
            Role::Rep => "rep",
        }
    }
    fn parse(s: &str) -> Option<Role> {
        match s {
            "admin" => Some(Role::Admin),
            "ops" => Some(Role::Ops),
            "manager" => Some(Role::Manager),
            "rep" => Some(Role::Rep),
            _ => None,
        }
    }
}

/// A console user: name, role and argon2 PHC hash.
#[derive(Clone)]
pub struct User {
    pub name: String,
    pub role: Role,
    hash: String,
}

/// Console users, from `LEADROUTER_CONSOLE_USERS`: entries `NAME:ROLE:ARGON2_HASH`
/// separated by `;` or newlines; ROLE is admin, ops, manager or rep (a rep logs in with
/// their rep id and sees only their own leads; a manager with their manager id and acts on
/// their team's leads).
#[derive(Clone)]
pub struct Users {
    users: Vec<User>,
    /// Throttling, the bound on password checks and the login CSRF key for these users.
    gate: Arc<login::LoginGate>,
    /// Verified against when a name is unknown, with the users' own argon2 parameters,
    /// so timing does not tell names apart.
    dummy: Arc<std::sync::OnceLock<String>>,
}

impl Default for Users {
    fn default() -> Self {
        Users::new(Vec::new())
    }
}

impl Users {
    fn new(users: Vec<User>) -> Users {
        let material: Vec<&str> = users.iter().map(|u| u.hash.as_str()).collect();
        Users {
            gate: Arc::new(login::LoginGate::new(&material)),
            dummy: Arc::default(),
            users,
        }
    }

    pub fn parse(spec: &str) -> Result<Users, String> {
        let mut users = Vec::new();
        for (i, entry) in spec
            .split([';', '\n'])
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .enumerate()
        {
            let mut parts = entry.splitn(3, ':');
            let (Some(name), Some(role), Some(hash)) = (parts.next(), parts.next(), parts.next())
            else {
                return Err(format!(
                    "console user {}: `{}` is not NAME:ROLE:HASH; make a hash with `leadrouter console-hash`",
                    i + 1,
                    entry.chars().take(40).collect::<String>()
                ));
            };
            let name = name.trim();
            if name.is_empty() || name.len() > 100 {
                return Err(format!(
                    "console user {}: the name must be 1-100 characters",
                    i + 1
                ));
            }
            let role = Role::parse(role.trim()).ok_or_else(|| {
                format!("console user {name}: role `{role}` is not admin, ops, manager or rep")
            })?;
            argon2::PasswordHash::new(hash.trim()).map_err(|e| {
                format!("console user {name}: the password hash is not an argon2 PHC string ({e}); make one with `leadrouter console-hash`")
            })?;
            if users.iter().any(|u: &User| u.name == name) {
                return Err(format!("console user {name} is listed twice"));
            }
            users.push(User {
                name: name.to_string(),
                role,
                hash: hash.trim().to_string(),
            });
        }
        Ok(Users::new(users))
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Reps and managers named as console users must exist in the config.
    pub fn check_reps(&self, cfg: &leadrouter_core::config::CompiledConfig) -> Result<(), String> {
        for u in &self.users {
            if u.role == Role::Manager && !cfg.managers.iter().any(|m| m.id == u.name) {
                return Err(format!(
                    "console user {} has role manager but the config has no [[manager]] with that id",
                    u.name
                ));
            }
            if u.role == Role::Rep && !cfg.rep_by_id.contains_key(&u.name) {
                return Err(format!(
                    "console user {} has role rep but the config has no rep with that id",
                    u.name
                ));
            }
        }
        Ok(())
    }

    /// A demo admin with a random password, for a run with no users configured.
    pub fn demo() -> (Users, String) {
        let password = crate::auth::generate().trim_start_matches("lr_")[..20].to_string();
        let users = Users::new(vec![User {
            name: "admin".into(),
            role: Role::Admin,
            hash: hash_password(&password).unwrap_or_default(),
        }]);
        (users, password)
    }

    fn contains(&self, name: &str) -> bool {
        self.users.iter().any(|u| u.name == name)
    }

    fn verify(&self, name: &str, password: &str) -> Option<User> {
        use argon2::PasswordVerifier;
        // An unknown name still costs one hash, so timing does not tell names apart.
        let user = self.users.iter().find(|u| u.name == name);
        let hash = user.map_or_else(|| self.dummy_hash(), |u| u.hash.as_str());
        let parsed = argon2::PasswordHash::new(hash).ok()?;
        let ok = argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok();
        user.filter(|_| ok).cloned()
    }

    /// A hash of a password nobody has, made with the first user's argon2 parameters
    /// (the cost of a check depends on them).
    fn dummy_hash(&self) -> &str {
        self.dummy.get_or_init(|| {
            let params = self
                .users
                .first()
                .and_then(|u| argon2::PasswordHash::new(&u.hash).ok())
                .and_then(|h| {
                    let alg = argon2::Algorithm::try_from(h.algorithm).ok()?;
                    let version = argon2::Version::try_from(h.version?).ok()?;
                    let params = argon2::Params::try_from(&h).ok()?;
                    Some(argon2::Argon2::new(alg, version, params))
                })
                .unwrap_or_default();
            hash_with(&params, "not a user").unwrap_or_default()
        })
    }
}

/// argon2id PHC string for a password (`leadrouter console-hash`).
pub fn hash_password(password: &str) -> Result<String, String> {
    if password.is_empty() {
        return Err("the password is empty".into());
    }
    hash_with(&argon2::Argon2::default(), password)
}

fn hash_with(argon: &argon2::Argon2<'_>, password: &str) -> Result<String, String> {
    use argon2::PasswordHasher;
    use argon2::password_hash::SaltString;
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    let salt = SaltString::encode_b64(&bytes).map_err(|e| format!("salt: {e}"))?;
    argon
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| format!("hashing failed: {e}"))
}

#[derive(Clone)]
pub struct ConsoleState {
    pub app: AppState,
    pub users: Arc<Users>,
    /// What-if replays of this instance (`whatif`).
    pub whatif: Arc<whatif_run::WhatIf>,
}

/// The logged-in user of a request.
#[derive(Debug, Clone)]
pub struct Session {
    pub user: String,
    pub role: Role,
    pub csrf: String,
}

impl Session {
    pub fn is_staff(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Ops)
    }
}

/// What every page's header needs.
pub struct Nav {
    pub user: String,
    pub role: &'static str,
    pub csrf: String,
    pub active: &'static str,
    pub staff: bool,
    pub org: String,
    /// The zone the page's times are in (see [`time::Times`]).
    pub zone: String,
}

impl Nav {
    pub fn new(s: &Session, st: &ConsoleState, active: &'static str) -> Nav {
        Nav {
            user: s.user.clone(),
            role: s.role.name(),
            csrf: s.csrf.clone(),
            active,
            staff: s.is_staff(),
            org: st.app.shared.config.load().organization_name.clone(),
            zone: String::new(),
        }
    }

    /// The header, and the zone the page's times are shown in.
    pub fn with_times(
        s: &Session,
        st: &ConsoleState,
        headers: &HeaderMap,
        active: &'static str,
    ) -> (Nav, time::Times) {
        let times = time::Times::for_viewer(&st.app.shared.config.load(), s, headers);
        let mut nav = Nav::new(s, st, active);
        nav.zone = times.name().to_string();
        (nav, times)
    }
}

/// Console errors: HTML pages, internals logged and never shown.
#[derive(Debug)]
pub enum ConsoleError {
    Login,
    Forbidden,
    NotFound(String),
    Bad(String),
    Unavailable(String),
}

impl From<leadrouter_store::StoreError> for ConsoleError {
    fn from(e: leadrouter_store::StoreError) -> Self {
        ConsoleError::Unavailable(e.to_string())
    }
}

impl From<askama::Error> for ConsoleError {
    fn from(e: askama::Error) -> Self {
        ConsoleError::Unavailable(format!("template: {e}"))
    }
}

impl From<JobError> for ConsoleError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::NotFound(w) => ConsoleError::NotFound(w),
            JobError::Invalid { field, message } => {
                ConsoleError::Bad(format!("{field}: {message}"))
            }
            JobError::Unavailable(m) | JobError::Unknown(m) => ConsoleError::Unavailable(m),
        }
    }
}

#[derive(Template)]
#[template(path = "console/error.html")]
struct ErrorPage {
    title: String,
    message: String,
}

impl IntoResponse for ConsoleError {
    fn into_response(self) -> Response {
        let (status, title, message) = match self {
            ConsoleError::Login => return Redirect::to("/console/login").into_response(),
            ConsoleError::Forbidden => (
                StatusCode::FORBIDDEN,
                "Not allowed",
                "Your role cannot open this page.".to_string(),
            ),
            ConsoleError::NotFound(w) => (
                StatusCode::NOT_FOUND,
                "Not found",
                format!("{w} not found."),
            ),
            ConsoleError::Bad(m) => (StatusCode::BAD_REQUEST, "Cannot do that", m),
            ConsoleError::Unavailable(m) => {
                tracing::warn!(error = %m, "console page failed");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    "Unavailable",
                    "The database is unavailable right now; try again in a moment.".to_string(),
                )
            }
        };
        let body = ErrorPage {
            title: title.into(),
            message,
        }
        .render()
        .unwrap_or_else(|_| title.to_string());
        (status, html_headers(), body).into_response()
    }
}

fn html_headers() -> [(header::HeaderName, HeaderValue); 6] {
    [
        (
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        ),
        (header::CACHE_CONTROL, HeaderValue::from_static("no-store")),
        // No script runs on console pages at all; inline styles and data: images only.
        (
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
            ),
        ),
        (
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ),
        (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
        // Not `no-referrer`: with it browsers send `Origin: null` on the console's own
        // form posts, which the Origin check must refuse. Nothing leaves the origin.
        (
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ),
    ]
}

/// A rendered page.
pub fn html(body: String) -> Response {
    (html_headers(), body).into_response()
}

pub type PageResult = Result<Response, ConsoleError>;

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

fn secure_attr(st: &ConsoleState) -> &'static str {
    let https = st
        .app
        .shared
        .config
        .load()
        .console_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"));
    if https { "; Secure" } else { "" }
}

/// The session of a request, or a redirect to the login page.
pub async fn session(st: &ConsoleState, headers: &HeaderMap) -> Result<Session, ConsoleError> {
    let Some(token) = cookie(headers, SESSION_COOKIE) else {
        return Err(ConsoleError::Login);
    };
    let now = st.app.shared.clock.now().as_microsecond();
    let row = st
        .app
        .shared
        .store
        .session_get(&sha256_hex(token), now)
        .await?
        .ok_or(ConsoleError::Login)?;
    let role = Role::parse(&row.role).ok_or(ConsoleError::Login)?;
    Ok(Session {
        user: row.username,
        role,
        csrf: row.csrf,
    })
}

/// The session of a request that staff (admin, ops) may make.
pub async fn staff(st: &ConsoleState, headers: &HeaderMap) -> Result<Session, ConsoleError> {
    let s = session(st, headers).await?;
    if !s.is_staff() {
        return Err(ConsoleError::Forbidden);
    }
    Ok(s)
}

/// A posted form: fields by name (the last value wins), size-capped.
pub struct FormData(pub HashMap<String, String>);

impl FormData {
    pub fn parse(body: &[u8]) -> Result<FormData, ConsoleError> {
        if body.len() > MAX_FORM_BYTES {
            return Err(ConsoleError::Bad("the form is too large".into()));
        }
        Ok(FormData(
            form_urlencoded::parse(body).into_owned().collect(),
        ))
    }
    pub fn get(&self, k: &str) -> Option<&str> {
        self.0
            .get(k)
            .map(String::as_str)
            .map(str::trim)
            .filter(|v| !v.is_empty())
    }
}

/// CSRF: the form's token must equal the session's, and a browser-sent Origin must be
/// this host.
pub fn check_csrf(s: &Session, headers: &HeaderMap, form: &FormData) -> Result<(), ConsoleError> {
    check_origin(headers)?;
    let sent = form.0.get("csrf").map(String::as_str).unwrap_or("");
    if sent.is_empty() || !bool::from(sent.as_bytes().ct_eq(s.csrf.as_bytes())) {
        return Err(ConsoleError::Bad(
            "the form's security token is missing or stale; reload the page and try again".into(),
        ));
    }
    Ok(())
}

fn check_origin(headers: &HeaderMap) -> Result<(), ConsoleError> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    match (origin, host) {
        (Some("null"), _) => Err(ConsoleError::Bad(
            "cross-site form posts are refused".into(),
        )),
        (Some(o), Some(h)) => {
            let o_host = o.split_once("://").map(|(_, rest)| rest).unwrap_or(o);
            if o_host.eq_ignore_ascii_case(h) {
                Ok(())
            } else {
                Err(ConsoleError::Bad(
                    "cross-site form posts are refused".into(),
                ))
            }
        }
        _ => Ok(()),
    }
}

pub fn router(st: ConsoleState) -> Router {
    login::warm(st.users.clone());
    // The forms a session posts: the session is checked on the headers before any byte
    // of the body is read, and the body is bounded.
    let forms = Router::new()
        .route("/console/logout", post(logout))
        .route("/console/leads/{id}/assign", post(queues::assign))
        .route("/console/leads/{id}/erase", post(lead::erase))
        .route("/console/reps/{id}/availability", post(reps::availability))
        .route("/console/try", post(try_lead::submit))
        .route("/console/leads/{id}/act", post(actions::act))
        .route("/console/zone", post(time::set_zone))
        .route_layer(axum::middleware::from_fn_with_state(
            st.clone(),
            session_first,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_FORM_BYTES));
    // The what-if upload: a candidate config and its CSVs, a larger bound of its own.
    let uploads = Router::new()
        .route("/console/whatif", post(whatif::start))
        .route_layer(axum::middleware::from_fn_with_state(
            st.clone(),
            session_first,
        ))
        .layer(axum::extract::DefaultBodyLimit::max(
            whatif_run::MAX_UPLOAD_BYTES,
        ));
    Router::new()
        .merge(forms)
        .merge(uploads)
        .route("/console", get(home))
        .route("/console/", get(home))
        .route("/console/login", get(login::login_page).post(login::login))
        .route("/console/overview", get(overview::page))
        .route("/console/queues", get(queues::page))
        .route("/console/leads", get(leads::page))
        .route("/console/leads.csv", get(leads::csv))
        .route("/console/leads/{id}", get(lead::page))
        .route("/console/flow", get(flow::page))
        .route("/console/flow/leads", get(flow::leads))
        .route("/console/reps", get(reps::page))
        .route("/console/my", get(reps::my_leads))
        .route("/console/try", get(try_lead::page))
        .route("/console/matrix", get(matrix::page))
        .route("/console/audit", get(audit::page))
        .route("/console/crm", get(crm::page))
        .route("/console/whatif", get(whatif::page))
        .route("/console/config", get(config_history::page))
        .route("/console/whatif/{id}", get(whatif::run_page))
        .route("/console/whatif/{id}/leads/{lead}", get(whatif::lead_page))
        .route("/console/crm/dead-letters/{id}/retry", post(crm::retry))
        .route("/console/report", get(report::page))
        .route("/console/report.csv", get(report::csv))
        .route("/v1/reports/weekly", get(report::api))
        .route("/v1/reports/weekly/send", post(report_mail::send_now))
        .layer(crate::security_headers::layer(st.app.shared.clone()))
        .with_state(st)
}

/// Session before body (issue 24, SEC-1): a console form post without a live session is
/// sent to the login page on its headers alone; its body is never read. The handler reads
/// the session again with the body (one indexed read), which keeps the handlers as they
/// are.
async fn session_first(
    State(st): State<ConsoleState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    match session(&st, req.headers()).await {
        Ok(_) => next.run(req).await,
        Err(e) => e.into_response(),
    }
}

async fn home(State(st): State<ConsoleState>, headers: HeaderMap) -> PageResult {
    let s = session(&st, &headers).await?;
    Ok(Redirect::to(if s.is_staff() {
        "/console/overview"
    } else {
        "/console/my"
    })
    .into_response())
}

async fn logout(State(st): State<ConsoleState>, headers: HeaderMap, body: Bytes) -> PageResult {
    let s = session(&st, &headers).await?;
    let form = FormData::parse(&body)?;
    check_csrf(&s, &headers, &form)?;
    if let Some(token) = cookie(&headers, SESSION_COOKIE) {
        st.app
            .shared
            .store
            .session_delete(&sha256_hex(token))
            .await?;
    }
    let _ = audit(
        &st.app.shared,
        Audit::new(format!("console:{}", s.user), "console.logout"),
    )
    .await;
    let mut resp = Redirect::to("/console/login").into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0{}",
        secure_attr(&st)
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(resp)
}

/// Wait for a sequencer job's answer.
pub async fn wait<T>(
    rx: tokio::sync::oneshot::Receiver<Result<T, JobError>>,
) -> Result<T, ConsoleError> {
    match tokio::time::timeout(crate::api::REPLY_TIMEOUT, rx).await {
        Ok(Ok(r)) => r.map_err(ConsoleError::from),
        Ok(Err(_)) => Err(ConsoleError::Unavailable(
            "the writer dropped the request".into(),
        )),
        Err(_) => Err(ConsoleError::Unavailable(
            "timed out waiting for the writer".into(),
        )),
    }
}

// ---- small view helpers shared by the pages ----

/// "3 min", "2 h 34 min", "5 d": how long ago `us` was at `now_us`.
pub fn age(now_us: i64, us: i64) -> String {
    time::between(us, now_us.max(us))
}

/// A lead's display name and company from its stored payload.
pub fn lead_name(payload: &serde_json::Value, email: Option<&str>) -> (String, String) {
    let field = |k: &str| {
        payload
            .get(k)
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut name = format!("{} {}", field("first_name"), field("last_name"))
        .trim()
        .to_string();
    if name.is_empty() {
        name = email.unwrap_or("(no name)").to_string();
    }
    (name, field("company"))
}

/// A rep's name from the live config, or the id when the config no longer has them.
pub fn rep_name(cfg: &leadrouter_core::config::CompiledConfig, id: &str) -> String {
    cfg.rep_by_id
        .get(id)
        .map(|r| cfg.rep(*r).name.clone())
        .unwrap_or_else(|| id.to_string())
}

/// The MET-1 gauges on `/metrics`: recomputed from stored data every 30 s over the last
/// seven days, so they agree with the console.
pub fn spawn_gauges(st: ConsoleState) {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(30));
        loop {
            tick.tick().await;
            match report::last_week_now(&st).await {
                Ok(w) => st.app.shared.metrics.set_met1(&w.figures, w.p50, w.p99),
                Err(e) => tracing::warn!(error = ?e, "refreshing the MET-1 gauges failed"),
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_parse_and_verify() {
        let h = hash_password("s3cret pass").unwrap();
        let u = Users::parse(&format!("alice:admin:{h};\n bob:ops:{h}")).unwrap();
        assert_eq!(
            u.verify("alice", "s3cret pass").map(|u| u.role),
            Some(Role::Admin)
        );
        assert!(u.verify("alice", "wrong").is_none());
        assert!(u.verify("carol", "s3cret pass").is_none());
        assert_eq!(
            u.verify("bob", "s3cret pass").map(|u| u.role),
            Some(Role::Ops)
        );
    }

    #[test]
    fn bad_user_entries_say_what_is_wrong() {
        let h = hash_password("x").unwrap();
        let e = Users::parse("alice:admin").err().unwrap();
        assert!(e.contains("NAME:ROLE:HASH"), "{e}");
        let e = Users::parse(&format!("alice:boss:{h}")).err().unwrap();
        assert!(e.contains("not admin, ops, manager or rep"), "{e}");
        let e = Users::parse("alice:admin:plaintext").err().unwrap();
        assert!(e.contains("argon2"), "{e}");
        let e = Users::parse(&format!("a:admin:{h};a:ops:{h}"))
            .err()
            .unwrap();
        assert!(e.contains("twice"), "{e}");
        assert!(hash_password("").is_err());
    }

    #[test]
    fn origin_must_be_this_host() {
        let mut h = HeaderMap::new();
        h.insert(header::HOST, HeaderValue::from_static("127.0.0.1:8080"));
        assert!(check_origin(&h).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("http://127.0.0.1:8080"),
        );
        assert!(check_origin(&h).is_ok());
        h.insert(
            header::ORIGIN,
            HeaderValue::from_static("https://evil.example"),
        );
        assert!(check_origin(&h).is_err());
    }

    #[test]
    fn cookies_are_found_by_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; lr_console=tok; b=2"),
        );
        assert_eq!(cookie(&h, SESSION_COOKIE), Some("tok"));
        assert_eq!(cookie(&h, "c"), None);
    }
}
