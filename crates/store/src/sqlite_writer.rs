//! The SQLite routing writer: one connection (`rusqlite`) on a thread of its own, which
//! runs each step of a routing transaction — begin and read the state version, the
//! batch's reads, the whole write, the commit — as one call.
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

use crate::reporting::{self, LeadFacts, WINDOW_SUMS, WindowKey, WindowSums};
use crate::*;
use leadrouter_core::state::{PriorStatus, StateSnapshot};
use rusqlite::{OptionalExtension, params};
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

    async fn write(&mut self, b: BatchWrite, version: i64) -> Result<()> {
        self.run(move |db| write(db, &b, version)).await
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
        status: r.get("status")?,
        stage: r.get("stage")?,
        outcome: r.get("outcome")?,
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

fn timer(r: &rusqlite::Row<'_>) -> rusqlite::Result<TimerRow> {
    Ok(TimerRow {
        id: r.get("id")?,
        lead_id: r.get("lead_id")?,
        step: r.get("step")?,
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

/// The reporting columns of these leads, as stored now.
fn facts(db: &rusqlite::Connection, ids: &[String]) -> Result<Vec<LeadFacts>> {
    let mut st = db.prepare_cached(
        "SELECT id, received_at, routed_at, tier, path, team, owner, contact_by, first_touch_at, accepted_at, status, stage, fallback, reassignments FROM leads WHERE id = ?1",
    )?;
    let mut out = Vec::new();
    for id in ids {
        let found = st
            .query_row([id], |r| {
                Ok(LeadFacts {
                    id: r.get("id")?,
                    received_at: r.get("received_at")?,
                    routed_at: r.get("routed_at")?,
                    tier: r.get("tier")?,
                    path: r.get("path")?,
                    team: r.get("team")?,
                    owner: r.get("owner")?,
                    contact_by: r.get("contact_by")?,
                    first_touch_at: r.get("first_touch_at")?,
                    accepted_at: r.get("accepted_at")?,
                    status: r.get("status")?,
                    stage: r.get("stage")?,
                    fallback: r.get("fallback")?,
                    reassignments: r.get("reassignments")?,
                })
            })
            .optional()?;
        out.extend(found);
    }
    Ok(out)
}

/// One routing transaction's writes, the same rows and upserts as the sqlx backends'
/// (`backend.rs`), one prepared statement per table.
fn write(db: &rusqlite::Connection, b: &BatchWrite, version: i64) -> Result<()> {
    // Packed before anything is written, so a failure fails the batch (nothing of it is
    // acknowledged) rather than storing an empty value.
    let values = b.values()?;
    let changed = reporting::changed_leads(b);
    // Console rollups: the changed leads' reporting columns before this write.
    let before = facts(db, &changed)?;
    if !b.leads.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO leads (id, source, email, payload, received_at, routed_at, owner, queue, team, segment, tier, score, path, rule, status, stage, outcome, outcome_at, route_by, contact_by, config_version, account_domain, fallback) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18, ?19, ?20, ?21, ?22, ?23)",
        )?;
        for (l, payload) in b.leads.iter().zip(&values.lead_payloads) {
            st.execute(params![
                l.id,
                l.source,
                l.email,
                payload,
                l.received_at,
                l.routed_at,
                l.owner,
                l.queue,
                l.team,
                l.segment,
                l.tier,
                l.score,
                l.path,
                l.rule,
                l.status,
                l.stage,
                l.outcome,
                l.outcome_at,
                l.route_by,
                l.contact_by,
                l.config_version,
                l.account_domain,
                i64::from(l.fallback),
            ])?;
        }
    }
    if !b.lead_updates.is_empty() {
        let mut st = db.prepare_cached(
            "UPDATE leads SET owner = ?1, queue = ?2, team = ?3, status = ?4, stage = ?5, outcome = ?6, outcome_at = ?7, contact_by = ?8, accepted_at = ?9, first_touch_at = ?10 WHERE id = ?11",
        )?;
        for u in &b.lead_updates {
            st.execute(params![
                u.owner,
                u.queue,
                u.team,
                u.status,
                u.stage,
                u.outcome,
                u.outcome_at,
                u.contact_by,
                u.accepted_at,
                u.first_touch_at,
                u.id,
            ])?;
        }
    }
    if !b.decisions.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO decisions (lead_id, kind, decided_at, owner, queue, reason, actor, config_version, decision_z, trace_z) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (d, (decision, trace)) in b.decisions.iter().zip(&values.decisions) {
            st.execute(params![
                d.lead_id,
                d.kind,
                d.decided_at,
                d.owner,
                d.queue,
                d.reason,
                d.actor,
                d.config_version,
                decision,
                trace,
            ])?;
        }
    }
    if !b.people.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO people (email, owner, status, disqualified_at, note, first_seen_at, last_seen_at, lead_count, last_lead_id) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6, ?7, ?8) ON CONFLICT (email) DO UPDATE SET owner = excluded.owner, status = excluded.status, disqualified_at = excluded.disqualified_at, note = excluded.note, last_seen_at = excluded.last_seen_at, lead_count = people.lead_count + excluded.lead_count, last_lead_id = excluded.last_lead_id",
        )?;
        for p in &b.people {
            let status = match p.prior.status {
                PriorStatus::Open => "open",
                PriorStatus::Disqualified => "disqualified",
            };
            st.execute(params![
                p.email,
                p.prior.owner,
                status,
                p.prior.disqualified_at.map(micros),
                p.prior.note,
                p.seen_at,
                p.new_leads,
                p.last_lead_id,
            ])?;
        }
    }
    if !b.rotations.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO rotations (team, rep, pass) VALUES (?1, ?2, ?3) ON CONFLICT (team, rep) DO UPDATE SET pass = excluded.pass",
        )?;
        for (team, rep, pass) in &b.rotations {
            st.execute(params![team, rep, pass])?;
        }
    }
    if !b.clocks.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO rotation_clocks (team, virtual_time) VALUES (?1, ?2) ON CONFLICT (team) DO UPDATE SET virtual_time = excluded.virtual_time",
        )?;
        for (team, vt) in &b.clocks {
            st.execute(params![team, vt])?;
        }
    }
    if !b.rep_state.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO rep_state (rep, early, mid, late, daily_date, daily_count, out, out_until, out_note) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (rep) DO UPDATE SET early = excluded.early, mid = excluded.mid, late = excluded.late, daily_date = excluded.daily_date, daily_count = excluded.daily_count, out = excluded.out, out_until = excluded.out_until, out_note = excluded.out_note",
        )?;
        for r in &b.rep_state {
            st.execute(params![
                r.rep,
                r.early,
                r.mid,
                r.late,
                r.daily_date,
                r.daily_count,
                i64::from(r.out),
                r.out_until,
                r.out_note,
            ])?;
        }
    }
    if !b.idempotency.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO idempotency (key, lead_id, status, response, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
        )?;
        for ((key, r, at), response) in b.idempotency.iter().zip(&values.responses) {
            st.execute(params![key, r.lead_id, i64::from(r.status), response, at])?;
        }
    }
    if !b.cancel_timers.is_empty() {
        let mut st = db.prepare_cached(
            "UPDATE sla_timers SET status = 'cancelled' WHERE status = 'pending' AND lead_id = ?1",
        )?;
        for lead in &b.cancel_timers {
            st.execute([lead])?;
        }
    }
    if !b.fired_timers.is_empty() {
        let mut st = db.prepare_cached(
            "UPDATE sla_timers SET status = 'fired', fired_at = ?1 WHERE id = ?2",
        )?;
        for (id, at) in &b.fired_timers {
            st.execute(params![at, id])?;
        }
    }
    if !b.timers.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO sla_timers (id, lead_id, step, due_at, status, owner, fired_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for t in &b.timers {
            st.execute(params![
                t.id,
                t.lead_id,
                t.step,
                t.due_at,
                t.status,
                t.owner,
                t.fired_at,
                t.created_at,
            ])?;
        }
    }
    if !b.outbox.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO outbox (id, lead_id, kind, channel, recipient, payload, status, attempts, next_attempt_at, created_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
        )?;
        for (o, payload) in b.outbox.iter().zip(&values.outbox_payloads) {
            st.execute(params![
                o.id,
                o.lead_id,
                o.kind,
                o.channel,
                o.recipient,
                payload,
                o.status,
                o.attempts,
                o.next_attempt_at,
                o.created_at,
            ])?;
        }
    }
    db.prepare_cached("UPDATE state_version SET version = ?1 WHERE id = 1")?
        .execute([version])?;
    // Console rollups and reporting columns, in the same transaction.
    write_rollups(db, b, &changed, before)
}

