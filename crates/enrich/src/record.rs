//! One provider's answer about one company ([`Firmographics`]), the conversions from what
//! vendors send (numbers as text, size bands, "$12.5M", comma-separated tech lists) to
//! our types, and the merge into the lead's [`Enrichment`] that fills only what is still
//! missing and records who supplied each field.

use leadrouter_core::lead::{Enrichment, parse_employees};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Longest text kept from a provider for one field.
const MAX_TEXT: usize = 256;
/// Most technologies kept.
const MAX_TECH: usize = 100;

/// The fields a provider can supply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    Domain,
    Company,
    Employees,
    Industry,
    Country,
    State,
    Revenue,
    TechStack,
    Funding,
    Linkedin,
}

impl Field {
    pub const ALL: [Field; 10] = [
        Field::Domain,
        Field::Company,
        Field::Employees,
        Field::Industry,
        Field::Country,
        Field::State,
        Field::Revenue,
        Field::TechStack,
        Field::Funding,
        Field::Linkedin,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Domain => "domain",
            Field::Company => "company",
            Field::Employees => "employees",
            Field::Industry => "industry",
            Field::Country => "country",
            Field::State => "state",
            Field::Revenue => "revenue",
            Field::TechStack => "tech_stack",
            Field::Funding => "funding",
            Field::Linkedin => "linkedin",
        }
    }

    pub fn parse(s: &str) -> Option<Field> {
        Field::ALL.into_iter().find(|f| f.name() == s)
    }

    pub fn names() -> String {
        Field::ALL.map(Field::name).join(", ")
    }

    /// Is this field already known in `e`?
    pub fn present_in(self, e: &Enrichment) -> bool {
        match self {
            Field::Domain => e.domain.is_some(),
            Field::Company => e.company.is_some(),
            Field::Employees => e.employees.is_some(),
            Field::Industry => e.industry.is_some(),
            Field::Country => e.country.is_some(),
            Field::State => e.state.is_some(),
            Field::Revenue => e.revenue.is_some(),
            Field::TechStack => !e.tech_stack.is_empty(),
            Field::Funding => e.funding.is_some(),
            Field::Linkedin => e.linkedin.is_some(),
        }
    }
}

/// What one provider knows about one company. This is also the form persisted in the
/// [`crate::PersistentCache`], so it stays small and free of personal data.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Firmographics {
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
}

impl Firmographics {
    pub fn has(&self, f: Field) -> bool {
        match f {
            Field::Domain => self.domain.is_some(),
            Field::Company => self.company.is_some(),
            Field::Employees => self.employees.is_some(),
            Field::Industry => self.industry.is_some(),
            Field::Country => self.country.is_some(),
            Field::State => self.state.is_some(),
            Field::Revenue => self.revenue.is_some(),
            Field::TechStack => !self.tech_stack.is_empty(),
            Field::Funding => self.funding.is_some(),
            Field::Linkedin => self.linkedin.is_some(),
        }
    }

    pub fn is_empty(&self) -> bool {
        !Field::ALL.iter().any(|f| self.has(*f))
    }

    /// Set a field from a JSON value as a vendor sends it. Values of the wrong shape
    /// (an object where text was expected, a negative revenue) are left unset.
    pub fn set_json(&mut self, f: Field, v: &Value) {
        match v {
            Value::Null => {}
            Value::String(s) => self.set_text(f, s),
            Value::Number(n) => match f {
                Field::Employees => {
                    self.employees = n
                        .as_f64()
                        .filter(|x| x.is_finite() && *x >= 0.0 && *x <= u32::MAX as f64)
                        .map(|x| x.round() as u32)
                }
                Field::Revenue => {
                    self.revenue = n.as_f64().filter(|x| x.is_finite() && *x >= 0.0);
                }
                _ => self.set_text(f, &n.to_string()),
            },
            Value::Bool(_) => {}
            Value::Array(items) => match f {
                Field::TechStack => {
                    for item in items {
                        let name = match item {
                            Value::String(s) => Some(s.as_str()),
                            // [{"name": "Salesforce", "category": "CRM"}, …]
                            Value::Object(o) => o.get("name").and_then(Value::as_str),
                            _ => None,
                        };
                        if let Some(t) = name.and_then(clean_text) {
                            push_tech(&mut self.tech_stack, t);
                        }
                    }
                }
                // A list where one value was expected: take the first usable one.
                _ => {
                    if let Some(first) = items.iter().find(|i| !i.is_null())
                        && !first.is_array()
                    {
                        self.set_json(f, first);
                    }
                }
            },
            Value::Object(_) => {}
        }
    }

    /// Set a field from text (a CSV cell, a JSON string).
    pub fn set_text(&mut self, f: Field, s: &str) {
        let Some(t) = clean_text(s) else { return };
        match f {
            Field::Employees => self.employees = parse_employees(&t),
            Field::Revenue => self.revenue = parse_money(&t),
            Field::TechStack => {
                for part in t.split([',', ';', '|']) {
                    if let Some(p) = clean_text(part) {
                        push_tech(&mut self.tech_stack, p);
                    }
                }
            }
            Field::Domain => {
                self.domain = leadrouter_core::domains::registrable_domain(&t);
            }
            Field::Company => self.company = Some(t),
            Field::Industry => self.industry = Some(t),
            Field::Country => self.country = Some(t),
            Field::State => self.state = Some(t),
            Field::Funding => self.funding = Some(t),
            Field::Linkedin => self.linkedin = Some(t),
        }
    }

