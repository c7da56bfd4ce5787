//! Delivery against real local receivers: an in-process SMTP server (mailin-embedded) and
//! wiremock HTTP servers standing in for Slack, a Twilio-compatible SMS API and webhook
//! receivers.

mod common;

use common::*;
use leadrouter_notify::{
    Channel, DeliveryResult, Kind, LinkAction, LinkSigner, Notifier, NotifyConfig, Outgoing,
    Renderer, verify_signature,
};
use leadrouter_testsupport::receiver::WEBHOOK_SECRET;
use leadrouter_testsupport::smtp::SmtpServer;
use std::time::Duration;
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, ResponseTemplate};

fn config(sms: &str, hooks: &str) -> NotifyConfig {
    parse_config(&format!(
        r#"
[notify]
base_url = "https://leadrouter.example"
link_secret_env = "LINK_SECRET"
timeout_secs = 2
[notify.slack]
default_webhook_env = "SLACK_URL"
[notify.email]
smtp_url_env = "SMTP_URL"
from = "Northwind Sales <sales@northwind.example>"
lead_confirmation = true
[notify.sms]
api_url = "{sms}/2010-04-01/Accounts/{{account}}/Messages.json"
account_env = "SMS_ACCOUNT"
token_env = "SMS_TOKEN"
from = "+15005550006"
{hooks}
"#
    ))
}

fn env(slack: &str, smtp: &str) -> impl Fn(&str) -> Option<String> + use<> {
    env_of(&[
        ("SLACK_URL", format!("{slack}/services/T000/B000/XXXX")),
        ("SMTP_URL", smtp.to_string()),
        ("SMS_ACCOUNT", "AC123".to_string()),
        ("SMS_TOKEN", "tok-secret".to_string()),
        ("CRM_SECRET", WEBHOOK_SECRET.to_string()),
        ("LINK_SECRET", "k".repeat(40)),
    ])
}

