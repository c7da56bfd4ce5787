//! leadrouter-enrich: fill the gaps in a lead before the rules fire, without ever
//! blocking it (ENR-1..5).
//!
//! [`Enricher::enrich`] runs the configured provider chain in order — local firmographic
//! files and HTTP JSON APIs — each filling only the fields still missing and recording
//! itself in `Enrichment::sources`; a provider that errors, times out or knows nothing
//! falls through and is recorded in `Enrichment::failures`. The local signals (phone
//! and ccTLD country, company name and domain from a corporate email, US state from the
//! ZIP) run last, always. With `[enrichment.mx]` on, a corporate-looking domain whose
//! mail servers are a known throwaway service's is marked junk (mx.rs). The whole chain
//! is bounded by the per-lead budget: the lead always comes back, with whatever was found
//! in time.
//!
//! This crate does I/O and keeps caches; the decision core stays pure and receives the
//! finished [`Enrichment`] as input. The config format is documented in
//! `docs/enrichment.md`.

mod circuit;
mod config;
mod file;
mod http;
pub mod mx;
mod record;
mod signals;
mod stats;

pub use config::{fmt_duration, parse_duration};
/// The address guard of the HTTP providers, for other outbound fetches of user-given
/// URLs (the calendar feeds): the resolver that refuses non-public addresses, the check
/// of IP-literal URLs and redirect hops, and the refusal found in a reqwest error.
pub mod guard {
    pub use crate::http::{PublicOnlyResolver, Refused, refusal, refused_in};
}
pub use record::{Field, Firmographics};
pub use signals::{company_from_domain, country_from_phone, state_for_zip};
pub use stats::{FileStats, LatencySummary, ProviderStats};

use arc_swap::ArcSwap;
use config::ProviderKind;
use file::{FileAnswer, FileProvider};
use http::{HttpAnswer, HttpProvider};
use leadrouter_core::config::{ConfigError, SourceText};
use leadrouter_core::domains::{DomainLists, parse_email};
use leadrouter_core::lead::{Enrichment, Lead};
use signals::{EmailKind, Signals};
use stats::{Counters, bump};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Where HTTP providers' answers survive a restart (a table in the leadrouter store, say),
/// so that a restart does not re-spend API credits. Read-through: consulted on a cache
/// miss before calling the provider. Write-behind: written in a background task after a
/// successful call, never on the lead's path.
///
/// `provider` is the provider's configured name; `key` the registrable domain (or the
/// email for URL templates that use `{email}`). The value is a [`Firmographics`] as JSON
/// (only the mapped fields, no raw response) or `null` for "the provider does not know
/// this company". Entries past `expires` are ignored.
#[async_trait::async_trait]
pub trait PersistentCache: Send + Sync {
    async fn get(&self, provider: &str, key: &str) -> Option<(serde_json::Value, jiff::Timestamp)>;
    async fn put(
        &self,
        provider: &str,
        key: &str,
        value: &serde_json::Value,
        expires: jiff::Timestamp,
    );
}

/// The enrichment layer, built once from the config and shared by every request (cloning
/// is an `Arc` bump; caches, rate limiters and circuit breakers are shared by clones).
#[derive(Clone)]
pub struct Enricher {
    inner: Arc<Inner>,
}

struct Inner {
    budget: Duration,
    providers: Vec<Provider>,
    signals: Signals,
    signal_counters: Counters,
    domains: ArcSwap<DomainLists>,
    mx: Option<mx::MxSignal>,
}

struct Provider {
    name: String,
    counters: Arc<Counters>,
    source: Source,
}

enum Source {
    File(FileProvider),
    Http(HttpProvider),
}

/// What a provider is asked about.
enum Query<'a> {
    Domain { domain: &'a str, email: &'a str },
    Company(&'a str),
}

enum Answer {
    Found(Arc<Firmographics>),
    NotFound,
    Ambiguous(usize),
    Failed(String),
    OutOfBudget,
}

