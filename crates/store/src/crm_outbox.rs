//! The CRM write-back outbox (CRM-1): rows written by the sequencer inside the routing
//! transaction (`BatchWrite::crm`), claimed and completed by the CRM worker. Only the
//! oldest pending row of a lead is claimable, so a later write for a lead never
//! overtakes an earlier one; a claim is a lease (a worker that dies gives its rows back
//! when it lapses), `FOR UPDATE SKIP LOCKED` on PostgreSQL so instances share the work.
//! The CRM worker owns these rows after insertion; routing never reads them.

use crate::{Result, StoreError};
use async_trait::async_trait;
use sqlx::Row;

/// One write-back as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct CrmRow {
    pub id: String,
    pub lead_id: String,
    pub kind: String,
    pub payload: serde_json::Value,
    pub status: String,
    pub attempts: i64,
    pub next_attempt_at: i64,
    pub last_error: Option<String>,
    pub crm_id: Option<String>,
    pub created_at: i64,
    pub done_at: Option<i64>,
}

impl CrmRow {
    /// A new pending row, due at once.
    pub fn new(
        id: String,
        lead_id: String,
        kind: String,
        payload: serde_json::Value,
        now: i64,
    ) -> CrmRow {
        CrmRow {
            id,
            lead_id,
            kind,
            payload,
            status: "pending".into(),
            attempts: 0,
            next_attempt_at: now,
            last_error: None,
            crm_id: None,
            created_at: now,
            done_at: None,
        }
    }
}

/// How an attempt ended for one row.
#[derive(Debug, Clone, PartialEq)]
pub enum CrmResult {
    Done {
        at: i64,
        crm_id: String,
    },
    /// Try again at `next_at`; `counted`: the attempt counts toward dead-lettering (a
    /// rate-limit wait does not).
    Retry {
        next_at: i64,
        error: String,
        counted: bool,
    },
    Dead {
        error: String,
    },
}

/// What asking to retry a dead letter did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CrmRequeue {
    Requeued,
    /// A later write for the same lead was delivered or is pending: re-sending this one
    /// would put older values over newer ones, so it is left dead.
    Superseded,
    NotFound,
}

#[async_trait]
pub trait CrmOutbox {
    /// Claim up to `limit` due rows for `lease_us`, at most one per lead (its oldest
    /// pending row), oldest first.
    async fn crm_claim(
        &self,
        worker: &str,
        now: i64,
        lease_us: i64,
        limit: i64,
    ) -> Result<Vec<CrmRow>>;
    /// Record outcomes (one transaction). Rows no longer pending are left alone.
    async fn crm_complete(&self, done: &[(String, CrmResult)]) -> Result<()>;
    /// Dead letters, newest first.
    async fn crm_dead_letters(&self, limit: i64) -> Result<Vec<CrmRow>>;
    /// Put a dead letter back in line, due at `now`, its attempts reset.
    async fn crm_requeue(&self, id: &str, now: i64) -> Result<CrmRequeue>;
    /// Rows of one lead in order (console, tests).
    async fn crm_rows(&self, lead_id: &str) -> Result<Vec<CrmRow>>;
    /// (pending, dead) counts, for `/metrics`.
    async fn crm_counts(&self) -> Result<(i64, i64)>;
    /// The plan of the claim's search for due rows (EXPLAIN's lines), for the tests that
    /// keep it a walk of the pending rows by id (migration 0028) rather than of the
    /// whole history.
    async fn crm_claim_plan(&self, now: i64, limit: i64) -> Result<String>;
}

/// The claim's search: the oldest due pending rows, one per lead (its oldest pending
/// row), with the placeholders for `now` and the limit given.
macro_rules! claim_search {
    ($hint:literal, $now:literal, $limit:literal) => {
        concat!(
            "SELECT o.id FROM crm_outbox o ",
            $hint,
            "WHERE o.status = 'pending' AND o.next_attempt_at <= ",
            $now,
            " AND (o.claimed_until IS NULL OR o.claimed_until < ",
            $now,
            ") AND NOT EXISTS (SELECT 1 FROM crm_outbox p WHERE p.lead_id = o.lead_id AND p.status = 'pending' AND p.id < o.id) ORDER BY o.id LIMIT ",
            $limit,
            " "
        )
    };
}

