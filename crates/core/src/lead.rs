//! The lead as submitted, and its enrichment.
//!
//! Field names follow Salesforce Web-to-Lead where one exists. Every field may be missing
//! or malformed: [`Lead::from_json`] accepts any JSON object, keeps what it can read and
//! reports the rest as [`FieldIssue`]s instead of failing, because an unreadable
//! `employees` must not stop a demo request from reaching a rep.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Longest value, in characters, of a custom field (and of an unknown top-level key,
/// which becomes one). Leads whose fields are longer than their limit ([`field_limit`])
/// are refused at intake ([`check_limits`]); stored leads read back are cut instead.
pub const MAX_FIELD_LEN: usize = 1024;
/// Most page-history entries.
pub const MAX_PAGES: usize = 200;
/// Longest page-history entry, in characters.
pub const MAX_PAGE_LEN: usize = 2048;
/// Most custom fields on one lead, and the longest custom field name.
pub const MAX_CUSTOM_FIELDS: usize = 100;
pub const MAX_FIELD_NAME_LEN: usize = 100;

/// The longest value, in characters, intake accepts for a lead field (docs/api.md
/// "Field limits"). Salesforce's own limits where they are larger than a person needs
/// would allow abuse (a 32,000-character name in a rep's email); these fit real input.
pub fn field_limit(field: &str) -> usize {
    match field {
        "first_name" | "last_name" => 100,
        "email" => 254,
        "company" | "title" => 255,
        "phone" | "employees" => 40,
        "zip" => 20,
        "country" | "state" | "lead_source" | "action" | "industry" | "product" => 100,
        "description" => 32_000,
        "page_history" | "page_history[]" => MAX_PAGE_LEN,
        _ => MAX_FIELD_LEN,
    }
}

/// Every lead field of an intake payload over its limit (SEC-1): text fields, custom
/// fields (names, values, how many), page history. Values that are not text count by
/// their JSON length, since the payload is stored as sent. Empty when within limits.
pub fn check_limits(value: &Value) -> Vec<FieldIssue> {
    let Some(obj) = value.as_object() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let over = |field: &str, v: &Value, limit: usize, out: &mut Vec<FieldIssue>| {
        let n = match v {
            Value::String(s) => s.chars().count(),
            other => other.to_string().chars().count(),
        };
        if n > limit {
            out.push(FieldIssue::new(
                field,
                format!("too long: {n} characters, the limit is {limit}"),
            ));
        }
    };
    let mut custom = 0usize;
    let mut custom_name = |name: &str, out: &mut Vec<FieldIssue>| {
        custom += 1;
        if name.chars().count() > MAX_FIELD_NAME_LEN {
            let shown: String = name.chars().take(40).collect();
            out.push(FieldIssue::new(
                format!("fields.{shown}…"),
                format!("field name too long: the limit is {MAX_FIELD_NAME_LEN} characters"),
            ));
            false
        } else {
            true
        }
    };
    for (key, v) in obj {
        let key = key.as_str();
        if TEXT_FIELDS.contains(&key) {
            over(key, v, field_limit(key), &mut out);
        } else if key == "page_history" {
            match v {
                Value::Array(items) => {
                    if items.len() > MAX_PAGES {
                        out.push(FieldIssue::new(
                            "page_history",
                            format!("{} entries, the limit is {MAX_PAGES}", items.len()),
                        ));
                    }
                    for item in items.iter().take(MAX_PAGES) {
                        over("page_history[]", item, MAX_PAGE_LEN, &mut out);
                    }
                }
                other => over("page_history", other, MAX_PAGE_LEN, &mut out),
            }
        } else if key == "fields" {
            match v {
                Value::Object(m) => {
                    for (k, v) in m {
                        if custom_name(k, &mut out) {
                            over(&format!("fields.{k}"), v, MAX_FIELD_LEN, &mut out);
                        }
                    }
                }
                other => over("fields", other, MAX_FIELD_LEN, &mut out),
            }
        } else if custom_name(key, &mut out) {
            over(key, v, MAX_FIELD_LEN, &mut out);
        }
    }
    if custom > MAX_CUSTOM_FIELDS {
        out.push(FieldIssue::new(
            "fields",
            format!("{custom} custom fields, the limit is {MAX_CUSTOM_FIELDS}"),
        ));
    }
    out.truncate(20);
    out
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Lead {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lead_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Employee count as given: "250", "1,200", "200-500", "1000+".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employees: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub page_history: Vec<String>,
    /// Custom fields, kept as text.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub fields: BTreeMap<String, String>,
}

/// A field the engine could not use, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldIssue {
    pub field: String,
    pub problem: String,
}

