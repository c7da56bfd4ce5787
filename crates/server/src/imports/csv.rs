//! CSV lists (CAP-3) → rows, read as the upload streams in: [`CsvStream`] is fed the
//! body chunk by chunk and hands back the rows of every complete record, so an import
//! never holds more than one unfinished record in memory. Excel's BOM and `;` separator
//! are handled; header names are mapped to lead fields; unknown columns become custom
//! fields; line numbers are those of the file (CRLF too).

use crate::intake::{FieldError, canonical_field, is_lead_field, validate};
use leadrouter_core::lead::{FieldIssue, Lead};
use serde_json::{Map, Value};

/// Largest import accepted in one request.
pub const MAX_IMPORT_BYTES: usize = 50 * 1024 * 1024;

/// The 1-based line on which the record at byte `byte` of `text` starts. The csv
/// crate's own line count lags by one on CRLF input (Excel on Windows): a record's
/// position is the `\n` of the previous line's CRLF, counted before that `\n`.
pub fn line_at(text: &str, byte: u64) -> u64 {
    let b = text.as_bytes();
    let mut i = usize::try_from(byte).unwrap_or(usize::MAX).min(b.len());
    while i < b.len() && (b[i] == b'\r' || b[i] == b'\n') {
        i += 1;
    }
    1 + b[..i].iter().filter(|c| **c == b'\n').count() as u64
}

/// One CSV row's outcome before routing.
pub enum CsvRow {
    Lead {
        line: u64,
        lead: Box<Lead>,
        payload: Value,
        issues: Vec<FieldIssue>,
    },
    Error {
        line: u64,
        errors: Vec<FieldError>,
    },
}

/// Why an upload is refused as a whole (nothing of it is imported).
#[derive(Debug)]
pub enum CsvError {
    /// Not UTF-8, at this line of the file.
    NotUtf8 { line: u64 },
    /// The header row is unusable.
    Header(FieldError),
}

/// Parse a whole CSV list (see [`CsvStream`]). `line_offset` is added to reported line
/// numbers (the CLI may upload a file in parts).
pub fn parse_csv(text: &str, line_offset: u64) -> Result<Vec<CsvRow>, FieldError> {
    let mut s = CsvStream::new(line_offset);
    let mut rows = s.push(text.as_bytes()).map_err(header_error)?;
    rows.extend(s.finish().map_err(header_error)?);
    Ok(rows)
}

fn header_error(e: CsvError) -> FieldError {
    match e {
        CsvError::Header(f) => f,
        CsvError::NotUtf8 { line } => FieldError {
            field: "body".into(),
            message: format!("the CSV is not UTF-8 (line {line}); save it as CSV UTF-8"),
            value: None,
        },
    }
}

/// A CSV upload read incrementally. Bytes are kept only up to the last line end that is
/// outside quotes (an even number of `"` before it: CSV escapes a quote by doubling it),
/// and each such complete part is parsed at once with the header's columns.
pub struct CsvStream {
    line_offset: u64,
    /// Bytes not yet parsed (an unfinished record).
    pending: Vec<u8>,
    /// Whether `pending` ends inside a quoted cell.
    in_quotes: bool,
    /// Where in `pending` the scan for line ends resumes.
    scanned: usize,
    /// Line ends before `pending` (the header's included).
    lines_before: u64,
    header: Option<Header>,
    started: bool,
}

struct Header {
    columns: Vec<String>,
    delimiter: u8,
}

impl CsvStream {
    pub fn new(line_offset: u64) -> CsvStream {
        CsvStream {
            line_offset,
            pending: Vec::new(),
            in_quotes: false,
            scanned: 0,
            lines_before: 0,
            header: None,
            started: false,
        }
    }

