//! Crash safety: `kill -9` the server while a load generator is sending, restart it on the
//! same database, and check that every lead that got a 2xx is stored and assigned, and
//! that re-sending the requests that got no answer (same Idempotency-Key) succeeds
//! without creating a lead twice. Once on SQLite, once on PostgreSQL.
//!
//! The PostgreSQL test needs a server (`LEADROUTER_TEST_PG`); set `LEADROUTER_SKIP_PG=1`
//! to skip it.

mod support;

use serde_json::Value;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::pool::{
    client, get_lead, lead, lead_email, on_database, one_pool_config, owner_id, post_lead,
};
use support::{Server, TestDb};

const CLIENTS: usize = 8;
/// Kill once this many leads have been acknowledged.
const KILL_AFTER: usize = 400;

#[derive(Default)]
struct Outcomes {
    /// Lead number → the 2xx body.
    acknowledged: BTreeMap<usize, Value>,
    /// Lead numbers that got no 2xx (connection reset, refused, 5xx).
    failed: BTreeMap<usize, String>,
}

fn key(run: &str, i: usize) -> String {
    format!("{run}-key-{i}")
}

async fn crash_and_recover(database: &str, run: &str) {
    let config = one_pool_config();
    let started = Instant::now();
    let mut server = Server::start_async(on_database(&config, database)).await;
    let http = client();
    let next = Arc::new(AtomicUsize::new(0));
    let acked = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let mut load = Vec::new();
    for _ in 0..CLIENTS {
        let (http, base, run) = (http.clone(), server.url.clone(), run.to_string());
        let (next, acked, stop, outcomes) =
            (next.clone(), acked.clone(), stop.clone(), outcomes.clone());
        load.push(tokio::spawn(async move {
            while !stop.load(Ordering::SeqCst) {
                let i = next.fetch_add(1, Ordering::SeqCst);
                let result = post_lead(&http, &base, &lead(&run, i), Some(&key(&run, i))).await;
                let mut o = outcomes.lock().unwrap();
                match result {
                    Ok(p) if (200..300).contains(&p.status) => {
                        o.acknowledged.insert(i, p.body);
                        acked.fetch_add(1, Ordering::SeqCst);
                    }
                    Ok(p) => {
                        o.failed.insert(i, format!("HTTP {}: {}", p.status, p.body));
                    }
                    Err(e) => {
                        o.failed.insert(i, format!("{e}"));
                    }
                }
            }
        }));
    }

    // Let the load run, then SIGKILL the server in the middle of it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while acked.load(Ordering::SeqCst) < KILL_AFTER {
        assert!(
            Instant::now() < deadline,
            "only {} leads acknowledged in 30 s; server stderr:\n{}",
            acked.load(Ordering::SeqCst),
            server.stderr()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    server.kill();
    let killed_at = started.elapsed();
    // The clients keep sending into the dead port for a moment, as real ones would.
    tokio::time::sleep(Duration::from_millis(50)).await;
    stop.store(true, Ordering::SeqCst);
    for t in load {
        t.await.expect("load task panicked");
    }
    let Outcomes {
        acknowledged,
        failed,
    } = std::mem::take(&mut *outcomes.lock().unwrap());
    let sent = next.load(Ordering::SeqCst);
    assert_eq!(acknowledged.len() + failed.len(), sent);
    assert!(acknowledged.len() >= KILL_AFTER);
    assert!(!failed.is_empty(), "the kill must interrupt some requests");

    // Restart on the same database.
    let server = Server::start_async(on_database(&config, database)).await;

    // 1. Every acknowledged lead is there, assigned, with the answer it was given.
    let mut lead_of: HashMap<usize, String> = HashMap::new();
    for (i, body) in &acknowledged {
        let id = body["lead_id"].as_str().expect("lead_id").to_string();
        let (status, stored) = get_lead(&http, &server.url, &id).await;
        assert_eq!(
            status, 200,
            "lead {i} ({id}) was acknowledged before the crash but is gone: {stored}"
        );
        assert_eq!(stored["email"], lead_email(run, *i).as_str(), "lead {i}");
        assert!(
            stored["owner"].is_string() || stored["queue"].is_string(),
            "lead {i} ({id}) is stored but not assigned: {stored}"
        );
        assert_eq!(
            stored["owner"].as_str(),
            owner_id(body),
            "lead {i}: stored owner differs from the answer"
        );
        assert_eq!(
            stored["history"].as_array().map(Vec::len),
            Some(1),
            "lead {i}"
        );
        lead_of.insert(*i, id);
    }

    // 2. An acknowledged request sent again is a replay of the first answer.
    for (i, body) in acknowledged.iter().step_by(7) {
        let p = post_lead(&http, &server.url, &lead(run, *i), Some(&key(run, *i)))
            .await
            .unwrap_or_else(|e| panic!("replaying lead {i}: {e}"));
        assert_eq!(p.status, 201, "lead {i}: {}", p.body);
        assert!(
            p.replayed,
            "lead {i}: a retry of an acknowledged request must replay"
        );
        assert_eq!(p.body["lead_id"], body["lead_id"], "lead {i}");
    }

    // 3. The requests that got no answer, sent again with the same key, now succeed —
    //    replayed if the crash came after their commit, routed now if before — and none
    //    is stored twice.
    let mut replayed = 0;
    for (i, why) in &failed {
        let p = post_lead(&http, &server.url, &lead(run, *i), Some(&key(run, *i)))
            .await
            .unwrap_or_else(|e| panic!("re-sending lead {i} (failed with {why}): {e}"));
        assert_eq!(
            p.status, 201,
            "lead {i} (failed with {why}) re-sent: {}",
            p.body
        );
        assert_eq!(
            p.body["deduplicated"],
            Value::Bool(false),
            "lead {i} was routed again as a resubmission instead of replayed: {}",
            p.body
        );
        replayed += usize::from(p.replayed);
        let id = p.body["lead_id"].as_str().expect("lead_id").to_string();
        let (status, stored) = get_lead(&http, &server.url, &id).await;
        assert_eq!(status, 200, "lead {i}");
        assert_eq!(stored["email"], lead_email(run, *i).as_str(), "lead {i}");
        assert!(stored["owner"].is_string() || stored["queue"].is_string());
        assert_eq!(
            stored["history"].as_array().map(Vec::len),
            Some(1),
            "lead {i} has more than one decision: {stored}"
        );
        lead_of.insert(*i, id);
    }

    // 4. Exactly one stored lead per lead sent.
    let distinct: HashSet<&String> = lead_of.values().collect();
    assert_eq!(lead_of.len(), sent);
    assert_eq!(distinct.len(), sent, "two lead numbers share a lead_id");
    let store = leadrouter_store::open(database).await.expect("open store");
    assert_eq!(
        store.lead_count().await.unwrap(),
        sent as i64,
        "stored leads vs. leads sent: some lead was stored twice or lost"
    );
    // The rotation survived the crash with its assignments: still even.
    let counts: Vec<i64> = store
        .owner_counts()
        .await
        .unwrap()
        .into_iter()
        .filter(|(o, _)| o.is_some())
        .map(|(_, n)| n)
        .collect();
    assert_eq!(
        counts.iter().sum::<i64>(),
        sent as i64,
        "all went to the pool"
    );
    let (max, min) = (counts.iter().max().unwrap(), counts.iter().min().unwrap());
    assert!(
        max - min <= 1,
        "round robin uneven after the crash: {counts:?}"
    );
    eprintln!(
        "{run}: killed after {:.1} s with {} acknowledged, {} unanswered ({replayed} of them had \
         committed); {sent} leads stored once each; total {:.1} s",
        killed_at.as_secs_f64(),
        acknowledged.len(),
        failed.len(),
        started.elapsed().as_secs_f64()
    );
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_kill_9_loses_no_acknowledged_lead() {
    let db = TestDb::sqlite();
    crash_and_recover(&db.url, "crash-sqlite").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_kill_9_loses_no_acknowledged_lead() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    crash_and_recover(&db.url, "crash-pg").await;
}
