//! History good enough to replay (OPS-5): the config versions that served, the routing
//! events (every committed change to routing state, in commit order, with what a routing
//! decision was made from) and checkpoints of the routing state.
//!
//! Events and checkpoints are written by the routing transaction (`BatchWrite::events`,
//! `BatchWrite::checkpoint`; `pg_tx.rs`, `sqlite_batch.rs`), so they commit with the
//! changes they record. Config versions are written by [`ConfigHistory::record_config_version`]
//! before a version serves its first lead. [`HistoryReader`] reads them back for
//! `leadrouter replay` in one read-only snapshot, on a connection of its own that runs no
//! migration and takes no lock a running service would wait for.

use crate::{PgStore, Result, SqliteStore, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{Connection, QueryBuilder, Row};
use std::collections::BTreeMap;
use std::str::FromStr;

/// One change to routing state as the sequencer applied it, written in batch order.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    /// Microseconds since the epoch (a routing decision's exact instant is in `input`).
    pub at: i64,
    /// `route`, `reassign`, `disqualify`, `outcome`, `accept`, `contacted`, `sla`,
    /// `availability`.
    pub kind: String,
    pub lead_id: Option<String>,
    pub actor: Option<String>,
    pub config_version: String,
    /// JSON: what a routing decision was made from.
    pub input: Option<String>,
    /// JSON array of the `Effect`s applied.
    pub effects: String,
    /// JSON: what was decided (route) or the lead's lifecycle afterwards.
    pub result: Option<String>,
    /// JSON: the person rows the job wrote, `[[email, PriorPerson], …]`. Known people
    /// are read from these rows (not from the effects) at the start of each batch.
    pub people: Option<String>,
}

/// An event as read back, with its place in the commit order.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredEvent {
    pub state_version: i64,
    pub idx: i64,
    pub row: EventRow,
}

/// The routing state after every event of `state_version` (JSON of a `StateSnapshot`
/// without people).
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub state_version: i64,
    pub at: i64,
    pub state: String,
}

/// A config version that served: its files' text and who loaded it when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConfigVersionRow {
    pub version: String,
    pub loaded_at: i64,
    pub loaded_by: String,
    pub main_name: String,
    pub main_text: String,
    /// The files the TOML reads (CSV tables), by the name written in the TOML.
    pub files: BTreeMap<String, String>,
}

#[async_trait]
pub trait ConfigHistory: Send + Sync {
    /// Keep a config version (once: a version already kept keeps its first loader).
    async fn record_config_version(&self, v: &ConfigVersionRow) -> Result<()>;
    /// Every kept version without its text, oldest first.
    async fn config_versions(&self) -> Result<Vec<ConfigVersionRow>>;
    async fn config_version(&self, version: &str) -> Result<Option<ConfigVersionRow>>;
}

/// The most text (TOML and files together) a config version may keep: a stored row stays
/// bounded whatever the caller.
pub const MAX_CONFIG_BYTES: usize = 64 << 20;

fn files_json(v: &ConfigVersionRow) -> Result<String> {
    let total: usize = v.main_text.len() + v.files.values().map(String::len).sum::<usize>();
    if total > MAX_CONFIG_BYTES {
        return Err(StoreError::Corrupt(format!(
            "config version {} is {total} bytes; at most {MAX_CONFIG_BYTES} are kept",
            v.version
        )));
    }
    serde_json::to_string(&v.files).map_err(|e| StoreError::Corrupt(e.to_string()))
}

fn version_row(r: &impl VersionColumns, with_text: bool) -> Result<ConfigVersionRow> {
    r.version_row(with_text)
}

trait VersionColumns {
    fn version_row(&self, with_text: bool) -> Result<ConfigVersionRow>;
}

