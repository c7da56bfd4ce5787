//! OPS-5 replay, through the real service: a multi-day history — leads of every path of
//! the demo company, resubmissions, out-of-office toggles, manual reassignments,
//! outcomes, a disqualification, SLA reassignments, a config reload and restarts — is
//! built with `leadrouter serve` on an adjustable clock, then `leadrouter replay` in
//! fidelity mode (the config versions that were live) must reproduce every stored
//! automatic decision exactly: owner, queue, tier, segment, path and rule. On SQLite
//! with one instance and on PostgreSQL with two instances taking turns on the routing
//! lock. A candidate that moves one territory to a queue changes exactly that
//! territory's leads.
//!
//! Needs PostgreSQL for the two-instance variant; set `LEADROUTER_SKIP_PG=1` to skip it.

use leadrouter_testsupport::{ADMIN_KEY, Cli, Clock, INTAKE_KEY, ServeOptions, Server, TestDb};
use reqwest::Method;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_leadrouter")
}

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// The demo company's config and tables in a directory of the test's own, so a reload
/// can change them.
fn config_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temporary directory");
    for f in [
        "demo.toml",
        "matrix.csv",
        "accounts.csv",
        "firmographics.csv",
    ] {
        std::fs::copy(examples().join(f), dir.path().join(f))
            .unwrap_or_else(|e| panic!("copying {f}: {e}"));
    }
    dir
}

/// The demo's sample leads, each made a new person by `tag` (same company domain, so
/// accounts and territories still match). `24-returning-lead` is left as it is: sent
/// twice, it is a resubmission.
fn sample_leads(tag: &str) -> Vec<Value> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(examples().join("leads"))
        .expect("examples/leads")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    files
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p).expect("sample lead");
            let mut v: Value = serde_json::from_str(&text).expect("sample lead JSON");
            let returning = p.to_string_lossy().contains("24-returning");
            if let Some(e) = v.get("email").and_then(Value::as_str).map(str::to_string)
                && !returning
                && let Some((local, domain)) = e.split_once('@')
            {
                v["email"] = json!(format!("{local}.{tag}@{domain}"));
            }
            v
        })
        .collect()
}

struct History {
    servers: Vec<Server>,
    /// Route events the service made (each accepted submission is one).
    routed: usize,
    lead_ids: Vec<String>,
    /// Leads that got an owner (a person's changes need one).
    owned: Vec<String>,
    /// Clock offset every instance has been moved by, so a restarted one catches up.
    advanced_min: i64,
}

impl History {
    fn new(servers: Vec<Server>) -> History {
        History {
            servers,
            routed: 0,
            lead_ids: Vec::new(),
            owned: Vec::new(),
            advanced_min: 0,
        }
    }

    /// Restart one instance (SIGKILL, same database) and move its fresh clock to where
    /// the others are.
    async fn restart(&mut self, i: usize) {
        self.servers[i].restart_async().await;
        if self.advanced_min > 0 {
            self.admin(
                i,
                Method::POST,
                "/v1/admin/clock",
                Some(json!({ "advance": format!("{}m", self.advanced_min) })),
            )
            .await;
        }
    }

    fn server(&self, i: usize) -> &Server {
        &self.servers[i % self.servers.len()]
    }

    async fn submit_all(&mut self, tag: &str) {
        // Spread over the instances, concurrently, so they take turns on the lock.
        let leads = sample_leads(tag);
        let mut tasks = Vec::new();
        for (i, lead) in leads.into_iter().enumerate() {
            let url = format!("{}/v1/leads", self.server(i).url);
            let http = self.server(i).http().clone();
            tasks.push(tokio::spawn(async move {
                let r = http
                    .post(&url)
                    .bearer_auth(INTAKE_KEY)
                    .json(&lead)
                    .send()
                    .await
                    .unwrap_or_else(|e| panic!("POST {url}: {e}"));
                let status = r.status().as_u16();
                let body: Value = r.json().await.unwrap_or(Value::Null);
                // The malformed sample is refused (422) and stores nothing.
                assert!(
                    matches!(status, 200 | 201 | 422),
                    "POST {url}: {status} {body}"
                );
                (status != 422).then_some(body)
            }));
        }
        for t in tasks {
            let Some(body) = t.await.expect("submit task") else {
                continue;
            };
            self.routed += 1;
            if let Some(id) = body.get("lead_id").and_then(Value::as_str) {
                self.lead_ids.push(id.to_string());
                if leadrouter_testsupport::serve::owner_of(&body).is_some() {
                    self.owned.push(id.to_string());
                }
            }
        }
    }

