//! `GET /v1/leads` (OPS-6, issue 21): find leads by free text and filters, newest first,
//! a page at a time (`limit`, `cursor` → `next_cursor`), or the whole result as CSV
//! (`Accept: text/csv` or `format=csv`), streamed a page at a time as the client reads
//! it. Admin keys only, like every other read of lead data.
//!
//! Bounds: a page holds at most 500 leads; at most [`MAX_EXPORTS`] exports run at once
//! (more are answered 503 at once); an export holds at most [`MAX_EXPORT_ROWS`] rows and
//! runs at most [`EXPORT_TIME`], after which the response is cut off unfinished (chunked
//! encoding without its last chunk) so a client can never take a partial file for the
//! whole result.

use super::{ApiError, AppState, require};
use crate::auth::Role;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use jiff::tz::TimeZone;
use leadrouter_store::search::{LeadCursor, LeadHit, LeadQuery, MAX_LIMIT, QueryIssue};
use leadrouter_store::{Store, from_micros, micros};
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// Leads per page when `limit` is not given.
pub const DEFAULT_LIMIT: i64 = 50;
/// Exports running at once, over the whole process.
pub const MAX_EXPORTS: usize = 2;
/// Most rows one export writes.
pub const MAX_EXPORT_ROWS: usize = 1_000_000;
/// Longest an export runs.
pub const EXPORT_TIME: Duration = Duration::from_secs(600);
/// Rows fetched per read while exporting.
const EXPORT_PAGE: i64 = MAX_LIMIT;

static EXPORTS: std::sync::LazyLock<Arc<Semaphore>> =
    std::sync::LazyLock::new(|| Arc::new(Semaphore::new(MAX_EXPORTS)));

/// The query string. Unknown parameters are refused (a misspelt filter must not
/// silently widen the result).
#[derive(Deserialize, Default, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct LeadParams {
    pub q: Option<String>,
    pub owner: Option<String>,
    pub team: Option<String>,
    pub queue: Option<String>,
    pub tier: Option<String>,
    pub segment: Option<String>,
    pub status: Option<String>,
    pub path: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<String>,
    pub cursor: Option<String>,
    pub format: Option<String>,
}

/// Empty values (an untouched form field) mean "not given".
fn given(v: &Option<String>) -> Option<String> {
    v.as_ref()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
}

/// A `from`/`to` value: an RFC 3339 instant, or a date meaning that day in the
/// organisation's zone (`from`: its start; `to`: the start of the next day, so the day
/// is included).
fn instant(
    field: &'static str,
    v: &str,
    zone: &TimeZone,
    end_of_day: bool,
) -> Result<i64, QueryIssue> {
    if let Ok(t) = v.parse::<Timestamp>() {
        return Ok(micros(t));
    }
    let bad = || QueryIssue {
        field,
        value: v.chars().take(64).collect(),
        message: "an RFC 3339 instant (2026-11-30T09:00:00Z) or a date (2026-11-30)".into(),
    };
    let date = v.parse::<jiff::civil::Date>().map_err(|_| bad())?;
    let date = if end_of_day {
        date.tomorrow().map_err(|_| bad())?
    } else {
        date
    };
    let z = date.to_zoned(zone.clone()).map_err(|_| bad())?;
    Ok(micros(z.timestamp()))
}

/// The store query from the parameters, or every problem with them.
pub fn lead_query(p: &LeadParams, zone: &TimeZone) -> Result<LeadQuery, Vec<QueryIssue>> {
    let mut issues = Vec::new();
    let limit = match given(&p.limit) {
        None => DEFAULT_LIMIT,
        Some(l) => l.parse::<i64>().unwrap_or(0),
    };
    let mut time = |field, v: &Option<String>, end| {
        given(v).and_then(|v| match instant(field, &v, zone, end) {
            Ok(t) => Some(t),
            Err(i) => {
                issues.push(i);
                None
            }
        })
    };
    let received_from = time("from", &p.from, false);
    let received_to = time("to", &p.to, true);
    let cursor = match given(&p.cursor) {
        None => None,
        Some(c) => match LeadCursor::decode(&c) {
            Ok(c) => Some(c),
            Err(message) => {
                issues.push(QueryIssue {
                    field: "cursor",
                    value: c.chars().take(64).collect(),
                    message,
                });
                None
            }
        },
    };
    let q = LeadQuery {
        text: given(&p.q),
        owner: given(&p.owner),
        owner_in: None,
        team: given(&p.team),
        queue: given(&p.queue),
        tier: given(&p.tier),
        segment: given(&p.segment),
        status: given(&p.status),
        path: given(&p.path),
        received_from,
        received_to,
        cursor,
        limit,
    };
    issues.extend(q.check());
    if issues.is_empty() {
        Ok(q)
    } else {
        Err(issues)
    }
}

