//! The HTTP JSON provider: a Clearbit-, Apollo- or ZoomInfo-style company lookup
//! configured without code (URL template, auth header from an env var, JSON pointers
//! from the response to our fields).
//!
//! A lookup goes through, in order:
//! 1. the in-memory cache (moka, per-entry TTL: `cache_ttl` for companies found,
//!    `miss_ttl` for "not found"), keyed by registrable domain (or by email when the URL
//!    uses `{email}`). Concurrent lookups of one key are coalesced by moka's
//!    `try_get_with`: one request, every waiting lead gets its answer (or its error);
//! 2. the [`PersistentCache`] (read-through), so a restart does not re-spend credits;
//! 3. the circuit breaker (refuses while the provider is known to be down);
//! 4. the request itself, in a spawned task so that a lead whose budget runs out does not
//!    cancel it: the answer still lands in both caches for the next lead. Each attempt
//!    waits for the rate limiter (governor) only if its slot comes before the budget
//!    ends, and retries (backon, exponential with jitter) follow Retry-After on 429/503
//!    when it fits in the budget.
//!
//! Errors are not cached; "not found" is (for `miss_ttl`).
//!
//! The address guard (issue 24, docs/security.md "Outbound calls and readiness"): a
//! provider reaches only public addresses unless it says `allow_private = true`, by the
//! same classification webhooks use (`leadrouter_core::netguard`). Names are checked in
//! the client's DNS resolver, so the address checked is the address connected to; IP
//! literals (the URL's and every redirect hop's) are checked before the request; no
//! proxy is used, since a proxy would resolve the name itself. A provider with
//! `allow_private = true` follows no redirects, so it cannot be bounced elsewhere.

use crate::PersistentCache;
use crate::circuit::{CircuitBreaker, Permit};
use crate::config::{HttpConfig, fmt_duration};
use crate::record::{Field, Firmographics};
use crate::stats::{Counters, bump};
use backon::{ExponentialBuilder, Retryable};
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use leadrouter_core::netguard::{first_private, is_public_ip};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest response body read; a bigger one is a provider error.
const MAX_BODY: usize = 2 * 1024 * 1024;
/// Most redirects a provider without `allow_private` may send for one request.
const MAX_REDIRECTS: usize = 5;
/// Characters left as they are in `{domain}` / `{email}` substitutions.
const KEY_SAFE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'.')
    .remove(b'-')
    .remove(b'_')
    .remove(b'~');

/// What the caches hold for one key.
#[derive(Clone)]
struct Entry {
    record: Option<Arc<Firmographics>>,
    expires_at: Instant,
}

/// Each entry lives until its own `expires_at` (hits and misses have different TTLs, and
/// an entry read from the persistent cache keeps its remaining lifetime).
struct EntryExpiry;

impl moka::Expiry<String, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &String, v: &Entry, now: Instant) -> Option<Duration> {
        Some(v.expires_at.saturating_duration_since(now))
    }

    fn expire_after_update(
        &self,
        _: &String,
        v: &Entry,
        now: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        Some(v.expires_at.saturating_duration_since(now))
    }
}

/// The answer a lead gets.
pub enum HttpAnswer {
    Found(Arc<Firmographics>),
    NotFound,
    Failed(String),
}

impl Entry {
    fn answer(&self) -> HttpAnswer {
        match &self.record {
            Some(r) => HttpAnswer::Found(r.clone()),
            None => HttpAnswer::NotFound,
        }
    }
}

/// One failed request.
#[derive(Debug, Clone)]
enum AttemptError {
    Timeout(Duration),
    Connect(String),
    Status {
        code: u16,
        retry_after: Option<Duration>,
    },
    Malformed {
        line: usize,
        column: usize,
    },
    TooLarge,
    /// Our own rate limit: the next slot is past the budget. Not the provider's fault.
    RateLimited {
        wait: Duration,
        rate: String,
    },
    /// The budget ran out before this attempt could start.
    BudgetSpent,
    /// The address guard refused the URL, a redirect hop or a name's address.
    Refused(String),
    /// A redirect from a provider with `allow_private = true`, which follows none.
    Redirected(u16),
}