    async fn admin(&self, i: usize, m: Method, path: &str, body: Option<Value>) -> Value {
        let mut c = self.server(i).call(m, path).bearer(ADMIN_KEY);
        if let Some(b) = &body {
            c = c.json(b);
        }
        c.send_async().await.expect_status(200).json()
    }

    async fn advance_all(&mut self, minutes: i64) {
        for i in 0..self.servers.len() {
            self.admin(
                i,
                Method::POST,
                "/v1/admin/clock",
                Some(json!({ "advance": format!("{minutes}m") })),
            )
            .await;
        }
        self.advanced_min += minutes;
    }

    async fn availability(&self, i: usize, rep: &str, out: bool) {
        self.admin(
            i,
            Method::PUT,
            &format!("/v1/reps/{rep}/availability"),
            Some(json!({ "out_of_office": out, "note": "replay test" })),
        )
        .await;
    }

    /// The SLA ladder reassigns untouched leads at 2x their contact SLA: wait until the
    /// poller has fired what is due (no pending timer due any more).
    async fn wait_sla_reassignments(&self, at_least: usize) {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let mut n = 0;
            for id in &self.lead_ids {
                let l = self
                    .admin(0, Method::GET, &format!("/v1/leads/{id}"), None)
                    .await;
                n += l["history"]
                    .as_array()
                    .map(|h| h.iter().filter(|e| e["kind"] == "sla_reassign").count())
                    .unwrap_or(0);
            }
            if n >= at_least {
                return;
            }
            if Instant::now() > deadline {
                self.servers[0].fail(&format!("only {n} SLA reassignments after 60 s"));
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }
}

fn options(config: &Path, database: &str) -> ServeOptions {
    ServeOptions::new(bin(), config.join("demo.toml"))
        .database(database)
        .clock(Clock::Test)
}

/// Day by day: leads, availability, people's changes, SLA, a reload, restarts.
async fn build_history(h: &mut History, config: &Path) {
    // Day 1.
    h.submit_all("d1").await;
    h.availability(0, "marcus.reed", true).await;
    h.submit_all("d1b").await;
    let ids = h.owned.clone();
    assert!(ids.len() >= 6, "the demo's samples give owners: {ids:?}");
    // A manual reassignment, outcomes that move load between stages, a disqualification,
    // a first touch. Who owns the first lead depends on the hour the test runs (working
    // hours decide who is available), so the new owner is whoever it is not.
    let lead = h
        .admin(0, Method::GET, &format!("/v1/leads/{}", ids[0]), None)
        .await;
    let owner = leadrouter_testsupport::serve::owner_of(&lead);
    assert!(owner.is_some(), "lead {} has an owner: {lead}", ids[0]);
    let to = if owner.as_deref() == Some("ana.lopez") {
        "david.kim"
    } else {
        "ana.lopez"
    };
    h.admin(
        1,
        Method::POST,
        &format!("/v1/leads/{}/reassign", ids[0]),
        Some(json!({ "rep": to, "note": "knows them" })),
    )
    .await;
    for (i, outcome) in [(1, "opportunity"), (2, "proposal"), (3, "won")] {
        h.admin(
            i,
            Method::POST,
            &format!("/v1/leads/{}/outcome", ids[i]),
            Some(json!({ "outcome": outcome })),
        )
        .await;
    }
    h.admin(
        0,
        Method::POST,
        &format!("/v1/leads/{}/disqualify", ids[4]),
        Some(json!({ "reason": "student" })),
    )
    .await;
    h.admin(
        1,
        Method::POST,
        &format!("/v1/leads/{}/contacted", ids[5]),
        None,
    )
    .await;
    // Hot leads are contact-within-5m: at 2x the ladder reassigns the untouched ones.
    h.advance_all(11).await;
    h.wait_sla_reassignments(1).await;
    h.availability(1, "marcus.reed", false).await;
    h.submit_all("d1c").await;

    // A new config version: one territory row changes.
    let matrix = config.join("matrix.csv");
    let text = std::fs::read_to_string(&matrix).expect("matrix");
    std::fs::write(
        &matrix,
        text.replace(
            "terr-us-west-ent,30,enterprise,,,US,CA|WA|OR,",
            "terr-us-west-ent,30,enterprise|mid_market,,,US,CA|WA|OR,",
        ),
    )
    .expect("matrix written");
    for i in 0..h.servers.len() {
        let r = h.admin(i, Method::POST, "/v1/admin/reload", None).await;
        assert_eq!(r["reloaded"], true, "{r}");
    }

    // Day 2, after a restart (its clock starts again at the real time: catch up).
    h.advance_all(24 * 60).await;
    h.restart(0).await;
    h.submit_all("d2").await;
    h.availability(0, "priya.shah", true).await;
    h.submit_all("d2b").await;
    h.advance_all(11).await;
    h.wait_sla_reassignments(2).await;

    // Day 3: every instance restarted.
    h.advance_all(24 * 60).await;
    for i in 0..h.servers.len() {
        h.restart(i).await;
    }
    h.availability(1, "priya.shah", false).await;
    h.submit_all("d3").await;
}

fn replay(args: &[&str]) -> (Cli, Value) {
    let out = Cli::run(bin(), args);
    let v: Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| out.fail(&format!("replay --json printed no JSON: {e}")));
    (out, v)
}

