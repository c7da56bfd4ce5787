//! End to end: the load generator against the bare baseline, both as real binaries.
//! Every 2xx the generator counts must be a row in the baseline's SQLite file.

use leadrouter_testsupport::Cli;
use sqlx::{Connection, SqliteConnection};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

/// Kills the server when the test ends, however it ends.
struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `bare-baseline` on a free port and returns it with its address.
fn start_baseline(db: &std::path::Path, insert: &str) -> (Server, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_bare-baseline"))
        .args(["--listen", "127.0.0.1:0", "--insert", insert, "--database"])
        .arg(db)
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting bare-baseline");
    let stderr = child.stderr.take().unwrap();
    let server = Server(child);
    let mut lines = BufReader::new(stderr).lines();
    let line = lines
        .next()
        .expect("bare-baseline printed nothing")
        .unwrap();
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .unwrap_or_else(|| panic!("no address in {line:?}"))
        .to_owned();
    (server, addr)
}

fn run_load(args: &[&str]) -> serde_json::Value {
    let mut args = args.to_vec();
    args.push("--json");
    let out = Cli::run(env!("CARGO_BIN_EXE_leadrouter-load"), &args).expect_code(0);
    serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| out.fail(&format!("stdout is not one JSON summary: {e}")))
}

async fn count_rows(db: &std::path::Path) -> i64 {
    let mut conn = SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query_scalar("SELECT count(*) FROM leads")
        .fetch_one(&mut conn)
        .await
        .unwrap()
}

async fn every_acknowledged_lead_is_stored(insert: &str) {
    let dir = std::env::temp_dir().join(format!(
        "leadrouter-loadtest-{}-{insert}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let db = dir.join("bare.db");
    let (server, addr) = start_baseline(&db, insert);
    let url = format!("http://{addr}/v1/leads");

    let closed = run_load(&[&url, "--concurrency", "8", "--requests", "400"]);
    assert_eq!(closed["ok"], 400, "{closed}");
    assert_eq!(closed["mode"], "closed");
    assert!(closed["latency_ms"]["p50"].as_f64().unwrap() > 0.0);

    let open = run_load(&[&url, "--rate", "400", "--requests", "200"]);
    assert_eq!(open["ok"], 200, "{open}");
    assert_eq!(open["mode"], "open");
    assert!(open["speed_to_assign_ms"].is_null(), "{open}");

    drop(server);
    assert_eq!(count_rows(&db).await, 600);
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn per_row_baseline_stores_every_acknowledged_lead() {
    every_acknowledged_lead_is_stored("per-row").await;
}

#[tokio::test]
async fn multi_row_baseline_stores_every_acknowledged_lead() {
    every_acknowledged_lead_is_stored("multi-row").await;
}

#[test]
fn unreachable_target_fails_fast() {
    // Nothing listens on port 9 (discard) here: the run fails fast with a clear message.
    let out = Cli::run(
        env!("CARGO_BIN_EXE_leadrouter-load"),
        &["http://127.0.0.1:9/v1/leads", "--requests", "1"],
    )
    .expect_failure();
    out.check(
        out.stderr.contains("cannot connect"),
        "the error names the connection failure",
    );
}
