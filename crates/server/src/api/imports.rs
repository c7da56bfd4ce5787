//! `POST /v1/imports` and `GET /v1/imports/{id}` (CAP-3). The upload is read as it
//! streams in and its rows stored before anything is acknowledged; the rows are then
//! routed by the import worker (`crate::imports`). A small import answers as it always
//! did — 200 with every row's result — when it finishes within a short wait; a larger
//! one (or any, with `Prefer: respond-async`) answers 202 with the job's id, and
//! `GET /v1/imports/{id}` shows its progress and per-row results.

use super::{ApiError, AppState};
use crate::imports::csv::{CsvError, CsvRow, CsvStream, MAX_IMPORT_BYTES};
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use leadrouter_store::imports::{ImportJob, ImportRowIn};
use serde::Deserialize;
use serde_json::{Value, json};
use std::time::Duration;

/// How long `POST /v1/imports` waits for its job to finish before answering 202
/// (`Prefer: wait=N` asks for another wait, up to [`MAX_WAIT`]).
const DEFAULT_WAIT: Duration = Duration::from_secs(10);
const MAX_WAIT: Duration = Duration::from_secs(30);
/// Rows stored per transaction while the upload streams in.
const STORE_BATCH: usize = 500;
/// Rows listed per `GET /v1/imports/{id}` page unless `limit` says otherwise.
const PAGE: i64 = 1000;
const MAX_PAGE: i64 = 10_000;

fn unavailable(e: impl std::fmt::Display) -> ApiError {
    ApiError::Unavailable(e.to_string())
}

/// The wait `Prefer` asks for: `respond-async` is none, `wait=N` is N seconds.
fn wait_for(headers: &HeaderMap) -> Duration {
    let mut wait = DEFAULT_WAIT;
    for v in headers
        .get_all("prefer")
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        for p in v.split([',', ';']).map(str::trim) {
            if p.eq_ignore_ascii_case("respond-async") {
                return Duration::ZERO;
            }
            if let Some(n) = p.strip_prefix("wait=").and_then(|n| n.parse::<u64>().ok()) {
                wait = Duration::from_secs(n).min(MAX_WAIT);
            }
        }
    }
    wait
}

pub(super) async fn create(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let received_at = st.shared.clock.now();
    let offset: u64 = headers
        .get("x-import-line-offset")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let import_id = headers
        .get("x-import-id")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 64)
        .map(str::to_string)
        .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
    let job_id = uuid::Uuid::now_v7().to_string();
    let store = &st.shared.store;
    store
        .import_create(&job_id, &import_id, received_at.as_microsecond())
        .await
        .map_err(unavailable)?;
    match receive(&st, &job_id, body, offset).await {
        Ok(()) => {}
        Err(e) => {
            // Never acknowledged: nothing of it stays.
            if let Err(d) = store.import_discard(&job_id).await {
                tracing::warn!(job = %job_id, error = %d, "discarding a failed upload failed; it is swept later");
            }
            return Err(e);
        }
    }
    store
        .import_seal(&job_id, st.shared.clock.now().as_microsecond())
        .await
        .map_err(unavailable)?;
    st.imports.wake();
    // SEC-2: who uploaded what; the rows' own outcomes are on the job.
    let _ = super::audit::audit(
        &st.shared,
        super::audit::Audit::new(super::actor(&st, &headers), "import")
            .subject(import_id.clone())
            .detail(serde_json::json!({ "job": job_id, "line_offset": offset })),
    )
    .await;
    let deadline = tokio::time::Instant::now() + wait_for(&headers);
    loop {
        let job = store
            .import_job(&job_id)
            .await
            .map_err(unavailable)?
            .ok_or_else(|| ApiError::NotFound(format!("import {job_id}")))?;
        if job.status == "done" {
            let (rows, _) = listing(&st, &job_id, 0, i64::MAX).await?;
            return Ok(Json(job_json(&job, rows, None)).into_response());
        }
        let now = tokio::time::Instant::now();
        if now >= deadline {
            let mut resp = (
                StatusCode::ACCEPTED,
                Json(job_json(&job, (vec![], vec![]), None)),
            )
                .into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("/v1/imports/{job_id}")) {
                resp.headers_mut().insert(header::LOCATION, v);
            }
            return Ok(resp);
        }
        // Progress is signalled by this instance's worker; another instance's is seen
        // by polling.
        let step = (deadline - now).min(Duration::from_millis(250));
        let _ = tokio::time::timeout(step, st.imports.progress.notified()).await;
    }
}

