//! Issue 23 in a real headless Chromium against the real binary: reps and managers work
//! their leads in the console (accept, contacted, outcome, disqualify with a reason;
//! nobody acts on a lead that is not theirs, every action audited); each viewer's times
//! in their zone; the routing flow with its counts, fallbacks and lead lists; the reps
//! page saying who is available now and why not; a queue's assign preselecting the rep
//! routing would pick and warning about an unavailable choice; durations in words; the
//! weekly report opening on the latest week with leads, with its per-rep table.

mod support;

use fantoccini::{Client, Locator};
use serde_json::{Value, json};
use std::time::Duration;
use support::browser::{body_text, el, screenshot, start_browser, wait_path};
use support::console::{console_hash, csrf_of, form, login};
use support::{Clock, Server, e2e, e2e_config, serve};

const PASSWORD: &str = "console-pass-23";

async fn post_lead(server: &Server, lead: &Value) -> Value {
    server
        .post("/v1/leads")
        .admin()
        .json(lead)
        .send_async()
        .await
        .expect_status(201)
        .json()
}

async fn get_lead(server: &Server, id: &str) -> Value {
    server
        .get(&format!("/v1/leads/{id}"))
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .json()
}

fn pool_lead(first: &str, email: &str) -> Value {
    json!({
        "first_name": first, "last_name": "Lead", "email": email, "company": format!("{first} Co"),
        "country": "US", "employees": 500, "industry": "software", "action": "demo_request",
    })
}

fn id(v: &Value) -> String {
    v["lead_id"].as_str().expect("lead_id").to_string()
}

fn owner(v: &Value) -> Option<String> {
    v["owner"]["id"]
        .as_str()
        .or_else(|| v["owner"].as_str())
        .map(str::to_string)
}

