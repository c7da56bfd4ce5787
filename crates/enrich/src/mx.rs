//! The MX signal: a domain whose mail servers belong to a known throwaway-address service
//! is disposable, even when the domain is on no list yet. Throwaway services register new
//! domains every week but point them at the same few mail servers, so this catches them
//! without a list update.
//!
//! One MX lookup per domain (hickory-resolver, the configured DNS server or the system's),
//! bounded by `timeout` and by what is left of the enrichment budget, so it never holds a
//! lead up; answers (disposable or not) are cached per domain for `cache_ttl`; a failed or
//! late lookup is not cached and only noted in `Enrichment::failures`. The known mail-host
//! domains ship in `data/disposable_mx_hosts.txt` (plus `disposable_hosts` in the config).

use crate::config::MxConfig;
use hickory_resolver::TokioResolver;
use hickory_resolver::config::{NameServerConfig, ResolverConfig, ResolverOpts};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;
use std::sync::Arc;
use std::time::{Duration, Instant};

const SHIPPED_HOSTS: &str = include_str!("../../../data/disposable_mx_hosts.txt");
/// Domains remembered at most (a domain's answer is a few dozen bytes).
const CACHE_CAPACITY: u64 = 100_000;
/// MX records read per answer; a domain with more is judged on these.
const MAX_HOSTS: usize = 16;

/// What the lookup found for a domain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MxVerdict {
    /// One of its mail servers (named) is a throwaway service's.
    Disposable { host: String },
    /// Its mail servers are none of the known ones (or it has none).
    Clean,
    /// No answer in time, or the DNS server failed: nothing is concluded or cached.
    Unknown(String),
}

pub struct MxSignal {
    resolver: TokioResolver,
    timeout: Duration,
    hosts: Arc<Vec<String>>,
    cache: moka::future::Cache<String, MxVerdict>,
}

impl MxSignal {
    pub fn new(cfg: &MxConfig) -> Result<MxSignal, String> {
        let provider = TokioRuntimeProvider::default();
        let mut builder = match cfg.resolver {
            Some(addr) => {
                let mut ns = NameServerConfig::udp_and_tcp(addr.ip());
                for c in &mut ns.connections {
                    c.port = addr.port();
                }
                TokioResolver::builder_with_config(ResolverConfig::from_name_servers(vec![ns]), provider)
            }
            None => TokioResolver::builder(provider).map_err(|e| {
                format!("cannot read the system's DNS settings ({e}); set [enrichment.mx] resolver = \"IP:port\"")
            })?,
        };
        let mut opts = ResolverOpts::default();
        opts.timeout = cfg.timeout;
        opts.attempts = 1;
        // The resolver's own cache is not needed: answers are kept below, per domain.
        opts.cache_size = 0;
        *builder.options_mut() = opts;
        let resolver = builder.build().map_err(|e| {
            format!("cannot build the DNS resolver ({e}); check [enrichment.mx] resolver")
        })?;
        let mut hosts: Vec<String> = shipped_hosts().map(str::to_string).collect();
        hosts.extend(cfg.extra_hosts.iter().cloned());
        Ok(MxSignal {
            resolver,
            timeout: cfg.timeout,
            hosts: Arc::new(hosts),
            cache: moka::future::Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .time_to_live(cfg.cache_ttl)
                .build(),
        })
    }

    /// Look `domain` up, answering by `deadline` at the latest.
    pub async fn check(&self, domain: &str, deadline: Instant) -> MxVerdict {
        let key = domain.trim_end_matches('.').to_ascii_lowercase();
        if let Some(v) = self.cache.get(&key).await {
            return v;
        }
        let left = deadline.saturating_duration_since(Instant::now());
        let wait = left.min(self.timeout);
        if wait.is_zero() {
            return MxVerdict::Unknown("no time left in the enrichment budget".into());
        }
        let fqdn = format!("{key}.");
        let verdict = match tokio::time::timeout(wait, self.resolver.mx_lookup(fqdn.as_str())).await
        {
            Err(_) => {
                return MxVerdict::Unknown(format!("no DNS answer within {} ms", wait.as_millis()));
            }
            Ok(Err(e)) if is_no_records(&e) => MxVerdict::Clean,
            Ok(Err(e)) => return MxVerdict::Unknown(format!("DNS lookup failed: {e}")),
            Ok(Ok(lookup)) => {
                let exchanges = lookup.answers().iter().filter_map(|r| match &r.data {
                    RData::MX(mx) => Some(mx.exchange.to_ascii()),
                    _ => None,
                });
                self.judge(exchanges.take(MAX_HOSTS))
            }
        };
        self.cache.insert(key, verdict.clone()).await;
        verdict
    }

    /// Disposable when any mail server is a known throwaway service's.
    fn judge(&self, exchanges: impl Iterator<Item = String>) -> MxVerdict {
        for host in exchanges {
            let h = host.trim_end_matches('.').to_ascii_lowercase();
            if self
                .hosts
                .iter()
                .any(|d| h == *d || h.strip_suffix(d.as_str()).is_some_and(|p| p.ends_with('.')))
            {
                return MxVerdict::Disposable { host: h };
            }
        }
        MxVerdict::Clean
    }
}

/// "No such domain" and "no MX records" are answers (nothing to flag), not failures.
fn is_no_records(e: &hickory_resolver::net::NetError) -> bool {
    e.is_no_records_found() || e.is_nx_domain()
}

/// The shipped mail-host domains.
pub fn shipped_hosts() -> impl Iterator<Item = &'static str> {
    SHIPPED_HOSTS
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadrouter_core::domains::{DomainLists, parse_email};

    /// Every shipped mail-host domain is a throwaway service's own: on the shipped
    /// disposable list and not personal.
    #[test]
    fn shipped_hosts_are_disposable_services() {
        let lists = DomainLists::shipped();
        let n = shipped_hosts()
            .map(|h| {
                let e = parse_email(&format!("x@{h}")).unwrap();
                assert!(lists.is_disposable(&e), "{h} is not on the disposable list");
                assert!(!lists.is_personal(&e), "{h} is a personal-mail domain");
            })
            .count();
        assert!(n >= 10, "{n}");
    }
}
