//! The local firmographic file provider: a CSV or JSONL export from a data vendor
//! (domain, name, employees or size range, industry, country, state, city, revenue,
//! tech stack, funding, LinkedIn), loaded and indexed at start and on `reload_files`.
//!
//! Rows are indexed by registrable domain (so "`https://www.globex.com/`" and
//! "globex.com" are the same company) and by company-name key. The name index is used
//! only for leads without a corporate email domain (a gmail address with a company
//! field), and a name that matches several companies is reported as ambiguous rather
//! than guessed (ENR-5). A lookup is two hash-map probes; reload swaps the whole index
//! atomically, so lookups never wait.

use crate::config::{FileConfig, FileFormat};
use crate::record::{Field, Firmographics};
use crate::stats::FileStats;
use arc_swap::ArcSwap;
use leadrouter_core::normalize::company_key;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;

/// Most problems kept for the stats; the rest are only counted.
const MAX_ISSUES: usize = 10;

/// Column names (CSV headers or JSONL keys, folded to lower snake case) recognised for
/// each field, in priority order: an `employees` count beats a `size_range` band.
const ALIASES: &[(Field, &[&str])] = &[
    (
        Field::Domain,
        &["domain", "company_domain", "website", "website_url", "url"],
    ),
    (
        Field::Company,
        &["name", "company", "company_name", "organization"],
    ),
    (
        Field::Employees,
        &[
            "employees",
            "employee_count",
            "num_employees",
            "headcount",
            "size_range",
            "employee_range",
            "company_size",
            "size",
        ],
    ),
    (Field::Industry, &["industry", "sector"]),
    (Field::Country, &["country", "country_code", "hq_country"]),
    (
        Field::State,
        &["state", "state_code", "province", "region", "hq_state"],
    ),
    (Field::Revenue, &["revenue", "annual_revenue"]),
    (
        Field::TechStack,
        &["tech_stack", "technologies", "tech", "technology"],
    ),
    (
        Field::Funding,
        &["funding", "total_funding", "funding_total", "raised"],
    ),
    (
        Field::Linkedin,
        &["linkedin", "linkedin_url", "linkedin_handle"],
    ),
];

/// Fold a header to the form the aliases use: "Company Size" -> "company_size".
fn fold_header(h: &str) -> String {
    leadrouter_core::normalize::token(h)
}

#[derive(Default)]
struct FileIndex {
    by_domain: HashMap<String, Arc<Firmographics>>,
    by_name: HashMap<String, NameEntry>,
    stats: FileStats,
}

enum NameEntry {
    One(Arc<Firmographics>),
    /// Several distinct companies share this name key.
    Ambiguous(usize),
}

/// The answer of a file lookup.
pub enum FileAnswer {
    Found(Arc<Firmographics>),
    NotFound,
    Ambiguous(usize),
}

pub struct FileProvider {
    config: FileConfig,
    index: ArcSwap<FileIndex>,
}

impl FileProvider {
    pub fn load(config: FileConfig) -> Result<FileProvider, String> {
        let index = build(&config)?;
        Ok(FileProvider {
            config,
            index: ArcSwap::from_pointee(index),
        })
    }

    /// Re-read the file; on error the previous index stays in use.
    pub fn reload(&self) -> Result<(), String> {
        let index = build(&self.config)?;
        self.index.store(Arc::new(index));
        Ok(())
    }

    pub fn by_domain(&self, domain: &str) -> FileAnswer {
        match self.index.load().by_domain.get(domain) {
            Some(r) => FileAnswer::Found(r.clone()),
            None => FileAnswer::NotFound,
        }
    }

    pub fn by_company(&self, company: &str) -> FileAnswer {
        let key = company_key(company);
        if key.is_empty() {
            return FileAnswer::NotFound;
        }
        match self.index.load().by_name.get(&key) {
            Some(NameEntry::One(r)) => FileAnswer::Found(r.clone()),
            Some(NameEntry::Ambiguous(n)) => FileAnswer::Ambiguous(*n),
            None => FileAnswer::NotFound,
        }
    }

    pub fn file_stats(&self) -> FileStats {
        self.index.load().stats.clone()
    }
}

