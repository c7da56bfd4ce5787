//! Issue 5 end to end: notifications, the outbox and the SLA clock, through the real
//! `leadrouter serve` binary (SQLite in a temporary directory) and real local receivers:
//! an SMTP server (mailin-embedded) and HTTP receivers for Slack, the Twilio-compatible
//! SMS API and a signed CRM webhook, all on 127.0.0.1 in the test process.
//!
//! The server runs with `LEADROUTER_TEST_CLOCK=1`, so SLA ladders, queue ages, retry
//! backoffs and claim leases are walked with `POST /v1/admin/clock` instead of waiting.
//! Config: `tests/fixtures/notify.toml` (three reps round robin, a manager, leadership;
//! hot SLA 10 min, standard 20 min).
//!
//! The last three tests pin down server bugs found while writing these and fail until
//! they are fixed: `slow_receiver_does_not_hold_up_other_deliveries` (the delivery worker
//! waits for a whole batch), `outbox_rows_name_their_channel` (`type:slack`, `name:crm`
//! channel labels) and `accept_link_of_a_previous_owner_does_not_accept_for_the_new_owner`
//! (links are not bound to the owner). The other tests match a message's channel loosely
//! (`support::notify::on_channel`) so they do not depend on the label fix.

mod support;

use reqwest::Method;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};
use support::notify::*;

const WAIT: Duration = Duration::from_secs(15);

fn lead_id(d: &Value) -> String {
    d["lead_id"].as_str().expect("lead_id").to_string()
}

/// The one message of `kind` on `channel`.
fn message(lead: &Value, kind: &str, channel: &str) -> Value {
    let found: Vec<Value> = messages_of(lead, kind)
        .into_iter()
        .filter(|m| on_channel(m, channel))
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {kind} message on {channel}: {:#}",
        lead["messages"]
    );
    found[0].clone()
}

fn str_of(v: &Value) -> &str {
    v.as_str().unwrap_or_default()
}

/// The path (`/l/…`) of the link on the line starting with `label` in a notification body.
fn link_path(body: &str, label: &str) -> String {
    let line = body
        .lines()
        .find(|l| l.starts_with(label))
        .unwrap_or_else(|| panic!("no line `{label}` in:\n{body}"));
    let url = line[label.len()..].trim();
    url.strip_prefix(BASE_URL)
        .unwrap_or_else(|| panic!("{url} does not start with {BASE_URL}"))
        .to_string()
}

fn assert_contains(haystack: &str, needle: &str, what: &str) {
    assert!(
        haystack.contains(needle),
        "{what}: expected to find {needle:?} in:\n{haystack}"
    );
}

fn webhook_type(h: &Hit) -> String {
    str_of(&h.json()["type"]).to_string()
}

/// Webhook requests about one lead.
fn hooks_for(hits: &[Hit], lead: &str) -> Vec<Hit> {
    hits.iter()
        .filter(|h| h.json()["data"]["lead_id"] == lead)
        .cloned()
        .collect()
}

// ---------------------------------------------------------------------------------------
// 1. SMTP: the rep notification and the lead's confirmation (NTF-2, NTF-3)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn smtp_rep_notification_and_lead_confirmation() {
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
    let id = lead_id(&d);
    assert_eq!(owner_id(&d).as_deref(), Some("ann"), "{d:#}");
    assert_eq!(d["tier"], "hot", "{d:#}");
    let reason = str_of(&d["reason"]).to_string();
    assert!(!reason.is_empty(), "{d:#}");

    // The rep notification, by email to Ann.
    let mail = rx
        .smtp
        .wait_for("to ann (rep notification)", |m| {
            m.is_to("ann@notify-test.example")
        })
        .await;
    let subject = mail.subject();
    assert_eq!(
        subject, "[Tier 1 (hot)] New lead: Jane Doe, Acme Robotics (demo request)",
        "{}",
        mail.data
    );
    assert_eq!(mail.from, "sales@notify-test.example", "envelope sender");
    let body = mail.body();
    for (needle, what) in [
        ("A new Tier 1 (hot) lead is yours, Ann.", "greeting"),
        ("Lead:      Jane Doe, VP Operations", "lead name and title"),
        ("Company:   Acme Robotics", "company"),
        ("Size:      1,200 employees", "enriched size"),
        ("Action:    demo request", "action"),
        ("Score:     90 · Tier 1 (hot)", "score and tier"),
        ("Email:     jane.doe@acme-robotics.com", "lead email"),
        ("Phone:     +14155550123", "Tier 1: phone"),
        ("LinkedIn:", "Tier 1: LinkedIn line"),
        ("Contact within 10 min", "SLA"),
        ("Why it matched:", "reasons header"),
        (reason.as_str(), "the decision's reason"),
        ("score 90 (", "score breakdown from the trace"),
        (
            &format!("Open the record:  {BASE_URL}/console/leads/{id}"),
            "record link",
        ),
        (&format!("Accept the lead:  {BASE_URL}/l/"), "accept link"),
        (
            &format!("Mark contacted:   {BASE_URL}/l/"),
            "contacted link",
        ),
    ] {
        assert_contains(&body, needle, what);
    }
    let industry = body
        .lines()
        .find(|l| l.starts_with("Industry:"))
        .unwrap_or_default();
    assert!(
        industry.to_ascii_lowercase().contains("software"),
        "industry line: {industry:?}\n{body}"
    );

    // Headers: idempotency key as Message-ID, lead id, no auto-replies.
    let lead = svc
        .wait_lead(&id, WAIT, "every message delivered", all_delivered)
        .await;
    let rep_email = message(&lead, "rep_notification", "email");
    assert_eq!(
        mail.header("Message-ID").as_deref(),
        Some(format!("<lr.{}@notify-test.example>", str_of(&rep_email["id"])).as_str()),
        "{}",
        mail.data
    );
    assert_eq!(
        mail.header("X-LeadRouter-Lead").as_deref(),
        Some(id.as_str())
    );
    assert_eq!(
        mail.header("Auto-Submitted").as_deref(),
        Some("auto-generated")
    );

    // The links in the email work: the accept page answers (GET does not act).
    let accept = link_path(&body, "Accept the lead:");
    let (status, page) = svc.page(Method::GET, &accept).await;
    assert_eq!(status, 200, "{page}");
    assert_contains(&page, "Accept this lead", "accept page");
    let contacted = link_path(&body, "Mark contacted:");
    let (status, page) = svc.page(Method::GET, &contacted).await;
    assert_eq!(status, 200, "{page}");
    assert_contains(&page, "Record first contact", "contacted page");
    assert_eq!(svc.lead(&id).await["accepted_at"], Value::Null);

    // The confirmation to the lead, written as from Ann, with her booking link.
    let conf = rx
        .smtp
        .wait_for("to the lead (confirmation)", |m| {
            m.is_to("jane.doe@acme-robotics.com")
        })
        .await;
    assert_eq!(conf.subject(), "Your demo request", "{}", conf.data);
    assert_eq!(
        conf.header("From").as_deref(),
        Some("\"Ann Archer\" <sales@notify-test.example>"),
        "{}",
        conf.data
    );
    assert_eq!(
        conf.header("Reply-To").as_deref(),
        Some("\"Ann Archer\" <ann@notify-test.example>"),
        "{}",
        conf.data
    );
    let cbody = conf.body();
    for (needle, what) in [
        ("Hi Jane,", "salutation"),
        ("I'm Ann Archer", "written as the rep"),
        (
            "https://cal.notify-test.example/ann",
            "the rep's booking link",
        ),
        ("Account Executive, Notify Test Co", "the rep's signature"),
    ] {
        assert_contains(&cbody, needle, what);
    }
    assert!(
        !cbody.contains("/l/"),
        "the lead must never get the rep's action links:\n{cbody}"
    );
    let confirmation = message(&lead, "lead_confirmation", "email");
    assert_eq!(confirmation["recipient"], "jane.doe@acme-robotics.com");

    // A trial signup (standard tier: email only) gets the onboarding link from Ben.
    let d2 = svc
        .submit(&json!({
            "first_name": "Tom", "last_name": "Trial", "email": "tom@trial-software.com",
            "company": "Trial Software", "employees": 1200, "industry": "Software",
            "action": "trial_signup",
        }))
        .await;
    assert_eq!(owner_id(&d2).as_deref(), Some("ben"), "{d2:#}");
    assert_eq!(d2["tier"], "standard", "{d2:#}");
    let trial = rx
        .smtp
        .wait_for("to tom (trial confirmation)", |m| {
            m.is_to("tom@trial-software.com")
        })
        .await;
    assert_eq!(trial.subject(), "Welcome to your trial", "{}", trial.data);
    assert_contains(
        &trial.body(),
        "https://app.notify-test.example/welcome",
        "onboarding link",
    );
    let ben = rx
        .smtp
        .wait_for("to ben (rep notification)", |m| {
            m.is_to("ben@notify-test.example")
        })
        .await;
    assert!(ben.subject().starts_with("[Tier 3"), "{}", ben.subject());
    assert!(
        !ben.body().contains("Phone:"),
        "phone is for Tier 1 only:\n{}",
        ben.body()
    );
}

