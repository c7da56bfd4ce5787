//! The notification and SLA end-to-end tests' harness (`tests/notify_e2e.rs`,
//! `tests/weekly_report_e2e.rs`).
//!
//! [`Receivers`] are the far ends of every channel in the fixture
//! `tests/fixtures/notify.toml`, all in the test process on 127.0.0.1: the SMTP server and
//! HTTP receivers (Slack, the Twilio-compatible SMS API, the CRM webhook) of
//! `leadrouter-testsupport`; the webhook receiver can also be "down" (connection refused)
//! until the test brings it up. [`Service`] is the real `leadrouter serve` on that
//! fixture with the test clock, and the async calls these tests make to it.

pub use leadrouter_testsupport::eventually;
pub use leadrouter_testsupport::receiver::{
    Answer, DownPort, Hit, HttpReceiver, Script, WEBHOOK_SECRET, always,
};
pub use leadrouter_testsupport::serve::owner_of as owner_id;
pub use leadrouter_testsupport::smtp::{Mail, SmtpServer};

use super::{Clock, Server, serve};
use reqwest::Method;
use serde_json::{Value, json};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// HMAC key of the accept/contacted links (≥ 32 bytes).
pub const LINK_SECRET: &str = "notify-e2e-link-secret-0123456789abcdef";
pub const TWILIO_SID: &str = "AC00000000000000000000000000e2e";
pub const TWILIO_TOKEN: &str = "twilio-e2e-token";
/// `[notify] base_url` of the fixture.
pub const BASE_URL: &str = "https://leadrouter.notify-test.example";

pub fn fixture_config() -> PathBuf {
    super::fixture("notify.toml")
}

/// The webhook receiver: running, or a refused port to be brought up later.
pub enum Hooks {
    Up(HttpReceiver),
    Down(DownPort),
}

/// Every channel's far end.
pub struct Receivers {
    pub smtp: SmtpServer,
    /// Slack incoming webhooks: `/slack/default` (rep notifications) and `/slack/alerts`.
    pub slack: HttpReceiver,
    /// Twilio-compatible Messages API.
    pub sms: HttpReceiver,
    pub hooks: Hooks,
}

impl Receivers {
    /// Every receiver up, answering 2xx.
    pub async fn start() -> Receivers {
        Receivers::start_with(true).await
    }

    /// `hooks_up = false`: the webhook port refuses connections until
    /// [`Receivers::bring_hooks_up`].
    pub async fn start_with(hooks_up: bool) -> Receivers {
        let hooks = if hooks_up {
            Hooks::Up(HttpReceiver::start(always(204)).await)
        } else {
            Hooks::Down(DownPort::reserve())
        };
        Receivers {
            smtp: SmtpServer::start(),
            slack: HttpReceiver::start(Arc::new(|_, _| Answer::status(200).body("ok"))).await,
            sms: HttpReceiver::start(Arc::new(|n, _| {
                Answer::status(201)
                    .header("content-type", "application/json")
                    .body(json!({"sid": format!("SM{n:032}"), "status": "queued"}).to_string())
            }))
            .await,
            hooks,
        }
    }

    pub fn hooks_uri(&self) -> String {
        match &self.hooks {
            Hooks::Up(r) => r.uri(),
            Hooks::Down(p) => p.uri(),
        }
    }

    pub fn hooks(&self) -> &HttpReceiver {
        match &self.hooks {
            Hooks::Up(r) => r,
            Hooks::Down(_) => panic!("the webhook receiver is down"),
        }
    }

    pub async fn bring_hooks_up(&mut self, script: Script) {
        if let Hooks::Down(p) = &self.hooks {
            let r = p.bring_up(script).await;
            self.hooks = Hooks::Up(r);
        }
    }

    /// The environment `leadrouter serve` needs for the fixture's `[notify]` section.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("LEADROUTER_SMTP_URL", self.smtp.url()),
            (
                "SLACK_WEBHOOK_URL",
                format!("{}/slack/default", self.slack.uri()),
            ),
            (
                "SLACK_ALERTS_URL",
                format!("{}/slack/alerts", self.slack.uri()),
            ),
            ("TWILIO_ACCOUNT_SID", TWILIO_SID.to_string()),
            ("TWILIO_AUTH_TOKEN", TWILIO_TOKEN.to_string()),
            ("CRM_WEBHOOK_SECRET", WEBHOOK_SECRET.to_string()),
            ("LEADROUTER_LINK_SECRET", LINK_SECRET.to_string()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect()
    }

    /// The fixture config with the receivers' addresses in place of the placeholders.
    pub fn config_text(&self) -> String {
        std::fs::read_to_string(fixture_config())
            .expect("reading tests/fixtures/notify.toml")
            .replace("http://sms.invalid", &self.sms.uri())
            .replace("http://hooks.invalid", &self.hooks_uri())
    }
}

/// The real `leadrouter serve` on the notify fixture, with the test clock
/// (`LEADROUTER_TEST_CLOCK=1`), and the calls these tests make to it; restartable on the
/// same database.
pub struct Service {
    pub server: Server,
    // The config a restart reads again; removed after the server.
    _config_dir: tempfile::TempDir,
}

impl Service {
    /// Start on the fixture, wired to `rx`, on a fresh database.
    pub async fn start(rx: &Receivers) -> Service {
        Service::start_with(rx, rx.config_text()).await
    }

    /// Like [`Service::start`], with this config text instead of the fixture's.
    pub async fn start_with(rx: &Receivers, config_text: String) -> Service {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = dir.path().join("notify.toml");
        std::fs::write(&config, config_text).expect("writing the config");
        let opts = serve(&config).envs(rx.env()).clock(Clock::Test);
        Service {
            server: Server::start_async(opts).await,
            _config_dir: dir,
        }
    }

