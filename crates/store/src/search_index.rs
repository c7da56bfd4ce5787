//! Free text indexed after the routing commit on SQLite (migration 0030).
//!
//! A routing transaction only inserts its leads; the service's indexer
//! ([`LeadSearch::index_new_leads`](crate::LeadSearch::index_new_leads), every fraction
//! of a second) then writes the FTS5 rows (`lead_search`) and received-time bounds
//! (`lead_search_bound`) of the leads above `lead_search_mark.upto` in one transaction of
//! up to a few hundred leads, and raises the mark. In the commit, FTS5 wrote a segment for
//! each routing batch and merged them; here one segment serves hundreds of leads (intake
//! at 64 connections: docs/benchmarks.md, "Intake service").
//!
//! Search stays exact meanwhile: the leads above the mark (the tail, normally the last
//! fraction of a second's) are read directly and their text matched here, in the same
//! read snapshot as the index.

use crate::Result;
use crate::search::TextWords;
use rusqlite::params;
use sqlx::Row;

/// The searched text of lead `l`, as migration 0018's triggers build it.
macro_rules! lead_text {
    () => {
        "coalesce(l.email, '') || ' ' || coalesce(json_extract(l.payload, '$.first_name'), '') || ' ' || coalesce(json_extract(l.payload, '$.last_name'), '') || ' ' || coalesce(json_extract(l.payload, '$.company'), '') || ' ' || coalesce(l.account_domain, '')"
    };
}

/// Indexes up to `max` leads above the mark, oldest first, in one transaction on the
/// routing writer's connection; how many.
pub(crate) fn index_tail(db: &rusqlite::Connection, max: i64) -> Result<u64> {
    db.execute_batch("BEGIN IMMEDIATE")?;
    match index_in_tx(db, max) {
        Ok(n) => {
            if n > 0 {
                db.execute_batch("COMMIT")?;
            } else {
                db.execute_batch("ROLLBACK")?;
            }
            Ok(n)
        }
        Err(e) => {
            let _ = db.execute_batch("ROLLBACK");
            Err(e)
        }
    }
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
