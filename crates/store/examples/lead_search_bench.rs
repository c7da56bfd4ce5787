//! Lead search at scale (OPS-6, docs/benchmarks.md "Lead search"): loads N generated
//! leads straight through the store's routing transaction (`Tx::write`, 5,000 leads a
//! commit — the same statements, triggers and indexes the service writes, the last few
//! leads not yet in SQLite's free-text index then indexed too) into SQLite
//! and/or PostgreSQL, then times the first page (50 leads) of each filter, of free text
//! and of a deep page, against the baseline of reading one lead by id in the same run.
//! Leads are stored in received order except one in 100, a month older (an import), so
//! searches that read in insertion order are measured where that order is not exact.
//!
//!   cargo run --release -p leadrouter-store --example lead_search_bench -- \
//!       --leads 1000000 --sqlite /tmp/lr-search/leads.db \
//!       --postgres postgres://postgres@127.0.0.1:5432/lr_bench_search
//!
//! A database that already holds at least N leads is not loaded again, so a second run
//! only measures. Statistics are refreshed (ANALYZE) before measuring; `--stats none`
//! leaves them as the service does (SQLite never analyses; drop `sqlite_stat1` first to
//! measure a database analysed before), `--stats optimize` runs SQLite's `PRAGMA
//! optimize` instead. Output: one line per case (p50, p99, max in ms, mean hits per page).

use leadrouter_core::lifecycle::{LeadStatus, Stage};
use leadrouter_store::search::LeadQuery;
use leadrouter_store::{BatchWrite, LeadRecord, Store};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

const BATCH: usize = 5_000;
/// Timed runs per case (different values each).
const RUNS: usize = 200;
const DAY_US: i64 = 86_400_000_000;
/// 2025-12-01T00:00:00Z: the leads spread over the year after it.
const START: i64 = 1_764_547_200_000_000;

const REPS: usize = 80;
const TEAMS: usize = 12;
const QUEUES: &[&str] = &[
    "unassigned",
    "review",
    "qualification",
    "nurture",
    "junk",
    "overflow",
];
const SEGMENTS: &[&str] = &["enterprise", "mid_market", "smb", "self_serve"];
const PATHS: &[(&str, u32)] = &[
    ("territory", 40),
    ("segment", 15),
    ("account_owner", 10),
    ("default_team", 12),
    ("known_person", 6),
    ("personal_email_review", 5),
    ("qualification", 3),
    ("nurture", 3),
    ("junk", 2),
    ("recycled", 1),
    ("manual", 1),
    ("named_account", 1),
    ("catch_all", 1),
];
const FIRST: &[&str] = &[
    "Ada", "Bruno", "Chidi", "Dagny", "Emeka", "Farah", "Greta", "Hiro", "Ines", "Jonas", "Kofi",
    "Lena", "Mateo", "Nadia", "Oskar", "Priya", "Quinn", "Rosa", "Sanjay", "Tove", "Umar", "Vera",
    "Wen", "Ximena", "Yusuf", "Zoe",
];
const SYLLABLES: &[&str] = &[
    "ka", "lo", "mi", "ran", "sen", "tor", "vel", "bri", "dun", "fal", "gor", "hal", "jin", "kes",
    "lam", "mor", "nal", "pet", "quo", "ros", "sul", "tam", "ulm", "vor", "wex", "yan",
];
const FREE_MAIL: &[&str] = &["gmail.com", "outlook.com", "yahoo.com"];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// A made-up word from syllables: `n` picks it, so the same `n` gives the same word.
fn word(mut n: usize, syllables: usize) -> String {
    let mut w = String::new();
    for _ in 0..syllables {
        w.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
    }
    w
}