/// Log in through the form in the browser.
async fn browser_login(c: &Client, base: &str, user: &str, password: &str) {
    c.goto(&format!("{base}/console/login")).await.unwrap();
    let f = c.form(Locator::Css("form.box")).await.unwrap();
    f.set_by_name("username", user).await.unwrap();
    f.set_by_name("password", password).await.unwrap();
    f.submit().await.unwrap();
    let start = std::time::Instant::now();
    while c.current_url().await.unwrap().path().ends_with("/login") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "{user} not logged in"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Wait until the lead page has reloaded after `action` (its URL says `done=action`),
/// then read its `#flash`.
async fn flash_after(c: &Client, action: &str) -> String {
    let start = std::time::Instant::now();
    loop {
        let url = c.current_url().await.unwrap();
        if url
            .query()
            .is_some_and(|q| q.contains(&format!("done={action}")))
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no reload after {action}: still on {url}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    el(c, Locator::Id("flash"))
        .await
        .unwrap_or_else(|e| panic!("no flash after {action}: {e}"))
        .text()
        .await
        .unwrap()
}

/// Submit the action form `#act-{action}` and read the page's `#flash` afterwards.
async fn submit_and_flash(c: &Client, action: &str) -> String {
    c.form(Locator::Css(&format!("#act-{action}")))
        .await
        .unwrap()
        .submit()
        .await
        .unwrap();
    flash_after(c, action).await
}

async fn audit_has(server: &Server, lead: &str, action: &str, actor: &str) -> bool {
    let v = server
        .get(&format!("/v1/audit?lead={lead}"))
        .admin()
        .send_async()
        .await
        .expect_status(200)
        .json();
    v["entries"]
        .as_array()
        .unwrap()
        .iter()
        .any(|e| e["action"] == action && e["actor"] == actor)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reps_and_managers_act_on_their_leads_in_the_console() {
    let hash = console_hash(PASSWORD);
    let server = Server::start_async(e2e().env(
        "LEADROUTER_CONSOLE_USERS",
        format!("ann.archer:rep:{hash};mgr:manager:{hash};boss:admin:{hash}"),
    ))
    .await;
    let base = server.url.clone();
    let l1 = post_lead(&server, &pool_lead("Abel", "abel@acts-one.io")).await;
    let l2 = post_lead(&server, &pool_lead("Bea", "bea@acts-two.io")).await;
    assert_eq!(owner(&l1).as_deref(), Some("ann.archer"), "{l1}");
    assert_eq!(owner(&l2).as_deref(), Some("ben.baker"), "{l2}");
    let (id1, id2) = (id(&l1), id(&l2));

    let (_driver, c) = start_browser().await;
    browser_login(&c, &base, "ann.archer", PASSWORD).await;
    wait_path(&c, "/console/my").await;
    let mine = el(&c, Locator::Id("my-leads"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(mine.contains("Abel Lead"), "{mine}");
    assert!(
        !mine.contains("Bea Lead"),
        "a rep sees another rep's lead: {mine}"
    );

    // The rep works their lead: accept, contacted, an outcome, then disqualify.
    c.goto(&format!("{base}/console/leads/{id1}"))
        .await
        .unwrap();
    el(&c, Locator::Id("actions"))
        .await
        .expect("the rep's actions");
    screenshot(&c, "lead-actions").await;
    assert_eq!(submit_and_flash(&c, "accept").await, "Accepted.");
    assert_eq!(
        submit_and_flash(&c, "contacted").await,
        "Marked as contacted."
    );
    let f = c.form(Locator::Css("#act-outcome")).await.unwrap();
    f.set_by_name("outcome", "opportunity").await.unwrap();
    f.submit().await.unwrap();
    assert_eq!(flash_after(&c, "outcome").await, "Outcome recorded.");
    let stored = get_lead(&server, &id1).await;
    assert!(stored["accepted_at"].is_string(), "{stored}");
    assert!(stored["first_touch_at"].is_string(), "{stored}");
    assert_eq!(stored["stage"], "mid", "{stored}");
    let f = c.form(Locator::Css("#act-disqualify")).await.unwrap();
    f.set_by_name("reason", "no budget this year")
        .await
        .unwrap();
    f.submit().await.unwrap();
    assert_eq!(flash_after(&c, "disqualify").await, "Disqualified.");
    assert!(
        c.find(Locator::Id("actions")).await.is_err(),
        "a closed lead still offers actions"
    );
    let stored = get_lead(&server, &id1).await;
    assert_eq!(stored["status"], "disqualified", "{stored}");
    // Audited as the API's actions are, with the console user as the actor.
    for action in [
        "lead.accept",
        "lead.contacted",
        "lead.outcome",
        "lead.disqualify",
    ] {
        assert!(
            audit_has(&server, &id1, action, "console:ann.archer").await,
            "{action} by console:ann.archer is not in the audit log"
        );
    }

    // Times in the viewer's zone: ann's is UTC (the config); she sets Asia/Tokyo.
    let zone = el(&c, Locator::Id("zone")).await.unwrap();
    assert_eq!(zone.prop("value").await.unwrap().as_deref(), Some("UTC"));
    let f = c.form(Locator::Id("zone-form")).await.unwrap();
    f.set_by_name("zone", "Asia/Tokyo").await.unwrap();
    f.submit().await.unwrap();
    wait_path(&c, &format!("/console/leads/{id1}")).await;
    let start = std::time::Instant::now();
    loop {
        // The page may be reloading under us: a stale or missing element is read again.
        let v = match el(&c, Locator::Id("zone")).await {
            Ok(e) => e.prop("value").await.ok().flatten(),
            Err(_) => None,
        };
        if v.as_deref() == Some("Asia/Tokyo") {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "zone not set: {v:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let text = body_text(&c).await;
    assert!(text.contains(" JST"), "times are not in Tokyo time: {text}");

    // Not her lead: not shown, and a forged action is refused without a change.
    c.goto(&format!("{base}/console/leads/{id2}"))
        .await
        .unwrap();
    assert!(body_text(&c).await.contains("not found"));
    let ann = login(&server, "ann.archer", PASSWORD).await;
    let my = server
        .get("/console/my")
        .header("cookie", &ann)
        .send_async()
        .await
        .expect_status(200);
    let csrf = csrf_of(&my.text);
    server
        .post(&format!("/console/leads/{id2}/act"))
        .header("cookie", &ann)
        .body(
            "application/x-www-form-urlencoded",
            form(&[("csrf", &csrf), ("action", "outcome"), ("outcome", "won")]),
        )
        .send_async()
        .await
        .expect_status(404);
    assert_eq!(get_lead(&server, &id2).await["status"], "open");

    // The manager of both reps sees and works the team's leads; their login lands there.
    let mgr = login(&server, "mgr", PASSWORD).await;
    let home = server
        .get("/console/overview")
        .header("cookie", &mgr)
        .send_async()
        .await
        .expect_status(303);
    assert_eq!(home.header("location"), Some("/console/my"));
    let team = server
        .get("/console/my")
        .header("cookie", &mgr)
        .send_async()
        .await
        .expect_status(200);
    assert!(
        team.text.contains("Abel Lead") && team.text.contains("Bea Lead"),
        "{}",
        team.text
    );
    let csrf = csrf_of(&team.text);
    // Without the form's token: refused.
    server
        .post(&format!("/console/leads/{id2}/act"))
        .header("cookie", &mgr)
        .body(
            "application/x-www-form-urlencoded",
            form(&[("action", "accept")]),
        )
        .send_async()
        .await
        .expect_status(400);
    // A disqualification needs a reason.
    server
        .post(&format!("/console/leads/{id2}/act"))
        .header("cookie", &mgr)
        .body(
            "application/x-www-form-urlencoded",
            form(&[("csrf", &csrf), ("action", "disqualify")]),
        )
        .send_async()
        .await
        .expect_status(400);
    server
        .post(&format!("/console/leads/{id2}/act"))
        .header("cookie", &mgr)
        .body(
            "application/x-www-form-urlencoded",
            form(&[("csrf", &csrf), ("action", "outcome"), ("outcome", "won")]),
        )
        .send_async()
        .await
        .expect_status(303);
    assert_eq!(get_lead(&server, &id2).await["status"], "won");
    assert!(audit_has(&server, &id2, "lead.outcome", "console:mgr").await);
    c.close().await.unwrap();
}

/// The e2e config with ben.baker's capacity at one new lead (weight 0.5).
fn capacity_config(dir: &std::path::Path) -> std::path::PathBuf {
    let text = std::fs::read_to_string(e2e_config()).expect("e2e.toml");
    let text = text.replacen(
        "id = \"ben.baker\"\nname = \"Ben Baker\"",
        "id = \"ben.baker\"\nname = \"Ben Baker\"\ncapacity = 0.5",
        1,
    );
    assert!(text.contains("capacity = 0.5"), "the fixture changed shape");
    let path = dir.join("capacity.toml");
    std::fs::write(&path, text).expect("writing the config");
    path
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_flow_reps_queues_and_report_show_what_routing_does() {
    let dir = tempfile::tempdir().unwrap();
    let hash = console_hash(PASSWORD);
    let server = Server::start_async(
        serve(capacity_config(dir.path()))
            .clock(Clock::Test)
            .env("LEADROUTER_CONSOLE_USERS", format!("boss:admin:{hash}")),
    )
    .await;
    let base = server.url.clone();
    let a1 = post_lead(&server, &pool_lead("Ada", "ada@flow-one.io")).await;
    let b1 = post_lead(&server, &pool_lead("Bo", "bo@flow-two.io")).await;
    let a2 = post_lead(&server, &pool_lead("Al", "al@flow-three.io")).await;
    assert_eq!(owner(&a1).as_deref(), Some("ann.archer"));
    assert_eq!(owner(&b1).as_deref(), Some("ben.baker"));
    assert_eq!(
        owner(&a2).as_deref(),
        Some("ann.archer"),
        "ben at capacity was given a lead: {a2}"
    );
    let acct = post_lead(&server, &json!({"first_name": "Gil", "last_name": "Globex", "email": "gil@globex.com", "company": "Globex", "action": "demo_request"})).await;
    assert_eq!(owner(&acct).as_deref(), Some("cara.cole"), "{acct}");
    let queued = post_lead(&server, &json!({"first_name": "Quin", "last_name": "Review", "email": "quin.review@gmail.com", "action": "demo_request"})).await;
    assert_eq!(queued["queue"], "review", "{queued}");
    let junk = post_lead(&server, &json!({"first_name": "Jay", "last_name": "Junk", "email": "jay@junk-co.io", "website_url": "http://spam.example", "action": "demo_request"})).await;
    assert_eq!(junk["queue"], "junk", "{junk}");

    let (_driver, c) = start_browser().await;
    browser_login(&c, &base, "boss", PASSWORD).await;

    // Who is available now, and why not, as routing sees it.
    c.goto(&format!("{base}/console/reps")).await.unwrap();
    let ben = el(&c, Locator::Css("tr[id='rep-ben.baker']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ben.contains("at capacity (load 0.5 of 0.5)"), "{ben}");
    let ann = el(&c, Locator::Css("tr[id='rep-ann.archer']"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(ann.contains("available now"), "{ann}");
    screenshot(&c, "reps-availability").await;

    // The queue's assign preselects whom routing would pick now (not the first rep).
    let qid = id(&queued);
    c.goto(&format!("{base}/console/queues?q=review"))
        .await
        .unwrap();
    let row = el(&c, Locator::Css(&format!("tr[id='lead-{qid}']")))
        .await
        .unwrap();
    let chosen = row
        .find(Locator::Css("select option:checked"))
        .await
        .unwrap()
        .attr("value")
        .await
        .unwrap();
    assert_eq!(chosen.as_deref(), Some("ann.archer"));
    let text = row.text().await.unwrap();
    assert!(text.contains("routing would pick Ann Archer now"), "{text}");
    assert!(
        text.contains("Ben Baker (Inbound pool) — at capacity"),
        "{text}"
    );
    // Choosing the rep at capacity assigns, and warns.
    let f = c
        .form(Locator::Css(&format!("tr[id='lead-{qid}'] form")))
        .await
        .unwrap();
    f.set_by_name("rep", "ben.baker").await.unwrap();
    f.submit().await.unwrap();
    let warn = el(&c, Locator::Id("assign-warning"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(warn.contains("Ben Baker is at capacity"), "{warn}");
    assert_eq!(get_lead(&server, &qid).await["owner"], "ben.baker");

    // The weekly report opens on the week with these leads, with a per-rep table.
    c.goto(&format!("{base}/console/report")).await.unwrap();
    el(&c, Locator::Id("report-latest"))
        .await
        .expect("opened on the latest week with leads");
    let reps = el(&c, Locator::Id("report-reps"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let ann_row = reps
        .lines()
        .find(|l| l.starts_with("Ann Archer"))
        .unwrap_or_else(|| panic!("{reps}"));
    assert!(ann_row.starts_with("Ann Archer 2 "), "{ann_row}");
    screenshot(&c, "report-reps").await;

    // Nobody available in the pool: the next lead overflows to the catch-all.
    server
        .put("/v1/reps/ann.archer/availability")
        .admin()
        .json(&json!({"out_of_office": true}))
        .send_async()
        .await
        .expect_status(200);
    let over = post_lead(&server, &pool_lead("Ola", "ola@flow-four.io")).await;
    assert_eq!(over["queue"], "unassigned", "{over}");

    // The routing flow: every step, its counts and share, the fallback as its own edge.
    c.goto(&format!("{base}/console/flow?days=30"))
        .await
        .unwrap();
    let svg = el(&c, Locator::Css("#flow svg"))
        .await
        .expect("the flow drawing");
    assert!(svg.text().await.unwrap().contains("Intake"));
    let node = |k: &'static str| Locator::Css(k);
    let acct_node = el(&c, node("a#node-step_account_owner")).await.unwrap();
    assert!(
        acct_node.text().await.unwrap().contains("1 lead · 14.3%"),
        "{}",
        acct_node.text().await.unwrap()
    );
    let fallbacks = el(&c, Locator::Id("flow-fallbacks"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(fallbacks.contains("catch-all"), "{fallbacks}");
    assert!(body_text(&c).await.contains("catch-all · 1"));
    screenshot(&c, "flow").await;
    // Clicking a node lists its leads.
    el(&c, node("a#node-step_junk"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_path(&c, "/console/flow/leads").await;
    let list = el(&c, Locator::Id("flow-leads"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(list.contains("Jay Junk"), "{list}");
    assert!(!list.contains("Ada Lead"), "{list}");

    // Durations in words: a lead left in review for 2 h 34 min says so.
    let waiting = post_lead(&server, &json!({"first_name": "Wes", "last_name": "Waiting", "email": "wes.waiting@gmail.com", "action": "demo_request"})).await;
    let wid = id(&waiting);
    server
        .post("/v1/admin/clock")
        .admin()
        .json(&json!({"advance": "154m"}))
        .send_async()
        .await
        .expect_status(200);
    let start = std::time::Instant::now();
    loop {
        let l = get_lead(&server, &wid).await;
        if l["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["kind"] == "queue_alert")
        {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "no queue alert: {l}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    c.goto(&format!("{base}/console/queues?q=review"))
        .await
        .unwrap();
    let row = el(&c, Locator::Css(&format!("tr[id='lead-{wid}']")))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(row.contains("in queue review for 2 h 34 min"), "{row}");
    assert!(row.starts_with("2 h 34 min"), "{row}");
    // A raw duration is a number glued to a unit ("905µs", "405ns") or ISO-8601 ("PT9240S");
    // words such as "notifications" are not.
    let chars: Vec<char> = row.chars().collect();
    for (i, w) in chars.windows(2).enumerate() {
        let glued = i > 0 && chars[i - 1].is_ascii_digit();
        let unit = matches!(w, ['n', 's'] | ['µ', 's'] | ['m', 's']);
        assert!(!(glued && unit), "a raw duration on the queues page: {row}");
        assert!(
            !(w[0] == 'P' && w[1] == 'T' && chars.get(i + 2).is_some_and(char::is_ascii_digit)),
            "an ISO-8601 duration on the queues page: {row}"
        );
    }
    c.close().await.unwrap();
}

/// Over plain HTTP: who may open the flow, and bad windows and zones are refused with a
/// message that says how to write them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_issue_23_pages_refuse_what_they_cannot_do() {
    let hash = console_hash(PASSWORD);
    let server = Server::start_async(e2e().env(
        "LEADROUTER_CONSOLE_USERS",
        format!("ann.archer:rep:{hash};boss:admin:{hash}"),
    ))
    .await;
    let boss = login(&server, "boss", PASSWORD).await;
    let ann = login(&server, "ann.archer", PASSWORD).await;
    let get =
        |path: &'static str, cookie: &str| server.get(path).header("cookie", cookie).send_async();
    get("/console/flow", &ann).await.expect_status(403);
    get("/console/flow/leads?path=junk", &ann)
        .await
        .expect_status(403);
    let bad = get("/console/flow?from=2026-13-01", &boss)
        .await
        .expect_status(400);
    assert!(
        bad.text.contains("is not a date; write it like 2026-11-23"),
        "{}",
        bad.text
    );
    let bad = get("/console/flow?from=2026-11-20&to=2026-11-01", &boss)
        .await
        .expect_status(400);
    assert!(bad.text.contains("after it ends"), "{}", bad.text);
    let ok = get("/console/flow?days=30", &boss).await.expect_status(200);
    assert!(
        ok.text.contains("id=\"node-step_catch_all\""),
        "{}",
        ok.text
    );
    // A zone that does not exist is refused; a real one is kept for this user only.
    let page = get("/console/my", &ann).await.expect_status(200);
    let csrf = csrf_of(&page.text);
    let r = server
        .post("/console/zone")
        .header("cookie", &ann)
        .body(
            "application/x-www-form-urlencoded",
            form(&[("csrf", &csrf), ("zone", "Mars/Olympus")]),
        )
        .send_async()
        .await
        .expect_status(400);
    assert!(r.text.contains("is not an IANA time zone"), "{}", r.text);
}
