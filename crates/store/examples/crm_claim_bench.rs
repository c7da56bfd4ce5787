//! The CRM worker's claim behind a long history and a backlog (docs/benchmarks.md "CRM
//! write-back", migration 0028): a database with `--done` delivered rows and a backlog
//! of `--pending` due rows (two per lead, as after a CRM outage), then `--claims` claims
//! of `--batch` rows through `CrmOutbox::crm_claim`, each completed as delivered
//! (`crm_complete`), as the write-back worker drains the backlog. Then with the backlog
//! waiting for a retry an hour out (the CRM answering errors) but for the last `--batch`
//! leads, claiming those again and again: every claim walks past the waiting rows.
//! Prints the claim's plan and p50 / p99 / max per claim in ms.
//!
//!   cargo run --release -p leadrouter-store --example crm_claim_bench -- \
//!       --sqlite /tmp/lr-crm/claim.db --postgres postgres://postgres@127.0.0.1:5432/lr_crm
//!
//! Each database is emptied of `crm_outbox` rows first (use a scratch database).

use leadrouter_store::{CrmResult, Store};
use std::time::{Duration, Instant};

const T0: i64 = 1_795_446_000_000_000;
const SECOND: i64 = 1_000_000;

/// The history and the backlog, as SQL over `series` (a table of numbers `n`).
fn load_sql(series: &str, pad: &str, done: i64, pending: i64) -> String {
    format!(
        "DELETE FROM crm_outbox;
         INSERT INTO crm_outbox (id, lead_id, kind, payload, status, next_attempt_at, created_at, done_at)
         SELECT {pad}, 'lead-' || (n % 900000), 'route', '{{}}', 'done', {T0}, {T0}, {T0}
         FROM {series} WHERE n <= {done};
         INSERT INTO crm_outbox (id, lead_id, kind, payload, status, next_attempt_at, created_at)
         SELECT {pad}, 'backlog-' || (n % {half}), 'route', '{{}}', 'pending', {T0}, {T0}
         FROM {series} WHERE n > {done};",
        half = (pending / 2).max(1),
    )
}

/// Run SQL built from this file's numbers only on the database at `url`.
async fn execute(url: &str, sql: String) -> Result<(), Box<dyn std::error::Error>> {
    let sql = sqlx::AssertSqlSafe(sql);
    if url.starts_with("postgres") {
        let pool = sqlx::PgPool::connect(url).await?;
        sqlx::raw_sql(sql).execute(&pool).await?;
        pool.close().await;
    } else {
        let pool = sqlx::SqlitePool::connect(url).await?;
        sqlx::raw_sql(sql).execute(&pool).await?;
        pool.close().await;
    }
    Ok(())
}

fn stats(mut ms: Vec<f64>) -> String {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    format!(
        "p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} claims)",
        at(0.5),
        at(0.99),
        ms[ms.len() - 1],
        ms.len()
    )
}

/// `claims` claims of `batch`, each completed as delivered (or, `again`, as a retry due
/// at once, so the next claim finds the same rows); the time of each claim.
async fn drain(
    store: &dyn Store,
    claims: usize,
    batch: i64,
    now: i64,
    again: bool,
) -> Result<Vec<f64>, Box<dyn std::error::Error>> {
    let mut ms = Vec::with_capacity(claims);
    for _ in 0..claims {
        let started = Instant::now();
        let got = store.crm_claim("bench", now, 30 * SECOND, batch).await?;
        ms.push(started.elapsed().as_secs_f64() * 1e3);
        if got.is_empty() {
            break;
        }
        let done: Vec<(String, CrmResult)> = got
            .into_iter()
            .map(|r| {
                let result = if again {
                    CrmResult::Retry {
                        next_at: now,
                        error: "429".into(),
                        counted: false,
                    }
                } else {
                    CrmResult::Done {
                        at: now,
                        crm_id: "1".into(),
                    }
                };
                (r.id, result)
            })
            .collect();
        store.crm_complete(&done).await?;
    }
    Ok(ms)
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let num = |name: &str, default: i64| -> Result<i64, Box<dyn std::error::Error>> {
        Ok(arg(name).map(|v| v.parse()).transpose()?.unwrap_or(default))
    };
    let done = num("--done", 1_000_000)?;
    let pending = num("--pending", 300_000)?;
    let claims = num("--claims", 200)? as usize;
    let batch = num("--batch", 100)?;
    let mut targets = Vec::new();
    if let Some(p) = arg("--sqlite") {
        targets.push(("sqlite", format!("sqlite://{p}")));
    }
    if let Some(u) = arg("--postgres") {
        targets.push(("postgres", u));
    }
    if targets.is_empty() {
        return Err("give --sqlite PATH and/or --postgres URL".into());
    }
    let total = done + pending;
    for (name, url) in targets {
        let store =
            tokio::time::timeout(Duration::from_secs(600), leadrouter_store::open(&url)).await??;
        let started = Instant::now();
        let sql = if name == "postgres" {
            load_sql(
                &format!("generate_series(1, {total}) n"),
                "lpad(n::text, 12, '0')",
                done,
                pending,
            )
        } else {
            let series = format!(
                "(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {total}) SELECT n FROM g)"
            );
            load_sql(&series, "printf('%012d', n)", done, pending)
        };
        execute(&url, sql).await?;
        if name == "postgres" {
            // On its own: VACUUM cannot run inside the batch's transaction.
            execute(&url, "VACUUM ANALYZE crm_outbox".into()).await?;
        }
        println!(
            "{name}: {done} delivered, {pending} pending, loaded in {:.1} s",
            started.elapsed().as_secs_f64()
        );
        println!("{}", store.crm_claim_plan(T0, batch).await?);
        let ms = drain(&*store, claims, batch, T0, false).await?;
        println!("{name}: backlog due, claim {}", stats(ms));
        // The first row of every lead still pending waits for a retry an hour out, except
        // the last `batch` leads' (each lead's second row waits behind its first).
        let claimed = (claims as i64 * batch).min(pending);
        let last_waiting = format!("{:012}", done + (pending / 2).max(claimed + batch) - batch);
        execute(
            &url,
            format!(
                "UPDATE crm_outbox SET next_attempt_at = {} WHERE status = 'pending' AND id <= '{last_waiting}'",
                T0 + 3_600 * SECOND
            ),
        )
        .await?;
        let ms = drain(&*store, claims.min(50), batch, T0 + SECOND, true).await?;
        println!(
            "{name}: the backlog waiting for a retry up to {last_waiting}, {batch} due after it, claim {}",
            stats(ms)
        );
    }
    Ok(())
}