fn row(r: &impl RowLike) -> Result<CrmRow> {
    r.get_row()
}

/// Decoding a row is the same text for both backends.
trait RowLike {
    fn get_row(&self) -> Result<CrmRow>;
}

macro_rules! row_like {
    ($row:ty) => {
        impl RowLike for $row {
            fn get_row(&self) -> Result<CrmRow> {
                let payload: String = self.try_get("payload")?;
                Ok(CrmRow {
                    id: self.try_get("id")?,
                    lead_id: self.try_get("lead_id")?,
                    kind: self.try_get("kind")?,
                    payload: serde_json::from_str(&payload)
                        .map_err(|e| StoreError::Corrupt(format!("crm_outbox payload: {e}")))?,
                    status: self.try_get("status")?,
                    attempts: self.try_get("attempts")?,
                    next_attempt_at: self.try_get("next_attempt_at")?,
                    last_error: self.try_get("last_error")?,
                    crm_id: self.try_get("crm_id")?,
                    created_at: self.try_get("created_at")?,
                    done_at: self.try_get("done_at")?,
                })
            }
        }
    };
}
row_like!(sqlx::sqlite::SqliteRow);
row_like!(sqlx::postgres::PgRow);

macro_rules! crm_outbox {
    ($store:ty, $begin:literal, $lock:literal, $explain:literal, $hint:literal, $sorts_off:expr) => {
        #[async_trait]
        impl CrmOutbox for $store {
            async fn crm_claim(&self, worker: &str, now: i64, lease_us: i64, limit: i64) -> Result<Vec<CrmRow>> {
                const SORTS_OFF: Option<&'static str> = $sorts_off;
                // A read first: the UPDATE is a write (SQLite's write lock) even when it
                // matches nothing.
                let due: Option<String> = sqlx::query_scalar("SELECT id FROM crm_outbox WHERE status = 'pending' AND next_attempt_at <= $1 AND (claimed_until IS NULL OR claimed_until < $1) LIMIT 1")
                    .bind(now)
                    .fetch_optional(&self.pool)
                    .await?;
                if due.is_none() {
                    return Ok(Vec::new());
                }
                let sql = concat!(
                    "UPDATE crm_outbox SET claimed_until = $1, claimed_by = $2 WHERE id IN (",
                    claim_search!($hint, "$3", "$4"),
                    $lock,
                    ") RETURNING *"
                );
                let mut tx = self.pool.begin_with($begin).await?;
                if let Some(q) = SORTS_OFF {
                    sqlx::query(q).execute(&mut *tx).await?;
                }
                let rows = sqlx::query(sql)
                    .bind(now + lease_us)
                    .bind(worker.to_string())
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.commit().await?;
                let mut out: Vec<CrmRow> = rows.iter().map(row).collect::<Result<_>>()?;
                out.sort_by(|a, b| a.id.cmp(&b.id));
                Ok(out)
            }

            async fn crm_complete(&self, done: &[(String, CrmResult)]) -> Result<()> {
                if done.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin_with($begin).await?;
                for (id, result) in done {
                    let q = match result {
                        CrmResult::Done { at, crm_id } => sqlx::query("UPDATE crm_outbox SET status = 'done', done_at = $1, crm_id = $2, attempts = attempts + 1, claimed_until = NULL, last_error = NULL WHERE id = $3 AND status = 'pending'")
                            .bind(*at)
                            .bind(crm_id.clone())
                            .bind(id.clone()),
                        CrmResult::Retry { next_at, error, counted } => sqlx::query("UPDATE crm_outbox SET next_attempt_at = $1, last_error = $2, attempts = attempts + $3, claimed_until = NULL WHERE id = $4 AND status = 'pending'")
                            .bind(*next_at)
                            .bind(error.clone())
                            .bind(i64::from(*counted))
                            .bind(id.clone()),
                        CrmResult::Dead { error } => sqlx::query("UPDATE crm_outbox SET status = 'dead', last_error = $1, attempts = attempts + 1, claimed_until = NULL WHERE id = $2 AND status = 'pending'")
                            .bind(error.clone())
                            .bind(id.clone()),
                    };
                    q.execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn crm_dead_letters(&self, limit: i64) -> Result<Vec<CrmRow>> {
                let rows = sqlx::query("SELECT * FROM crm_outbox WHERE status = 'dead' ORDER BY id DESC LIMIT $1")
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(row).collect()
            }

            async fn crm_requeue(&self, id: &str, now: i64) -> Result<CrmRequeue> {
                let mut tx = self.pool.begin_with($begin).await?;
                let lead: Option<(String, String)> = sqlx::query_as("SELECT lead_id, status FROM crm_outbox WHERE id = $1")
                    .bind(id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
                let Some((lead_id, status)) = lead else {
                    return Ok(CrmRequeue::NotFound);
                };
                if status != "dead" {
                    return Ok(CrmRequeue::NotFound);
                }
                let later: Option<String> = sqlx::query_scalar("SELECT id FROM crm_outbox WHERE lead_id = $1 AND id > $2 AND status IN ('pending', 'done') LIMIT 1")
                    .bind(lead_id)
                    .bind(id.to_string())
                    .fetch_optional(&mut *tx)
                    .await?;
                if later.is_some() {
                    return Ok(CrmRequeue::Superseded);
                }
                sqlx::query("UPDATE crm_outbox SET status = 'pending', attempts = 0, next_attempt_at = $1, claimed_until = NULL WHERE id = $2 AND status = 'dead'")
                    .bind(now)
                    .bind(id.to_string())
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(CrmRequeue::Requeued)
            }

            async fn crm_rows(&self, lead_id: &str) -> Result<Vec<CrmRow>> {
                let rows = sqlx::query("SELECT * FROM crm_outbox WHERE lead_id = $1 ORDER BY id")
                    .bind(lead_id.to_string())
                    .fetch_all(&self.pool)
                    .await?;
                rows.iter().map(row).collect()
            }

            async fn crm_counts(&self) -> Result<(i64, i64)> {
                let pending: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crm_outbox WHERE status = 'pending'")
                    .fetch_one(&self.pool)
                    .await?;
                let dead: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM crm_outbox WHERE status = 'dead'")
                    .fetch_one(&self.pool)
                    .await?;
                Ok((pending, dead))
            }

            async fn crm_claim_plan(&self, now: i64, limit: i64) -> Result<String> {
                const SORTS_OFF: Option<&'static str> = $sorts_off;
                let mut tx = self.pool.begin().await?;
                if let Some(q) = SORTS_OFF {
                    sqlx::query(q).execute(&mut *tx).await?;
                }
                let rows = sqlx::query(concat!($explain, claim_search!($hint, "$1", "$2")))
                    .bind(now)
                    .bind(limit)
                    .fetch_all(&mut *tx)
                    .await?;
                tx.rollback().await?;
                // The plan's text is the last column on both (SQLite's `detail`).
                let lines = rows
                    .iter()
                    .map(|r| r.try_get::<String, _>(r.len() - 1))
                    .collect::<std::result::Result<Vec<_>, _>>()?;
                Ok(lines.join("\n"))
            }
        }
    };
}

// The claim walks the pending rows by id (`crm_outbox_pending`, migration 0028) whatever
// the statistics say: planners that took the pending rows for few (statistics from before
// a backlog, or none: SQLite is not analysed) read every due row by `crm_outbox_due` and
// sorted them. SQLite is told the index; PostgreSQL has sorting turned off for the claim.
crm_outbox!(
    crate::SqliteStore,
    "BEGIN IMMEDIATE",
    "",
    "EXPLAIN QUERY PLAN ",
    "INDEXED BY crm_outbox_pending ",
    None
);
crm_outbox!(
    crate::PgStore,
    "BEGIN",
    "FOR UPDATE SKIP LOCKED",
    "EXPLAIN ",
    "",
    Some("SET LOCAL enable_sort = off")
);
