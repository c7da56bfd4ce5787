//! Console login (issue 24, item 3): the login page and `POST /console/login`, and what
//! keeps it from being an oracle or a lever on the whole process.
//!
//! - Throttling with backoff, per user name and per client address: a few free failures,
//!   then each failure blocks that key for twice as long as the last (1 s … 5 min); a
//!   blocked attempt is answered 429 with `Retry-After` before any password is checked;
//!   a blocked address (or no room left to wait for a check) is answered on the headers,
//!   before the body is read, with a fixed page that costs next to nothing.
//!   Names that are not users are tracked exactly like users (no enumeration), in a map
//!   of bounded size; so are addresses (IPv6 by /64).
//! - A small bound on password checks: argon2 (19 MiB and tens of ms each) runs on the
//!   blocking pool, a few at a time; a few more may wait briefly, the rest get 429 at
//!   once, so a flood costs neither unbounded memory nor the intake's CPU.
//! - Login CSRF bound to a server-side key: the form's token is an HMAC, under a key
//!   derived from the configured users' password hashes (every instance with the same
//!   users agrees; no outsider knows them), of the random value in the login cookie and
//!   an expiry. An attacker who can plant a cookie still cannot make a matching token.

use super::{
    ConsoleError, ConsoleState, FormData, LOGIN_COOKIE, MAX_FORM_BYTES, PageResult, Role,
    SESSION_COOKIE, SESSION_TTL_US, Users, check_origin, cookie, html_headers, secure_attr,
    sha256_hex,
};
use crate::api::audit::{Audit, audit};
use askama::Template;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use hmac::{Hmac, KeyInit, Mac};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

type HmacSha256 = Hmac<hmac_sha2::Sha256>;

/// Per user name: five free failures, then 1 s, 2 s, 4 s … up to 5 min.
const PER_USER: Policy = Policy {
    free: 5,
    base: Duration::from_secs(1),
    max: Duration::from_secs(300),
    forget: Duration::from_secs(900),
};
/// Per address: more free failures (an office behind one NAT), same backoff.
const PER_ADDRESS: Policy = Policy {
    free: 20,
    ..PER_USER
};
/// Entries kept for names that are not users, and for addresses, each.
const MAX_TRACKED: usize = 10_000;
/// Longest name tracked as typed; longer ones are tracked by their first characters.
const MAX_NAME_CHARS: usize = 128;
/// How long a login form stays valid.
const FORM_TTL_US: i64 = 3600 * 1_000_000;
/// How long an admitted login may wait for a password-check slot.
const CHECK_WAIT: Duration = Duration::from_secs(5);

#[derive(Clone, Copy)]
struct Policy {
    free: u32,
    base: Duration,
    max: Duration,
    /// Failures are forgotten this long after the last one (once no longer blocked).
    forget: Duration,
}

impl Policy {
    fn block_after(&self, failures: u32) -> Option<Duration> {
        let over = failures.checked_sub(self.free)?;
        Some(self.base.saturating_mul(1 << over.min(20)).min(self.max))
    }
}

struct Entry {
    failures: u32,
    last: Instant,
    until: Instant,
}

/// Failures by key under one policy, with at most `cap` keys.
struct Limiter {
    policy: Policy,
    cap: usize,
    entries: HashMap<String, Entry>,
}

impl Limiter {
    fn new(policy: Policy, cap: usize) -> Limiter {
        Limiter {
            policy,
            cap,
            entries: HashMap::new(),
        }
    }

    fn stale(&self, e: &Entry, now: Instant) -> bool {
        now >= e.until && now.duration_since(e.last) >= self.policy.forget
    }

    /// How long `key` must still wait, if it is blocked.
    fn wait(&self, key: &str, now: Instant) -> Option<Duration> {
        let e = self.entries.get(key)?;
        (e.until > now).then(|| e.until - now)
    }

