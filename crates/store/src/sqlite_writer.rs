//! The SQLite routing writer: one connection (`rusqlite`) on a thread of its own, which
//! runs each step of a routing transaction — begin and read the state version, the
//! batch's reads, the whole write (`sqlite_batch.rs`), the commit — as one call.
//!
//! Through sqlx every statement was a round trip to its worker thread (two thread
//! wake-ups), and a write of ~30 leads was ~30 statements, each built as new SQL text
//! from power-of-two chunks. Here a write is one hand-off, and its rows go through
//! prepared single-row statements that the connection keeps (`prepare_cached`).
//!
//! SQLite has one writer at a time anyway. In WAL mode a connection's page cache is
//! dropped whenever another connection commits, so the routing writer keeps its own,
//! large cache (the indexes) warm; every other read goes through the sqlx pool.
//!
//! A transaction that ends without COMMIT or ROLLBACK (its [`WriterTx`] was dropped, e.g.
//! on a timeout) is rolled back before the next one begins.

use crate::*;
use leadrouter_core::state::{PriorStatus, StateSnapshot};
use rusqlite::OptionalExtension;
use std::path::PathBuf;

type Cmd = Box<dyn FnOnce(&mut Conn) + Send>;

/// The writer thread's connection, opened again if it was lost.
struct Conn {
    db: Option<rusqlite::Connection>,
    path: PathBuf,
    /// Pragmas of this connection's role, run after [`open`]'s.
    extra: &'static str,
}

impl Conn {
    fn db(&mut self) -> Result<&rusqlite::Connection> {
        if self.db.is_none() {
            let db = open(&self.path)?;
            db.execute_batch(self.extra)?;
            self.db = Some(db);
        }
        Ok(self.db.as_ref().expect("opened above"))
    }
}

/// The settings every routing transaction relies on: WAL, `synchronous=FULL` (a commit
/// is on disk before it returns), foreign keys; see `SqliteStore::open` for the rest.
///
/// The page cache is 8 MiB, not larger: when a B-tree page splits, SQLite's
/// `balance_nonroot` renumbers pages through the lock-byte page (page 262,145 at 4 KiB),
/// and every COMMIT after that walks the whole page-cache hash table to drop pages past
/// the end of the file (`pcache1TruncateUnsafe`). With 64 MiB that walk was ~11% of this
/// thread at c=64; at 8 MiB it is an eighth of that, and throughput rose ~5%
/// (docs/benchmarks.md).
fn open(path: &std::path::Path) -> Result<rusqlite::Connection> {
    let db = rusqlite::Connection::open(path)?;
    db.busy_handler(Some(retry_soon))?;
    db.execute_batch(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = FULL;
         PRAGMA foreign_keys = ON;
         PRAGMA temp_store = MEMORY;
         PRAGMA wal_autocheckpoint = 16384;
         PRAGMA cache_size = -8192;",
    )?;
    db.set_prepared_statement_cache_capacity(64);
    Ok(db)
}

/// The busy handler of the routing writer (and the reader): while another connection
/// holds the write lock (the outbox worker recording deliveries, an admin write), retry
/// every 50 µs for the first 10 ms, then every millisecond, and give up after about 10 s.
/// SQLite's own `busy_timeout` sleeps 1, 2, 5, 10… ms between tries, so a routing batch
/// waited a millisecond or more for a lock held a fraction of that.
fn retry_soon(attempt: i32) -> bool {
    const FAST: i32 = 200;
    const SLOW: i32 = 10_000;
    match attempt {
        a if a < FAST => std::thread::sleep(std::time::Duration::from_micros(50)),
        a if a < FAST + SLOW => std::thread::sleep(std::time::Duration::from_millis(1)),
        _ => return false,
    }
    true
}

