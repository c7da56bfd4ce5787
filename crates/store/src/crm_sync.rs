//! CRM sync rows (CRM-3, issue 20): the CRM's users and accounts as last pulled, and
//! the position of each incremental read (high-water mark, page cursor). The sync
//! worker owns these rows; a page of records and the position after it are written in
//! one transaction, so a crash resumes from the last page stored and never skips one.

use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

/// A CRM user/owner as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmUserRow {
    pub crm_id: String,
    pub email: String,
    pub name: String,
    pub active: bool,
    /// Micros.
    pub modified: i64,
}

/// A CRM account as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CrmAccountRow {
    pub crm_id: String,
    pub name: String,
    pub domain: Option<String>,
    pub owner_crm_id: Option<String>,
    pub named: bool,
    pub modified: i64,
}

/// Where an incremental read stands.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SyncPosition {
    /// The latest modification time stored (micros); the next pass reads from here.
    pub high_water: Option<i64>,
    /// The next page of an unfinished pass.
    pub cursor: Option<String>,
    /// The `since` that unfinished pass started with.
    pub cursor_since: Option<i64>,
    pub last_error: Option<String>,
    pub updated_at: i64,
}

/// What [`CrmSyncStore::crm_put_page`] stores.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SyncRows {
    Users(Vec<CrmUserRow>),
    Accounts(Vec<CrmAccountRow>),
}

impl SyncRows {
    pub fn kind(&self) -> &'static str {
        match self {
            SyncRows::Users(_) => "users",
            SyncRows::Accounts(_) => "accounts",
        }
    }
}

#[async_trait]
pub trait CrmSyncStore {
    /// The position of `kind` (`users` or `accounts`) for `provider`.
    async fn crm_position(&self, provider: &str, kind: &str) -> Result<Option<SyncPosition>>;
    /// Upsert one page of records and the position after it, in one transaction.
    async fn crm_put_page(
        &self,
        provider: &str,
        rows: &SyncRows,
        position: &SyncPosition,
        now: i64,
    ) -> Result<()>;
    /// Store a position alone (a read whose records are not kept here, e.g. the lead
    /// poller's watermark, kind `leads`).
    async fn crm_set_position(
        &self,
        provider: &str,
        kind: &str,
        position: &SyncPosition,
        now: i64,
    ) -> Result<()>;
    /// Note a failed read (the position is kept).
    async fn crm_sync_failed(
        &self,
        provider: &str,
        kind: &str,
        error: &str,
        now: i64,
    ) -> Result<()>;
    async fn crm_users(&self, provider: &str) -> Result<Vec<CrmUserRow>>;
    async fn crm_accounts(&self, provider: &str) -> Result<Vec<CrmAccountRow>>;
}