    fn fail(&mut self, key: &str, now: Instant) {
        if !self.entries.contains_key(key) && self.entries.len() >= self.cap {
            self.make_room(now);
        }
        let stale = self.entries.get(key).is_some_and(|e| self.stale(e, now));
        let e = self.entries.entry(key.to_string()).or_insert(Entry {
            failures: 0,
            last: now,
            until: now,
        });
        if stale {
            e.failures = 0;
        }
        e.failures = e.failures.saturating_add(1);
        e.last = now;
        if let Some(d) = self.policy.block_after(e.failures) {
            e.until = now + d;
        }
    }

    fn clear(&mut self, key: &str) {
        self.entries.remove(key);
    }

    /// Drop forgotten entries; when a flood of distinct keys leaves none forgotten, drop
    /// the one whose last failure is oldest.
    fn make_room(&mut self, now: Instant) {
        let policy = self.policy;
        self.entries
            .retain(|_, e| !(now >= e.until && now.duration_since(e.last) >= policy.forget));
        if self.entries.len() >= self.cap
            && let Some(oldest) = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last)
                .map(|(k, _)| k.clone())
        {
            self.entries.remove(&oldest);
        }
    }
}

struct Limits {
    /// Configured users: never evicted (their number is fixed).
    users: Limiter,
    /// Other names, bounded: a flood of invented names cannot grow memory.
    others: Limiter,
    addresses: Limiter,
}

/// What stands between a login form and argon2.
pub(super) struct LoginGate {
    limits: Mutex<Limits>,
    /// Password checks running at once.
    checks: Arc<Semaphore>,
    /// Logins admitted to wait for or run a check; beyond it, 429 at once.
    admitted: Arc<Semaphore>,
    csrf_key: [u8; 32],
}

/// Why a login is not checked now.
enum Refusal {
    Throttled(Duration),
    Busy,
}

impl LoginGate {
    /// `secret_material`: what the login CSRF key is derived from (the users' hashes).
    pub(super) fn new(secret_material: &[&str]) -> LoginGate {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(b"leadrouter console login csrf v1\n");
        for s in secret_material {
            h.update(s.as_bytes());
            h.update(b"\n");
        }
        let checks = std::thread::available_parallelism()
            .map_or(1, |n| n.get() / 2)
            .clamp(1, 4);
        LoginGate {
            limits: Mutex::new(Limits {
                users: Limiter::new(PER_USER, usize::MAX),
                others: Limiter::new(PER_USER, MAX_TRACKED),
                addresses: Limiter::new(PER_ADDRESS, MAX_TRACKED),
            }),
            checks: Arc::new(Semaphore::new(checks)),
            admitted: Arc::new(Semaphore::new(checks * 5)),
            csrf_key: h.finalize().into(),
        }
    }

    fn limits(&self) -> std::sync::MutexGuard<'_, Limits> {
        // The maps stay consistent even if a holder panicked: take them as they are.
        self.limits.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn throttled(&self, name: &str, known: bool, addr: &str, now: Instant) -> Option<Duration> {
        let l = self.limits();
        let by_name = if known { &l.users } else { &l.others };
        by_name.wait(name, now).max(l.addresses.wait(addr, now))
    }

    /// The address alone: known from the connection, before the body is read.
    fn address_throttled(&self, addr: &str, now: Instant) -> Option<Duration> {
        self.limits().addresses.wait(addr, now)
    }

    /// Every place for a login to wait for a password check is taken.
    fn full(&self) -> bool {
        self.admitted.available_permits() == 0
    }

    fn failed(&self, name: &str, known: bool, addr: &str, now: Instant) {
        let mut l = self.limits();
        if known {
            l.users.fail(name, now);
        } else {
            l.others.fail(name, now);
        }
        l.addresses.fail(addr, now);
    }

    fn succeeded(&self, name: &str) {
        self.limits().users.clear(name);
    }

