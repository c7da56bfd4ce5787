//! Harness for the notification and SLA end-to-end tests (`tests/notify_e2e.rs`).
//!
//! [`Service`] runs the real `leadrouter serve` binary on port 0 with a SQLite file in a
//! temporary directory and the config `tests/fixtures/notify.toml`; it can be killed with
//! SIGKILL and restarted on the same database. [`Receivers`] are the far ends of every
//! channel, all in the test process on 127.0.0.1: a real SMTP server (mailin-embedded), and
//! HTTP receivers (wiremock) for Slack, the Twilio-compatible SMS API and the CRM webhook,
//! each recording every request with its arrival time and answering from a script the
//! test can change while the service runs. The webhook receiver can also be "down"
//! (nothing listening on its port: connection refused) until the test starts it.
//!
//! Failures print the server's command line, stdout and stderr.

#![allow(dead_code)] // not every test uses every helper

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

pub const ADMIN_KEY: &str = "notify-e2e-admin-key";
pub const INTAKE_KEY: &str = "notify-e2e-intake-key";
/// The CRM webhook's Standard Webhooks secret (shared with the receiver).
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
/// HMAC key of the accept/contacted links (≥ 32 bytes).
pub const LINK_SECRET: &str = "notify-e2e-link-secret-0123456789abcdef";
pub const TWILIO_SID: &str = "AC00000000000000000000000000e2e";
pub const TWILIO_TOKEN: &str = "twilio-e2e-token";
/// `[notify] base_url` of the fixture.
pub const BASE_URL: &str = "https://leadrouter.notify-test.example";

/// The path of the `leadrouter` binary Cargo built for these tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_leadrouter")
}

pub fn fixture_config() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/notify.toml")
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Poll `f` every 50 ms until it returns `Some`, or panic with `what()` after `timeout`.
pub async fn eventually<T, F, Fut>(timeout: Duration, what: impl Fn() -> String, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {}", what());
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

// ---------------------------------------------------------------------------------------
// SMTP receiver
// ---------------------------------------------------------------------------------------

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
    /// When the message was accepted (end of DATA).
    pub at: Instant,
}

impl Default for Mail {
    fn default() -> Self {
        Mail {
            from: String::new(),
            to: Vec::new(),
            data: String::new(),
            at: Instant::now(),
        }
    }
}

impl Mail {
    /// A header's (unfolded) value.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }

    /// The subject, with RFC 2047 encoded words decoded (lettre encodes non-ASCII).
    pub fn subject(&self) -> String {
        decode_words(&self.header("Subject").unwrap_or_default())
    }

    /// The plain-text body with the transfer encoding (base64 or quoted-printable) undone.
    pub fn body(&self) -> String {
        let (_, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        match self
            .header("Content-Transfer-Encoding")
            .map(|e| e.to_ascii_lowercase())
            .as_deref()
        {
            Some("base64") => {
                use base64::Engine as _;
                let compact: String = body.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .expect("base64 body");
                String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
            }
            Some("quoted-printable") => decode_qp(body),
            _ => body.replace("\r\n", "\n"),
        }
    }

    /// The decoded body of the MIME part with this content type (multipart messages).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let start = self.data.find(&format!("Content-Type: {content_type}"))?;
        let rest = &self.data[start..];
        let (head, body) = rest.split_once("\r\n\r\n")?;
        let body = body.split("\r\n--").next().unwrap_or(body);
        let enc = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Transfer-Encoding:"))
            .map(|e| e.trim().to_ascii_lowercase());
        Some(match enc.as_deref() {
            Some("base64") => {
                use base64::Engine as _;
                let compact: String = body.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(compact)
                    .expect("base64 part");
                String::from_utf8_lossy(&bytes).replace("\r\n", "\n")
            }
            Some("quoted-printable") => decode_qp(body),
            _ => body.replace("\r\n", "\n"),
        })
    }

    pub fn is_to(&self, address: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(address))
    }
}

pub fn decode_qp(s: &str) -> String {
    let s = s.replace("=\r\n", "");
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'='
            && i + 2 < bytes.len()
            && let Ok(b) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(b);
            i += 3;
            continue;
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).replace("\r\n", "\n")
}