// ---------------------------------------------------------------------------------------
// 2. Slack Block Kit, SMS form + basic auth, signed webhooks (NTF-1, NTF-2, NTF-4)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slack_sms_webhook_payloads_and_signatures() {
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
    let id = lead_id(&d);
    let lead = svc
        .wait_lead(&id, WAIT, "every message delivered", all_delivered)
        .await;

    // Slack: Block Kit within its limits, the rep mentioned, buttons with the links.
    let slack = rx
        .slack
        .wait(WAIT, "one Slack message", |h| !h.is_empty())
        .await;
    assert_eq!(slack.len(), 1);
    let s = &slack[0];
    assert_eq!(s.path, "/slack/default");
    assert_eq!(s.header("content-type"), Some("application/json"));
    let p = s.json();
    assert_eq!(
        p["text"], "Tier 1 (hot) lead for Ann Archer: Jane Doe, Acme Robotics (demo request)",
        "{p:#}"
    );
    assert_eq!(
        p["unfurl_links"], false,
        "signed links must not be unfurled"
    );
    assert_eq!(p["unfurl_media"], false);
    let blocks = p["blocks"].as_array().expect("blocks");
    assert!(!blocks.is_empty() && blocks.len() <= 50, "{p:#}");
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    let header = str_of(&blocks[0]["text"]["text"]);
    assert_eq!(header, "Tier 1 (hot) lead: Jane Doe, Acme Robotics");
    assert!(header.chars().count() <= 150);
    let all_text = p.to_string();
    assert_contains(&all_text, "<@U0ANN00001>", "the rep mentioned by member id");
    let fields: Vec<&str> = blocks
        .iter()
        .filter_map(|b| b["fields"].as_array())
        .flatten()
        .map(|f| str_of(&f["text"]))
        .collect();
    assert!(fields.len() <= 10, "{fields:?}");
    for f in [
        "*Company*\nAcme Robotics",
        "*Size*\n1,200 employees",
        "*Action*\ndemo request",
        "*Score / tier*\n90 · Tier 1 (hot)",
        "*Phone*\n+14155550123",
    ] {
        assert!(fields.contains(&f), "field {f:?} missing: {fields:?}");
    }
    for b in blocks.iter().filter(|b| b["type"] == "section") {
        if let Some(t) = b["text"]["text"].as_str() {
            assert!(t.chars().count() <= 3000);
        }
    }
    let why = blocks
        .iter()
        .filter_map(|b| b["text"]["text"].as_str())
        .find(|t| t.starts_with("*Why it matched*"))
        .unwrap_or_else(|| panic!("no 'Why it matched' section: {p:#}"));
    assert_contains(why, str_of(&d["reason"]), "reason");
    let actions = blocks
        .iter()
        .find(|b| b["type"] == "actions")
        .unwrap_or_else(|| panic!("no actions block: {p:#}"));
    let buttons: BTreeMap<&str, &str> = actions["elements"]
        .as_array()
        .expect("elements")
        .iter()
        .map(|e| {
            assert_eq!(e["type"], "button");
            assert!(e["text"]["text"].as_str().unwrap().chars().count() <= 75);
            (str_of(&e["action_id"]), str_of(&e["url"]))
        })
        .collect();
    assert_eq!(
        buttons.keys().copied().collect::<Vec<_>>(),
        ["accept", "contacted", "open_record"]
    );
    assert_eq!(
        buttons["open_record"],
        format!("{BASE_URL}/console/leads/{id}")
    );
    assert!(buttons["accept"].starts_with(&format!("{BASE_URL}/l/")));
    assert!(buttons["contacted"].starts_with(&format!("{BASE_URL}/l/")));
    assert_ne!(buttons["accept"], buttons["contacted"]);

    // SMS: Twilio-compatible form, basic auth, to the rep's phone, idempotency key.
    let sms = rx.sms.wait(WAIT, "one SMS", |h| !h.is_empty()).await;
    assert_eq!(sms.len(), 1);
    let m = &sms[0];
    assert_eq!(m.method, "POST");
    assert_eq!(
        m.path,
        format!("/2010-04-01/Accounts/{TWILIO_SID}/Messages.json"),
        "{{account}} replaced by the account SID"
    );
    assert_eq!(
        m.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    use base64::Engine as _;
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("{TWILIO_SID}:{TWILIO_TOKEN}"));
    assert_eq!(
        m.header("authorization"),
        Some(format!("Basic {basic}").as_str())
    );
    let form = m.form();
    assert_eq!(form.get("To").map(String::as_str), Some("+15005550101"));
    assert_eq!(form.get("From").map(String::as_str), Some("+15005550006"));
    let sms_body = form.get("Body").cloned().unwrap_or_default();
    for needle in [
        "Tier 1 (hot) lead: Jane Doe, Acme Robotics (1,200 employees), demo request.",
        "Call +14155550123",
        &format!("Accept: {BASE_URL}/l/"),
    ] {
        assert_contains(&sms_body, needle, "SMS body");
    }
    assert!(sms_body.chars().count() <= 1600);
    let sms_row = message(&lead, "rep_notification", "sms");
    assert_eq!(m.header("idempotency-key"), Some(str_of(&sms_row["id"])));

    // Webhook: Standard Webhooks headers; the signature verifies with the shared secret.
    let hooks = rx
        .hooks()
        .wait(WAIT, "one webhook", |h| !h.is_empty())
        .await;
    assert_eq!(hooks.len(), 1);
    let h = &hooks[0];
    assert_eq!(h.path, "/hooks/crm");
    let hook_row = message(&lead, "webhook", "crm");
    let (wid, wts, wsig) = (
        h.header("webhook-id").expect("webhook-id"),
        h.header("webhook-timestamp").expect("webhook-timestamp"),
        h.header("webhook-signature").expect("webhook-signature"),
    );
    assert_eq!(wid, str_of(&hook_row["id"]), "webhook-id = outbox key");
    assert!(wsig.starts_with("v1,"), "{wsig}");
    leadrouter_notify::verify_signature(WEBHOOK_SECRET, wid, wts, &h.body, wsig)
        .expect("the webhook signature verifies");
    leadrouter_notify::verify_signature_at(
        WEBHOOK_SECRET,
        wid,
        wts,
        &h.body,
        wsig,
        jiff::Timestamp::now(),
        Duration::from_secs(300),
    )
    .expect("the webhook timestamp is current");
    assert!(
        leadrouter_notify::verify_signature(
            "whsec_c29tZSBvdGhlciBzZWNyZXQga2V5IDAxMjM0NQ==",
            wid,
            wts,
            &h.body,
            wsig
        )
        .is_err(),
        "another secret must not verify"
    );
    let mut tampered = h.body.clone();
    tampered.extend_from_slice(b" ");
    assert!(
        leadrouter_notify::verify_signature(WEBHOOK_SECRET, wid, wts, &tampered, wsig).is_err(),
        "a changed body must not verify"
    );
    let ev = h.json();
    assert_eq!(ev["type"], "lead.assigned", "{ev:#}");
    assert_eq!(ev["data"]["lead_id"], id.as_str());
    assert_eq!(ev["data"]["owner"]["id"], "ann");
    assert_eq!(ev["data"]["owner"]["email"], "ann@notify-test.example");
    assert_eq!(ev["data"]["tier"], "hot");
    assert_eq!(ev["data"]["score"], 90);
    assert_eq!(ev["data"]["firmographics"]["employees"], 1200);
    assert_eq!(
        ev["data"]["record_url"],
        format!("{BASE_URL}/console/leads/{id}")
    );
    assert!(
        !h.text().contains("/l/"),
        "signed action links are credentials and never go to webhooks: {}",
        h.text()
    );

    // A warm lead (high intent, outside the ICP): Slack and email, no SMS.
    let warm = svc
        .submit(&json!({
            "first_name": "Walt", "last_name": "Warm", "email": "walt@warm-retail.com",
            "company": "Warm Retail", "employees": 1200, "industry": "Retail",
            "action": "demo_request",
        }))
        .await;
    assert_eq!(warm["tier"], "warm", "{warm:#}");
    let wl = svc
        .wait_lead(&lead_id(&warm), WAIT, "delivered", all_delivered)
        .await;
    let channels: HashSet<String> = messages_of(&wl, "rep_notification")
        .iter()
        .map(|m| str_of(&m["channel"]).to_string())
        .collect();
    assert_eq!(channels.len(), 2, "{:#}", wl["messages"]);
    assert!(
        messages_of(&wl, "rep_notification")
            .iter()
            .all(|m| !on_channel(m, "sms"))
    );
    rx.slack
        .wait(WAIT, "the warm lead on Slack", |h| h.len() == 2)
        .await;
    assert_eq!(rx.sms.hits().len(), 1, "SMS is for Tier 1 only");
}