fn build(config: &FileConfig) -> Result<FileIndex, String> {
    let path = &config.path;
    let text = std::fs::read_to_string(path).map_err(|e| {
        format!(
            "{}: cannot read the firmographic file ({e}); check the provider's path",
            path.display()
        )
    })?;
    let mut index = FileIndex {
        stats: FileStats {
            path: path.display().to_string(),
            loaded_at: jiff::Timestamp::now().to_string(),
            ..Default::default()
        },
        ..Default::default()
    };
    let mut rows = Vec::new();
    match config.format {
        FileFormat::Csv => read_csv(config, &text, &mut rows, &mut index.stats)?,
        FileFormat::Jsonl => read_jsonl(config, &text, &mut rows, &mut index.stats),
    }
    if rows.is_empty() && index.stats.skipped > 0 {
        return Err(format!(
            "{}: none of its {} rows could be used; first problem: {}",
            path.display(),
            index.stats.skipped,
            index
                .stats
                .issues
                .first()
                .map(String::as_str)
                .unwrap_or("-")
        ));
    }
    for (line, r) in rows {
        let r = Arc::new(r);
        if let Some(d) = &r.domain {
            if index.by_domain.contains_key(d) {
                index.stats.duplicate_domains += 1;
                issue(
                    &mut index.stats,
                    format!(
                        "line {line}: domain {d} already given by an earlier row; this row is ignored"
                    ),
                );
                continue;
            }
            index.by_domain.insert(d.clone(), r.clone());
        }
        if let Some(name) = &r.company {
            let key = company_key(name);
            if !key.is_empty() {
                use std::collections::hash_map::Entry;
                match index.by_name.entry(key) {
                    Entry::Vacant(v) => {
                        v.insert(NameEntry::One(r.clone()));
                    }
                    Entry::Occupied(mut o) => {
                        let n = match o.get() {
                            // The same company listed twice without a domain.
                            NameEntry::One(prev) if prev.domain == r.domain => None,
                            NameEntry::One(_) => Some(2),
                            NameEntry::Ambiguous(n) => Some(n + 1),
                        };
                        if let Some(n) = n {
                            o.insert(NameEntry::Ambiguous(n));
                        }
                    }
                }
            }
        }
        index.stats.rows += 1;
    }
    Ok(index)
}

/// A value the file gives for a field that cannot be used (a domain column holding
/// `https:`, an employee count of `lots`): counted and reported with its line, so a
/// broken export is seen when it is loaded, not when leads route without its data.
fn unusable(stats: &mut FileStats, line: u64, field: Field, value: &str) {
    stats.unusable_values += 1;
    let value: String = value.chars().take(60).collect();
    let what = match field {
        Field::Domain => "not a domain (write the company's domain or website, e.g. globex.com)",
        Field::Employees => "not a number of employees or a size range such as 201-500",
        Field::Revenue => "not an amount such as 120000000 or $120M",
        _ => "not usable",
    };
    issue(
        stats,
        format!(
            "line {line}: {} `{value}` is {what}; the value is ignored",
            field.name()
        ),
    );
}

fn issue(stats: &mut FileStats, msg: String) {
    if stats.issues.len() < MAX_ISSUES {
        stats.issues.push(msg);
    }
}

/// Which column feeds each field: the configured override, else the first alias present.
fn columns_for(config: &FileConfig, headers: &[String]) -> Vec<(Field, Vec<usize>)> {
    let folded: Vec<String> = headers.iter().map(|h| fold_header(h)).collect();
    let mut out = Vec::new();
    for (field, aliases) in ALIASES {
        let cols: Vec<usize> = match config.fields.iter().find(|(f, _)| f == field) {
            Some((_, col)) => headers
                .iter()
                .position(|h| h.trim() == col.trim())
                .or_else(|| folded.iter().position(|h| *h == fold_header(col)))
                .into_iter()
                .collect(),
            None => aliases
                .iter()
                .filter_map(|a| folded.iter().position(|h| h == a))
                .collect(),
        };
        if !cols.is_empty() {
            out.push((*field, cols));
        }
    }
    out
}

fn read_csv(
    config: &FileConfig,
    text: &str,
    rows: &mut Vec<(u64, Firmographics)>,
    stats: &mut FileStats,
) -> Result<(), String> {
    let text = text.trim_start_matches('\u{feff}');
    let mut rdr = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = rdr
        .headers()
        .map_err(|e| {
            format!(
                "{}: cannot read the CSV header ({e})",
                config.path.display()
            )
        })?
        .iter()
        .map(str::to_string)
        .collect();
    let cols = columns_for(config, &headers);
    let has = |f: Field| cols.iter().any(|(g, _)| *g == f);
    if !has(Field::Domain) && !has(Field::Company) {
        return Err(format!(
            "{}: the header ({}) has no domain or name column; name one \"domain\" (or map it with fields.domain = \"Your Column\")",
            config.path.display(),
            headers.join(",")
        ));
    }
    let mut lines = leadrouter_core::config::tables::LineCounter::new(text);
    for rec in rdr.records() {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                stats.skipped += 1;
                issue(stats, format!("unreadable CSV record ({e})"));
                continue;
            }
        };
        let line = rec.position().map(|p| lines.at(p.byte())).unwrap_or(0) as u64;
        let mut r = Firmographics::default();
        for (field, idxs) in &cols {
            // The first cell given for the field that could not be used, unless a later
            // column gave a usable one.
            let mut bad = None;
            for &i in idxs {
                if let Some(cell) = rec.get(i).filter(|c| !c.is_empty()) {
                    r.set_text(*field, cell);
                    if r.has(*field) {
                        bad = None;
                        break;
                    }
                    bad.get_or_insert(cell);
                }
            }
            if let Some(v) = bad {
                unusable(stats, line, *field, v);
            }
        }
        accept(line, r, rows, stats);
    }
    Ok(())
}