impl Provider {
    fn kind(&self) -> &'static str {
        match self.source {
            Source::File(_) => "file",
            Source::Http(_) => "http",
        }
    }

    /// Would this provider fill anything still missing?
    fn wanted(&self, e: &Enrichment) -> bool {
        match &self.source {
            Source::File(_) => Field::ALL.iter().any(|f| !f.present_in(e)),
            Source::Http(h) => h.provides().any(|f| !f.present_in(e)),
        }
    }
}

impl std::fmt::Debug for Enricher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Enricher")
            .field("budget", &self.inner.budget)
            .field(
                "providers",
                &self
                    .inner
                    .providers
                    .iter()
                    .map(|p| (&p.name, p.kind()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Enricher {
    /// Erasure (SEC-3): forget a person. Drops the in-memory cache entries keyed by this
    /// address (normalised as the chain keys them) from every HTTP provider whose URL
    /// uses `{email}`; the persistent cache is the store's to clear. Domain-keyed entries
    /// (company data) stay. Returns how many entries were dropped. A provider call
    /// already in flight for the address when this runs may still store its answer.
    pub async fn forget(&self, email: &str) -> usize {
        let key = parse_email(email)
            .map(|a| a.normalized)
            .unwrap_or_else(|_| email.trim().to_lowercase());
        let mut dropped = 0;
        for p in &self.inner.providers {
            if let Source::Http(h) = &p.source
                && h.forget(&key).await
            {
                dropped += 1;
            }
        }
        dropped
    }

    /// Build from the `[enrichment]` table of the routing config file `src` (no table:
    /// local signals only, budget 2 s). `base_dir` resolves relative file paths; `cache`
    /// keeps HTTP answers across restarts. Every problem is reported, each naming file:line,
    /// the key, the value and the fix. Secrets are read from the process environment
    /// (`auth_env`).
    pub fn from_config(
        src: &SourceText,
        base_dir: &Path,
        cache: Option<Arc<dyn PersistentCache>>,
    ) -> Result<Enricher, Vec<ConfigError>> {
        Self::from_config_with_env(src, base_dir, cache, &|k| std::env::var(k).ok())
    }

    /// [`Enricher::from_config`] with environment lookups (`auth_env`) answered by `env`,
    /// for tests and for embedding with a secrets store.
    pub fn from_config_with_env(
        src: &SourceText,
        base_dir: &Path,
        cache: Option<Arc<dyn PersistentCache>>,
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Enricher, Vec<ConfigError>> {
        let cfg = config::parse(src, base_dir, env)?;
        let mut errors = Vec::new();
        let mut providers = Vec::new();
        for (i, p) in cfg.providers.into_iter().enumerate() {
            let counters = Arc::new(Counters::default());
            let at = format!("enrichment.provider[{}] (\"{}\")", i + 1, p.name);
            let source = match p.kind {
                ProviderKind::File(fc) => FileProvider::load(fc).map(Source::File),
                ProviderKind::Http(hc) => {
                    HttpProvider::new(&p.name, hc, cache.clone(), counters.clone())
                        .map(Source::Http)
                }
            };
            match source {
                Ok(source) => providers.push(Provider {
                    name: p.name,
                    counters,
                    source,
                }),
                Err(e) => {
                    // The providers' messages end in "; <what to do>".
                    let (message, fix) = e
                        .split_once("; ")
                        .unwrap_or((&e, "check the provider's settings"));
                    errors.push(ConfigError {
                        file: p.origin.file,
                        line: Some(p.origin.line),
                        field: at,
                        value: None,
                        message: message.to_string(),
                        fix: Some(fix.to_string()),
                    })
                }
            }
        }
        let mx = match &cfg.mx {
            None => None,
            Some(m) => match mx::MxSignal::new(m) {
                Ok(s) => Some(s),
                Err(e) => {
                    errors.push(ConfigError {
                        file: src.path.clone(),
                        line: None,
                        field: "enrichment.mx".into(),
                        value: None,
                        message: e,
                        fix: Some("set resolver = \"IP:port\" or turn the MX signal off".into()),
                    });
                    None
                }
            },
        };
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Enricher {
            inner: Arc::new(Inner {
                budget: cfg.budget,
                providers,
                signals: Signals::new(),
                signal_counters: Counters::default(),
                domains: ArcSwap::from_pointee(DomainLists::shipped()),
                mx,
            }),
        })
    }

    /// Use these personal/disposable lists (the compiled config's, with its overrides)
    /// instead of the shipped ones. Takes effect for the next lead.
    pub fn set_domain_lists(&self, lists: DomainLists) {
        self.inner.domains.store(Arc::new(lists));
    }

    /// The per-lead time budget.
    pub fn budget(&self) -> Duration {
        self.inner.budget
    }

    /// Enrich one lead. Never fails and returns within the budget (plus the few
    /// microseconds the local signals take): whatever the providers could not supply in
    /// time is left to the form data and the signals, with the reason in `failures`.
    pub async fn enrich(&self, lead: &Lead) -> Enrichment {
        let inner = &*self.inner;
        let deadline = Instant::now() + inner.budget;
        let mut e = Enrichment::default();
        let email = lead.email.as_deref().and_then(|s| parse_email(s).ok());
        let email = email.map(|a| {
            let lists = inner.domains.load();
            let kind = if lists.is_disposable(&a) {
                EmailKind::Disposable
            } else if lists.is_personal(&a) {
                EmailKind::Personal
            } else {
                EmailKind::Corporate
            };
            (a, kind)
        });
        for p in &inner.providers {
            // Personal and disposable domains name no company: never sent to a provider.
            // A local file may still be searched by the company the visitor typed.
            let query = match (&p.source, &email) {
                (_, Some((_, EmailKind::Disposable))) => None,
                (_, Some((a, EmailKind::Corporate))) => Some(Query::Domain {
                    domain: &a.registrable,
                    email: &a.normalized,
                }),
                // A free-mail-listed domain the company's own file lists is a company's
                // (the engine flags it): looked up by domain like a corporate one.
                (Source::File(f), Some((a, EmailKind::Personal)))
                    if matches!(f.by_domain(&a.registrable), FileAnswer::Found(_)) =>
                {
                    Some(Query::Domain {
                        domain: &a.registrable,
                        email: &a.normalized,
                    })
                }
                (Source::File(_), _) => lead.company.as_deref().map(Query::Company),
                (Source::Http(_), _) => None,
            };
            let Some(query) = query.filter(|_| p.wanted(&e)) else {
                bump(&p.counters.skipped);
                continue;
            };
            bump(&p.counters.calls);
            if Instant::now() >= deadline {
                bump(&p.counters.budget_exhausted);
                e.failures.push(format!(
                    "{}: not asked, the {} budget was already spent",
                    p.name,
                    fmt_duration(inner.budget)
                ));
                continue;
            }
            let started = Instant::now();
            let answer = match (&p.source, &query) {
                (Source::File(f), Query::Domain { domain, .. }) => file_answer(f.by_domain(domain)),
                (Source::File(f), Query::Company(c)) => file_answer(f.by_company(c)),
                (Source::Http(h), Query::Domain { domain, email }) => {
                    let lookup = h.lookup(domain, email, deadline);
                    match tokio::time::timeout_at(deadline.into(), lookup).await {
                        Ok(HttpAnswer::Found(r)) => Answer::Found(r),
                        Ok(HttpAnswer::NotFound) => Answer::NotFound,
                        Ok(HttpAnswer::Failed(m)) => Answer::Failed(m),
                        Err(_) => Answer::OutOfBudget,
                    }
                }
                (Source::Http(_), Query::Company(_)) => continue,
            };
            p.counters.latency.record(started.elapsed());
            let subject = match &query {
                Query::Domain { domain, .. } => domain.to_string(),
                Query::Company(c) => format!("company \"{c}\""),
            };
            match answer {
                Answer::Found(r) => {
                    bump(&p.counters.hits);
                    for f in Field::ALL.into_iter().filter(|f| r.has(*f)) {
                        p.counters.covered(f);
                    }
                    for f in r.merge_into(&mut e, &p.name) {
                        p.counters.filled(f);
                    }
                }
                Answer::NotFound => {
                    bump(&p.counters.misses);
                    e.failures
                        .push(format!("{}: nothing found for {subject}", p.name));
                }
                Answer::Ambiguous(n) => {
                    bump(&p.counters.misses);
                    e.failures.push(format!(
                        "{}: {subject} matches {n} companies; ambiguous, not guessed",
                        p.name
                    ));
                }
                Answer::Failed(m) => {
                    bump(&p.counters.errors);
                    e.failures.push(format!("{}: {m}", p.name));
                }
                Answer::OutOfBudget => {
                    bump(&p.counters.budget_exhausted);
                    e.failures.push(format!(
                        "{}: no answer within the {} budget",
                        p.name,
                        fmt_duration(inner.budget)
                    ));
                }
            }
        }
        if let (Some(mx), Some((a, EmailKind::Corporate))) = (&inner.mx, &email) {
            match mx.check(&a.domain, deadline).await {
                mx::MxVerdict::Disposable { host } => {
                    e.junk_reason.get_or_insert_with(|| {
                        format!(
                            "disposable email domain: {}'s mail server {host} belongs to a throwaway-address service (MX signal)",
                            a.domain
                        )
                    });
                    e.sources.insert("junk_reason".into(), "mx".into());
                }
                mx::MxVerdict::Clean => {}
                mx::MxVerdict::Unknown(why) => {
                    e.failures
                        .push(format!("mx: {} not checked: {why}", a.domain));
                }
            }
        }
        let sc = &inner.signal_counters;
        bump(&sc.calls);
        let before = e.sources.len();
        inner
            .signals
            .apply(lead, email.as_ref().map(|(a, k)| (a, *k)), &mut e, sc);
        if e.sources.len() > before {
            bump(&sc.hits);
        } else {
            bump(&sc.misses);
        }
        e
    }

    /// Per-provider counters, in chain order, then the local signals.
    pub fn stats(&self) -> Vec<ProviderStats> {
        let mut out: Vec<ProviderStats> = self
            .inner
            .providers
            .iter()
            .map(|p| {
                let mut s = p.counters.snapshot(&p.name, p.kind());
                match &p.source {
                    Source::File(f) => s.file = Some(f.file_stats()),
                    Source::Http(h) => {
                        s.circuit = Some(h.circuit_state());
                        s.request_latency = Some(p.counters.request_latency.summary());
                    }
                }
                s
            })
            .collect();
        out.push(
            self.inner
                .signal_counters
                .snapshot(signals::SOURCE, "signals"),
        );
        out
    }

    /// Re-read every local firmographic file. A file that fails to load keeps its
    /// previous contents; the error names the provider and the problem.
    pub fn reload_files(&self) -> Result<(), String> {
        let errors: Vec<String> = self
            .inner
            .providers
            .iter()
            .filter_map(|p| match &p.source {
                Source::File(f) => f.reload().err().map(|e| format!("{}: {e}", p.name)),
                Source::Http(_) => None,
            })
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(errors.join("; "))
        }
    }
}

fn file_answer(a: FileAnswer) -> Answer {
    match a {
        FileAnswer::Found(r) => Answer::Found(r),
        FileAnswer::NotFound => Answer::NotFound,
        FileAnswer::Ambiguous(n) => Answer::Ambiguous(n),
    }
}