// ---------------------------------------------------------------------------------------
// 3. Retries after 500 and 429 (Retry-After), and a dead letter after a 400 (NTF-5)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retries_after_500_and_429() {
    let rx = Receivers::start().await;
    rx.hooks().set_script(Arc::new(|n, _| match n {
        0 => Answer::status(500).body("internal error"),
        1 => Answer::status(429)
            .header("Retry-After", "1")
            .body("slow down"),
        _ => Answer::status(204),
    }));
    rx.slack
        .set_script(Arc::new(|_, _| Answer::status(400).body("invalid_blocks")));
    let svc = Service::start(&rx).await;
    let d = svc
        .submit(&hot_lead(
            "Rita",
            "Retry",
            "Retry Systems",
            "rita@retry-systems.com",
        ))
        .await;
    let id = lead_id(&d);

    // The webhook: 500, 429, then delivered, all with the same webhook-id.
    let lead = svc
        .wait_lead(&id, WAIT, "the webhook delivered", |l| {
            messages_of(l, "webhook")
                .iter()
                .any(|m| m["status"] == "delivered")
        })
        .await;
    let row = message(&lead, "webhook", "crm");
    assert_eq!(row["status"], "delivered", "{row:#}");
    assert_eq!(row["attempts"], 3, "500, 429, 2xx: {row:#}");
    assert_eq!(row["last_error"], Value::Null, "{row:#}");
    let hits = rx.hooks().hits();
    let statuses: Vec<u16> = hits.iter().map(|h| h.status).collect();
    assert_eq!(statuses, [500, 429, 204], "exactly one successful delivery");
    let ids: HashSet<&str> = hits
        .iter()
        .map(|h| h.header("webhook-id").unwrap_or(""))
        .collect();
    assert_eq!(
        ids,
        HashSet::from([str_of(&row["id"])]),
        "every attempt carries the same idempotency key"
    );
    for h in &hits {
        leadrouter_notify::verify_signature(
            WEBHOOK_SECRET,
            h.header("webhook-id").unwrap(),
            h.header("webhook-timestamp").unwrap(),
            &h.body,
            h.header("webhook-signature").unwrap(),
        )
        .expect("every attempt is signed");
    }
    let after_429 = hits[2].at.duration_since(hits[1].at);
    assert!(
        after_429 >= Duration::from_millis(900),
        "Retry-After: 1 must be honoured; retried after {after_429:?}"
    );
    let after_500 = hits[1].at.duration_since(hits[0].at);
    assert!(
        after_500 >= Duration::from_millis(1500),
        "backoff after a 500 (2 s ± 20%); retried after {after_500:?}"
    );

    // Slack answered 400: dead at once, visible in the API, not retried.
    let slack_row = message(&lead, "rep_notification", "slack");
    assert_eq!(slack_row["status"], "dead", "{slack_row:#}");
    assert_eq!(slack_row["attempts"], 1, "{slack_row:#}");
    assert_contains(
        str_of(&slack_row["last_error"]),
        "400",
        "the dead letter says why",
    );
    let dead = svc.dead_letters().await;
    let listed = dead
        .iter()
        .find(|m| m["id"] == slack_row["id"])
        .unwrap_or_else(|| panic!("not in /v1/outbox/dead: {dead:#?}"));
    assert_eq!(listed["lead_id"], id.as_str());
    assert_eq!(listed["kind"], "rep_notification");
    assert_contains(
        str_of(&listed["last_error"]),
        "invalid_blocks",
        "error body",
    );
    assert_eq!(dead.len(), 1, "only the Slack message is dead: {dead:#?}");
    assert_eq!(rx.slack.hits().len(), 1, "a 400 is not retried");

    // A dead channel blocks nothing else: email and SMS were delivered.
    for m in messages(&lead) {
        if m["id"] != slack_row["id"] && m["id"] != row["id"] {
            assert_eq!(m["status"], "delivered", "{m:#}");
        }
    }
    let metrics = svc.metrics().await;
    let retries: f64 = metrics
        .lines()
        .filter(|l| l.starts_with("leadrouter_deliveries_total") && l.contains("outcome=\"retry\""))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .sum();
    assert_eq!(retries, 2.0, "two retries counted:\n{metrics}");
}

