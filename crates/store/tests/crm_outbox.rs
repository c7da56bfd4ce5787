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