    /// Copy every field `e` still lacks, recording `provider` as its source. Returns the
    /// fields filled.
    pub fn merge_into(&self, e: &mut Enrichment, provider: &str) -> Vec<Field> {
        let mut filled = Vec::new();
        for f in Field::ALL {
            if !self.has(f) || f.present_in(e) {
                continue;
            }
            match f {
                Field::Domain => e.domain = self.domain.clone(),
                Field::Company => e.company = self.company.clone(),
                Field::Employees => e.employees = self.employees,
                Field::Industry => e.industry = self.industry.clone(),
                Field::Country => e.country = self.country.clone(),
                Field::State => e.state = self.state.clone(),
                Field::Revenue => e.revenue = self.revenue,
                Field::TechStack => e.tech_stack = self.tech_stack.clone(),
                Field::Funding => e.funding = self.funding.clone(),
                Field::Linkedin => e.linkedin = self.linkedin.clone(),
            }
            e.sources.insert(f.name().to_string(), provider.to_string());
            filled.push(f);
        }
        filled
    }
}

fn push_tech(list: &mut Vec<String>, t: String) {
    if list.len() < MAX_TECH && !list.iter().any(|x| x.eq_ignore_ascii_case(&t)) {
        list.push(t);
    }
}

/// Trimmed, non-empty, at most [`MAX_TEXT`] bytes (cut on a character boundary).
fn clean_text(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let mut end = s.len().min(MAX_TEXT);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    Some(s[..end].trim_end().to_string())
}

/// Parse an amount of money as vendors write it: "12500000", "12,500,000", "$12.5M",
/// "€3bn", "500k", "10M-50M" (lower bound, like employee ranges). Currency is ignored:
/// the figure is kept as the vendor's number.
pub fn parse_money(input: &str) -> Option<f64> {
    let s: String = input
        .trim()
        .to_ascii_lowercase()
        .chars()
        .filter(|c| !matches!(c, ',' | '_' | ' ' | '$' | '€' | '£' | '¥' | '+'))
        .collect();
    let s = s
        .trim_start_matches("usd")
        .trim_start_matches("eur")
        .trim_start_matches("gbp");
    if s.starts_with('-') {
        return None;
    }
    let first = s.split(['-', '–']).next()?;
    let (num, mult) = if let Some(n) = first.strip_suffix("bn") {
        (n, 1e9)
    } else if let Some(n) = first.strip_suffix("mm") {
        (n, 1e6)
    } else if let Some(n) = first.strip_suffix('b') {
        (n, 1e9)
    } else if let Some(n) = first.strip_suffix('m') {
        (n, 1e6)
    } else if let Some(n) = first.strip_suffix('k') {
        (n, 1e3)
    } else {
        (first, 1.0)
    };
    let v: f64 = num.parse().ok()?;
    (v.is_finite() && v >= 0.0).then_some(v * mult)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn money() {
        assert_eq!(parse_money("12500000"), Some(12_500_000.0));
        assert_eq!(parse_money("12,500,000"), Some(12_500_000.0));
        assert_eq!(parse_money("$12.5M"), Some(12_500_000.0));
        assert_eq!(parse_money("€3bn"), Some(3e9));
        assert_eq!(parse_money("500k"), Some(500_000.0));
        assert_eq!(parse_money("$10M-$50M"), Some(10_000_000.0));
        assert_eq!(parse_money("USD 1.2B"), Some(1.2e9));
        assert_eq!(parse_money("unknown"), None);
        assert_eq!(parse_money("-5"), None);
    }

    #[test]
    fn json_values_of_every_shape() {
        let mut r = Firmographics::default();
        r.set_json(Field::Employees, &json!("201-500"));
        assert_eq!(r.employees, Some(201));
        r.set_json(Field::Employees, &json!(1234.4));
        assert_eq!(r.employees, Some(1234));
        r.set_json(Field::Revenue, &json!("$1.5M"));
        assert_eq!(r.revenue, Some(1_500_000.0));
        r.set_json(
            Field::TechStack,
            &json!(["Salesforce", {"name": "HubSpot"}, 3, "salesforce"]),
        );
        assert_eq!(r.tech_stack, vec!["Salesforce", "HubSpot"]);
        r.set_json(Field::Country, &json!(["US", "CA"]));
        assert_eq!(r.country.as_deref(), Some("US"));
        r.set_json(Field::Funding, &json!(25000000));
        assert_eq!(r.funding.as_deref(), Some("25000000"));
        r.set_json(Field::Industry, &json!({"sector": "x"}));
        assert_eq!(r.industry, None);
        r.set_json(Field::Domain, &json!("https://www.Globex.com/about"));
        assert_eq!(r.domain.as_deref(), Some("globex.com"));
        let mut t = Firmographics::default();
        t.set_text(Field::TechStack, "AWS; Snowflake | dbt, ");
        assert_eq!(t.tech_stack, vec!["AWS", "Snowflake", "dbt"]);
    }

    #[test]
    fn merge_fills_only_what_is_missing() {
        let mut e = Enrichment {
            employees: Some(10),
            ..Default::default()
        };
        e.sources.insert("employees".into(), "first".into());
        let r = Firmographics {
            employees: Some(500),
            industry: Some("Software".into()),
            ..Default::default()
        };
        let filled = r.merge_into(&mut e, "second");
        assert_eq!(filled, vec![Field::Industry]);
        assert_eq!(e.employees, Some(10));
        assert_eq!(e.sources["employees"], "first");
        assert_eq!(e.sources["industry"], "second");
    }
}
