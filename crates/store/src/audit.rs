//! The audit log (issue 24): an append-only record of who did what, when and from where.
//! Rows come two ways: inside a routing transaction, with the change they record
//! (`BatchWrite::audit`, written by `pg_tx.rs` and `sqlite_batch.rs`), or on their own,
//! durably, for changes that do not go through the sequencer ([`AuditLog::audit_append`]).
//! There is deliberately no update here, and one narrow delete: [`AuditLog::audit_prune`]
//! removes entries older than the retention period (`retention.audit_days`). The
//! migrations add triggers that refuse every UPDATE, and every DELETE of an entry at or
//! after the horizon kept in `audit_log_horizon` (migration 0022), a row that only moves
//! forward and never closer than 30 days to the database's clock; so nothing inside the
//! retention window can be rewritten through this crate or by a stray statement.

use crate::{PgStore, Result, SqliteStore};
use async_trait::async_trait;
use serde::Serialize;
use sqlx::{QueryBuilder, Row};

/// One thing someone did. `actor` is `key:<name>`, `console:<user>`, `sla` or
/// `form:<key>`; `address` is the client's IP address when the action came over HTTP.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Microseconds since the Unix epoch.
    pub at: i64,
    pub actor: String,
    /// What was done, as `area.verb` (`lead.reassign`, `console.login_failed`, …).
    pub action: String,
    pub lead_id: Option<String>,
    /// What else the action was about: a rep, a user, an import id, a week.
    pub subject: Option<String>,
    pub address: Option<String>,
    /// Details as JSON text (what was asked, what it changed).
    pub detail: Option<String>,
}

/// A stored entry with its position in the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRecord {
    pub id: i64,
    #[serde(flatten)]
    pub entry: AuditEntry,
}

/// Which entries to list, newest first. `before` is the keyset cursor: the `id` of the
/// last entry of the previous page.
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub lead_id: Option<String>,
    /// `at >= from` (microseconds).
    pub from: Option<i64>,
    /// `at < to` (microseconds).
    pub to: Option<i64>,
    pub before: Option<i64>,
    pub limit: i64,
}

#[async_trait]
pub trait AuditLog: Send + Sync {
    /// Append entries in one transaction; returns once they are committed.
    async fn audit_append(&self, entries: &[AuditEntry]) -> Result<()>;
    /// Entries matching `q`, newest first, at most `q.limit` (1..=1000).
    async fn audit_list(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>>;
    /// Retention: move the horizon forward to `before` and delete up to `limit` entries
    /// older than it, oldest first, recording the pruning itself as an `audit.prune`
    /// entry (actor `retention`, at `now`) in the same transaction. Returns how many went;
    /// with none to delete nothing is written. The database refuses a `before` within 30
    /// days of its own clock.
    async fn audit_prune(&self, before: i64, limit: i64, now: i64) -> Result<u64>;
}

pub(crate) const INSERT_AUDIT: &str =
    "INSERT INTO audit_log (at, actor, action, lead_id, subject, address, detail) ";

macro_rules! audit_backend {
    ($store:ident, $db:ty, $begin:literal) => {
        #[async_trait]
        impl AuditLog for $store {
            async fn audit_append(&self, entries: &[AuditEntry]) -> Result<()> {
                if entries.is_empty() {
                    return Ok(());
                }
                let mut tx = self.pool.begin().await?;
                for chunk in entries.chunks(500) {
                    let mut q = QueryBuilder::<$db>::new(INSERT_AUDIT);
                    q.push_values(chunk, |mut v, e| {
                        v.push_bind(e.at)
                            .push_bind(e.actor.clone())
                            .push_bind(e.action.clone())
                            .push_bind(e.lead_id.clone())
                            .push_bind(e.subject.clone())
                            .push_bind(e.address.clone())
                            .push_bind(e.detail.clone());
                    });
                    q.build().execute(&mut *tx).await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn audit_list(&self, q: &AuditQuery) -> Result<Vec<AuditRecord>> {
                let mut b = QueryBuilder::<$db>::new(
                    "SELECT id, at, actor, action, lead_id, subject, address, detail FROM audit_log WHERE 1 = 1",
                );
                if let Some(a) = &q.actor {
                    b.push(" AND actor = ").push_bind(a.clone());
                }
                if let Some(a) = &q.action {
                    b.push(" AND action = ").push_bind(a.clone());
                }
                if let Some(l) = &q.lead_id {
                    b.push(" AND lead_id = ").push_bind(l.clone());
                }
                if let Some(f) = q.from {
                    b.push(" AND at >= ").push_bind(f);
                }
                if let Some(t) = q.to {
                    b.push(" AND at < ").push_bind(t);
                }
                if let Some(id) = q.before {
                    b.push(" AND id < ").push_bind(id);
                }
                b.push(" ORDER BY id DESC LIMIT ")
                    .push_bind(q.limit.clamp(1, 1000));
                let rows = b.build().fetch_all(&self.pool).await?;
                rows.iter()
                    .map(|r| {
                        Ok(AuditRecord {
                            id: r.try_get("id")?,
                            entry: AuditEntry {
                                at: r.try_get("at")?,
                                actor: r.try_get("actor")?,
                                action: r.try_get("action")?,
                                lead_id: r.try_get("lead_id")?,
                                subject: r.try_get("subject")?,
                                address: r.try_get("address")?,
                                detail: r.try_get("detail")?,
                            },
                        })
                    })
                    .collect()
            }

            async fn audit_prune(&self, before: i64, limit: i64, now: i64) -> Result<u64> {
                // A read on the `at` index first: most passes find nothing and write nothing.
                let due = sqlx::query("SELECT id FROM audit_log WHERE at < $1 LIMIT 1")
                    .bind(before)
                    .fetch_optional(&self.pool)
                    .await?;
                if due.is_none() {
                    return Ok(0);
                }
                let _turn = self.writer_turn().await;
                let mut tx = self.pool.begin_with($begin).await?;
                // Forward only (the trigger refuses moving it back).
                sqlx::query("UPDATE audit_log_horizon SET before_at = $1 WHERE id = 1 AND before_at < $1")
                    .bind(before)
                    .execute(&mut *tx)
                    .await?;
                let deleted = sqlx::query("DELETE FROM audit_log WHERE id IN (SELECT id FROM audit_log WHERE at < $1 ORDER BY id LIMIT $2)")
                    .bind(before)
                    .bind(limit)
                    .execute(&mut *tx)
                    .await?
                    .rows_affected();
                if deleted > 0 {
                    let detail = serde_json::json!({ "deleted": deleted, "before": before }).to_string();
                    sqlx::query("INSERT INTO audit_log (at, actor, action, detail) VALUES ($1, 'retention', 'audit.prune', $2)")
                        .bind(now)
                        .bind(detail)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(deleted)
            }
        }
    };
}

audit_backend!(SqliteStore, sqlx::Sqlite, "BEGIN IMMEDIATE");
audit_backend!(PgStore, sqlx::Postgres, "BEGIN");
