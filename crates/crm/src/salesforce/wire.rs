//! Reading Salesforce's answers: the REST error list (`[{"message","errorCode"}]`), the
//! `Sforce-Limit-Info` header, datetimes, and the Lead fields leadrouter reads and
//! writes, shared by the REST client and the Outbound Message endpoint.

use crate::model::{CallError, Headroom, InboundLead};
use jiff::Timestamp;
use serde_json::{Map, Value};
use std::time::Duration;

/// A transport failure: a timeout, or the org could not be reached.
pub(crate) fn transport(e: reqwest::Error) -> CallError {
    if e.is_timeout() {
        CallError::Timeout
    } else {
        CallError::Unavailable(format!("could not reach Salesforce: {e}"))
    }
}

/// `api-usage=25/5000` (possibly with other `name=value` parts) → headroom.
pub fn parse_limit_info(header: &str) -> Option<Headroom> {
    let usage = header
        .split([',', ';'])
        .map(str::trim)
        .find_map(|p| p.strip_prefix("api-usage="))?;
    let (used, limit) = usage.split_once('/')?;
    let used: u64 = used.trim().parse().ok()?;
    let limit: u64 = limit.trim().parse().ok()?;
    Some(Headroom {
        remaining: Some(limit.saturating_sub(used)),
        limit: Some(limit),
        // The API request limit is a rolling 24 hours: no reset instant is given.
        resets_in: None,
    })
}

/// The first `errorCode` and `message` of a REST error answer.
pub(crate) fn error_code(body: &[u8]) -> (String, String) {
    let v: Value = serde_json::from_slice(body).unwrap_or(Value::Null);
    let first = v.as_array().and_then(|a| a.first()).unwrap_or(&v);
    let code = first["errorCode"].as_str().unwrap_or("").to_string();
    let message = first["message"]
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned());
    (code, message)
}

/// A non-2xx answer (other than a session to refresh) → the caller's error.
pub(crate) fn classify(status: u16, retry_after: Option<Duration>, body: &[u8]) -> CallError {
    let (code, message) = error_code(body);
    match (status, code.as_str()) {
        (_, "REQUEST_LIMIT_EXCEEDED") | (429, _) => CallError::RateLimited { retry_after },
        (_, "SERVER_UNAVAILABLE" | "UNABLE_TO_LOCK_ROW") | (500..=599, _) => {
            CallError::Unavailable(format!("{status} {code}: {message}"))
        }
        (401, _) | (_, "INVALID_SESSION_ID") => CallError::Auth(format!("{code}: {message}")),
        (403, _) => CallError::Auth(format!(
            "{code}: {message} (the integration user lacks a permission)"
        )),
        _ => CallError::Invalid(format!("{status} {code}: {message}")),
    }
}