/// The fidelity check: every stored automatic decision reproduced, or the first that
/// was not, with both traces.
fn assert_fidelity(database: &str, routed: usize) {
    let (out, r) = replay(&["replay", "--database", database, "--json"]);
    if r["changed"] != 0 {
        let first = &r["changed_leads"][0];
        out.fail(&format!(
            "fidelity: {} of {} decisions differ; the first, lead {}:\n--- as stored: {}\n{}\n--- replayed: {}\n{}",
            r["changed"],
            r["routed"],
            first["lead_id"],
            first["before"],
            first["before_trace"].as_str().unwrap_or("-"),
            first["after"],
            first["after_trace"].as_str().unwrap_or("-"),
        ));
    }
    out.check(
        r["effect_mismatches"] == 0,
        "replayed decisions made other effects than recorded",
    );
    out.check(
        r["routed"].as_u64() == Some(routed as u64),
        &format!("expected {routed} routing decisions in the history"),
    );
    out.check(out.code == Some(0), "fidelity replay exits 0");
    // Pages of 3 events: routing transactions are split between pages and must be read
    // back whole, in order. The service may still be running (SLA steps go on being
    // recorded), so this later snapshot's changes begin with the first one's. The
    // reading thread finishes decoding every transaction itself, or leaves all of them
    // to the worker (the default shares them as it goes).
    let before = r["lead_changes"].as_array().cloned().unwrap_or_default();
    for share in ["0", "8"] {
        let (small, s) = replay(&[
            "replay",
            "--database",
            database,
            "--json",
            "--page-events",
            "3",
            "--worker-share",
            share,
        ]);
        let after = s["lead_changes"].as_array().cloned().unwrap_or_default();
        small.check(
            s["changed"] == 0
                && s["effect_mismatches"] == 0
                && s["routed"].as_u64() == Some(routed as u64)
                && after.len() >= before.len()
                && after[..before.len()] == before[..],
            &format!("reading 3 events a page (worker share {share}/8) replays the same history"),
        );
    }
    let kinds: BTreeSet<&str> = r["lead_changes"]
        .as_array()
        .map(|a| a.iter().filter_map(|c| c["kind"].as_str()).collect())
        .unwrap_or_default();
    out.check(
        kinds.contains("reassign") && kinds.contains("sla"),
        "the history holds manual and SLA reassignments",
    );
    // The text summary says the same.
    let text = Cli::run(bin(), &["replay", "--database", database]).expect_code(0);
    text.check(
        text.stdout.contains(&format!(
            "{routed} of {routed} decisions reproduced exactly"
        )),
        "the summary reports full fidelity",
    );
}

/// The end-to-end fixture with one territory: California and Washington go to
/// cara.cole; everyone else to the round-robin pool. No working hours, capacity or
/// daily caps, so nothing but the leads decides, and no rep's load or turn is read by
/// another rep's decision.
fn territory_config(dir: &Path, owner: &str, file: &str) -> PathBuf {
    let base = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/e2e.toml"),
    )
    .expect("e2e fixture");
    let text = format!(
        "{base}\n[[rep]]\nid = \"dan.diaz\"\nname = \"Dan Diaz\"\nemail = \"dan@e2e.example\"\nteam = \"accounts\"\nmanager = \"mgr\"\ntimezone = \"UTC\"\n\n[[rule]]\nid = \"terr-west\"\npriority = 30\ncountry = [\"US\"]\nstate = [\"CA\", \"WA\"]\nroute_to = \"rep:{owner}\"\n"
    );
    let path = dir.join(file);
    std::fs::write(&path, text).expect("config written");
    path
}

