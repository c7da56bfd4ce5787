//! Turning what arrives into leads: JSON bodies, Salesforce Web-to-Lead style form posts
//! (CAP-2) and CSV rows (CAP-3, parsed in `imports::csv`), with field-level validation
//! (VAL-1).

pub use crate::imports::csv::{CsvRow, MAX_IMPORT_BYTES, line_at, parse_csv};
use leadrouter_core::config::Form;
use leadrouter_core::lead::{FieldIssue, Lead};
use serde::Serialize;
use serde_json::{Map, Value};

/// A field-level error for the API (VAL-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A lead must be reachable: a usable email address or a phone number.
pub fn validate(lead: &Lead) -> Result<(), Vec<FieldError>> {
    let email_ok = lead
        .email
        .as_deref()
        .is_some_and(|e| leadrouter_core::domains::parse_email(e).is_ok());
    let phone_ok = lead
        .phone
        .as_deref()
        .is_some_and(|p| p.chars().filter(|c| c.is_ascii_digit()).count() >= 6);
    if email_ok || phone_ok {
        return Ok(());
    }
    let mut errors = Vec::new();
    match lead.email.as_deref() {
        Some(e) => errors.push(FieldError {
            field: "email".into(),
            message: format!(
                "not a usable email address ({}); send a valid address or a phone number",
                leadrouter_core::domains::parse_email(e)
                    .err()
                    .unwrap_or("invalid")
            ),
            value: Some(e.chars().take(200).collect()),
        }),
        None => errors.push(FieldError {
            field: "email".into(),
            message: "required unless a phone number is given".into(),
            value: None,
        }),
    }
    if let Some(p) = lead.phone.as_deref() {
        errors.push(FieldError {
            field: "phone".into(),
            message: "fewer than 6 digits".into(),
            value: Some(p.chars().take(50).collect()),
        });
    }
    Err(errors)
}

/// Map a column or form field name to the lead field it means.
pub fn canonical_field(name: &str) -> String {
    let t = leadrouter_core::normalize::token(name);
    match t.as_str() {
        "first" | "firstname" | "given_name" => "first_name",
        "last" | "lastname" | "surname" | "family_name" => "last_name",
        "email_address" | "e_mail" | "work_email" | "business_email" => "email",
        "company_name" | "organization" | "organisation" | "account_name" => "company",
        "job_title" | "position" => "title",
        "phone_number" | "mobile" | "telephone" | "tel" => "phone",
        "zip_code" | "postal_code" | "postcode" | "zipcode" => "zip",
        "province" | "region_state" | "state_province" => "state",
        "source" | "leadsource" => "lead_source",
        "number_of_employees"
        | "employee_count"
        | "employees_count"
        | "company_size"
        | "numberofemployees" => "employees",
        "url" | "website" => "website",
        _ => return t,
    }
    .to_string()
}

/// Web-to-Lead fields that configure the post rather than describe the lead.
const FORM_CONTROL: &[&str] = &[
    "ret_url",
    "returl",
    "oid",
    "debug",
    "debug_email",
    "encoding",
    "submit",
];

/// A form post: the lead, its JSON payload, and where to send the browser back to.
pub struct FormLead {
    pub lead: Lead,
    pub payload: Value,
    pub issues: Vec<FieldIssue>,
    pub return_url: Option<String>,
}

