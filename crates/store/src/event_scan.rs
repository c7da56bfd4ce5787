//! The replay history's event scan, one page at a time, on either backend: the
//! statements (by key, or on SQLite by rowid, the table's storage order) and the loops
//! that hand each row's columns, borrowed, to a callback. [`HistoryReader`] chooses
//! which scan a range takes and where a window ends.
//!
//! [`HistoryReader`]: crate::HistoryReader

use crate::history::{EventRow, StoredEvent};
use crate::{Result, StoreError};
use futures_util::TryStreamExt;
use sqlx::Row;

/// A routing event borrowed from the row being read: what
/// [`HistoryReader::scan_events`](crate::HistoryReader::scan_events)
/// hands its callback (see [`EventRow`] for the columns).
#[derive(Debug, Clone, Copy)]
pub struct EventRef<'a> {
    pub state_version: i64,
    pub idx: i64,
    pub at: i64,
    pub kind: &'a str,
    pub lead_id: Option<&'a str>,
    pub actor: Option<&'a str>,
    pub config_version: &'a str,
    /// JSON, in rows written before `input_packed`.
    pub input: Option<&'a str>,
    /// What a routing decision was made from, packed
    /// (`leadrouter_core::record::RouteInput::unpack`).
    pub input_packed: Option<&'a [u8]>,
    pub effects: &'a str,
    pub result: Option<&'a str>,
    pub people: Option<&'a str>,
}

impl EventRef<'_> {
    /// The event with its columns copied, as [`HistoryReader::events_after`](crate::HistoryReader::events_after) returns it.
    pub fn to_stored(&self) -> StoredEvent {
        let s = |v: Option<&str>| v.map(str::to_string);
        StoredEvent {
            state_version: self.state_version,
            idx: self.idx,
            row: EventRow {
                at: self.at,
                kind: self.kind.to_string(),
                lead_id: s(self.lead_id),
                actor: s(self.actor),
                config_version: self.config_version.to_string(),
                input: s(self.input),
                input_packed: self.input_packed.map(<[u8]>::to_vec),
                effects: self.effects.to_string(),
                result: s(self.result),
                people: s(self.people),
            },
        }
    }
}

/// Which events a scan reads, in commit order: those after `after` (state version, idx),
/// up to and including state version `through` and at or before `until` (microseconds)
/// when given, at most `limit`.
#[derive(Debug, Clone, Copy)]
pub struct EventRange {
    pub after: (i64, i64),
    pub through: Option<i64>,
    pub until: Option<i64>,
    pub limit: i64,
}

/// The rowid-order scan: every event after a rowid (the order is checked as it reads).
macro_rules! scan_rowid_sql {
    ($p:literal) => {
        concat!(
            "SELECT rowid, state_version, idx, at, kind, lead_id, actor, config_version, input, effects, result, people, ",
            $p,
            " FROM routing_events WHERE rowid > ?1 AND rowid <= ?2 ORDER BY rowid"
        )
    };
}

/// The scan's statement, one text per backend so it is prepared once: a row-value
/// comparison, so both backends seek the primary key to the cursor.
macro_rules! scan_sql {
    ($a:literal, $b:literal, $c:literal, $d:literal, $e:literal) => {
        scan_sql!("input_packed", $a, $b, $c, $d, $e)
    };
    ($p:literal, $a:literal, $b:literal, $c:literal, $d:literal, $e:literal) => {
        concat!(
            "SELECT state_version, idx, at, kind, lead_id, actor, config_version, input, effects, result, people, ", $p, " ",
            "FROM routing_events WHERE (state_version, idx) > (", $a, ", ", $b, ") AND state_version <= ", $c,
            " AND at <= ", $d, " ORDER BY state_version, idx LIMIT ", $e
        )
    };
}
pub(crate) use scan_sql;
const SCAN_SQLITE: &str = scan_sql!("?1", "?2", "?3", "?4", "?5");

/// The scan statements for the table's columns. A database no service of this version
/// has opened yet (the reader runs no migration) has no `input_packed` (migration 0029):
/// it is read as NULL, and every input as the JSON it was written as.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Scans {
    pub(crate) sqlite: &'static str,
    pub(crate) pg: &'static str,
    pub(crate) sqlite_rowid: &'static str,
}

pub(crate) const SCANS: Scans = Scans {
    sqlite: SCAN_SQLITE,
    pg: scan_sql!("$1", "$2", "$3", "$4", "$5"),
    sqlite_rowid: scan_rowid_sql!("input_packed"),
};
pub(crate) const SCANS_BEFORE_0029: Scans = Scans {
    sqlite: scan_sql!("NULL", "?1", "?2", "?3", "?4", "?5"),
    pg: scan_sql!("NULL::bytea", "$1", "$2", "$3", "$4", "$5"),
    sqlite_rowid: scan_rowid_sql!("NULL"),
};

