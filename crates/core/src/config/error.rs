//! Config errors that point at the source: file, line, field, value, and the fix.

use serde::Serialize;
use std::fmt;

/// One problem found while compiling a config. Several are collected per run so an ops
/// admin fixes them all in one go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ConfigError {
    pub file: String,
    pub line: Option<usize>,
    pub field: String,
    pub value: Option<String>,
    pub message: String,
    pub fix: Option<String>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file)?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        write!(f, ": {}", self.field)?;
        if let Some(v) = &self.value {
            write!(f, " = {v:?}")?;
        }
        write!(f, ": {}", self.message)?;
        if let Some(fix) = &self.fix {
            write!(f, "\n    fix: {fix}")?;
        }
        Ok(())
    }
}

impl ConfigError {
    /// A TOML syntax or type error, or an unknown key refused by `deny_unknown_fields`,
    /// from parsing `src`: named by the dotted key at its span, with the value written
    /// there and a fix (for an unknown key, the nearest valid one from serde's list).
    pub fn from_toml(src: &SourceText, err: &toml::de::Error) -> ConfigError {
        let span = err.span();
        let line = span.as_ref().map(|s| src.line_of(s.start));
        let field = span
            .as_ref()
            .map(|s| src.key_at(s.start))
            .unwrap_or_else(|| "(syntax)".into());
        let message = err.message().trim();
        if let Some((key, valid)) = unknown_field(message) {
            let valid: Vec<&str> = valid.iter().map(String::as_str).collect();
            return ConfigError {
                file: src.path.clone(),
                line,
                field,
                value: None,
                message: format!("unknown key `{key}`"),
                fix: Some(super::suggest::unknown_key_fix(&key, &valid)),
            };
        }
        let value = span.and_then(|s| src.text.get(s)).map(|v| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .unwrap_or(v);
            if v.chars().count() > 120 {
                format!("{}...", v.chars().take(117).collect::<String>())
            } else {
                v.to_string()
            }
        });
        let fix = match message.split_once(", expected ") {
            Some((_, expected)) => format!("write {expected}; see docs/config.md"),
            None => "see docs/config.md for the file format".into(),
        };
        ConfigError {
            file: src.path.clone(),
            line,
            field,
            value: value.filter(|v| !v.is_empty()),
            message: message.to_string(),
            fix: Some(fix),
        }
    }
}

/// serde's "unknown field `k`, expected one of `a`, `b`" (or "expected `a`", or "there
/// are no fields"): the key and the valid ones.
fn unknown_field(message: &str) -> Option<(String, Vec<String>)> {
    let rest = message.strip_prefix("unknown field `")?;
    let (key, expected) = rest.split_once('`')?;
    let valid = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect();
    Some((key.to_string(), valid))
}

/// Why a config could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{} error(s) in the config:\n{}", .0.len(), render(.0))]
    Invalid(Vec<ConfigError>),
}

impl LoadError {
    pub fn errors(&self) -> &[ConfigError] {
        match self {
            LoadError::Invalid(e) => e,
            LoadError::Io { .. } => &[],
        }
    }
}

