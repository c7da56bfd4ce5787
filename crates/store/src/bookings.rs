//! Booked meetings (issue 22): the `bookings` rows (migration 0024).
//!
//! A booking is written only by the sequencer, inside a routing transaction
//! (`BatchWrite::bookings`): that transaction holds the routing-state lock
//! (`state_version … FOR UPDATE` on PostgreSQL, `BEGIN IMMEDIATE` on SQLite), so the
//! check that the slot is still free ([`Tx::bookings`](crate::Tx::bookings) read inside
//! it) and the insert are serialised across every instance sharing the database. The
//! partial unique index on `(rep, start_at)` of active bookings is the database's own
//! last word: should a write ever slip past the check, the batch fails rather than
//! double-book. An exclusion constraint (`EXCLUDE USING gist (rep WITH =,
//! int8range(start_at, end_at) WITH &&)`) would also catch overlaps with different
//! starts, but needs the `btree_gist` extension (superuser to install) and has no
//! SQLite counterpart; the state lock already orders every writer, so it adds nothing.
//!
//! The row holds no name or address (those stay on the lead, and erasure pseudonymises
//! them there); the visitor's time zone is cleared by erasure ([`crate::Privacy`]).

use crate::Result;
use async_trait::async_trait;
use sqlx::Row;

/// Active bookings have this status; cancelled ones `cancelled`.
pub const BOOKED: &str = "booked";
pub const CANCELLED: &str = "cancelled";

/// A booking as stored (times in micros, UTC).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BookingRow {
    /// Also the invitation's UID.
    pub id: String,
    pub lead_id: String,
    pub rep: String,
    pub start_at: i64,
    pub end_at: i64,
    pub status: String,
    /// The invitation's SEQUENCE: 0 when booked, one more for each reschedule or cancel.
    pub sequence: i64,
    pub lead_tz: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl BookingRow {
    pub fn active(&self) -> bool {
        self.status == BOOKED
    }
}

const COLUMNS: &str =
    "id, lead_id, rep, start_at, end_at, status, sequence, lead_tz, created_at, updated_at";

/// Active bookings of `reps` ending after `since`, and every booking of `lead_ids`: the
/// text holds placeholders only (every value is bound), so it is safe to build.
fn select_sql(reps: usize, leads: usize, dollar: bool) -> String {
    let mut n = 0;
    let mut p = || {
        n += 1;
        if dollar {
            format!("${n}")
        } else {
            format!("?{n}")
        }
    };
    let since = p();
    let reps: Vec<String> = (0..reps).map(|_| p()).collect();
    let leads: Vec<String> = (0..leads).map(|_| p()).collect();
    let mut parts = Vec::new();
    if !reps.is_empty() {
        parts.push(format!(
            "(status = 'booked' AND end_at > {since} AND rep IN ({}))",
            reps.join(", ")
        ));
    }
    if !leads.is_empty() {
        parts.push(format!("lead_id IN ({})", leads.join(", ")));
    }
    if parts.is_empty() {
        parts.push("1 = 0".into());
    }
    format!(
        "SELECT {COLUMNS} FROM bookings WHERE ({since} = {since}) AND ({}) ORDER BY start_at, id",
        parts.join(" OR ")
    )
}

const UPSERT: &str = "INSERT INTO bookings (id, lead_id, rep, start_at, end_at, status, sequence, lead_tz, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) ON CONFLICT (id) DO UPDATE SET rep = excluded.rep, start_at = excluded.start_at, end_at = excluded.end_at, status = excluded.status, sequence = excluded.sequence, lead_tz = excluded.lead_tz, updated_at = excluded.updated_at";

fn from_sqlx<R: Row>(r: &R) -> Result<BookingRow>
where
    for<'a> &'a str: sqlx::ColumnIndex<R>,
    String: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    i64: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
    Option<String>: for<'a> sqlx::Decode<'a, R::Database> + sqlx::Type<R::Database>,
{
    Ok(BookingRow {
        id: r.try_get("id")?,
        lead_id: r.try_get("lead_id")?,
        rep: r.try_get("rep")?,
        start_at: r.try_get("start_at")?,
        end_at: r.try_get("end_at")?,
        status: r.try_get("status")?,
        sequence: r.try_get("sequence")?,
        lead_tz: r.try_get("lead_tz")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
    })
}