pub fn from_form(body: &[u8], form: &Form) -> FormLead {
    let mut obj = Map::new();
    let mut fields = Map::new();
    let mut return_url = None;
    for (k, v) in form_urlencoded::parse(body) {
        let v = v.trim().to_string();
        if k.eq_ignore_ascii_case("retURL") {
            return_url = Some(v);
            continue;
        }
        let key = canonical_field(&k);
        if FORM_CONTROL.contains(&key.as_str()) || v.is_empty() {
            continue;
        }
        if is_lead_field(&key) {
            // Repeated keys (multi-select) are joined rather than rejected.
            match obj.get_mut(&key) {
                Some(Value::String(prev)) => {
                    prev.push_str("; ");
                    prev.push_str(&v);
                }
                _ => {
                    obj.insert(key, Value::String(v));
                }
            }
        } else {
            fields.insert(k.to_string(), Value::String(v));
        }
    }
    for (key, default) in [
        ("lead_source", &form.lead_source),
        ("action", &form.action),
        ("product", &form.product),
    ] {
        if let Some(d) = default
            && !obj.contains_key(key)
        {
            obj.insert(key.into(), Value::String(d.clone()));
        }
    }
    if !fields.is_empty() {
        obj.insert("fields".into(), Value::Object(fields));
    }
    let payload = Value::Object(obj);
    let (lead, issues) = Lead::from_json(&payload).unwrap_or_default();
    FormLead {
        lead,
        payload,
        issues,
        return_url: return_url.filter(|u| return_allowed(u, form)),
    }
}

const LEAD_FIELDS: &[&str] = &[
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

pub(crate) fn is_lead_field(k: &str) -> bool {
    LEAD_FIELDS.contains(&k)
}

/// `retURL` may be relative, or absolute on a host the form allows (no open redirects).
pub fn return_allowed(url: &str, form: &Form) -> bool {
    if url.len() > 2048 || url.contains(['\r', '\n']) {
        return false;
    }
    if url.starts_with('/') && !url.starts_with("//") {
        return true;
    }
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    let Some(rest) = rest else { return false };
    let host = rest
        .split(['/', '?', '#'])
        .next()
        .unwrap_or("")
        .rsplit('@')
        .next()
        .unwrap_or("")
        .split(':')
        .next()
        .unwrap_or("")
        .to_lowercase();
    form.return_hosts.contains(&host)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn form() -> Form {
        Form {
            key: "demo".into(),
            name: "Demo".into(),
            lead_source: Some("website".into()),
            action: Some("demo_request".into()),
            product: None,
            return_hosts: vec!["northwind.example".into()],
        }
    }

    #[test]
    fn web_to_lead_post() {
        let body = b"oid=00D000000000001&retURL=https%3A%2F%2Fnorthwind.example%2Fthanks&first_name=Jane&last_name=Doe&email=jane%40globex.com&company=Globex&00N5e00000abcde=Q4+budget&employees=1%2C200&interest=a&interest=b";
        let f = from_form(body, &form());
        assert_eq!(f.lead.email.as_deref(), Some("jane@globex.com"));
        assert_eq!(f.lead.first_name.as_deref(), Some("Jane"));
        assert_eq!(f.lead.action.as_deref(), Some("demo_request"));
        assert_eq!(f.lead.lead_source.as_deref(), Some("website"));
        assert_eq!(f.lead.employees.as_deref(), Some("1,200"));
        assert_eq!(f.lead.fields["00N5e00000abcde"], "Q4 budget");
        assert_eq!(
            f.return_url.as_deref(),
            Some("https://northwind.example/thanks")
        );
    }

    #[test]
    fn no_open_redirect() {
        let f = form();
        assert!(return_allowed("/thanks", &f));
        assert!(!return_allowed("//evil.example/x", &f));
        assert!(!return_allowed("https://evil.example/", &f));
        assert!(!return_allowed(
            "https://northwind.example@evil.example/",
            &f
        ));
        assert!(!return_allowed("javascript:alert(1)", &f));
    }

    #[test]
    fn validation_names_the_field() {
        let (lead, _) = Lead::from_json(&serde_json::json!({"email": "nope"})).unwrap();
        let e = validate(&lead).unwrap_err();
        assert_eq!(e[0].field, "email");
        let (lead, _) =
            Lead::from_json(&serde_json::json!({"email": "nope", "phone": "+1 415 555 0100"}))
                .unwrap();
        assert!(validate(&lead).is_ok());
    }
}
