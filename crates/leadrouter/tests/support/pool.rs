//! Helpers for the multi-instance and crash tests: a fresh PostgreSQL database per test,
//! the real `leadrouter serve` binary started on port 0 (and killed with SIGKILL when
//! asked), and a lead generator.
//!
//! PostgreSQL comes from `LEADROUTER_TEST_PG` (an admin URL, default
//! `postgres://postgres@127.0.0.1:5432/test`). House rule: CI has PostgreSQL, so a missing
//! server fails the test with a message saying how to skip (`LEADROUTER_SKIP_PG=1`);
//! it never passes silently.

#![allow(dead_code)] // each test binary uses its own subset

use serde_json::{Value, json};
use sqlx::{AssertSqlSafe, Connection};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::Duration;

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
pub const INTAKE_KEY: &str = "test-intake-key-0123456789";
pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The pool config shared by these tests.
pub fn one_pool_config() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/one_pool.toml")
}

// ---------------------------------------------------------------------------------------
// PostgreSQL
// ---------------------------------------------------------------------------------------

static NEXT: AtomicU32 = AtomicU32::new(0);

pub fn pg_skipped() -> bool {
    std::env::var("LEADROUTER_SKIP_PG").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn admin_url() -> String {
    std::env::var("LEADROUTER_TEST_PG")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| DEFAULT_PG.to_string())
}

/// `postgres://u@h:p/admin_db?x` with the database replaced by `name`.
pub fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let base = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{base}/{name}?{q}"),
        None => format!("{base}/{name}"),
    }
}

/// A fresh PostgreSQL database (`lr_t_<pid>_<n>`), dropped when this is dropped.
pub struct PgDb {
    pub url: String,
    admin: String,
    name: String,
}

impl PgDb {
    /// None when `LEADROUTER_SKIP_PG` is set; panics when the server cannot be reached.
    pub async fn create() -> Option<PgDb> {
        if pg_skipped() {
            eprintln!("LEADROUTER_SKIP_PG is set: skipping a PostgreSQL test");
            return None;
        }
        let admin = admin_url();
        let mut conn = match tokio::time::timeout(
            Duration::from_secs(10),
            sqlx::PgConnection::connect(&admin),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => pg_unavailable(&admin, &e.to_string()),
            Err(_) => pg_unavailable(&admin, "connection timed out after 10 s"),
        };
        // The name is generated here, never taken from input.
        let name = format!(
            "lr_t_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        sqlx::query(AssertSqlSafe(format!("DROP DATABASE IF EXISTS {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("dropping stale test database {name}: {e}"));
        sqlx::query(AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| {
                panic!("CREATE DATABASE {name} on {admin}: {e} (the user needs CREATEDB)")
            });
        let _ = conn.close().await;
        Some(PgDb {
            url: with_database(&admin, &name),
            admin,
            name,
        })
    }

    /// A connection to the test database, for checks the store API does not offer.
    pub async fn connect(&self) -> sqlx::PgConnection {
        sqlx::PgConnection::connect(&self.url)
            .await
            .unwrap_or_else(|e| panic!("connect {}: {e}", self.url))
    }
}

fn pg_unavailable(admin: &str, err: &str) -> ! {
    panic!(
        "PostgreSQL is not reachable at {admin}: {err}\n\
         These tests need PostgreSQL (CI runs one at 127.0.0.1:5432, trust auth, database `test`).\n\
         Point LEADROUTER_TEST_PG at another admin URL, or set LEADROUTER_SKIP_PG=1 to skip the \
         PostgreSQL tests on this machine."
    )
}

impl Drop for PgDb {
    fn drop(&mut self) {
        // Drop runs inside the test's runtime: do the async work on a thread of its own.
        // WITH (FORCE) ends connections a still-running server may hold.
        let (admin, name) = (self.admin.clone(), self.name.clone());
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut c) = sqlx::PgConnection::connect(&admin).await {
                    let _ = sqlx::query(AssertSqlSafe(format!(
                        "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
                    )))
                    .execute(&mut c)
                    .await;
                    let _ = c.close().await;
                }
            });
        })
        .join();
    }
}

// ---------------------------------------------------------------------------------------
// The server process
// ---------------------------------------------------------------------------------------

/// A running `leadrouter serve`; killed (SIGKILL) when dropped.
pub struct Server {
    child: Child,
    pub base: String,
    pub database: String,
    stderr: Arc<Mutex<String>>,
}