fn only<'a>(msgs: &'a [Outgoing], channel: &Channel, kind: Kind) -> &'a Outgoing {
    let found: Vec<&Outgoing> = msgs
        .iter()
        .filter(|m| &m.channel == channel && m.kind == kind)
        .collect();
    assert_eq!(
        found.len(),
        1,
        "expected one {channel:?} {kind:?} in {msgs:#?}"
    );
    found[0]
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_receives_rep_notification_and_lead_confirmation() {
    let smtp = SmtpServer::start();
    let cfg = config("http://unused.invalid", "");
    let env = env("http://unused.invalid", &smtp.url());
    let notifier = Notifier::new(&cfg, &env).unwrap();
    let signer = LinkSigner::new(&cfg, &env).unwrap();
    let renderer = Renderer::new(&cfg).unwrap();
    let now = hot().decision.decided_at;
    let ctx = hot().with_links(signer.links("L-1001", "jane", now));
    let rendered = renderer.assignment(&ctx, now);

    let rep_mail = only(&rendered.messages, &Channel::Email, Kind::RepNotification);
    let confirmation = only(&rendered.messages, &Channel::Email, Kind::LeadConfirmation);
    assert_eq!(
        notifier.deliver(rep_mail, "outbox-1").await,
        DeliveryResult::Delivered
    );
    assert_eq!(
        notifier.deliver(confirmation, "outbox-2").await,
        DeliveryResult::Delivered
    );

    let inbox = smtp.wait_for_count(2);
    let rep = inbox
        .iter()
        .find(|m| m.to == ["alex@northwind.example"])
        .expect("rep mail");
    let lead = inbox
        .iter()
        .find(|m| m.to == ["jane.doe@acme.example"])
        .expect("lead mail");

    // NTF-2: the rep's notification carries the context.
    assert_eq!(rep.from, "sales@northwind.example");
    assert_eq!(
        rep.header("Subject").unwrap(),
        "[Tier 1 (hot)] New lead: Jane Doe, Acme Corp (demo request)"
    );
    assert_eq!(
        rep.header("Message-ID").unwrap(),
        "<lr.outbox-1@northwind.example>"
    );
    assert_eq!(rep.header("Auto-Submitted").unwrap(), "auto-generated");
    let body = rep.body();
    for needle in [
        "Lead:      Jane Doe, VP Operations",
        "Company:   Acme Corp",
        "Size:      1,200 employees",
        "Industry:  Software",
        "Action:    demo request",
        "Score:     85 · Tier 1 (hot)",
        "Phone:     +14155550123",
        "LinkedIn:  https://www.linkedin.com/in/janedoe",
        "Contact within 5 min",
        "- territory rule amer-ent-software → team amer-enterprise",
        "Open the record:  https://leadrouter.example/console/leads/L-1001",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in:\n{body}");
    }
    // The signed links in the mail verify and name the lead and the action.
    let accept = body
        .lines()
        .find_map(|l| l.strip_prefix("Accept the lead:  "))
        .expect("accept link");
    let token = accept.rsplit('/').next().unwrap();
    assert_eq!(
        signer.verify(token, now).unwrap(),
        leadrouter_notify::LinkClaim {
            lead_id: "L-1001".to_string(),
            owner: "jane".to_string(),
            action: LinkAction::Accept
        }
    );
    let contacted = body
        .lines()
        .find_map(|l| l.strip_prefix("Mark contacted:   "))
        .expect("contacted link");
    assert_eq!(
        signer
            .verify(contacted.rsplit('/').next().unwrap(), now)
            .unwrap()
            .action,
        LinkAction::Contacted
    );

    // NTF-3: the confirmation is written as from the rep, with the booking link.
    assert_eq!(
        lead.header("From").unwrap(),
        "\"Alex Kim\" <sales@northwind.example>"
    );
    assert_eq!(
        lead.header("Reply-To").unwrap(),
        "\"Alex Kim\" <alex@northwind.example>"
    );
    assert_eq!(lead.header("Subject").unwrap(), "Your demo request");
    let body = lead.body();
    for needle in [
        "Hi Jane,",
        "I'm Alex Kim",
        "pick a time that suits you here: https://cal.example/alex",
        "Alex Kim\nAccount Executive, Northwind",
    ] {
        assert!(body.contains(needle), "missing {needle:?} in:\n{body}");
    }
    // Internal details never reach the lead.
    assert!(!body.contains("leadrouter.example"), "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn smtp_duplicate_sends_share_a_message_id_and_rejections_fail() {
    let smtp = SmtpServer::start();
    let cfg = config("http://unused.invalid", "");
    let notifier = Notifier::new(&cfg, &env("http://unused.invalid", &smtp.url())).unwrap();
    let renderer = Renderer::new(&cfg).unwrap();
    let ctx = hot();
    let rendered = renderer.assignment(&ctx, ctx.decision.decided_at);
    let rep_mail = only(&rendered.messages, &Channel::Email, Kind::RepNotification);
    // A retry after a crash mid-send reuses the outbox row's key.
    let key = "row 17 / attempt-independent";
    assert_eq!(
        notifier.deliver(rep_mail, key).await,
        DeliveryResult::Delivered
    );
    assert_eq!(
        notifier.deliver(rep_mail, key).await,
        DeliveryResult::Delivered
    );
    let inbox = smtp.wait_for_count(2);
    assert_eq!(inbox[0].header("Message-ID"), inbox[1].header("Message-ID"));

    // 550 for the recipient: permanent.
    let mut bounced = rep_mail.clone();
    bounced.payload["to"] = "reject@northwind.example".into();
    match notifier.deliver(&bounced, "k-reject").await {
        DeliveryResult::Failed { error } => assert!(error.contains("550"), "{error}"),
        other => panic!("expected Failed, got {other:?}"),
    }

    // Nobody listening: transient.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let down = Notifier::new(
        &cfg,
        &env("http://unused.invalid", &format!("smtp://127.0.0.1:{port}")),
    )
    .unwrap();
    assert!(matches!(
        down.deliver(rep_mail, "k-down").await,
        DeliveryResult::Retry { .. }
    ));
}

