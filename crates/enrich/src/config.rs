//! The `[enrichment]` table of the routing config: parsed and validated in one pass into
//! [`EnrichmentConfig`]. Every problem is collected (not just the first), and each message
//! names the key, the value and the fix, e.g.
//! `enrichment.provider[2] ("acme-data").timeout = "800": not a duration; write a number with a unit, e.g. "800ms" or "2s"`.

use crate::record::Field;
use std::path::{Path, PathBuf};
use std::time::Duration;
use toml::{Table, Value};

pub const DEFAULT_BUDGET: Duration = Duration::from_secs(2);
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(1);
const DEFAULT_RETRIES: usize = 2;
const DEFAULT_CACHE_TTL: Duration = Duration::from_secs(30 * 86_400);
const DEFAULT_MISS_TTL: Duration = Duration::from_secs(86_400);
const DEFAULT_CACHE_CAPACITY: u64 = 100_000;
const DEFAULT_CIRCUIT_FAILURES: u32 = 5;
const DEFAULT_CIRCUIT_COOLDOWN: Duration = Duration::from_secs(30);

#[derive(Debug, Clone)]
pub struct EnrichmentConfig {
    pub budget: Duration,
    pub providers: Vec<ProviderConfig>,
}

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
}

#[derive(Debug, Clone)]
pub enum ProviderKind {
    File(FileConfig),
    Http(HttpConfig),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Csv,
    Jsonl,
}

#[derive(Debug, Clone)]
pub struct FileConfig {
    pub path: PathBuf,
    pub format: FileFormat,
    /// Overrides of the column (CSV) or key / JSON pointer (JSONL) for a field.
    pub fields: Vec<(Field, String)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rate {
    pub count: u32,
    pub per: Duration,
}

#[derive(Clone)]
pub struct HttpConfig {
    pub url: String,
    pub uses_email: bool,
    /// (header name, full header value). The value is a secret: never printed.
    pub auth: Option<(String, String)>,
    pub headers: Vec<(String, String)>,
    pub timeout: Duration,
    pub retries: usize,
    pub rate_limit: Option<Rate>,
    pub cache_ttl: Duration,
    pub miss_ttl: Duration,
    pub cache_capacity: u64,
    pub circuit_failures: u32,
    pub circuit_cooldown: Duration,
    pub fields: Vec<(Field, String)>,
}

impl std::fmt::Debug for HttpConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HttpConfig")
            .field("url", &self.url)
            .field("auth_header", &self.auth.as_ref().map(|(h, _)| h))
            .field("timeout", &self.timeout)
            .field("retries", &self.retries)
            .field("rate_limit", &self.rate_limit)
            .field("cache_ttl", &self.cache_ttl)
            .field("fields", &self.fields)
            .finish_non_exhaustive()
    }
}

/// A duration as written in the config: "800ms", "2s", "1.5s", "10m", "12h", "30d".
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    let split = s.find(|c: char| !(c.is_ascii_digit() || c == '.'))?;
    let (num, unit) = s.split_at(split);
    let n: f64 = num.parse().ok()?;
    let secs = match unit.trim() {
        "ms" => n / 1000.0,
        "s" | "sec" | "secs" => n,
        "m" | "min" | "mins" => n * 60.0,
        "h" => n * 3600.0,
        "d" => n * 86_400.0,
        _ => return None,
    };
    (secs.is_finite() && (0.0..1e10).contains(&secs)).then(|| Duration::from_secs_f64(secs))
}

/// A duration as we print it in messages: "800ms", "2s", "1.5s", "30d".
pub fn fmt_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms < 1000 {
        format!("{ms}ms")
    } else if ms.is_multiple_of(86_400_000) {
        format!("{}d", ms / 86_400_000)
    } else if ms.is_multiple_of(3_600_000) {
        format!("{}h", ms / 3_600_000)
    } else if ms.is_multiple_of(60_000) && ms >= 60_000 {
        format!("{}m", ms / 60_000)
    } else if ms.is_multiple_of(1000) {
        format!("{}s", ms / 1000)
    } else {
        format!("{}s", d.as_secs_f64())
    }
}

