//! The replay's history scan walks the primary key on both backends, also while the
//! table's statistics lag its growth (issue 21: on PostgreSQL the planner chose a bitmap
//! scan of every later event and an external sort per page, quadratic over a replay).
//!
//! The PostgreSQL case needs a server (`LEADROUTER_TEST_PG`, default
//! `postgres://postgres@127.0.0.1:5432/test`); without one it fails and says how to skip
//! it (`LEADROUTER_SKIP_PG=1`).

use leadrouter_store::HistoryReader;
use leadrouter_testsupport::TestDb;

/// Events as the sequencer stores them in number, not in content: the plan depends on
/// the table's size and statistics only.
const EVENTS: i64 = 60_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_scan_walks_the_primary_key_with_stale_statistics() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    drop(leadrouter_store::open(&db.url).await.unwrap());
    let mut c = <sqlx::PgConnection as sqlx::Connection>::connect(&db.url)
        .await
        .unwrap();
    // Statistics that lag: analysed while nearly empty, never again.
    sqlx::raw_sql(
        "ALTER TABLE routing_events SET (autovacuum_enabled = false);
         INSERT INTO routing_events (state_version, idx, at, kind, config_version, effects)
         VALUES (1, 0, 1, 'route', 'v1', '[]');
         ANALYZE routing_events;",
    )
    .execute(&mut c)
    .await
    .unwrap();
    sqlx::query(
        "INSERT INTO routing_events (state_version, idx, at, kind, config_version, input, effects)
         SELECT g, 0, g, 'route', 'v1', repeat('x', 600), '[]' FROM generate_series(2, $1) g",
    )
    .bind(EVENTS)
    .execute(&mut c)
    .await
    .unwrap();
    let mut reader = HistoryReader::open(&db.url).await.unwrap();
    let plan = reader.scan_plan().await.unwrap();
    assert!(
        plan.contains("Index Scan using routing_events_pkey") && !plan.contains("Sort"),
        "the scan walks the primary key, with no sort:\n{plan}"
    );
    // A window reads up to its last state version (and no further).
    let window = reader.events_after(0, 0, Some(100)).await.unwrap();
    let versions: Vec<i64> = window.iter().map(|e| e.state_version).collect();
    assert_eq!(versions, (1..=100).collect::<Vec<_>>());
    assert!(reader.events_after(0, 0, Some(0)).await.unwrap().is_empty());
    reader.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_scan_walks_the_primary_key() {
    let db = TestDb::sqlite();
    drop(leadrouter_store::open(&db.url).await.unwrap());
    let mut reader = HistoryReader::open(&db.url).await.unwrap();
    let plan = reader.scan_plan().await.unwrap();
    reader.close().await.unwrap();
    assert!(
        plan.contains("USING PRIMARY KEY") || plan.contains("sqlite_autoindex_routing_events"),
        "the scan walks the primary key:\n{plan}"
    );
    assert!(!plan.contains("TEMP B-TREE"), "no sort:\n{plan}");
}