fn last_name(n: usize) -> String {
    let w = word(n % 5_000, 3);
    let mut c = w.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn company(n: usize) -> (String, String) {
    let w = word(n, 4);
    let name = format!("{}{} Systems", w[..1].to_uppercase(), &w[1..]);
    (name, format!("{w}.example"))
}

fn lead(i: usize, rng: &mut Rng) -> LeadRecord {
    let first = FIRST[rng.below(FIRST.len())];
    let last = last_name(rng.below(5_000));
    let (company, domain) = company(rng.below(50_000));
    let personal = rng.below(100) < 12;
    let mail_domain = if personal {
        FREE_MAIL[rng.below(FREE_MAIL.len())].to_string()
    } else {
        domain.clone()
    };
    let email = format!(
        "{}.{}{}@{mail_domain}",
        first.to_lowercase(),
        last.to_lowercase(),
        i % 97
    );
    let mut pick = rng.below(100) as u32;
    let mut path = PATHS[0].0;
    for (p, w) in PATHS {
        if pick < *w {
            path = p;
            break;
        }
        pick -= w;
    }
    let queued = matches!(
        path,
        "personal_email_review" | "qualification" | "nurture" | "junk" | "catch_all"
    ) || rng.below(100) < 3;
    let rep = rng.below(REPS);
    let status = match rng.below(100) {
        0..=79 => LeadStatus::Open,
        80..=86 => LeadStatus::Disqualified,
        87..=91 => LeadStatus::Won,
        _ => LeadStatus::Lost,
    };
    let mut received_at = START + (i as i64) * (365 * DAY_US / 1_000_000) + rng.below(1_000) as i64;
    if i % 100 == 99 && received_at - 30 * DAY_US > START {
        // One lead in 100 is an import of a month-old lead: stored out of received order.
        received_at -= 30 * DAY_US;
    }
    LeadRecord {
        id: format!("{:016x}{:08x}", received_at, i),
        source: "api".into(),
        email: Some(email.clone()),
        payload: Arc::new(json!({
            "email": email, "first_name": first, "last_name": last, "company": company,
            "country": "US", "employees": rng.below(10_000), "industry": "software",
            "action": "demo_request", "lead_source": "website",
        })),
        received_at,
        routed_at: received_at + 2_000,
        owner: (!queued).then(|| format!("rep{rep:02}")),
        queue: queued.then(|| QUEUES[rng.below(QUEUES.len())].to_string()),
        team: (!queued).then(|| format!("team{:02}", rep % TEAMS)),
        segment: Some(SEGMENTS[rng.below(SEGMENTS.len())].to_string()),
        tier: ["hot", "warm", "warm", "standard", "standard"][rng.below(5)].into(),
        score: rng.below(150) as i64,
        path: path.into(),
        rule: None,
        status,
        stage: Stage::Early,
        outcome: None,
        outcome_at: None,
        route_by: None,
        contact_by: None,
        config_version: "sha256:bench".into(),
        account_domain: (!personal).then_some(domain),
        accepted_at: None,
        first_touch_at: None,
        fallback: false,
    }
}

async fn load(store: &dyn Store, n: usize) -> Result<(), Box<dyn std::error::Error>> {
    let have = store.lead_count().await? as usize;
    if have >= n {
        println!("  {have} leads already stored; not loading");
        return index_new(store).await;
    }
    let started = Instant::now();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    // Skip what is there: the generator is deterministic, so leads [0, have) exist.
    for i in 0..have {
        lead(i, &mut rng);
    }
    let mut i = have;
    while i < n {
        let end = (i + BATCH).min(n);
        let leads: Vec<LeadRecord> = (i..end).map(|k| lead(k, &mut rng)).collect();
        let mut tx = store.begin().await?;
        let v = tx.lock_state().await?;
        tx.write(
            BatchWrite {
                leads,
                ..Default::default()
            },
            v + 1,
        )
        .await?;
        tx.commit().await?;
        index_new(store).await?;
        i = end;
        if i.is_multiple_of(100_000) || i == n {
            let s = started.elapsed().as_secs_f64();
            println!("  loaded {i} leads, {:.0} leads/s", (i - have) as f64 / s);
        }
    }
    Ok(())
}

/// Indexes the leads the routing transactions left for later (SQLite, fewer than
/// `search::INDEX_EVERY`; nothing on PostgreSQL), so every run times the same index.
async fn index_new(store: &dyn Store) -> Result<(), Box<dyn std::error::Error>> {
    while store.index_new_leads(1000).await? > 0 {}
    Ok(())
}

struct Stats {
    p50: f64,
    p99: f64,
    max: f64,
    hits: f64,
}

fn stats(mut ms: Vec<f64>, hits: usize) -> Stats {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() as f64 - 1.0) * q).round() as usize];
    Stats {
        p50: at(0.5),
        p99: at(0.99),
        max: *ms.last().unwrap(),
        hits: hits as f64 / ms.len() as f64,
    }
}

