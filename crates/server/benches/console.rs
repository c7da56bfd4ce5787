//! Console render times at 1,000,000 stored leads (issue 6: ≤ 100 ms per page).
//!
//! Seeds a fresh SQLite database through the store's own `Tx::write` (so the rollups and
//! reporting columns are maintained exactly as in production) with leads spread over 90
//! days across tiers, paths, reps, queues and outcomes, with fallbacks and reassignments,
//! then renders every console page through the real router and reports p50/p99 of the
//! server-side time over repeated requests.
//!
//! `cargo bench -p leadrouter-server --bench console` (LEADS=N to change the count,
//! LEADROUTER_BENCH_DB=PATH to keep and reuse the database).

use axum::body::Body;
use axum::http::Request;
use leadrouter_server::api::AppState;
use leadrouter_server::console::{ConsoleState, Users, router};
use leadrouter_server::sequencer::{Sequencer, Shared};
use leadrouter_store::reporting::SessionRow;
use leadrouter_store::{BatchWrite, DecisionRecord, LeadRecord, LeadUpdate, Store};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::json;
use sha2::Digest;
use std::sync::Arc;
use std::time::Instant;
use tower::ServiceExt;

const DAY: i64 = 86_400_000_000;

fn pick<'a, T>(rng: &mut StdRng, items: &'a [(T, u32)]) -> &'a T {
    let total: u32 = items.iter().map(|x| x.1).sum();
    let mut r = rng.random_range(0..total);
    for (t, w) in items {
        if r < *w {
            return t;
        }
        r -= w;
    }
    &items[0].0
}