    /// A slot to check one password, or why not.
    async fn slot(&self) -> Result<(OwnedSemaphorePermit, OwnedSemaphorePermit), Refusal> {
        let admitted = self
            .admitted
            .clone()
            .try_acquire_owned()
            .map_err(|_| Refusal::Busy)?;
        let check = tokio::time::timeout(CHECK_WAIT, self.checks.clone().acquire_owned())
            .await
            .map_err(|_| Refusal::Busy)?
            .map_err(|_| Refusal::Busy)?;
        Ok((admitted, check))
    }

    fn csrf_mac(&self, nonce: &str, expires: i64) -> HmacSha256 {
        let mut m = <HmacSha256 as KeyInit>::new_from_slice(&self.csrf_key)
            .expect("HMAC takes any key length");
        m.update(nonce.as_bytes());
        m.update(b"|");
        m.update(expires.to_string().as_bytes());
        m
    }

    /// A fresh (cookie value, form token) pair.
    fn csrf_pair(&self, now_us: i64) -> (String, String) {
        let nonce = crate::auth::generate();
        let expires = now_us + FORM_TTL_US;
        let mac = hex::encode(self.csrf_mac(&nonce, expires).finalize().into_bytes());
        (nonce, format!("{expires}.{mac}"))
    }

    /// The form's token was made here, for this cookie, and has not expired.
    fn csrf_ok(&self, cookie: Option<&str>, token: Option<&str>, now_us: i64) -> bool {
        let (Some(nonce), Some(token)) = (cookie, token) else {
            return false;
        };
        let Some((expires, mac)) = token.split_once('.') else {
            return false;
        };
        let (Ok(expires), Ok(mac)) = (expires.parse::<i64>(), hex::decode(mac)) else {
            return false;
        };
        !nonce.is_empty()
            && expires > now_us
            && self.csrf_mac(nonce, expires).verify_slice(&mac).is_ok()
    }
}

/// The throttling key of a client: its IP, IPv6 by /64 (one host's share).
fn address_key(peer: Option<IpAddr>) -> String {
    match peer.map(|ip| ip.to_canonical()) {
        Some(IpAddr::V6(v6)) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
        Some(ip) => ip.to_string(),
        None => "unknown".into(),
    }
}

#[derive(Template)]
#[template(path = "console/login.html")]
struct LoginPage {
    csrf: String,
    error: Option<String>,
}

pub(super) async fn login_page(State(st): State<ConsoleState>) -> Response {
    login_form(&st, None, StatusCode::OK)
}

