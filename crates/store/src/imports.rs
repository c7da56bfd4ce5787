//! CSV import jobs (CAP-3, issue 24): an upload's rows are stored here as they arrive,
//! before the upload is acknowledged, and a worker routes them through the sequencer
//! afterwards. A job's rows are its durable queue: a row is `pending` until the
//! sequencer has committed its lead, then `imported` (with the lead id, owner, queue)
//! or `rejected` (with its field errors). A crash loses nothing acknowledged: the next
//! worker claims the job when its lease runs out and goes on from the first pending row
//! (re-sent rows replay through their idempotency keys). The import worker owns these
//! rows; routing never reads them.

use crate::{Result, StoreError, statement_chunks};
use async_trait::async_trait;
use sqlx::{QueryBuilder, Row};

/// An import job as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportJob {
    pub id: String,
    /// The client's import id (`X-Import-Id`): rows are keyed by import id and line.
    pub import_id: String,
    /// `receiving` (upload in progress), `queued`, `running`, `done`.
    pub status: String,
    pub total: i64,
    pub imported: i64,
    pub rejected: i64,
    /// When the upload was received: the `received_at` of every lead it creates.
    pub received_at: i64,
    pub created_at: i64,
    pub updated_at: i64,
    pub finished_at: Option<i64>,
}

impl ImportJob {
    pub fn pending(&self) -> i64 {
        (self.total - self.imported - self.rejected).max(0)
    }
}

/// A row as parsed from the upload: a lead to route, or the reasons it cannot be.
#[derive(Debug, Clone, PartialEq)]
pub enum ImportRowIn {
    /// The lead as JSON (what `POST /v1/leads` would have received).
    Lead { line: i64, payload: String },
    /// Field errors as JSON (`[{"field", "message", "value"}]`).
    Rejected { line: i64, errors: String },
}

/// A row waiting for the sequencer.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingRow {
    pub line: i64,
    pub payload: String,
}

/// How a row ended: `imported` with its result (`{"lead_id", "owner", "queue"}`) or
/// `rejected` with its errors, both JSON.
#[derive(Debug, Clone, PartialEq)]
pub struct RowOutcome {
    pub line: i64,
    pub imported: bool,
    pub result: String,
}

/// A finished row, for the job's listing.
#[derive(Debug, Clone, PartialEq)]
pub struct FinishedRow {
    pub line: i64,
    pub imported: bool,
    pub result: String,
}

#[async_trait]
pub trait ImportStore {
    /// A new job in `receiving`; nobody works on it until [`ImportStore::import_seal`].
    async fn import_create(&self, id: &str, import_id: &str, received_at: i64) -> Result<()>;
    /// Store parsed rows of a job still receiving (one transaction).
    async fn import_add_rows(&self, job_id: &str, rows: &[ImportRowIn], now: i64) -> Result<()>;
    /// The upload is complete: the job may be claimed.
    async fn import_seal(&self, job_id: &str, now: i64) -> Result<()>;
    /// Delete a job whose upload failed (never acknowledged), with its rows.
    async fn import_discard(&self, job_id: &str) -> Result<()>;
    /// Delete jobs left `receiving` since before `stale_before` (their upload died with
    /// its process; the client never got an answer). Returns how many.
    async fn import_sweep(&self, stale_before: i64) -> Result<u64>;
    /// Claim up to `limit` jobs that are queued or whose worker's lease ran out.
    async fn import_claim(
        &self,
        worker: &str,
        now: i64,
        lease_us: i64,
        limit: i64,
    ) -> Result<Vec<ImportJob>>;
    /// Extend a claim; false if another worker holds the job now.
    async fn import_renew(&self, job_id: &str, worker: &str, until: i64) -> Result<bool>;
    /// Pending rows after `after_line`, in line order.
    async fn import_pending(
        &self,
        job_id: &str,
        after_line: i64,
        limit: i64,
    ) -> Result<Vec<PendingRow>>;
    /// Record outcomes of pending rows and count them into the job (one transaction;
    /// a row already finished, by a worker whose lease ran out, is not counted twice).
    async fn import_record(&self, job_id: &str, outcomes: &[RowOutcome], now: i64) -> Result<()>;
    /// Mark the job done if no row is pending; returns whether it is done.
    async fn import_finish(&self, job_id: &str, now: i64) -> Result<bool>;
    async fn import_job(&self, job_id: &str) -> Result<Option<ImportJob>>;
    /// Finished rows after `after_line`, in line order.
    async fn import_rows(
        &self,
        job_id: &str,
        after_line: i64,
        limit: i64,
    ) -> Result<Vec<FinishedRow>>;
}

