//! Test databases: a fresh SQLite file or a fresh PostgreSQL database per test, removed
//! when the test ends (best effort), so tests run in parallel without seeing each other.
//!
//! PostgreSQL comes from `LEADROUTER_TEST_PG` (an admin URL, default
//! `postgres://postgres@127.0.0.1:5432/test`). House rule: CI has PostgreSQL, so a missing
//! server fails the test with a message saying how to skip (`LEADROUTER_SKIP_PG=1`); it
//! never passes silently. The module also reads a few columns straight from a database,
//! for checks the `Store` trait does not offer.

// The database names interpolated into SQL are generated here (`lr_t_<pid>_<n>`), never
// taken from input.
use sqlx::{AssertSqlSafe, Connection};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

pub const DEFAULT_PG: &str = "postgres://postgres@127.0.0.1:5432/test";

static NEXT: AtomicU32 = AtomicU32::new(0);

fn unique_name() -> String {
    format!(
        "lr_t_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    )
}

/// Whether `LEADROUTER_SKIP_PG` asks to skip the PostgreSQL tests on this machine.
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

/// One test's database. Dropping it deletes the SQLite directory or drops the
/// PostgreSQL database.
pub struct TestDb {
    pub url: String,
    cleanup: Cleanup,
}

enum Cleanup {
    Dir(PathBuf),
    Pg { admin: String, name: String },
}

impl TestDb {
    /// A fresh SQLite file in a directory of its own.
    pub fn sqlite() -> TestDb {
        let dir = std::env::temp_dir().join(unique_name());
        std::fs::create_dir_all(&dir).expect("create a temporary directory");
        TestDb {
            url: format!("sqlite://{}", dir.join("leadrouter.db").display()),
            cleanup: Cleanup::Dir(dir),
        }
    }

    /// A fresh PostgreSQL database, or None when `LEADROUTER_SKIP_PG` is set.
    /// Panics (fails the test) when the server cannot be reached.
    pub async fn postgres() -> Option<TestDb> {
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
        let name = unique_name();
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
        Some(TestDb {
            url: with_database(&admin, &name),
            cleanup: Cleanup::Pg { admin, name },
        })
    }

    /// A connection to this PostgreSQL database, for checks the store API does not offer.
    pub async fn pg_connection(&self) -> sqlx::PgConnection {
        assert!(
            matches!(self.cleanup, Cleanup::Pg { .. }),
            "pg_connection on a SQLite test database ({})",
            self.url
        );
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

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::Dir(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Pg { admin, name } => {
                // Drop runs inside the test's runtime: do the async work on a thread of
                // its own. WITH (FORCE) ends connections a pool or a still-running server
                // may hold.
                let (admin, name) = (admin.clone(), name.clone());
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
    }
}

/// A people row's bookkeeping columns, which the `Store` trait does not read back.
#[derive(Debug, PartialEq)]
pub struct PeopleColumns {
    pub first_seen_at: i64,
    pub last_seen_at: i64,
    pub lead_count: i64,
}

/// Read a person's bookkeeping columns straight from the database (either backend).
pub async fn people_columns(url: &str, email: &str) -> Option<PeopleColumns> {
    const SQL: &str = "SELECT first_seen_at, last_seen_at, lead_count FROM people WHERE email = $1";
    let row: Option<(i64, i64, i64)> = if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query_as(SQL)
            .bind(email)
            .fetch_optional(&mut c)
            .await
            .expect("query people")
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query_as(SQL)
            .bind(email)
            .fetch_optional(&mut c)
            .await
            .expect("query people")
    };
    row.map(|(first_seen_at, last_seen_at, lead_count)| PeopleColumns {
        first_seen_at,
        last_seen_at,
        lead_count,
    })
}

/// How many migrations the database records as applied (either backend).
pub async fn applied_migrations(url: &str) -> i64 {
    const SQL: &str = "SELECT COUNT(*) FROM _sqlx_migrations WHERE success";
    if url.starts_with("sqlite:") {
        let mut c = sqlx::SqliteConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(SQL)
            .fetch_one(&mut c)
            .await
            .expect("count migrations")
    } else {
        let mut c = sqlx::PgConnection::connect(url).await.expect("connect");
        sqlx::query_scalar(SQL)
            .fetch_one(&mut c)
            .await
            .expect("count migrations")
    }
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn with_database_replaces_only_the_database() {
        assert_eq!(
            with_database("postgres://u@h:5432/test", "lr_t_1_2"),
            "postgres://u@h:5432/lr_t_1_2"
        );
        assert_eq!(
            with_database("postgres://u@h:5432/test?sslmode=disable", "x"),
            "postgres://u@h:5432/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "x"), "postgres://u@h/x");
    }
}
