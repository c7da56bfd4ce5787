//! The checks of single `[notify]` values shared by every table — non-empty strings,
//! required keys, address lists, environment variable names, URLs, numbers and channel
//! lists — each reporting its own message and fix. The tables are resolved in resolve.rs.

use super::raw::{Number, RawChannelList, RawTierChannels};
use super::resolve::{Resolver, Table};
use super::types::{ChannelKind, TierChannels};
use super::{check_http_url, env_name_ok};
use leadrouter_core::config::ConfigError;
use toml::Spanned;

impl Resolver<'_> {
    pub(super) fn line_of<T>(&self, s: &Spanned<T>) -> usize {
        self.src.line_of(s.span().start)
    }

    /// Note where `key` was written and return its line.
    pub(super) fn at<T>(&mut self, key: &str, s: &Spanned<T>) -> usize {
        let line = self.line_of(s);
        self.origins.entry(key.to_string()).or_insert(line);
        line
    }

    pub(super) fn err(
        &mut self,
        key: impl Into<String>,
        line: usize,
        value: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.errs.push(ConfigError {
            file: self.src.path.clone(),
            line: Some(line),
            field: key.into(),
            value: value.map(str::to_string),
            message: message.into(),
            fix: Some(fix.into()),
        });
    }

    /// An error at the line where `key` was written (recorded by [`Resolver::at`]).
    pub(super) fn err_at(
        &mut self,
        key: impl Into<String>,
        value: Option<&str>,
        message: impl Into<String>,
        fix: impl Into<String>,
    ) {
        let key = key.into();
        let line = self.origins.get(&key).copied().unwrap_or(0);
        self.err(key, line, value, message, fix);
    }

    /// A non-empty string, trimmed.
    pub(super) fn string(
        &mut self,
        t: Table,
        k: &str,
        v: &Option<Spanned<String>>,
        ex: &str,
    ) -> Option<String> {
        let v = v.as_ref()?;
        let key = format!("{}.{k}", t.path);
        let line = self.at(&key, v);
        let s = v.get_ref().trim();
        if s.is_empty() {
            self.err(
                key,
                line,
                Some(""),
                "must not be empty",
                format!("write {k} = {ex}"),
            );
            return None;
        }
        Some(s.to_string())
    }

    pub(super) fn required(
        &mut self,
        t: Table,
        k: &str,
        v: &Option<Spanned<String>>,
        ex: &str,
    ) -> Option<String> {
        if v.is_none() {
            self.err(
                format!("{}.{k}", t.path),
                t.line,
                None,
                "required",
                format!("add {k} = {ex} to [{}]", t.path),
            );
        }
        self.string(t, k, v, ex)
    }

    /// An array of non-empty strings, trimmed.
    pub(super) fn strings(
        &mut self,
        t: Table,
        k: &str,
        v: &Option<Vec<Spanned<String>>>,
        ex: &str,
    ) -> Option<Vec<String>> {
        let items = v.as_ref()?;
        let key = format!("{}.{k}", t.path);
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            let line = self.at(&key, item);
            match item.get_ref().trim() {
                "" => {
                    self.err(
                        key,
                        line,
                        Some(""),
                        "empty string in the list",
                        format!("write {k} = {ex}"),
                    );
                    return None;
                }
                s => out.push(s.to_string()),
            }
        }
        Some(out)
    }

    /// Email addresses (lettre's parser, as delivery uses).
    pub(super) fn addresses(
        &mut self,
        t: Table,
        k: &str,
        v: &Option<Vec<Spanned<String>>>,
        ex: &str,
    ) -> Option<Vec<String>> {
        let list = self.strings(t, k, v, &format!("[\"{ex}\"]"))?;
        for (a, item) in list.iter().zip(v.iter().flatten()) {
            if a.parse::<lettre::Address>().is_err() {
                let line = self.line_of(item);
                self.err(
                    format!("{}.{k}", t.path),
                    line,
                    Some(a),
                    "not an email address",
                    format!("write addresses like \"{ex}\""),
                );
            }
        }
        Some(list)
    }

    /// The name of an environment variable (the secret itself stays out of the file).
    pub(super) fn env_key(
        &mut self,
        t: Table,
        k: &str,
        v: &Option<Spanned<String>>,
        required: bool,
        ex: &str,
    ) -> Option<String> {
        let quoted = format!("\"{ex}\"");
        let name = if required {
            self.required(t, k, v, &quoted)
        } else {
            self.string(t, k, v, &quoted)
        }?;
        if env_name_ok(&name) {
            return Some(name);
        }
        let line = v.as_ref().map_or(t.line, |v| self.line_of(v));
        self.err(
            format!("{}.{k}", t.path),
            line,
            Some(&name),
            "not an environment variable name (the config names the variable; the secret itself stays out of the file)",
            format!("write {k} = \"{ex}\" and export {ex}=…"),
        );
        None
    }

    /// An http(s) URL with a host.
    pub(super) fn url(&mut self, key: &str, v: &Spanned<String>, url: &str, fix: &str) -> bool {
        match check_http_url(url) {
            Ok(_) => true,
            Err(p) => {
                let line = self.line_of(v);
                self.err(key, line, Some(v.get_ref()), p, fix);
                false
            }
        }
    }

    pub(super) fn channel_list(
        &mut self,
        key: &str,
        v: &RawChannelList,
    ) -> Option<Vec<ChannelKind>> {
        let items = v.as_ref()?;
        let mut out = Vec::new();
        for item in items {
            let line = self.at(key, item);
            match ChannelKind::parse(item.get_ref().trim()) {
                Some(c) if !out.contains(&c) => out.push(c),
                Some(_) => {}
                None => self.err(
                    key,
                    line,
                    Some(item.get_ref()),
                    "unknown channel",
                    "use \"slack\", \"email\" or \"sms\" (webhooks are chosen by [[notify.webhook]] events)",
                ),
            }
        }
        Some(out)
    }

    pub(super) fn tier_channels(&mut self, path: &str, raw: &RawTierChannels) -> TierChannels {
        for item in [&raw.hot, &raw.warm, &raw.standard]
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Some(c) = ChannelKind::parse(item.get_ref().trim()) {
                let line = self.line_of(item);
                let first = self.channel_lines.entry(c).or_insert(line);
                *first = (*first).min(line);
            }
        }
        TierChannels {
            hot: self.channel_list(&format!("{path}.hot"), &raw.hot),
            warm: self.channel_list(&format!("{path}.warm"), &raw.warm),
            standard: self.channel_list(&format!("{path}.standard"), &raw.standard),
        }
    }

    /// A positive number (hours, seconds).
    pub(super) fn positive(
        &mut self,
        t: Table,
        k: &str,
        v: &Option<Spanned<Number>>,
        ex: &str,
    ) -> Option<f64> {
        let v = v.as_ref()?;
        let key = format!("{}.{k}", t.path);
        let line = self.at(&key, v);
        let n = v.get_ref().0;
        if n.is_finite() && n > 0.0 {
            Some(n)
        } else {
            self.err(
                key,
                line,
                Some(&n.to_string()),
                "expected a positive number",
                format!("write {k} = {ex}"),
            );
            None
        }
    }
}