async fn received(server: &MockServer) -> Vec<Request> {
    server.received_requests().await.unwrap_or_default()
}

#[tokio::test]
async fn slack_block_kit_shape_and_mention() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/services/T000/B000/XXXX"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let cfg = config("http://unused.invalid", "");
    let notifier = Notifier::new(&cfg, &env(&slack.uri(), "smtp://127.0.0.1:1")).unwrap();
    let renderer = Renderer::new(&cfg).unwrap();
    let ctx = hot();
    let rendered = renderer.assignment(&ctx, ctx.decision.decided_at);
    let msg = only(&rendered.messages, &Channel::Slack, Kind::RepNotification);
    assert_eq!(msg.recipient, "default");
    assert_eq!(notifier.deliver(msg, "k1").await, DeliveryResult::Delivered);

    let reqs = received(&slack).await;
    assert_eq!(reqs.len(), 1);
    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    let blocks = body["blocks"].as_array().unwrap();
    let types: Vec<&str> = blocks.iter().map(|b| b["type"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        ["header", "section", "section", "section", "actions"]
    );
    assert_eq!(
        blocks[0]["text"]["text"],
        "Tier 1 (hot) lead: Jane Doe, Acme Corp"
    );
    let summary = blocks[1]["text"]["text"].as_str().unwrap();
    assert!(summary.starts_with("<@U024BE7LH> "), "{summary}");
    let fields: Vec<&str> = blocks[2]["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["text"].as_str().unwrap())
        .collect();
    for f in [
        "*Company*\nAcme Corp",
        "*Size*\n1,200 employees",
        "*Industry*\nSoftware",
        "*Action*\ndemo request",
        "*Score / tier*\n85 · Tier 1 (hot)",
        "*Phone*\n+14155550123",
        "*LinkedIn*\n<https://www.linkedin.com/in/janedoe|Profile>",
    ] {
        assert!(fields.contains(&f), "missing field {f:?} in {fields:?}");
    }
    assert!(
        blocks[3]["text"]["text"]
            .as_str()
            .unwrap()
            .starts_with("*Why it matched*\n• territory rule")
    );
    let buttons: Vec<&str> = blocks[4]["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["action_id"].as_str().unwrap())
        .collect();
    assert_eq!(buttons, ["accept", "contacted", "open_record"]);
    assert_eq!(body["unfurl_links"], false);
}

#[tokio::test]
async fn slack_limits_hold_with_a_huge_reason() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_body_string("ok"))
        .mount(&slack)
        .await;
    let cfg = config("http://unused.invalid", "");
    let notifier = Notifier::new(&cfg, &env(&slack.uri(), "smtp://127.0.0.1:1")).unwrap();
    let renderer = Renderer::new(&cfg).unwrap();
    let mut ctx = hot();
    ctx.lead.first_name = Some("<!channel> ".repeat(40));
    ctx.lead.company = Some("C&C ".repeat(500));
    ctx.reason_lines = (0..400)
        .map(|i| format!("reason {i}: {}", "because <this> & that ".repeat(20)))
        .collect();
    ctx.decision.notes = (0..30)
        .map(|i| format!("note {i} {}", "n".repeat(4000)))
        .collect();
    let rendered = renderer.assignment(&ctx, ctx.decision.decided_at);
    let msg = only(&rendered.messages, &Channel::Slack, Kind::RepNotification);
    assert_eq!(
        notifier.deliver(msg, "k-big").await,
        DeliveryResult::Delivered
    );

    let body: serde_json::Value = serde_json::from_slice(&received(&slack).await[0].body).unwrap();
    let blocks = body["blocks"].as_array().unwrap();
    assert!(blocks.len() <= 50);
    let chars = |v: &serde_json::Value| v.as_str().unwrap().chars().count();
    assert!(chars(&blocks[0]["text"]["text"]) <= 150);
    assert!(blocks[0]["text"]["text"].as_str().unwrap().ends_with('…'));
    for b in blocks {
        if let Some(t) = b.get("text").and_then(|t| t.get("text")) {
            assert!(chars(t) <= 3000, "section of {} chars", chars(t));
        }
        for f in b
            .get("fields")
            .and_then(|f| f.as_array())
            .into_iter()
            .flatten()
        {
            assert!(chars(&f["text"]) <= 2000);
        }
        if let Some(e) = b.get("elements").and_then(|e| e.as_array()) {
            assert!(e.len() <= 10);
            for el in e {
                if el["type"] == "mrkdwn" {
                    assert!(chars(&el["text"]) <= 3000);
                }
            }
        }
    }
    let why = blocks
        .iter()
        .find_map(|b| b["text"]["text"].as_str().filter(|t| t.starts_with("*Why")))
        .unwrap();
    assert!(why.ends_with('…'));
    // Lead input is escaped in every mrkdwn text: no @channel ping, no forged links.
    // (plain_text, as in the header, never parses mentions.)
    let mut mrkdwn = vec![body["text"].as_str().unwrap().to_string()];
    for b in blocks {
        if b["text"]["type"] == "mrkdwn" {
            mrkdwn.push(b["text"]["text"].as_str().unwrap().to_string());
        }
        for f in b["fields"].as_array().into_iter().flatten() {
            mrkdwn.push(f["text"].as_str().unwrap().to_string());
        }
    }
    for t in &mrkdwn {
        assert!(!t.contains("<!channel>"), "unescaped mention in {t}");
    }
    assert!(mrkdwn[1].contains("&lt;!channel&gt;"), "{}", mrkdwn[1]);
}