macro_rules! history_backend {
    ($store:ident, $db:ty, $row:ty, $insert_or_ignore:literal) => {
        impl VersionColumns for $row {
            fn version_row(&self, with_text: bool) -> Result<ConfigVersionRow> {
                let files: BTreeMap<String, String> = if with_text {
                    let text: String = self.try_get("files")?;
                    serde_json::from_str(&text).map_err(|e| {
                        StoreError::Corrupt(format!("config_versions.files: {e}"))
                    })?
                } else {
                    BTreeMap::new()
                };
                Ok(ConfigVersionRow {
                    version: self.try_get("version")?,
                    loaded_at: self.try_get("loaded_at")?,
                    loaded_by: self.try_get("loaded_by")?,
                    main_name: self.try_get("main_name")?,
                    main_text: if with_text {
                        self.try_get("main_text")?
                    } else {
                        String::new()
                    },
                    files,
                })
            }
        }

        #[async_trait]
        impl ConfigHistory for $store {
            async fn record_config_version(&self, v: &ConfigVersionRow) -> Result<()> {
                let files = files_json(v)?;
                let mut q = QueryBuilder::<$db>::new(
                    "INSERT INTO config_versions (version, loaded_at, loaded_by, main_name, main_text, files) ",
                );
                q.push_values([v], |mut b, v| {
                    b.push_bind(v.version.clone())
                        .push_bind(v.loaded_at)
                        .push_bind(v.loaded_by.clone())
                        .push_bind(v.main_name.clone())
                        .push_bind(v.main_text.clone())
                        .push_bind(files.clone());
                });
                q.push($insert_or_ignore);
                q.build().execute(&self.pool).await?;
                Ok(())
            }

            async fn config_versions(&self) -> Result<Vec<ConfigVersionRow>> {
                let rows = sqlx::query(
                    "SELECT version, loaded_at, loaded_by, main_name FROM config_versions ORDER BY loaded_at, version",
                )
                .fetch_all(&self.pool)
                .await?;
                rows.iter().map(|r| version_row(r, false)).collect()
            }

            async fn config_version(&self, version: &str) -> Result<Option<ConfigVersionRow>> {
                let mut q = QueryBuilder::<$db>::new("SELECT * FROM config_versions WHERE version = ");
                q.push_bind(version.to_string());
                let row = q.build().fetch_optional(&self.pool).await?;
                row.as_ref().map(|r| version_row(r, true)).transpose()
            }
        }
    };
}

history_backend!(
    SqliteStore,
    sqlx::Sqlite,
    sqlx::sqlite::SqliteRow,
    " ON CONFLICT (version) DO NOTHING"
);
history_backend!(
    PgStore,
    sqlx::Postgres,
    sqlx::postgres::PgRow,
    " ON CONFLICT (version) DO NOTHING"
);

pub(crate) const INSERT_EVENT: &str = "INSERT INTO routing_events (state_version, idx, at, kind, lead_id, actor, config_version, input, effects, result, people) ";

/// Events read per page by [`HistoryReader::events_after`].
pub const EVENT_PAGE: i64 = 2_000;

enum ReadConn {
    Sqlite(sqlx::SqliteConnection),
    Pg(sqlx::PgConnection),
}

/// A read-only view of the history, in one snapshot: SQLite opened read-only (a WAL
/// reader: the service keeps writing), PostgreSQL in a `REPEATABLE READ, READ ONLY`
/// transaction. Runs no migration.
pub struct HistoryReader {
    conn: ReadConn,
}

macro_rules! on_conn {
    ($self:ident, $c:ident, $db:ident, $body:block) => {
        match &mut $self.conn {
            ReadConn::Sqlite($c) => {
                type $db = sqlx::Sqlite;
                $body
            }
            ReadConn::Pg($c) => {
                type $db = sqlx::Postgres;
                $body
            }
        }
    };
}