/// `=?utf-8?b?…?=` / `=?utf-8?q?…?=` words in a header.
fn decode_words(s: &str) -> String {
    use base64::Engine as _;
    let mut out = String::new();
    for word in s.split_whitespace() {
        let decoded = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|w| {
                let mut parts = w.splitn(3, '?');
                let (_charset, enc, text) = (parts.next()?, parts.next()?, parts.next()?);
                match enc {
                    "b" | "B" => base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .ok()
                        .map(|b| String::from_utf8_lossy(&b).into_owned()),
                    "q" | "Q" => Some(decode_qp(&text.replace('_', " "))),
                    _ => None,
                }
            });
        match decoded {
            Some(d) => out.push_str(&d),
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
            }
        }
    }
    out
}

#[derive(Clone)]
struct SmtpHandler {
    inbox: Arc<Mutex<Vec<Mail>>>,
    current: Mail,
}

impl mailin_embedded::Handler for SmtpHandler {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> mailin_embedded::Response {
        self.current = Mail {
            from: from.to_string(),
            ..Mail::default()
        };
        mailin_embedded::response::OK
    }

    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        self.current.to.push(to.to_string());
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        let mut mail = std::mem::take(&mut self.current);
        mail.at = Instant::now();
        lock(&self.inbox).push(mail);
        mailin_embedded::response::OK
    }
}

/// A real SMTP server (mailin-embedded) on a free local port, in its own threads.
pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP port");
        let port = listener.local_addr().expect("local addr").port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let handler = SmtpHandler {
            inbox: inbox.clone(),
            current: Mail::default(),
        };
        let mut server = mailin_embedded::Server::new(handler);
        server
            .with_name("smtp.notify-test")
            .with_num_threads(16)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, inbox }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    pub fn all(&self) -> Vec<Mail> {
        lock(&self.inbox).clone()
    }

    /// Wait for a message matching `pred` (10 s).
    pub async fn wait_for(&self, what: &str, pred: impl Fn(&Mail) -> bool) -> Mail {
        eventually(
            Duration::from_secs(10),
            || {
                let got: Vec<String> = self
                    .all()
                    .iter()
                    .map(|m| format!("to {:?}: {}", m.to, m.subject()))
                    .collect();
                format!("an email {what}; received so far: {got:#?}")
            },
            || {
                let hit = self.all().into_iter().find(|m| pred(m));
                async move { hit }
            },
        )
        .await
    }
}

// ---------------------------------------------------------------------------------------
// HTTP receivers
// ---------------------------------------------------------------------------------------

/// One request as an HTTP receiver saw it.
#[derive(Debug, Clone)]
pub struct Hit {
    /// Arrival, in the test process's clock.
    pub at: Instant,
    /// Arrival as wall-clock time (for latencies against server timestamps).
    pub wall: jiff::Timestamp,
    pub method: String,
    pub path: String,
    pub headers: HashMap<String, String>,
    pub body: Vec<u8>,
    /// What the receiver answered.
    pub status: u16,
}

impl Hit {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .get(&name.to_ascii_lowercase())
            .map(String::as_str)
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body of {} {} is not JSON ({e}): {}",
                self.method,
                self.path,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as `application/x-www-form-urlencoded` fields.
    pub fn form(&self) -> HashMap<String, String> {
        form_urlencoded::parse(&self.body).into_owned().collect()
    }
}

/// What a receiver answers to one request.
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
    /// Wait this long before answering (a slow receiver).
    pub delay: Option<Duration>,
}

impl Answer {
    pub fn status(status: u16) -> Answer {
        Answer {
            status,
            headers: Vec::new(),
            body: String::new(),
            delay: None,
        }
    }