#[tokio::test]
async fn slack_status_codes_map_to_retry_or_failed() {
    let slack = MockServer::start().await;
    let cfg = config("http://unused.invalid", "");
    let notifier = Notifier::new(&cfg, &env(&slack.uri(), "smtp://127.0.0.1:1")).unwrap();
    let renderer = Renderer::new(&cfg).unwrap();
    let ctx = hot();
    let rendered = renderer.assignment(&ctx, ctx.decision.decided_at);
    let msg = only(&rendered.messages, &Channel::Slack, Kind::RepNotification).clone();

    let cases: Vec<(ResponseTemplate, &str)> = vec![
        (
            ResponseTemplate::new(500).set_body_string("rollup_error"),
            "500",
        ),
        (
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "7")
                .set_body_string("rate_limited"),
            "429",
        ),
        (
            ResponseTemplate::new(400).set_body_string("invalid_blocks"),
            "400",
        ),
        (
            ResponseTemplate::new(404).set_body_string("channel_not_found"),
            "404",
        ),
    ];
    let mut results = Vec::new();
    for (resp, _) in cases {
        slack.reset().await;
        Mock::given(method("POST"))
            .respond_with(resp)
            .mount(&slack)
            .await;
        results.push(notifier.deliver(&msg, "k").await);
    }
    assert!(
        matches!(&results[0], DeliveryResult::Retry { after: None, error } if error.contains("500") && error.contains("rollup_error")),
        "{:?}",
        results[0]
    );
    assert_eq!(
        results[1],
        DeliveryResult::Retry {
            after: Some(Duration::from_secs(7)),
            error: "Slack answered 429 Too Many Requests: rate_limited".into()
        }
    );
    assert!(
        matches!(&results[2], DeliveryResult::Failed { error } if error.contains("invalid_blocks")),
        "{:?}",
        results[2]
    );
    assert!(matches!(&results[3], DeliveryResult::Failed { .. }));
}

