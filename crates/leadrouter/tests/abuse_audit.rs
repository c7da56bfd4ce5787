//! Issue 24, item 7 (and two of item 9's smaller holes) at the HTTP boundary, on the real
//! binary: actors come from named keys and console sessions only (a client-sent
//! `X-Actor` is ignored), every state-changing action leaves an audit row with its actor
//! and client address, readable at `GET /v1/audit` and on the console's audit page;
//! `Authorization: bearer …` works in any case; an intake key on an admin route is 403.

mod support;

use leadrouter_testsupport::Resp;
use reqwest::Method;
use serde_json::{Value, json};
use support::{INTAKE_KEY, Server, e2e};

/// The admin key these tests configure, named `ops-bot` (`LEADROUTER_ADMIN_KEYS`).
const NAMED_ADMIN: &str = "named-admin-key-42";
/// The intake key, named `website`.
const NAMED_INTAKE: &str = "named-intake-key-42";

fn start_named() -> Server {
    Server::start(
        e2e()
            .env("LEADROUTER_ADMIN_KEYS", format!("ops-bot={NAMED_ADMIN}"))
            .env("LEADROUTER_INTAKE_KEYS", format!("website:{NAMED_INTAKE}")),
    )
}

fn pool_lead(email: &str) -> Value {
    json!({
        "first_name": "Pat", "last_name": "Example", "email": email,
        "company": "Example Co", "title": "Head of Data", "country": "US",
        "employees": 500, "industry": "software", "action": "demo_request",
        "lead_source": "website",
    })
}

fn submit(server: &Server, email: &str) -> String {
    let d = server
        .post("/v1/leads")
        .bearer(NAMED_INTAKE)
        .json(&pool_lead(email))
        .send()
        .expect_status(201)
        .json();
    d["lead_id"].as_str().expect("lead_id").to_string()
}

/// Every audit entry (newest first), following the keyset pages.
fn audit_log(server: &Server, key: &str, filter: &str) -> Vec<Value> {
    let mut all = Vec::new();
    let mut before: Option<i64> = None;
    loop {
        let mut path = format!("/v1/audit?limit=50{filter}");
        if let Some(b) = before {
            path.push_str(&format!("&before={b}"));
        }
        let page = server
            .get(&path)
            .bearer(key)
            .send()
            .expect_status(200)
            .json();
        all.extend(page["entries"].as_array().cloned().unwrap_or_default());
        match page["next"].as_i64() {
            Some(n) => before = Some(n),
            None => return all,
        }
    }
}

fn find<'a>(log: &'a [Value], action: &str) -> Vec<&'a Value> {
    log.iter().filter(|e| e["action"] == action).collect()
}

/// The one entry for `action`, with its actor and the client address checked.
fn entry<'a>(log: &'a [Value], action: &str, actor: &str) -> &'a Value {
    let found = find(log, action);
    let e = found
        .iter()
        .find(|e| e["actor"] == actor)
        .unwrap_or_else(|| panic!("no `{action}` entry by {actor} in {log:#?}"));
    assert_eq!(e["address"], "127.0.0.1", "the client address of {e:#}");
    assert!(
        e["at"]
            .as_str()
            .is_some_and(|t| t.parse::<jiff::Timestamp>().is_ok()),
        "a time: {e:#}"
    );
    e
}

#[test]
fn x_actor_cannot_forge_the_actor_and_key_names_are_the_actors() {
    let server = start_named();
    let id = submit(&server, "forged@forge-co.com");
    server
        .post(&format!("/v1/leads/{id}/reassign"))
        .bearer(NAMED_ADMIN)
        .header("X-Actor", "console:jane")
        .json(&json!({"rep": "cara.cole", "note": "as jane"}))
        .send()
        .expect_status(200);
    server
        .post(&format!("/v1/leads/{id}/accept"))
        .bearer(NAMED_ADMIN)
        .header("X-Actor", "console:jane")
        .send()
        .expect_status(200);
    let lead = server
        .get(&format!("/v1/leads/{id}"))
        .bearer(NAMED_ADMIN)
        .send()
        .expect_status(200)
        .json();
    let manual = &lead["history"][1];
    assert_eq!(manual["kind"], "manual", "{lead:#}");
    assert_eq!(
        manual["actor"], "key:ops-bot",
        "X-Actor is ignored: {lead:#}"
    );
    assert!(!lead.to_string().contains("console:jane"), "{lead:#}");

    let log = audit_log(&server, NAMED_ADMIN, "");
    let reassign = entry(&log, "lead.reassign", "key:ops-bot");
    assert_eq!(reassign["lead_id"], id.as_str());
    assert_eq!(reassign["detail"]["rep"], "cara.cole");
    entry(&log, "lead.accept", "key:ops-bot");
    assert!(
        !log.iter().any(|e| e["actor"] == "console:jane"),
        "no forged actor anywhere: {log:#?}"
    );
    // Intake by a named key is summarised as key use.
    wait_for_key_use(&server, "key:website");
}