/// Starts a thread that owns one connection to `path` (opened on that thread, with
/// `extra` pragmas after [`open`]'s) and runs the calls sent to it in order.
async fn start_thread(
    name: &str,
    path: PathBuf,
    extra: &'static str,
) -> Result<std::sync::mpsc::Sender<Cmd>> {
    let (cmds, rx) = std::sync::mpsc::channel::<Cmd>();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut conn = Conn {
                db: None,
                path,
                extra,
            };
            // Ends when the store and every transaction are gone.
            while let Ok(cmd) = rx.recv() {
                cmd(&mut conn);
            }
        })
        .map_err(|e| StoreError::Writer(format!("cannot start the {name} thread: {e}")))?;
    call(&cmds, |c| c.db().map(|_| ())).await?;
    Ok(cmds)
}

/// Reads of committed rows for batches decided while a routing COMMIT is in flight: a
/// connection of its own (so it never waits for the writer's turn), read-only, each
/// call one read transaction (one snapshot).
pub(crate) struct Reader {
    cmds: std::sync::mpsc::Sender<Cmd>,
}

impl Reader {
    pub(crate) async fn start(path: PathBuf) -> Result<Reader> {
        Ok(Reader {
            cmds: start_thread("sqlite-reader", path, "PRAGMA query_only = 1;").await?,
        })
    }

    pub(crate) async fn batch_reads(&self, want: BatchReadsFor) -> Result<BatchReads> {
        call(&self.cmds, move |c| {
            let db = c.db()?;
            if !db.is_autocommit() {
                let _ = db.execute_batch("ROLLBACK");
            }
            db.execute_batch("BEGIN")?;
            let read = all_reads(db, want);
            let end = db.execute_batch(if read.is_ok() { "COMMIT" } else { "ROLLBACK" });
            let read = read?;
            end?;
            Ok(read)
        })
        .await
    }
}

/// Hands routing transactions to the writer thread, one at a time.
pub(crate) struct Writer {
    cmds: std::sync::mpsc::Sender<Cmd>,
    /// Held by the open [`WriterTx`]: steps of two transactions never interleave.
    turn: Arc<tokio::sync::Mutex<()>>,
}

impl Writer {
    /// Opens the connection (on the writer thread) and starts the thread.
    pub(crate) async fn start(path: PathBuf) -> Result<Writer> {
        Ok(Writer {
            cmds: start_thread("sqlite-writer", path, "").await?,
            turn: Arc::new(tokio::sync::Mutex::new(())),
        })
    }

    /// The turn a [`WriterTx`] holds: no routing transaction begins while it is held.
    pub(crate) async fn turn(&self) -> tokio::sync::OwnedMutexGuard<()> {
        self.turn.clone().lock_owned().await
    }

    /// Runs `f` on the writer connection between two routing transactions (holding the
    /// turn), for the store's own writes outside routing (`LeadSearch::index_new_leads`):
    /// they use the writer's warm cache and never wait on the busy handler. `f` begins
    /// and ends its own transaction; if it fails, the connection is closed (and opened
    /// again for the next call), so nothing it left open outlives it.
    pub(crate) async fn between<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<R> + Send + 'static,
    {
        let _turn = self.turn.clone().lock_owned().await;
        call(&self.cmds, move |c| {
            let db = c.db()?;
            if !db.is_autocommit() {
                let _ = db.execute_batch("ROLLBACK");
            }
            let r = f(db);
            if r.is_err() {
                c.db = None;
            }
            r
        })
        .await
    }

    /// `BEGIN IMMEDIATE` (the write lock) and the state version, in one call.
    pub(crate) async fn begin(&self) -> Result<WriterTx> {
        let turn = self.turn.clone().lock_owned().await;
        let version = call(&self.cmds, begin).await?;
        Ok(WriterTx {
            cmds: self.cmds.clone(),
            version: Some(version),
            open: true,
            _turn: turn,
        })
    }
}

/// Runs `f` on the writer thread and waits for its result.
async fn call<R, F>(cmds: &std::sync::mpsc::Sender<Cmd>, f: F) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce(&mut Conn) -> Result<R> + Send + 'static,
{
    let (tx, rx) = tokio::sync::oneshot::channel();
    cmds.send(Box::new(move |c| {
        let _ = tx.send(f(c));
    }))
    .map_err(|_| StoreError::Writer("the writer thread has stopped".into()))?;
    rx.await
        .map_err(|_| StoreError::Writer("the writer thread stopped during a call".into()))?
}

