//! `bare-baseline`: the least a durable intake server can do, to measure leadrouter against.
//!
//! `POST /v1/leads` parses the same JSON lead into a struct and hands it, with a oneshot
//! for the answer, to a single writer task. The writer takes everything queued (up to
//! `--max-batch`), inserts one row per lead in one `BEGIN IMMEDIATE` transaction on SQLite
//! (WAL, `synchronous=FULL`), commits, and only then answers each request 201 `{"id": …}`.
//! That is group commit: one fsync covers every request that arrived while the previous
//! commit was on disk. No routing, no dedupe, no indexes beyond the row id: whatever
//! leadrouter does on top of this is its cost.

use anyhow::{Context, Result, bail};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use leadrouter_loadtest::lead::Lead;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, SqliteConnection};
use std::str::FromStr;
use tokio::sync::{mpsc, oneshot};

#[derive(Parser, Debug)]
#[command(
    name = "bare-baseline",
    about = "Bare axum + SQLite group-commit intake server: the benchmark baseline"
)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8090")]
    listen: String,

    /// SQLite database: a path or a sqlite:// URL. Created when missing.
    #[arg(long, default_value = "sqlite://bare-baseline.db")]
    database: String,

    /// Most leads committed in one transaction.
    #[arg(long, default_value_t = 1024)]
    max_batch: usize,

    /// Server runtime threads (default: one per core).
    #[arg(long)]
    threads: Option<usize>,

    /// SQLite's `wal_autocheckpoint` in pages. The checkpoint runs inside the commit that
    /// crosses it, so the default (1000) puts an occasional multi-millisecond stall on
    /// the request path; 0 turns it off (the WAL then grows for the whole run).
    #[arg(long, default_value_t = 1000)]
    wal_autocheckpoint: u32,

    /// How a batch is written: one INSERT statement per lead, or multi-row INSERTs.
    #[arg(long, value_enum, default_value_t = InsertStyle::PerRow)]
    insert: InsertStyle,
}

/// How the writer turns a batch into SQL. Both insert one row per lead in one transaction;
/// multi-row saves sqlx-sqlite's per-statement hand-off to its worker thread, which is
/// most of the writer's cost.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum InsertStyle {
    PerRow,
    MultiRow,
}

/// Rows per multi-row INSERT: 17 parameters each, well under SQLite's 32,766 limit.
const ROWS_PER_STATEMENT: usize = 256;

/// A lead waiting for its commit, and where to send its row id.
struct Pending {
    lead: Lead,
    received_at: jiff::Timestamp,
    reply: oneshot::Sender<Result<i64, String>>,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if args.max_batch == 0 {
        bail!("--max-batch must be at least 1");
    }
    let mut runtime = tokio::runtime::Builder::new_multi_thread();
    if let Some(threads) = args.threads {
        runtime.worker_threads(threads);
    }
    runtime.enable_all().build()?.block_on(serve(args))
}

async fn serve(args: Args) -> Result<()> {
    let url = if args.database.starts_with("sqlite:") {
        args.database.clone()
    } else {
        format!("sqlite://{}", args.database)
    };
    let mut conn = SqliteConnectOptions::from_str(&url)
        .with_context(|| format!("--database {:?} is not a SQLite path or URL", args.database))?
        .create_if_missing(true)
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(SqliteSynchronous::Full)
        .pragma("wal_autocheckpoint", args.wal_autocheckpoint.to_string())
        .connect()
        .await
        .with_context(|| format!("opening {url}"))?;
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS leads (
            id INTEGER PRIMARY KEY,
            received_at TEXT NOT NULL,
            first_name TEXT, last_name TEXT, email TEXT, company TEXT, title TEXT,
            phone TEXT, country TEXT, state TEXT, zip TEXT, lead_source TEXT, action TEXT,
            employees TEXT, industry TEXT, product TEXT,
            page_history TEXT NOT NULL, fields TEXT NOT NULL
        )",
    )
    .execute(&mut conn)
    .await
    .context("creating the leads table")?;

    // Bounded, so a writer that cannot keep up pushes back on the handlers.
    let (tx, rx) = mpsc::channel::<Pending>(args.max_batch * 8);
    let writer = tokio::spawn(writer(conn, rx, args.max_batch, args.insert));

    let app = Router::new()
        .route("/v1/leads", post(create_lead))
        .route("/healthz", get(|| async { "ok" }))
        .with_state(tx);
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("binding {}", args.listen))?;
    eprintln!(
        "bare-baseline listening on http://{} (database {url}, max batch {}, {:?} inserts)",
        listener.local_addr()?,
        args.max_batch,
        args.insert
    );
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown_signal())
        .await?;
    // The router, and with it the channel's sender, is gone: the writer drains and ends.
    let stats = writer.await?;
    eprintln!(
        "bare-baseline: {} leads in {} commits (mean batch {:.1}, largest {}), mean commit {:.3} ms",
        stats.rows,
        stats.commits,
        stats.rows as f64 / stats.commits.max(1) as f64,
        stats.largest,
        stats.commit_time.as_secs_f64() * 1e3 / stats.commits.max(1) as f64
    );
    Ok(())
}

