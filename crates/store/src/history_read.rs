//! [`HistoryReader`]: the history read back for a replay, in one read-only snapshot, on a
//! connection of its own that runs no migration and takes no lock a running service would
//! wait for.
//!
//! SQLite is read through `rusqlite` (the same library as the routing writer): a replay
//! reads every event of its window once, and borrowing each column from SQLite's own row
//! (no copy per value, no hop to a connection thread per row, the file memory-mapped) is
//! most of what lets it keep pace with the decisions it re-makes. PostgreSQL is read with
//! `sqlx`, streaming each page's rows and borrowing their columns the same way.
//!
//! On SQLite, events are read in rowid order, the order they were inserted: the single
//! writer inserts them in commit order, and walking the table itself costs about half
//! of walking the primary key and looking each row up. Each scan checks that the order
//! holds (every event after the one before it); if it does not, the scan fails with
//! [`StoreError::HistoryOrder`] and the reader reads by key from then on.

use crate::event_scan::{
    EventRange, EventRef, RowidCursor, SCANS, SCANS_BEFORE_0029, Scans, corrupt, pg_scan,
    scan_by_rowid, scan_sql, sqlite_scan,
};
use crate::history::{Checkpoint, ConfigVersionRow, StoredEvent};
use crate::{Result, StoreError};
use sqlx::{Connection, Row};
use std::collections::BTreeMap;
use std::str::FromStr;

/// Events read per page by [`HistoryReader::events_after`].
pub const EVENT_PAGE: i64 = 2_000;

enum ReadConn {
    Sqlite(rusqlite::Connection),
    Pg(sqlx::PgConnection),
}

/// Let PostgreSQL's planner sort or not. The event scan reads the primary key in order, a
/// page at a time; on a table whose statistics lag its growth (a service storing leads
/// faster than autovacuum analyses them) the planner chose a bitmap scan of every event
/// after the cursor and an external sort per page instead: 370 ms a page at 130,000
/// events against 10 ms by the key, quadratic over a replay. Sorting is off for the
/// scan only: the reader's other queries (a stored decision's trace) sort a few rows.
async fn pg_sorts(c: &mut sqlx::PgConnection, on: bool) -> Result<()> {
    let sql = if on {
        "SET LOCAL enable_sort = on"
    } else {
        "SET LOCAL enable_sort = off"
    };
    sqlx::query(sql).execute(c).await?;
    Ok(())
}

/// A read-only view of the history, in one snapshot: SQLite opened read-only (a WAL
/// reader: the service keeps writing), PostgreSQL in a `REPEATABLE READ, READ ONLY`
/// transaction. Runs no migration.
pub struct HistoryReader {
    conn: ReadConn,
    /// SQLite: scan in rowid order (false once a scan found it is not commit order).
    by_rowid: bool,
    /// Where the last rowid-order scan's last event was, for the next to go on from.
    cursor: Option<RowidCursor>,
    /// The event scans for the table's columns.
    scans: Scans,
    /// Where the events at or before the last `until` asked for end.
    end: Option<WindowEnd>,
}

/// Where the events at or before `until` end in the table: the last one's rowid (SQLite)
/// and the last state version holding one (found when a scan by key needs it). A scan
/// of a window stops there instead of reading, and leaving out, every later event: a
/// window at the start of a long history read all of it.
#[derive(Debug, Clone, Copy)]
struct WindowEnd {
    until: i64,
    /// None: not looked up yet (`Some(None)`: no event is that early).
    rowid: Option<Option<i64>>,
    version: Option<Option<i64>>,
}

