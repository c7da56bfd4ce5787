//! Turning what arrives into leads: JSON bodies, Salesforce Web-to-Lead style form posts
//! (CAP-2) and CSV rows (CAP-3, parsed in `imports::csv`), with field-level validation
//! (VAL-1), the per-field length limits (SEC-1) and the form's `retURL` check (no open
//! redirects).

pub use crate::imports::csv::{CsvRow, MAX_IMPORT_BYTES, line_at, parse_csv};
use leadrouter_core::config::{CompiledConfig, Form};
use leadrouter_core::lead::{FieldIssue, Lead};
use serde::Serialize;
use serde_json::{Map, Value};
use url::{Position, Url};

/// A field-level error for the API (VAL-1).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FieldError {
    pub field: String,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// Every lead field within its limit (`leadrouter_core::lead::field_limit`, docs/api.md
/// "Field limits"); otherwise one error per field, naming it and its limit. Checked on
/// the payload as received, since that is what is stored.
pub fn check_limits(payload: &Value) -> Result<(), Vec<FieldError>> {
    let issues = leadrouter_core::lead::check_limits(payload);
    if issues.is_empty() {
        return Ok(());
    }
    Err(issues
        .into_iter()
        .map(|i| FieldError {
            field: i.field,
            message: i.problem,
            value: None,
        })
        .collect())
}

/// The `source` of a lead posted to form `key`.
pub fn form_source(key: &str) -> String {
    format!("form:{key}")
}

/// Why a lead from `source` gets no confirmation email although `[notify.email]` sends
/// them: its form says `confirmation = false`.
pub fn confirmation_off(cfg: &CompiledConfig, source: &str) -> Option<String> {
    let key = source.strip_prefix("form:")?;
    let form = cfg.forms.iter().find(|f| f.key == key)?;
    (!form.confirmation).then(|| {
        format!("form `{key}` sends no confirmation emails ([[form]] confirmation = false)")
    })
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

/// The hidden form field that carries the bot-check token (`GET /v1/forms/{key}/token`).
pub const TOKEN_FIELD: &str = "lr_token";

/// A form post: the lead, its JSON payload, where to send the browser back to, and the
/// bot-check token it carried.
pub struct FormLead {
    pub lead: Lead,
    pub payload: Value,
    pub issues: Vec<FieldIssue>,
    pub return_url: Option<String>,
    pub token: Option<String>,
}

pub fn from_form(body: &[u8], form: &Form) -> FormLead {
    let mut obj = Map::new();
    let mut fields = Map::new();
    let mut return_url = None;
    let mut token = None;
    for (k, v) in form_urlencoded::parse(body) {
        let v = v.trim().to_string();
        if k.eq_ignore_ascii_case("retURL") {
            return_url = Some(v);
            continue;
        }
        if k == TOKEN_FIELD {
            token = Some(v);
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
        return_url: return_url.and_then(|u| return_target(&u, form)),
        token,
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

/// Longest `retURL` followed.
pub const MAX_RETURN_URL: usize = 2048;

/// Where a form post may send the browser back to: the `retURL` as the browser will
/// read it, or `None` (the post is answered with JSON instead; no open redirect).
///
/// Parsed the way browsers parse (WHATWG, the `url` crate), never compared as a string.
/// A relative `retURL` must stay on the origin it is resolved against and is sent back
/// relative (path, query, fragment); an absolute one must be http(s), without user info,
/// on a host of the form's `return_hosts` (compared after parsing: lower-case, IDN as
/// punycode). Backslashes, whitespace and control characters are refused outright:
/// browsers read `\` as `/` and drop tabs and line breaks, which is how `/\evil.example`
/// and `/<TAB>/evil.example` become `//evil.example`.
pub fn return_target(raw: &str, form: &Form) -> Option<String> {
    if raw.is_empty()
        || raw.len() > MAX_RETURN_URL
        || raw
            .chars()
            .any(|c| c == '\\' || c.is_whitespace() || c.is_control())
    {
        return None;
    }
    // The bound holds for what is sent back too: serialising percent-encodes, which can
    // make the URL longer than the raw value (found by the `form` fuzz target).
    let kept = |u: String| (u.len() <= MAX_RETURN_URL).then_some(u);
    match Url::parse(raw) {
        Ok(url) => {
            let host = url.host_str()?;
            let listed = form
                .return_hosts
                .iter()
                .any(|h| url::Host::parse(h).is_ok_and(|h| h.to_string() == host));
            (matches!(url.scheme(), "http" | "https")
                && url.username().is_empty()
                && url.password().is_none()
                && listed)
                .then(|| url.to_string())
                .and_then(kept)
        }
        Err(url::ParseError::RelativeUrlWithoutBase) if raw.starts_with('/') => {
            // Resolved against a stand-in origin: a relative reference that reaches
            // another host or scheme (`//evil.example`) is not relative.
            let base = Url::parse("https://form-origin.invalid/").ok()?;
            let url = base.join(raw).ok()?;
            (url.origin() == base.origin())
                .then(|| url[Position::BeforePath..].to_string())
                .and_then(kept)
        }
        Err(_) => None,
    }
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
            return_hosts: vec!["northwind.example".into(), "bücher.example".into()],
            limits: Default::default(),
            min_fill_secs: 0,
            confirmation: true,
        }
    }

    #[test]
    fn a_return_url_that_grows_when_serialised_is_not_kept() {
        // Each U+FFFD is 3 bytes raw and 9 percent-encoded in a fragment.
        let raw = format!("/#{}", "\u{fffd}".repeat(600));
        assert!(raw.len() <= MAX_RETURN_URL);
        assert_eq!(return_target(&raw, &form()), None);
        let short = format!("/#{}", "\u{fffd}".repeat(10));
        assert!(return_target(&short, &form()).is_some_and(|u| u.len() <= MAX_RETURN_URL));
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
        let ok = |u: &str| return_target(u, &f);
        assert_eq!(ok("/thanks").as_deref(), Some("/thanks"));
        assert_eq!(ok("/thanks?x=1#top").as_deref(), Some("/thanks?x=1#top"));
        assert_eq!(
            ok("https://NorthWind.example:8443/t").as_deref(),
            Some("https://northwind.example:8443/t")
        );
        assert_eq!(
            ok("https://xn--bcher-kva.example/").as_deref(),
            Some("https://xn--bcher-kva.example/")
        );
        for bad in [
            "//evil.example/x",
            "/\\evil.example",
            "/\t/evil.example",
            "/\n/evil.example",
            "https://evil.example\\@northwind.example/",
            "https://evil.example/",
            "https://northwind.example@evil.example/",
            "https://user@northwind.example/",
            "https://northwind.example.evil.example/",
            "https:evil.example",
            "javascript:alert(1)",
            "ftp://northwind.example/",
            "thanks",
            "/%2F%2Fevil.example",
        ] {
            let got = ok(bad);
            assert!(
                got.is_none() || got.as_deref() == Some("/%2F%2Fevil.example"),
                "{bad:?} was followed: {got:?}"
            );
        }
    }

    #[test]
    fn field_limits_refuse_rows() {
        let text = format!(
            "email,description\nok@globex.com,short\nbig@globex.com,{}\n",
            "x".repeat(40_000)
        );
        let rows = parse_csv(&text, 0).unwrap();
        assert!(matches!(&rows[0], CsvRow::Lead { .. }));
        assert!(
            matches!(&rows[1], CsvRow::Error { line: 3, errors } if errors[0].field == "description" && errors[0].message.contains("32000")),
        );
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