/// One page of the event scan by key on SQLite (see [`HistoryReader::scan_events`](crate::HistoryReader::scan_events)).
pub(crate) fn sqlite_scan(
    db: &rusqlite::Connection,
    sql: &str,
    range: EventRange,
    f: &mut (dyn FnMut(EventRef<'_>) -> bool + Send),
) -> Result<(u64, Option<(i64, i64)>)> {
    let (v, i) = range.after;
    let mut n = 0u64;
    let mut last = None;
    let mut st = db.prepare_cached(sql)?;
    let mut rows = st.query(rusqlite::params![
        v,
        i,
        range.through.unwrap_or(i64::MAX),
        range.until.unwrap_or(i64::MAX),
        range.limit
    ])?;
    while let Some(r) = rows.next()? {
        let ev = sqlite_event(r, 0)?;
        n += 1;
        last = Some((ev.state_version, ev.idx));
        if !f(ev) {
            break;
        }
    }
    Ok((n, last))
}

/// One page of the event scan on PostgreSQL (see [`HistoryReader::scan_events`](crate::HistoryReader::scan_events)).
pub(crate) async fn pg_scan(
    c: &mut sqlx::PgConnection,
    sql: &'static str,
    range: EventRange,
    f: &mut (dyn FnMut(EventRef<'_>) -> bool + Send),
) -> Result<(u64, Option<(i64, i64)>)> {
    let (v, i) = range.after;
    let mut n = 0u64;
    let mut last = None;
    let mut rows = sqlx::query(sql)
        .bind(v)
        .bind(i)
        .bind(range.through.unwrap_or(i64::MAX))
        .bind(range.until.unwrap_or(i64::MAX))
        .bind(range.limit)
        .fetch(c);
    while let Some(r) = rows.try_next().await? {
        // The query's own columns, of known types: decoded without checking each
        // value's type against the column's (~1.5% of a replay's time on PostgreSQL).
        let ev = EventRef {
            state_version: r.try_get_unchecked(0)?,
            idx: r.try_get_unchecked(1)?,
            at: r.try_get_unchecked(2)?,
            kind: r.try_get_unchecked(3)?,
            lead_id: r.try_get_unchecked(4)?,
            actor: r.try_get_unchecked(5)?,
            config_version: r.try_get_unchecked(6)?,
            input: r.try_get_unchecked(7)?,
            effects: r.try_get_unchecked(8)?,
            result: r.try_get_unchecked(9)?,
            people: r.try_get_unchecked(10)?,
            input_packed: r.try_get_unchecked(11)?,
        };
        n += 1;
        last = Some((ev.state_version, ev.idx));
        if !f(ev) {
            break;
        }
    }
    Ok((n, last))
}

/// A place in the table: an event's (state version, idx) and its rowid.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RowidCursor {
    pub(crate) key: (i64, i64),
    rowid: i64,
}

/// The first event after a key in storage order: no event after the key has a smaller
/// rowid, so a rowid-order scan from here sees them all.
const FIRST_ROWID_AFTER: &str =
    "SELECT MIN(rowid) FROM routing_events WHERE (state_version, idx) > (?1, ?2)";

/// An event's columns borrowed from a SQLite row, from column `at` on (the scans put the
/// rowid first or not).
fn sqlite_event<'r>(r: &'r rusqlite::Row<'_>, at: usize) -> Result<EventRef<'r>> {
    let text = |i: usize| -> Result<Option<&'r str>> {
        match r.get_ref(at + i)? {
            rusqlite::types::ValueRef::Null => Ok(None),
            v => Ok(Some(v.as_str().map_err(|e| corrupt("routing_events", e))?)),
        }
    };
    let need = |i: usize| -> Result<&'r str> {
        text(i)?.ok_or_else(|| corrupt("routing_events", format!("column {} is null", at + i)))
    };
    Ok(EventRef {
        state_version: r.get(at)?,
        idx: r.get(at + 1)?,
        at: r.get(at + 2)?,
        kind: need(3)?,
        lead_id: text(4)?,
        actor: text(5)?,
        config_version: need(6)?,
        input: text(7)?,
        effects: need(8)?,
        result: text(9)?,
        people: text(10)?,
        input_packed: match r.get_ref(at + 11)? {
            rusqlite::types::ValueRef::Null => None,
            v => Some(v.as_blob().map_err(|e| corrupt("routing_events", e))?),
        },
    })
}

pub(crate) fn corrupt(what: &str, e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

/// [`HistoryReader::scan_events`](crate::HistoryReader::scan_events) in rowid order, from `cursor` when the range goes on
/// from where it stopped, else from the first event after the range's key. Every event
/// read (handed over or not) must come after the one before it in commit order.
pub(crate) fn scan_by_rowid(
    db: &rusqlite::Connection,
    sql: &str,
    cursor: Option<RowidCursor>,
    range: EventRange,
    last_rowid: i64,
    f: &mut (dyn FnMut(EventRef<'_>) -> bool + Send),
) -> Result<(u64, Option<RowidCursor>)> {
    let until = range.until.unwrap_or(i64::MAX);
    let after_rowid = match cursor {
        Some(c) if c.key == range.after => c.rowid,
        _ => {
            let (v, i) = range.after;
            let first: Option<i64> = db
                .prepare_cached(FIRST_ROWID_AFTER)?
                .query_row([v, i], |r| r.get(0))?;
            match first {
                Some(r) => r - 1,
                None => return Ok((0, None)),
            }
        }
    };
    let mut st = db.prepare_cached(sql)?;
    let mut rows = st.query([after_rowid, last_rowid])?;
    let mut prev = range.after;
    let mut n = 0u64;
    let mut last = None;
    while (n as i64) < range.limit {
        let Some(r) = rows.next()? else { break };
        let rowid: i64 = r.get(0)?;
        let ev = sqlite_event(r, 1)?;
        let key = (ev.state_version, ev.idx);
        if key <= prev {
            return Err(StoreError::HistoryOrder(format!(
                "event {}/{} is stored after {}/{}",
                key.0, key.1, prev.0, prev.1
            )));
        }
        prev = key;
        if ev.at > until {
            continue;
        }
        n += 1;
        last = Some(RowidCursor { key, rowid });
        if !f(ev) {
            break;
        }
    }
    Ok((n, last))
}