impl FieldIssue {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldIssue {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

const TEXT_FIELDS: &[&str] = &[
    "first_name",
    "last_name",
    "email",
    "company",
    "title",
    "phone",
    "country",
    "state",
    "zip",
    "lead_source",
    "action",
    "employees",
    "industry",
    "product",
    "description",
];

impl Lead {
    /// Read a lead from any JSON value, keeping every usable field. Fails only when the
    /// value is not a JSON object at all.
    pub fn from_json(value: &Value) -> Result<(Lead, Vec<FieldIssue>), FieldIssue> {
        let obj = value
            .as_object()
            .ok_or_else(|| FieldIssue::new("(lead)", "expected a JSON object"))?;
        let mut lead = Lead::default();
        let mut issues = Vec::new();
        for (key, v) in obj {
            let key = key.as_str();
            if TEXT_FIELDS.contains(&key) {
                if let Some(text) = scalar_text(key, v, &mut issues) {
                    lead.set_text(key, text);
                }
            } else if key == "page_history" {
                match v {
                    Value::Array(items) => {
                        for item in items.iter().take(MAX_PAGES) {
                            if let Some(t) = scalar_text("page_history[]", item, &mut issues) {
                                lead.page_history.push(t);
                            }
                        }
                        if items.len() > MAX_PAGES {
                            issues.push(FieldIssue::new(
                                "page_history",
                                format!("{} entries, kept the first {MAX_PAGES}", items.len()),
                            ));
                        }
                    }
                    Value::Null => {}
                    other => {
                        if let Some(t) = scalar_text("page_history", other, &mut issues) {
                            lead.page_history.push(t);
                        }
                    }
                }
            } else if key == "fields" {
                match v {
                    Value::Object(m) => lead.merge_custom(m, &mut issues),
                    Value::Null => {}
                    _ => issues.push(FieldIssue::new("fields", "expected an object; ignored")),
                }
            } else if let Some(t) = scalar_text(key, v, &mut issues) {
                // Unknown top-level keys are kept as custom fields rather than dropped.
                lead.fields.insert(key.to_string(), t);
            }
        }
        lead.unwrap_name_addr();
        Ok((lead, issues))
    }

    /// An email written as `Name <address>` (RFC 5322 name-addr): the address becomes the
    /// email, and the name fills first and last name when the lead gives neither, else it
    /// is kept as the custom field `email_name`.
    fn unwrap_name_addr(&mut self) {
        let Some((name, addr)) = self
            .email
            .as_deref()
            .and_then(crate::domains::split_name_addr)
            .map(|(n, a)| (n, a.to_string()))
        else {
            return;
        };
        self.email = Some(addr);
        let Some(name) = name else { return };
        if self.first_name.is_some() || self.last_name.is_some() {
            self.fields.insert("email_name".into(), name);
            return;
        }
        let (first, last) = split_person_name(&name);
        self.first_name = first;
        self.last_name = last;
    }

    fn merge_custom(&mut self, m: &Map<String, Value>, issues: &mut Vec<FieldIssue>) {
        for (k, v) in m {
            if let Some(t) = scalar_text(&format!("fields.{k}"), v, issues) {
                self.fields.insert(k.clone(), t);
            }
        }
    }

    pub fn set_text(&mut self, key: &str, text: String) {
        let slot = match key {
            "first_name" => &mut self.first_name,
            "last_name" => &mut self.last_name,
            "email" => &mut self.email,
            "company" => &mut self.company,
            "title" => &mut self.title,
            "phone" => &mut self.phone,
            "country" => &mut self.country,
            "state" => &mut self.state,
            "zip" => &mut self.zip,
            "lead_source" => &mut self.lead_source,
            "action" => &mut self.action,
            "employees" => &mut self.employees,
            "industry" => &mut self.industry,
            "product" => &mut self.product,
            "description" => &mut self.description,
            _ => {
                self.fields.insert(key.to_string(), text);
                return;
            }
        };
        *slot = Some(text);
    }