async fn seed(
    store: &dyn Store,
    cfg: &leadrouter_core::config::CompiledConfig,
    n: usize,
    now: i64,
) {
    let mut rng = StdRng::seed_from_u64(6);
    let reps: Vec<(String, Option<String>)> = cfg
        .reps
        .iter()
        .filter(|r| r.active)
        .map(|r| (r.id.clone(), r.team.map(|t| cfg.team(t).id.clone())))
        .collect();
    let tiers = [("hot", 20), ("warm", 35), ("standard", 45)];
    let paths = [
        ("territory", 35),
        ("segment", 25),
        ("account_owner", 10),
        ("default_team", 5),
        ("catch_all", 3),
        ("personal_email_review", 5),
        ("qualification", 4),
        ("nurture", 8),
        ("junk", 5),
    ];
    let queue_of = |p: &str| -> Option<String> {
        use leadrouter_core::config::QueueRole::*;
        let role = match p {
            "catch_all" => CatchAll,
            "personal_email_review" => Review,
            "qualification" => Qualification,
            "nurture" => Nurture,
            "junk" => Junk,
            _ => return None,
        };
        cfg.queue_roles
            .get(&role)
            .map(|q| cfg.queue_name(*q).to_string())
    };
    let started = Instant::now();
    let mut written = 0;
    let mut version = 1;
    while written < n {
        let mut b = BatchWrite::default();
        for _ in 0..4000.min(n - written) {
            let i = written;
            written += 1;
            // Evenly over 90 days, oldest first, so ids and times rise together.
            let received = now - 90 * DAY + (i as i64) * (90 * DAY / n as i64);
            let routed = received + rng.random_range(150..4000);
            let tier = *pick(&mut rng, &tiers);
            let path = *pick(&mut rng, &paths);
            let queue = queue_of(path);
            let (owner, team) = if queue.is_none() {
                let r = &reps[rng.random_range(0..reps.len())];
                (Some(r.0.clone()), r.1.clone())
            } else {
                (None, None)
            };
            let id = format!("{:016x}-{i:08}", received);
            let contact_within = match tier {
                "hot" => 5 * 60,
                "warm" => 3600,
                _ => 86_400,
            } * 1_000_000i64;
            let contact_by = owner.as_ref().map(|_| routed + contact_within);
            let touched = owner.is_some() && rng.random_bool(0.8);
            let first_touch = touched
                .then(|| routed + (contact_within as f64 * rng.random_range(0.1..1.4)) as i64);
            let closed = received < now - 30 * DAY;
            let (status, stage, outcome) = match (owner.is_some(), rng.random_range(0..100)) {
                (true, 0..=11) => ("won", "late", Some("won")),
                (true, 12..=25) => (
                    if closed { "lost" } else { "open" },
                    "mid",
                    Some("opportunity"),
                ),
                (true, 26..=40) if closed => ("lost", "early", Some("lost")),
                _ => ("open", "early", None),
            };
            b.leads.push(LeadRecord {
                id: id.clone(),
                source: "api".into(),
                email: Some(format!("person{i}@company{}.com", i % 50_000)),
                payload: std::sync::Arc::new(json!({"first_name": "Pat", "last_name": format!("Lead{i}"), "email": format!("person{i}@company{}.com", i % 50_000), "company": format!("Company {}", i % 50_000), "employees": 500, "action": "demo_request"})),
                received_at: received,
                routed_at: routed,
                owner: owner.clone(),
                queue: queue.clone(),
                team,
                segment: Some("mid_market".into()),
                tier: tier.into(),
                score: 60,
                path: path.into(),
                rule: None,
                status: status.parse().expect("a status"),
                stage: stage.parse().expect("a stage"),
                outcome: outcome.map(|o: &str| o.parse().expect("an outcome")),
                outcome_at: outcome.map(|_| routed + 7 * DAY),
                route_by: Some(routed + 300_000_000),
                contact_by,
                config_version: cfg.version.clone(),
                account_domain: None,
                accepted_at: first_touch.map(|t| t - 30_000_000),
                first_touch_at: first_touch,
                fallback: false,
            });
            // Tx::write inserts new leads untouched (as intake does); acceptance and first
            // touch are stored by a lead update, as when the rep accepts and calls.
            if let Some(t) = first_touch {
                let l = b.leads.last().expect("just pushed");
                b.lead_updates.push(LeadUpdate {
                    id: l.id.clone(),
                    owner: l.owner.clone(),
                    queue: l.queue.clone(),
                    team: l.team.clone(),
                    status: l.status,
                    stage: l.stage,
                    outcome: l.outcome,
                    outcome_at: l.outcome_at,
                    contact_by: l.contact_by,
                    accepted_at: Some(t - 30_000_000),
                    first_touch_at: Some(t),
                });
            }
            let fallback = owner.is_some() && rng.random_bool(0.06);
            b.leads.last_mut().expect("just pushed").fallback = fallback;
            if queue.is_some() || fallback {
                b.decisions.push(DecisionRecord {
                    lead_id: id.clone(),
                    kind: "route".into(),
                    decided_at: routed,
                    owner: owner.clone(),
                    queue: queue.clone(),
                    reason: format!("{path}: seeded"),
                    actor: None,
                    config_version: cfg.version.clone(),
                    decision: Some(
                        json!({"flags": if fallback { vec!["fallback"] } else { vec![] }}).into(),
                    ),
                    trace: None,
                });
            }
            if owner.is_some() && rng.random_bool(0.04) {
                b.decisions.push(DecisionRecord {
                    lead_id: id,
                    kind: "manual".into(),
                    decided_at: routed + DAY,
                    owner: owner.clone(),
                    queue: None,
                    reason: "seeded reassignment".into(),
                    actor: Some("bench".into()),
                    config_version: cfg.version.clone(),
                    decision: None,
                    trace: None,
                });
            }
        }
        let mut tx = store.begin().await.expect("begin");
        tx.write(b.clone(), version).await.expect("write");
        tx.commit().await.expect("commit");
        version += 1;
        if written % 100_000 == 0 {
            eprintln!(
                "  seeded {written} leads ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    eprintln!(
        "seeded {n} leads in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn main() {
    let n: usize = std::env::var("LEADS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    rt.block_on(async move {
        let cfg_path = std::path::PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/demo.toml"
        ));
        let cfg = leadrouter_core::config::load(&cfg_path).expect("demo config");
        let dir = tempfile::tempdir().expect("tempdir");
        let (path, fresh) = match std::env::var("LEADROUTER_BENCH_DB") {
            Ok(p) => {
                let fresh = !std::path::Path::new(&p).exists();
                (std::path::PathBuf::from(p), fresh)
            }
            Err(_) => (dir.path().join("bench.db"), true),
        };
        let store = leadrouter_store::open(&format!("sqlite://{}", path.display()))
            .await
            .expect("open");
        let now = jiff::Timestamp::now().as_microsecond();
        if fresh {
            seed(&*store, &cfg, n, now).await;
        }
        eprintln!("leads stored: {}", store.lead_count().await.expect("count"));
        let nrt = leadrouter_server::runtime::NotifyRuntime::build(&cfg).expect("notify");
        let enricher =
            leadrouter_server::runtime::build_enricher(&cfg, store.clone()).expect("enricher");
        let shared = Arc::new(Shared {
            config: arc_swap::ArcSwap::from_pointee(cfg),
            store: store.clone(),
            metrics: leadrouter_server::metrics::Metrics::default(),
            notify: arc_swap::ArcSwap::from_pointee(nrt),
            clock: leadrouter_server::runtime::Clock::new(false),
            enricher: arc_swap::ArcSwap::from_pointee(enricher),
            outbox_wake: tokio::sync::Notify::new(),
            crm: leadrouter_server::crm::CrmState::off(),
            crm_accounts: Default::default(),
        });
        let sequencer = Sequencer::start(shared.clone());
        let app = AppState {
            shared: shared.clone(),
            sequencer,
            keys: leadrouter_server::auth::Keys::new("", "bench-admin"),
            config_path: cfg_path,
            imports: Arc::new(leadrouter_server::imports::Imports::with_rate(1000)),
            key_use: Default::default(),
            forms: Arc::new(leadrouter_server::form_guard::FormGuard::with_secret(
                vec![0; 32],
            )),
            salesforce: None,
            crm_sync: None,
            calendars: Default::default(),
            busy: Arc::new(leadrouter_core::booking::NoCalendar),
        };
        let (users, _) = Users::demo();
        let r = router(ConsoleState {
            app,
            users: Arc::new(users),
            whatif: Default::default(),
        });
        let token = "bench-session-token";
        let session_id = hex::encode(sha2::Sha256::digest(token.as_bytes()));
        // A reused database (LEADROUTER_BENCH_DB) still holds the previous run's session.
        store.session_delete(&session_id).await.expect("session");
        store
            .session_create(&SessionRow {
                id: session_id,
                username: "admin".into(),
                role: "admin".into(),
                csrf: "bench".into(),
                created_at: now,
                expires_at: now + DAY,
            })
            .await
            .expect("session");
        let catch_all = {
            let c = shared.config.load();
            c.queue_roles
                .get(&leadrouter_core::config::QueueRole::CatchAll)
                .map(|q| c.queue_name(*q).to_string())
                .unwrap_or_default()
        };
        let some_lead = store.recent_leads(1).await.expect("recent")[0].id.clone();
        let pages = [
            ("overview", "/console/overview".to_string()),
            (
                "queues (catch-all)",
                format!("/console/queues?q={catch_all}"),
            ),
            (
                "queues (dead letters)",
                "/console/queues?q=dead".to_string(),
            ),
            ("lead detail", format!("/console/leads/{some_lead}")),
            ("reps", "/console/reps".to_string()),
            ("try a lead (form)", "/console/try".to_string()),
            ("matrix", "/console/matrix".to_string()),
            ("weekly report", "/console/report".to_string()),
            ("report CSV", "/console/report.csv".to_string()),
        ];
        println!("| page | p50 ms | p99 ms | max ms |");
        println!("|---|---:|---:|---:|");
        for (name, uri) in pages {
            let mut times = Vec::new();
            for i in 0..40 {
                let req = Request::get(&uri)
                    .header("cookie", format!("lr_console={token}"))
                    .body(Body::empty())
                    .unwrap();
                let t = Instant::now();
                let resp = r.clone().oneshot(req).await.expect("response");
                let status = resp.status();
                let _ = axum::body::to_bytes(resp.into_body(), usize::MAX)
                    .await
                    .expect("body");
                let took = t.elapsed().as_secs_f64() * 1e3;
                assert!(status.is_success(), "{uri}: {status}");
                if i >= 5 {
                    times.push(took);
                }
            }
            times.sort_by(|a, b| a.total_cmp(b));
            let q = |p: f64| {
                times[((p * times.len() as f64).ceil() as usize).clamp(1, times.len()) - 1]
            };
            println!(
                "| {name} | {:.1} | {:.1} | {:.1} |",
                q(0.5),
                q(0.99),
                times[times.len() - 1]
            );
        }
    });
}