impl Server {
    /// Start `leadrouter serve` on port 0 and wait for its "listening on" line.
    /// Blocking: call it from `spawn_blocking` or a plain thread.
    pub fn start(config: &Path, database: &str) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_leadrouter"))
            .arg("serve")
            .arg("--config")
            .arg(config)
            .arg("--database")
            .arg(database)
            .arg("--listen")
            .arg("127.0.0.1:0")
            .env("LEADROUTER_ADMIN_KEYS", ADMIN_KEY)
            .env("LEADROUTER_INTAKE_KEYS", INTAKE_KEY)
            .env_remove("LEADROUTER_CONFIG")
            .env_remove("LEADROUTER_DATABASE_URL")
            .env_remove("LEADROUTER_LISTEN")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn leadrouter serve");
        let stderr = Arc::new(Mutex::new(String::new()));
        {
            let mut pipe = child.stderr.take().expect("stderr");
            let sink = stderr.clone();
            std::thread::spawn(move || {
                let mut buf = [0u8; 8192];
                while let Ok(n) = pipe.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    if let Ok(mut s) = sink.lock() {
                        // Keep the start and a bounded amount: a failing test prints it.
                        if s.len() < 64 * 1024 {
                            s.push_str(&String::from_utf8_lossy(&buf[..n]));
                        }
                    }
                }
            });
        }
        let (tx, rx) = mpsc::channel();
        {
            let pipe = child.stdout.take().expect("stdout");
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let url = rest.split_whitespace().next().unwrap_or("").to_string();
                        let _ = tx.send(url);
                    }
                }
            });
        }
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(base) => Server {
                child,
                base,
                database: database.to_string(),
                stderr,
            },
            Err(_) => {
                let _ = child.kill();
                let status = child.wait();
                std::thread::sleep(Duration::from_millis(100));
                panic!(
                    "leadrouter serve --config {} --database {database} did not report its address \
                     within 60 s (exit: {status:?})\nstderr:\n{}",
                    config.display(),
                    stderr.lock().map(|s| s.clone()).unwrap_or_default()
                );
            }
        }
    }

    /// SIGKILL (std's `Child::kill` on Unix) and reap: no graceful shutdown, no flush.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Start several servers at once (they race on the migrations, as real instances do).
pub async fn start_servers(n: usize, config: &Path, database: &str) -> Vec<Server> {
    let handles: Vec<_> = (0..n)
        .map(|_| {
            let (config, database) = (config.to_path_buf(), database.to_string());
            tokio::task::spawn_blocking(move || Server::start(&config, &database))
        })
        .collect();
    let mut servers = Vec::new();
    for h in handles {
        servers.push(h.await.expect("server start panicked"));
    }
    servers
}

// ---------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------

pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(64)
        .build()
        .expect("HTTP client")
}

/// A distinct, clean lead that reaches the pool's rule: corporate email, known size and
/// industry, high intent.
pub fn lead(run: &str, i: usize) -> Value {
    json!({
        "email": lead_email(run, i),
        "first_name": "Lee",
        "last_name": format!("Smith{i}"),
        "company": "Globex Industries",
        "employees": 500,
        "industry": "software",
        "action": "demo_request",
    })
}

pub fn lead_email(run: &str, i: usize) -> String {
    format!("{run}.{i}@globex-industries.com")
}

/// The answer to one POST /v1/leads.
#[derive(Debug, Clone)]
pub struct Posted {
    pub status: u16,
    pub body: Value,
    pub replayed: bool,
}

pub async fn post_lead(
    client: &reqwest::Client,
    base: &str,
    body: &Value,
    idempotency_key: Option<&str>,
) -> Result<Posted, reqwest::Error> {
    let mut req = client
        .post(format!("{base}/v1/leads"))
        .bearer_auth(INTAKE_KEY)
        .json(body);
    if let Some(k) = idempotency_key {
        req = req.header("Idempotency-Key", k);
    }
    let resp = req.send().await?;
    let status = resp.status().as_u16();
    let replayed = resp
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true");
    let body = resp.json::<Value>().await?;
    Ok(Posted {
        status,
        body,
        replayed,
    })
}

/// GET /v1/leads/{id} with the admin key: (status, body).
pub async fn get_lead(client: &reqwest::Client, base: &str, id: &str) -> (u16, Value) {
    let resp = client
        .get(format!("{base}/v1/leads/{id}"))
        .bearer_auth(ADMIN_KEY)
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET /v1/leads/{id}: {e}"));
    let status = resp.status().as_u16();
    let body = resp.json::<Value>().await.unwrap_or(Value::Null);
    (status, body)
}

/// The owner id of a route response, if it went to a rep.
pub fn owner_id(body: &Value) -> Option<&str> {
    body["owner"]["id"].as_str()
}