    /// Full name for display, "(no name)" when both parts are missing.
    pub fn display_name(&self) -> String {
        match (self.first_name.as_deref(), self.last_name.as_deref()) {
            (Some(f), Some(l)) => format!("{f} {l}"),
            (Some(f), None) => f.to_string(),
            (None, Some(l)) => l.to_string(),
            (None, None) => "(no name)".to_string(),
        }
    }
}

/// First and last name from one display name: "Doe, Jane" → (Jane, Doe), "Jane van Doe"
/// → (Jane van, Doe)… the last word is the last name; one word is a first name.
fn split_person_name(name: &str) -> (Option<String>, Option<String>) {
    let some = |s: &str| {
        let s = s.trim();
        (!s.is_empty()).then(|| s.to_string())
    };
    if let Some((last, first)) = name.split_once(',') {
        return (some(first), some(last));
    }
    match name.trim().rsplit_once(char::is_whitespace) {
        Some((first, last)) => (some(first), some(last)),
        None => (some(name), None),
    }
}

/// A scalar as trimmed text; empty strings count as missing. Arrays and objects are issues.
fn scalar_text(field: &str, v: &Value, issues: &mut Vec<FieldIssue>) -> Option<String> {
    let s = match v {
        Value::Null => return None,
        Value::String(s) => s.trim().to_string(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Array(_) | Value::Object(_) => {
            issues.push(FieldIssue::new(field, "expected text; ignored"));
            return None;
        }
    };
    if s.is_empty() {
        return None;
    }
    // Intake refuses over-long fields (`check_limits`); this cut only meets leads read
    // back from storage that were accepted under older, different limits.
    let limit = field_limit(field);
    if let Some((end, _)) = s.char_indices().nth(limit) {
        issues.push(FieldIssue::new(
            field,
            format!("{} characters, cut to {limit}", s.chars().count()),
        ));
        // Cutting can leave white space at the end; trim it as for any other value.
        return Some(s[..end].trim_end().to_string());
    }
    Some(s)
}

/// Firmographics from enrichment providers (issue: enrichment). Every field is optional;
/// `sources` names the provider that supplied each field, `failures` what went wrong.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Enrichment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub employees: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub industry: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revenue: Option<f64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tech_stack: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub funding: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub linkedin: Option<String>,
    /// Marked junk by a provider or a local signal, with the reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub junk_reason: Option<String>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub sources: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

/// Parse an employee count as people type it: "250", "1,200", "1.2k", "200-500" (lower
/// bound), "1000+", "5000 employees".
pub fn parse_employees(input: &str) -> Option<u32> {
    // The common case, a plain number ("250"): up to 9 digits is exact either way.
    let t = crate::normalize::trim(input);
    if (1..=9).contains(&t.len()) && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse().ok();
    }
    // Lower-case ASCII letters and drop `,` `_` and spaces. Both only touch ASCII bytes,
    // which never occur inside a multi-byte character, so bytewise is exact; short
    // values are folded on the stack.
    const N: usize = 64;
    let keep = |b: &u8| !matches!(b, b',' | b'_' | b' ');
    if t.len() <= N {
        let mut buf = [0u8; N];
        let mut n = 0;
        for &b in t.as_bytes().iter().filter(|b| keep(b)) {
            buf[n] = b.to_ascii_lowercase();
            n += 1;
        }
        employees_from_folded(std::str::from_utf8(&buf[..n]).ok()?)
    } else {
        employees_from_folded(&t.to_ascii_lowercase().replace([',', '_', ' '], ""))
    }
}

/// `s` without trailing "employees", then "people", then "+" (as `trim_end_matches` with
/// each, without setting up a substring searcher per call).
fn trim_count_words(s: &str) -> &str {
    fn trim_end<'s>(mut s: &'s str, word: &str) -> &'s str {
        while let Some(rest) = s.strip_suffix(word) {
            s = rest;
        }
        s
    }
    trim_end(trim_end(s, "employees"), "people").trim_end_matches('+')
}