    /// Feed the next bytes; the rows of the records they complete.
    pub fn push(&mut self, bytes: &[u8]) -> Result<Vec<CsvRow>, CsvError> {
        self.pending.extend_from_slice(bytes);
        if !self.started {
            if self.pending.len() < 3 && b"\xef\xbb\xbf".starts_with(&self.pending) {
                return Ok(Vec::new());
            }
            if self.pending.starts_with(b"\xef\xbb\xbf") {
                self.pending.drain(..3);
            }
            self.started = true;
        }
        let mut end = None;
        for (i, b) in self.pending.iter().enumerate().skip(self.scanned) {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => end = Some(i + 1),
                _ => {}
            }
        }
        self.scanned = self.pending.len();
        let Some(end) = end else {
            return Ok(Vec::new());
        };
        let part: Vec<u8> = self.pending.drain(..end).collect();
        self.scanned = self.pending.len();
        self.parse(&part)
    }

    /// The upload ended: the rows of a last record without a line end, and the header
    /// check when the file was only a header.
    pub fn finish(&mut self) -> Result<Vec<CsvRow>, CsvError> {
        let part = std::mem::take(&mut self.pending);
        let mut rows = if part.is_empty() {
            Vec::new()
        } else {
            self.parse(&part)?
        };
        if self.header.is_none() {
            rows.extend(self.parse(b"")?);
        }
        Ok(rows)
    }

    fn parse(&mut self, part: &[u8]) -> Result<Vec<CsvRow>, CsvError> {
        let lines_in_part = part.iter().filter(|b| **b == b'\n').count() as u64;
        let text = std::str::from_utf8(part).map_err(|e| CsvError::NotUtf8 {
            line: self.line_offset
                + self.lines_before
                + 1
                + part[..e.valid_up_to()]
                    .iter()
                    .filter(|b| **b == b'\n')
                    .count() as u64,
        })?;
        let (body, first_line) = match &self.header {
            Some(_) => (text, self.lines_before),
            None => {
                let h = read_header(text)?;
                let rest = &text[h.1..];
                let header_lines = text[..h.1].matches('\n').count() as u64;
                self.header = Some(h.0);
                (rest, self.lines_before + header_lines)
            }
        };
        self.lines_before += lines_in_part;
        let Some(header) = &self.header else {
            return Ok(Vec::new());
        };
        Ok(rows_of(header, body, first_line + self.line_offset))
    }
}

/// The header row: its columns and the delimiter, and where the data starts.
fn read_header(text: &str) -> Result<(Header, usize), CsvError> {
    let first = text.lines().next().unwrap_or("");
    let delimiter = if first.matches(';').count() > first.matches(',').count() {
        b';'
    } else {
        b','
    };
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rec = csv::StringRecord::new();
    let read = rdr.read_record(&mut rec).map_err(|e| {
        CsvError::Header(FieldError {
            field: "header".into(),
            message: format!("cannot read the header row: {e}"),
            value: None,
        })
    })?;
    let columns: Vec<String> = if read {
        rec.iter().map(canonical_field).collect()
    } else {
        Vec::new()
    };
    if !columns.iter().any(|h| h == "email" || h == "phone") {
        return Err(CsvError::Header(FieldError {
            field: "header".into(),
            message: "no email or phone column; name one `email` (or `Email Address`) or `phone`"
                .into(),
            value: Some(columns.join(",")),
        }));
    }
    let end = usize::try_from(rdr.position().byte()).unwrap_or(text.len());
    Ok((Header { columns, delimiter }, end.min(text.len())))
}