// ---------------------------------------------------------------------------------------
// 4. A channel down, then back: everything delivered, in order per lead
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn channel_down_then_recovers_in_order() {
    // Nothing listens on the webhook port: connection refused.
    let mut rx = Receivers::start_with(false).await;
    let svc = Service::start(&rx).await;
    let d = svc
        .submit(&hot_lead(
            "Olga",
            "Order",
            "Ordered Works",
            "olga@ordered-works.com",
        ))
        .await;
    let id = lead_id(&d);
    assert_eq!(owner_id(&d).as_deref(), Some("ann"));

    // Five events for the lead while the CRM is down; routing never waits for it.
    let started = Instant::now();
    for rep in ["ben", "cat"] {
        svc.admin(
            Method::POST,
            &format!("/v1/leads/{id}/reassign"),
            Some(&json!({ "rep": rep, "note": "territory change" })),
            200,
        )
        .await;
    }
    svc.admin(Method::POST, &format!("/v1/leads/{id}/accept"), None, 200)
        .await;
    svc.admin(
        Method::POST,
        &format!("/v1/leads/{id}/contacted"),
        None,
        200,
    )
    .await;
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "lead operations waited for the dead channel: {:?}",
        started.elapsed()
    );

    // The first event has failed (at least twice); the rest wait behind it.
    let lead = svc
        .wait_lead(&id, WAIT, "two failed webhook attempts", |l| {
            messages_of(l, "webhook")
                .first()
                .is_some_and(|m| m["attempts"].as_i64().unwrap_or(0) >= 2)
        })
        .await;
    let hooks = messages_of(&lead, "webhook");
    assert_eq!(hooks.len(), 5, "{:#}", lead["messages"]);
    assert!(hooks.iter().all(|m| m["status"] == "pending"), "{hooks:#?}");
    assert!(
        hooks[1..].iter().all(|m| m["attempts"] == 0),
        "later events wait for the first (in order per lead): {hooks:#?}"
    );
    let err = str_of(&hooks[0]["last_error"]).to_ascii_lowercase();
    assert!(
        err.contains("connect") || err.contains("refused"),
        "last_error: {err}"
    );
    // Other channels are not held up by the webhook.
    for m in messages(&lead) {
        if !messages_of(&lead, "webhook").contains(&m) {
            assert_eq!(m["status"], "delivered", "{m:#}");
        }
    }
    assert!(svc.dead_letters().await.is_empty());

    // The receiver comes back. Skip the remaining backoff with the test clock (no SLA
    // timer is pending: the lead was contacted).
    rx.bring_hooks_up(always(204)).await;
    svc.advance("1h").await;
    let lead = svc
        .wait_lead(&id, WAIT, "all webhooks delivered", |l| {
            messages_of(l, "webhook")
                .iter()
                .all(|m| m["status"] == "delivered")
        })
        .await;
    let created: Vec<String> = messages_of(&lead, "webhook")
        .iter()
        .map(|m| str_of(&m["id"]).to_string())
        .collect();
    let hits = rx.hooks().hits();
    let arrived: Vec<String> = hits
        .iter()
        .map(|h| h.header("webhook-id").unwrap_or("").to_string())
        .collect();
    assert_eq!(
        arrived, created,
        "arrival order = creation order, no duplicates"
    );
    let types: Vec<String> = hits.iter().map(webhook_type).collect();
    assert_eq!(
        types,
        [
            "lead.assigned",
            "lead.reassigned",
            "lead.reassigned",
            "lead.accepted",
            "lead.contacted"
        ]
    );
    let owners: Vec<Value> = hits
        .iter()
        .map(|h| h.json()["data"]["owner"]["id"].clone())
        .collect();
    assert_eq!(
        owners,
        [
            json!("ann"),
            json!("ben"),
            json!("cat"),
            json!("cat"),
            json!("cat")
        ]
    );
    assert_eq!(hits[1].json()["data"]["previous_owner"], "ann");
    assert_eq!(hits[2].json()["data"]["previous_owner"], "ben");
}

