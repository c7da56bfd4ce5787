//! Issue 24 item 9 at the HTTP boundary, on the real binary: `/readyz` reflects failed
//! commits, and logs carry neither a lead's address nor a signed link's token.
//!
//! Commits are made to fail the way a full disk fails them: the database still answers
//! reads and pings, but every routing write is refused. A trigger that aborts inserts
//! into `leads` does that on SQLite (the test runs as any user, root included, where a
//! read-only file would not stop the writer).

mod support;

use serde_json::{Value, json};
use sqlx::Connection as _;
use std::time::Duration;
use support::notify::{Receivers, hot_lead};
use support::{Server, e2e, serve};

fn pool_lead(email: &str) -> Value {
    json!({
        "first_name": "Pat",
        "last_name": "Example",
        "email": email,
        "company": "Example Co",
        "country": "US",
        "employees": 500,
        "industry": "software",
        "action": "demo_request",
    })
}

async fn sqlite(server: &Server, sql: &'static str) {
    let mut c = sqlx::SqliteConnection::connect(server.database_url())
        .await
        .expect("open the server's SQLite database");
    sqlx::raw_sql(sql).execute(&mut c).await.expect(sql);
}

async fn readyz(server: &Server) -> (u16, String) {
    let r = server.get("/readyz").send_async().await;
    (r.status, r.text)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readyz_is_not_ready_while_commits_fail_and_ready_again_after_a_success() {
    let server = Server::start_async(e2e()).await;
    assert_eq!(readyz(&server).await.0, 200);

    sqlite(
        &server,
        "CREATE TRIGGER disk_full BEFORE INSERT ON leads \
         BEGIN SELECT RAISE(ABORT, 'database or disk is full (test)'); END;",
    )
    .await;
    // Each request is its own routing transaction: three in a row fail.
    for i in 0..3 {
        let r = server
            .post("/v1/leads")
            .intake()
            .json(&pool_lead(&format!("full{i}@example.com")))
            .send_async()
            .await;
        server.check(r.status >= 500, || {
            format!("write {i} should fail: {} {}", r.status, r.text)
        });
    }
    let (status, text) = readyz(&server).await;
    server.check(status == 503, || {
        format!("readyz must say not ready while every commit fails: {status} {text}")
    });
    server.check(text.contains("writes failing"), || text.clone());

    sqlite(&server, "DROP TRIGGER disk_full;").await;
    // Still not ready (within the window) until a commit succeeds.
    assert_eq!(readyz(&server).await.0, 503);
    let r = server
        .post("/v1/leads")
        .intake()
        .json(&pool_lead("after@example.com"))
        .send_async()
        .await;
    server.check(r.status == 201, || format!("{} {}", r.status, r.text));
    let (status, text) = readyz(&server).await;
    server.check(status == 200, || {
        format!("ready again after a success: {status} {text}")
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_email_does_not_log_the_leads_address() {
    let rx = Receivers::start().await;
    let dir = tempfile::tempdir().expect("temporary directory");
    let config = dir.path().join("notify.toml");
    std::fs::write(&config, rx.config_text()).expect("writing the config");
    // Nothing listens on this port: every email fails (and is retried).
    let down = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port");
    let opts = serve(&config)
        .envs(rx.env())
        .env("LEADROUTER_SMTP_URL", format!("smtp://{down}"));
    let server = Server::start_async(opts).await;
    let email = "jane.secret@acme-robotics.com";
    let d = server
        .post("/v1/leads")
        .intake()
        .json(&hot_lead("Jane", "Secret", "Acme Robotics", email))
        .send_async()
        .await
        .expect_status(201)
        .json();
    let lead = d["lead_id"].as_str().expect("lead_id").to_string();
    // Wait until the delivery failure is logged.
    leadrouter_testsupport::eventually(
        Duration::from_secs(30),
        || format!("no failed delivery in the log:\n{}", server.logs()),
        || async { server.stderr().contains("delivery failed").then_some(()) },
    )
    .await;
    let err = server.stderr();
    server.check(!err.contains(email), || {
        format!("the lead's address is in the log at the default level:\n{err}")
    });
    server.check(err.contains(&lead), || {
        format!("the log should name lead {lead}:\n{err}")
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn debug_logs_do_not_print_signed_link_tokens() {
    let server = Server::start_async(e2e().env("LEADROUTER_LOG", "debug")).await;
    let token = "eyJsZWFkIjoic2VjcmV0LWxlYWQifQ.c2lnbmF0dXJlLXRoYXQtbXVzdC1ub3QtbGVhaw";
    for method in ["GET", "POST"] {
        let r = server
            .call(method.parse().unwrap(), &format!("/l/{token}"))
            .send_async()
            .await;
        server.check(r.status == 400 || r.status == 404, || {
            format!("{} {}", r.status, r.text)
        });
    }
    // The trace layer logs the request when it is done.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let err = server.stderr();
    server.check(err.contains("/l/"), || {
        format!("debug logging is not on:\n{err}")
    });
    server.check(!err.contains(token) && !err.contains(&token[..20]), || {
        format!("a link token is in the debug log:\n{err}")
    });
}