/// Key use is written in the background (the request does not wait for it): wait up to
/// 15 s for `actor`'s entry, then check it like any other.
fn wait_for_key_use(server: &Server, actor: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let log = audit_log(server, NAMED_ADMIN, "&action=key.use");
        if find(&log, "key.use").iter().any(|e| e["actor"] == actor)
            || std::time::Instant::now() > deadline
        {
            entry(&log, "key.use", actor);
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_plain_key_gets_a_derived_name() {
    let server = Server::start(e2e());
    let d = server.submit(&pool_lead("plain@plain-co.com"));
    let id = d["lead_id"].as_str().unwrap();
    server
        .post(&format!("/v1/leads/{id}/disqualify"))
        .admin()
        .header("X-Actor", "someone-else")
        .json(&json!({"reason": "test"}))
        .send()
        .expect_status(200);
    let log = audit_log(&server, support::ADMIN_KEY, "&action=lead.disqualify");
    assert_eq!(log.len(), 1, "{log:#?}");
    let actor = log[0]["actor"].as_str().unwrap();
    let name = actor
        .strip_prefix("key:")
        .unwrap_or_else(|| panic!("{actor}"));
    assert!(
        name.len() == 6 && name.bytes().all(|b| b.is_ascii_hexdigit()),
        "a plain key is named by 6 hex digits of its SHA-256, not the key: {actor}"
    );
    assert!(!support::ADMIN_KEY.contains(name));
}

fn form(pairs: &[(&str, &str)]) -> String {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (k, v) in pairs {
        s.append_pair(k, v);
    }
    s.finish()
}

/// `name=value` of the cookie `name` a response sets.
fn set_cookie(r: &Resp<'_>, name: &str) -> String {
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with(&format!("{name}=")))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| panic!("no {name} cookie in {:?}", r.headers))
        .to_string()
}

/// The value of the first hidden `csrf` field on a page.
fn csrf_of(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
    html[at..].split('"').next().unwrap().to_string()
}

/// Log in to the console; `Ok(session cookie)` on a 303, `Err(status)` otherwise.
fn console_login(server: &Server, user: &str, password: &str) -> Result<String, u16> {
    let page = server.get("/console/login").send().expect_status(200);
    let login_cookie = set_cookie(&page, "lr_console_login");
    let r = server
        .post("/console/login")
        .header("cookie", &login_cookie)
        .body(
            "application/x-www-form-urlencoded",
            form(&[
                ("username", user),
                ("password", password),
                ("csrf", &csrf_of(&page.text)),
            ]),
        )
        .send();
    if r.status == 303 {
        Ok(set_cookie(&r, "lr_console"))
    } else {
        Err(r.status)
    }
}

fn demo_password(server: &Server) -> String {
    server.demo_password()
}