// ---------------------------------------------------------------------------------------
// 5. kill -9 while a webhook is in flight: re-sent after the claim lease with the same
//    idempotency key; one delivered row
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_duplicate_after_worker_crash_mid_send() {
    let rx = Receivers::start().await;
    // The first webhook request hangs for 8 s (under the 10 s delivery timeout); the
    // server is killed before it is answered.
    rx.hooks().set_script(Arc::new(|n, _| {
        if n == 0 {
            Answer::status(204).delay(Duration::from_secs(8))
        } else {
            Answer::status(204)
        }
    }));
    let mut svc = Service::start(&rx).await;
    let d = svc
        .submit(&hot_lead(
            "Cora",
            "Crash",
            "Crashworthy Inc",
            "cora@crashworthy.com",
        ))
        .await;
    let id = lead_id(&d);
    rx.hooks()
        .wait(WAIT, "the webhook in flight", |h| !h.is_empty())
        .await;
    // The rep's notifications (sent alongside the webhook) are delivered and recorded
    // before the crash.
    let before = svc
        .wait_lead(&id, WAIT, "the rep notifications delivered", |l| {
            let reps = messages_of(l, "rep_notification");
            reps.len() == 3 && reps.iter().all(|m| m["status"] == "delivered")
        })
        .await;
    assert_eq!(
        message(&before, "webhook", "crm")["status"],
        "pending",
        "still in flight"
    );

    svc.kill();
    assert_eq!(rx.hooks().hits().len(), 1);
    svc.restart().await;

    // The dead worker's claim holds for its lease (delivery::LEASE = 60 s): no second
    // sender while the first may still be sending.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        rx.hooks().hits().len(),
        1,
        "re-sent before the lease ran out"
    );
    // Move the test clock past the lease: the row is claimed again and re-sent.
    svc.advance("2m").await;
    let lead = svc
        .wait_lead(
            &id,
            WAIT,
            "every message delivered after the restart",
            all_delivered,
        )
        .await;
    let hooks = messages_of(&lead, "webhook");
    assert_eq!(hooks.len(), 1, "one outbox row: {hooks:#?}");
    assert_eq!(hooks[0]["status"], "delivered");
    let hits = rx.hooks().hits();
    assert_eq!(hits.len(), 2, "the interrupted send and the retry");
    let keys: HashSet<&str> = hits
        .iter()
        .map(|h| h.header("webhook-id").unwrap_or(""))
        .collect();
    assert_eq!(
        keys,
        HashSet::from([str_of(&hooks[0]["id"])]),
        "both attempts carry the same webhook-id, so the receiver can drop the duplicate"
    );
    for h in &hits {
        leadrouter_notify::verify_signature(
            WEBHOOK_SECRET,
            h.header("webhook-id").unwrap(),
            h.header("webhook-timestamp").unwrap(),
            &h.body,
            h.header("webhook-signature").unwrap(),
        )
        .expect("signed");
        assert_eq!(h.json()["type"], "lead.assigned");
    }

    // Nothing that was delivered before the crash was sent again.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(rx.slack.hits().len(), 1, "Slack re-sent");
    assert_eq!(rx.sms.hits().len(), 1, "SMS re-sent");
    let mails = rx.smtp.all();
    let ids: Vec<String> = mails
        .iter()
        .map(|m| m.header("Message-ID").unwrap_or_default())
        .collect();
    assert_eq!(
        ids.iter().collect::<HashSet<_>>().len(),
        ids.len(),
        "an email was sent twice: {ids:?}"
    );
    assert_eq!(mails.len(), 2, "rep notification and confirmation: {ids:?}");
}

// ---------------------------------------------------------------------------------------
// 5b. One slow receiver must not hold up everyone else's notifications
// ---------------------------------------------------------------------------------------

/// A CRM that takes 4 s to answer one webhook (under the 10 s timeout) must not delay
/// other leads' Slack notifications, nor the same lead's other channels. Fails on the
/// current delivery worker: it claims a batch, awaits `join_all` over the whole batch and
/// only then claims again (crates/server/src/delivery.rs, `spawn`), so every message
/// queued meanwhile waits for the slowest send of the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_receiver_does_not_hold_up_other_deliveries() {
    let rx = Receivers::start().await;
    rx.hooks().set_script(Arc::new(|n, _| {
        if n == 0 {
            Answer::status(204).delay(Duration::from_secs(4))
        } else {
            Answer::status(204)
        }
    }));
    let svc = Service::start(&rx).await;
    let first = svc
        .submit(&hot_lead("Sam", "Slow", "Slowpoke Ltd", "sam@slowpoke.com"))
        .await;
    rx.hooks()
        .wait(WAIT, "the slow webhook in flight", |h| !h.is_empty())
        .await;
    let sent = Instant::now();
    let second = svc
        .submit(&hot_lead("Fay", "Fast", "Fastlane Co", "fay@fastlane.com"))
        .await;
    let fast = lead_id(&second);
    let hits = rx
        .slack
        .wait(WAIT, "Slack for the second lead", |h| {
            h.iter().any(|h| h.text().contains("Fay Fast"))
        })
        .await;
    let arrived = hits
        .iter()
        .find(|h| h.text().contains("Fay Fast"))
        .unwrap()
        .at;
    let waited = arrived.saturating_duration_since(sent);
    assert!(
        waited < Duration::from_secs(1),
        "the second lead's Slack notification waited {waited:?} for an unrelated slow webhook \
         (lead {fast}; first lead {})",
        lead_id(&first)
    );
    // The first lead's confirmation email queues behind its rep email (ordering is per
    // lead and channel), not behind the webhook.
    let conf = rx
        .smtp
        .wait_for("the first lead's confirmation", |m| {
            m.is_to("sam@slowpoke.com")
        })
        .await;
    let slow_hit = rx.hooks().hits()[0].at;
    let conf_waited = conf.at.saturating_duration_since(slow_hit);
    assert!(
        conf_waited < Duration::from_secs(1),
        "the confirmation email waited {conf_waited:?} for the lead's slow webhook"
    );
}