impl AttemptError {
    fn retryable(&self) -> bool {
        match self {
            AttemptError::Timeout(_) | AttemptError::Connect(_) => true,
            AttemptError::Status { code, .. } => *code == 429 || *code >= 500,
            _ => false,
        }
    }

    /// Does this failure say something about the provider's health?
    fn counts_against_provider(&self) -> bool {
        !matches!(
            self,
            AttemptError::RateLimited { .. } | AttemptError::BudgetSpent
        )
    }
}

impl std::fmt::Display for AttemptError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AttemptError::Timeout(d) => write!(f, "timed out after {}", fmt_duration(*d)),
            AttemptError::Connect(m) => f.write_str(m),
            AttemptError::Status { code, .. } => write!(f, "HTTP {code}"),
            AttemptError::Malformed { line, column } => {
                write!(f, "malformed JSON at line {line} column {column}")
            }
            AttemptError::TooLarge => write!(f, "response larger than {} MiB", MAX_BODY >> 20),
            AttemptError::RateLimited { wait, rate } => write!(
                f,
                "rate limit {rate}: next slot in {} is past the budget",
                fmt_duration(*wait)
            ),
            AttemptError::BudgetSpent => f.write_str("budget spent before the request"),
            AttemptError::Refused(why) => write!(
                f,
                "refused: {why}; set allow_private = true on this provider if that is intended"
            ),
            AttemptError::Redirected(code) => write!(
                f,
                "HTTP {code} redirect not followed (a provider with allow_private follows no redirects)"
            ),
        }
    }
}

/// A failed lookup, shared by every lead that waited for it.
#[derive(Debug, Clone)]
enum FetchError {
    Attempt {
        error: AttemptError,
        attempts: u32,
        note: Option<String>,
    },
    CircuitOpen,
    Internal(String),
}

impl std::fmt::Display for FetchError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FetchError::Attempt {
                error,
                attempts,
                note,
            } => {
                write!(f, "{error}")?;
                let mut extra = Vec::new();
                if *attempts > 1 {
                    extra.push(format!("{attempts} attempts"));
                }
                if let Some(n) = note {
                    extra.push(n.clone());
                }
                if !extra.is_empty() {
                    write!(f, " ({})", extra.join("; "))?;
                }
                Ok(())
            }
            FetchError::CircuitOpen => f.write_str("circuit open"),
            FetchError::Internal(m) => write!(f, "internal error: {m}"),
        }
    }
}

pub struct HttpProvider {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    config: HttpConfig,
    client: reqwest::Client,
    headers: HeaderMap,
    limiter: Option<DefaultDirectRateLimiter>,
    clock: DefaultClock,
    cache: moka::future::Cache<String, Entry>,
    persistent: Option<Arc<dyn PersistentCache>>,
    circuit: Arc<CircuitBreaker>,
    counters: Arc<Counters>,
}

