//! The spreadsheet side of the config: the routing matrix and the account list as CSV.
//!
//! Ops keep these in a spreadsheet; we accept what spreadsheets export: a UTF-8 BOM,
//! `;` as the separator (Excel in many locales), `|` or `;`-inside-quotes between several
//! values in one cell, blank cells meaning "any". Errors carry file:line.

use super::error::{ConfigError, SourceText};

/// A matrix row before normalisation; the same shape comes from TOML `[[rule]]` tables.
#[derive(Debug, Clone, Default)]
pub struct RuleSpec {
    pub id: String,
    pub priority: Option<i32>,
    /// Raw values per dimension (order of `Dim::ALL`).
    pub conds: [Vec<String>; 9],
    pub route_to: String,
    pub note: Option<String>,
    pub overrides_territory: bool,
    pub file: String,
    pub line: usize,
    pub route_line: usize,
}

#[derive(Debug, Clone, Default)]
pub struct AccountSpec {
    pub domain: String,
    pub name: Option<String>,
    pub owner: Option<String>,
    pub named: bool,
    pub aliases: Vec<String>,
    pub file: String,
    pub line: usize,
}

pub const MATRIX_COLUMNS: [&str; 14] = [
    "id",
    "priority",
    "segment",
    "industry",
    "region",
    "country",
    "state",
    "postal_code",
    "product",
    "lead_source",
    "tier",
    "route_to",
    "note",
    "overrides_territory",
];

pub const ACCOUNT_COLUMNS: [&str; 5] = ["domain", "name", "owner", "named", "aliases"];

/// Split a cell holding several values: "a|b", "a; b" → ["a", "b"]. "*" means any.
pub fn split_cell(cell: &str) -> Vec<String> {
    let cell = cell.trim();
    if cell.is_empty() || cell == "*" {
        return Vec::new();
    }
    cell.split(['|', ';'])
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

fn sniff_delimiter(text: &str) -> u8 {
    let header = text.lines().next().unwrap_or("");
    if header.matches(';').count() > header.matches(',').count() {
        b';'
    } else {
        b','
    }
}

struct Table {
    columns: Vec<String>,
    rows: Vec<(usize, Vec<String>)>,
}

fn read_table(
    src: &SourceText,
    required: &[&str],
    known: &[&str],
) -> Result<Table, Vec<ConfigError>> {
    let err = |line: Option<usize>,
               field: &str,
               value: Option<&str>,
               msg: String,
               fix: Option<String>| {
        ConfigError {
            file: src.path.clone(),
            line,
            field: field.to_string(),
            value: value.map(str::to_string),
            message: msg,
            fix,
        }
    };
    let text = src.text.strip_prefix('\u{feff}').unwrap_or(&src.text);
    let mut rdr = csv::ReaderBuilder::new()
        .delimiter(sniff_delimiter(text))
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut errors = Vec::new();
    let columns: Vec<String> = match rdr.headers() {
        Ok(h) => h.iter().map(crate::normalize::token).collect(),
        Err(e) => return Err(vec![err(Some(1), "header", None, e.to_string(), None)]),
    };
    for c in required {
        if !columns.iter().any(|x| x == c) {
            errors.push(err(
                Some(1),
                "header",
                None,
                format!("missing column `{c}`"),
                Some(format!(
                    "the header row must name the columns: {}",
                    known.join(",")
                )),
            ));
        }
    }
    for c in &columns {
        if !known.contains(&c.as_str()) {
            errors.push(err(
                Some(1),
                "header",
                Some(c),
                "unknown column".into(),
                Some(format!("known columns: {}", known.join(","))),
            ));
        }
    }
    let mut rows = Vec::new();
    let mut lines = LineCounter::new(text);
    for rec in rdr.records() {
        match rec {
            Ok(r) => {
                let line = r.position().map(|p| lines.at(p.byte())).unwrap_or(0);
                if r.iter().all(|c| c.is_empty()) {
                    continue;
                }
                if r.len() > columns.len() {
                    errors.push(err(
                        Some(line),
                        "row",
                        None,
                        format!(
                            "{} cells but the header has {} columns",
                            r.len(),
                            columns.len()
                        ),
                        Some("quote cells that contain the separator".into()),
                    ));
                    continue;
                }
                rows.push((line, r.iter().map(str::to_string).collect()));
            }
            Err(e) => {
                let line = e.position().map(|p| lines.at(p.byte()));
                errors.push(err(line, "row", None, e.to_string(), None));
            }
        }
    }
    if errors.is_empty() {
        Ok(Table { columns, rows })
    } else {
        Err(errors)
    }
}

/// Line numbers from byte offsets, counting `\n`s: the CSV reader's own count is off by
/// one per CRLF line end (Excel's default), which it reads as two terminators. Offsets
/// come in increasing order, so each byte is scanned once.
pub struct LineCounter<'a> {
    text: &'a [u8],
    byte: usize,
    line: usize,
}

impl<'a> LineCounter<'a> {
    pub fn new(text: &'a str) -> Self {
        LineCounter {
            text: text.as_bytes(),
            byte: 0,
            line: 1,
        }
    }

    /// The 1-based line of byte offset `at`.
    pub fn at(&mut self, at: u64) -> usize {
        let mut at = (at as usize).min(self.text.len());
        // A record's position can be the start of the blank lines before it.
        while at < self.text.len() && matches!(self.text[at], b'\r' | b'\n') {
            at += 1;
        }
        if at < self.byte {
            // Out of order (not expected): count from the start.
            (self.byte, self.line) = (0, 1);
        }
        self.line += self.text[self.byte..at]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        self.byte = at;
        self.line
    }
}