fn employees_from_folded(s: &str) -> Option<u32> {
    let s = trim_count_words(s);
    let first = s.split(['-', '–', '/']).next()?;
    let (num, mult) = if let Some(n) = first.strip_suffix('k') {
        (n, 1000.0)
    } else if let Some(n) = first.strip_suffix('m') {
        (n, 1_000_000.0)
    } else {
        (first, 1.0)
    };
    let v: f64 = num.parse().ok()?;
    if !v.is_finite() || v < 0.0 {
        return None;
    }
    let n = (v * mult).round();
    if n > u32::MAX as f64 {
        return None;
    }
    Some(n as u32)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn name_addr_emails_give_the_address_and_the_name() {
        let (lead, issues) = Lead::from_json(&json!({
            "email": "\"Doe, Jane\" <Jane.Doe@Globex.com>",
        }))
        .unwrap();
        assert!(issues.is_empty());
        assert_eq!(lead.email.as_deref(), Some("Jane.Doe@Globex.com"));
        assert_eq!(lead.first_name.as_deref(), Some("Jane"));
        assert_eq!(lead.last_name.as_deref(), Some("Doe"));
        let (lead, _) = Lead::from_json(&json!({
            "email": "Jane Q. Doe <jane@globex.com>",
            "first_name": "Janet",
        }))
        .unwrap();
        assert_eq!(lead.email.as_deref(), Some("jane@globex.com"));
        assert_eq!(
            (lead.first_name.as_deref(), lead.last_name.as_deref()),
            (Some("Janet"), None)
        );
        assert_eq!(lead.fields["email_name"], "Jane Q. Doe");
        let (lead, _) = Lead::from_json(&json!({"email": "<pat@acme.com>"})).unwrap();
        assert_eq!(lead.email.as_deref(), Some("pat@acme.com"));
        assert_eq!(lead.first_name, None);
        // Not a name-addr: left as written (the engine reports it as unusable).
        let (lead, _) = Lead::from_json(&json!({"email": "jane <at> globex"})).unwrap();
        assert_eq!(lead.email.as_deref(), Some("jane <at> globex"));
    }

    #[test]
    fn reads_everything_it_can() {
        let (lead, issues) = Lead::from_json(&json!({
            "email": " Jane@Example.com ",
            "employees": 250,
            "company": ["not", "text"],
            "page_history": ["/pricing", 3],
            "fields": {"website_url": "http://spam"},
            "utm_campaign": "q4"
        }))
        .unwrap();
        assert_eq!(lead.email.as_deref(), Some("Jane@Example.com"));
        assert_eq!(lead.employees.as_deref(), Some("250"));
        assert_eq!(lead.company, None);
        assert_eq!(lead.page_history, vec!["/pricing", "3"]);
        assert_eq!(lead.fields["website_url"], "http://spam");
        assert_eq!(lead.fields["utm_campaign"], "q4");
        assert_eq!(
            issues,
            vec![FieldIssue::new("company", "expected text; ignored")]
        );
    }

    #[test]
    fn limits_name_the_field_and_the_limit() {
        let ok = json!({"first_name": "Jane", "description": "x".repeat(32_000),
            "fields": {"a": "b"}, "page_history": ["/"]});
        assert!(check_limits(&ok).is_empty());
        let bad = json!({
            "description": "x".repeat(32_001),
            "first_name": "é".repeat(101),
            "fields": {"k": "v".repeat(1025)},
            "utm": ["x".repeat(2000)],
            "page_history": vec!["/p"; 201],
        });
        let issues = check_limits(&bad);
        let fields: Vec<&str> = issues.iter().map(|i| i.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "description",
                "fields.k",
                "first_name",
                "page_history",
                "utm"
            ]
        );
        assert_eq!(
            issues[0].problem,
            "too long: 32001 characters, the limit is 32000"
        );
        let many: Map<String, Value> = (0..101).map(|i| (format!("f{i}"), json!("v"))).collect();
        let issues = check_limits(&json!({ "fields": many }));
        assert_eq!(issues[0].field, "fields", "{issues:?}");
    }

    #[test]
    fn not_an_object_is_the_only_failure() {
        assert!(Lead::from_json(&json!([1, 2])).is_err());
    }

    #[test]
    fn employee_counts() {
        assert_eq!(parse_employees("250"), Some(250));
        assert_eq!(parse_employees("1,200"), Some(1200));
        assert_eq!(parse_employees("1.2k"), Some(1200));
        assert_eq!(parse_employees("200-500"), Some(200));
        assert_eq!(parse_employees("1000+"), Some(1000));
        assert_eq!(parse_employees("5000 employees"), Some(5000));
        assert_eq!(parse_employees("lots"), None);
        assert_eq!(parse_employees("-5"), None);
        // The stack path and the allocating path agree.
        let long = format!("{}1,200 Employees", " ".repeat(70));
        assert_eq!(parse_employees(&long), Some(1200));
        for s in [
            "1_000",
            " 2 500 ",
            "3K",
            "12–40",
            "1.5M",
            "10/20",
            "Ünïcode 5",
            "007",
            "1e3",
        ] {
            let slow = s.trim().to_ascii_lowercase().replace([',', '_', ' '], "");
            assert_eq!(parse_employees(s), employees_from_folded(&slow), "{s:?}");
        }
    }

    #[test]
    fn folded_words_trimmed_as_trim_end_matches() {
        fn old(s: &str) -> &str {
            s.trim_end_matches("employees")
                .trim_end_matches("people")
                .trim_end_matches('+')
        }
        for s in [
            "200employees",
            "200employeesemployees",
            "50people",
            "50+people",
            "10+employeespeople",
            "70peopleemployees",
            "1k+",
            "employees",
            "",
        ] {
            assert_eq!(trim_count_words(s), old(s), "{s:?}");
        }
    }
}