/// Stream the body into the job's rows, checking the route's limit as bytes arrive.
async fn receive(st: &AppState, job_id: &str, body: Body, offset: u64) -> Result<(), ApiError> {
    let mut csv = CsvStream::new(offset);
    let mut stream = body.into_data_stream();
    let mut read = 0usize;
    let mut batch: Vec<ImportRowIn> = Vec::new();
    loop {
        let chunk = match stream.next().await {
            None => break,
            Some(Ok(c)) => c,
            Some(Err(e)) => {
                return Err(ApiError::BadRequest(format!("the upload was cut off: {e}")));
            }
        };
        read += chunk.len();
        if read > MAX_IMPORT_BYTES {
            return Err(ApiError::TooLarge(MAX_IMPORT_BYTES));
        }
        let rows = csv.push(&chunk).map_err(csv_error)?;
        batch.extend(rows.into_iter().map(row_in));
        if batch.len() >= STORE_BATCH {
            store_rows(st, job_id, &mut batch).await?;
        }
    }
    let rows = csv.finish().map_err(csv_error)?;
    batch.extend(rows.into_iter().map(row_in));
    store_rows(st, job_id, &mut batch).await?;
    Ok(())
}

async fn store_rows(
    st: &AppState,
    job_id: &str,
    batch: &mut Vec<ImportRowIn>,
) -> Result<(), ApiError> {
    st.shared
        .store
        .import_add_rows(job_id, batch, st.shared.clock.now().as_microsecond())
        .await
        .map_err(unavailable)?;
    batch.clear();
    Ok(())
}

fn csv_error(e: CsvError) -> ApiError {
    match e {
        CsvError::NotUtf8 { line } => ApiError::BadRequest(format!(
            "the CSV is not UTF-8 (line {line}); save it as CSV UTF-8"
        )),
        CsvError::Header(f) => ApiError::Invalid(vec![f]),
    }
}

fn row_in(row: CsvRow) -> ImportRowIn {
    match row {
        CsvRow::Lead { line, payload, .. } => ImportRowIn::Lead {
            line: line as i64,
            payload: payload.to_string(),
        },
        CsvRow::Error { line, errors } => ImportRowIn::Rejected {
            line: line as i64,
            errors: serde_json::to_string(&errors).unwrap_or_else(|_| "[]".into()),
        },
    }
}

/// Finished rows after `after`: (results, errors) as the API shows them, and the last
/// line listed when the page is full.
async fn listing(
    st: &AppState,
    job_id: &str,
    after: i64,
    limit: i64,
) -> Result<((Vec<Value>, Vec<Value>), Option<i64>), ApiError> {
    let rows = st
        .shared
        .store
        .import_rows(job_id, after, limit)
        .await
        .map_err(unavailable)?;
    let full = rows.len() as i64 == limit && limit > 0;
    let last = rows.last().map(|r| r.line);
    let (mut results, mut errors) = (Vec::new(), Vec::new());
    for r in rows {
        let v: Value = serde_json::from_str(&r.result).unwrap_or(Value::Null);
        if r.imported {
            results.push(json!({
                "line": r.line, "lead_id": v["lead_id"], "owner": v["owner"], "queue": v["queue"],
            }));
        } else {
            errors.push(json!({ "line": r.line, "errors": v }));
        }
    }
    Ok(((results, errors), if full { last } else { None }))
}

fn job_json(
    job: &ImportJob,
    (results, errors): (Vec<Value>, Vec<Value>),
    next: Option<i64>,
) -> Value {
    let status = match job.status.as_str() {
        "receiving" | "queued" => "queued",
        s => s,
    };
    json!({
        "job_id": job.id,
        "import_id": job.import_id,
        "status": status,
        "total": job.total,
        "imported": job.imported,
        "rejected": job.rejected,
        "pending": job.pending(),
        "created_at": leadrouter_store::from_micros(job.created_at),
        "finished_at": job.finished_at.map(leadrouter_store::from_micros),
        "results": results,
        "errors": errors,
        "next_after": next,
    })
}

#[derive(Deserialize)]
pub(super) struct Page {
    after: Option<i64>,
    limit: Option<i64>,
}

pub(super) async fn status(
    State(st): State<AppState>,
    Path(id): Path<String>,
    Query(page): Query<Page>,
) -> Result<Response, ApiError> {
    let job = st
        .shared
        .store
        .import_job(&id)
        .await
        .map_err(unavailable)?
        .filter(|j| j.status != "receiving")
        .ok_or_else(|| ApiError::NotFound(format!("import {id}")))?;
    let limit = page.limit.unwrap_or(PAGE).clamp(0, MAX_PAGE);
    let after = page.after.unwrap_or(0);
    let (rows, next) = if limit == 0 {
        ((vec![], vec![]), None)
    } else {
        listing(&st, &id, after, limit).await?
    };
    Ok(Json(job_json(&job, rows, next)).into_response())
}