fn begin(c: &mut Conn) -> Result<i64> {
    fn on(db: &rusqlite::Connection) -> Result<i64> {
        db.execute_batch("BEGIN IMMEDIATE")?;
        let v = db
            .prepare_cached("SELECT version FROM state_version WHERE id = 1")?
            .query_row([], |r| r.get(0));
        if v.is_err() {
            let _ = db.execute_batch("ROLLBACK");
        }
        Ok(v?)
    }
    if let Some(db) = &c.db
        && !db.is_autocommit()
    {
        // A transaction left open (its COMMIT failed or timed out, or it was dropped).
        let _ = db.execute_batch("ROLLBACK");
    }
    match on(c.db()?) {
        Ok(v) => Ok(v),
        Err(e) => {
            // A file that went away or a broken connection: reconnect once.
            tracing::warn!(error = %e, "BEGIN failed on the SQLite writer; reconnecting");
            c.db = None;
            on(c.db()?)
        }
    }
}

/// A routing transaction on the writer connection; it holds the writer's turn until it
/// ends.
pub(crate) struct WriterTx {
    cmds: std::sync::mpsc::Sender<Cmd>,
    version: Option<i64>,
    /// Neither committed nor rolled back yet.
    open: bool,
    _turn: tokio::sync::OwnedMutexGuard<()>,
}

impl WriterTx {
    async fn run<R, F>(&self, f: F) -> Result<R>
    where
        R: Send + 'static,
        F: FnOnce(&rusqlite::Connection) -> Result<R> + Send + 'static,
    {
        call(&self.cmds, move |c| f(c.db()?)).await
    }

    async fn finish(mut self: Box<Self>, sql: &'static str) -> Result<()> {
        self.open = false;
        self.run(move |db| Ok(db.execute_batch(sql)?)).await
    }
}

impl Drop for WriterTx {
    fn drop(&mut self) {
        if self.open {
            // Runs before the next transaction's BEGIN: the thread takes calls in order.
            let _ = self.cmds.send(Box::new(|c| {
                if let Some(db) = &c.db
                    && !db.is_autocommit()
                {
                    let _ = db.execute_batch("ROLLBACK");
                }
            }));
        }
    }
}

#[async_trait]
impl Tx for WriterTx {
    async fn lock_state(&mut self) -> Result<i64> {
        if let Some(v) = self.version.take() {
            return Ok(v);
        }
        self.run(|db| {
            Ok(db
                .prepare_cached("SELECT version FROM state_version WHERE id = 1")?
                .query_row([], |r| r.get(0))?)
        })
        .await
    }

    async fn load_state(&mut self) -> Result<StateSnapshot> {
        self.run(load_state).await
    }

    async fn idempotent(&mut self, keys: &[String]) -> Result<HashMap<String, StoredResponse>> {
        let keys = keys.to_vec();
        self.run(move |db| idempotent(db, keys)).await
    }

    async fn people(&mut self, emails: &[String]) -> Result<HashMap<String, StoredPerson>> {
        let emails = emails.to_vec();
        self.run(move |db| people(db, emails)).await
    }

    async fn leads(&mut self, ids: &[String]) -> Result<Vec<LeadRecord>> {
        let ids = ids.to_vec();
        self.run(move |db| leads(db, ids)).await
    }

    async fn timers_by_id(&mut self, ids: &[String]) -> Result<Vec<TimerRow>> {
        let ids = ids.to_vec();
        self.run(move |db| timers(db, ids)).await
    }

    async fn batch_reads(&mut self, want: BatchReadsFor) -> Result<BatchReads> {
        self.run(move |db| all_reads(db, want)).await
    }

    async fn bookings(
        &mut self,
        reps: &[String],
        lead_ids: &[String],
        since: i64,
    ) -> Result<Vec<crate::bookings::BookingRow>> {
        let (reps, lead_ids) = (reps.to_vec(), lead_ids.to_vec());
        self.run(move |db| crate::bookings::sqlite_read(db, &reps, &lead_ids, since))
            .await
    }