impl HttpProvider {
    pub fn new(
        name: &str,
        config: HttpConfig,
        persistent: Option<Arc<dyn PersistentCache>>,
        counters: Arc<Counters>,
    ) -> Result<HttpProvider, String> {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::ACCEPT,
            HeaderValue::from_static("application/json"),
        );
        for (k, v) in &config.headers {
            let (Ok(k), Ok(v)) = (
                HeaderName::from_bytes(k.as_bytes()),
                HeaderValue::from_str(v),
            ) else {
                return Err(format!("{name}: invalid header {k}"));
            };
            headers.insert(k, v);
        }
        if let Some((k, v)) = &config.auth {
            let k = HeaderName::from_bytes(k.as_bytes())
                .map_err(|_| format!("{name}: invalid auth header name {k}"))?;
            let mut v = HeaderValue::from_str(v)
                .map_err(|_| format!("{name}: the auth header value is not valid"))?;
            v.set_sensitive(true);
            headers.insert(k, v);
        }
        let builder = reqwest::Client::builder()
            .user_agent(concat!("leadrouter-enrich/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(config.timeout.min(Duration::from_secs(5)))
            .pool_idle_timeout(Duration::from_secs(90))
            .no_proxy();
        let builder = if config.allow_private {
            builder.redirect(reqwest::redirect::Policy::none())
        } else {
            builder.dns_resolver(Arc::new(PublicOnlyResolver)).redirect(
                reqwest::redirect::Policy::custom(|hop| {
                    if hop.previous().len() >= MAX_REDIRECTS {
                        return hop.error(format!("more than {MAX_REDIRECTS} redirects"));
                    }
                    match refusal(hop.url()) {
                        Some(why) => hop.error(Refused(why)),
                        None => hop.follow(),
                    }
                }),
            )
        };
        let client = builder
            .build()
            .map_err(|e| format!("{name}: cannot build the HTTP client ({e})"))?;
        let limiter = config.rate_limit.map(|r| {
            let n = NonZeroU32::new(r.count).unwrap_or(NonZeroU32::MIN);
            let quota = match r.per.as_secs() {
                3600 => Quota::per_hour(n),
                60 => Quota::per_minute(n),
                _ => Quota::per_second(n),
            };
            RateLimiter::direct(quota)
        });
        let cache = moka::future::Cache::builder()
            .max_capacity(config.cache_capacity)
            .expire_after(EntryExpiry)
            .build();
        let circuit = Arc::new(CircuitBreaker::new(
            config.circuit_failures,
            config.circuit_cooldown,
        ));
        Ok(HttpProvider {
            inner: Arc::new(Inner {
                name: name.to_string(),
                config,
                client,
                headers,
                limiter,
                clock: DefaultClock::default(),
                cache,
                persistent,
                circuit,
                counters,
            }),
        })
    }

    /// The fields this provider's mapping can supply.
    pub fn provides(&self) -> impl Iterator<Item = Field> + '_ {
        self.inner.config.fields.iter().map(|(f, _)| *f)
    }

    pub fn circuit_state(&self) -> &'static str {
        self.inner.circuit.state_name()
    }

    /// Erasure (SEC-3): drop the in-memory entry keyed by this normalised `email`, if the
    /// provider keys by email (`{email}` in its URL); entries keyed by a company domain
    /// stay, as the persistent cache's do. Returns whether an entry was dropped.
    pub async fn forget(&self, email: &str) -> bool {
        self.inner.config.uses_email && self.inner.cache.remove(email).await.is_some()
    }

    /// Look a company up by its registrable `domain` (and the lead's `email`, for URL
    /// templates that use it). Never fails: errors come back as [`HttpAnswer::Failed`].
    pub async fn lookup(&self, domain: &str, email: &str, deadline: Instant) -> HttpAnswer {
        let inner = &self.inner;
        let key = if inner.config.uses_email {
            email.to_string()
        } else {
            domain.to_string()
        };
        if let Some(entry) = inner.cache.get(&key).await {
            bump(&inner.counters.cache_hits);
            return entry.answer();
        }
        let url = inner
            .config
            .url
            .replace(
                "{domain}",
                &utf8_percent_encode(domain, KEY_SAFE).to_string(),
            )
            .replace("{email}", &utf8_percent_encode(email, KEY_SAFE).to_string());
        let ran = Arc::new(AtomicBool::new(false));
        let init = {
            let inner = inner.clone();
            let ran = ran.clone();
            let key = key.clone();
            async move {
                ran.store(true, Relaxed);
                inner.load(key, url, deadline).await
            }
        };
        let result = inner.cache.try_get_with(key, init).await;
        if !ran.load(Relaxed) {
            bump(&inner.counters.coalesced);
        }
        match result {
            Ok(entry) => entry.answer(),
            Err(e) => HttpAnswer::Failed(e.to_string()),
        }
    }
}

