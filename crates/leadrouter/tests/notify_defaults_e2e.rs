//! Notifications without traps (issue 23), through the real binary: the default "Open
//! record" link opens the console's lead page; an escalation with no channel says it was
//! only recorded (and `check` warns); prospects get no confirmation email until the admin
//! names the actions.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::time::Duration;
use support::notify::*;
use support::{Clock, Server, cli, e2e, e2e_config};

const WAIT: Duration = Duration::from_secs(20);

fn lead_id(d: &Value) -> String {
    d["lead_id"].as_str().expect("lead_id").to_string()
}

/// The reasons of a lead's history entries of `kind`.
fn reasons(lead: &Value, kind: &str) -> Vec<String> {
    lead["history"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|h| h["kind"] == kind)
        .filter_map(|h| h["reason"].as_str().map(str::to_string))
        .collect()
}

/// The demo admin's console session cookie (`lr_console=…`), logged in as a browser does.
async fn console_login(server: &Server) -> String {
    let password = server.demo_password();
    let page = server
        .get("/console/login")
        .send_async()
        .await
        .expect_status(200);
    let cookie = page
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find_map(|c| c.strip_prefix("lr_console_login="))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| page.fail("no lr_console_login cookie"))
        .to_string();
    let csrf = page
        .text
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|s| s.split('"').next())
        .unwrap_or_else(|| page.fail("no csrf field"))
        .to_string();
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs([
            ("csrf", csrf.as_str()),
            ("username", "admin"),
            ("password", &password),
        ])
        .finish();
    let r = server
        .post("/console/login")
        .header("cookie", &format!("lr_console_login={cookie}"))
        .body("application/x-www-form-urlencoded", body)
        .send_async()
        .await
        .expect_status(303);
    r.headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("lr_console=") && !c.starts_with("lr_console=;"))
        .and_then(|c| c.split(';').next())
        .unwrap_or_else(|| r.fail("no lr_console session cookie"))
        .to_string()
}

/// With `[notify]` and no `record_path`, the "Open the record" link of a rep
/// notification is the console's lead page under `base_url`: a login redirect before
/// logging in, the lead's page after — never a 404. An escalation that is sent says
/// where it went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_default_open_record_link_opens_the_console_lead_page() {
    let rx = Receivers::start().await;
    let config = rx.config_text();
    assert!(
        !config.contains("record_path"),
        "the fixture keeps the default"
    );
    let svc = Service::start(&rx).await;
    let d = svc
        .submit(&hot_lead(
            "Rita",
            "Record",
            "Record Labs",
            "rita@record-labs.com",
        ))
        .await;
    let id = lead_id(&d);
    let mail = rx
        .smtp
        .wait_for("the rep notification", |m| {
            m.subject().contains("Rita Record")
        })
        .await;
    let body = mail.body();
    let line = body
        .lines()
        .find(|l| l.starts_with("Open the record:"))
        .unwrap_or_else(|| panic!("no record link in:\n{body}"));
    let url = line["Open the record:".len()..].trim();
    let path = url
        .strip_prefix(BASE_URL)
        .unwrap_or_else(|| panic!("{url} is not under base_url {BASE_URL}"));
    assert_eq!(path, format!("/console/leads/{id}"), "{body}");

    let server = &svc.server;
    let anonymous = server.get(path).send_async().await;
    anonymous.check(
        anonymous.status == 303 && anonymous.header("location") == Some("/console/login"),
        "before logging in, the link leads to the login page",
    );
    let session = console_login(server).await;
    let page = server
        .get(path)
        .header("cookie", &session)
        .send_async()
        .await
        .expect_status(200);
    page.check(page.text.contains("Rita"), "the lead's page shows the lead");

    // The escalation at 1x the hot SLA is sent, and its history says where.
    svc.advance("10m").await;
    let lead = svc
        .wait_lead(&id, WAIT, "sla_manager_alert", |l| {
            count_kind(l, "sla_manager_alert") == 1
        })
        .await;
    let r = reasons(&lead, "sla_manager_alert").join("\n");
    assert!(
        r.contains("escalated to manager")
            && r.contains("alert queued: ")
            && r.contains("email to "),
        "{r}"
    );
}

/// Without `[notify]`, an SLA miss is recorded in the lead's history as an escalation
/// with "no alert was sent", never as "alerted"; `check` warns about it beforehand.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_escalation_without_a_channel_says_it_was_only_recorded() {
    let cfg = e2e_config();
    let text = std::fs::read_to_string(&cfg).unwrap();
    assert!(
        !text.contains("[notify]"),
        "the e2e fixture has no [notify]"
    );
    let checked = cli(&["check", &cfg.display().to_string()]).expect_code(0);
    checked.check(
        checked.stdout.contains("warning[escalation-no-channel]")
            && checked.stdout.contains("nobody is told"),
        "check warns that escalations reach nobody",
    );

    let server = Server::start_async(e2e().clock(Clock::Test)).await;
    let d = server
        .post("/v1/leads")
        .intake()
        .json(&json!({
            "first_name": "Nora", "last_name": "Nobody", "email": "nora@quiet-co.com",
            "company": "Quiet Co", "employees": 2000, "industry": "software",
            "country": "US", "action": "demo_request"
        }))
        .send_async()
        .await
        .expect_status(201)
        .json();
    let id = lead_id(&d);
    assert_eq!(d["tier"], "hot", "{d:#}");
    server
        .post("/v1/admin/clock")
        .admin()
        .json(&json!({ "advance": "10m" }))
        .send_async()
        .await
        .expect_status(200);
    let lead = eventually(
        WAIT,
        || format!("lead {id} gets its sla_manager_alert\n{}", server.logs()),
        || async {
            let l = server
                .call(Method::GET, &format!("/v1/leads/{id}"))
                .admin()
                .send_async()
                .await
                .expect_status(200)
                .json();
            (count_kind(&l, "sla_manager_alert") == 1).then_some(l)
        },
    )
    .await;
    let r = reasons(&lead, "sla_manager_alert").join("\n");
    assert!(
        r.contains("escalated to manager mgr")
            && r.contains("escalation recorded; no alert was sent: no alert channel is set up")
            && !r.contains("alerted"),
        "{r}"
    );
    assert!(messages(&lead).is_empty(), "nothing was queued: {lead:#}");
}

/// Email on for reps mails no prospect until `lead_confirmation` names the action.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prospects_get_no_confirmation_until_the_action_is_turned_on() {
    let rx = Receivers::start().await;
    let base = rx.config_text();
    assert!(base.contains("lead_confirmation = true\n"));
    for (setting, expect) in [
        ("", false),
        ("lead_confirmation = [\"trial_signup\"]\n", false),
        ("lead_confirmation = [\"demo_request\"]\n", true),
    ] {
        let svc =
            Service::start_with(&rx, base.replace("lead_confirmation = true\n", setting)).await;
        let email = format!("pat{}@confirm-co.com", setting.len());
        let d = svc
            .submit(&hot_lead("Pat", "Prospect", "Confirm Co", &email))
            .await;
        let id = lead_id(&d);
        let lead = svc
            .wait_lead(&id, WAIT, "the rep notification is queued", |l| {
                !messages_of(l, "rep_notification").is_empty()
            })
            .await;
        assert_eq!(
            !messages_of(&lead, "lead_confirmation").is_empty(),
            expect,
            "with {setting:?}: {:#}",
            lead["messages"]
        );
    }
}