/// Rows per multi-row INSERT (5 binds each).
const ROWS_PER_STATEMENT: usize = 256;

macro_rules! import_store {
    ($store:ty, $db:ty, $begin:literal, $lock:literal) => {
        #[async_trait]
        impl ImportStore for $store {
            async fn import_create(&self, id: &str, import_id: &str, received_at: i64) -> Result<()> {
                sqlx::query("INSERT INTO import_jobs (id, import_id, status, total, imported, rejected, received_at, created_at, updated_at) VALUES ($1, $2, 'receiving', 0, 0, 0, $3, $3, $3)")
                    .bind(id.to_string())
                    .bind(import_id.to_string())
                    .bind(received_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn import_add_rows(&self, job_id: &str, rows: &[ImportRowIn], now: i64) -> Result<()> {
                if rows.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin_with($begin).await?;
                for chunk in statement_chunks(rows, ROWS_PER_STATEMENT) {
                    let mut q: QueryBuilder<$db> = QueryBuilder::new("INSERT INTO import_rows (job_id, line, status, payload, result) ");
                    q.push_values(chunk, |mut b, r| {
                        let (line, status, payload, result) = match r {
                            ImportRowIn::Lead { line, payload } => (*line, "pending", Some(payload.clone()), None),
                            ImportRowIn::Rejected { line, errors } => (*line, "rejected", None, Some(errors.clone())),
                        };
                        b.push_bind(job_id.to_string())
                            .push_bind(line)
                            .push_bind(status)
                            .push_bind(payload)
                            .push_bind(result);
                    });
                    q.build().execute(&mut *tx).await?;
                }
                let rejected = rows.iter().filter(|r| matches!(r, ImportRowIn::Rejected { .. })).count() as i64;
                sqlx::query("UPDATE import_jobs SET total = total + $1, rejected = rejected + $2, updated_at = $3 WHERE id = $4")
                    .bind(rows.len() as i64)
                    .bind(rejected)
                    .bind(now)
                    .bind(job_id.to_string())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn import_seal(&self, job_id: &str, now: i64) -> Result<()> {
                sqlx::query("UPDATE import_jobs SET status = 'queued', updated_at = $1 WHERE id = $2 AND status = 'receiving'")
                    .bind(now)
                    .bind(job_id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn import_discard(&self, job_id: &str) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await?;
                sqlx::query("DELETE FROM import_rows WHERE job_id = $1")
                    .bind(job_id.to_string())
                    .execute(&mut *tx)
                    .await?;
                sqlx::query("DELETE FROM import_jobs WHERE id = $1")
                    .bind(job_id.to_string())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn import_sweep(&self, stale_before: i64) -> Result<u64> {
                let stale: Vec<String> = sqlx::query_scalar("SELECT id FROM import_jobs WHERE status = 'receiving' AND updated_at < $1")
                    .bind(stale_before)
                    .fetch_all(&self.pool)
                    .await?;
                for id in &stale {
                    self.import_discard(id).await?;
                }
                Ok(stale.len() as u64)
            }

            async fn import_claim(&self, worker: &str, now: i64, lease_us: i64, limit: i64) -> Result<Vec<ImportJob>> {
                // A read first: the UPDATE is a write even when it matches nothing.
                let due: Option<String> = sqlx::query_scalar("SELECT id FROM import_jobs WHERE status IN ('queued', 'running') AND (claimed_until IS NULL OR claimed_until < $1) LIMIT 1")
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                let sql = concat!(
                    "UPDATE import_jobs SET status = 'running', claimed_by = $1, claimed_until = $2 WHERE id IN (SELECT id FROM import_jobs WHERE status IN ('queued', 'running') AND (claimed_until IS NULL OR claimed_until < $3) ORDER BY created_at, id LIMIT $4 ",
                    $lock,
                    ") RETURNING *"
                );
                let rows = sqlx::query(sql)
                    .bind(worker.to_string())
                    .bind(now + lease_us)
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                let mut jobs: Vec<ImportJob> = rows.iter().map(job_from_row).collect::<Result<_>>()?;
                jobs.sort_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)));
                Ok(jobs)
            }

            async fn import_renew(&self, job_id: &str, worker: &str, until: i64) -> Result<bool> {
                let done = sqlx::query("UPDATE import_jobs SET claimed_until = $1 WHERE id = $2 AND claimed_by = $3 AND status = 'running'")
                    .bind(until)
                    .bind(job_id.to_string())
                    .bind(worker.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn import_pending(&self, job_id: &str, after_line: i64, limit: i64) -> Result<Vec<PendingRow>> {
                let rows = sqlx::query("SELECT line, payload FROM import_rows WHERE job_id = $1 AND status = 'pending' AND line > $2 ORDER BY line LIMIT $3")
                    .bind(job_id.to_string())
                    .bind(after_line)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(PendingRow {
                            line: r.try_get("line")?,
                            payload: r
                                .try_get::<Option<String>, _>("payload")?
                                .ok_or_else(|| StoreError::Corrupt("a pending import row without its lead".into()))?,
                        })
                    })
                    .collect()
            }

            async fn import_record(&self, job_id: &str, outcomes: &[RowOutcome], now: i64) -> Result<()> {
                if outcomes.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin_with($begin).await?;
                let (mut imported, mut rejected) = (0i64, 0i64);
                for o in outcomes {
                    // The lead itself now lives in `leads`: the row keeps only its result.
                    let done = sqlx::query("UPDATE import_rows SET status = $1, result = $2, payload = NULL WHERE job_id = $3 AND line = $4 AND status = 'pending'")
                        .bind(if o.imported { "imported" } else { "rejected" })
                        .bind(o.result.clone())
                        .bind(job_id.to_string())
                        .bind(o.line)
                        .execute(&mut *tx)
                        .await?;
                    if done.rows_affected() == 1 {
                        if o.imported {
                            imported += 1;
                        } else {
                            rejected += 1;
                        }
                    }
                }
                sqlx::query("UPDATE import_jobs SET imported = imported + $1, rejected = rejected + $2, updated_at = $3 WHERE id = $4")
                    .bind(imported)
                    .bind(rejected)
                    .bind(now)
                    .bind(job_id.to_string())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn import_finish(&self, job_id: &str, now: i64) -> Result<bool> {
                let done = sqlx::query("UPDATE import_jobs SET status = 'done', finished_at = $1, updated_at = $1, claimed_until = NULL WHERE id = $2 AND status = 'running' AND NOT EXISTS (SELECT 1 FROM import_rows WHERE job_id = $2 AND status = 'pending')")
                    .bind(now)
                    .bind(job_id.to_string())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn import_job(&self, job_id: &str) -> Result<Option<ImportJob>> {
                let row = sqlx::query("SELECT * FROM import_jobs WHERE id = $1")
                    .bind(job_id.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                row.as_ref().map(job_from_row).transpose()
            }

            async fn import_rows(&self, job_id: &str, after_line: i64, limit: i64) -> Result<Vec<FinishedRow>> {
                let rows = sqlx::query("SELECT line, status, result FROM import_rows WHERE job_id = $1 AND status <> 'pending' AND line > $2 ORDER BY line LIMIT $3")
                    .bind(job_id.to_string())
                    .bind(after_line)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter()
                    .map(|r| {
                        Ok(FinishedRow {
                            line: r.try_get("line")?,
                            imported: r.try_get::<String, _>("status")? == "imported",
                            result: r.try_get::<Option<String>, _>("result")?.unwrap_or_else(|| "null".into()),
                        })
                    })
                    .collect()
            }
        }
    };
}

fn job_from_row<R: Row>(r: &R) -> Result<ImportJob>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> Option<i64>: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(ImportJob {
        id: r.try_get("id")?,
        import_id: r.try_get("import_id")?,
        status: r.try_get("status")?,
        total: r.try_get("total")?,
        imported: r.try_get("imported")?,
        rejected: r.try_get("rejected")?,
        received_at: r.try_get("received_at")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        finished_at: r.try_get("finished_at")?,
    })
}

// SQLite: one process per database file, so no row locks; writes take the lock at BEGIN.
import_store!(crate::SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE", "");
import_store!(
    crate::PgStore,
    sqlx::Postgres,
    "BEGIN",
    "FOR UPDATE SKIP LOCKED"
);
