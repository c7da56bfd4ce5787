//! The `[enrichment]` table as written (phase 1 of 2): serde structs that mirror the TOML,
//! refuse unknown keys and keep the spans the resolver points at. Which keys a provider may
//! have depends on its `kind`, so one struct holds every provider key and resolve.rs
//! refuses the ones that do not belong to the kind.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The whole config file, read for its `[enrichment]` table only (the core checks the rest).
#[derive(Debug, Deserialize)]
pub(crate) struct RawDoc {
    pub enrichment: Option<RawEnrichment>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEnrichment {
    pub budget: Option<Spanned<DurationText>>,
    #[serde(default)]
    pub provider: Vec<Spanned<RawProvider>>,
    pub mx: Option<Spanned<RawMx>>,
}

/// `[enrichment.mx]`: the MX signal (mx.rs).
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMx {
    pub enabled: Option<bool>,
    /// `IP:port` of the DNS server to ask; default the system's resolvers.
    pub resolver: Option<Spanned<String>>,
    pub timeout: Option<Spanned<DurationText>>,
    pub cache_ttl: Option<Spanned<DurationText>>,
    /// More mail-host domains of throwaway services, on top of the shipped list.
    #[serde(default)]
    pub disposable_hosts: Vec<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProvider {
    pub name: Option<Spanned<String>>,
    pub kind: Option<Spanned<String>>,
    // kind = "file"
    pub path: Option<Spanned<String>>,
    pub format: Option<Spanned<String>>,
    // kind = "http"
    pub url: Option<Spanned<String>>,
    pub auth_header: Option<Spanned<String>>,
    pub auth_env: Option<Spanned<String>>,
    pub auth_prefix: Option<Spanned<String>>,
    pub headers: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
    pub timeout: Option<Spanned<DurationText>>,
    pub retries: Option<Spanned<i64>>,
    pub rate_limit: Option<Spanned<String>>,
    pub cache_ttl: Option<Spanned<DurationText>>,
    pub miss_ttl: Option<Spanned<DurationText>>,
    pub cache_capacity: Option<Spanned<i64>>,
    pub circuit: Option<Spanned<RawCircuit>>,
    pub allow_private: Option<Spanned<bool>>,
    // both kinds
    pub fields: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

/// The keys only a file provider may have, and those only an HTTP provider may have.
pub(crate) const FILE_KEYS: [&str; 5] = ["name", "kind", "path", "format", "fields"];
pub(crate) const HTTP_KEYS: [&str; 16] = [
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
    "allow_private",
    "fields",
];

impl RawProvider {
    /// The keys written, with the byte offset where each is (for keys of the other kind).
    pub fn written(&self) -> Vec<(&'static str, usize)> {
        fn at<T>(k: &'static str, v: &Option<Spanned<T>>) -> Option<(&'static str, usize)> {
            v.as_ref().map(|v| (k, v.span().start))
        }
        [
            at("path", &self.path),
            at("format", &self.format),
            at("url", &self.url),
            at("auth_header", &self.auth_header),
            at("auth_env", &self.auth_env),
            at("auth_prefix", &self.auth_prefix),
            at("timeout", &self.timeout),
            at("retries", &self.retries),
            at("rate_limit", &self.rate_limit),
            at("cache_ttl", &self.cache_ttl),
            at("miss_ttl", &self.miss_ttl),
            at("cache_capacity", &self.cache_capacity),
            at("circuit", &self.circuit),
            at("allow_private", &self.allow_private),
            at("fields", &self.fields),
            at("headers", &self.headers),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCircuit {
    pub failures: Option<Spanned<i64>>,
    pub cooldown: Option<Spanned<DurationText>>,
}

/// A duration as written ("800ms", "2s"); only strings are accepted, so a bare number gets
/// a message that asks for the unit. resolve.rs parses the text.
#[derive(Debug)]
pub(crate) struct DurationText(pub String);

impl<'de> Deserialize<'de> for DurationText {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Visitor;
        impl serde::de::Visitor<'_> for Visitor {
            type Value = DurationText;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(
                    "a duration string with a unit (ms, s, m, h, d), e.g. \"800ms\" or \"2s\"",
                )
            }
            fn visit_str<E>(self, v: &str) -> Result<DurationText, E> {
                Ok(DurationText(v.to_string()))
            }
        }
        d.deserialize_str(Visitor)
    }
}