/// "50/s", "100/m", "1000/h" (also "/sec", "/min", "/hour").
pub fn parse_rate(s: &str) -> Option<Rate> {
    let (n, per) = s.trim().split_once('/')?;
    let count: u32 = n.trim().parse().ok().filter(|n| *n > 0)?;
    let per = match per.trim() {
        "s" | "sec" | "second" => Duration::from_secs(1),
        "m" | "min" | "minute" => Duration::from_secs(60),
        "h" | "hour" => Duration::from_secs(3600),
        _ => return None,
    };
    Some(Rate { count, per })
}

struct Ctx<'a> {
    errors: &'a mut Vec<String>,
}

impl Ctx<'_> {
    fn err(&mut self, msg: String) {
        self.errors.push(msg);
    }

    fn check_keys(&mut self, at: &str, t: &Table, allowed: &[&str]) {
        for k in t.keys() {
            if !allowed.contains(&k.as_str()) {
                self.err(format!(
                    "{at}.{k}: unknown key; expected one of {}",
                    allowed.join(", ")
                ));
            }
        }
    }

    fn string(&mut self, at: &str, t: &Table, key: &str) -> Option<String> {
        match t.get(key)? {
            Value::String(s) => Some(s.clone()),
            other => {
                self.err(format!(
                    "{at}.{key} = {other}: expected a string; quote it, e.g. {key} = \"…\""
                ));
                None
            }
        }
    }

    fn duration(&mut self, at: &str, t: &Table, key: &str, default: Duration) -> Duration {
        match t.get(key) {
            None => default,
            Some(Value::String(s)) => match parse_duration(s) {
                Some(d) if !d.is_zero() => d,
                Some(_) => {
                    self.err(format!(
                        "{at}.{key} = \"{s}\": must be longer than zero; e.g. \"{}\"",
                        fmt_duration(default)
                    ));
                    default
                }
                None => {
                    self.err(format!(
                        "{at}.{key} = \"{s}\": not a duration; write a number with a unit (ms, s, m, h, d), e.g. \"{}\"",
                        fmt_duration(default)
                    ));
                    default
                }
            },
            Some(other) => {
                self.err(format!(
                    "{at}.{key} = {other}: expected a duration string with a unit, e.g. {key} = \"{}\"",
                    fmt_duration(default)
                ));
                default
            }
        }
    }

    fn integer(&mut self, at: &str, t: &Table, key: &str, default: i64, range: (i64, i64)) -> i64 {
        match t.get(key) {
            None => default,
            Some(Value::Integer(n)) if (range.0..=range.1).contains(n) => *n,
            Some(other) => {
                self.err(format!(
                    "{at}.{key} = {other}: expected a whole number from {} to {}, e.g. {key} = {default}",
                    range.0, range.1
                ));
                default
            }
        }
    }

    fn fields(&mut self, at: &str, t: &Table, pointers: bool) -> Vec<(Field, String)> {
        let Some(v) = t.get("fields") else {
            return Vec::new();
        };
        let Value::Table(ft) = v else {
            self.err(format!(
                "{at}.fields: expected a table of field = \"{}\"; write [enrichment.provider.fields] under the provider",
                if pointers { "/json/pointer" } else { "column" }
            ));
            return Vec::new();
        };
        let mut out = Vec::new();
        for (k, v) in ft {
            let Some(field) = Field::parse(k) else {
                self.err(format!(
                    "{at}.fields.{k}: unknown field; expected one of {}",
                    Field::names()
                ));
                continue;
            };
            match v {
                Value::String(p) if pointers && !p.starts_with('/') => self.err(format!(
                    "{at}.fields.{k} = \"{p}\": not a JSON pointer; start it with '/', e.g. \"/{}\"",
                    p.replace('.', "/")
                )),
                Value::String(p) if p.trim().is_empty() => {
                    self.err(format!("{at}.fields.{k} = \"\": empty; name the source"))
                }
                Value::String(p) => out.push((field, p.clone())),
                other => self.err(format!(
                    "{at}.fields.{k} = {other}: expected a string, e.g. {k} = \"/{k}\""
                )),
            }
        }
        out
    }
}