fn login_form(st: &ConsoleState, error: Option<String>, status: StatusCode) -> Response {
    let (nonce, token) = st
        .users
        .gate
        .csrf_pair(st.app.shared.clock.now().as_microsecond());
    let body = LoginPage { csrf: token, error }
        .render()
        .unwrap_or_default();
    let mut resp = (status, html_headers(), body).into_response();
    if let Ok(v) = HeaderValue::from_str(&format!(
        "{LOGIN_COOKIE}={nonce}; Path=/console; HttpOnly; SameSite=Strict; Max-Age=3600{}",
        secure_attr(st)
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// Longest a throttled login's answer is held back.
const MAX_HOLD: Duration = Duration::from_secs(1);

/// Hold a throttled login's answer for half its remaining block (at most a second), and
/// return what then remains. A client that retries as soon as it is answered (a flood
/// loop) is slowed from thousands of attempts a second to a few per connection, at the
/// cost of one timer; the block still ends when it would have.
async fn hold(wait: Duration) -> Duration {
    let held = (wait / 2).min(MAX_HOLD);
    tokio::time::sleep(held).await;
    wait - held
}

/// The answer to a login refused before its password is checked: a fixed page, no
/// template, no form token, so a flood of them costs next to nothing. The login form the
/// client already has stays valid (its token lasts an hour).
fn refused(why: Refusal) -> Response {
    let (wait, message) = match why {
        Refusal::Throttled(d) => {
            let s = (d.as_secs() + u64::from(d.subsec_nanos() > 0)).max(1);
            (s, format!("Too many attempts; try again in {s} s."))
        }
        Refusal::Busy => (2, "Too many logins at once; try again in 2 s.".to_string()),
    };
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Try again later</title></head>\
         <body><p role=\"alert\">{message}</p><p><a href=\"/console/login\">Back to the login page</a></p></body></html>"
    );
    // 429, not 503, for both: it is this client's burst of logins that is refused, and a
    // 5xx would log an error line per request of a flood.
    let mut resp = (StatusCode::TOO_MANY_REQUESTS, html_headers(), body).into_response();
    resp.headers_mut()
        .insert(header::RETRY_AFTER, HeaderValue::from(wait));
    resp
}

pub(super) async fn login(State(st): State<ConsoleState>, req: Request) -> PageResult {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let addr = address_key(peer);
    let gate = &st.users.gate;
    // On the headers alone, before the body is read: a blocked address, or no room for
    // another password check, is refused at once (the body is never read).
    if let Some(wait) = gate.address_throttled(&addr, Instant::now()) {
        return Ok(refused(Refusal::Throttled(hold(wait).await)));
    }
    if gate.full() {
        return Ok(refused(Refusal::Busy));
    }
    let (parts, body) = req.into_parts();
    let headers = parts.headers;
    check_origin(&headers)?;
    let body = axum::body::to_bytes(body, MAX_FORM_BYTES)
        .await
        .map_err(|_| ConsoleError::Bad("the form is too large".into()))?;
    let form = FormData::parse(&body)?;
    let now_us = st.app.shared.clock.now().as_microsecond();
    if !gate.csrf_ok(
        cookie(&headers, LOGIN_COOKIE),
        form.0.get("csrf").map(String::as_str),
        now_us,
    ) {
        return Ok(login_form(
            &st,
            Some("The login form expired; please try again.".into()),
            StatusCode::BAD_REQUEST,
        ));
    }
    let name = form.get("username").unwrap_or("").to_string();
    let password = form.0.get("password").cloned().unwrap_or_default();
    if name.is_empty() || password.is_empty() || password.len() > 1024 {
        return Ok(login_form(
            &st,
            Some("Enter your user name and password.".into()),
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    }
    let key: String = name.chars().take(MAX_NAME_CHARS).collect();
    let known = st.users.contains(&name);
    if let Some(wait) = gate.throttled(&key, known, &addr, Instant::now()) {
        return Ok(refused(Refusal::Throttled(hold(wait).await)));
    }
    let (admitted, check) = match gate.slot().await {
        Ok(permits) => permits,
        Err(why) => return Ok(refused(why)),
    };
    let users = st.users.clone();
    let user = tokio::task::spawn_blocking(move || {
        // The permits live as long as the check, even if the client goes away.
        let _permits = (admitted, check);
        users.verify(&name, &password)
    })
    .await
    .map_err(|e| ConsoleError::Unavailable(e.to_string()))?;
    let Some(user) = user else {
        gate.failed(&key, known, &addr, Instant::now());
        let failed = Audit::new("anonymous", "console.login_failed").subject(key.clone());
        let _ = audit(&st.app.shared, failed).await;
        return Ok(login_form(
            &st,
            Some("Wrong user name or password.".into()),
            StatusCode::UNAUTHORIZED,
        ));
    };
    gate.succeeded(&key);
    if user.role == Role::Rep
        && !st
            .app
            .shared
            .config
            .load()
            .rep_by_id
            .contains_key(&user.name)
    {
        return Ok(login_form(
            &st,
            Some("This rep is no longer in the routing config.".into()),
            StatusCode::FORBIDDEN,
        ));
    }
    let token = crate::auth::generate();
    let now = st.app.shared.clock.now().as_microsecond();
    st.app
        .shared
        .store
        .session_create(&leadrouter_store::reporting::SessionRow {
            id: sha256_hex(&token),
            username: user.name.clone(),
            role: user.role.name().into(),
            csrf: crate::auth::generate(),
            created_at: now,
            expires_at: now + SESSION_TTL_US,
        })
        .await?;
    let entry = Audit::new(format!("console:{}", user.name), "console.login")
        .detail(serde_json::json!({ "role": user.role.name() }));
    let _ = audit(&st.app.shared, entry).await;
    let mut resp = Redirect::to(if user.role == Role::Rep {
        "/console/my"
    } else {
        "/console/overview"
    })
    .into_response();
    let secure = secure_attr(&st);
    for c in [
        format!(
            "{SESSION_COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{secure}",
            SESSION_TTL_US / 1_000_000
        ),
        format!("{LOGIN_COOKIE}=; Path=/console; HttpOnly; SameSite=Strict; Max-Age=0{secure}"),
    ] {
        if let Ok(v) = HeaderValue::from_str(&c) {
            resp.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    Ok(resp)
}

/// Warm the stand-in hash for unknown names off the runtime, so even the first unknown
/// name costs what a known one does.
pub(super) fn warm(users: Arc<Users>) {
    tokio::task::spawn_blocking(move || {
        users.dummy_hash();
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_after_the_free_failures_and_is_capped() {
        let mut l = Limiter::new(PER_USER, 100);
        let t0 = Instant::now();
        for _ in 0..4 {
            l.fail("jane", t0);
            assert_eq!(l.wait("jane", t0), None);
        }
        l.fail("jane", t0);
        assert_eq!(l.wait("jane", t0), Some(Duration::from_secs(1)));
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(l.wait("jane", t1), None);
        l.fail("jane", t1);
        assert_eq!(l.wait("jane", t1), Some(Duration::from_secs(2)));
        for _ in 0..30 {
            l.fail("jane", t1);
        }
        assert_eq!(l.wait("jane", t1), Some(Duration::from_secs(300)));
        // Forgotten a while after the block ends.
        let later = t1 + Duration::from_secs(300 + 900);
        l.fail("jane", later);
        assert_eq!(l.wait("jane", later), None);
    }

    #[test]
    fn a_flood_of_distinct_keys_stays_within_the_cap() {
        let mut l = Limiter::new(PER_USER, 50);
        let t0 = Instant::now();
        for i in 0..10_000u32 {
            l.fail(
                &format!("name{i}"),
                t0 + Duration::from_millis(u64::from(i)),
            );
        }
        assert!(l.entries.len() <= 50, "{}", l.entries.len());
        // The most recent keys are the ones kept.
        assert!(l.entries.contains_key("name9999"));
    }

    #[test]
    fn login_csrf_needs_the_servers_key_the_cookie_and_time() {
        let gate = LoginGate::new(&["$argon2id$v=19$m=19456,t=2,p=1$salt$hash"]);
        let (nonce, token) = gate.csrf_pair(1_000);
        assert!(gate.csrf_ok(Some(&nonce), Some(&token), 2_000));
        // Any equal cookie/form pair used to pass.
        assert!(!gate.csrf_ok(Some("forged"), Some("forged"), 2_000));
        assert!(!gate.csrf_ok(Some("other"), Some(&token), 2_000));
        assert!(!gate.csrf_ok(Some(&nonce), Some(&token), 1_000 + FORM_TTL_US));
        assert!(!gate.csrf_ok(None, Some(&token), 2_000));
        let elsewhere = LoginGate::new(&["another users file"]);
        assert!(!elsewhere.csrf_ok(Some(&nonce), Some(&token), 2_000));
        let (e, _) = token.split_once('.').unwrap();
        let longer = format!(
            "{}.{}",
            e.parse::<i64>().unwrap() + 1,
            &token[e.len() + 1..]
        );
        assert!(!gate.csrf_ok(Some(&nonce), Some(&longer), 2_000));
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64_prefix() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(address_key(Some(a)), address_key(Some(b)));
        let mapped: IpAddr = "::ffff:192.0.2.7".parse().unwrap();
        assert_eq!(address_key(Some(mapped)), "192.0.2.7");
        assert_eq!(address_key(None), "unknown");
    }
}