    async fn write(&mut self, b: BatchWrite, version: i64) -> Result<()> {
        self.run(move |db| crate::sqlite_batch::write(db, &b, version))
            .await
    }

    async fn commit(self: Box<Self>) -> Result<()> {
        self.finish("COMMIT").await
    }

    async fn rollback(self: Box<Self>) -> Result<()> {
        self.finish("ROLLBACK").await
    }
}

/// Everything [`Tx::batch_reads`] reads, on one connection.
fn all_reads(db: &rusqlite::Connection, mut want: BatchReadsFor) -> Result<BatchReads> {
    let replays = idempotent(db, std::mem::take(&mut want.keys))?;
    let known = people(db, std::mem::take(&mut want.emails))?;
    let timers = timers(db, std::mem::take(&mut want.timer_ids))?;
    let leads = leads(db, want.lead_ids_with(&known, &timers))?;
    Ok(BatchReads {
        replays,
        known,
        timers,
        leads,
    })
}

fn idempotent(
    db: &rusqlite::Connection,
    keys: Vec<String>,
) -> Result<HashMap<String, StoredResponse>> {
    let mut out = HashMap::new();
    if keys.is_empty() {
        return Ok(out);
    }
    let mut st =
        db.prepare_cached("SELECT lead_id, status, response FROM idempotency WHERE key = ?1")?;
    for k in keys {
        if let Some(r) = st.query_row([&k], stored).optional()? {
            out.insert(k, r?);
        }
    }
    Ok(out)
}

fn people(db: &rusqlite::Connection, emails: Vec<String>) -> Result<HashMap<String, StoredPerson>> {
    let mut out = HashMap::new();
    if emails.is_empty() {
        return Ok(out);
    }
    let mut st = db.prepare_cached(
        "SELECT owner, status, disqualified_at, note, last_lead_id FROM people WHERE email = ?1",
    )?;
    for e in emails {
        let found = st
            .query_row([&e], |r| {
                let status: String = r.get("status")?;
                let dq: Option<i64> = r.get("disqualified_at")?;
                Ok(StoredPerson {
                    prior: PriorPerson {
                        owner: r.get("owner")?,
                        status: if status == "disqualified" {
                            PriorStatus::Disqualified
                        } else {
                            PriorStatus::Open
                        },
                        disqualified_at: dq.map(from_micros),
                        note: r.get("note")?,
                    },
                    last_lead_id: r.get("last_lead_id")?,
                })
            })
            .optional()?;
        if let Some(p) = found {
            out.insert(e, p);
        }
    }
    Ok(out)
}

fn leads(db: &rusqlite::Connection, ids: Vec<String>) -> Result<Vec<LeadRecord>> {
    let mut out = Vec::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut st = db.prepare_cached("SELECT * FROM leads WHERE id = ?1")?;
    for id in unique(ids) {
        if let Some(l) = st.query_row([&id], lead).optional()? {
            out.push(l?);
        }
    }
    Ok(out)
}

fn timers(db: &rusqlite::Connection, ids: Vec<String>) -> Result<Vec<TimerRow>> {
    let mut out = Vec::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut st = db.prepare_cached("SELECT * FROM sla_timers WHERE id = ?1")?;
    for id in unique(ids) {
        if let Some(t) = st.query_row([&id], timer).optional()? {
            out.push(t);
        }
    }
    Ok(out)
}

/// The keys once each, in their first order (the sqlx reads were `IN (…)` lists).
fn unique(mut ids: Vec<String>) -> Vec<String> {
    let mut seen = std::collections::HashSet::new();
    ids.retain(|id| seen.insert(id.clone()));
    ids
}

fn corrupt(what: &str, e: serde_json::Error) -> StoreError {
    StoreError::Corrupt(format!("{what}: {e}"))
}