#[test]
fn every_state_changing_action_leaves_an_audit_row_with_actor_and_address() {
    let server = start_named();
    let a = submit(&server, "one@audit-co.com");
    let b = submit(&server, "two@audit-co.com");
    let admin = |m: Method, path: &str, body: Option<Value>| {
        let mut c = server.call(m, path).bearer(NAMED_ADMIN);
        if let Some(b) = body {
            c = c.json(&b);
        }
        c.send().expect_status(200)
    };
    admin(
        Method::POST,
        &format!("/v1/leads/{a}/disqualify"),
        Some(json!({"reason": "no budget"})),
    );
    admin(
        Method::POST,
        &format!("/v1/leads/{b}/outcome"),
        Some(json!({"outcome": "opportunity"})),
    );
    admin(Method::POST, &format!("/v1/leads/{b}/contacted"), None);
    admin(
        Method::PUT,
        "/v1/reps/ben.baker/availability",
        Some(json!({"out_of_office": true, "note": "holiday"})),
    );
    admin(Method::POST, "/v1/admin/reload", None);
    server
        .post("/v1/imports")
        .bearer(NAMED_ADMIN)
        .header("X-Import-Id", "audit-import-1")
        .body("text/csv", "email,company\nthree@audit-co.com,Audit Co\n")
        .send()
        .expect_status(200);

    // The console: a failed login, a login, an out-of-office toggle, a logout.
    assert_eq!(console_login(&server, "admin", "wrong-password"), Err(401));
    let session = console_login(&server, "admin", &demo_password(&server)).expect("logged in");
    let reps = server
        .get("/console/reps")
        .header("cookie", &session)
        .send()
        .expect_status(200);
    let csrf = csrf_of(&reps.text);
    server
        .post("/console/reps/ann.archer/availability")
        .header("cookie", &session)
        .body(
            "application/x-www-form-urlencoded",
            form(&[("out", "1"), ("csrf", &csrf)]),
        )
        .send()
        .expect_status(303);
    // The console's audit page lists what happened, for staff.
    let page = server
        .get("/console/audit?action=rep.availability")
        .header("cookie", &session)
        .send()
        .expect_status(200);
    assert!(
        page.text.contains("console:admin") && page.text.contains("key:ops-bot"),
        "{}",
        page.text
    );
    assert!(
        !page.text.contains("lead.disqualify"),
        "filtered by action: {}",
        page.text
    );
    server
        .post("/console/logout")
        .header("cookie", &session)
        .body(
            "application/x-www-form-urlencoded",
            form(&[("csrf", &csrf)]),
        )
        .send()
        .expect_status(303);

    let log = audit_log(&server, NAMED_ADMIN, "");
    let bot = "key:ops-bot";
    assert_eq!(entry(&log, "lead.disqualify", bot)["lead_id"], a.as_str());
    assert_eq!(
        entry(&log, "lead.outcome", bot)["detail"]["outcome"],
        "opportunity"
    );
    assert_eq!(entry(&log, "lead.contacted", bot)["lead_id"], b.as_str());
    let ooo = entry(&log, "rep.availability", bot);
    assert_eq!(
        (&ooo["subject"], &ooo["detail"]["out_of_office"]),
        (&json!("ben.baker"), &json!(true))
    );
    assert_eq!(
        entry(&log, "config.reload", bot)["detail"]["reloaded"],
        true
    );
    // An import is a background job: the audit row records the upload (who, which
    // import, its job); each row's outcome is on the job and in the lead's history.
    let import = entry(&log, "import", bot);
    assert_eq!(import["subject"], json!("audit-import-1"));
    assert!(import["detail"]["job"].is_string(), "{import}");
    assert_eq!(
        entry(&log, "console.login_failed", "anonymous")["subject"],
        "admin"
    );
    entry(&log, "console.login", "console:admin");
    assert_eq!(
        entry(&log, "rep.availability", "console:admin")["subject"],
        "ann.archer"
    );
    entry(&log, "console.logout", "console:admin");
    wait_for_key_use(&server, "key:website");
    wait_for_key_use(&server, bot);
    let log = audit_log(&server, NAMED_ADMIN, "");
    // Key use is summarised: one entry per key and address however many calls.
    assert_eq!(
        find(&log, "key.use")
            .iter()
            .filter(|e| e["actor"] == bot)
            .count(),
        1,
        "{log:#?}"
    );
}

#[test]
fn audit_api_filters_and_pages_by_keyset() {
    let server = start_named();
    let ids: Vec<String> = (0..3)
        .map(|i| submit(&server, &format!("p{i}@pages-co.com")))
        .collect();
    for id in &ids {
        server
            .post(&format!("/v1/leads/{id}/accept"))
            .bearer(NAMED_ADMIN)
            .send()
            .expect_status(200);
    }
    let first = server
        .get("/v1/audit?action=lead.accept&limit=2")
        .bearer(NAMED_ADMIN)
        .send()
        .expect_status(200)
        .json();
    let page1 = first["entries"].as_array().unwrap();
    assert_eq!(page1.len(), 2, "{first:#}");
    assert_eq!(
        page1[0]["lead_id"],
        ids[2].as_str(),
        "newest first: {first:#}"
    );
    let next = first["next"].as_i64().expect("a next cursor");
    let second = server
        .get(&format!(
            "/v1/audit?action=lead.accept&limit=2&before={next}"
        ))
        .bearer(NAMED_ADMIN)
        .send()
        .expect_status(200)
        .json();
    assert_eq!(second["entries"].as_array().unwrap().len(), 1, "{second:#}");
    assert_eq!(second["entries"][0]["lead_id"], ids[0].as_str());
    assert_eq!(second["next"], Value::Null);

    let by_lead = audit_log(&server, NAMED_ADMIN, &format!("&lead={}", ids[1]));
    assert_eq!(by_lead.len(), 1, "{by_lead:#?}");
    wait_for_key_use(&server, "key:website");
    assert_eq!(
        audit_log(&server, NAMED_ADMIN, "&actor=key:website&action=key.use").len(),
        1
    );
    assert!(audit_log(&server, NAMED_ADMIN, "&actor=console:nobody").is_empty());
    assert!(audit_log(&server, NAMED_ADMIN, "&to=2000-01-01T00:00:00Z").is_empty());
    assert_eq!(
        audit_log(
            &server,
            NAMED_ADMIN,
            "&action=lead.accept&from=2000-01-01T00:00:00Z"
        )
        .len(),
        3
    );
    let bad = server
        .get("/v1/audit?from=yesterday")
        .bearer(NAMED_ADMIN)
        .send()
        .expect_status(422);
    assert_eq!(bad.json()["errors"][0]["field"], "from");
}