impl Table {
    fn get<'a>(&self, row: &'a [String], col: &str) -> Option<&'a str> {
        let i = self.columns.iter().position(|c| c == col)?;
        row.get(i).map(String::as_str).filter(|s| !s.is_empty())
    }
}

/// A spreadsheet's yes/no cell: true/yes/y/1/x or false/no/n/0, any case.
fn yes_no(v: &str) -> Option<bool> {
    let v = v.trim().to_ascii_lowercase();
    if ["true", "yes", "y", "1", "x"].contains(&v.as_str()) {
        Some(true)
    } else if ["false", "no", "n", "0"].contains(&v.as_str()) {
        Some(false)
    } else {
        None
    }
}

/// Parse a matrix CSV.
pub fn read_matrix(src: &SourceText) -> Result<Vec<RuleSpec>, Vec<ConfigError>> {
    let table = read_table(src, &["id", "route_to"], &MATRIX_COLUMNS)?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (line, row) in &table.rows {
        let mut spec = RuleSpec {
            file: src.path.clone(),
            line: *line,
            route_line: *line,
            ..Default::default()
        };
        spec.id = table.get(row, "id").unwrap_or("").to_string();
        if spec.id.is_empty() {
            errors.push(ConfigError {
                file: src.path.clone(),
                line: Some(*line),
                field: "id".into(),
                value: None,
                message: "empty rule id".into(),
                fix: Some("give every row a unique id".into()),
            });
        }
        if let Some(p) = table.get(row, "priority") {
            match p.parse() {
                Ok(v) => spec.priority = Some(v),
                Err(_) => errors.push(ConfigError {
                    file: src.path.clone(),
                    line: Some(*line),
                    field: "priority".into(),
                    value: Some(p.into()),
                    message: "not an integer".into(),
                    fix: Some("use a whole number such as 10; higher wins".into()),
                }),
            }
        }
        for (i, d) in crate::config::Dim::ALL.iter().enumerate() {
            if let Some(v) = table.get(row, d.name()) {
                spec.conds[i] = split_cell(v);
            }
        }
        spec.route_to = table.get(row, "route_to").unwrap_or("").to_string();
        spec.note = table.get(row, "note").map(str::to_string);
        if let Some(v) = table.get(row, "overrides_territory") {
            match yes_no(v) {
                Some(b) => spec.overrides_territory = b,
                None => errors.push(ConfigError {
                    file: src.path.clone(),
                    line: Some(*line),
                    field: "overrides_territory".into(),
                    value: Some(v.into()),
                    message: "not a yes/no value".into(),
                    fix: Some("use yes when this segment rule is meant to win over the territory rules it outranks, else leave it empty".into()),
                }),
            }
        }
        out.push(spec);
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// Parse an account-list CSV (ACC-2 import).
pub fn read_accounts(src: &SourceText) -> Result<Vec<AccountSpec>, Vec<ConfigError>> {
    let table = read_table(src, &["domain"], &ACCOUNT_COLUMNS)?;
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (line, row) in &table.rows {
        let named = match table.get(row, "named").map(|v| (v, yes_no(v))) {
            None => false,
            Some((_, Some(b))) => b,
            Some((v, None)) => {
                errors.push(ConfigError {
                    file: src.path.clone(),
                    line: Some(*line),
                    field: "named".into(),
                    value: Some(v.into()),
                    message: "not a yes/no value".into(),
                    fix: Some("use true or false".into()),
                });
                false
            }
        };
        out.push(AccountSpec {
            domain: table.get(row, "domain").unwrap_or("").to_string(),
            name: table.get(row, "name").map(str::to_string),
            owner: table.get(row, "owner").map(str::to_string),
            named,
            aliases: table
                .get(row, "aliases")
                .map(split_cell)
                .unwrap_or_default(),
            file: src.path.clone(),
            line: *line,
        });
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excel_export_with_bom_and_semicolons() {
        let src = SourceText::new(
            "m.csv",
            "\u{feff}id;priority;segment;region;route_to\nr1;10;enterprise|mid_market;EMEA;team:emea\n",
        );
        let rows = read_matrix(&src).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].conds[0], vec!["enterprise", "mid_market"]);
        assert_eq!(rows[0].conds[2], vec!["EMEA"]);
        assert_eq!(rows[0].line, 2);
    }

    #[test]
    fn crlf_line_ends_name_the_same_lines_as_lf() {
        for (end, bom) in [("\n", ""), ("\r\n", ""), ("\r\n", "\u{feff}")] {
            let text = format!(
                "{bom}id,priority,route_to{end}r1,1,team:x{end}{end}r2,2,team:x{end}\"r3\",\"3\",\"team:x\"{end}"
            );
            let rows = read_matrix(&SourceText::new("m.csv", text)).unwrap();
            let lines: Vec<usize> = rows.iter().map(|r| r.line).collect();
            assert_eq!(lines, vec![2, 4, 5], "{end:?}");
            let bad = format!("id,priority,route_to{end}r1,1,team:x{end}r2,high,team:x{end}");
            let errs = read_matrix(&SourceText::new("m.csv", bad)).unwrap_err();
            assert_eq!(errs[0].line, Some(3), "{end:?}");
        }
    }

    #[test]
    fn bad_rows_name_the_line() {
        let src = SourceText::new("m.csv", "id,priority,route_to\nr1,high,team:x\n");
        let errs = read_matrix(&src).unwrap_err();
        assert_eq!(errs[0].line, Some(2));
        assert_eq!(errs[0].field, "priority");
        let src = SourceText::new("m.csv", "id,colour,route_to\n");
        let errs = read_matrix(&src).unwrap_err();
        assert!(errs[0].message.contains("unknown column"));
    }
}