async fn time_queries(
    store: &dyn Store,
    mut make: impl FnMut(usize) -> LeadQuery,
) -> Result<Stats, Box<dyn std::error::Error>> {
    // One untimed pass warms the cache the way a running service's is warm.
    for r in 0..RUNS.min(20) {
        store.search_leads(&make(r)).await?;
    }
    let mut ms = Vec::with_capacity(RUNS);
    let mut hits = 0;
    for r in 0..RUNS {
        let q = make(r);
        let t = Instant::now();
        let page = store.search_leads(&q).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        hits += page.items.len();
    }
    Ok(stats(ms, hits))
}

/// One case's queries: the `r`th run's query.
type MakeQuery<'a> = Box<dyn FnMut(usize) -> LeadQuery + 'a>;

fn q() -> LeadQuery {
    LeadQuery {
        limit: 50,
        ..Default::default()
    }
}

async fn measure(
    name: &str,
    store: &dyn Store,
    n: usize,
) -> Result<(), Box<dyn std::error::Error>> {
    println!("{name}: {n} leads");
    let mut rng = Rng(42);
    // Baseline: one lead by primary key (the ids of leads known to exist).
    let mut gen_rng = Rng(0x9E37_79B9_7F4A_7C15);
    let mut ids = Vec::new();
    let mut emails = Vec::new();
    for i in 0..n.min(200_000) {
        let l = lead(i, &mut gen_rng);
        if i % 997 == 0 {
            ids.push(l.id);
            emails.push(l.email.unwrap_or_default());
        }
    }
    let mut ms = Vec::new();
    for r in 0..RUNS {
        let id = &ids[(r * 7919) % ids.len()];
        let t = Instant::now();
        store.lead(id).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let base = stats(ms, RUNS);
    let line = |case: &str, s: &Stats| {
        println!(
            "  {case:<34} p50 {:>8.2} ms  p99 {:>8.2} ms  max {:>8.2} ms  {:>5.1} hits/page  p99/baseline {:>7.1}",
            s.p50,
            s.p99,
            s.max,
            s.hits,
            s.p99 / base.p99
        )
    };
    line("baseline: one lead by id", &base);
    let span = (365 * DAY_US) * (n as i64) / 1_000_000;
    let s = |v: &str| Some(v.to_string());
    let cases: Vec<(&str, MakeQuery)> = vec![
        ("newest (no filter)", Box::new(|_| q())),
        (
            "owner",
            Box::new(|r| LeadQuery {
                owner: Some(format!("rep{:02}", r % REPS)),
                ..q()
            }),
        ),
        (
            "team",
            Box::new(|r| LeadQuery {
                team: Some(format!("team{:02}", r % TEAMS)),
                ..q()
            }),
        ),
        (
            "queue",
            Box::new(|r| LeadQuery {
                queue: s(QUEUES[r % QUEUES.len()]),
                ..q()
            }),
        ),
        (
            "tier",
            Box::new(|r| LeadQuery {
                tier: s(["hot", "warm", "standard"][r % 3]),
                ..q()
            }),
        ),
        (
            "segment",
            Box::new(|r| LeadQuery {
                segment: s(SEGMENTS[r % SEGMENTS.len()]),
                ..q()
            }),
        ),
        (
            "status",
            Box::new(|r| LeadQuery {
                status: s(["open", "disqualified", "won", "lost"][r % 4]),
                ..q()
            }),
        ),
        (
            "path (13 values, 1% rarest)",
            Box::new(|r| LeadQuery {
                path: s(PATHS[r % PATHS.len()].0),
                ..q()
            }),
        ),
        (
            "received window (one day)",
            Box::new(move |r| {
                let days = (span / DAY_US).max(1);
                let from = START + ((r as i64 * 7_919) % days) * DAY_US;
                LeadQuery {
                    received_from: Some(from),
                    received_to: Some(from + DAY_US),
                    ..q()
                }
            }),
        ),
        (
            "owner + status + tier",
            Box::new(|r| LeadQuery {
                owner: Some(format!("rep{:02}", r % REPS)),
                status: s("won"),
                tier: s("hot"),
                ..q()
            }),
        ),
        (
            "text: last name (~200 leads)",
            Box::new(|r| LeadQuery {
                text: Some(last_name((r * 31) % 5_000)),
                ..q()
            }),
        ),
        (
            "text: company (~20 leads)",
            Box::new(|r| LeadQuery {
                text: Some(company((r * 131) % 50_000).0),
                ..q()
            }),
        ),
        (
            "text: email fragment",
            Box::new(|r| {
                let e = &emails[(r * 13) % emails.len()];
                LeadQuery {
                    text: Some(e[..e.find('@').unwrap_or(e.len()).min(e.len())].to_string() + "@"),
                    ..q()
                }
            }),
        ),
        (
            "text: first + last name",
            Box::new(|r| LeadQuery {
                text: Some(format!(
                    "{} {}",
                    FIRST[r % FIRST.len()],
                    last_name((r * 17) % 5_000)
                )),
                ..q()
            }),
        ),
        (
            "text: broad (a free-mail domain)",
            Box::new(|r| LeadQuery {
                text: s(FREE_MAIL[r % 3]),
                ..q()
            }),
        ),
        (
            "text + owner",
            Box::new(|r| LeadQuery {
                text: Some(last_name((r * 31) % 5_000)),
                owner: Some(format!("rep{:02}", r % REPS)),
                ..q()
            }),
        ),
    ];
    for (case, make) in cases {
        let st = time_queries(store, make).await?;
        line(case, &st);
    }
    // Deep paging: the 20th page of an owner's leads, following cursors.
    let mut ms = Vec::new();
    for r in 0..20 {
        let mut query = LeadQuery {
            owner: Some(format!("rep{:02}", rng.below(REPS))),
            ..q()
        };
        for _ in 0..19 {
            let page = store.search_leads(&query).await?;
            query.cursor = page.next;
        }
        let t = Instant::now();
        store.search_leads(&query).await?;
        ms.push(t.elapsed().as_secs_f64() * 1e3);
        let _ = r;
    }
    line("owner, 20th page by cursor", &stats(ms, 0));
    Ok(())
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().collect();
    let arg = |name: &str| {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let n: usize = arg("--leads")
        .map(|v| v.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let mut targets = Vec::new();
    if let Some(p) = arg("--sqlite") {
        targets.push(("sqlite", format!("sqlite://{p}")));
    }
    if let Some(u) = arg("--postgres") {
        targets.push(("postgres", u));
    }
    if targets.is_empty() {
        return Err("give --sqlite PATH and/or --postgres URL".into());
    }
    for (name, url) in targets {
        let store = tokio::time::timeout(Duration::from_secs(3_600), leadrouter_store::open(&url))
            .await??;
        println!("{name}: loading up to {n} leads");
        load(&*store, n).await?;
        let stats = arg("--stats").unwrap_or_else(|| "analyze".into());
        if stats == "none" || stats == "optimize" {
            // `none`: statistics as the service leaves them (SQLite: none at all;
            // PostgreSQL: autovacuum's, whenever it ran); `optimize`: SQLite's `PRAGMA
            // optimize` (ANALYZE on a sample of each index).
            if name == "sqlite" && stats == "optimize" {
                let pool = sqlx::SqlitePool::connect(&url).await?;
                sqlx::query("PRAGMA optimize=0x10002")
                    .execute(&pool)
                    .await?;
                pool.close().await;
            }
            println!("{name}: measuring with statistics: {stats}");
        } else if name == "postgres" {
            // Fresh statistics, as autovacuum would have after a load.
            let pool = sqlx::PgPool::connect(&url).await?;
            sqlx::query("VACUUM ANALYZE leads").execute(&pool).await?;
            sqlx::query("VACUUM ANALYZE lead_search")
                .execute(&pool)
                .await?;
            pool.close().await;
        } else {
            let pool = sqlx::SqlitePool::connect(&url).await?;
            sqlx::query("PRAGMA optimize").execute(&pool).await?;
            sqlx::query("ANALYZE").execute(&pool).await?;
            pool.close().await;
        }
        measure(name, &*store, n).await?;
    }
    Ok(())
}