    /// Like [`Service::start_with`], on this database (a [`leadrouter_testsupport::TestDb`]'s
    /// URL: SQLite or PostgreSQL).
    pub async fn start_on(rx: &Receivers, config_text: String, database_url: &str) -> Service {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = dir.path().join("notify.toml");
        std::fs::write(&config, config_text).expect("writing the config");
        let opts = serve(&config)
            .envs(rx.env())
            .clock(Clock::Test)
            .database(database_url);
        Service {
            server: Server::start_async(opts).await,
            _config_dir: dir,
        }
    }

    pub fn database_url(&self) -> &str {
        self.server.database_url()
    }

    /// SIGKILL the server and reap it.
    pub fn kill(&mut self) {
        self.server.kill();
    }

    /// SIGKILL, then start again on the same config and database (the test clock starts
    /// again at the real time).
    pub async fn restart(&mut self) {
        self.server.restart_async().await;
    }

    /// Assert with the server's logs on failure.
    pub fn check(&self, ok: bool, msg: impl FnOnce() -> String) {
        self.server.check(ok, msg);
    }

    /// An admin call that must answer `expect`; returns the JSON body (Null if none).
    pub async fn admin(
        &self,
        method: Method,
        path: &str,
        body: Option<&Value>,
        expect: u16,
    ) -> Value {
        let mut call = self.server.call(method, path).admin();
        if let Some(b) = body {
            call = call.json(b);
        }
        let r = call.send_async().await.expect_status(expect);
        serde_json::from_str(&r.text).unwrap_or(Value::Null)
    }

    /// `POST /v1/leads`; expects 201 and returns the decision.
    pub async fn submit(&self, lead: &Value) -> Value {
        self.server
            .post("/v1/leads")
            .intake()
            .json(lead)
            .send_async()
            .await
            .expect_status(201)
            .json()
    }

    /// `GET /v1/leads/{id}`: the lead with `history`, `messages` and `sla_timers`.
    pub async fn lead(&self, id: &str) -> Value {
        self.admin(Method::GET, &format!("/v1/leads/{id}"), None, 200)
            .await
    }

    /// Move the test clock forward, e.g. "10m".
    pub async fn advance(&self, by: &str) -> Value {
        self.admin(
            Method::POST,
            "/v1/admin/clock",
            Some(&json!({ "advance": by })),
            200,
        )
        .await
    }

    pub async fn dead_letters(&self) -> Vec<Value> {
        let v = self.admin(Method::GET, "/v1/outbox/dead", None, 200).await;
        v["dead_letters"].as_array().cloned().unwrap_or_default()
    }

    pub async fn metrics(&self) -> String {
        self.server
            .get("/metrics")
            .admin()
            .send_async()
            .await
            .expect_status(200)
            .text
    }

    /// Poll `GET /v1/leads/{id}` until `pred` holds (`timeout`); returns the lead.
    pub async fn wait_lead(
        &self,
        id: &str,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = Instant::now() + timeout;
        loop {
            let l = self.lead(id).await;
            if pred(&l) {
                return l;
            }
            if Instant::now() > deadline {
                self.server.fail(&format!(
                    "timed out after {timeout:?} waiting for lead {id}: {what}\n--- lead ---\n{}",
                    serde_json::to_string_pretty(&l).unwrap_or_default()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A public page (no key): GET or POST `path`, returns status and body.
    pub async fn page(&self, method: Method, path: &str) -> (u16, String) {
        let r = self.server.call(method, path).send_async().await;
        (r.status, r.text)
    }
}

// ---------------------------------------------------------------------------------------
// Reading a lead's messages, timers and history
// ---------------------------------------------------------------------------------------

/// The `messages` of a lead (outbox rows), in creation order.
pub fn messages(lead: &Value) -> Vec<Value> {
    lead["messages"].as_array().cloned().unwrap_or_default()
}

/// Messages of a given kind.
pub fn messages_of(lead: &Value, kind: &str) -> Vec<Value> {
    messages(lead)
        .into_iter()
        .filter(|m| m["kind"] == kind)
        .collect()
}

/// Whether a message row's channel is `channel` ("slack", "email", "sms", or a webhook's
/// name). Accepts the documented labels (`slack`, `webhook:crm`) and the ones the server
/// writes today (`type:slack`, `name:crm`; see `outbox_rows_name_their_channel`).
pub fn on_channel(m: &Value, channel: &str) -> bool {
    m["channel"].as_str().is_some_and(|c| {
        c == channel || c.ends_with(&format!(":{channel}")) || c.starts_with(&format!("{channel}:"))
    })
}

pub fn history_kinds(lead: &Value) -> Vec<String> {
    lead["history"]
        .as_array()
        .map(|h| {
            h.iter()
                .filter_map(|e| e["kind"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

pub fn count_kind(lead: &Value, kind: &str) -> usize {
    history_kinds(lead).iter().filter(|k| *k == kind).count()
}

/// Every message delivered (none pending or dead).
pub fn all_delivered(lead: &Value) -> bool {
    let m = messages(lead);
    !m.is_empty() && m.iter().all(|m| m["status"] == "delivered")
}

/// A hot lead: demo request, enterprise software (fits the ICP).
pub fn hot_lead(first: &str, last: &str, company: &str, email: &str) -> Value {
    json!({
        "first_name": first,
        "last_name": last,
        "email": email,
        "company": company,
        "title": "VP Operations",
        "phone": "+14155550123",
        "country": "US",
        "state": "CA",
        "employees": 1200,
        "industry": "Software",
        "action": "demo_request",
        "lead_source": "website",
    })
}