fn accept(
    line: u64,
    r: Firmographics,
    rows: &mut Vec<(u64, Firmographics)>,
    stats: &mut FileStats,
) {
    if r.domain.is_none() && r.company.is_none() {
        stats.skipped += 1;
        issue(
            stats,
            format!("line {line}: no usable domain or company name; row skipped"),
        );
    } else {
        rows.push((line, r));
    }
}

fn read_jsonl(
    config: &FileConfig,
    text: &str,
    rows: &mut Vec<(u64, Firmographics)>,
    stats: &mut FileStats,
) {
    for (i, line) in text.lines().enumerate() {
        let n = i as u64 + 1;
        let line = line.trim().trim_start_matches('\u{feff}');
        if line.is_empty() {
            continue;
        }
        let obj = match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(o)) => o,
            Ok(_) => {
                stats.skipped += 1;
                issue(stats, format!("line {n}: not a JSON object; row skipped"));
                continue;
            }
            Err(e) => {
                stats.skipped += 1;
                issue(
                    stats,
                    format!(
                        "line {n}: malformed JSON at column {} ({e}); row skipped",
                        e.column()
                    ),
                );
                continue;
            }
        };
        let folded: HashMap<String, &Value> =
            obj.iter().map(|(k, v)| (fold_header(k), v)).collect();
        let whole = Value::Object(obj.clone());
        let mut r = Firmographics::default();
        for (field, aliases) in ALIASES {
            let candidates: Vec<&Value> = match config.fields.iter().find(|(f, _)| f == field) {
                Some((_, p)) if p.starts_with('/') => whole.pointer(p).into_iter().collect(),
                Some((_, k)) => obj
                    .get(k)
                    .or_else(|| folded.get(&fold_header(k)).copied())
                    .into_iter()
                    .collect(),
                None => aliases
                    .iter()
                    .filter_map(|a| folded.get(*a).copied())
                    .collect(),
            };
            let mut bad = None;
            for v in candidates {
                r.set_json(*field, v);
                if r.has(*field) {
                    bad = None;
                    break;
                }
                if !v.is_null() && v.as_str().is_none_or(|s| !s.trim().is_empty()) {
                    bad.get_or_insert(v);
                }
            }
            if let Some(v) = bad {
                let shown = v
                    .as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string());
                unusable(stats, n, *field, &shown);
            }
        }
        accept(n, r, rows, stats);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn write(name: &str, body: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lr-enrich-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, body).unwrap();
        p
    }

    fn cfg(path: PathBuf, format: FileFormat) -> FileConfig {
        FileConfig {
            path,
            format,
            fields: Vec::new(),
        }
    }

    #[test]
    fn unusable_values_are_reported_with_their_crlf_lines() {
        let p = write(
            "unusable.csv",
            "domain,name,employees\r\nglobex.com,Globex,500\r\nhttps:,Initech,lots\r\n\r\nacme.io,Acme,20\r\n",
        );
        let f = FileProvider::load(cfg(p, FileFormat::Csv)).unwrap();
        let st = f.file_stats();
        assert_eq!(st.unusable_values, 2, "{:?}", st.issues);
        assert!(
            st.issues[0].starts_with("line 3: domain `https:` is not a domain"),
            "{:?}",
            st.issues
        );
        assert!(
            st.issues[1].starts_with("line 3: employees `lots`"),
            "{:?}",
            st.issues
        );
        // The row is kept by its name, without the unusable values.
        assert_eq!(st.rows, 3);
        let FileAnswer::Found(a) = f.by_domain("acme.io") else {
            panic!("acme")
        };
        assert_eq!(a.employees, Some(20));
    }

    #[test]
    fn csv_with_size_ranges_duplicates_and_bad_rows() {
        let p = write(
            "firmo.csv",
            "\u{feff}Domain,Name,Size Range,Industry,Country,State,City,Revenue,Tech Stack,Funding,LinkedIn\n\
             https://www.globex.com/,Globex Corporation,201-500,Manufacturing,US,CA,Cypress,$120M,Salesforce;Snowflake,Series C,linkedin.com/company/globex\n\
             initech.co.uk,Initech,1001-5000,Software,United Kingdom,,London,,,,\n\
             ,,,,,,,,,,\n\
             globex.com,Globex Duplicate,10,Retail,,,,,,,\n\
             acme.io,Acme,11-50,Software,,,,,,,\n\
             acme-corp.com,ACME Inc.,51-200,Retail,,,,,,,\n",
        );
        let f = FileProvider::load(cfg(p, FileFormat::Csv)).unwrap();
        let FileAnswer::Found(g) = f.by_domain("globex.com") else {
            panic!("globex not found")
        };
        assert_eq!(g.company.as_deref(), Some("Globex Corporation"));
        assert_eq!(g.employees, Some(201), "size band -> lower bound");
        assert_eq!(g.revenue, Some(120_000_000.0));
        assert_eq!(g.tech_stack, vec!["Salesforce", "Snowflake"]);
        assert_eq!(g.state.as_deref(), Some("CA"));
        let FileAnswer::Found(i) = f.by_domain("initech.co.uk") else {
            panic!()
        };
        assert_eq!(i.employees, Some(1001));
        assert_eq!(i.country.as_deref(), Some("United Kingdom"));
        assert!(matches!(f.by_domain("nowhere.com"), FileAnswer::NotFound));
        assert!(matches!(f.by_company("Globex Corp"), FileAnswer::Found(_)));
        assert!(matches!(f.by_company("Acme"), FileAnswer::Ambiguous(2)));
        let s = f.file_stats();
        assert_eq!((s.rows, s.skipped, s.duplicate_domains), (4, 1, 1), "{s:?}");
        assert!(s.issues.iter().any(|i| i.contains("line 4")), "{s:?}");
    }

    #[test]
    fn jsonl_with_keys_pointers_and_malformed_lines() {
        let p = write(
            "firmo.jsonl",
            r#"{"domain":"globex.com","name":"Globex","employees":"1,200","industry":"Manufacturing","tech_stack":["AWS","Okta"],"revenue":5000000}
{"domain": "broken.com", "name": 
{"website":"initech.de","company_name":"Initech GmbH","size_range":"51-200","hq":{"country":"DE"}}
[1,2]
"#,
        );
        let mut c = cfg(p, FileFormat::Jsonl);
        c.fields.push((Field::Country, "/hq/country".into()));
        let f = FileProvider::load(c).unwrap();
        let FileAnswer::Found(g) = f.by_domain("globex.com") else {
            panic!()
        };
        assert_eq!(g.employees, Some(1200));
        assert_eq!(g.tech_stack, vec!["AWS", "Okta"]);
        assert_eq!(g.revenue, Some(5e6));
        let FileAnswer::Found(i) = f.by_domain("initech.de") else {
            panic!()
        };
        assert_eq!(i.employees, Some(51));
        assert_eq!(i.country.as_deref(), Some("DE"));
        let s = f.file_stats();
        assert_eq!((s.rows, s.skipped), (2, 2), "{s:?}");
        assert!(s.issues[0].starts_with("line 2: malformed JSON"), "{s:?}");
    }

    #[test]
    fn unusable_files_are_errors() {
        let p = write("nocols.csv", "foo,bar\n1,2\n");
        let e = FileProvider::load(cfg(p, FileFormat::Csv)).err().unwrap();
        assert!(e.contains("no domain or name column"), "{e}");
        let e = FileProvider::load(cfg(PathBuf::from("/nonexistent/x.csv"), FileFormat::Csv))
            .err()
            .unwrap();
        assert!(e.contains("cannot read the firmographic file"), "{e}");
        let p = write("allbad.jsonl", "nope\nstill nope\n");
        let e = FileProvider::load(cfg(p, FileFormat::Jsonl)).err().unwrap();
        assert!(e.contains("none of its 2 rows"), "{e}");
    }

    #[test]
    fn reload_swaps_and_keeps_old_index_on_error() {
        let p = write("reload.csv", "domain,name\nglobex.com,Globex\n");
        let f = FileProvider::load(cfg(p.clone(), FileFormat::Csv)).unwrap();
        std::fs::write(&p, "domain,name\ninitech.com,Initech\n").unwrap();
        f.reload().unwrap();
        assert!(matches!(f.by_domain("initech.com"), FileAnswer::Found(_)));
        assert!(matches!(f.by_domain("globex.com"), FileAnswer::NotFound));
        std::fs::write(&p, "foo\n1\n").unwrap();
        assert!(f.reload().is_err());
        assert!(matches!(f.by_domain("initech.com"), FileAnswer::Found(_)));
    }
}