/// Parse the `[enrichment]` table. `env` looks up environment variables (secrets).
pub fn parse(
    table: Option<&Table>,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<EnrichmentConfig, Vec<String>> {
    let mut errors = Vec::new();
    let mut cx = Ctx {
        errors: &mut errors,
    };
    let Some(t) = table else {
        return Ok(EnrichmentConfig {
            budget: DEFAULT_BUDGET,
            providers: Vec::new(),
        });
    };
    cx.check_keys("enrichment", t, &["budget", "provider"]);
    let budget = cx.duration("enrichment", t, "budget", DEFAULT_BUDGET);
    let mut providers = Vec::new();
    match t.get("provider") {
        None => {}
        Some(Value::Array(items)) => {
            for (i, item) in items.iter().enumerate() {
                let at = format!("enrichment.provider[{}]", i + 1);
                let Value::Table(pt) = item else {
                    cx.err(format!(
                        "{at}: expected a table; write each provider as [[enrichment.provider]]"
                    ));
                    continue;
                };
                if let Some(p) = provider(&mut cx, &at, pt, base_dir, env) {
                    if providers.iter().any(|q: &ProviderConfig| q.name == p.name) {
                        cx.err(format!(
                            "{at}.name = \"{}\": already used by an earlier provider; names must be unique",
                            p.name
                        ));
                    } else {
                        providers.push(p);
                    }
                }
            }
        }
        Some(_) => cx.err(
            "enrichment.provider: expected an array of tables; write each provider as [[enrichment.provider]]"
                .into(),
        ),
    }
    if errors.is_empty() {
        Ok(EnrichmentConfig { budget, providers })
    } else {
        Err(errors)
    }
}

fn provider(
    cx: &mut Ctx,
    at: &str,
    t: &Table,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<ProviderConfig> {
    let name = cx.string(at, t, "name");
    let at = match &name {
        Some(n) => format!("{at} (\"{n}\")"),
        None => at.to_string(),
    };
    let name = match name {
        None => {
            cx.err(format!(
                "{at}.name: missing; give the provider a name, e.g. name = \"firmographics\""
            ));
            return None;
        }
        Some(n) if n.trim().is_empty() || n.len() > 64 => {
            cx.err(format!("{at}.name = \"{n}\": must be 1 to 64 characters"));
            return None;
        }
        Some(n) if n == "signals" || n == "form" => {
            cx.err(format!(
                "{at}.name = \"{n}\": reserved for the built-in {n}; choose another name"
            ));
            return None;
        }
        Some(n) => n,
    };
    let kind = match cx.string(&at, t, "kind").as_deref() {
        Some("file") => {
            cx.check_keys(&at, t, &["name", "kind", "path", "format", "fields"]);
            ProviderKind::File(file(cx, &at, t, base_dir)?)
        }
        Some("http") => {
            cx.check_keys(
                &at,
                t,
                &[
                    "name",
                    "kind",
                    "url",
                    "auth_header",
                    "auth_env",
                    "auth_prefix",
                    "headers",
                    "timeout",
                    "retries",
                    "rate_limit",
                    "cache_ttl",
                    "miss_ttl",
                    "cache_capacity",
                    "circuit",
                    "fields",
                ],
            );
            ProviderKind::Http(http(cx, &at, t, env)?)
        }
        Some(other) => {
            cx.err(format!(
                "{at}.kind = \"{other}\": unknown provider kind; use \"file\" or \"http\""
            ));
            return None;
        }
        None => {
            cx.err(format!(
                "{at}.kind: missing; use kind = \"file\" or kind = \"http\""
            ));
            return None;
        }
    };
    Some(ProviderConfig { name, kind })
}

fn file(cx: &mut Ctx, at: &str, t: &Table, base_dir: &Path) -> Option<FileConfig> {
    let Some(path) = cx.string(at, t, "path") else {
        cx.err(format!(
            "{at}.path: missing; name the CSV or JSONL file, e.g. path = \"firmographics.csv\""
        ));
        return None;
    };
    let full = base_dir.join(&path);
    let format = match cx.string(at, t, "format").as_deref() {
        Some("csv") => FileFormat::Csv,
        Some("jsonl") | Some("ndjson") => FileFormat::Jsonl,
        Some(other) => {
            cx.err(format!(
                "{at}.format = \"{other}\": unknown format; use \"csv\" or \"jsonl\""
            ));
            return None;
        }
        None => match full.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => FileFormat::Csv,
            Some(e) if e.eq_ignore_ascii_case("jsonl") || e.eq_ignore_ascii_case("ndjson") => {
                FileFormat::Jsonl
            }
            _ => {
                cx.err(format!(
                    "{at}.path = \"{path}\": cannot tell the format from the extension; add format = \"csv\" or format = \"jsonl\""
                ));
                return None;
            }
        },
    };
    let fields = cx.fields(at, t, false);
    Some(FileConfig {
        path: full,
        format,
        fields,
    })
}

fn http(
    cx: &mut Ctx,
    at: &str,
    t: &Table,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<HttpConfig> {
    let n_errors = cx.errors.len();
    let url = cx.string(at, t, "url");
    let mut uses_email = false;
    match &url {
        None => cx.err(format!(
            "{at}.url: missing; give the lookup URL with a {{domain}} or {{email}} placeholder, e.g. url = \"https://api.example.com/companies/find?domain={{domain}}\""
        )),
        Some(u) => {
            uses_email = u.contains("{email}");
            if !u.contains("{domain}") && !uses_email {
                cx.err(format!(
                    "{at}.url = \"{u}\": has no {{domain}} or {{email}} placeholder; add one where the lookup key goes"
                ));
            } else {
                let sample = u
                    .replace("{domain}", "example.com")
                    .replace("{email}", "someone%40example.com");
                match reqwest::Url::parse(&sample) {
                    Ok(p) if p.scheme() == "http" || p.scheme() == "https" => {}
                    Ok(p) => cx.err(format!(
                        "{at}.url = \"{u}\": scheme {} is not supported; use https:// (or http:// for a local service)",
                        p.scheme()
                    )),
                    Err(e) => cx.err(format!(
                        "{at}.url = \"{u}\": not a valid URL ({e}); write a full URL such as \"https://api.example.com/v1/companies?domain={{domain}}\""
                    )),
                }
            }
        }
    }
    let auth_env = cx.string(at, t, "auth_env");
    let auth_header = cx.string(at, t, "auth_header");
    let auth_prefix = cx.string(at, t, "auth_prefix").unwrap_or_default();
    let auth = match (&auth_env, &auth_header) {
        (None, Some(h)) => {
            cx.err(format!(
                "{at}.auth_header = \"{h}\": set without auth_env; add auth_env = \"NAME_OF_THE_VARIABLE\" holding the secret"
            ));
            None
        }
        (None, None) => None,
        (Some(var), header) => {
            let header = header.clone().unwrap_or_else(|| "Authorization".into());
            if reqwest::header::HeaderName::from_bytes(header.as_bytes()).is_err() {
                cx.err(format!(
                    "{at}.auth_header = \"{header}\": not a valid HTTP header name"
                ));
            }
            match env(var) {
                None => {
                    cx.err(format!(
                        "{at}.auth_env = \"{var}\": the environment variable is not set; export {var} with the API key before starting, or remove auth_env"
                    ));
                    None
                }
                Some(secret) => {
                    let value = format!("{auth_prefix}{}", secret.trim());
                    if reqwest::header::HeaderValue::from_str(&value).is_err() {
                        // Never echo the secret.
                        cx.err(format!(
                            "{at}.auth_env = \"{var}\": the variable's value is not a valid HTTP header value (control characters or non-ASCII); fix the value of {var}"
                        ));
                    }
                    Some((header, value))
                }
            }
        }
    };
    let mut headers = Vec::new();
    match t.get("headers") {
        None => {}
        Some(Value::Table(h)) => {
            for (k, v) in h {
                match v {
                    Value::String(s)
                        if reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_ok()
                            && reqwest::header::HeaderValue::from_str(s).is_ok() =>
                    {
                        headers.push((k.clone(), s.clone()))
                    }
                    other => cx.err(format!(
                        "{at}.headers.{k} = {other}: expected a valid header name with a string value, e.g. \"Accept\" = \"application/json\""
                    )),
                }
            }
        }
        Some(_) => cx.err(format!(
            "{at}.headers: expected a table, e.g. headers = {{ \"X-Api-Version\" = \"2\" }}"
        )),
    }
    let timeout = cx.duration(at, t, "timeout", DEFAULT_TIMEOUT);
    let retries = cx.integer(at, t, "retries", DEFAULT_RETRIES as i64, (0, 10)) as usize;
    let rate_limit = match cx.string(at, t, "rate_limit") {
        None => None,
        Some(s) => match parse_rate(&s) {
            Some(r) => Some(r),
            None => {
                cx.err(format!(
                    "{at}.rate_limit = \"{s}\": not a rate; write requests per second, minute or hour, e.g. \"50/s\", \"600/m\""
                ));
                None
            }
        },
    };
    let cache_ttl = cx.duration(at, t, "cache_ttl", DEFAULT_CACHE_TTL);
    let miss_ttl = cx.duration(at, t, "miss_ttl", DEFAULT_MISS_TTL.min(cache_ttl));
    let cache_capacity = cx.integer(
        at,
        t,
        "cache_capacity",
        DEFAULT_CACHE_CAPACITY as i64,
        (1, 100_000_000),
    ) as u64;
    let (mut circuit_failures, mut circuit_cooldown) =
        (DEFAULT_CIRCUIT_FAILURES, DEFAULT_CIRCUIT_COOLDOWN);
    match t.get("circuit") {
        None => {}
        Some(Value::Table(c)) => {
            let cat = format!("{at}.circuit");
            cx.check_keys(&cat, c, &["failures", "cooldown"]);
            circuit_failures =
                cx.integer(&cat, c, "failures", DEFAULT_CIRCUIT_FAILURES as i64, (1, 1000)) as u32;
            circuit_cooldown = cx.duration(&cat, c, "cooldown", DEFAULT_CIRCUIT_COOLDOWN);
        }
        Some(other) => cx.err(format!(
            "{at}.circuit = {other}: expected a table, e.g. circuit = {{ failures = 5, cooldown = \"30s\" }}"
        )),
    }
    let fields = cx.fields(at, t, true);
    if fields.is_empty() && t.get("fields").is_none() {
        cx.err(format!(
            "{at}.fields: missing; map response fields with JSON pointers under [enrichment.provider.fields], e.g. employees = \"/metrics/employees\""
        ));
    }
    if cx.errors.len() > n_errors {
        return None;
    }
    Some(HttpConfig {
        url: url?,
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
        fields,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse_str(s: &str) -> Result<EnrichmentConfig, Vec<String>> {
        let doc: Table = toml::from_str(s).unwrap();
        let t = doc.get("enrichment").and_then(Value::as_table);
        parse(t, Path::new("/base"), &|v| {
            (v == "ACME_TOKEN").then(|| "s3cret".to_string())
        })
    }

    #[test]
    fn durations_and_rates() {
        assert_eq!(parse_duration("800ms"), Some(Duration::from_millis(800)));
        assert_eq!(parse_duration("2s"), Some(Duration::from_secs(2)));
        assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1500)));
        assert_eq!(parse_duration("30d"), Some(Duration::from_secs(30 * 86400)));
        assert_eq!(parse_duration("800"), None);
        assert_eq!(parse_duration("fast"), None);
        assert_eq!(fmt_duration(Duration::from_millis(800)), "800ms");
        assert_eq!(fmt_duration(Duration::from_secs(2)), "2s");
        assert_eq!(fmt_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(fmt_duration(Duration::from_secs(30 * 86400)), "30d");
        assert_eq!(
            parse_rate("50/s"),
            Some(Rate {
                count: 50,
                per: Duration::from_secs(1)
            })
        );
        assert_eq!(parse_rate("600/m").unwrap().per, Duration::from_secs(60));
        assert_eq!(parse_rate("0/s"), None);
        assert_eq!(parse_rate("fifty"), None);
    }

    #[test]
    fn none_means_local_signals_only() {
        let c = parse(None, Path::new("."), &no_env).unwrap();
        assert_eq!(c.budget, DEFAULT_BUDGET);
        assert!(c.providers.is_empty());
    }

    #[test]
    fn full_example_parses() {
        let c = parse_str(
            r#"
[enrichment]
budget = "1500ms"
[[enrichment.provider]]
name = "firmographics"
kind = "file"
path = "data/firmo.csv"
[[enrichment.provider]]
name = "acme-data"
kind = "http"
url = "https://api.example.com/v2/companies/find?domain={domain}"
auth_env = "ACME_TOKEN"
auth_prefix = "Bearer "
timeout = "800ms"
retries = 3
rate_limit = "50/s"
cache_ttl = "30d"
circuit = { failures = 4, cooldown = "10s" }
[enrichment.provider.fields]
employees = "/metrics/employees"
country = "/geo/countryCode"
"#,
        )
        .unwrap();
        assert_eq!(c.budget, Duration::from_millis(1500));
        let ProviderKind::File(f) = &c.providers[0].kind else {
            panic!()
        };
        assert_eq!(f.path, Path::new("/base/data/firmo.csv"));
        assert_eq!(f.format, FileFormat::Csv);
        let ProviderKind::Http(h) = &c.providers[1].kind else {
            panic!()
        };
        assert_eq!(
            h.auth,
            Some(("Authorization".to_string(), "Bearer s3cret".to_string()))
        );
        assert_eq!(h.retries, 3);
        assert_eq!(h.circuit_failures, 4);
        assert_eq!(h.miss_ttl, DEFAULT_MISS_TTL);
        assert_eq!(h.fields.len(), 2);
        assert!(
            !format!("{h:?}").contains("s3cret"),
            "secret leaked in Debug"
        );
    }

    #[test]
    fn errors_name_key_value_and_fix() {
        let errs = parse_str(
            r#"
[enrichment]
budget = "2"
colour = "blue"
[[enrichment.provider]]
name = "acme-data"
kind = "http"
url = "https://api.example.com/find"
auth_env = "MISSING_TOKEN"
timeout = 800
rate_limit = "lots"
retries = -1
[enrichment.provider.fields]
employees = "metrics.employees"
size = "/size"
[[enrichment.provider]]
name = "acme-data"
kind = "file"
path = "x.txt"
[[enrichment.provider]]
kind = "ftp"
name = "old"
"#,
        )
        .unwrap_err();
        let all = errs.join("\n");
        for needle in [
            "enrichment.budget = \"2\": not a duration",
            "enrichment.colour: unknown key",
            "(\"acme-data\").url = \"https://api.example.com/find\": has no {domain} or {email} placeholder",
            "auth_env = \"MISSING_TOKEN\": the environment variable is not set; export MISSING_TOKEN",
            "timeout = 800: expected a duration string",
            "rate_limit = \"lots\": not a rate",
            "retries = -1: expected a whole number from 0 to 10",
            "fields.employees = \"metrics.employees\": not a JSON pointer; start it with '/', e.g. \"/metrics/employees\"",
            "fields.size: unknown field; expected one of domain, company, employees",
            "path = \"x.txt\": cannot tell the format",
            "kind = \"ftp\": unknown provider kind",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }
}
