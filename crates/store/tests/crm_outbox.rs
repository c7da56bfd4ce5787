//! The CRM write-back outbox (`CrmOutbox`, migration 0016) against both backends: rows
//! written in the routing transaction, claimed one per lead in order under a lease,
//! retried, dead-lettered, requeued unless a later write superseded them.

use leadrouter_store::{BatchWrite, CrmRequeue, CrmResult, CrmRow, Store};
use leadrouter_testsupport::TestDb;
use std::sync::Arc;

const T0: i64 = 1_795_446_000_000_000;
const SECOND: i64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_crm_outbox_keeps_order_per_lead() {
    let db = TestDb::sqlite();
    crm_outbox_keeps_order_per_lead(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crm_outbox_keeps_order_per_lead() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    crm_outbox_keeps_order_per_lead(&db.url).await;
}

fn row(n: u32, lead: &str) -> CrmRow {
    CrmRow::new(
        format!("0190-{n:04}"),
        lead.into(),
        "route".into(),
        serde_json::json!({"n": n}),
        T0,
    )
}

async fn crm_outbox_keeps_order_per_lead(url: &str) {
    let store: Arc<dyn Store> = leadrouter_store::open(url).await.unwrap();
    let batch = BatchWrite {
        crm: vec![row(1, "A"), row(2, "B"), row(3, "A"), row(4, "C")],
        ..Default::default()
    };
    let mut tx = store.begin().await.unwrap();
    tx.lock_state().await.unwrap();
    tx.write(batch, 1).await.unwrap();
    tx.commit().await.unwrap();
    assert_eq!(store.crm_counts().await.unwrap(), (4, 0));
    // One row per lead: A's second write waits for its first.
    let got = store.crm_claim("w1", T0, 30 * SECOND, 10).await.unwrap();
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(ids, ["0190-0001", "0190-0002", "0190-0004"]);
    assert_eq!(got[0].payload["n"], 1);
    // Leased: nothing more for another worker.
    assert!(
        store
            .crm_claim("w2", T0 + SECOND, 30 * SECOND, 10)
            .await
            .unwrap()
            .is_empty()
    );
    store
        .crm_complete(&[
            (
                "0190-0001".into(),
                CrmResult::Done {
                    at: T0 + SECOND,
                    crm_id: "901".into(),
                },
            ),
            (
                "0190-0002".into(),
                CrmResult::Retry {
                    next_at: T0 + 60 * SECOND,
                    error: "429".into(),
                    counted: false,
                },
            ),
            (
                "0190-0004".into(),
                CrmResult::Dead {
                    error: "PROPERTY_DOESNT_EXIST".into(),
                },
            ),
        ])
        .await
        .unwrap();
    let got = store
        .crm_claim("w1", T0 + 2 * SECOND, 30 * SECOND, 10)
        .await
        .unwrap();
    let ids: Vec<&str> = got.iter().map(|r| r.id.as_str()).collect();
    assert_eq!(
        ids,
        ["0190-0003"],
        "A's second write is next; B waits for its retry time"
    );
    let b = store.crm_rows("B").await.unwrap();
    assert_eq!(
        (b[0].attempts, b[0].last_error.as_deref()),
        (0, Some("429"))
    );
    let dead = store.crm_dead_letters(10).await.unwrap();
    assert_eq!(dead.len(), 1);
    assert_eq!(
        store
            .crm_requeue("0190-0004", T0 + 3 * SECOND)
            .await
            .unwrap(),
        CrmRequeue::Requeued
    );
    assert_eq!(
        store.crm_requeue("nope", T0).await.unwrap(),
        CrmRequeue::NotFound
    );
    assert_eq!(store.crm_counts().await.unwrap(), (3, 0));
    // A dead letter with a later delivered write for its lead is not re-sent.
    store
        .crm_complete(&[("0190-0003".into(), CrmResult::Dead { error: "x".into() })])
        .await
        .unwrap();
    let mut tx = store.begin().await.unwrap();
    tx.lock_state().await.unwrap();
    tx.write(
        BatchWrite {
            crm: vec![row(5, "A")],
            ..Default::default()
        },
        2,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let got = store
        .crm_claim("w1", T0 + 4 * SECOND, 30 * SECOND, 10)
        .await
        .unwrap();
    let a5 = got.iter().find(|r| r.lead_id == "A").unwrap();
    store
        .crm_complete(&[(
            a5.id.clone(),
            CrmResult::Done {
                at: T0 + 5 * SECOND,
                crm_id: "901".into(),
            },
        )])
        .await
        .unwrap();
    assert_eq!(
        store
            .crm_requeue("0190-0003", T0 + 6 * SECOND)
            .await
            .unwrap(),
        CrmRequeue::Superseded
    );
}

/// Delivered rows behind the backlog and pending rows in it: the plan depends on the
/// table's size and statistics only.
const DELIVERED: i64 = 40_000;
const BACKLOG: i64 = 10_000;

/// A history of `DELIVERED` done rows, then a backlog of `BACKLOG` due pending rows
/// (two per lead), as one SQL batch over `series` (a table of numbers `n`: the backends
/// differ only there and in padding). The ids are zero-padded numbers: creation order,
/// like UUIDv7.
fn history_sql(series: &str) -> String {
    format!(
        "INSERT INTO crm_outbox (id, lead_id, kind, payload, status, next_attempt_at, created_at, done_at)
         SELECT {pad}, 'lead-' || (n % 30000), 'route', '{{}}', 'done', {T0}, {T0}, {T0}
         FROM {series} WHERE n <= {DELIVERED};
         INSERT INTO crm_outbox (id, lead_id, kind, payload, status, next_attempt_at, created_at)
         SELECT {pad}, 'backlog-' || (n % {half}), 'route', '{{}}', 'pending', {T0}, {T0}
         FROM {series} WHERE n > {DELIVERED};",
        pad = if series.contains("generate_series") {
            "lpad(n::text, 12, '0')"
        } else {
            "printf('%012d', n)"
        },
        half = BACKLOG / 2,
    )
}

/// Migration 0028 (the claim behind a long history and a backlog after a CRM outage):
/// the claim walks the pending rows by id, with or without statistics — before, SQLite
/// read every due row and sorted them (holding the write lock) and PostgreSQL walked the
/// primary key through every delivered row: 217 and 158 ms a claim behind 1,000,000
/// delivered rows and 300,000 pending (`examples/crm_claim_bench.rs`), now 1.2 and 4.1
/// ms. Still the oldest row of each lead, oldest first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_claim_walks_pending_rows_by_id() {
    let db = TestDb::sqlite();
    let store: Arc<dyn Store> = leadrouter_store::open(&db.url).await.unwrap();
    let pool = sqlx::SqlitePool::connect(&db.url).await.unwrap();
    let series = format!(
        "(WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {}) SELECT n FROM g)",
        DELIVERED + BACKLOG
    );
    // Built from this file's constants only.
    sqlx::raw_sql(sqlx::AssertSqlSafe(history_sql(&series)))
        .execute(&pool)
        .await
        .unwrap();
    // As the service leaves it (no ANALYZE), then with statistics (`PRAGMA optimize`).
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("ANALYZE").execute(&pool).await.unwrap();
        }
        let plan = store.crm_claim_plan(T0, 100).await.unwrap();
        assert!(
            plan.contains("crm_outbox_pending") && !plan.contains("TEMP B-TREE"),
            "the claim walks the pending rows by id, with no sort (analysed: {analyzed}):\n{plan}"
        );
    }
    pool.close().await;
    claims_the_backlog_in_order(&*store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_claim_walks_pending_rows_by_id() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let store: Arc<dyn Store> = leadrouter_store::open(&db.url).await.unwrap();
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    // Statistics analysed while the table was empty, and fresh ones.
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "ALTER TABLE crm_outbox SET (autovacuum_enabled = false);
         ANALYZE crm_outbox;
         {}",
        history_sql(&format!("generate_series(1, {}) n", DELIVERED + BACKLOG))
    )))
    .execute(&mut c)
    .await
    .unwrap();
    for analyzed in [false, true] {
        if analyzed {
            sqlx::query("ANALYZE crm_outbox")
                .execute(&mut c)
                .await
                .unwrap();
        }
        let plan = store.crm_claim_plan(T0, 100).await.unwrap();
        assert!(
            plan.contains("crm_outbox_pending on crm_outbox o") && !plan.contains("Sort"),
            "the claim walks the pending rows by id, with no sort (analysed: {analyzed}):\n{plan}"
        );
    }
    claims_the_backlog_in_order(&*store).await;
}

/// The first claim takes the backlog's first row of each lead, in id order.
async fn claims_the_backlog_in_order(store: &dyn Store) {
    let got = store.crm_claim("w1", T0, 30 * SECOND, 100).await.unwrap();
    let ids: Vec<String> = got.iter().map(|r| r.id.clone()).collect();
    let expected: Vec<String> = (DELIVERED + 1..=DELIVERED + 100)
        .map(|n| format!("{n:012}"))
        .collect();
    assert_eq!(ids, expected);
    assert!(got.iter().all(|r| r.lead_id.starts_with("backlog-")));
}