    pub fn header(mut self, name: &str, value: &str) -> Answer {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    pub fn body(mut self, body: impl Into<String>) -> Answer {
        self.body = body.into();
        self
    }

    pub fn delay(mut self, d: Duration) -> Answer {
        self.delay = Some(d);
        self
    }

    fn template(&self) -> ResponseTemplate {
        let mut t = ResponseTemplate::new(self.status);
        for (k, v) in &self.headers {
            t = t.insert_header(k.as_str(), v.as_str());
        }
        if !self.body.is_empty() {
            t = t.set_body_string(self.body.clone());
        }
        if let Some(d) = self.delay {
            t = t.set_delay(d);
        }
        t
    }
}

/// How a receiver answers: called with the request's number (0-based, per receiver) and
/// the request.
pub type Script = Arc<dyn Fn(usize, &Request) -> Answer + Send + Sync>;

pub fn always(status: u16) -> Script {
    Arc::new(move |_, _| Answer::status(status))
}

struct Recorder {
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<Script>>,
}

impl Respond for Recorder {
    fn respond(&self, req: &Request) -> ResponseTemplate {
        let mut hits = lock(&self.hits);
        let script = lock(&self.script).clone();
        let answer = script(hits.len(), req);
        hits.push(Hit {
            at: Instant::now(),
            wall: jiff::Timestamp::now(),
            method: req.method.to_string(),
            path: req.url.path().to_string(),
            headers: req
                .headers
                .iter()
                .map(|(k, v)| {
                    (
                        k.as_str().to_ascii_lowercase(),
                        v.to_str().unwrap_or("").to_string(),
                    )
                })
                .collect(),
            body: req.body.clone(),
            status: answer.status,
        });
        answer.template()
    }
}

/// A local HTTP receiver that records every request and answers from a script.
pub struct HttpReceiver {
    server: MockServer,
    hits: Arc<Mutex<Vec<Hit>>>,
    script: Arc<Mutex<Script>>,
}

impl HttpReceiver {
    pub async fn start(script: Script) -> HttpReceiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind receiver port");
        HttpReceiver::start_on(listener, script).await
    }

    /// Start on a given listener (e.g. a port that was refusing connections until now).
    pub async fn start_on(listener: TcpListener, script: Script) -> HttpReceiver {
        let server = MockServer::builder().listener(listener).start().await;
        let hits = Arc::new(Mutex::new(Vec::new()));
        let script = Arc::new(Mutex::new(script));
        Mock::given(wiremock::matchers::any())
            .respond_with(Recorder {
                hits: hits.clone(),
                script: script.clone(),
            })
            .mount(&server)
            .await;
        HttpReceiver {
            server,
            hits,
            script,
        }
    }

    pub fn uri(&self) -> String {
        self.server.uri()
    }

    pub fn address(&self) -> SocketAddr {
        *self.server.address()
    }

    /// Change how the receiver answers from now on.
    pub fn set_script(&self, script: Script) {
        *lock(&self.script) = script;
    }

    pub fn hits(&self) -> Vec<Hit> {
        lock(&self.hits).clone()
    }

    /// Wait until `pred` holds for the recorded requests (`timeout`).
    pub async fn wait(
        &self,
        timeout: Duration,
        what: &str,
        pred: impl Fn(&[Hit]) -> bool,
    ) -> Vec<Hit> {
        eventually(
            timeout,
            || {
                let seen: Vec<String> = self
                    .hits()
                    .iter()
                    .map(|h| format!("{} {} -> {}", h.method, h.path, h.status))
                    .collect();
                format!("{what}; requests so far: {seen:#?}")
            },
            || {
                let hits = self.hits();
                let ok = pred(&hits);
                async move { ok.then_some(hits) }
            },
        )
        .await
    }
}

/// A port on 127.0.0.1 with nothing listening (connections are refused) until a receiver
/// is started on it with [`DownPort::bring_up`].
pub struct DownPort {
    pub addr: SocketAddr,
}

impl DownPort {
    pub fn reserve() -> DownPort {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
        let addr = l.local_addr().expect("local addr");
        drop(l);
        DownPort { addr }
    }

