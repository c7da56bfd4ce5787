//! The `[enrichment]` table of the routing config, parsed in two phases like the core
//! config: config/raw.rs deserializes it (serde; unknown keys refused, spans kept),
//! config/resolve.rs checks each provider and builds the [`EnrichmentConfig`] defined
//! here. Problems are the core's [`ConfigError`], e.g.
//! `leadrouter.toml:12: enrichment.provider[2] ("acme-data").timeout = "800": not a duration`
//! with `fix: write a number with a unit (ms, s, m, h, d), e.g. "1s"`.

mod raw;
mod resolve;

use crate::record::Field;
use leadrouter_core::config::{ConfigError, Origin, SourceText};
use std::path::{Path, PathBuf};
use std::time::Duration;

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
    /// `[enrichment.mx]` with `enabled = true`; `None`: no DNS lookups at all.
    pub mx: Option<MxConfig>,
}

/// The MX signal's settings (`[enrichment.mx]`, docs/enrichment.md).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MxConfig {
    /// The DNS server asked; `None`: the system's (`/etc/resolv.conf`).
    pub resolver: Option<std::net::SocketAddr>,
    /// Per lookup; also bounded by what is left of the enrichment budget.
    pub timeout: Duration,
    /// How long an answer (disposable or not) is kept per domain.
    pub cache_ttl: Duration,
    /// Extra mail-host domains of throwaway services (lower case).
    pub extra_hosts: Vec<String>,
}

pub const DEFAULT_MX_TIMEOUT: Duration = Duration::from_millis(300);
pub const DEFAULT_MX_CACHE_TTL: Duration = Duration::from_secs(86_400);

#[derive(Debug, Clone)]
pub struct ProviderConfig {
    pub name: String,
    pub kind: ProviderKind,
    /// Where the provider's table starts, for problems found when it is built.
    pub origin: Origin,
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
    /// May this provider reach loopback, private and other non-public addresses? Off by
    /// default (SSRF guard, docs/security.md); when on, redirects are not followed.
    pub allow_private: bool,
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
            .field("allow_private", &self.allow_private)
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

/// Parse the `[enrichment]` table out of the config file's text (the core has checked the
/// rest of the file). `base_dir` resolves file paths; `env` looks up environment variables
/// (secrets). No table: local signals only.
pub fn parse(
    src: &SourceText,
    base_dir: &Path,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<EnrichmentConfig, Vec<ConfigError>> {
    let doc: raw::RawDoc =
        toml::from_str(&src.text).map_err(|e| vec![ConfigError::from_toml(src, &e)])?;
    resolve::resolve(doc.enrichment, src, base_dir, env)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn parse_str(s: &str) -> Result<EnrichmentConfig, Vec<ConfigError>> {
        let src = SourceText::new("leadrouter.toml", s);
        parse(&src, Path::new("/base"), &|v| {
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
        let src = SourceText::new("leadrouter.toml", "[organization]\nname = \"N\"\n");
        let c = parse(&src, Path::new("."), &no_env).unwrap();
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
    fn errors_name_file_line_key_value_and_fix() {
        let errs = parse_str(
            r#"
[enrichment]
budget = "2"
[[enrichment.provider]]
name = "acme-data"
kind = "http"
url = "https://api.example.com/find"
auth_env = "MISSING_TOKEN"
rate_limit = "lots"
retries = -1
path = "x.csv"
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
        let all = errs
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("\n");
        for needle in [
            "leadrouter.toml:3: enrichment.budget = \"2\": not a duration",
            "leadrouter.toml:7: enrichment.provider[1] (\"acme-data\").url = \"https://api.example.com/find\": has no {domain} or {email} placeholder",
            ":8: enrichment.provider[1] (\"acme-data\").auth_env = \"MISSING_TOKEN\": the environment variable is not set\n    fix: export MISSING_TOKEN",
            ":9: enrichment.provider[1] (\"acme-data\").rate_limit = \"lots\": not a rate",
            ":10: enrichment.provider[1] (\"acme-data\").retries = \"-1\": expected a whole number from 0 to 10",
            ":11: enrichment.provider[1] (\"acme-data\").path: not a key of a http provider",
            ":13: enrichment.provider[1] (\"acme-data\").fields.employees = \"metrics.employees\": not a JSON pointer\n    fix: start it with '/', e.g. \"/metrics/employees\"",
            ":14: enrichment.provider[1] (\"acme-data\").fields.size: unknown field\n    fix: did you mean `state`? expected one of domain, company, employees",
            ":18: enrichment.provider[2] (\"acme-data\").path = \"x.txt\": cannot tell the format",
            ":20: enrichment.provider[3] (\"old\").kind = \"ftp\": unknown provider kind",
        ] {
            assert!(all.contains(needle), "missing {needle:?} in:\n{all}");
        }
    }

    #[test]
    fn unknown_keys_and_wrong_types_stop_at_the_first_with_its_line() {
        let e = parse_str("[enrichment]\nbudget = \"2s\"\ncolour = \"blue\"\n").unwrap_err();
        assert_eq!(e.len(), 1, "{e:?}");
        assert_eq!(e[0].line, Some(3), "{}", e[0]);
        assert_eq!(e[0].field, "enrichment.colour", "{}", e[0]);
        assert_eq!(e[0].message, "unknown key `colour`", "{}", e[0]);
        let e = parse_str(
            "[enrichment]\n[[enrichment.provider]]\nname = \"a\"\nkind = \"http\"\ntimeout = 800\n",
        )
        .unwrap_err();
        assert_eq!(e[0].line, Some(5), "{}", e[0]);
        assert_eq!(e[0].field, "enrichment.provider.timeout", "{}", e[0]);
        assert!(
            e[0].message
                .contains("expected a duration string with a unit"),
            "{}",
            e[0]
        );
        let e = parse_str("[enrichment]\n[[enrichment.provider]]\nname = \"a\"\nkind = \"file\"\npaht = \"x.csv\"\n")
            .unwrap_err();
        assert!(
            e[0].to_string().contains("did you mean `path`?"),
            "{}",
            e[0]
        );
    }
}