macro_rules! crm_sync_store {
    ($store:ty, $begin:literal) => {
        #[async_trait]
        impl CrmSyncStore for $store {
            async fn crm_position(&self, provider: &str, kind: &str) -> Result<Option<SyncPosition>> {
                let row = sqlx::query("SELECT high_water, cursor, cursor_since, last_error, updated_at FROM crm_sync_state WHERE provider = $1 AND kind = $2")
                    .bind(provider.to_string())
                    .bind(kind.to_string())
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(|r| SyncPosition {
                    high_water: r.get(0),
                    cursor: r.get(1),
                    cursor_since: r.get(2),
                    last_error: r.get(3),
                    updated_at: r.get(4),
                }))
            }

            async fn crm_put_page(&self, provider: &str, rows: &SyncRows, p: &SyncPosition, now: i64) -> Result<()> {
                let mut tx = self.pool.begin_with($begin).await?;
                match rows {
                    SyncRows::Users(users) => {
                        for u in users {
                            sqlx::query("INSERT INTO crm_users (provider, crm_id, email, name, active, modified, synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (provider, crm_id) DO UPDATE SET email = excluded.email, name = excluded.name, active = excluded.active, modified = excluded.modified, synced_at = excluded.synced_at")
                                .bind(provider.to_string())
                                .bind(u.crm_id.clone())
                                .bind(u.email.clone())
                                .bind(u.name.clone())
                                .bind(i64::from(u.active))
                                .bind(u.modified)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                    SyncRows::Accounts(accounts) => {
                        for a in accounts {
                            sqlx::query("INSERT INTO crm_accounts (provider, crm_id, name, domain, owner_crm_id, named, modified, synced_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (provider, crm_id) DO UPDATE SET name = excluded.name, domain = excluded.domain, owner_crm_id = excluded.owner_crm_id, named = excluded.named, modified = excluded.modified, synced_at = excluded.synced_at")
                                .bind(provider.to_string())
                                .bind(a.crm_id.clone())
                                .bind(a.name.clone())
                                .bind(a.domain.clone())
                                .bind(a.owner_crm_id.clone())
                                .bind(i64::from(a.named))
                                .bind(a.modified)
                                .bind(now)
                                .execute(&mut *tx)
                                .await?;
                        }
                    }
                }
                sqlx::query("INSERT INTO crm_sync_state (provider, kind, high_water, cursor, cursor_since, last_error, updated_at) VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT (provider, kind) DO UPDATE SET high_water = excluded.high_water, cursor = excluded.cursor, cursor_since = excluded.cursor_since, last_error = NULL, updated_at = excluded.updated_at")
                    .bind(provider.to_string())
                    .bind(rows.kind())
                    .bind(p.high_water)
                    .bind(p.cursor.clone())
                    .bind(p.cursor_since)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
                Ok(())
            }

            async fn crm_set_position(&self, provider: &str, kind: &str, p: &SyncPosition, now: i64) -> Result<()> {
                sqlx::query("INSERT INTO crm_sync_state (provider, kind, high_water, cursor, cursor_since, last_error, updated_at) VALUES ($1, $2, $3, $4, $5, NULL, $6) ON CONFLICT (provider, kind) DO UPDATE SET high_water = excluded.high_water, cursor = excluded.cursor, cursor_since = excluded.cursor_since, last_error = NULL, updated_at = excluded.updated_at")
                    .bind(provider.to_string())
                    .bind(kind.to_string())
                    .bind(p.high_water)
                    .bind(p.cursor.clone())
                    .bind(p.cursor_since)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn crm_sync_failed(&self, provider: &str, kind: &str, error: &str, now: i64) -> Result<()> {
                let error: String = error.chars().take(1000).collect();
                sqlx::query("INSERT INTO crm_sync_state (provider, kind, last_error, updated_at) VALUES ($1, $2, $3, $4) ON CONFLICT (provider, kind) DO UPDATE SET last_error = excluded.last_error, updated_at = excluded.updated_at")
                    .bind(provider.to_string())
                    .bind(kind.to_string())
                    .bind(error)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn crm_users(&self, provider: &str) -> Result<Vec<CrmUserRow>> {
                let rows = sqlx::query("SELECT crm_id, email, name, active, modified FROM crm_users WHERE provider = $1 ORDER BY crm_id")
                    .bind(provider.to_string())
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| CrmUserRow {
                        crm_id: r.get(0),
                        email: r.get(1),
                        name: r.get(2),
                        active: r.get::<i64, _>(3) != 0,
                        modified: r.get(4),
                    })
                    .collect())
            }

            async fn crm_accounts(&self, provider: &str) -> Result<Vec<CrmAccountRow>> {
                let rows = sqlx::query("SELECT crm_id, name, domain, owner_crm_id, named, modified FROM crm_accounts WHERE provider = $1 ORDER BY crm_id")
                    .bind(provider.to_string())
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows
                    .into_iter()
                    .map(|r| CrmAccountRow {
                        crm_id: r.get(0),
                        name: r.get(1),
                        domain: r.get(2),
                        owner_crm_id: r.get(3),
                        named: r.get::<i64, _>(4) != 0,
                        modified: r.get(5),
                    })
                    .collect())
            }
        }
    };
}

crm_sync_store!(crate::SqliteStore, "BEGIN IMMEDIATE");
crm_sync_store!(crate::PgStore, "BEGIN");
