//! Calendar feed copies (issue 22): per rep, the last good iCalendar body with the
//! validators for conditional requests (ETag, Last-Modified), when it was last fetched
//! and the last error. The calendar worker is the only writer; it reads them all back at
//! start, so routing has each rep's out-of-office and booking its busy blocks before the
//! first fetch answers.

use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

/// One rep's feed as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CalendarFeedRow {
    pub rep: String,
    /// SHA-256 (hex) of the feed's address: the address itself is a secret.
    pub source_hash: String,
    pub etag: Option<String>,
    pub last_modified: Option<String>,
    pub body: Option<String>,
    /// Micros of the last 200 or 304.
    pub fetched_at: Option<i64>,
    /// Micros of the last 200.
    pub changed_at: Option<i64>,
    pub last_error: Option<String>,
    pub error_at: Option<i64>,
}

#[async_trait]
pub trait CalendarStore {
    async fn calendar_feeds(&self) -> Result<Vec<CalendarFeedRow>>;
    /// A 200: the new body and validators; the error is cleared.
    async fn calendar_changed(&self, row: &CalendarFeedRow) -> Result<()>;
    /// A 304: the copy is still current.
    async fn calendar_not_modified(&self, rep: &str, at: i64) -> Result<()>;
    /// A failure: the copy is kept, the error noted.
    async fn calendar_failed(
        &self,
        rep: &str,
        source_hash: &str,
        error: &str,
        at: i64,
    ) -> Result<()>;
}

macro_rules! calendar_store {
    ($store:ty) => {
        #[async_trait]
        impl CalendarStore for $store {
            async fn calendar_feeds(&self) -> Result<Vec<CalendarFeedRow>> {
                let rows = sqlx::query("SELECT rep, source_hash, etag, last_modified, body, fetched_at, changed_at, last_error, error_at FROM calendar_feeds ORDER BY rep")
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| CalendarFeedRow {
                        rep: r.get(0),
                        source_hash: r.get(1),
                        etag: r.get(2),
                        last_modified: r.get(3),
                        body: r.get(4),
                        fetched_at: r.get(5),
                        changed_at: r.get(6),
                        last_error: r.get(7),
                        error_at: r.get(8),
                    })
                    .collect())
            }

            async fn calendar_changed(&self, f: &CalendarFeedRow) -> Result<()> {
                sqlx::query("INSERT INTO calendar_feeds (rep, source_hash, etag, last_modified, body, fetched_at, changed_at, last_error, error_at) VALUES ($1, $2, $3, $4, $5, $6, $7, NULL, NULL) ON CONFLICT (rep) DO UPDATE SET source_hash = excluded.source_hash, etag = excluded.etag, last_modified = excluded.last_modified, body = excluded.body, fetched_at = excluded.fetched_at, changed_at = excluded.changed_at, last_error = NULL, error_at = NULL")
                    .bind(f.rep.clone())
                    .bind(f.source_hash.clone())
                    .bind(f.etag.clone())
                    .bind(f.last_modified.clone())
                    .bind(f.body.clone())
                    .bind(f.fetched_at)
                    .bind(f.changed_at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn calendar_not_modified(&self, rep: &str, at: i64) -> Result<()> {
                sqlx::query("UPDATE calendar_feeds SET fetched_at = $2, last_error = NULL, error_at = NULL WHERE rep = $1")
                    .bind(rep.to_string())
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn calendar_failed(&self, rep: &str, source_hash: &str, error: &str, at: i64) -> Result<()> {
                let error: String = error.chars().take(1000).collect();
                sqlx::query("INSERT INTO calendar_feeds (rep, source_hash, last_error, error_at) VALUES ($1, $2, $3, $4) ON CONFLICT (rep) DO UPDATE SET last_error = excluded.last_error, error_at = excluded.error_at")
                    .bind(rep.to_string())
                    .bind(source_hash.to_string())
                    .bind(error)
                    .bind(at)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }
        }
    };
}

calendar_store!(crate::SqliteStore);
calendar_store!(crate::PgStore);
