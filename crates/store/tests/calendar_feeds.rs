//! The calendar feed copies (`CalendarStore`, migration 0023) against both backends: a
//! 200 stores the body and validators and clears the error, a 304 moves the fetch time
//! only, a failure keeps the copy and records the error (and creates a row for a feed
//! that never answered).

use leadrouter_store::{CalendarFeedRow, Store};
use leadrouter_testsupport::TestDb;
use std::sync::Arc;

const T0: i64 = 1_795_446_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_calendar_feed_copies() {
    let db = TestDb::sqlite();
    calendar_feed_copies(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_calendar_feed_copies() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    calendar_feed_copies(&db.url).await;
}

async fn calendar_feed_copies(url: &str) {
    let store: Arc<dyn Store> = leadrouter_store::open(url).await.unwrap();
    assert!(store.calendar_feeds().await.unwrap().is_empty());
    // A feed that never answered: an error row without a copy.
    store
        .calendar_failed("ben", "h-ben", "connection failed", T0)
        .await
        .unwrap();
    let good = CalendarFeedRow {
        rep: "ann".into(),
        source_hash: "h-ann".into(),
        etag: Some("\"v1\"".into()),
        last_modified: Some("Sun, 06 Dec 2026 10:00:00 GMT".into()),
        body: Some("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into()),
        fetched_at: Some(T0 + 1),
        changed_at: Some(T0 + 1),
        last_error: None,
        error_at: None,
    };
    store
        .calendar_failed("ann", "h-ann", "HTTP 503", T0)
        .await
        .unwrap();
    store.calendar_changed(&good).await.unwrap();
    store.calendar_not_modified("ann", T0 + 5).await.unwrap();
    store
        .calendar_failed("ann", "h-ann", &"x".repeat(5000), T0 + 9)
        .await
        .unwrap();
    let rows = store.calendar_feeds().await.unwrap();
    assert_eq!(rows.len(), 2);
    let ann = &rows[0];
    assert_eq!(ann.rep, "ann");
    assert_eq!(ann.body, good.body, "a failure keeps the copy");
    assert_eq!(ann.etag, good.etag);
    assert_eq!(ann.last_modified, good.last_modified);
    assert_eq!(ann.fetched_at, Some(T0 + 5), "a 304 is a successful fetch");
    assert_eq!(ann.changed_at, Some(T0 + 1));
    assert_eq!(ann.error_at, Some(T0 + 9));
    assert_eq!(
        ann.last_error.as_ref().map(String::len),
        Some(1000),
        "errors are capped"
    );
    let ben = &rows[1];
    assert_eq!((ben.body.as_deref(), ben.fetched_at), (None, None));
    assert_eq!(ben.last_error.as_deref(), Some("connection failed"));
    // The next 200 clears the error.
    store
        .calendar_changed(&CalendarFeedRow {
            rep: "ben".into(),
            source_hash: "h-ben2".into(),
            body: Some("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n".into()),
            fetched_at: Some(T0 + 20),
            changed_at: Some(T0 + 20),
            ..CalendarFeedRow::default()
        })
        .await
        .unwrap();
    let ben = store.calendar_feeds().await.unwrap().remove(1);
    assert_eq!((ben.last_error, ben.error_at), (None, None));
    assert_eq!(ben.source_hash, "h-ben2");
}