fn event_of<R: Row>(r: &R) -> Result<StoredEvent>
where
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    Ok(StoredEvent {
        state_version: r.try_get("state_version")?,
        idx: r.try_get("idx")?,
        row: EventRow {
            at: r.try_get("at")?,
            kind: r.try_get("kind")?,
            lead_id: r.try_get("lead_id")?,
            actor: r.try_get("actor")?,
            config_version: r.try_get("config_version")?,
            input: r.try_get("input")?,
            effects: r.try_get("effects")?,
            result: r.try_get("result")?,
            people: r.try_get("people")?,
        },
    })
}

fn checkpoint_of<R: Row>(r: &R) -> Result<Checkpoint>
where
    for<'a> i64: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> String: sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    for<'a> &'a str: sqlx::ColumnIndex<R>,
{
    Ok(Checkpoint {
        state_version: r.try_get("state_version")?,
        at: r.try_get("at")?,
        state: r.try_get("state")?,
    })
}

impl HistoryReader {
    /// Open `sqlite://PATH` (which must exist) or `postgres://…` read-only and start the
    /// snapshot every read of this reader sees.
    pub async fn open(url: &str) -> Result<HistoryReader> {
        let timeout = std::time::Duration::from_secs(30);
        let conn = if url.starts_with("sqlite:") {
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?
                .read_only(true)
                .create_if_missing(false)
                .busy_timeout(std::time::Duration::from_secs(10));
            let mut c = tokio::time::timeout(timeout, sqlx::SqliteConnection::connect_with(&opts))
                .await
                .map_err(|_| StoreError::Corrupt(format!("connecting to {url} timed out")))??;
            // A deferred BEGIN: the snapshot starts at the first read and never takes the
            // write lock.
            sqlx::query("BEGIN").execute(&mut c).await?;
            ReadConn::Sqlite(c)
        } else if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let opts = sqlx::postgres::PgConnectOptions::from_str(url)?;
            let mut c = tokio::time::timeout(timeout, sqlx::PgConnection::connect_with(&opts))
                .await
                .map_err(|_| StoreError::Corrupt("connecting to PostgreSQL timed out".into()))??;
            sqlx::query("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY")
                .execute(&mut c)
                .await?;
            ReadConn::Pg(c)
        } else {
            return Err(StoreError::Url(url.to_string()));
        };
        let mut r = HistoryReader { conn };
        // The snapshot is taken by the first read: take it now.
        r.first_checkpoint().await?;
        Ok(r)
    }

    /// The earliest checkpoint: history starts there.
    pub async fn first_checkpoint(&mut self) -> Result<Option<Checkpoint>> {
        on_conn!(self, c, Db, {
            let row = QueryBuilder::<Db>::new(
                "SELECT state_version, at, state FROM state_checkpoints ORDER BY state_version LIMIT 1",
            )
            .build()
            .fetch_optional(&mut *c)
            .await?;
            row.as_ref().map(checkpoint_of).transpose()
        })
    }

    /// The last checkpoint taken before `at` (microseconds), if any.
    pub async fn checkpoint_before(&mut self, at: i64) -> Result<Option<Checkpoint>> {
        on_conn!(self, c, Db, {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT state_version, at, state FROM state_checkpoints WHERE at < ",
            );
            q.push_bind(at).push(" ORDER BY state_version DESC LIMIT 1");
            let row = q.build().fetch_optional(&mut *c).await?;
            row.as_ref().map(checkpoint_of).transpose()
        })
    }

    /// Up to [`EVENT_PAGE`] events after (`version`, `idx`) in commit order, at or before
    /// `until` (microseconds) when given.
    pub async fn events_after(
        &mut self,
        version: i64,
        idx: i64,
        until: Option<i64>,
    ) -> Result<Vec<StoredEvent>> {
        on_conn!(self, c, Db, {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT state_version, idx, at, kind, lead_id, actor, config_version, input, effects, result, people FROM routing_events WHERE (state_version > ",
            );
            q.push_bind(version)
                .push(" OR (state_version = ")
                .push_bind(version)
                .push(" AND idx > ")
                .push_bind(idx)
                .push("))");
            if let Some(u) = until {
                q.push(" AND at <= ").push_bind(u);
            }
            q.push(" ORDER BY state_version, idx LIMIT ")
                .push_bind(EVENT_PAGE);
            let rows = q.build().fetch_all(&mut *c).await?;
            rows.iter().map(event_of).collect()
        })
    }

    /// Events up to and including `version`, in commit order, after (`after`, `idx`):
    /// the part of the history before a checkpoint (people are rebuilt from it).
    pub async fn events_through(
        &mut self,
        after: (i64, i64),
        version: i64,
    ) -> Result<Vec<StoredEvent>> {
        on_conn!(self, c, Db, {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT state_version, idx, at, kind, lead_id, actor, config_version, input, effects, result, people FROM routing_events WHERE state_version <= ",
            );
            q.push_bind(version)
                .push(" AND (state_version > ")
                .push_bind(after.0)
                .push(" OR (state_version = ")
                .push_bind(after.0)
                .push(" AND idx > ")
                .push_bind(after.1)
                .push(")) ORDER BY state_version, idx LIMIT ")
                .push_bind(EVENT_PAGE);
            let rows = q.build().fetch_all(&mut *c).await?;
            rows.iter().map(event_of).collect()
        })
    }

    /// Routing events in the window (the replay's denominator, for its progress bar).
    pub async fn count_routes(&mut self, since: Option<i64>, until: Option<i64>) -> Result<i64> {
        on_conn!(self, c, Db, {
            let mut q =
                QueryBuilder::<Db>::new("SELECT COUNT(*) FROM routing_events WHERE kind = 'route'");
            if let Some(s) = since {
                q.push(" AND at >= ").push_bind(s);
            }
            if let Some(u) = until {
                q.push(" AND at <= ").push_bind(u);
            }
            let row = q.build().fetch_one(&mut *c).await?;
            Ok(row.try_get::<i64, _>(0)?)
        })
    }

    pub async fn config_version(&mut self, version: &str) -> Result<Option<ConfigVersionRow>> {
        on_conn!(self, c, Db, {
            let mut q = QueryBuilder::<Db>::new("SELECT * FROM config_versions WHERE version = ");
            q.push_bind(version.to_string());
            let row = q.build().fetch_optional(&mut *c).await?;
            row.as_ref().map(|r| version_row(r, true)).transpose()
        })
    }

    /// The decision and trace stored for `lead_id`'s routing at `at` (microseconds; the
    /// lead's first routing decision when none was made at that instant).
    pub async fn stored_decision(
        &mut self,
        lead_id: &str,
        at: i64,
    ) -> Result<Option<(crate::JsonText, crate::JsonText)>> {
        on_conn!(self, c, Db, {
            let mut q = QueryBuilder::<Db>::new(
                "SELECT decision, trace, decision_z, trace_z FROM decisions WHERE lead_id = ",
            );
            q.push_bind(lead_id.to_string())
                .push(" AND kind IN ('route', 'resubmission', 'recycle') ORDER BY CASE WHEN decided_at = ")
                .push_bind(at)
                .push(" THEN 0 ELSE 1 END, id LIMIT 1");
            let Some(r) = q.build().fetch_optional(&mut *c).await? else {
                return Ok(None);
            };
            let decision = crate::packed::read(r.try_get("decision_z")?, r.try_get("decision")?)?;
            let trace = crate::packed::read(r.try_get("trace_z")?, r.try_get("trace")?)?;
            Ok(decision.zip(trace))
        })
    }

    /// End the snapshot.
    pub async fn close(mut self) -> Result<()> {
        on_conn!(self, c, Db, {
            let _ = std::marker::PhantomData::<Db>;
            sqlx::query("ROLLBACK").execute(&mut *c).await?;
            Ok(())
        })
    }
}
