//! The `[notify]` table of the routing config, parsed in two phases like the core config:
//! `raw` deserializes it (serde; unknown keys refused, spans kept), `resolve` checks
//! every value and builds the `types` the rest of the crate reads. Problems are the
//! core's [`ConfigError`]: file:line, the full key (`notify.webhook[1].url`), the value
//! and the fix, with "did you mean" for misspelt keys and names.
//!
//! Secrets are never read here: the config only names the environment variables that hold
//! them; [`crate::Notifier::new`] and [`crate::LinkSigner::new`] resolve them, and point
//! their errors at the config line through [`NotifyConfig::origins`]. Template overrides
//! are compiled and trial-rendered here, so a broken template fails the config check, not
//! the first hot lead.

mod escalation;
mod raw;
mod resolve;
#[cfg(test)]
mod tests;
mod types;
mod values;

pub use escalation::escalation_findings;
pub use leadrouter_core::config::ConfigError;
pub use types::*;

use leadrouter_core::config::SourceText;
use std::collections::BTreeMap;
use std::fmt;

/// Every problem found, one per line when displayed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ConfigErrors(pub Vec<ConfigError>);

impl fmt::Display for ConfigErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

impl NotifyConfig {
    /// Parse the `[notify]` table out of the config file's text (the core has checked the
    /// rest of the file). No table: notifications off.
    pub fn parse(src: &SourceText) -> Result<NotifyConfig, ConfigErrors> {
        let doc: raw::RawDoc = toml::from_str(&src.text)
            .map_err(|e| ConfigErrors(vec![ConfigError::from_toml(src, &e)]))?;
        resolve::resolve(doc.notify, src)
    }

    /// Point problems found after parsing (a missing secret, a template that fails) at
    /// the file and line of their key.
    pub fn located(&self, errs: Vec<ConfigError>) -> ConfigErrors {
        ConfigErrors(errs.into_iter().map(|e| self.origins.locate(e)).collect())
    }
}

/// Where each `[notify]` key was written (file and line), filled by the resolver.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Origins {
    file: String,
    lines: BTreeMap<String, usize>,
}

impl Origins {
    /// Fill in the file and the line of the error's key, or of the nearest enclosing key
    /// that was written (`notify.webhook[0]` for `notify.webhook[0].secret_env`).
    fn locate(&self, mut e: ConfigError) -> ConfigError {
        if e.file.is_empty() {
            e.file = self.file.clone();
        }
        let mut key = e.field.as_str();
        while e.line.is_none() {
            e.line = self.lines.get(key).copied();
            match key.rfind(['.', '[']) {
                Some(i) => key = &key[..i],
                None => break,
            }
        }
        e
    }
}

/// A problem found outside the resolver; [`NotifyConfig::located`] adds file and line.
pub(crate) fn problem(
    key: impl Into<String>,
    value: impl Into<String>,
    message: impl Into<String>,
    fix: impl Into<String>,
) -> ConfigError {
    ConfigError {
        file: String::new(),
        line: None,
        field: key.into(),
        value: Some(value.into()),
        message: message.into(),
        fix: Some(fix.into()),
    }
}

/// An http(s) URL with a host; returns the problem otherwise.
pub(crate) fn check_http_url(s: &str) -> Result<reqwest::Url, String> {
    let url = reqwest::Url::parse(s).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("scheme {} is not http or https", url.scheme()));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("the URL has no host".into());
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("credentials in the URL would be stored in plain text".into());
    }
    Ok(url)
}

fn env_name_ok(s: &str) -> bool {
    !s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit())
}
