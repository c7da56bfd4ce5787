//! The `[enrichment]` table resolved (phase 2 of 2): each provider checked for its kind
//! and turned into [`EnrichmentConfig`]. Every problem is collected, each as the core's
//! [`ConfigError`] with file:line, the key (`enrichment.provider[2] ("acme-data").timeout`),
//! the value and the fix. Secrets named by `auth_env` are read here through `env`, so a
//! missing one fails the config check rather than the first lookup.

use super::raw::{DurationText, FILE_KEYS, HTTP_KEYS, RawEnrichment, RawProvider};
use super::*;
use leadrouter_core::config::suggest::{closest, unknown_key_fix};
use leadrouter_core::config::{ConfigError, Origin, SourceText};
use std::collections::BTreeMap;
use toml::Spanned;

type Env<'e> = &'e dyn Fn(&str) -> Option<String>;

pub(crate) fn resolve(
    raw: Option<RawEnrichment>,
    src: &SourceText,
    base_dir: &Path,
    env: Env,
) -> Result<EnrichmentConfig, Vec<ConfigError>> {
    let Some(raw) = raw else {
        return Ok(EnrichmentConfig {
            budget: DEFAULT_BUDGET,
            providers: Vec::new(),
            mx: None,
        });
    };
    let mut r = Resolver {
        src,
        errs: Vec::new(),
    };
    let budget = r.duration("enrichment", "budget", &raw.budget, DEFAULT_BUDGET);
    let mut providers: Vec<ProviderConfig> = Vec::new();
    for (i, p) in raw.provider.iter().enumerate() {
        let at = format!("enrichment.provider[{}]", i + 1);
        if let Some(p) = r.provider(&at, p, base_dir, env) {
            if providers.iter().any(|q| q.name == p.name) {
                let line = p.origin.line;
                r.err(
                    format!("{at} (\"{}\").name", p.name),
                    line,
                    Some(&p.name),
                    "already used by an earlier provider",
                    "names must be unique; rename one of them",
                );
            } else {
                providers.push(p);
            }
        }
    }
    let mx = raw.mx.as_ref().and_then(|m| r.mx(m, budget));
    if r.errs.is_empty() {
        Ok(EnrichmentConfig {
            budget,
            providers,
            mx,
        })
    } else {
        Err(r.errs)
    }
}

struct Resolver<'a> {
    src: &'a SourceText,
    errs: Vec<ConfigError>,
}