/// `Retry-After` in seconds, when given.
pub(crate) fn retry_after(h: &reqwest::header::HeaderMap) -> Option<Duration> {
    h.get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

/// A SOQL datetime literal (second precision, UTC), rounded down so `>=` never skips a
/// record changed in the same second.
pub(crate) fn soql_datetime(t: Timestamp) -> String {
    let secs = t.as_second();
    Timestamp::from_second(secs)
        .unwrap_or(t)
        .strftime("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// A REST datetime (`2026-12-06T11:00:00.000+0000`).
pub fn parse_datetime(s: &str) -> Option<Timestamp> {
    if let Ok(t) = s.parse::<Timestamp>() {
        return Some(t);
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", s)
        .ok()?
        .to_timestamp()
        .ok()
}

/// Salesforce Lead field → leadrouter's lead JSON field.
pub const LEAD_FIELDS: &[(&str, &str)] = &[
    ("Email", "email"),
    ("FirstName", "first_name"),
    ("LastName", "last_name"),
    ("Company", "company"),
    ("Title", "title"),
    ("Phone", "phone"),
    ("Country", "country"),
    ("State", "state"),
    ("PostalCode", "zip"),
    ("LeadSource", "lead_source"),
    ("NumberOfEmployees", "employees"),
    ("Industry", "industry"),
];

/// A Lead's fields (REST JSON or Outbound Message text) → an inbound lead. The record's
/// Id goes to `fields.salesforce_id`; `changed_by_us` when `LastModifiedById` is the
/// integration user, or when the Lead already carries our external id (a lead we wrote
/// or already routed).
pub fn inbound_lead(
    record: &Map<String, Value>,
    integration_user: Option<&str>,
    external_id_field: &str,
) -> Option<InboundLead> {
    let text = |k: &str| match record.get(k) {
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let crm_id = text("Id")?;
    let mut lead = Map::new();
    for (sf, ours) in LEAD_FIELDS {
        if let Some(v) = text(sf) {
            lead.insert((*ours).to_string(), Value::String(v));
        }
    }
    let mut extra = Map::new();
    extra.insert("salesforce_id".into(), Value::String(crm_id.clone()));
    lead.insert("fields".into(), Value::Object(extra));
    let modified = text("LastModifiedDate")
        .and_then(|s| parse_datetime(&s))
        .unwrap_or(Timestamp::UNIX_EPOCH);
    let by_us = match (integration_user, text("LastModifiedById")) {
        (Some(us), Some(by)) => same_id(us, &by),
        _ => false,
    };
    let ours = text(external_id_field).is_some();
    Some(InboundLead {
        crm_id,
        lead,
        modified,
        changed_by_us: by_us || ours,
    })
}

/// Salesforce ids compare on their 15-character case-sensitive form (the 18-character
/// form adds a case-insensitive checksum).
pub fn same_id(a: &str, b: &str) -> bool {
    let cut = |s: &str| s.get(..15).unwrap_or(s).to_string();
    !a.is_empty() && cut(a) == cut(b)
}

/// A Salesforce record id: 15 or 18 alphanumerics (checked before it goes into SOQL).
pub fn valid_id(s: &str) -> bool {
    matches!(s.len(), 15 | 18) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_info_gives_headroom() {
        let h = parse_limit_info("api-usage=25/5000").unwrap();
        assert_eq!(h.remaining, Some(4975));
        assert_eq!(h.limit, Some(5000));
        let h =
            parse_limit_info("api-usage=5001/5000, per-app-api-usage=1/100(appName=x)").unwrap();
        assert_eq!(h.remaining, Some(0));
        assert_eq!(parse_limit_info("nonsense"), None);
    }

    #[test]
    fn errors_are_classified() {
        let b = br#"[{"message":"TotalRequests Limit exceeded.","errorCode":"REQUEST_LIMIT_EXCEEDED"}]"#;
        assert!(matches!(
            classify(403, None, b),
            CallError::RateLimited { .. }
        ));
        assert!(matches!(
            classify(503, None, b"<html>down</html>"),
            CallError::Unavailable(_)
        ));
        let b = br#"[{"message":"bad","errorCode":"MALFORMED_QUERY"}]"#;
        assert!(
            matches!(classify(400, None, b), CallError::Invalid(m) if m.contains("MALFORMED_QUERY"))
        );
    }

    #[test]
    fn ids_compare_on_fifteen_characters() {
        assert!(same_id("005000000000001AAA", "005000000000001"));
        assert!(!same_id("005000000000001AAA", "005000000000002AAA"));
        assert!(valid_id("00Q000000000001AAA"));
        assert!(!valid_id("00Q') OR Id != ('"));
    }

    #[test]
    fn datetimes_read_and_write() {
        let t = parse_datetime("2026-12-06T11:00:00.250+0000").unwrap();
        assert_eq!(t.to_string(), "2026-12-06T11:00:00.25Z");
        assert_eq!(soql_datetime(t), "2026-12-06T11:00:00Z");
    }
}
