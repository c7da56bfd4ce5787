//! Free text indexed in batches on SQLite (migration 0030).
//!
//! A routing transaction inserts its leads without indexing them; once the leads above
//! `lead_search_mark.upto` (the tail) number [`INDEX_EVERY`], the routing transaction
//! that stored the last of them also writes all of the tail's FTS5 rows (`lead_search`)
//! and received-time bounds (`lead_search_bound`) and raises the mark. Indexed in the
//! commit of each batch, FTS5 wrote a segment for every few dozen leads and merged them;
//! here one segment serves hundreds (intake at 64 connections: docs/benchmarks.md,
//! "Intake service"). It is done inside a routing transaction, not beside one, so leads
//! that arrive meanwhile are decided ahead as during any batch's write: speed to assign
//! does not wait for it.
//!
//! Search stays exact: the tail (fewer than [`INDEX_EVERY`] leads) is read directly and
//! its text matched here, in the same read snapshot as the index.

use crate::Result;
use crate::search::{INDEX_EVERY, TextWords};
use rusqlite::params;
use sqlx::Row;

/// The searched text of lead `l`, as migration 0018's triggers build it.
macro_rules! lead_text {
    () => {
        "coalesce(l.email, '') || ' ' || coalesce(json_extract(l.payload, '$.first_name'), '') || ' ' || coalesce(json_extract(l.payload, '$.last_name'), '') || ' ' || coalesce(json_extract(l.payload, '$.company'), '') || ' ' || coalesce(l.account_domain, '')"
    };
}

/// In a routing transaction that stored leads: index the tail if it has reached
/// [`INDEX_EVERY`].
pub(crate) fn index_if_due(db: &rusqlite::Connection) -> Result<()> {
    let (upto, top): (i64, i64) = db
        .prepare_cached(
            "SELECT upto, coalesce((SELECT max(rowid) FROM leads), 0) FROM lead_search_mark WHERE id = 1",
        )?
        .query_row([], |r| Ok((r.get(0)?, r.get(1)?)))?;
    if top - upto >= INDEX_EVERY {
        index_in_tx(db, i64::MAX)?;
    }
    Ok(())
}

/// Indexes up to `max` leads of the tail, oldest first, in a transaction of its own on
/// the routing writer's connection; how many (`LeadSearch::index_new_leads`).
pub(crate) fn index_tail(db: &rusqlite::Connection, max: i64) -> Result<u64> {
    db.execute_batch("BEGIN IMMEDIATE")?;
    let n = index_in_tx(db, max);
    let end = db.execute_batch(match n {
        Ok(n) if n > 0 => "COMMIT",
        _ => "ROLLBACK",
    });
    let n = n?;
    end?;
    Ok(n)
}

fn index_in_tx(db: &rusqlite::Connection, max: i64) -> Result<u64> {
    let upto: i64 = db
        .prepare_cached("SELECT upto FROM lead_search_mark WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let hi: Option<i64> = db
        .prepare_cached(
            "SELECT max(r) FROM (SELECT rowid AS r FROM leads WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
        )?
        .query_row(params![upto, max], |r| r.get(0))?;
    let Some(hi) = hi else { return Ok(0) };
    let n = db
        .prepare_cached(concat!(
            "INSERT INTO lead_search (rowid, lead_id, body) SELECT l.rowid, l.id, ",
            lead_text!(),
            " FROM leads l WHERE l.rowid > ?1 AND l.rowid <= ?2"
        ))?
        .execute(params![upto, hi])?;
    // Each new row's bound: the latest received time at or below it (0027's invariant),
    // starting from the bound of the highest row indexed before.
    db.prepare_cached(
        "INSERT INTO lead_search_bound (pos, bound)
         SELECT pos, max(run, coalesce(
             (SELECT bound FROM lead_search_bound WHERE pos <= ?1 ORDER BY pos DESC LIMIT 1), run))
         FROM (SELECT rowid AS pos,
                      max(received_at) OVER (ORDER BY rowid ROWS UNBOUNDED PRECEDING) AS run
               FROM leads WHERE rowid > ?1 AND rowid <= ?2)",
    )?
    .execute(params![upto, hi])?;
    db.prepare_cached("UPDATE lead_search_mark SET upto = ?1 WHERE id = 1")?
        .execute([hi])?;
    Ok(n as u64)
}

/// The rowids of the leads above the mark whose text holds every word (lower-cased as
/// the trigram index folds case), in `conn`'s snapshot.
pub(crate) async fn tail_matches(
    conn: &mut sqlx::SqliteConnection,
    words: &TextWords,
) -> Result<Vec<i64>> {
    let rows = sqlx::query(concat!(
        "SELECT l.rowid AS r, ",
        lead_text!(),
        " AS body FROM leads l WHERE l.rowid > (SELECT upto FROM lead_search_mark WHERE id = 1)"
    ))
    .fetch_all(conn)
    .await?;
    let mut found = Vec::new();
    for r in &rows {
        let body: String = r.try_get("body")?;
        let body = body.to_lowercase();
        if words
            .indexed
            .iter()
            .chain(&words.short)
            .all(|w| body.contains(w.as_str()))
        {
            found.push(r.try_get("r")?);
        }
    }
    Ok(found)
}