impl Resolver<'_> {
    /// `[enrichment.mx]`; `None` unless `enabled = true`.
    fn mx(&mut self, raw: &Spanned<super::raw::RawMx>, budget: Duration) -> Option<MxConfig> {
        let at = "enrichment.mx";
        let line = self.line(raw);
        let m = raw.get_ref();
        let resolver = m.resolver.as_ref().and_then(|v| {
            let s = v.get_ref().trim();
            match s.parse::<std::net::SocketAddr>() {
                Ok(a) => Some(a),
                Err(_) => {
                    let l = self.line(v);
                    self.err(
                        format!("{at}.resolver"),
                        l,
                        Some(s),
                        "not an IP:port address",
                        "write resolver = \"127.0.0.53:53\" (an IP address and port), or leave it out for the system's resolvers",
                    );
                    None
                }
            }
        });
        let timeout = self.duration(at, "timeout", &m.timeout, DEFAULT_MX_TIMEOUT);
        if timeout > budget {
            self.err(
                format!("{at}.timeout"),
                line,
                Some(&fmt_duration(timeout)),
                format!(
                    "longer than the enrichment budget ({})",
                    fmt_duration(budget)
                ),
                "the lookup runs inside the budget: write a shorter timeout, e.g. \"300ms\"",
            );
        }
        let cache_ttl = self.duration(at, "cache_ttl", &m.cache_ttl, DEFAULT_MX_CACHE_TTL);
        let mut extra_hosts = Vec::new();
        for h in &m.disposable_hosts {
            let d = h
                .get_ref()
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if d.contains('.')
                && d.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            {
                extra_hosts.push(d);
            } else {
                let l = self.line(h);
                self.err(
                    format!("{at}.disposable_hosts"),
                    l,
                    Some(h.get_ref()),
                    "not a domain name",
                    "list mail-host domains, e.g. disposable_hosts = [\"mailinator.com\"]",
                );
            }
        }
        m.enabled.unwrap_or(false).then_some(MxConfig {
            resolver,
            timeout: timeout.min(budget),
            cache_ttl,
            extra_hosts,
        })
    }

    fn line<T>(&self, v: &Spanned<T>) -> usize {
        self.src.line_of(v.span().start)
    }

    fn err(
        &mut self,
        field: String,
        line: usize,
        value: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.errs.push(ConfigError {
            file: self.src.path.clone(),
            line: Some(line),
            field,
            value: value.map(str::to_string),
            message: message.into(),
            fix: Some(fix.into()),
        });
    }

    fn duration(
        &mut self,
        at: &str,
        key: &str,
        v: &Option<Spanned<DurationText>>,
        default: Duration,
    ) -> Duration {
        let Some(v) = v else {
            return default;
        };
        let s = &v.get_ref().0;
        let line = self.line(v);
        let field = format!("{at}.{key}");
        match parse_duration(s) {
            Some(d) if !d.is_zero() => d,
            Some(_) => {
                let fix = format!("write {key} = \"{}\"", fmt_duration(default));
                self.err(field, line, Some(s), "must be longer than zero", fix);
                default
            }
            None => {
                let fix = format!(
                    "write a number with a unit (ms, s, m, h, d), e.g. \"{}\"",
                    fmt_duration(default)
                );
                self.err(field, line, Some(s), "not a duration", fix);
                default
            }
        }
    }

    fn integer(
        &mut self,
        at: &str,
        key: &str,
        v: &Option<Spanned<i64>>,
        default: i64,
        range: (i64, i64),
    ) -> i64 {
        let Some(v) = v else {
            return default;
        };
        let n = *v.get_ref();
        if (range.0..=range.1).contains(&n) {
            return n;
        }
        let line = self.line(v);
        self.err(
            format!("{at}.{key}"),
            line,
            Some(&n.to_string()),
            format!("expected a whole number from {} to {}", range.0, range.1),
            format!("write {key} = {default}"),
        );
        default
    }

    fn fields(
        &mut self,
        at: &str,
        v: &Option<Spanned<BTreeMap<String, Spanned<String>>>>,
        pointers: bool,
    ) -> Vec<(Field, String)> {
        let Some(map) = v else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, p) in map.get_ref() {
            let field = format!("{at}.fields.{k}");
            let line = self.line(p);
            let Some(f) = Field::parse(k) else {
                let names: Vec<&str> = Field::ALL.iter().map(|f| f.name()).collect();
                let fix = match closest(k, names.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`? expected one of {}", Field::names()),
                    None => format!("expected one of {}", Field::names()),
                };
                self.err(field, line, None, "unknown field", fix);
                continue;
            };
            let p = p.get_ref();
            if pointers && !p.starts_with('/') {
                let fix = format!("start it with '/', e.g. \"/{}\"", p.replace('.', "/"));
                self.err(field, line, Some(p), "not a JSON pointer", fix);
            } else if p.trim().is_empty() {
                self.err(field, line, Some(""), "empty", "name the source");
            } else {
                out.push((f, p.clone()));
            }
        }
        out
    }

    fn provider(
        &mut self,
        at: &str,
        raw: &Spanned<RawProvider>,
        base_dir: &Path,
        env: Env,
    ) -> Option<ProviderConfig> {
        let line = self.line(raw);
        let t = raw.get_ref();
        let name = t.name.as_ref().map(|n| (n.get_ref().clone(), self.line(n)));
        let at = match &name {
            Some((n, _)) => format!("{at} (\"{n}\")"),
            None => at.to_string(),
        };
        let name = match name {
            None => {
                self.err(
                    format!("{at}.name"),
                    line,
                    None,
                    "missing",
                    "give the provider a name, e.g. name = \"firmographics\"",
                );
                return None;
            }
            Some((n, l)) if n.trim().is_empty() || n.len() > 64 => {
                let fix = "give it a name of 1 to 64 characters";
                self.err(
                    format!("{at}.name"),
                    l,
                    Some(&n),
                    "must be 1 to 64 characters",
                    fix,
                );
                return None;
            }
            Some((n, l)) if n == "signals" || n == "form" => {
                let message = format!("reserved for the built-in {n}");
                self.err(
                    format!("{at}.name"),
                    l,
                    Some(&n),
                    message,
                    "choose another name",
                );
                return None;
            }
            Some((n, _)) => n,
        };
        let kind = match t
            .kind
            .as_ref()
            .map(|k| (k.get_ref().as_str(), self.line(k)))
        {
            Some(("file", _)) => {
                self.kind_keys(&at, t, "file", &FILE_KEYS);
                ProviderKind::File(self.file(&at, t, line, base_dir)?)
            }
            Some(("http", _)) => {
                self.kind_keys(&at, t, "http", &HTTP_KEYS);
                ProviderKind::Http(self.http(&at, t, line, env)?)
            }
            Some((other, l)) => {
                let fix = "use \"file\" or \"http\"";
                self.err(
                    format!("{at}.kind"),
                    l,
                    Some(other),
                    "unknown provider kind",
                    fix,
                );
                return None;
            }
            None => {
                let fix = "use kind = \"file\" or kind = \"http\"";
                self.err(format!("{at}.kind"), line, None, "missing", fix);
                return None;
            }
        };
        Some(ProviderConfig {
            name,
            kind,
            origin: Origin {
                file: self.src.path.clone(),
                line,
            },
        })
    }

    /// Keys of the other kind of provider (`url` on a file provider, say).
    fn kind_keys(&mut self, at: &str, t: &RawProvider, kind: &str, allowed: &[&str]) {
        for (k, offset) in t.written() {
            if !allowed.contains(&k) {
                let line = self.src.line_of(offset);
                let message = format!("not a key of a {kind} provider");
                self.err(
                    format!("{at}.{k}"),
                    line,
                    None,
                    message,
                    unknown_key_fix(k, allowed),
                );
            }
        }
    }

    fn file(
        &mut self,
        at: &str,
        t: &RawProvider,
        line: usize,
        base_dir: &Path,
    ) -> Option<FileConfig> {
        let Some(path) = &t.path else {
            let fix = "name the CSV or JSONL file, e.g. path = \"firmographics.csv\"";
            self.err(format!("{at}.path"), line, None, "missing", fix);
            return None;
        };
        let full = base_dir.join(path.get_ref());
        let format = match &t.format {
            Some(f) => match f.get_ref().as_str() {
                "csv" => FileFormat::Csv,
                "jsonl" | "ndjson" => FileFormat::Jsonl,
                other => {
                    let line = self.line(f);
                    let fix = "use \"csv\" or \"jsonl\"";
                    self.err(
                        format!("{at}.format"),
                        line,
                        Some(other),
                        "unknown format",
                        fix,
                    );
                    return None;
                }
            },
            None => match full.extension().and_then(|e| e.to_str()) {
                Some(e) if e.eq_ignore_ascii_case("csv") => FileFormat::Csv,
                Some(e) if e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson") => {
                    FileFormat::Jsonl
                }
                _ => {
                    let line = self.line(path);
                    self.err(
                        format!("{at}.path"),
                        line,
                        Some(path.get_ref()),
                        "cannot tell the format from the extension",
                        "add format = \"csv\" or format = \"jsonl\"",
                    );
                    return None;
                }
            },
        };
        let fields = self.fields(at, &t.fields, false);
        Some(FileConfig {
            path: full,
            format,
            fields,
        })
    }

    fn http(&mut self, at: &str, t: &RawProvider, line: usize, env: Env) -> Option<HttpConfig> {
        let n_errors = self.errs.len();
        let mut uses_email = false;
        match &t.url {
            None => self.err(
                format!("{at}.url"),
                line,
                None,
                "missing",
                "give the lookup URL with a {domain} or {email} placeholder, e.g. url = \"https://api.example.com/companies/find?domain={domain}\"",
            ),
            Some(u) => {
                let l = self.line(u);
                let u = u.get_ref();
                uses_email = u.contains("{email}");
                let field = format!("{at}.url");
                if !u.contains("{domain}") && !uses_email {
                    let fix = "add one where the lookup key goes";
                    self.err(field, l, Some(u), "has no {domain} or {email} placeholder", fix);
                } else {
                    let sample = u
                        .replace("{domain}", "example.com")
                        .replace("{email}", "someone%40example.com");
                    match reqwest::Url::parse(&sample) {
                        Ok(p) if p.scheme() == "http" || p.scheme() == "https" => {}
                        Ok(p) => self.err(
                            field,
                            l,
                            Some(u),
                            format!("scheme {} is not supported", p.scheme()),
                            "use https:// (or http:// for a local service)",
                        ),
                        Err(e) => self.err(
                            field,
                            l,
                            Some(u),
                            format!("not a valid URL ({e})"),
                            "write a full URL such as \"https://api.example.com/v1/companies?domain={domain}\"",
                        ),
                    }
                }
            }
        }
        let auth = self.auth(at, t, env);
        let mut headers = Vec::new();
        for (k, v) in t
            .headers
            .as_ref()
            .map(|h| h.get_ref())
            .into_iter()
            .flatten()
        {
            if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_ok()
                && reqwest::header::HeaderValue::from_str(v.get_ref()).is_ok()
            {
                headers.push((k.clone(), v.get_ref().clone()));
            } else {
                let line = self.line(v);
                self.err(
                    format!("{at}.headers.{k}"),
                    line,
                    Some(v.get_ref()),
                    "expected a valid header name with a string value",
                    "write e.g. \"Accept\" = \"application/json\"",
                );
            }
        }
        let timeout = self.duration(at, "timeout", &t.timeout, DEFAULT_TIMEOUT);
        let retries =
            self.integer(at, "retries", &t.retries, DEFAULT_RETRIES as i64, (0, 10)) as usize;
        let rate_limit = match &t.rate_limit {
            None => None,
            Some(s) => match parse_rate(s.get_ref()) {
                Some(r) => Some(r),
                None => {
                    let line = self.line(s);
                    self.err(
                        format!("{at}.rate_limit"),
                        line,
                        Some(s.get_ref()),
                        "not a rate",
                        "write requests per second, minute or hour, e.g. \"50/s\", \"600/m\"",
                    );
                    None
                }
            },
        };
        let cache_ttl = self.duration(at, "cache_ttl", &t.cache_ttl, DEFAULT_CACHE_TTL);
        let miss_ttl = self.duration(at, "miss_ttl", &t.miss_ttl, DEFAULT_MISS_TTL.min(cache_ttl));
        let cache_capacity = self.integer(
            at,
            "cache_capacity",
            &t.cache_capacity,
            DEFAULT_CACHE_CAPACITY as i64,
            (1, 100_000_000),
        ) as u64;
        let (mut circuit_failures, mut circuit_cooldown) =
            (DEFAULT_CIRCUIT_FAILURES, DEFAULT_CIRCUIT_COOLDOWN);
        if let Some(c) = &t.circuit {
            let cat = format!("{at}.circuit");
            let c = c.get_ref();
            let default = DEFAULT_CIRCUIT_FAILURES as i64;
            circuit_failures =
                self.integer(&cat, "failures", &c.failures, default, (1, 1000)) as u32;
            circuit_cooldown =
                self.duration(&cat, "cooldown", &c.cooldown, DEFAULT_CIRCUIT_COOLDOWN);
        }
        let fields = self.fields(at, &t.fields, true);
        if t.fields.is_none() {
            self.err(
                format!("{at}.fields"),
                line,
                None,
                "missing",
                "map response fields with JSON pointers under [enrichment.provider.fields], e.g. employees = \"/metrics/employees\"",
            );
        }
        if self.errs.len() > n_errors {
            return None;
        }
        Some(HttpConfig {
            url: t.url.as_ref()?.get_ref().clone(),
            uses_email,
            auth,
            headers,
            timeout,
            retries,
            rate_limit,
            cache_ttl,
            miss_ttl,
            cache_capacity,
            circuit_failures,
            circuit_cooldown,
            allow_private: t.allow_private.as_ref().is_some_and(|b| *b.get_ref()),
            fields,
        })
    }

    /// The auth header, its value read from the environment variable `auth_env` names.
    /// The secret is never echoed in a message.
    fn auth(&mut self, at: &str, t: &RawProvider, env: Env) -> Option<(String, String)> {
        let prefix = t
            .auth_prefix
            .as_ref()
            .map(|p| p.get_ref().as_str())
            .unwrap_or("");
        let var = match (&t.auth_env, &t.auth_header) {
            (None, None) => return None,
            (None, Some(h)) => {
                let line = self.line(h);
                self.err(
                    format!("{at}.auth_header"),
                    line,
                    Some(h.get_ref()),
                    "set without auth_env",
                    "add auth_env = \"NAME_OF_THE_VARIABLE\" holding the secret",
                );
                return None;
            }
            (Some(var), _) => var,
        };
        let header = match &t.auth_header {
            Some(h) => {
                if reqwest::header::HeaderName::from_bytes(h.get_ref().as_bytes()).is_err() {
                    let line = self.line(h);
                    self.err(
                        format!("{at}.auth_header"),
                        line,
                        Some(h.get_ref()),
                        "not a valid HTTP header name",
                        "write a header name such as \"Authorization\" or \"X-Api-Key\"",
                    );
                }
                h.get_ref().clone()
            }
            None => "Authorization".into(),
        };
        let line = self.line(var);
        let (field, var) = (format!("{at}.auth_env"), var.get_ref());
        match env(var) {
            None => {
                self.err(
                    field,
                    line,
                    Some(var),
                    "the environment variable is not set",
                    format!("export {var} with the API key before starting, or remove auth_env"),
                );
                None
            }
            Some(secret) => {
                let value = format!("{prefix}{}", secret.trim());
                if reqwest::header::HeaderValue::from_str(&value).is_err() {
                    self.err(
                        field,
                        line,
                        Some(var),
                        "the variable's value is not a valid HTTP header value (control characters or non-ASCII)",
                        format!("fix the value of {var}"),
                    );
                }
                Some((header, value))
            }
        }
    }
}
