//! HubSpot write-back benchmark (issue 20): ten times a normal day in one hour, time
//! compressed, against the HubSpot conformance server enforcing HubSpot's published
//! private-app limits (100 calls per rolling 10 s, compressed by the same factor).
//! Run by `scripts/bench-crm.sh`; figures in docs/benchmarks.md.
//!
//! (a) intake capacity: closed loop, `BENCH_CONCURRENCY` clients, `BENCH_CLOSED` leads,
//!     without `[crm]` and with it (same config otherwise): leads/s and the ratio;
//! (b) the 10× day: `BENCH_DAY` × 10 leads offered evenly over 3600 s / `BENCH_COMPRESS`
//!     (open loop); write-back lag = the conformance server applying the lead's upsert −
//!     the intake answer, p50/p99; leads lost (never written) and duplicated (written
//!     twice); upsert calls per lead; 429s.
//!
//! Env: LEADROUTER_BIN (the binary), BENCH_DAY (500), BENCH_COMPRESS (120),
//! BENCH_CLOSED (2000), BENCH_CONCURRENCY (16).

use leadrouter_testsupport::hubspot::{self as hs, HubSpot, Limits};
use leadrouter_testsupport::{ServeOptions, Server};
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_num(k: &str, d: u64) -> u64 {
    std::env::var(k)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(d)
}

fn config(dir: &std::path::Path, crm: Option<&str>) -> std::path::PathBuf {
    let base = include_str!("../tests/fixtures/one_pool.toml");
    let mut text = base.to_string();
    if let Some(uri) = crm {
        let users: String = (1..=7).map(|i| format!("r{i} = \"50{i}\"\n")).collect();
        text += &format!(
            "\n[crm]\nprovider = \"hubspot\"\nbase_url = \"{uri}\"\ntask = true\n\n[crm.hubspot]\ntoken_env = \"BENCH_HUBSPOT_TOKEN\"\n\n[crm.users]\n{users}"
        );
    }
    let p = dir.join(if crm.is_some() {
        "crm.toml"
    } else {
        "plain.toml"
    });
    std::fs::write(&p, text).unwrap();
    p
}

fn lead(n: u64) -> serde_json::Value {
    json!({"email": format!("p{n}@co{n}.com"), "first_name": "Pat", "last_name": format!("L{n}"), "company": format!("Co {n}")})
}

async fn post(s: &Server, n: u64) -> (String, Instant) {
    let r = s
        .post("/v1/leads")
        .intake()
        .json(&lead(n))
        .send_async()
        .await
        .expect_status(201);
    (
        r.json()["lead_id"].as_str().unwrap().to_string(),
        Instant::now(),
    )
}

async fn closed_loop(s: Arc<Server>, from: u64, n: u64, c: u64) -> f64 {
    let next = Arc::new(std::sync::atomic::AtomicU64::new(from));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..c {
        let (s, next) = (s.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= from + n {
                    break;
                }
                post(&s, i).await;
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    n as f64 / t.elapsed().as_secs_f64()
}

fn pct(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bin = std::env::var("LEADROUTER_BIN").expect("LEADROUTER_BIN: the leadrouter binary");
    let day = env_num("BENCH_DAY", 500);
    let compress = env_num("BENCH_COMPRESS", 120) as u32;
    let closed = env_num("BENCH_CLOSED", 2000);
    let conc = env_num("BENCH_CONCURRENCY", 16);
    let dir = tempfile::tempdir().unwrap();
    let h = Arc::new(HubSpot::start(Limits::private_app_starter().compressed(compress)).await);
    for p in [
        "leadrouter_tier",
        "leadrouter_segment",
        "leadrouter_score",
        "leadrouter_reason",
        "leadrouter_lead_id",
        "leadrouter_console_url",
    ] {
        h.define_property(p);
    }
    for i in 1..=7 {
        h.add_owner(
            &format!("50{i}"),
            &format!("r{i}@pool.example"),
            "Rep",
            &i.to_string(),
        );
    }
    // (a) intake capacity without and with the CRM.
    let plain =
        Arc::new(Server::start_async(ServeOptions::new(&bin, config(dir.path(), None))).await);
    let without = closed_loop(plain.clone(), 0, closed, conc).await;
    drop(plain);
    let opts = ServeOptions::new(&bin, config(dir.path(), Some(&h.uri())))
        .env("BENCH_HUBSPOT_TOKEN", hs::TOKEN);
    let s = Arc::new(Server::start_async(opts).await);
    let with = closed_loop(s.clone(), 1_000_000, closed, conc).await;
    println!(
        "intake closed loop c={conc}, {closed} leads: without CRM {without:.0}/s, with CRM {with:.0}/s, ratio {:.2}",
        with / without
    );
    // Let (a)'s write-backs drain before (b) is measured.
    let drained = Instant::now();
    while h.applied().len() < closed as usize && drained.elapsed() < Duration::from_secs(600) {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let calls_before = h
        .calls()
        .get("POST /crm/v3/objects/contacts/batch/upsert")
        .copied()
        .unwrap_or(0);
    let throttled_before = h.throttled();
    let applied_before = h.applied().len();
    // (b) the 10× day, time-compressed, open loop.
    let total = day * 10;
    let span = Duration::from_secs_f64(3600.0 / compress as f64);
    let gap = span.div_f64(total as f64);
    let start = Instant::now();
    let mut tasks = Vec::new();
    for k in 0..total {
        let at = start + gap.mul_f64(k as f64);
        tokio::time::sleep_until(at.into()).await;
        let s = s.clone();
        tasks.push(tokio::spawn(async move { post(&s, 2_000_000 + k).await }));
    }
    let mut answered: HashMap<String, Instant> = HashMap::new();
    for t in tasks {
        let (id, at) = t.await.unwrap();
        answered.insert(id, at);
    }
    let offered = total as f64 / start.elapsed().as_secs_f64();
    let deadline = Instant::now() + Duration::from_secs(600);
    loop {
        let n = h.applied().len() - applied_before;
        if n >= total as usize || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut seen: HashMap<String, Vec<Instant>> = HashMap::new();
    for w in h.applied().into_iter().skip(applied_before) {
        if let Some(id) = w.properties.get("leadrouter_lead_id") {
            seen.entry(id.clone()).or_default().push(w.at);
        }
    }
    let lost = answered.keys().filter(|id| !seen.contains_key(*id)).count();
    let dup = seen.values().filter(|v| v.len() > 1).count();
    let mut lags: Vec<f64> = answered
        .iter()
        .filter_map(|(id, at)| {
            seen.get(id)
                .map(|v| v[0].saturating_duration_since(*at).as_secs_f64() * 1000.0)
        })
        .collect();
    let calls = h
        .calls()
        .get("POST /crm/v3/objects/contacts/batch/upsert")
        .copied()
        .unwrap_or(0)
        - calls_before;
    println!(
        "10x day: {total} leads over {:.0} s (x{compress} compressed; offered {offered:.0}/s), limit {} calls per {} ms",
        span.as_secs_f64(),
        100,
        Limits::private_app_starter()
            .compressed(compress)
            .interval
            .as_millis()
    );
    println!(
        "write-back lag p50 {:.0} ms, p99 {:.0} ms; lost {lost}, duplicated {dup}; upsert calls {calls} ({:.3} per lead), 429s {}",
        pct(&mut lags.clone(), 0.5),
        pct(&mut lags, 0.99),
        calls as f64 / total as f64,
        h.throttled() - throttled_before
    );
}
