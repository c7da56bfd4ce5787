//! Enrichment cost and throughput (issue 4).
//!
//! `cargo bench -p leadrouter-enrich --bench enrich`
//!
//! 1. Per-lead cost, one lead at a time, p50/p99 in µs: local signals only; served from
//!    the local firmographic file (10,000 companies); served from the HTTP provider's
//!    in-memory cache (10,000 warmed domains). Target: ≤ 50 µs per lead.
//! 2. Throughput against a local HTTP provider (axum) that answers after 100 ms: leads
//!    offered open-loop at 1,000/s for `ENRICH_BENCH_SECS` (default 10) seconds, over
//!    (a) all-distinct domains and (b) 500 hot domains; achieved rate, p50/p99 latency,
//!    requests the provider received. (c) 1,000 concurrent leads from one uncached
//!    domain: requests received (coalescing).

use axum::Router;
use axum::extract::{Query, State};
use axum::routing::get;
use leadrouter_core::lead::Lead;
use leadrouter_enrich::Enricher;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const COMPANIES: usize = 10_000;
const PHONES: &[&str] = &[
    "+1 650-253-0000",
    "+49 89 636 00",
    "+44 20 7946 0958",
    "+33 1 53 45 45 45",
    "+81 3-6384-9000",
];

fn lead(i: usize, domain: &str) -> Lead {
    Lead {
        email: Some(format!("person{i}@{domain}")),
        phone: Some(PHONES[i % PHONES.len()].to_string()),
        first_name: Some("Jane".into()),
        zip: Some("10017".into()),
        ..Default::default()
    }
}

fn domain(i: usize) -> String {
    format!("company-{i}.com")
}

fn pct(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

async fn per_lead(label: &str, e: &Enricher, leads: &[Lead], rounds: usize) {
    // Warm-up pass (first-touch allocations, caches).
    for l in leads {
        std::hint::black_box(e.enrich(l).await);
    }
    let mut ns = Vec::with_capacity(leads.len() * rounds);
    for _ in 0..rounds {
        for l in leads {
            let t = Instant::now();
            std::hint::black_box(e.enrich(l).await);
            ns.push(t.elapsed().as_nanos() as u64);
        }
    }
    ns.sort_unstable();
    let mean = ns.iter().sum::<u64>() as f64 / ns.len() as f64;
    println!(
        "{label:<44} n={:>7}  mean {:>6.1} µs  p50 {:>6.1} µs  p99 {:>6.1} µs",
        ns.len(),
        mean / 1000.0,
        pct(&ns, 0.50) as f64 / 1000.0,
        pct(&ns, 0.99) as f64 / 1000.0
    );
}

#[derive(Clone)]
struct Provider {
    delay: Duration,
    requests: Arc<AtomicU64>,
}

async fn find(State(p): State<Provider>, Query(q): Query<HashMap<String, String>>) -> String {
    p.requests.fetch_add(1, Ordering::Relaxed);
    tokio::time::sleep(p.delay).await;
    let d = q.get("domain").cloned().unwrap_or_default();
    serde_json::json!({
        "name": d,
        "metrics": {"employees": 250},
        "category": {"industry": "Software"},
        "geo": {"countryCode": "US", "stateCode": "NY"}
    })
    .to_string()
}

/// A local provider on 127.0.0.1; returns its base URL and request counter.
async fn start_provider(delay: Duration) -> (String, Arc<AtomicU64>) {
    let requests = Arc::new(AtomicU64::new(0));
    let app = Router::new()
        .route("/find", get(find))
        .with_state(Provider {
            delay,
            requests: requests.clone(),
        });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), requests)
}

fn http_enricher(base: &str, timeout: &str) -> Enricher {
    let cfg = format!(
        r#"
[enrichment]
budget = "2s"
[[enrichment.provider]]
name = "bench-api"
kind = "http"
url = "{base}/find?domain={{domain}}"
timeout = "{timeout}"
allow_private = true
[enrichment.provider.fields]
company = "/name"
employees = "/metrics/employees"
industry = "/category/industry"
country = "/geo/countryCode"
state = "/geo/stateCode"
"#
    );
    let src = leadrouter_core::config::SourceText::new("bench.toml", cfg);
    Enricher::from_config(&src, Path::new("."), None).unwrap()
}

/// Offer `rate` leads/s for `secs` seconds, each lead's domain from `pick`.
async fn open_loop(
    label: &str,
    e: &Enricher,
    requests: &AtomicU64,
    rate: u64,
    secs: u64,
    pick: impl Fn(usize) -> String,
) {
    let before = requests.load(Ordering::Relaxed);
    let total = (rate * secs) as usize;
    let interval = Duration::from_nanos(1_000_000_000 / rate);
    let start = Instant::now();
    let mut tasks = Vec::with_capacity(total);
    let mut domains = std::collections::HashSet::new();
    for i in 0..total {
        let due = start + interval * i as u32;
        let now = Instant::now();
        if due > now {
            tokio::time::sleep(due - now).await;
        }
        let d = pick(i);
        domains.insert(d.clone());
        let e = e.clone();
        tasks.push(tokio::spawn(async move {
            let t = Instant::now();
            let out = e.enrich(&lead(i, &d)).await;
            (t.elapsed(), out.employees.is_some(), Instant::now())
        }));
    }
    let offered_for = start.elapsed();
    let mut lat = Vec::with_capacity(total);
    let mut enriched = 0;
    let mut last = start;
    for t in tasks {
        let (d, ok, done) = t.await.unwrap();
        lat.push(d.as_micros() as u64);
        enriched += ok as usize;
        last = last.max(done);
    }
    lat.sort_unstable();
    let wall = last.duration_since(start).as_secs_f64();
    println!(
        "{label:<44} offered {rate}/s for {secs}s: {total} leads in {wall:.2}s = {:.0} leads/s (offering took {:.2}s); \
         enrich p50 {:.2} ms p99 {:.1} ms max {:.1} ms; enriched {enriched}/{total}; distinct domains {}; provider requests {}",
        total as f64 / wall,
        offered_for.as_secs_f64(),
        pct(&lat, 0.50) as f64 / 1000.0,
        pct(&lat, 0.99) as f64 / 1000.0,
        pct(&lat, 1.0) as f64 / 1000.0,
        domains.len(),
        requests.load(Ordering::Relaxed) - before,
    );
}

