//! The import-job table (`ImportStore`, migration 0015) against both backends: rows are
//! stored while receiving, claimed under a lease, recorded once, listed in line order,
//! and a job whose worker died is claimed again when its lease runs out.

use leadrouter_store::Store;
use leadrouter_store::imports::{ImportRowIn, RowOutcome};
use leadrouter_testsupport::TestDb;
use std::sync::Arc;

const T0: i64 = 1_795_446_000_000_000;
const SECOND: i64 = 1_000_000;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_import_jobs_resume_after_their_lease() {
    let db = TestDb::sqlite();
    import_jobs_resume_after_their_lease(&db.url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_import_jobs_resume_after_their_lease() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    import_jobs_resume_after_their_lease(&db.url).await;
}

async fn import_jobs_resume_after_their_lease(url: &str) {
    let store: Arc<dyn Store> = leadrouter_store::open(url).await.unwrap();
    store.import_create("job-1", "list-1", T0).await.unwrap();
    let rows: Vec<ImportRowIn> = (2..602)
        .map(|line| {
            if line % 100 == 0 {
                ImportRowIn::Rejected {
                    line,
                    errors: r#"[{"field":"email","message":"no @"}]"#.into(),
                }
            } else {
                ImportRowIn::Lead {
                    line,
                    payload: format!(r#"{{"email":"p{line}@x.com"}}"#),
                }
            }
        })
        .collect();
    store.import_add_rows("job-1", &rows, T0).await.unwrap();
    // Not claimable while receiving.
    assert!(
        store
            .import_claim("w1", T0, 10 * SECOND, 2)
            .await
            .unwrap()
            .is_empty()
    );
    store.import_seal("job-1", T0).await.unwrap();
    let claimed = store.import_claim("w1", T0, 10 * SECOND, 2).await.unwrap();
    assert_eq!(claimed.len(), 1);
    assert_eq!((claimed[0].total, claimed[0].rejected), (600, 6));
    assert!(
        store
            .import_claim("w2", T0 + SECOND, 10 * SECOND, 2)
            .await
            .unwrap()
            .is_empty(),
        "leased"
    );

    let pending = store.import_pending("job-1", 0, 256).await.unwrap();
    assert_eq!(pending.len(), 256);
    assert_eq!(pending[0].line, 2);
    let done: Vec<RowOutcome> = pending[..100]
        .iter()
        .map(|r| RowOutcome {
            line: r.line,
            imported: true,
            result: format!(r#"{{"lead_id":"L{}"}}"#, r.line),
        })
        .collect();
    store
        .import_record("job-1", &done, T0 + SECOND)
        .await
        .unwrap();
    // Recorded again (a worker whose lease ran out): not counted twice.
    store
        .import_record("job-1", &done, T0 + SECOND)
        .await
        .unwrap();
    assert!(
        !store.import_finish("job-1", T0 + SECOND).await.unwrap(),
        "rows pending"
    );

    // w1 dies; after the lease w2 takes over from the first pending row.
    let again = store
        .import_claim("w2", T0 + 11 * SECOND, 10 * SECOND, 2)
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].imported, 100);
    assert!(
        !store
            .import_renew("job-1", "w1", T0 + 30 * SECOND)
            .await
            .unwrap()
    );
    assert!(
        store
            .import_renew("job-1", "w2", T0 + 30 * SECOND)
            .await
            .unwrap()
    );
    let rest = store.import_pending("job-1", 0, 1000).await.unwrap();
    assert_eq!(rest.len(), 494);
    let outcomes: Vec<RowOutcome> = rest
        .iter()
        .map(|r| RowOutcome {
            line: r.line,
            imported: true,
            result: "{}".into(),
        })
        .collect();
    store
        .import_record("job-1", &outcomes, T0 + 12 * SECOND)
        .await
        .unwrap();
    assert!(
        store
            .import_finish("job-1", T0 + 12 * SECOND)
            .await
            .unwrap()
    );
    let job = store.import_job("job-1").await.unwrap().unwrap();
    assert_eq!(
        (
            job.status.as_str(),
            job.imported,
            job.rejected,
            job.pending()
        ),
        ("done", 594, 6, 0)
    );
    let listed = store.import_rows("job-1", 0, 1000).await.unwrap();
    assert_eq!(listed.len(), 600);
    assert!(listed.windows(2).all(|w| w[0].line < w[1].line));
    assert_eq!(listed.iter().filter(|r| !r.imported).count(), 6);

    // An upload that never finished is swept; a finished job is not.
    store.import_create("job-2", "list-2", T0).await.unwrap();
    store
        .import_add_rows("job-2", &rows[..3], T0)
        .await
        .unwrap();
    assert_eq!(store.import_sweep(T0 + SECOND).await.unwrap(), 1);
    assert!(store.import_job("job-2").await.unwrap().is_none());
    assert!(store.import_job("job-1").await.unwrap().is_some());
}