fn timestamp_after(d: Duration) -> jiff::Timestamp {
    let now = jiff::Timestamp::now();
    jiff::SignedDuration::try_from(d)
        .ok()
        .and_then(|sd| now.checked_add(sd).ok())
        .unwrap_or(jiff::Timestamp::MAX)
}

impl Inner {
    /// The cache-miss path, run once per key however many leads wait for it.
    async fn load(
        self: Arc<Self>,
        key: String,
        url: String,
        deadline: Instant,
    ) -> Result<Entry, FetchError> {
        if let Some(entry) = self.persisted(&key).await {
            bump(&self.counters.persistent_cache_hits);
            return Ok(entry);
        }
        let permit = match self.circuit.acquire() {
            Ok(p) => p,
            Err(_) => {
                bump(&self.counters.circuit_rejections);
                return Err(FetchError::CircuitOpen);
            }
        };
        // Spawned so that the request outlives a lead whose budget ran out: its answer
        // still warms the caches for the next lead from the same company.
        let me = self.clone();
        tokio::spawn(async move { me.fetch_and_store(key, url, deadline, permit).await })
            .await
            .unwrap_or_else(|e| Err(FetchError::Internal(e.to_string())))
    }

    /// A live entry from the persistent cache, keeping its remaining lifetime.
    async fn persisted(&self, key: &str) -> Option<Entry> {
        let (value, expires) = self.persistent.as_ref()?.get(&self.name, key).await?;
        let remaining = Duration::try_from(jiff::Timestamp::now().duration_until(expires))
            .ok()
            .filter(|d| !d.is_zero())?;
        let record = match value {
            Value::Null => None,
            v => {
                let r = serde_json::from_value::<Firmographics>(v).ok()?;
                (!r.is_empty()).then(|| Arc::new(r))
            }
        };
        Some(Entry {
            record,
            expires_at: Instant::now() + remaining,
        })
    }

    async fn fetch_and_store(
        self: Arc<Self>,
        key: String,
        url: String,
        deadline: Instant,
        permit: Permit,
    ) -> Result<Entry, FetchError> {
        let result = self.fetch(&url, deadline).await;
        match &result {
            Ok(_) => permit.success(),
            Err(FetchError::Attempt { error, .. }) if error.counts_against_provider() => {
                permit.failure(&self.counters.circuit_opened)
            }
            Err(_) => drop(permit),
        }
        let record = result?;
        let ttl = if record.is_some() {
            self.config.cache_ttl
        } else {
            self.config.miss_ttl
        };
        let entry = Entry {
            record: record.map(Arc::new),
            expires_at: Instant::now() + ttl,
        };
        // Also inserted here (not only by try_get_with) for the case where every lead
        // waiting for this request gave up.
        self.cache.insert(key.clone(), entry.clone()).await;
        if let Some(p) = self.persistent.clone() {
            let value = match &entry.record {
                Some(r) => serde_json::to_value(&**r).unwrap_or(Value::Null),
                None => Value::Null,
            };
            let name = self.name.clone();
            let expires = timestamp_after(ttl);
            // Write-behind: the lead does not wait for the store.
            tokio::spawn(async move { p.put(&name, &key, &value, expires).await });
        }
        Ok(entry)
    }