/// 400 naming every bad parameter, in the API's error shape.
fn bad_filters(issues: Vec<QueryIssue>) -> Response {
    let errors: Vec<Value> = issues
        .iter()
        .map(|i| json!({ "field": i.field, "message": i.message, "value": i.value }))
        .collect();
    let message = issues
        .iter()
        .map(|i| format!("{}: {}", i.field, i.message))
        .collect::<Vec<_>>()
        .join("; ");
    (
        StatusCode::BAD_REQUEST,
        Json(json!({ "error": "bad_request", "message": message, "errors": errors })),
    )
        .into_response()
}

/// A found lead as JSON.
pub fn hit_json(h: &LeadHit) -> Value {
    json!({
        "id": h.id,
        "received_at": from_micros(h.received_at),
        "source": h.source,
        "email": h.email,
        "first_name": h.first_name,
        "last_name": h.last_name,
        "company": h.company,
        "account_domain": h.account_domain,
        "owner": h.owner,
        "queue": h.queue,
        "team": h.team,
        "segment": h.segment,
        "tier": h.tier,
        "score": h.score,
        "path": h.path,
        "status": h.status,
        "erased_at": h.erased_at.map(from_micros),
    })
}

fn wants_csv(p: &LeadParams, headers: &HeaderMap) -> Result<bool, Vec<QueryIssue>> {
    match given(&p.format).as_deref() {
        Some("csv") => Ok(true),
        Some("json") => Ok(false),
        Some(other) => Err(vec![QueryIssue {
            field: "format",
            value: other.chars().take(64).collect(),
            message: "must be json or csv".into(),
        }]),
        None => Ok(headers
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .any(|v| v.split(',').any(|m| m.trim().starts_with("text/csv")))),
    }
}

/// `GET /v1/leads`.
pub(super) async fn list(
    State(st): State<AppState>,
    headers: HeaderMap,
    Query(p): Query<LeadParams>,
) -> Result<Response, ApiError> {
    require(&st, &headers, Role::Admin)?;
    let zone = st.shared.config.load().organization_tz.clone();
    let (q, csv) = match (lead_query(&p, &zone), wants_csv(&p, &headers)) {
        (Ok(q), Ok(csv)) => (q, csv),
        (a, b) => {
            let mut issues = a.err().unwrap_or_default();
            issues.extend(b.err().unwrap_or_default());
            return Ok(bad_filters(issues));
        }
    };
    if csv {
        return Ok(export_csv(st.shared.store.clone(), q));
    }
    let page = st
        .shared
        .store
        .search_leads(&q)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let items: Vec<Value> = page.items.iter().map(hit_json).collect();
    Ok(Json(json!({
        "items": items,
        "next_cursor": page.next.map(|c| c.encode()),
        "prev_cursor": page.prev.map(|c| c.encode()),
    }))
    .into_response())
}

pub const CSV_COLUMNS: &[&str] = &[
    "id",
    "received_at",
    "email",
    "first_name",
    "last_name",
    "company",
    "account_domain",
    "owner",
    "queue",
    "team",
    "segment",
    "tier",
    "score",
    "path",
    "status",
    "source",
    "erased_at",
];

/// A cell as written: text a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab,
/// carriage return first) gets a leading `'`, the usual guard against CSV injection.
fn cell(v: &str) -> String {
    if v.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{v}")
    } else {
        v.to_string()
    }
}

fn csv_rows(hits: &[LeadHit], header: bool) -> Result<Bytes, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::with_capacity(hits.len() * 160));
    if header {
        w.write_record(CSV_COLUMNS)?;
    }
    let o = |v: &Option<String>| cell(v.as_deref().unwrap_or(""));
    for h in hits {
        w.write_record([
            cell(&h.id),
            from_micros(h.received_at).to_string(),
            o(&h.email),
            o(&h.first_name),
            o(&h.last_name),
            o(&h.company),
            o(&h.account_domain),
            o(&h.owner),
            o(&h.queue),
            o(&h.team),
            o(&h.segment),
            cell(&h.tier),
            h.score.to_string(),
            cell(&h.path),
            cell(&h.status),
            cell(&h.source),
            h.erased_at
                .map(|t| from_micros(t).to_string())
                .unwrap_or_default(),
        ])?;
    }
    w.into_inner()
        .map(Bytes::from)
        .map_err(|e| e.into_error().into())
}

/// Where an export stands between reads.
struct Export {
    store: Arc<dyn Store>,
    q: LeadQuery,
    rows: usize,
    started: Instant,
    first: bool,
    done: bool,
    _permit: OwnedSemaphorePermit,
}

#[derive(Debug, thiserror::Error)]
enum ExportError {
    #[error("the export stopped: {0}")]
    Store(#[from] leadrouter_store::StoreError),
    #[error("the export stopped: {0}")]
    Csv(#[from] csv::Error),
    #[error(
        "the export passed its limit of {MAX_EXPORT_ROWS} rows or {EXPORT_TIME:?}; narrow it with `from`/`to`"
    )]
    Limit,
}