fn main() {
    let secs: u64 = std::env::var("ENRICH_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async move {
        println!("== per-lead enrichment cost (one at a time) ==");
        let leads: Vec<Lead> = (0..COMPANIES).map(|i| lead(i, &domain(i))).collect();

        // Start-up cost: what the first Enricher loads once per process.
        let t = Instant::now();
        leadrouter_enrich::state_for_zip("10017");
        println!("ZIP index: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        leadrouter_enrich::country_from_phone("+1 212 456 7890");
        println!("phone metadata: {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
        let t = Instant::now();
        let signals = Enricher::from_config(&leadrouter_core::config::SourceText::new("none.toml", ""), Path::new("."), None).unwrap();
        println!("first Enricher::from_config after those (ISO tables, domain lists): {:.0} ms", t.elapsed().as_secs_f64() * 1000.0);
        per_lead("local signals only", &signals, &leads, 5).await;

        let dir = std::env::temp_dir().join(format!("lr-enrich-bench-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut csv = String::from("domain,name,size_range,industry,country,state,revenue,tech_stack\n");
        for i in 0..COMPANIES {
            csv.push_str(&format!(
                "{},Company {i} Inc,201-500,Software,US,NY,$12M,Salesforce;Snowflake\n",
                domain(i)
            ));
        }
        std::fs::write(dir.join("firmo.csv"), csv).unwrap();
        let src = leadrouter_core::config::SourceText::new(
            "bench.toml",
            "[enrichment]\n[[enrichment.provider]]\nname = \"firmographics\"\nkind = \"file\"\npath = \"firmo.csv\"\n",
        );
        let file = Enricher::from_config(&src, &dir, None).unwrap();
        per_lead("local file (10k companies), hit", &file, &leads, 5).await;

        let (base, _) = start_provider(Duration::ZERO).await;
        let cached = http_enricher(&base, "2s");
        per_lead("HTTP provider, moka cache hit (10k domains)", &cached, &leads, 5).await;
        let s = &cached.stats()[0];
        println!(
            "  provider requests {} for {} lookups (cache hits {})",
            s.requests, s.calls, s.cache_hits
        );
        let no_phone: Vec<Lead> = leads
            .iter()
            .map(|l| Lead { phone: None, ..l.clone() })
            .collect();
        per_lead("HTTP provider, cache hit, lead without phone", &cached, &no_phone, 5).await;

        println!("\n== throughput: provider answering after 100 ms, 1,000 leads/s offered ==");
        let (base, requests) = start_provider(Duration::from_millis(100)).await;
        let e = http_enricher(&base, "1s");
        open_loop("(a) every lead a new domain", &e, &requests, 1000, secs, |i| {
            format!("distinct-{i}.com")
        })
        .await;
        let e = http_enricher(&base, "1s");
        open_loop("(b) 500 hot domains", &e, &requests, 1000, secs, |i| {
            // Fixed pseudo-random choice among 500 domains (repeats arrive at random
            // distances, some while the first request is still in flight).
            let x = (i as u64 ^ 0x5DEECE66D).wrapping_mul(0x9E37_79B9_7F4A_7C15);
            format!("hot-{}.com", (x >> 33) % 500)
        })
        .await;
        let s = &e.stats()[0];
        println!(
            "  (b) lookups {}: cache hits {}, coalesced {}, requests {}",
            s.calls, s.cache_hits, s.coalesced, s.requests
        );

        let e = http_enricher(&base, "1s");
        let before = requests.load(Ordering::Relaxed);
        let t = Instant::now();
        let tasks: Vec<_> = (0..1000)
            .map(|i| {
                let e = e.clone();
                tokio::spawn(async move { e.enrich(&lead(i, "burst-corp.com")).await })
            })
            .collect();
        let mut ok = 0;
        for task in tasks {
            ok += task.await.unwrap().employees.is_some() as usize;
        }
        let s = &e.stats()[0];
        println!(
            "(c) 1,000 concurrent leads, one new domain: {:.0} ms, enriched {ok}/1000, provider requests {}, coalesced {}, cache hits {}",
            t.elapsed().as_secs_f64() * 1000.0,
            requests.load(Ordering::Relaxed) - before,
            s.coalesced,
            s.cache_hits
        );
        let _ = std::fs::remove_dir_all(&dir);
    });
}