fn stored(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<StoredResponse>> {
    let response: String = r.get("response")?;
    let status: i64 = r.get("status")?;
    let lead_id: String = r.get("lead_id")?;
    Ok(serde_json::value::RawValue::from_string(response)
        .map_err(|e| corrupt("idempotent response", e))
        .map(|response| StoredResponse {
            lead_id,
            status: status as u16,
            response,
        }))
}

fn lead(r: &rusqlite::Row<'_>) -> rusqlite::Result<Result<LeadRecord>> {
    let payload: String = r.get("payload")?;
    let payload = match serde_json::from_str(&payload) {
        Ok(p) => p,
        Err(e) => return Ok(Err(corrupt("lead payload", e))),
    };
    Ok(Ok(LeadRecord {
        id: r.get("id")?,
        source: r.get("source")?,
        email: r.get("email")?,
        payload,
        received_at: r.get("received_at")?,
        routed_at: r.get("routed_at")?,
        owner: r.get("owner")?,
        queue: r.get("queue")?,
        team: r.get("team")?,
        segment: r.get("segment")?,
        tier: r.get("tier")?,
        score: r.get("score")?,
        path: r.get("path")?,
        rule: r.get("rule")?,
        status: text(r, "status")?,
        stage: text(r, "stage")?,
        outcome: r
            .get::<_, Option<String>>("outcome")?
            .map(|o| parse_text("outcome", o))
            .transpose()?,
        outcome_at: r.get("outcome_at")?,
        route_by: r.get("route_by")?,
        contact_by: r.get("contact_by")?,
        config_version: r.get("config_version")?,
        account_domain: r.get("account_domain")?,
        accepted_at: r.get("accepted_at")?,
        first_touch_at: r.get("first_touch_at")?,
        fallback: r.get::<_, i64>("fallback")? != 0,
    }))
}

/// A lifecycle enum from its stored text; other text fails like a value of the wrong type.
fn text<T>(r: &rusqlite::Row<'_>, column: &str) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = leadrouter_core::lifecycle::UnknownText>,
{
    parse_text(column, r.get(column)?)
}

fn parse_text<T>(column: &str, v: String) -> rusqlite::Result<T>
where
    T: std::str::FromStr<Err = leadrouter_core::lifecycle::UnknownText>,
{
    v.parse()
        .map_err(|e: leadrouter_core::lifecycle::UnknownText| {
            rusqlite::Error::FromSqlConversionFailure(
                0,
                rusqlite::types::Type::Text,
                format!("{column}: {e}").into(),
            )
        })
}

fn timer(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimerRow> {
    Ok(TimerRow {
        id: r.get("id")?,
        lead_id: r.get("lead_id")?,
        step: text(r, "step")?,
        due_at: r.get("due_at")?,
        status: r.get("status")?,
        owner: r.get("owner")?,
        fired_at: r.get("fired_at")?,
        created_at: r.get("created_at")?,
    })
}

fn load_state(db: &rusqlite::Connection) -> Result<StateSnapshot> {
    let mut s = StateSnapshot::default();
    let mut st = db.prepare_cached("SELECT team, virtual_time FROM rotation_clocks")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let vt: i64 = r.get(1)?;
        s.rotations.entry(r.get(0)?).or_default().virtual_time = vt.max(0) as u64;
    }
    let mut st = db.prepare_cached("SELECT team, rep, pass FROM rotations")?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let pass: i64 = r.get(2)?;
        s.rotations
            .entry(r.get(0)?)
            .or_default()
            .passes
            .insert(r.get(1)?, pass.max(0) as u64);
    }
    let mut st = db.prepare_cached(
        "SELECT rep, early, mid, late, daily_date, daily_count, out, out_until, out_note FROM rep_state",
    )?;
    let mut rows = st.query([])?;
    while let Some(r) = rows.next()? {
        let out: i64 = r.get("out")?;
        add_rep_state(
            &mut s,
            RepStateWrite {
                rep: r.get("rep")?,
                early: r.get("early")?,
                mid: r.get("mid")?,
                late: r.get("late")?,
                daily_date: r.get("daily_date")?,
                daily_count: r.get("daily_count")?,
                out: out != 0,
                out_until: r.get("out_until")?,
                out_note: r.get("out_note")?,
            },
        );
    }
    Ok(s)
}