/// Ctrl-C or SIGTERM (what the benchmark script sends).
async fn shutdown_signal() {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .expect("installing a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// What the writer did, printed at shutdown to show how well commits were grouped.
#[derive(Default)]
struct WriterStats {
    commits: u64,
    rows: u64,
    largest: usize,
    commit_time: std::time::Duration,
}

async fn create_lead(State(tx): State<mpsc::Sender<Pending>>, Json(lead): Json<Lead>) -> Response {
    let (reply, answer) = oneshot::channel();
    let pending = Pending {
        lead,
        received_at: jiff::Timestamp::now(),
        reply,
    };
    if tx.send(pending).await.is_err() {
        return (StatusCode::SERVICE_UNAVAILABLE, "writer stopped").into_response();
    }
    match answer.await {
        Ok(Ok(id)) => (StatusCode::CREATED, Json(serde_json::json!({ "id": id }))).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, e).into_response(),
        Err(_) => (StatusCode::INTERNAL_SERVER_ERROR, "writer dropped the lead").into_response(),
    }
}

/// The single writer: one transaction, one fsync, per batch of whatever is queued.
async fn writer(
    mut conn: SqliteConnection,
    mut rx: mpsc::Receiver<Pending>,
    max_batch: usize,
    insert: InsertStyle,
) -> WriterStats {
    let mut stats = WriterStats::default();
    let mut batch = Vec::with_capacity(max_batch);
    while rx.recv_many(&mut batch, max_batch).await > 0 {
        let started = std::time::Instant::now();
        let committed = match insert {
            InsertStyle::PerRow => commit_per_row(&mut conn, &batch).await,
            InsertStyle::MultiRow => commit_multi_row(&mut conn, &batch).await,
        };
        stats.commit_time += started.elapsed();
        stats.commits += 1;
        stats.rows += batch.len() as u64;
        stats.largest = stats.largest.max(batch.len());
        match committed {
            Ok(ids) => {
                for (pending, id) in batch.drain(..).zip(ids) {
                    let _ = pending.reply.send(Ok(id));
                }
            }
            Err(e) => {
                eprintln!(
                    "bare-baseline: commit of {} leads failed: {e:#}",
                    batch.len()
                );
                let message = format!("commit failed: {e}");
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(message.clone()));
                }
            }
        }
    }
    stats
}

async fn commit_per_row(conn: &mut SqliteConnection, batch: &[Pending]) -> Result<Vec<i64>> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut ids = Vec::with_capacity(batch.len());
    for pending in batch {
        let lead = &pending.lead;
        let done = sqlx::query(
            "INSERT INTO leads (received_at, first_name, last_name, email, company, title,
                phone, country, state, zip, lead_source, action, employees, industry, product,
                page_history, fields)
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(pending.received_at.to_string())
        .bind(lead.first_name.as_deref())
        .bind(lead.last_name.as_deref())
        .bind(lead.email.as_deref())
        .bind(lead.company.as_deref())
        .bind(lead.title.as_deref())
        .bind(lead.phone.as_deref())
        .bind(lead.country.as_deref())
        .bind(lead.state.as_deref())
        .bind(lead.zip.as_deref())
        .bind(lead.lead_source.as_deref())
        .bind(lead.action.as_deref())
        .bind(lead.employees.as_ref().map(|e| e.to_string()))
        .bind(lead.industry.as_deref())
        .bind(lead.product.as_deref())
        .bind(serde_json::to_string(&lead.page_history)?)
        .bind(serde_json::to_string(&lead.fields)?)
        .execute(&mut *tx)
        .await?;
        ids.push(done.last_insert_rowid());
    }
    tx.commit().await?;
    Ok(ids)
}

async fn commit_multi_row(conn: &mut SqliteConnection, batch: &[Pending]) -> Result<Vec<i64>> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    let mut ids = Vec::with_capacity(batch.len());
    for chunk in batch.chunks(ROWS_PER_STATEMENT) {
        let mut insert = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO leads (received_at, first_name, last_name, email, company, title,
                phone, country, state, zip, lead_source, action, employees, industry, product,
                page_history, fields) ",
        );
        // Vec<String> and a string map always serialise; the error arm is never taken.
        let mut encoded: Result<(), serde_json::Error> = Ok(());
        insert.push_values(chunk, |mut row, pending| {
            let lead = &pending.lead;
            let pages = serde_json::to_string(&lead.page_history);
            let fields = serde_json::to_string(&lead.fields);
            let (pages, fields) = match (pages, fields) {
                (Ok(pages), Ok(fields)) => (pages, fields),
                (Err(e), _) | (_, Err(e)) => {
                    encoded = Err(e);
                    (String::new(), String::new())
                }
            };
            row.push_bind(pending.received_at.to_string())
                .push_bind(lead.first_name.clone())
                .push_bind(lead.last_name.clone())
                .push_bind(lead.email.clone())
                .push_bind(lead.company.clone())
                .push_bind(lead.title.clone())
                .push_bind(lead.phone.clone())
                .push_bind(lead.country.clone())
                .push_bind(lead.state.clone())
                .push_bind(lead.zip.clone())
                .push_bind(lead.lead_source.clone())
                .push_bind(lead.action.clone())
                .push_bind(lead.employees.as_ref().map(|e| e.to_string()))
                .push_bind(lead.industry.clone())
                .push_bind(lead.product.clone())
                .push_bind(pages)
                .push_bind(fields);
        });
        encoded?;
        let done = insert.build().execute(&mut *tx).await?;
        // One writer holds the write lock, so the new row ids are consecutive.
        let last = done.last_insert_rowid();
        let first = last - chunk.len() as i64 + 1;
        ids.extend(first..=last);
    }
    tx.commit().await?;
    Ok(ids)
}