    pub fn uri(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub async fn bring_up(&self, script: Script) -> HttpReceiver {
        let deadline = Instant::now() + Duration::from_secs(10);
        let listener = loop {
            match TcpListener::bind(self.addr) {
                Ok(l) => break l,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("binding {} again: {e}; retrying", self.addr);
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
                Err(e) => panic!("cannot bind {} again: {e}", self.addr),
            }
        };
        HttpReceiver::start_on(listener, script).await
    }
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

// ---------------------------------------------------------------------------------------
// The service
// ---------------------------------------------------------------------------------------

/// A running `leadrouter serve`, restartable on the same database.
pub struct Service {
    child: Option<tokio::process::Child>,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    dir: tempfile::TempDir,
    pub config: PathBuf,
    pub db: PathBuf,
    env: Vec<(String, String)>,
    command: String,
    logs: Arc<Mutex<String>>,
    pub http: reqwest::Client,
}

impl Service {
    /// Start with the test clock (LEADROUTER_TEST_CLOCK=1) on a fresh database.
    pub async fn start(rx: &Receivers) -> Service {
        Service::start_with(rx, rx.config_text()).await
    }

    /// Like [`Service::start`], with this config text instead of the fixture's.
    pub async fn start_with(rx: &Receivers, config_text: String) -> Service {
        let dir = tempfile::tempdir().expect("temporary directory");
        let config = dir.path().join("notify.toml");
        std::fs::write(&config, config_text).expect("writing the config");
        let db = dir.path().join("leadrouter.db");
        let mut env = rx.env();
        env.push(("LEADROUTER_TEST_CLOCK".into(), "1".into()));
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .build()
            .expect("HTTP client");
        let mut s = Service {
            child: None,
            url: String::new(),
            dir,
            config,
            db,
            env,
            command: String::new(),
            logs: Arc::default(),
            http,
        };
        s.spawn().await;
        s
    }

    pub fn database_url(&self) -> String {
        format!("sqlite://{}", self.db.display())
    }

    async fn spawn(&mut self) {
        let args = [
            "serve".to_string(),
            "--config".into(),
            self.config.display().to_string(),
            "--database".into(),
            self.database_url(),
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        let mut cmd = tokio::process::Command::new(binary());
        cmd.args(&args)
            .env("LEADROUTER_ADMIN_KEYS", ADMIN_KEY)
            .env("LEADROUTER_INTAKE_KEYS", INTAKE_KEY)
            .env_remove("LEADROUTER_CONFIG")
            .env_remove("LEADROUTER_DATABASE_URL")
            .env_remove("LEADROUTER_LISTEN")
            .env_remove("LEADROUTER_LOG")
            .env_remove("HTTP_PROXY")
            .env_remove("HTTPS_PROXY")
            .env_remove("http_proxy")
            .env_remove("https_proxy")
            .env_remove("ALL_PROXY")
            .env_remove("all_proxy")
            .envs(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        self.command = format!(
            "{} {} {}",
            self.env
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(" "),
            binary(),
            args.join(" ")
        );
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{}`: {e}", self.command));
        let (tx, rx) = tokio::sync::oneshot::channel::<String>();
        let stdout = child.stdout.take().expect("stdout is piped");
        let logs = self.logs.clone();
        let run = format!("--- run {} (pid {:?}) ---\n", binary(), child.id());
        lock(&logs).push_str(&run);
        tokio::spawn(async move {
            let mut tx = Some(tx);
            let mut lines = BufReader::new(stdout).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                lock(&logs).push_str(&format!("[stdout] {line}\n"));
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let logs = self.logs.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 8192];
            loop {
                match stderr.read(&mut buf).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => lock(&logs).push_str(&String::from_utf8_lossy(&buf[..n])),
                }
            }
        });
        self.child = Some(child);
        match tokio::time::timeout(Duration::from_secs(60), rx).await {
            Ok(Ok(url)) if url.starts_with("http://") => self.url = url,
            other => self.fail(&format!(
                "the server did not print `leadrouter listening on …` ({other:?})"
            )),
        }
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self
                .http
                .get(format!("{}/healthz", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            if Instant::now() > deadline {
                self.fail("/healthz did not answer within 30 s");
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().and_then(|c| c.id())
    }

    /// SIGKILL the server and wait for it to be gone.
    pub async fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.start_kill().expect("sending SIGKILL");
            let status = c.wait().await.expect("waiting for the killed server");
            lock(&self.logs).push_str(&format!("--- killed: {status} ---\n"));
        }
    }

    /// SIGKILL, then start again on the same config and database (the test clock starts
    /// again at the real time).
    pub async fn restart(&mut self) {
        self.kill9().await;
        self.spawn().await;
    }

    pub fn logs(&self) -> String {
        let logs = lock(&self.logs).clone();
        // Keep failure output readable: the tail is what matters.
        let tail = if logs.len() > 60_000 {
            let mut start = logs.len() - 60_000;
            while !logs.is_char_boundary(start) {
                start += 1;
            }
            format!("… ({} bytes before)\n{}", start, &logs[start..])
        } else {
            logs
        };
        format!(
            "--- server command ---\n{}\n--- server output ---\n{tail}",
            self.command
        )
    }

    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.logs())
    }

    pub fn check(&self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(&msg());
        }
    }

    async fn request(
        &self,
        method: reqwest::Method,
        path: &str,
        key: &str,
        body: Option<&Value>,
    ) -> (u16, String) {
        let mut rb = self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .bearer_auth(key);
        if let Some(b) = body {
            rb = rb.json(b);
        }
        match rb.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let text = r.text().await.unwrap_or_default();
                (status, text)
            }
            Err(e) => self.fail(&format!("{method} {path}: request failed: {e}")),
        }
    }

    /// An admin call that must answer `expect`; returns the JSON body.
    pub async fn admin(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
        expect: u16,
    ) -> Value {
        let (status, text) = self.request(method.clone(), path, ADMIN_KEY, body).await;
        if status != expect {
            self.fail(&format!(
                "{method} {path} {}: expected HTTP {expect}, got {status}: {text}",
                body.map(|b| b.to_string()).unwrap_or_default()
            ));
        }
        serde_json::from_str(&text).unwrap_or(Value::Null)
    }

    /// `POST /v1/leads`; expects 201 and returns the decision.
    pub async fn submit(&self, lead: &Value) -> Value {
        let (status, text) = self
            .request(reqwest::Method::POST, "/v1/leads", INTAKE_KEY, Some(lead))
            .await;
        if status != 201 {
            self.fail(&format!(
                "POST /v1/leads {lead}: expected 201, got {status}: {text}"
            ));
        }
        serde_json::from_str(&text).expect("decision JSON")
    }

    /// `GET /v1/leads/{id}`: the lead with `history`, `messages` and `sla_timers`.
    pub async fn lead(&self, id: &str) -> Value {
        self.admin(reqwest::Method::GET, &format!("/v1/leads/{id}"), None, 200)
            .await
    }

    /// Move the test clock forward, e.g. "10m".
    pub async fn advance(&self, by: &str) -> Value {
        self.admin(
            reqwest::Method::POST,
            "/v1/admin/clock",
            Some(&json!({ "advance": by })),
            200,
        )
        .await
    }

    pub async fn dead_letters(&self) -> Vec<Value> {
        let v = self
            .admin(reqwest::Method::GET, "/v1/outbox/dead", None, 200)
            .await;
        v["dead_letters"].as_array().cloned().unwrap_or_default()
    }

    pub async fn metrics(&self) -> String {
        let (status, text) = self
            .request(reqwest::Method::GET, "/metrics", ADMIN_KEY, None)
            .await;
        self.check(status == 200, || format!("GET /metrics: {status}: {text}"));
        text
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
                self.fail(&format!(
                    "timed out after {timeout:?} waiting for lead {id}: {what}\n--- lead ---\n{}",
                    serde_json::to_string_pretty(&l).unwrap_or_default()
                ));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// A public page (no key): GET or POST `path`, returns status and body.
    pub async fn page(&self, method: reqwest::Method, path: &str) -> (u16, String) {
        match self
            .http
            .request(method.clone(), format!("{}{path}", self.url))
            .send()
            .await
        {
            Ok(r) => {
                let s = r.status().as_u16();
                (s, r.text().await.unwrap_or_default())
            }
            Err(e) => self.fail(&format!("{method} {path}: {e}")),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        if let Some(c) = self.child.as_mut() {
            let _ = c.start_kill();
        }
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
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

pub fn owner_id(v: &Value) -> Option<String> {
    match &v["owner"] {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
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