impl HistoryReader {
    /// Open `sqlite://PATH` (which must exist) or `postgres://…` read-only and start the
    /// snapshot every read of this reader sees.
    pub async fn open(url: &str) -> Result<HistoryReader> {
        let timeout = std::time::Duration::from_secs(30);
        let conn = if url.starts_with("sqlite:") {
            let opts = sqlx::sqlite::SqliteConnectOptions::from_str(url)?;
            let path = opts.get_filename().to_path_buf();
            let db = rusqlite::Connection::open_with_flags(
                &path,
                rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY
                    | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            db.busy_timeout(std::time::Duration::from_secs(10))?;
            // Read the file through a memory map (no copy per page read) with a page
            // cache large enough for the primary key's interior pages. A deferred BEGIN:
            // the snapshot starts at the first read and never takes the write lock.
            db.execute_batch(
                "PRAGMA query_only = ON;
                 PRAGMA mmap_size = 2147418112;
                 PRAGMA cache_size = -65536;
                 BEGIN;",
            )?;
            ReadConn::Sqlite(db)
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
        let mut r = HistoryReader {
            conn,
            by_rowid: true,
            cursor: None,
            scans: SCANS,
            end: None,
        };
        if !r.has_packed_inputs().await? {
            r.scans = SCANS_BEFORE_0029;
        }
        // The snapshot was taken by the first read (the column check above); every
        // later read sees it.
        r.first_checkpoint().await?;
        Ok(r)
    }

    async fn checkpoint(
        &mut self,
        sql_sqlite: &str,
        sql_pg: &'static str,
        at: Option<i64>,
    ) -> Result<Option<Checkpoint>> {
        match &mut self.conn {
            ReadConn::Sqlite(db) => {
                let mut st = db.prepare_cached(sql_sqlite)?;
                let mut rows = match at {
                    Some(a) => st.query([a])?,
                    None => st.query([])?,
                };
                let Some(r) = rows.next()? else {
                    return Ok(None);
                };
                Ok(Some(Checkpoint {
                    state_version: r.get(0)?,
                    at: r.get(1)?,
                    state: r.get(2)?,
                }))
            }
            ReadConn::Pg(c) => {
                let mut q = sqlx::query(sql_pg);
                if let Some(a) = at {
                    q = q.bind(a);
                }
                let Some(r) = q.fetch_optional(&mut *c).await? else {
                    return Ok(None);
                };
                Ok(Some(Checkpoint {
                    state_version: r.try_get(0)?,
                    at: r.try_get(1)?,
                    state: r.try_get(2)?,
                }))
            }
        }
    }

    /// Whether `routing_events` has `input_packed` (migration 0029).
    async fn has_packed_inputs(&mut self) -> Result<bool> {
        match &mut self.conn {
            ReadConn::Sqlite(db) => Ok(db
                .prepare(
                    "SELECT COUNT(*) FROM pragma_table_info('routing_events') WHERE name = 'input_packed'",
                )?
                .query_row([], |r| r.get::<_, i64>(0))?
                > 0),
            ReadConn::Pg(c) => Ok(sqlx::query_scalar(
                "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() AND table_name = 'routing_events' AND column_name = 'input_packed')",
            )
            .fetch_one(&mut *c)
            .await?),
        }
    }

    /// The earliest checkpoint: history starts there.
    pub async fn first_checkpoint(&mut self) -> Result<Option<Checkpoint>> {
        const SQL: &str =
            "SELECT state_version, at, state FROM state_checkpoints ORDER BY state_version LIMIT 1";
        self.checkpoint(SQL, SQL, None).await
    }

    /// The last checkpoint taken before `at` (microseconds), if any.
    pub async fn checkpoint_before(&mut self, at: i64) -> Result<Option<Checkpoint>> {
        self.checkpoint(
            "SELECT state_version, at, state FROM state_checkpoints WHERE at < ?1 ORDER BY state_version DESC LIMIT 1",
            "SELECT state_version, at, state FROM state_checkpoints WHERE at < $1 ORDER BY state_version DESC LIMIT 1",
            Some(at),
        )
        .await
    }

    /// Read the events of `range` in commit order, handing each to `f` borrowed from the
    /// row (no copy); `f` returns false to stop. Returns the events read and the
    /// (state version, idx) of the last one.
    ///
    /// On SQLite a range without `through` is read in rowid order; when that order is
    /// found not to be commit order the scan fails with [`StoreError::HistoryOrder`]
    /// (events it handed over, in this scan or earlier ones, may have skipped some) and
    /// every later scan reads by key: read the history again from its start. A range with
    /// `until` reads up to the last event at or before it and no further (its rowid or state
    /// version is looked up once per `until`).
    pub async fn scan_events(
        &mut self,
        range: EventRange,
        f: &mut (dyn FnMut(EventRef<'_>) -> bool + Send),
    ) -> Result<(u64, Option<(i64, i64)>)> {
        let rowid_order =
            matches!(self.conn, ReadConn::Sqlite(_)) && self.by_rowid && range.through.is_none();
        let mut range = range;
        // The last rowid (storage order) or state version (by key) the window reaches.
        let mut last_rowid = i64::MAX;
        if let Some(until) = range.until {
            let end = if rowid_order {
                self.window_end(until, true).await?.rowid
            } else {
                self.window_end(until, false).await?.version
            };
            match end.flatten() {
                None => return Ok((0, None)),
                Some(e) if rowid_order => last_rowid = e,
                Some(e) => range.through = Some(range.through.map_or(e, |t| t.min(e))),
            }
        }
        if let ReadConn::Sqlite(db) = &self.conn
            && rowid_order
        {
            let found = scan_by_rowid(
                db,
                self.scans.sqlite_rowid,
                self.cursor,
                range,
                last_rowid,
                f,
            );
            self.cursor = match &found {
                Ok((_, c)) => *c,
                Err(_) => None,
            };
            if let Err(StoreError::HistoryOrder(_)) = &found {
                self.by_rowid = false;
            }
            return found.map(|(n, c)| (n, c.map(|c| c.key)));
        }
        match &mut self.conn {
            ReadConn::Sqlite(db) => sqlite_scan(db, self.scans.sqlite, range, f),
            ReadConn::Pg(c) => {
                pg_sorts(c, false).await?;
                let read = pg_scan(c, self.scans.pg, range, f).await;
                pg_sorts(c, true).await?;
                read
            }
        }
    }

    /// [`WindowEnd`] for `until`, its rowid or its state version looked up if not yet.
    async fn window_end(&mut self, until: i64, rowid: bool) -> Result<WindowEnd> {
        let mut end = match self.end {
            Some(e) if e.until == until => e,
            _ => WindowEnd {
                until,
                rowid: None,
                version: None,
            },
        };
        match &mut self.conn {
            ReadConn::Sqlite(db) => {
                let max = |sql: &str| -> Result<Option<i64>> {
                    Ok(db.prepare_cached(sql)?.query_row([until], |r| r.get(0))?)
                };
                if rowid && end.rowid.is_none() {
                    end.rowid = Some(max("SELECT MAX(rowid) FROM routing_events WHERE at <= ?1")?);
                }
                if !rowid && end.version.is_none() {
                    end.version = Some(max(
                        "SELECT MAX(state_version) FROM routing_events WHERE at <= ?1",
                    )?);
                }
            }
            ReadConn::Pg(c) => {
                if end.version.is_none() {
                    end.version = Some(
                        sqlx::query_scalar(
                            "SELECT MAX(state_version) FROM routing_events WHERE at <= $1",
                        )
                        .bind(until)
                        .fetch_one(&mut *c)
                        .await?,
                    );
                }
            }
        }
        self.end = Some(end);
        Ok(end)
    }

    async fn events(&mut self, range: EventRange) -> Result<Vec<StoredEvent>> {
        let mut out = Vec::new();
        self.scan_events(range, &mut |e| {
            out.push(e.to_stored());
            true
        })
        .await?;
        Ok(out)
    }

    /// Up to [`EVENT_PAGE`] events after (`version`, `idx`) in commit order, at or before
    /// `until` (microseconds) when given.
    pub async fn events_after(
        &mut self,
        version: i64,
        idx: i64,
        until: Option<i64>,
    ) -> Result<Vec<StoredEvent>> {
        self.events(EventRange {
            after: (version, idx),
            through: None,
            until,
            limit: EVENT_PAGE,
        })
        .await
    }

    /// Events up to and including `version`, in commit order, after (`after`, `idx`):
    /// the part of the history before a checkpoint (people are rebuilt from it).
    pub async fn events_through(
        &mut self,
        after: (i64, i64),
        version: i64,
    ) -> Result<Vec<StoredEvent>> {
        self.events(EventRange {
            after,
            through: Some(version),
            until: None,
            limit: EVENT_PAGE,
        })
        .await
    }

    /// The database's plan for a page of the event scan by key (PostgreSQL's `EXPLAIN`,
    /// SQLite's `EXPLAIN QUERY PLAN`; SQLite's rowid-order scan reads the table in storage
    /// order and needs none), as text: what an operator (or a test) reads to see that a
    /// replay walks the primary key rather than sorting the history.
    pub async fn scan_plan(&mut self) -> Result<String> {
        let packed = self.scans.pg == SCANS.pg;
        match &mut self.conn {
            ReadConn::Sqlite(db) => {
                let mut st = db.prepare(&format!("EXPLAIN QUERY PLAN {}", self.scans.sqlite))?;
                let rows = st
                    .query_map(rusqlite::params![0, 0, i64::MAX, i64::MAX, 1024], |r| {
                        r.get::<_, String>(3)
                    })?;
                Ok(rows.collect::<std::result::Result<Vec<_>, _>>()?.join("\n"))
            }
            ReadConn::Pg(c) => {
                macro_rules! explain {
                    ($p:literal) => {
                        concat!(
                            "EXPLAIN ",
                            scan_sql!(
                                $p,
                                "0",
                                "0",
                                "9223372036854775807",
                                "9223372036854775807",
                                "8192"
                            )
                        )
                    };
                }
                let sql = if packed {
                    explain!("input_packed")
                } else {
                    explain!("NULL::bytea")
                };
                pg_sorts(c, false).await?;
                let lines: Vec<String> = sqlx::query_scalar(sql).fetch_all(&mut *c).await?;
                pg_sorts(c, true).await?;
                Ok(lines.join("\n"))
            }
        }
    }

    /// Whether this reads PostgreSQL (else SQLite).
    pub fn is_postgres(&self) -> bool {
        matches!(self.conn, ReadConn::Pg(_))
    }

    /// About how many events the window holds: a replay's progress total and how large
    /// it sizes its maps. SQLite counts them on the index of their instants (a million
    /// in tens of milliseconds); PostgreSQL gives the planner's estimate, since a count
    /// of a table loaded since its last VACUUM visits every row (7 s for a million, cold).
    pub async fn count_events(&mut self, since: Option<i64>, until: Option<i64>) -> Result<i64> {
        let (s, u) = (since.unwrap_or(i64::MIN), until.unwrap_or(i64::MAX));
        match &mut self.conn {
            ReadConn::Sqlite(db) => Ok(db
                .prepare_cached("SELECT COUNT(*) FROM routing_events WHERE at >= ?1 AND at <= ?2")?
                .query_row([s, u], |r| r.get(0))?),
            ReadConn::Pg(c) => {
                // Integers, so written into the text; EXPLAIN takes no parameters.
                let plan: String = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "EXPLAIN SELECT 1 FROM routing_events WHERE at >= {s} AND at <= {u}"
                )))
                .fetch_one(&mut *c)
                .await?;
                Ok(planned_rows(&plan).unwrap_or(0))
            }
        }
    }

    pub async fn config_version(&mut self, version: &str) -> Result<Option<ConfigVersionRow>> {
        macro_rules! sql {
            ($p:literal) => {
                concat!(
                    "SELECT version, loaded_at, loaded_by, main_name, main_text, files ",
                    "FROM config_versions WHERE version = ",
                    $p
                )
            };
        }
        let (row, files) = match &mut self.conn {
            ReadConn::Sqlite(db) => {
                let mut st = db.prepare_cached(sql!("?1"))?;
                let mut rows = st.query([version])?;
                let Some(r) = rows.next()? else {
                    return Ok(None);
                };
                let row = ConfigVersionRow {
                    version: r.get(0)?,
                    loaded_at: r.get(1)?,
                    loaded_by: r.get(2)?,
                    main_name: r.get(3)?,
                    main_text: r.get(4)?,
                    files: BTreeMap::new(),
                };
                (row, r.get::<_, String>(5)?)
            }
            ReadConn::Pg(c) => {
                let Some(r) = sqlx::query(sql!("$1"))
                    .bind(version)
                    .fetch_optional(&mut *c)
                    .await?
                else {
                    return Ok(None);
                };
                let row = ConfigVersionRow {
                    version: r.try_get(0)?,
                    loaded_at: r.try_get(1)?,
                    loaded_by: r.try_get(2)?,
                    main_name: r.try_get(3)?,
                    main_text: r.try_get(4)?,
                    files: BTreeMap::new(),
                };
                (row, r.try_get::<String, _>(5)?)
            }
        };
        let files =
            serde_json::from_str(&files).map_err(|e| corrupt("config_versions.files", e))?;
        Ok(Some(ConfigVersionRow { files, ..row }))
    }

    /// The decision and trace stored for `lead_id`'s routing at `at` (microseconds; the
    /// lead's first routing decision when none was made at that instant).
    pub async fn stored_decision(
        &mut self,
        lead_id: &str,
        at: i64,
    ) -> Result<Option<(crate::JsonText, crate::JsonText)>> {
        macro_rules! sql {
            ($a:literal, $b:literal) => {
                concat!(
                    "SELECT decision, trace, decision_z, trace_z FROM decisions WHERE lead_id = ",
                    $a,
                    " AND kind IN ('route', 'resubmission', 'recycle') ",
                    "ORDER BY CASE WHEN decided_at = ",
                    $b,
                    " THEN 0 ELSE 1 END, id LIMIT 1"
                )
            };
        }
        type Cols = (
            Option<String>,
            Option<String>,
            Option<Vec<u8>>,
            Option<Vec<u8>>,
        );
        let cols: Option<Cols> = match &mut self.conn {
            ReadConn::Sqlite(db) => {
                let mut st = db.prepare_cached(sql!("?1", "?2"))?;
                let mut rows = st.query(rusqlite::params![lead_id, at])?;
                match rows.next()? {
                    Some(r) => Some((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
                    None => None,
                }
            }
            ReadConn::Pg(c) => {
                let r = sqlx::query(sql!("$1", "$2"))
                    .bind(lead_id)
                    .bind(at)
                    .fetch_optional(&mut *c)
                    .await?;
                match r {
                    Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?, r.try_get(3)?)),
                    None => None,
                }
            }
        };
        let Some((d, t, dz, tz)) = cols else {
            return Ok(None);
        };
        let decision = crate::packed::read(dz, d)?;
        let trace = crate::packed::read(tz, t)?;
        Ok(decision.zip(trace))
    }

    /// End the snapshot.
    pub async fn close(self) -> Result<()> {
        match self.conn {
            ReadConn::Sqlite(db) => {
                db.execute_batch("ROLLBACK")?;
                db.close().map_err(|(_, e)| e)?;
            }
            ReadConn::Pg(mut c) => {
                sqlx::query("ROLLBACK").execute(&mut c).await?;
                c.close().await?;
            }
        }
        Ok(())
    }
}

/// The row estimate on the first line of PostgreSQL's `EXPLAIN` text
/// (`Index Only Scan … (cost=0.42..2.64 rows=1000000 width=0)`).
fn planned_rows(plan: &str) -> Option<i64> {
    let rest = &plan[plan.find(" rows=")? + 6..];
    rest[..rest.find(|c: char| !c.is_ascii_digit())?]
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A SQLite file with the two tables a reader opens, and events inserted in the
    /// order given (as (state version, idx, at)).
    fn history(name: &str, events: &[(i64, i64, i64)]) -> (std::path::PathBuf, String) {
        let path = std::env::temp_dir().join(format!(
            "leadrouter-history-{name}-{}.db",
            std::process::id()
        ));
        let _ = std::fs::remove_file(&path);
        let db = rusqlite::Connection::open(&path).unwrap();
        db.execute_batch(
            "CREATE TABLE state_checkpoints (state_version BIGINT PRIMARY KEY, at BIGINT, state TEXT);
             CREATE TABLE routing_events (state_version BIGINT NOT NULL, idx BIGINT NOT NULL,
               at BIGINT NOT NULL, kind TEXT NOT NULL, lead_id TEXT, actor TEXT,
               config_version TEXT NOT NULL, input TEXT, effects TEXT NOT NULL, result TEXT,
               people TEXT, PRIMARY KEY (state_version, idx));",
        )
        .unwrap();
        for (v, i, at) in events {
            db.execute(
                "INSERT INTO routing_events (state_version, idx, at, kind, config_version, effects)
                 VALUES (?1, ?2, ?3, 'route', 'v1', '[]')",
                [v, i, at],
            )
            .unwrap();
        }
        let url = format!("sqlite://{}", path.display());
        (path, url)
    }

    /// Every page of a scan from `after`, `limit` events a page, as the replay reads.
    async fn pages(
        r: &mut HistoryReader,
        after: (i64, i64),
        until: Option<i64>,
        limit: i64,
    ) -> Result<Vec<(i64, i64)>> {
        let mut out = Vec::new();
        let mut after = after;
        loop {
            let (n, last) = r
                .scan_events(
                    EventRange {
                        after,
                        through: None,
                        until,
                        limit,
                    },
                    &mut |e| {
                        out.push((e.state_version, e.idx));
                        true
                    },
                )
                .await?;
            match last {
                Some(l) if n == limit as u64 => after = l,
                _ => return Ok(out),
            }
        }
    }

    #[test]
    fn the_planners_row_estimate_is_read_from_explain() {
        let line = "Index Only Scan using routing_events_at on routing_events  (cost=0.42..28743.42 rows=1000000 width=4)";
        assert_eq!(planned_rows(line), Some(1_000_000));
        assert_eq!(
            planned_rows("Result  (cost=0.00..0.01 rows=1 width=4)"),
            Some(1)
        );
        assert_eq!(planned_rows("no estimate"), None);
    }

    #[tokio::test]
    async fn events_in_storage_order_are_read_page_by_page_from_any_key() {
        let evs = [
            (1, 0, 10),
            (1, 1, 10),
            (2, 0, 20),
            (3, 0, 99),
            (3, 1, 30),
            (4, 0, 40),
        ];
        let (path, url) = history("ordered", &evs);
        let mut r = HistoryReader::open(&url).await.unwrap();
        let all: Vec<_> = evs.iter().map(|e| (e.0, e.1)).collect();
        assert_eq!(
            pages(&mut r, (i64::MIN, i64::MIN), None, 2).await.unwrap(),
            all
        );
        assert_eq!(pages(&mut r, (1, 1), None, 4).await.unwrap(), all[2..]);
        // `until` leaves out a later instant but reads on past it.
        assert_eq!(
            pages(&mut r, (0, 0), Some(40), 1).await.unwrap(),
            [(1, 0), (1, 1), (2, 0), (3, 1), (4, 0)]
        );
        assert!(pages(&mut r, (4, 0), None, 3).await.unwrap().is_empty());
        r.close().await.unwrap();
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn a_window_stops_at_its_last_event_instead_of_reading_the_rest() {
        let (path, url) = history("window", &[(1, 0, 10), (2, 0, 20), (3, 0, 15), (4, 0, 40)]);
        // After the window, an event that cannot be read (text that is not UTF-8):
        // reaching it fails the scan, so a window must stop before it.
        rusqlite::Connection::open(&path)
            .unwrap()
            .execute_batch(
                "INSERT INTO routing_events (state_version, idx, at, kind, config_version, effects)
                 VALUES (5, 0, 50, CAST(x'ff' AS TEXT), 'v1', '[]')",
            )
            .unwrap();
        let mut r = HistoryReader::open(&url).await.unwrap();
        assert!(
            pages(&mut r, (0, 0), None, 2).await.is_err(),
            "the whole table"
        );
        for limit in [1, 2, 10] {
            assert_eq!(
                pages(&mut r, (0, 0), Some(20), limit).await.unwrap(),
                [(1, 0), (2, 0), (3, 0)],
                "in storage order, {limit} a page"
            );
        }
        assert!(pages(&mut r, (0, 0), Some(5), 2).await.unwrap().is_empty());
        // By key (as after storage order was found broken): up to the last state
        // version the window reaches.
        r.by_rowid = false;
        assert_eq!(
            pages(&mut r, (0, 0), Some(40), 2).await.unwrap(),
            [(1, 0), (2, 0), (3, 0), (4, 0)]
        );
        assert!(pages(&mut r, (0, 0), Some(45), 10).await.is_ok());
        assert!(pages(&mut r, (0, 0), Some(50), 10).await.is_err());
        r.close().await.unwrap();
        let _ = std::fs::remove_file(path);
    }

    #[tokio::test]
    async fn events_stored_out_of_commit_order_fail_the_scan_then_read_by_key() {
        let (path, url) = history(
            "unordered",
            &[(1, 0, 10), (3, 0, 30), (2, 0, 20), (4, 0, 40)],
        );
        let mut r = HistoryReader::open(&url).await.unwrap();
        let err = pages(&mut r, (0, 0), None, 10).await.unwrap_err();
        assert!(
            matches!(&err, StoreError::HistoryOrder(w) if w == "event 2/0 is stored after 3/0"),
            "{err}"
        );
        // From then on, by key.
        assert_eq!(
            pages(&mut r, (0, 0), None, 2).await.unwrap(),
            [(1, 0), (2, 0), (3, 0), (4, 0)]
        );
        r.close().await.unwrap();
        let _ = std::fs::remove_file(path);
    }
}