    /// The request with retries. Retries stop when the next try (after its backoff or
    /// the provider's Retry-After) could not start before the budget ends.
    async fn fetch(
        &self,
        url: &str,
        deadline: Instant,
    ) -> Result<Option<Firmographics>, FetchError> {
        let attempts = AtomicU32::new(0);
        let note: Mutex<Option<String>> = Mutex::new(None);
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_secs(5))
            .with_max_times(self.config.retries)
            .with_jitter();
        let result = (|| async {
            attempts.fetch_add(1, Relaxed);
            self.attempt(url, deadline).await
        })
        .retry(backoff)
        .sleep(tokio::time::sleep)
        .when(AttemptError::retryable)
        .adjust(|e, next| {
            let next = next?;
            let retry_after = match e {
                AttemptError::Status { retry_after, .. } => *retry_after,
                _ => None,
            };
            let wait = retry_after.unwrap_or(next);
            if Instant::now() + wait >= deadline {
                *note.lock().unwrap_or_else(|e| e.into_inner()) = Some(match retry_after {
                    Some(ra) => format!("Retry-After {} is past the budget", fmt_duration(ra)),
                    None => "no budget left to retry".to_string(),
                });
                return None;
            }
            Some(wait)
        })
        .notify(|_, _| bump(&self.counters.retries))
        .await;
        result.map_err(|error| FetchError::Attempt {
            error,
            attempts: attempts.load(Relaxed),
            note: note.into_inner().unwrap_or_else(|e| e.into_inner()),
        })
    }

    async fn attempt(
        &self,
        url: &str,
        deadline: Instant,
    ) -> Result<Option<Firmographics>, AttemptError> {
        if Instant::now() >= deadline {
            return Err(AttemptError::BudgetSpent);
        }
        if let Some(limiter) = &self.limiter {
            while let Err(not_until) = limiter.check() {
                let wait = not_until.wait_time_from(self.clock.now());
                if Instant::now() + wait >= deadline {
                    bump(&self.counters.rate_limited);
                    let r = self.config.rate_limit.expect("limiter implies a rate");
                    return Err(AttemptError::RateLimited {
                        wait,
                        rate: format!(
                            "{}/{}",
                            r.count,
                            match r.per.as_secs() {
                                3600 => "h",
                                60 => "m",
                                _ => "s",
                            }
                        ),
                    });
                }
                tokio::time::sleep(wait).await;
            }
        }
        bump(&self.counters.requests);
        let started = Instant::now();
        let result = self.send(url).await;
        self.counters.request_latency.record(started.elapsed());
        if let Err(AttemptError::Timeout(_)) = result {
            bump(&self.counters.timeouts);
        }
        result
    }

    async fn send(&self, url: &str) -> Result<Option<Firmographics>, AttemptError> {
        let timeout = self.config.timeout;
        if !self.config.allow_private {
            // IP literals never reach the resolver: check them here.
            let parsed = reqwest::Url::parse(url)
                .map_err(|e| AttemptError::Refused(format!("invalid URL ({e})")))?;
            if let Some(why) = refusal(&parsed) {
                return Err(AttemptError::Refused(why));
            }
        }
        let classify = |e: reqwest::Error| {
            if let Some(r) = refused_in(&e) {
                AttemptError::Refused(r.0.clone())
            } else if e.is_timeout() {
                AttemptError::Timeout(timeout)
            } else if e.is_connect() {
                AttemptError::Connect("connection failed".into())
            } else {
                AttemptError::Connect(format!("request failed: {}", e.without_url()))
            }
        };
        let mut resp = self
            .client
            .get(url)
            .headers(self.headers.clone())
            .timeout(timeout)
            .send()
            .await
            .map_err(classify)?;
        let code = resp.status().as_u16();
        match code {
            204 | 404 => return Ok(None),
            200..=299 => {}
            300..=399 if self.config.allow_private => return Err(AttemptError::Redirected(code)),
            _ => {
                let retry_after = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after);
                return Err(AttemptError::Status { code, retry_after });
            }
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(AttemptError::TooLarge);
            }
            body.extend_from_slice(&chunk);
        }
        let value: Value = serde_json::from_slice(&body).map_err(|e| AttemptError::Malformed {
            line: e.line(),
            column: e.column(),
        })?;
        let mut record = Firmographics::default();
        for (field, pointer) in &self.config.fields {
            if let Some(v) = value.pointer(pointer) {
                record.set_json(*field, v);
            }
        }
        Ok((!record.is_empty()).then_some(record))
    }
}