/// SQLite's routing transaction (the writer thread's connection): the read.
pub(crate) fn sqlite_read(
    db: &rusqlite::Connection,
    reps: &[String],
    lead_ids: &[String],
    since: i64,
) -> Result<Vec<BookingRow>> {
    let sql = select_sql(reps.len(), lead_ids.len(), false);
    let mut st = db.prepare(&sql)?;
    let mut params: Vec<&dyn rusqlite::ToSql> = vec![&since];
    params.extend(reps.iter().map(|r| r as &dyn rusqlite::ToSql));
    params.extend(lead_ids.iter().map(|r| r as &dyn rusqlite::ToSql));
    let rows = st.query_map(params.as_slice(), |r| {
        Ok(BookingRow {
            id: r.get("id")?,
            lead_id: r.get("lead_id")?,
            rep: r.get("rep")?,
            start_at: r.get("start_at")?,
            end_at: r.get("end_at")?,
            status: r.get("status")?,
            sequence: r.get("sequence")?,
            lead_tz: r.get("lead_tz")?,
            created_at: r.get("created_at")?,
            updated_at: r.get("updated_at")?,
        })
    })?;
    Ok(rows.collect::<std::result::Result<_, _>>()?)
}

/// SQLite's routing transaction: the batch's bookings, inserted or updated.
pub(crate) fn sqlite_write(db: &rusqlite::Connection, rows: &[BookingRow]) -> Result<()> {
    if rows.is_empty() {
        return Ok(());
    }
    let mut st = db.prepare_cached(&UPSERT.replace('$', "?"))?;
    for b in rows {
        st.execute(rusqlite::params![
            b.id,
            b.lead_id,
            b.rep,
            b.start_at,
            b.end_at,
            b.status,
            b.sequence,
            b.lead_tz,
            b.created_at,
            b.updated_at
        ])?;
    }
    Ok(())
}

/// PostgreSQL's routing transaction: the read.
pub(crate) async fn pg_read(
    c: &mut sqlx::PgConnection,
    reps: &[String],
    lead_ids: &[String],
    since: i64,
) -> Result<Vec<BookingRow>> {
    let sql = select_sql(reps.len(), lead_ids.len(), true);
    let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since);
    for r in reps.iter().chain(lead_ids) {
        q = q.bind(r.clone());
    }
    q.fetch_all(c).await?.iter().map(from_sqlx).collect()
}

/// PostgreSQL's routing transaction: the batch's bookings, inserted or updated.
pub(crate) async fn pg_write(c: &mut sqlx::PgConnection, rows: &[BookingRow]) -> Result<()> {
    for b in rows {
        sqlx::query(UPSERT)
            .bind(b.id.clone())
            .bind(b.lead_id.clone())
            .bind(b.rep.clone())
            .bind(b.start_at)
            .bind(b.end_at)
            .bind(b.status.clone())
            .bind(b.sequence)
            .bind(b.lead_tz.clone())
            .bind(b.created_at)
            .bind(b.updated_at)
            .execute(&mut *c)
            .await?;
    }
    Ok(())
}

/// Bookings read from committed rows (the slot pages, the API's reads).
#[async_trait]
pub trait BookingStore {
    /// Active bookings of `reps` ending after `since`, and every booking of `lead_ids`.
    async fn bookings(
        &self,
        reps: &[String],
        lead_ids: &[String],
        since: i64,
    ) -> Result<Vec<BookingRow>>;
    async fn booking(&self, id: &str) -> Result<Option<BookingRow>>;
}

macro_rules! booking_store {
    ($store:ty, $dollar:literal) => {
        #[async_trait]
        impl BookingStore for $store {
            async fn bookings(
                &self,
                reps: &[String],
                lead_ids: &[String],
                since: i64,
            ) -> Result<Vec<BookingRow>> {
                let sql = select_sql(reps.len(), lead_ids.len(), $dollar);
                let mut q = sqlx::query(sqlx::AssertSqlSafe(sql)).bind(since);
                for r in reps.iter().chain(lead_ids) {
                    q = q.bind(r.clone());
                }
                q.fetch_all(&self.pool)
                    .await?
                    .iter()
                    .map(from_sqlx)
                    .collect()
            }

            async fn booking(&self, id: &str) -> Result<Option<BookingRow>> {
                let sql = format!("SELECT {COLUMNS} FROM bookings WHERE id = $1");
                sqlx::query(sqlx::AssertSqlSafe(sql))
                    .bind(id.to_string())
                    .fetch_optional(&self.pool)
                    .await?
                    .as_ref()
                    .map(from_sqlx)
                    .transpose()
            }
        }
    };
}

booking_store!(crate::SqliteStore, false);
booking_store!(crate::PgStore, true);

#[cfg(test)]
mod tests {
    #[test]
    fn select_binds_every_parameter_once() {
        let s = super::select_sql(2, 1, true);
        assert!(
            s.contains("rep IN ($2, $3)") && s.contains("lead_id IN ($4)"),
            "{s}"
        );
        assert!(super::select_sql(0, 0, false).contains("1 = 0"));
    }
}