/// OPS-5: a candidate that moves one territory to another rep changes exactly that
/// territory's leads — each from the old owner to the new — and nothing else; the
/// report says so in every format.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ops5_a_candidate_moving_a_territory_changes_exactly_its_leads() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let live = territory_config(dir.path(), "cara.cole", "live.toml");
    let candidate = territory_config(dir.path(), "dan.diaz", "candidate.toml");
    let db = TestDb::sqlite();
    let server = Server::start_async(ServeOptions::new(bin(), &live).database(&db.url)).await;
    let mut west = BTreeSet::new();
    let mut all = BTreeSet::new();
    for i in 0..24 {
        let state = ["CA", "NY", "TX", "WA"][i % 4];
        let lead = json!({
            "email": format!("buyer{i}@company{i}.com"),
            "company": format!("Company {i}"),
            "country": "US",
            "state": state,
            "employees": 300,
            "industry": "software",
            "action": "demo_request",
        });
        let r = server
            .post("/v1/leads")
            .intake()
            .json(&lead)
            .send_async()
            .await
            .expect_status(201)
            .json();
        let id = r["lead_id"].as_str().expect("lead id").to_string();
        if state == "CA" || state == "WA" {
            assert_eq!(
                leadrouter_testsupport::serve::owner_of(&r).as_deref(),
                Some("cara.cole")
            );
            west.insert(id.clone());
        }
        all.insert(id);
    }
    // A manual reassignment in the window is reported apart, not as a changed decision.
    let first = all.iter().next().cloned().expect("a lead");
    server
        .post(&format!("/v1/leads/{first}/reassign"))
        .admin()
        .json(&json!({ "rep": "ben.baker" }))
        .send_async()
        .await
        .expect_status(200);
    let db_url = db.url.clone();
    let cand = candidate.to_string_lossy().to_string();
    let html = dir.path().join("report.html");
    let html_s = html.to_string_lossy().to_string();
    let (out, r) = replay(&[
        "replay",
        "--database",
        &db_url,
        "--config",
        &cand,
        "--json",
        "--html",
        &html_s,
    ]);
    out.check(out.code == Some(0), "a candidate replay exits 0");
    let changed: BTreeSet<String> = r["changed_leads"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|c| c["lead_id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    out.check(
        changed == west,
        &format!("exactly the territory's {} leads change", west.len()),
    );
    out.check(r["changed"] == west.len(), "the count agrees");
    for c in r["changed_leads"].as_array().into_iter().flatten() {
        out.check(
            c["before"]["owner"] == "cara.cole"
                && c["after"]["owner"] == "dan.diaz"
                && c["before"]["rule"] == "terr-west"
                && c["after"]["rule"] == "terr-west"
                && c["before_trace"]
                    .as_str()
                    .is_some_and(|t| t.contains("cara.cole"))
                && c["after_trace"]
                    .as_str()
                    .is_some_and(|t| t.contains("dan.diaz")),
            &format!("each moves from cara.cole to dan.diaz, with both traces: {c}"),
        );
    }
    let rep = |id: &str| {
        r["reps"]
            .as_array()
            .and_then(|a| a.iter().find(|x| x["rep"] == id))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let n = west.len() as u64;
    out.check(
        rep("cara.cole")["leads"] == json!({"before": n, "after": 0})
            && rep("dan.diaz")["leads"] == json!({"before": 0, "after": n}),
        "per-rep counts before and after",
    );
    out.check(
        r["lead_changes"]
            .as_array()
            .is_some_and(|a| a.len() == 1 && a[0]["lead_id"] == first.as_str()),
        "the manual reassignment is reported apart",
    );
    let page = std::fs::read_to_string(&html).expect("HTML report written");
    out.check(
        page.contains("<svg") && page.contains("dan.diaz") && !page.contains("<script"),
        "the HTML report has the chart and the traces, and no script",
    );
    let csv = Cli::run(
        bin(),
        &["replay", "--database", &db_url, "--config", &cand, "--csv"],
    )
    .expect_code(0);
    csv.check(
        csv.stdout.starts_with("section,key,field,before,after")
            && csv.stdout.contains("rep,dan.diaz,leads,0,"),
        "CSV report",
    );
    // With the live config the same history reproduces exactly (and a window that
    // starts after every lead replays nothing).
    assert_fidelity_only(&db_url, all.len());
    let (_, later) = replay(&[
        "replay",
        "--database",
        &db_url,
        "--since",
        "2100-01-01",
        "--json",
    ]);
    assert_eq!(later["routed"], 0, "{later}");
    drop(server);
}

fn assert_fidelity_only(database: &str, routed: usize) {
    let (out, r) = replay(&["replay", "--database", database, "--json"]);
    out.check(
        r["changed"] == 0 && r["effect_mismatches"] == 0 && r["routed"] == routed,
        "fidelity",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ops5_replay_reproduces_every_decision_on_sqlite() {
    let config = config_dir();
    let db = TestDb::sqlite();
    let server = Server::start_async(options(config.path(), &db.url)).await;
    let mut h = History::new(vec![server]);
    build_history(&mut h, config.path()).await;
    // The service keeps running: a replay reads a snapshot without blocking it.
    assert_fidelity(&db.url, h.routed);
    // The console bounds a replay's time with a timeout around it: SQLite's pages are
    // read without waiting on anything, so the replay must give the runtime a turn
    // between pages or the timeout could never fire.
    let mut reader = leadrouter_server::replay::HistoryReader::open(&db.url)
        .await
        .unwrap();
    let opts = leadrouter_server::replay::ReplayOptions {
        page_events: 1,
        ..Default::default()
    };
    let mut progress = |_: u64, _: u64| {};
    let run = leadrouter_server::replay::run(&mut reader, &opts, &mut progress);
    assert!(
        tokio::time::timeout(Duration::ZERO, run).await.is_err(),
        "a replay ended by its caller's timeout"
    );
    // SQLite's history is read in storage order, checked as it goes: move the first
    // routing event to the end of the table (delete and insert it again, as a restore
    // might; the service keeps running) and the replay must notice, read by key instead, and reproduce the same.
    {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        let mut tx = c.begin().await.unwrap();
        for sql in [
            "CREATE TEMP TABLE moved AS SELECT * FROM routing_events
               WHERE kind = 'route' ORDER BY state_version, idx LIMIT 1",
            "DELETE FROM routing_events WHERE (state_version, idx) IN (SELECT state_version, idx FROM moved)",
            "INSERT INTO routing_events SELECT * FROM moved",
        ] {
            sqlx::query(sql).execute(&mut *tx).await.unwrap();
        }
        tx.commit().await.unwrap();
    }
    let (out, r) = replay(&["replay", "--database", &db.url, "--json"]);
    out.check(
        r["changed"] == 0 && r["effect_mismatches"] == 0 && r["routed"] == h.routed,
        "a history stored out of commit order replays the same",
    );
    out.check(
        r["notes"].as_array().is_some_and(|n| {
            n.iter().any(|n| {
                n.as_str()
                    .is_some_and(|n| n.starts_with("history read by key"))
            })
        }),
        "the report says the history was read by key",
    );
    // Rows written before inputs were packed (migration 0029) hold them as JSON: turn
    // every other routing event's input back into JSON, then every input, then drop the
    // column as a database no service of this version has opened lacks it. All replay
    // the same.
    let routed = h.routed;
    drop(h);
    let replays_the_same = |what: &str| {
        let (out, r) = replay(&["replay", "--database", &db.url, "--json"]);
        out.check(
            r["changed"] == 0 && r["effect_mismatches"] == 0 && r["routed"] == routed,
            what,
        );
    };
    for (step, what) in [
        (
            2,
            "inputs stored as JSON and packed, side by side, replay the same",
        ),
        (1, "inputs all stored as JSON replay the same"),
    ] {
        use sqlx::{Connection, Row};
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        let rows = sqlx::query(
            "SELECT state_version, idx, input_packed FROM routing_events WHERE input_packed IS NOT NULL",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        if step == 2 {
            assert!(rows.len() >= routed, "the service packs every input");
        }
        for r in rows.iter().step_by(step) {
            let packed: Vec<u8> = r.get(2);
            let input = leadrouter_core::record::RouteInput::unpack(&packed).unwrap();
            sqlx::query(
                "UPDATE routing_events SET input = ?1, input_packed = NULL WHERE state_version = ?2 AND idx = ?3",
            )
            .bind(serde_json::to_string(&input).unwrap())
            .bind(r.get::<i64, _>(0))
            .bind(r.get::<i64, _>(1))
            .execute(&mut c)
            .await
            .unwrap();
        }
        replays_the_same(what);
    }
    {
        use sqlx::Connection;
        let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
        sqlx::query("ALTER TABLE routing_events DROP COLUMN input_packed")
            .execute(&mut c)
            .await
            .unwrap();
    }
    replays_the_same("a database from before migration 0029 replays the same");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn ops5_replay_reproduces_every_decision_on_postgres_with_two_instances() {
    let Some(db) = TestDb::postgres().await else {
        return;
    };
    let config = config_dir();
    let servers = Server::start_many(2, &options(config.path(), &db.url)).await;
    let mut h = History::new(servers);
    build_history(&mut h, config.path()).await;
    assert_fidelity(&db.url, h.routed);
}