/// The same rollup rows as `RollupTx::write_rollups` (reporting.rs), one upsert a row.
fn write_rollups(
    db: &rusqlite::Connection,
    b: &BatchWrite,
    changed: &[String],
    before: Vec<LeadFacts>,
) -> Result<()> {
    // The zone is stored beside the state version and changes only under the write lock
    // (`Reporting::set_report_zone`); one primary-key read per batch.
    let zone: String = db
        .prepare_cached("SELECT report_zone FROM state_version WHERE id = 1")?
        .query_row([], |r| r.get(0))?;
    let zone = zone_named(zone);
    let r = reporting::rollups(b, &zone);
    if !r.daily.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO console_daily (day, tier, path, leads, assigned, fallbacks, assign_us_sum) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (day, tier, path) DO UPDATE SET leads = console_daily.leads + excluded.leads, assigned = console_daily.assigned + excluded.assigned, fallbacks = console_daily.fallbacks + excluded.fallbacks, assign_us_sum = console_daily.assign_us_sum + excluded.assign_us_sum",
        )?;
        for d in r.daily.values() {
            st.execute(params![
                d.day,
                d.tier,
                d.path,
                d.leads,
                d.assigned,
                d.fallbacks,
                d.assign_us_sum
            ])?;
        }
    }
    if !r.speed.is_empty() {
        let mut st = db.prepare_cached(
            "INSERT INTO console_speed (day, bucket, n) VALUES (?1, ?2, ?3) ON CONFLICT (day, bucket) DO UPDATE SET n = console_speed.n + excluded.n",
        )?;
        for ((day, bucket), n) in &r.speed {
            st.execute(params![day, bucket, n])?;
        }
    }
    if !r.reassigned.is_empty() {
        let mut st =
            db.prepare_cached("UPDATE leads SET reassignments = reassignments + ?1 WHERE id = ?2")?;
        for (id, n) in &r.reassigned {
            st.execute(params![n, id])?;
        }
    }
    // console_window: new leads from the batch itself (no read); changed leads as read
    // before the write and again now.
    let mut after = reporting::new_lead_facts(b, changed);
    after.extend(facts(db, changed)?);
    let deltas: Vec<(WindowKey, WindowSums)> = reporting::window_deltas(&before, &after, &zone)
        .into_iter()
        .collect();
    if !deltas.is_empty() {
        let mut st = db.prepare_cached(&WINDOW_UPSERT)?;
        for ((day, tier, path, team, owner), sums) in &deltas {
            let mut values: Vec<&dyn rusqlite::ToSql> = vec![day, tier, path, team, owner];
            values.extend(sums.iter().map(|x| x as &dyn rusqlite::ToSql));
            st.execute(values.as_slice())?;
        }
    }
    Ok(())
}