#[test]
fn bearer_scheme_in_any_case() {
    let server = start_named();
    for scheme in ["Bearer", "bearer", "BEARER", "bEaReR"] {
        server
            .get("/v1/outbox/dead")
            .header("Authorization", &format!("{scheme} {NAMED_ADMIN}"))
            .send()
            .expect_status(200);
    }
    server
        .get("/v1/outbox/dead")
        .header("Authorization", &format!("Basic {NAMED_ADMIN}"))
        .send()
        .expect_status(401);
}

#[test]
fn intake_keys_on_admin_routes_get_403() {
    let server = Server::start(e2e());
    let id = server.submit(&pool_lead("routes@routes-co.com"))["lead_id"]
        .as_str()
        .unwrap()
        .to_string();
    let routes = [
        (Method::GET, format!("/v1/leads/{id}")),
        (Method::POST, format!("/v1/leads/{id}/disqualify")),
        (Method::POST, format!("/v1/leads/{id}/accept")),
        (Method::PUT, "/v1/reps/ann.archer/availability".into()),
        (Method::GET, "/v1/outbox/dead".into()),
        (Method::POST, "/v1/admin/reload".into()),
        (Method::GET, "/v1/audit".into()),
        (Method::GET, "/metrics".into()),
        (Method::GET, "/v1/reports/weekly".into()),
        (Method::POST, "/v1/reports/weekly/send".into()),
    ];
    for (m, path) in routes {
        let r = server.call(m.clone(), &path).bearer(INTAKE_KEY).send();
        r.check(
            r.status == 403,
            &format!("{m} {path} with an intake key is 403"),
        );
        assert_eq!(r.json()["error"], "forbidden", "{}", r.text);
        server.call(m.clone(), &path).send().expect_status(401);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_timers_and_report_sends_are_audited() {
    use support::notify::*;
    let rx = Receivers::start().await;
    let svc = Service::start(&rx).await;
    let d = svc
        .submit(&hot_lead(
            "Jane",
            "Doe",
            "Acme Robotics",
            "jane.doe@acme-robotics.com",
        ))
        .await;
    svc.check(owner_id(&d).is_some(), || format!("assigned: {d}"));
    let sent = svc
        .admin(Method::POST, "/v1/reports/weekly/send", None, 202)
        .await;
    svc.advance("3h").await;
    let log = leadrouter_testsupport::eventually(
        std::time::Duration::from_secs(20),
        || "an sla.fire audit entry".into(),
        || async {
            let v = svc
                .admin(Method::GET, "/v1/audit?action=sla.fire", None, 200)
                .await;
            let e = v["entries"].as_array().cloned().unwrap_or_default();
            (!e.is_empty()).then_some(e)
        },
    )
    .await;
    assert!(
        log.iter()
            .all(|e| e["actor"] == "sla" && e["address"].is_null()),
        "{log:#?}"
    );
    let v = svc
        .admin(Method::GET, "/v1/audit?action=report.send", None, 200)
        .await;
    let e = &v["entries"][0];
    assert!(
        e["actor"].as_str().is_some_and(|a| a.starts_with("key:")),
        "{v:#}"
    );
    assert_eq!(e["subject"], sent["week"], "{v:#}");
    assert_eq!(e["address"], "127.0.0.1", "{v:#}");
}

use support::console::console_hash;

#[test]
fn the_console_audit_page_is_for_staff_only() {
    let hash = console_hash("rep-password-1");
    let server = Server::start(e2e().env(
        "LEADROUTER_CONSOLE_USERS",
        format!("ann.archer:rep:{hash};boss:admin:{hash}"),
    ));
    let rep = console_login(&server, "ann.archer", "rep-password-1").expect("rep logs in");
    server
        .get("/console/audit")
        .header("cookie", &rep)
        .send()
        .expect_status(403);
    let boss = console_login(&server, "boss", "rep-password-1").expect("admin logs in");
    let page = server
        .get("/console/audit?actor=console:ann.archer")
        .header("cookie", &boss)
        .send()
        .expect_status(200);
    assert!(page.text.contains("console.login"), "{}", page.text);
    assert!(
        !page.text.contains("console:boss"),
        "filtered by actor: {}",
        page.text
    );
    server.get("/console/audit").send().expect_status(303);
}