/// Outbox rows (GET /v1/leads/{id} `messages`, /v1/outbox/dead, the
/// `leadrouter_deliveries_total` labels) name their channel `slack`, `email`, `sms` or
/// `webhook:<name>` (store migration 0003, delivery docs). Fails today: the sequencer's
/// `label()` (crates/server/src/sequencer.rs) turns the internally tagged `Channel` into
/// the first key of its JSON object, giving `type:slack`, `type:email`, `type:sms` and
/// `name:crm`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn outbox_rows_name_their_channel() {
    let rx = Receivers::start().await;
    let svc = Service::start(&rx).await;
    let d = svc
        .submit(&hot_lead(
            "Lena",
            "Label",
            "Labelled Co",
            "lena@labelled.com",
        ))
        .await;
    let lead = svc
        .wait_lead(&lead_id(&d), WAIT, "delivered", all_delivered)
        .await;
    let channels: BTreeMap<String, String> = messages(&lead)
        .iter()
        .map(|m| {
            (
                format!("{} {}", str_of(&m["kind"]), str_of(&m["recipient"])),
                str_of(&m["channel"]).to_string(),
            )
        })
        .collect();
    let expected: BTreeMap<String, String> = [
        ("rep_notification default", "slack"),
        ("rep_notification ann@notify-test.example", "email"),
        ("rep_notification +15005550101", "sms"),
        ("lead_confirmation lena@labelled.com", "email"),
        ("webhook crm", "webhook:crm"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    assert_eq!(channels, expected, "channel labels");
    let metrics = svc.metrics().await;
    assert!(
        metrics.contains("channel=\"slack\""),
        "metrics label: {}",
        metrics
            .lines()
            .filter(|l| l.contains("deliveries_total"))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

// ---------------------------------------------------------------------------------------
// 6. The escalation ladder with the test clock; an accepted lead stops it (SLA-1, SLA-2)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn escalation_ladder_with_test_clock() {
    let rx = Receivers::start().await;
    let svc = Service::start(&rx).await;
    let one = svc
        .submit(&hot_lead(
            "Ella",
            "Escalate",
            "Ladder Labs",
            "ella@ladder-labs.com",
        ))
        .await;
    let two = svc
        .submit(&hot_lead(
            "Adam",
            "Accept",
            "Prompt Partners",
            "adam@prompt-partners.com",
        ))
        .await;
    let (id1, id2) = (lead_id(&one), lead_id(&two));
    let rep_a = owner_id(&one).expect("lead one assigned");
    assert_eq!(rep_a, "ann");
    assert_eq!(owner_id(&two).as_deref(), Some("ben"));

    // Lead two: Ben opens the accept link from his email and confirms.
    let ben_mail = rx
        .smtp
        .wait_for("Ben's notification for lead two", |m| {
            m.header("X-LeadRouter-Lead").as_deref() == Some(id2.as_str())
                && m.is_to("ben@notify-test.example")
        })
        .await;
    let accept = link_path(&ben_mail.body(), "Accept the lead:");
    let (status, page) = svc.page(Method::GET, &accept).await;
    assert_eq!(status, 200, "{page}");
    assert_contains(
        &page,
        "<form method=post",
        "a confirmation form, not an action",
    );
    assert_eq!(
        svc.lead(&id2).await["accepted_at"],
        Value::Null,
        "GET (a mail scanner) must not accept"
    );
    let (status, page) = svc.page(Method::POST, &accept).await;
    assert_eq!(status, 200, "{page}");
    assert_contains(&page, "recorded", "confirmation page");
    let l2 = svc.lead(&id2).await;
    assert!(l2["accepted_at"].is_string(), "{l2:#}");
    assert!(l2["acceptance_seconds"].as_f64().is_some(), "MET-1: {l2:#}");
    let accepted = l2["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|h| h["kind"] == "accepted")
        .unwrap_or_else(|| panic!("no 'accepted' history entry: {l2:#}"));
    assert_eq!(accepted["actor"], "rep-link:ben");
    assert!(
        l2["sla_timers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "cancelled"),
        "accepting stops the ladder: {:#}",
        l2["sla_timers"]
    );
    let (status, _) = svc.page(Method::GET, "/l/not-a-valid-token").await;
    assert_eq!(status, 400, "a forged link is refused");

    // 1x the SLA: Ann's manager is alerted (email and the alerts Slack channel).
    svc.advance("10m").await;
    let l1 = svc
        .wait_lead(&id1, WAIT, "sla_manager_alert", |l| {
            count_kind(l, "sla_manager_alert") == 1
        })
        .await;
    assert_eq!(owner_id(&l1).as_deref(), Some("ann"), "still Ann's at 1x");
    let alert = rx
        .smtp
        .wait_for("the manager alert to Morgan", |m| {
            m.is_to("morgan@notify-test.example")
        })
        .await;
    assert_eq!(
        alert.subject(),
        "SLA missed 1x: Ella Escalate, Ladder Labs (Ann Archer)"
    );
    assert_contains(
        &alert.body(),
        "Ann Archer has not contacted Ella Escalate",
        "alert body",
    );
    rx.slack
        .wait(WAIT, "the manager alert on the alerts channel", |h| {
            h.iter()
                .any(|h| h.path == "/slack/alerts" && h.text().contains("SLA missed 1x"))
        })
        .await;

    // 2x: reassigned to another rep of the pool, who is notified.
    svc.advance("10m").await;
    let l1 = svc
        .wait_lead(&id1, WAIT, "sla_reassign", |l| {
            count_kind(l, "sla_reassign") == 1
        })
        .await;
    let rep_b = owner_id(&l1).expect("an owner after the reassignment");
    assert_ne!(rep_b, rep_a, "never the same rep");
    assert!(["ben", "cat"].contains(&rep_b.as_str()), "{rep_b}");
    let b_address = format!("{rep_b}@notify-test.example");
    let b_mail = rx
        .smtp
        .wait_for("the new owner's notification", |m| {
            m.header("X-LeadRouter-Lead").as_deref() == Some(id1.as_str()) && m.is_to(&b_address)
        })
        .await;
    assert_contains(&b_mail.body(), "Ella Escalate", "new owner's notification");
    let hooks = rx
        .hooks()
        .wait(WAIT, "lead.reassigned for lead one", |h| {
            hooks_for(h, &id1)
                .iter()
                .any(|h| webhook_type(h) == "lead.reassigned")
        })
        .await;
    let reassigned = hooks_for(&hooks, &id1)
        .into_iter()
        .find(|h| webhook_type(h) == "lead.reassigned")
        .unwrap()
        .json();
    assert_eq!(reassigned["data"]["owner"]["id"], rep_b.as_str());
    assert_eq!(reassigned["data"]["previous_owner"], "ann");

    // 3x: sales leadership.
    svc.advance("10m").await;
    svc.wait_lead(&id1, WAIT, "sla_leadership_alert", |l| {
        count_kind(l, "sla_leadership_alert") == 1
    })
    .await;
    let vera = rx
        .smtp
        .wait_for("the leadership alert to Vera", |m| {
            m.is_to("vera@notify-test.example")
        })
        .await;
    assert!(
        vera.subject().starts_with("[Leadership]"),
        "{}",
        vera.subject()
    );
    // The new owner's clock started at the reassignment: at 1x of it (the same instant
    // as the lead's 3x) their manager is alerted too; no second reassignment.
    let l1 = svc
        .wait_lead(&id1, WAIT, "the new owner's manager alert", |l| {
            count_kind(l, "sla_manager_alert") == 2
        })
        .await;
    assert_eq!(count_kind(&l1, "sla_reassign"), 1);
    assert_eq!(owner_id(&l1).as_deref(), Some(rep_b.as_str()));
    assert!(
        l1["sla_timers"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["status"] == "fired"),
        "{:#}",
        l1["sla_timers"]
    );
    let hooks = rx
        .hooks()
        .wait(WAIT, "four lead.sla_escalated events", |h| {
            hooks_for(h, &id1)
                .iter()
                .filter(|h| webhook_type(h) == "lead.sla_escalated")
                .count()
                == 4
        })
        .await;
    let mut escalations: Vec<String> = hooks_for(&hooks, &id1)
        .iter()
        .filter(|h| webhook_type(h) == "lead.sla_escalated")
        .map(|h| str_of(&h.json()["data"]["step"]).to_string())
        .collect();
    // manager and reassign in that order; then the new owner's 1x and the lead's 3x,
    // which come due at the same instant.
    escalations[2..].sort();
    assert_eq!(
        escalations,
        ["manager", "reassign", "leadership", "manager"]
    );

    // Lead two, accepted in time: 30 minutes later nothing fired.
    let l2 = svc.lead(&id2).await;
    let kinds = history_kinds(&l2);
    assert!(
        !kinds.iter().any(|k| k.starts_with("sla_")),
        "the accepted lead escalated: {kinds:?}"
    );
    assert_eq!(owner_id(&l2).as_deref(), Some("ben"));
    assert!(messages_of(&l2, "manager_alert").is_empty());
    assert!(messages_of(&l2, "leadership_alert").is_empty());
    assert!(
        !rx.smtp.all().iter().any(|m| {
            m.header("X-LeadRouter-Lead").as_deref() == Some(id2.as_str())
                && (m.is_to("morgan@notify-test.example") || m.is_to("vera@notify-test.example"))
        }),
        "an alert about the accepted lead was sent"
    );
}

// ---------------------------------------------------------------------------------------
// 7. A lead waiting in a queue for 15 minutes raises an alert (SLA-3)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_age_alert() {
    let rx = Receivers::start().await;
    let svc = Service::start(&rx).await;
    let d = svc
        .submit(&json!({
            "first_name": "Quinn", "last_name": "Queue",
            "email": "quinn.queue.2026@gmail.com", "action": "demo_request",
        }))
        .await;
    let id = lead_id(&d);
    assert_eq!(d["queue"], "review", "{d:#}");
    assert_eq!(d["owner"], Value::Null);
    let lead = svc.wait_lead(&id, WAIT, "delivered", all_delivered).await;
    assert!(
        messages_of(&lead, "lead_confirmation").is_empty(),
        "no confirmation for a queued lead: {:#}",
        lead["messages"]
    );
    assert!(messages_of(&lead, "rep_notification").is_empty());
    let queued = rx
        .hooks()
        .wait(WAIT, "lead.queued", |h| !h.is_empty())
        .await;
    assert_eq!(webhook_type(&queued[0]), "lead.queued");
    let timers = lead["sla_timers"].as_array().unwrap();
    assert_eq!(timers.len(), 1, "{timers:#?}");
    assert_eq!(timers[0]["step"], "queue_age");

    // 14 minutes: not yet.
    svc.advance("14m").await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(count_kind(&svc.lead(&id).await, "queue_alert"), 0);

    // 16 minutes: the alert goes to revops by email and to the alerts Slack channel.
    svc.advance("2m").await;
    let lead = svc
        .wait_lead(&id, WAIT, "queue_alert", |l| {
            count_kind(l, "queue_alert") == 1
        })
        .await;
    let alerts = messages_of(&lead, "queue_alert");
    assert!(
        alerts
            .iter()
            .any(|m| on_channel(m, "email") && m["recipient"] == "revops@notify-test.example"),
        "{alerts:#?}"
    );
    let mail = rx
        .smtp
        .wait_for("the queue alert to revops", |m| {
            m.is_to("revops@notify-test.example")
        })
        .await;
    let subject = mail.subject();
    assert!(
        subject.starts_with("Lead waiting") && subject.contains("in review"),
        "{subject}"
    );
    assert_contains(&subject, "Quinn Queue", "queue alert subject");
    rx.slack
        .wait(WAIT, "the queue alert on Slack", |h| {
            h.iter()
                .any(|h| h.path == "/slack/alerts" && h.text().contains("Quinn Queue"))
        })
        .await;
}

// ---------------------------------------------------------------------------------------
// 8. kill -9 with 1,000 leads' timers pending, twice; every timer fires exactly once
// ---------------------------------------------------------------------------------------

const BULK: usize = 1000;

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn restart_with_1000_pending_timers_all_fire_once() {
    let rx = Receivers::start().await;
    let mut svc = Service::start(&rx).await;
    let started = Instant::now();

    // 1,000 standard-tier leads (email only; SLA 20 min: manager at 20, reassign at 40,
    // leadership at 60), 32 requests in flight.
    use futures::StreamExt as _;
    let svc_ref = &svc;
    let ids: Vec<String> = futures::stream::iter(0..BULK)
        .map(|i| async move {
            let d = svc_ref
                .submit(&json!({
                    "first_name": "Bulk", "last_name": format!("Lead {i}"),
                    "email": format!("bulk.lead.{i}@bulk-software.com"),
                    "company": "Bulk Software", "employees": 1200, "industry": "Software",
                    "action": "newsletter_signup",
                }))
                .await;
            assert_eq!(d["tier"], "standard", "{d:#}");
            assert!(owner_id(&d).is_some(), "{d:#}");
            lead_id(&d)
        })
        .buffered(32)
        .collect()
        .await;
    assert_eq!(ids.iter().collect::<HashSet<_>>().len(), BULK);
    eprintln!("{BULK} leads created in {:?}", started.elapsed());

    // Crash with every timer pending, restart on the same database.
    svc.kill();
    svc.restart().await;
    let store = leadrouter_store::SqliteStore::open(svc.database_url())
        .await
        .expect("open the database");
    use leadrouter_store::Store as _;
    assert_eq!(
        store.pending_timer_count().await.unwrap(),
        (3 * BULK) as i64,
        "every lead's three timers survived the crash"
    );

    // Past the manager step. Crash again while the timers are firing.
    svc.advance("21m").await;
    let fired_some = Instant::now();
    loop {
        let pending = store.pending_timer_count().await.unwrap();
        if pending < (3 * BULK) as i64 - 100 {
            break;
        }
        svc.check(fired_some.elapsed() < Duration::from_secs(30), || {
            format!("manager timers did not start firing ({pending} pending)")
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    svc.kill();
    let after_crash = store.pending_timer_count().await.unwrap();
    eprintln!(
        "killed with {} manager timers fired",
        (3 * BULK) as i64 - after_crash
    );
    svc.restart().await;
    // The restarted clock is the real one again: move it past the manager step again.
    svc.advance("21m").await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let pending = store.pending_timer_count().await.unwrap();
        if pending == (2 * BULK) as i64 {
            break;
        }
        svc.check(Instant::now() < deadline, || {
            format!("manager timers not all fired after 60 s: {pending} pending")
        });
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("all manager timers fired at {:?}", started.elapsed());

    // A sample through the API while the server runs.
    for id in ids.iter().step_by(97) {
        let l = svc.lead(id).await;
        assert_eq!(count_kind(&l, "sla_manager_alert"), 1, "{id}: {l:#}");
    }
    svc.kill();

    // All of them from the database: exactly one manager alert per lead, the manager timer
    // fired and the later steps still pending.
    for id in &ids {
        let history = store.history(id).await.unwrap();
        let alerts = history
            .iter()
            .filter(|h| h.kind == "sla_manager_alert")
            .count();
        assert_eq!(alerts, 1, "lead {id}: {alerts} manager alerts");
        let timers = store.timers(id).await.unwrap();
        let status: BTreeMap<&str, &str> = timers
            .iter()
            .map(|t| (t.step.as_str(), t.status.as_str()))
            .collect();
        assert_eq!(
            status,
            BTreeMap::from([
                ("leadership", "pending"),
                ("manager", "fired"),
                ("reassign", "pending")
            ]),
            "lead {id}"
        );
        let alert_rows = store
            .outbox(id)
            .await
            .unwrap()
            .iter()
            .filter(|m| m.kind == "manager_alert")
            .count();
        assert_eq!(alert_rows, 2, "lead {id}: one email and one Slack alert");
    }
    eprintln!("done in {:?}", started.elapsed());
}

/// SLA-1: the owner accepts. A link sent to a rep who no longer owns the lead (it was
/// reassigned to someone else) must not accept it for the new owner and stop their SLA
/// ladder. Fails today: the link token signs only action, expiry and lead id
/// (crates/notify/src/links.rs), and `link_act` (crates/server/src/api.rs) →
/// `touch_lead` (crates/server/src/sequencer.rs) never compares the lead's owner with the
/// rep the link was issued to.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn accept_link_of_a_previous_owner_does_not_accept_for_the_new_owner() {
    let rx = Receivers::start().await;
    let svc = Service::start(&rx).await;
    let d = svc
        .submit(&hot_lead(
            "Stella",
            "Stale",
            "Stale Links",
            "stella@stale-links.com",
        ))
        .await;
    let id = lead_id(&d);
    assert_eq!(owner_id(&d).as_deref(), Some("ann"));
    let ann_mail = rx
        .smtp
        .wait_for("Ann's notification", |m| m.is_to("ann@notify-test.example"))
        .await;
    let ann_accept = link_path(&ann_mail.body(), "Accept the lead:");

    // The lead moves to Ben; his SLA clock starts.
    svc.admin(
        Method::POST,
        &format!("/v1/leads/{id}/reassign"),
        Some(&json!({ "rep": "ben" })),
        200,
    )
    .await;
    let lead = svc.lead(&id).await;
    assert_eq!(owner_id(&lead).as_deref(), Some("ben"));
    let pending = |l: &Value| {
        l["sla_timers"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|t| t["status"] == "pending" && t["owner"] == "ben")
            .count()
    };
    assert_eq!(pending(&lead), 3, "{:#}", lead["sla_timers"]);

    // Ann opens her old link.
    let (status, page) = svc.page(Method::POST, &ann_accept).await;
    let lead = svc.lead(&id).await;
    assert!(
        lead["accepted_at"].is_null() && pending(&lead) == 3,
        "Ann's stale link (HTTP {status}: {page}) accepted Ben's lead and stopped his SLA \
         ladder: accepted_at = {}, timers = {:#}",
        lead["accepted_at"],
        lead["sla_timers"]
    );
}