/// The rows of complete records; `lines_before` line ends precede `text` in the file.
fn rows_of(header: &Header, text: &str, lines_before: u64) -> Vec<CsvRow> {
    let headers = &header.columns;
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(header.delimiter)
        .has_headers(false)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut rows = Vec::new();
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                let line =
                    e.position().map(|p| line_at(text, p.byte())).unwrap_or(0) + lines_before;
                rows.push(CsvRow::Error {
                    line,
                    errors: vec![FieldError {
                        field: "row".into(),
                        message: e.to_string(),
                        value: None,
                    }],
                });
                continue;
            }
        };
        let line = rec.position().map(|p| line_at(text, p.byte())).unwrap_or(0) + lines_before;
        if rec.iter().all(str::is_empty) {
            continue;
        }
        if rec.len() != headers.len() {
            rows.push(CsvRow::Error {
                line,
                errors: vec![FieldError {
                    field: "row".into(),
                    message: format!(
                        "{} cells but the header has {} columns",
                        rec.len(),
                        headers.len()
                    ),
                    value: None,
                }],
            });
            continue;
        }
        let mut obj = Map::new();
        let mut fields = Map::new();
        for (h, v) in headers.iter().zip(rec.iter()) {
            if v.is_empty() {
                continue;
            }
            if h == "page_history" {
                let pages: Vec<Value> = v
                    .split(['|', ' '])
                    .filter(|p| !p.is_empty())
                    .map(|p| Value::String(p.into()))
                    .collect();
                obj.insert(h.clone(), Value::Array(pages));
            } else if is_lead_field(h) {
                obj.insert(h.clone(), Value::String(v.to_string()));
            } else {
                fields.insert(h.clone(), Value::String(v.to_string()));
            }
        }
        if !fields.is_empty() {
            obj.insert("fields".into(), Value::Object(fields));
        }
        let payload = Value::Object(obj);
        // SEC-1: a field over its limit refuses the row, naming the field and the limit.
        if let Err(errors) = crate::intake::check_limits(&payload) {
            rows.push(CsvRow::Error { line, errors });
            continue;
        }
        let (lead, issues) = Lead::from_json(&payload).unwrap_or_default();
        match validate(&lead) {
            Ok(()) => rows.push(CsvRow::Lead {
                line,
                lead: Box::new(lead),
                payload,
                issues,
            }),
            Err(errors) => rows.push(CsvRow::Error { line, errors }),
        }
    }
    rows
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(rows: &[CsvRow]) -> Vec<(u64, bool)> {
        rows.iter()
            .map(|r| match r {
                CsvRow::Lead { line, .. } => (*line, true),
                CsvRow::Error { line, .. } => (*line, false),
            })
            .collect()
    }

    #[test]
    fn excel_csv_with_bad_rows() {
        let text = "\u{feff}First Name;Last Name;Email Address;Company Name;Employees\nJane;Doe;jane@globex.com;Globex;1200\nBad;Row;not-an-email;X;5\nShort;Row\n";
        let rows = parse_csv(text, 0).unwrap();
        assert_eq!(rows.len(), 3);
        assert!(
            matches!(&rows[0], CsvRow::Lead { line: 2, lead, .. } if lead.company.as_deref() == Some("Globex"))
        );
        assert!(
            matches!(&rows[1], CsvRow::Error { line: 3, errors } if errors[0].field == "email")
        );
        assert!(matches!(&rows[2], CsvRow::Error { line: 4, .. }));
    }

    /// Fed one byte at a time (quoted line breaks, CRLF, a BOM split across chunks, no
    /// final line end), the rows and lines are those of the whole text.
    #[test]
    fn any_chunking_gives_the_same_rows() {
        let text = "\u{feff}email,company,description\r\na@x.com,\"Multi\r\nline, Co\",\"say \"\"hi\"\"\"\r\nnope,B,\r\n\r\nc@y.com,Zoë,last";
        let whole = lines(&parse_csv(text, 10).unwrap());
        assert_eq!(whole, vec![(12, true), (14, false), (16, true)]);
        for size in 1..8 {
            let mut s = CsvStream::new(10);
            let mut rows = Vec::new();
            for chunk in text.as_bytes().chunks(size) {
                rows.extend(s.push(chunk).unwrap());
            }
            rows.extend(s.finish().unwrap());
            assert_eq!(lines(&rows), whole, "chunks of {size}");
        }
    }

    #[test]
    fn a_header_without_email_or_phone_is_refused() {
        let e = parse_csv("name,company\nJane,Globex\n", 0).err().unwrap();
        assert_eq!(e.field, "header");
        assert!(parse_csv("", 0).is_err());
        let mut s = CsvStream::new(0);
        s.push(b"email\nok@x.com\n").unwrap();
        assert!(matches!(
            s.push(b"\xff\xfe@x.com\n"),
            Err(CsvError::NotUtf8 { line: 3 })
        ));
    }
}