fn render(errors: &[ConfigError]) -> String {
    errors
        .iter()
        .map(|e| format!("  {e}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A source file's text with a line table, for turning byte offsets into line numbers.
#[derive(Debug, Clone)]
pub struct SourceText {
    pub path: String,
    pub text: String,
    line_starts: Vec<usize>,
}

impl SourceText {
    pub fn new(path: impl Into<String>, text: impl Into<String>) -> Self {
        let text = text.into();
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        SourceText {
            path: path.into(),
            text,
            line_starts,
        }
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        match self.line_starts.binary_search(&offset) {
            Ok(i) => i + 1,
            Err(i) => i,
        }
    }

    /// The dotted key written at a byte offset: the table header above it (`[a.b]` or
    /// `[[a.b]]`) joined with the key of the `key = …` line holding the offset (or of the
    /// nearest such line above, inside a multi-line value). On a header line, the header.
    pub fn key_at(&self, offset: usize) -> String {
        let offset = offset.min(self.text.len());
        let line_start = self.text[..offset].rfind('\n').map_or(0, |i| i + 1);
        let own = self.text[line_start..].lines().next().unwrap_or("");
        let above = self.text[..line_start].lines().rev();
        let mut key: Option<&str> = None;
        for line in std::iter::once(own).chain(above) {
            let t = line.trim();
            if t.starts_with('[') {
                let header = t.trim_start_matches('[');
                let header = header.split(']').next().unwrap_or("").trim();
                let header: String = header.chars().filter(|c| *c != '"').collect();
                return match key {
                    Some(k) => format!("{header}.{k}"),
                    None => header,
                };
            }
            if key.is_none()
                && let Some((k, _)) = t.split_once('=')
                && !t.starts_with('#')
            {
                key = Some(k.trim().trim_matches('"'));
            }
        }
        key.unwrap_or("(syntax)").to_string()
    }

    /// The line of `key = …` inside a table whose span is given, or the table's first line.
    pub fn field_line(&self, span: std::ops::Range<usize>, key: &str) -> usize {
        let end = span.end.min(self.text.len());
        let start = span.start.min(end);
        let mut offset = start;
        for line in self.text[start..end].split_inclusive('\n') {
            let t = line.trim_start();
            if let Some(rest) = t.strip_prefix(key)
                && rest.trim_start().starts_with('=')
            {
                return self.line_of(offset);
            }
            offset += line.len();
        }
        self.line_of(start)
    }
}

/// Collects errors against one source file.
pub(crate) struct Errors<'a> {
    pub src: &'a SourceText,
    pub list: Vec<ConfigError>,
}

impl<'a> Errors<'a> {
    pub fn new(src: &'a SourceText) -> Self {
        Errors {
            src,
            list: Vec::new(),
        }
    }

    pub fn at(
        &mut self,
        line: Option<usize>,
        field: impl Into<String>,
        value: Option<&str>,
        message: impl Into<String>,
        fix: Option<String>,
    ) {
        self.list.push(ConfigError {
            file: self.src.path.clone(),
            line,
            field: field.into(),
            value: value.map(str::to_string),
            message: message.into(),
            fix,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Doc {
        notify: Notify,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Notify {
        timeout_secs: Option<u32>,
        base_url: Option<String>,
        #[serde(default)]
        webhook: Vec<Hook>,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Hook {
        url: String,
    }

    fn error(text: &str) -> ConfigError {
        let src = SourceText::new("c.toml", text);
        let err = toml::from_str::<Doc>(text).unwrap_err();
        ConfigError::from_toml(&src, &err)
    }

    #[test]
    fn unknown_key_names_the_line_and_the_nearest_key() {
        let e = error("[notify]\nbase_url = \"x\"\ntmeout_secs = 3\n");
        assert_eq!(e.line, Some(3), "{e}");
        assert_eq!(e.field, "notify.tmeout_secs", "{e}");
        assert_eq!(e.message, "unknown key `tmeout_secs`");
        assert_eq!(
            e.fix.as_deref(),
            Some("did you mean `timeout_secs`? valid keys: timeout_secs, base_url, webhook")
        );
    }

    #[test]
    fn wrong_type_names_the_value_and_what_to_write() {
        let e = error("[notify]\n\n[[notify.webhook]]\nurl = 3\n");
        assert_eq!(e.line, Some(4), "{e}");
        assert_eq!(e.field, "notify.webhook.url", "{e}");
        assert_eq!(e.value.as_deref(), Some("3"), "{e}");
        assert!(
            e.fix.as_deref().unwrap().starts_with("write a string"),
            "{e}"
        );
    }

    #[test]
    fn key_at_walks_up_to_the_header() {
        let src = SourceText::new("c.toml", "top = 1\n[a.\"b-c\"]\nx = [\n  1,\n  2,\n]\n");
        assert_eq!(src.key_at(0), "top");
        assert_eq!(src.key_at(src.text.find("2,").unwrap()), "a.b-c.x");
        assert_eq!(src.key_at(src.text.find("[a").unwrap()), "a.b-c");
    }
}