#[tokio::test]
async fn a_slow_receiver_times_out_as_retry() {
    let slack = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200).set_delay(Duration::from_secs(5)))
        .mount(&slack)
        .await;
    let mut cfg = config("http://unused.invalid", "");
    cfg.timeout = Duration::from_millis(300);
    let notifier = Notifier::new(&cfg, &env(&slack.uri(), "smtp://127.0.0.1:1")).unwrap();
    let renderer = Renderer::new(&cfg).unwrap();
    let ctx = hot();
    let rendered = renderer.assignment(&ctx, ctx.decision.decided_at);
    let msg = only(&rendered.messages, &Channel::Slack, Kind::RepNotification);
    let started = std::time::Instant::now();
    let r = notifier.deliver(msg, "k-slow").await;
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "took {:?}",
        started.elapsed()
    );
    match r {
        DeliveryResult::Retry { after: None, error } => assert!(
            error.contains("timed out") || error.contains("timeout"),
            "{error}"
        ),
        other => panic!("expected Retry, got {other:?}"),
    }
}

#[tokio::test]
async fn sms_is_form_encoded_with_basic_auth() {
    let api = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/2010-04-01/Accounts/AC123/Messages.json"))
        // base64("AC123:tok-secret")
        .and(header("authorization", "Basic QUMxMjM6dG9rLXNlY3JldA=="))
        .and(header("content-type", "application/x-www-form-urlencoded"))
        .respond_with(ResponseTemplate::new(201).set_body_string(r#"{"sid":"SM1"}"#))
        .mount(&api)
        .await;
    let cfg = config(&api.uri(), "");
    let notifier =
        Notifier::new(&cfg, &env("http://unused.invalid", "smtp://127.0.0.1:1")).unwrap();
    let renderer = Renderer::new(&cfg).unwrap();
    let ctx = hot();
    let rendered = renderer.assignment(&ctx, ctx.decision.decided_at);
    let msg = only(&rendered.messages, &Channel::Sms, Kind::RepNotification);
    assert_eq!(msg.recipient, "+14155550100");
    assert_eq!(
        notifier.deliver(msg, "sms-key-1").await,
        DeliveryResult::Delivered
    );

    let reqs = received(&api).await;
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].headers.get("idempotency-key").unwrap(), "sms-key-1");
    let form: Vec<(String, String)> = url::form_urlencoded::parse(&reqs[0].body)
        .into_owned()
        .collect();
    let get = |k: &str| form.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    assert_eq!(get("To"), Some("+14155550100"));
    assert_eq!(get("From"), Some("+15005550006"));
    let body = get("Body").unwrap();
    assert!(
        body.starts_with("Tier 1 (hot) lead: Jane Doe, Acme Corp (1,200 employees), demo request."),
        "{body}"
    );
    assert!(body.contains("Call +14155550123."), "{body}");
    assert!(
        body.contains("Accept: https://leadrouter.example/l/"),
        "{body}"
    );

    // 429 and 5xx are retried; 400 (bad number) is not.
    for (status, retry) in [(429, true), (503, true), (400, false)] {
        api.reset().await;
        Mock::given(method("POST"))
            .respond_with(ResponseTemplate::new(status).insert_header("Retry-After", "3"))
            .mount(&api)
            .await;
        let r = notifier.deliver(msg, "sms-key-2").await;
        assert_eq!(
            matches!(r, DeliveryResult::Retry { .. }),
            retry,
            "{status}: {r:?}"
        );
        if status == 429 {
            assert!(
                matches!(r, DeliveryResult::Retry { after: Some(d), .. } if d == Duration::from_secs(3))
            );
        }
    }
}

fn hook(url: &str, allow_private: bool) -> String {
    format!(
        r#"
[[notify.webhook]]
name = "crm"
url = "{url}/hooks/leadrouter"
secret_env = "CRM_SECRET"
allow_private = {allow_private}
events = ["lead.assigned", "lead.reassigned", "lead.sla_escalated"]
"#
    )
}

