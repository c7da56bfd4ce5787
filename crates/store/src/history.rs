//! History good enough to replay (OPS-5): the config versions that served, the routing
//! events (every committed change to routing state, in commit order, with what a routing
//! decision was made from) and checkpoints of the routing state.
//!
//! Events and checkpoints are written by the routing transaction (`BatchWrite::events`,
//! `BatchWrite::checkpoint`; `pg_tx.rs`, `sqlite_batch.rs`), so they commit with the
//! changes they record. Config versions are written by [`ConfigHistory::record_config_version`]
//! before a version serves its first lead. [`HistoryReader`](crate::HistoryReader) reads them back for
//! `leadrouter replay` in one read-only snapshot, on a connection of its own that runs no
//! migration and takes no lock a running service would wait for.

use crate::{PgStore, Result, SqliteStore, StoreError};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use sqlx::{QueryBuilder, Row};
use std::collections::BTreeMap;

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
    /// JSON: what a routing decision was made from, in rows written before
    /// `input_packed` (and in rows an erasure scrubbed).
    pub input: Option<String>,
    /// What a routing decision was made from, packed
    /// (`leadrouter_core::record::RouteInput::pack`): what the service writes now, in
    /// place of `input`.
    pub input_packed: Option<Vec<u8>>,
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

pub(crate) const INSERT_EVENT: &str = "INSERT INTO routing_events (state_version, idx, at, kind, lead_id, actor, config_version, input, effects, result, people, input_packed) ";