/// Why the guard refuses a URL whose host is an IP literal (names are checked by
/// [`PublicOnlyResolver`] when they are resolved for the connection).
pub fn refusal(url: &reqwest::Url) -> Option<String> {
    let ip = match url.host()? {
        url::Host::Domain(_) => return None,
        url::Host::Ipv4(v4) => std::net::IpAddr::V4(v4),
        url::Host::Ipv6(v6) => std::net::IpAddr::V6(v6),
    };
    (!is_public_ip(ip)).then(|| format!("{ip} is a non-public address"))
}

/// The guard's refusal, carried through reqwest's error chain so that the lead's
/// `failures` say why instead of "connection failed".
#[derive(Debug)]
pub struct Refused(pub String);

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Refused {}

pub fn refused_in(e: &reqwest::Error) -> Option<&Refused> {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(r) = err.downcast_ref::<Refused>() {
            return Some(r);
        }
        source = err.source();
    }
    None
}

/// A DNS resolver that refuses names resolving to any non-public address. The check
/// runs on the answer the connection then uses, so DNS rebinding between a check and
/// the connect cannot happen.
#[derive(Debug, Clone, Copy, Default)]
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if let Some(ip) = first_private(&addrs) {
                let e: Box<dyn std::error::Error + Send + Sync> = Box::new(Refused(format!(
                    "{host} resolves to non-public address {ip}"
                )));
                return Err(e);
            }
            let it: reqwest::dns::Addrs = Box::new(addrs.into_iter());
            Ok(it)
        })
    }
}

/// Retry-After as seconds ("30") or an HTTP date ("Wed, 21 Oct 2026 07:28:00 GMT").
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = jiff::fmt::rfc2822::DateTimeParser::new()
        .parse_timestamp(v)
        .ok()?;
    Some(Duration::try_from(jiff::Timestamp::now().duration_until(at)).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let later = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(120);
        let header = jiff::fmt::rfc2822::DateTimePrinter::new()
            .timestamp_to_rfc9110_string(&later)
            .unwrap();
        let d = parse_retry_after(&header).unwrap();
        assert!(
            d > Duration::from_secs(100) && d <= Duration::from_secs(120),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
    }

    #[test]
    fn guard_refuses_non_public_literals_and_leaves_names_to_the_resolver() {
        for (url, refused) in [
            ("http://127.0.0.1:8080/find", true),
            ("http://[::1]/find", true),
            ("http://[::ffff:0:7f00:1]/find", true),
            ("http://169.254.169.254/latest/meta-data/", true),
            ("https://10.0.0.5/x", true),
            ("https://93.184.216.34/find", false),
            ("https://api.example.com/find", false),
        ] {
            let u = reqwest::Url::parse(url).unwrap();
            assert_eq!(refusal(&u).is_some(), refused, "{url}");
        }
    }

    #[tokio::test]
    async fn resolver_refuses_a_name_with_a_loopback_address() {
        use reqwest::dns::Resolve as _;
        // "localhost" resolves locally (hosts file); nothing is connected to.
        let name: reqwest::dns::Name = "localhost".parse().unwrap();
        let err = match PublicOnlyResolver.resolve(name).await {
            Ok(_) => panic!("localhost must be refused"),
            Err(e) => e,
        };
        assert!(err.to_string().contains("non-public address"), "{err}");
        assert!(err.downcast_ref::<Refused>().is_some());
    }

    #[test]
    fn failure_messages() {
        let e = FetchError::Attempt {
            error: AttemptError::Status {
                code: 429,
                retry_after: Some(Duration::from_secs(30)),
            },
            attempts: 2,
            note: Some("Retry-After 30s is past the budget".into()),
        };
        assert_eq!(
            e.to_string(),
            "HTTP 429 (2 attempts; Retry-After 30s is past the budget)"
        );
        let e = FetchError::Attempt {
            error: AttemptError::Timeout(Duration::from_millis(800)),
            attempts: 1,
            note: None,
        };
        assert_eq!(e.to_string(), "timed out after 800ms");
        assert_eq!(FetchError::CircuitOpen.to_string(), "circuit open");
    }
}