/// The zone named `name`, resolved once per name on this thread (a time zone database
/// lookup per batch is avoidable work).
fn zone_named(name: String) -> reporting::ReportZone {
    thread_local! {
        static LAST: std::cell::RefCell<Option<reporting::ReportZone>> = const { std::cell::RefCell::new(None) };
    }
    LAST.with_borrow_mut(|last| match last {
        Some(z) if z.name() == name => z.clone(),
        _ => {
            let z = reporting::ReportZone::stored(&name);
            *last = Some(z.clone());
            z
        }
    })
}

/// `INSERT INTO console_window … ON CONFLICT … DO UPDATE` adding every sum column.
static WINDOW_UPSERT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    let cols = WINDOW_SUMS.join(", ");
    let params: Vec<String> = (1..=5 + WINDOW_SUMS.len())
        .map(|i| format!("?{i}"))
        .collect();
    let set: Vec<String> = WINDOW_SUMS
        .iter()
        .map(|c| format!("{c} = console_window.{c} + excluded.{c}"))
        .collect();
    format!(
        "INSERT INTO console_window (day, tier, path, team, owner, {cols}) VALUES ({}) ON CONFLICT (day, tier, path, team, owner) DO UPDATE SET {}",
        params.join(", "),
        set.join(", ")
    )
});
