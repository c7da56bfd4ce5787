//! The PostgreSQL multi-instance and crash tests' fixtures: the one-pool config, a lead
//! generator and the intake calls they make by the thousand (plain async reqwest, with
//! errors returned: a crash test expects some of them to fail).

use super::{ADMIN_KEY, INTAKE_KEY, ServeOptions, Server, serve};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

/// The pool config shared by these tests.
pub fn one_pool_config() -> std::path::PathBuf {
    super::fixture("one_pool.toml")
}

/// `leadrouter serve` on `config` and the shared `database`.
pub fn on_database(config: &Path, database: &str) -> ServeOptions {
    serve(config).database(database)
}

/// Start several servers on one database at once (they race on the migrations, as real
/// instances do).
pub async fn start_servers(n: usize, config: &Path, database: &str) -> Vec<Server> {
    Server::start_many(n, &on_database(config, database)).await
}

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