#[tokio::test]
async fn webhooks_are_signed_per_standard_webhooks() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/hooks/leadrouter"))
        .respond_with(ResponseTemplate::new(204))
        .mount(&receiver)
        .await;
    let cfg = config("http://unused.invalid", &hook(&receiver.uri(), true));
    let notifier =
        Notifier::new(&cfg, &env("http://unused.invalid", "smtp://127.0.0.1:1")).unwrap();
    let renderer = Renderer::new(&cfg).unwrap();
    let ctx = hot();
    let at = ctx.decision.decided_at;
    let rendered = renderer.assignment(&ctx, at);
    let msg = only(
        &rendered.messages,
        &Channel::Webhook { name: "crm".into() },
        Kind::Webhook,
    );
    assert_eq!(
        notifier.deliver(msg, "msg_outbox_99").await,
        DeliveryResult::Delivered
    );

    let reqs = received(&receiver).await;
    assert_eq!(reqs.len(), 1);
    let h = |k: &str| {
        reqs[0]
            .headers
            .get(k)
            .unwrap()
            .to_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(h("webhook-id"), "msg_outbox_99");
    assert_eq!(h("content-type"), "application/json");
    let ts: i64 = h("webhook-timestamp").parse().unwrap();
    assert!((jiff::Timestamp::now().as_second() - ts).abs() < 60);
    assert!(h("webhook-signature").starts_with("v1,"));
    verify_signature(
        WEBHOOK_SECRET,
        &h("webhook-id"),
        &h("webhook-timestamp"),
        &reqs[0].body,
        &h("webhook-signature"),
    )
    .expect("signature verifies");
    // A modified body does not.
    assert!(
        verify_signature(
            WEBHOOK_SECRET,
            &h("webhook-id"),
            &h("webhook-timestamp"),
            b"{}",
            &h("webhook-signature"),
        )
        .is_err()
    );

    let body: serde_json::Value = serde_json::from_slice(&reqs[0].body).unwrap();
    assert_eq!(body["type"], "lead.assigned");
    assert_eq!(body["timestamp"], at.to_string());
    let d = &body["data"];
    assert_eq!(d["lead_id"], "L-1001");
    assert_eq!(d["owner"]["id"], "alex");
    assert_eq!(d["queue"], serde_json::Value::Null);
    assert_eq!(d["tier"], "hot");
    assert_eq!(d["segment"], "enterprise");
    assert_eq!(
        d["reason"],
        "territory rule amer-ent-software → team amer-enterprise"
    );
    // Signed action links are credentials: never sent to other systems.
    assert!(!body.to_string().contains("/l/"), "{body}");
}

#[tokio::test]
async fn private_webhook_targets_are_refused_unless_allowed() {
    let receiver = MockServer::start().await;
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(200))
        .mount(&receiver)
        .await;
    let ctx = hot();
    let at = ctx.decision.decided_at;
    let webhook = Channel::Webhook { name: "crm".into() };

    // 127.0.0.1 literal and "localhost" (resolved): both refused, nothing sent.
    let port = receiver.address().port();
    for base in [receiver.uri(), format!("http://localhost:{port}")] {
        let cfg = config("http://unused.invalid", &hook(&base, false));
        let notifier =
            Notifier::new(&cfg, &env("http://unused.invalid", "smtp://127.0.0.1:1")).unwrap();
        let rendered = Renderer::new(&cfg).unwrap().assignment(&ctx, at);
        let msg = only(&rendered.messages, &webhook, Kind::Webhook);
        match notifier.deliver(msg, "k-private").await {
            DeliveryResult::Failed { error } => {
                assert!(
                    error.contains("refused") && error.contains("allow_private"),
                    "{error}"
                )
            }
            other => panic!("{base}: expected Failed, got {other:?}"),
        }
    }
    assert!(received(&receiver).await.is_empty());

    // Allowed explicitly: delivered.
    let cfg = config("http://unused.invalid", &hook(&receiver.uri(), true));
    let notifier =
        Notifier::new(&cfg, &env("http://unused.invalid", "smtp://127.0.0.1:1")).unwrap();
    let rendered = Renderer::new(&cfg).unwrap().assignment(&ctx, at);
    let msg = only(&rendered.messages, &webhook, Kind::Webhook);
    assert_eq!(
        notifier.deliver(msg, "k-allowed").await,
        DeliveryResult::Delivered
    );
    assert_eq!(received(&receiver).await.len(), 1);
}

