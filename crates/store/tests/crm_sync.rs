//! The CRM sync tables (`CrmSyncStore`, migration 0021) against both backends: a page of
//! records and the position after it are stored together, records are upserted (a
//! changed owner or a deactivated user replaces the old row), providers are kept apart,
//! and a failed read keeps the position.

use leadrouter_store::{CrmAccountRow, CrmUserRow, Store, SyncPosition, SyncRows};
use leadrouter_testsupport::TestDb;
use std::sync::Arc;

const T0: i64 = 1_795_446_000_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_crm_sync_pages_and_positions() {
    let db = TestDb::sqlite();
    crm_sync_pages_and_positions(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crm_sync_pages_and_positions() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    crm_sync_pages_and_positions(&db.url).await;
}

fn account(id: &str, owner: &str, modified: i64) -> CrmAccountRow {
    CrmAccountRow {
        crm_id: id.into(),
        name: format!("Account {id}"),
        domain: Some(format!("https://www.{id}.com")),
        owner_crm_id: Some(owner.into()),
        named: id.ends_with('1'),
        modified,
    }
}

async fn crm_sync_pages_and_positions(url: &str) {
    let store: Arc<dyn Store> = leadrouter_store::open(url).await.unwrap();
    assert_eq!(
        store.crm_position("salesforce", "accounts").await.unwrap(),
        None
    );
    // First page of an unfinished pass: the cursor and its `since` are kept.
    let mid = SyncPosition {
        high_water: Some(T0 + 2),
        cursor: Some("/services/data/v62.0/query/01g-2".into()),
        cursor_since: None,
        ..SyncPosition::default()
    };
    let page1 = SyncRows::Accounts(vec![
        account("a1", "005A", T0 + 1),
        account("a2", "005A", T0 + 2),
    ]);
    store
        .crm_put_page("salesforce", &page1, &mid, T0)
        .await
        .unwrap();
    let got = store
        .crm_position("salesforce", "accounts")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.high_water, got.cursor.as_deref()),
        (Some(T0 + 2), mid.cursor.as_deref())
    );
    // Last page: the cursor goes, the mark moves; a2's owner changed.
    let done = SyncPosition {
        high_water: Some(T0 + 9),
        ..SyncPosition::default()
    };
    let page2 = SyncRows::Accounts(vec![account("a2", "005B", T0 + 9)]);
    store
        .crm_put_page("salesforce", &page2, &done, T0 + 5)
        .await
        .unwrap();
    let got = store
        .crm_position("salesforce", "accounts")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (got.high_water, got.cursor, got.last_error),
        (Some(T0 + 9), None, None)
    );
    let accounts = store.crm_accounts("salesforce").await.unwrap();
    assert_eq!(accounts.len(), 2);
    assert_eq!(accounts[1].owner_crm_id.as_deref(), Some("005B"));
    assert!(accounts[0].named && !accounts[1].named);
    assert!(store.crm_accounts("hubspot").await.unwrap().is_empty());

    // Users: a deactivation replaces the row.
    let user = |active| CrmUserRow {
        crm_id: "005A".into(),
        email: "ann@corp.test".into(),
        name: "Ann".into(),
        active,
        modified: T0,
    };
    let pos = SyncPosition {
        high_water: Some(T0),
        ..SyncPosition::default()
    };
    store
        .crm_put_page("salesforce", &SyncRows::Users(vec![user(true)]), &pos, T0)
        .await
        .unwrap();
    store
        .crm_put_page("salesforce", &SyncRows::Users(vec![user(false)]), &pos, T0)
        .await
        .unwrap();
    assert_eq!(
        store.crm_users("salesforce").await.unwrap(),
        vec![user(false)]
    );

    // A failed read keeps the position and records why.
    store
        .crm_sync_failed("salesforce", "accounts", "REQUEST_LIMIT_EXCEEDED", T0 + 6)
        .await
        .unwrap();
    let got = store
        .crm_position("salesforce", "accounts")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.high_water, Some(T0 + 9));
    assert_eq!(got.last_error.as_deref(), Some("REQUEST_LIMIT_EXCEEDED"));
    // A position of its own (the lead poller's watermark): stored, then moved, alone.
    for hw in [T0 + 20, T0 + 30] {
        let p = SyncPosition {
            high_water: Some(hw),
            ..SyncPosition::default()
        };
        store
            .crm_set_position("hubspot", "leads", &p, hw)
            .await
            .unwrap();
    }
    let got = store
        .crm_position("hubspot", "leads")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.high_water, Some(T0 + 30));
    assert_eq!(got.updated_at, T0 + 30);
    assert!(got.cursor.is_none() && got.last_error.is_none());
}