/// The next chunk of the CSV: one page of leads (with the header before the first).
async fn next_chunk(mut e: Export) -> Option<(Result<Bytes, ExportError>, Export)> {
    if e.done {
        return None;
    }
    if e.rows >= MAX_EXPORT_ROWS || e.started.elapsed() > EXPORT_TIME {
        e.done = true;
        tracing::warn!(rows = e.rows, "lead export cut off at its limit");
        return Some((Err(ExportError::Limit), e));
    }
    let page = match e.store.search_leads(&e.q).await {
        Ok(p) => p,
        Err(err) => {
            e.done = true;
            tracing::warn!(error = %err, rows = e.rows, "lead export failed");
            return Some((Err(err.into()), e));
        }
    };
    let chunk = csv_rows(&page.items, e.first);
    e.first = false;
    e.rows += page.items.len();
    match page.next {
        Some(c) => e.q.cursor = Some(c),
        None => e.done = true,
    }
    if chunk.is_err() {
        e.done = true;
    }
    Some((chunk.map_err(ExportError::from), e))
}

/// The whole result of `q` as a CSV response, streamed a page at a time (the API's and
/// the console's export).
pub fn export_csv(store: Arc<dyn Store>, mut q: LeadQuery) -> Response {
    let Ok(permit) = EXPORTS.clone().try_acquire_owned() else {
        let mut resp = (
            StatusCode::SERVICE_UNAVAILABLE,
            Json(json!({
                "error": "unavailable",
                "message": format!("{MAX_EXPORTS} lead exports are already running; retry when one has finished"),
            })),
        )
            .into_response();
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("10"));
        return resp;
    };
    q.limit = EXPORT_PAGE;
    let state = Export {
        store,
        q,
        rows: 0,
        started: Instant::now(),
        first: true,
        done: false,
        _permit: permit,
    };
    let body = Body::from_stream(futures::stream::unfold(state, next_chunk));
    let mut resp = Response::new(body);
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    h.insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"leads.csv\""),
    );
    // Personal data: no intermediary keeps a copy.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> LeadParams {
        let qs = pairs
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        serde_urlencoded_like(&qs)
    }

    fn serde_urlencoded_like(qs: &str) -> LeadParams {
        let v: serde_json::Map<String, Value> = form_urlencoded::parse(qs.as_bytes())
            .map(|(k, v)| (k.into_owned(), Value::String(v.into_owned())))
            .collect();
        serde_json::from_value(Value::Object(v)).unwrap()
    }

    #[test]
    fn dates_are_whole_days_in_the_organisations_zone() {
        let zone = TimeZone::get("Europe/Berlin").unwrap();
        let q = lead_query(
            &params(&[("from", "2026-11-30"), ("to", "2026-11-30")]),
            &zone,
        )
        .unwrap();
        let from: Timestamp = "2026-11-29T23:00:00Z".parse().unwrap();
        let to: Timestamp = "2026-11-30T23:00:00Z".parse().unwrap();
        assert_eq!(q.received_from, Some(micros(from)));
        assert_eq!(q.received_to, Some(micros(to)));
        let q = lead_query(&params(&[("from", "2026-11-30T09:00:00Z")]), &zone).unwrap();
        assert_eq!(
            q.received_from,
            Some(micros("2026-11-30T09:00:00Z".parse::<Timestamp>().unwrap()))
        );
    }

    #[test]
    fn every_bad_parameter_is_named() {
        let issues = lead_query(
            &params(&[
                ("from", "yesterday"),
                ("cursor", "zz"),
                ("limit", "ten"),
                ("tier", "boiling"),
                ("q", "ab"),
            ]),
            &TimeZone::UTC,
        )
        .unwrap_err();
        let fields: Vec<&str> = issues.iter().map(|i| i.field).collect();
        assert_eq!(fields, vec!["from", "cursor", "limit", "q", "tier"]);
        assert!(lead_query(&params(&[("q", ""), ("owner", " ")]), &TimeZone::UTC).is_ok());
    }

    #[test]
    fn csv_guards_formulas_and_quotes() {
        let h = LeadHit {
            id: "L1".into(),
            received_at: 0,
            source: "api".into(),
            email: Some("a@b.c".into()),
            first_name: Some("=HYPERLINK(\"x\")".into()),
            last_name: Some("O'Neil, Jr".into()),
            company: None,
            account_domain: None,
            owner: None,
            queue: Some("unassigned".into()),
            team: None,
            segment: None,
            tier: "hot".into(),
            score: 7,
            path: "catch_all".into(),
            status: "open".into(),
            erased_at: None,
        };
        let text = String::from_utf8(csv_rows(&[h], true).unwrap().to_vec()).unwrap();
        let mut lines = text.lines();
        assert_eq!(lines.next().unwrap(), CSV_COLUMNS.join(","));
        assert_eq!(
            lines.next().unwrap(),
            "L1,1970-01-01T00:00:00Z,a@b.c,\"'=HYPERLINK(\"\"x\"\")\",\"O'Neil, Jr\",,,,unassigned,,,hot,7,catch_all,open,api,"
        );
    }
}