#[tokio::test]
async fn webhook_errors_and_redirects() {
    let receiver = MockServer::start().await;
    let cfg = config("http://unused.invalid", &hook(&receiver.uri(), true));
    let notifier =
        Notifier::new(&cfg, &env("http://unused.invalid", "smtp://127.0.0.1:1")).unwrap();
    let ctx = hot();
    let rendered = Renderer::new(&cfg)
        .unwrap()
        .assignment(&ctx, ctx.decision.decided_at);
    let msg = only(
        &rendered.messages,
        &Channel::Webhook { name: "crm".into() },
        Kind::Webhook,
    )
    .clone();
    let cases = [
        (ResponseTemplate::new(500), "retry"),
        (
            ResponseTemplate::new(429).insert_header("Retry-After", "11"),
            "retry",
        ),
        (ResponseTemplate::new(410), "failed"),
        // A redirect could point anywhere (e.g. at 169.254.169.254): not followed.
        (
            ResponseTemplate::new(302).insert_header("Location", "http://169.254.169.254/"),
            "failed",
        ),
    ];
    for (resp, want) in cases {
        receiver.reset().await;
        Mock::given(method("POST"))
            .respond_with(resp)
            .mount(&receiver)
            .await;
        let r = notifier.deliver(&msg, "k").await;
        let got = match r {
            DeliveryResult::Retry { .. } => "retry",
            DeliveryResult::Failed { .. } => "failed",
            DeliveryResult::Delivered => "delivered",
        };
        assert_eq!(got, want, "{r:?}");
    }
}

#[tokio::test]
async fn missing_secrets_are_reported_at_startup() {
    let cfg = config(
        "http://unused.invalid",
        &hook("https://crm.example.com", false),
    );
    let e = Notifier::new(&cfg, &|_| None).unwrap_err();
    let text = e.to_string();
    for key in [
        "notify.slack.default_webhook_env",
        "notify.email.smtp_url_env",
        "notify.sms.account_env",
        "notify.sms.token_env",
        "notify.webhook[0].secret_env",
    ] {
        assert!(text.contains(key), "{key} missing from:\n{text}");
    }
    assert!(text.contains("export CRM_SECRET=whsec_"), "{text}");
    let bad = env_of(&[
        ("SLACK_URL", "not a url".into()),
        ("SMTP_URL", "ftp://x".into()),
        ("SMS_ACCOUNT", "AC1".into()),
        ("SMS_TOKEN", "t".into()),
        ("CRM_SECRET", "whsec_???".into()),
    ]);
    let e = Notifier::new(&cfg, &bad).unwrap_err();
    assert_eq!(e.0.len(), 3, "{e}");
}

#[tokio::test]
async fn outgoing_survives_an_outbox_round_trip() {
    let cfg = config(
        "http://unused.invalid",
        &hook("https://crm.example.com", false),
    );
    let ctx = hot();
    let rendered = Renderer::new(&cfg)
        .unwrap()
        .assignment(&ctx, ctx.decision.decided_at);
    for m in &rendered.messages {
        let stored = serde_json::to_string(m).unwrap();
        let back: Outgoing = serde_json::from_str(&stored).unwrap();
        assert_eq!(&back, m);
        // No secrets in outbox rows.
        assert!(
            !stored.contains("XXXX")
                && !stored.contains("tok-secret")
                && !stored.contains("whsec_")
        );
    }
}
