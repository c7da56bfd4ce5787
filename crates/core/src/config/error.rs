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
