//! Harness for the end-to-end tests: runs the real `leadrouter` binary and talks to it
//! over HTTP, the way a web form, a CRM or an operator would.
//!
//! [`Server`] starts `leadrouter serve` on port 0 with a fresh SQLite file, reads the
//! chosen port from its stdout, waits for `/healthz` and kills the process on drop.
//! Every failed expectation prints the request, the response and the server's command
//! line, stdout and stderr, so a red test explains itself (ripgrep's `TestCommand` idea).
//! [`Cli`] does the same for one-shot commands such as `leadrouter import`.

#![allow(dead_code)]

use reqwest::Method;
use reqwest::blocking::{Client, RequestBuilder};
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

pub const ADMIN_KEY: &str = "e2e-admin-key";
pub const INTAKE_KEY: &str = "e2e-intake-key";

/// The path of the `leadrouter` binary Cargo built for these tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_leadrouter")
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The deterministic test config: reps without working hours, a two-rep round robin.
pub fn e2e_config() -> PathBuf {
    fixture("e2e.toml")
}

/// A running `leadrouter serve`.
pub struct Server {
    child: Child,
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    command: String,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
    client: Client,
    _dir: tempfile::TempDir,
}

impl Server {
    /// Start on the deterministic test config.
    pub fn start() -> Server {
        Server::start_with_config(&e2e_config())
    }

    /// Start on `config` with a fresh SQLite database in a temporary directory.
    pub fn start_with_config(config: &Path) -> Server {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let db = dir.path().join("leadrouter.db");
        let database = format!("sqlite://{}", db.display());
        let args = [
            "serve".to_string(),
            "--config".into(),
            config.display().to_string(),
            "--database".into(),
            database,
            "--listen".into(),
            "127.0.0.1:0".into(),
        ];
        let mut cmd = Command::new(binary());
        cmd.args(&args)
            .env("LEADROUTER_ADMIN_KEYS", ADMIN_KEY)
            .env("LEADROUTER_INTAKE_KEYS", INTAKE_KEY)
            .env_remove("LEADROUTER_CONFIG")
            .env_remove("LEADROUTER_DATABASE_URL")
            .env_remove("LEADROUTER_LISTEN")
            .env_remove("LEADROUTER_LOG")
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let command = format!(
            "LEADROUTER_ADMIN_KEYS={ADMIN_KEY} LEADROUTER_INTAKE_KEYS={INTAKE_KEY} {} {}",
            binary(),
            args.join(" ")
        );
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));

        let stdout = Arc::new(Mutex::new(String::new()));
        let stderr = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel::<String>();
        {
            let pipe = child.stdout.take().expect("stdout is piped");
            let buf = stdout.clone();
            std::thread::spawn(move || {
                for line in BufReader::new(pipe).lines() {
                    let Ok(line) = line else { break };
                    lock(&buf).push_str(&line);
                    lock(&buf).push('\n');
                    if let Some(rest) = line.split("listening on ").nth(1) {
                        let url = rest.split_whitespace().next().unwrap_or("").to_string();
                        let _ = tx.send(url);
                    }
                }
            });
        }
        {
            let mut pipe = child.stderr.take().expect("stderr is piped");
            let buf = stderr.clone();
            std::thread::spawn(move || {
                let mut chunk = [0u8; 4096];
                loop {
                    match pipe.read(&mut chunk) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => lock(&buf).push_str(&String::from_utf8_lossy(&chunk[..n])),
                    }
                }
            });
        }
        let client = Client::builder()
            // A browser would follow the 303; the tests look at it instead.
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(60))
            .build()
            .expect("building the HTTP client");
        let mut server = Server {
            child,
            url: String::new(),
            command,
            stdout,
            stderr,
            client,
            _dir: dir,
        };
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) if url.starts_with("http://") => server.url = url,
            Ok(other) => server.fail(&format!("unexpected listen line: {other:?}")),
            Err(_) => server.fail("the server did not print `leadrouter listening on …`"),
        }
        server.wait_healthy();
        server
    }

    fn wait_healthy(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ok = self
                .client
                .get(format!("{}/healthz", self.url))
                .timeout(Duration::from_secs(2))
                .send()
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return;
            }
            if let Ok(Some(status)) = self.child.try_wait() {
                self.fail(&format!("the server exited with {status} before /healthz"));
            }
            if Instant::now() > deadline {
                self.fail("/healthz did not answer within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Send a signal with the system `kill` command (no extra crates for one syscall).
    pub fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill -{signal} {} failed", self.pid());
    }

    pub fn stderr(&self) -> String {
        lock(&self.stderr).clone()
    }

    /// Command line, stdout and stderr of the server, for failure messages.
    pub fn logs(&self) -> String {
        format!(
            "--- server command ---\n{}\n--- server stdout ---\n{}--- server stderr ---\n{}",
            self.command,
            lock(&self.stdout),
            lock(&self.stderr)
        )
    }

    /// Panic with `msg` and everything the server said.
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.logs())
    }

    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        let url = format!("{}{path}", self.url);
        Call {
            server: self,
            desc: format!("{method} {path}"),
            rb: self.client.request(method, url),
            body_desc: String::new(),
        }
    }

    pub fn get(&self, path: &str) -> Call<'_> {
        self.call(Method::GET, path)
    }

    pub fn post(&self, path: &str) -> Call<'_> {
        self.call(Method::POST, path)
    }

    pub fn put(&self, path: &str) -> Call<'_> {
        self.call(Method::PUT, path)
    }

    /// `POST /v1/leads` with the intake key; expects 201 and returns the decision.
    pub fn submit(&self, lead: &Value) -> Value {
        self.post("/v1/leads")
            .intake()
            .json(lead)
            .send()
            .expect_status(201)
            .json()
    }

    /// `GET /v1/leads/{id}` with the admin key; expects 200.
    pub fn lead(&self, id: &str) -> Value {
        self.get(&format!("/v1/leads/{id}"))
            .admin()
            .send()
            .expect_status(200)
            .json()
    }

    /// The owner id a decision or stored lead names (`owner.id` or `owner`), if any.
    pub fn owner_of(v: &Value) -> Option<String> {
        match &v["owner"] {
            Value::String(s) => Some(s.clone()),
            Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
            _ => None,
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

fn lock(m: &Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// One request being built, remembered for failure messages.
pub struct Call<'a> {
    server: &'a Server,
    desc: String,
    rb: RequestBuilder,
    body_desc: String,
}

impl<'a> Call<'a> {
    pub fn bearer(mut self, key: &str) -> Self {
        self.rb = self.rb.bearer_auth(key);
        let _ = write!(self.desc, " [Bearer {key}]");
        self
    }

    pub fn admin(self) -> Self {
        self.bearer(ADMIN_KEY)
    }

    pub fn intake(self) -> Self {
        self.bearer(INTAKE_KEY)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.rb = self.rb.header(name, value);
        let _ = write!(self.desc, " [{name}: {value}]");
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body_desc = body.to_string();
        self.rb = self.rb.json(body);
        self
    }

    /// A raw body with its content type.
    pub fn body(mut self, content_type: &str, body: impl Into<String>) -> Self {
        let body = body.into();
        self.body_desc = if body.is_empty() {
            "(empty body)".into()
        } else {
            body.clone()
        };
        self.rb = self.rb.header("content-type", content_type).body(body);
        self
    }

    pub fn send(self) -> Resp<'a> {
        let Call {
            server,
            desc,
            rb,
            body_desc,
        } = self;
        let desc = if body_desc.is_empty() {
            desc
        } else {
            format!("{desc}\n{}", truncate(&body_desc, 2000))
        };
        match rb.send() {
            Ok(r) => {
                let status = r.status().as_u16();
                let headers = r.headers().clone();
                let text = r
                    .text()
                    .unwrap_or_else(|e| server.fail(&format!("{desc}\nreading the body: {e}")));
                Resp {
                    server,
                    desc,
                    status,
                    headers,
                    text,
                }
            }
            Err(e) => server.fail(&format!("{desc}\nrequest failed: {e}")),
        }
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// A response, with the request that produced it.
pub struct Resp<'a> {
    server: &'a Server,
    pub desc: String,
    pub status: u16,
    pub headers: HeaderMap,
    pub text: String,
}

impl Resp<'_> {
    /// Panic with the request, the response and the server logs.
    pub fn fail(&self, msg: &str) -> ! {
        self.server.fail(&format!(
            "{msg}\n--- request ---\n{}\n--- response: {} ---\n{:?}\n{}",
            self.desc,
            self.status,
            self.headers,
            truncate(&self.text, 8000)
        ))
    }

    pub fn expect_status(self, status: u16) -> Self {
        if self.status != status {
            self.fail(&format!("expected HTTP {status}, got {}", self.status));
        }
        self
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text)
            .unwrap_or_else(|e| self.fail(&format!("the body is not JSON: {e}")))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Assert with the full context on failure.
    pub fn check(&self, ok: bool, what: &str) {
        if !ok {
            self.fail(what);
        }
    }
}

/// A finished one-shot command (`leadrouter import …`), ripgrep `TestCommand` style.
pub struct Cli {
    pub command: String,
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl Cli {
    pub fn run(args: &[&str]) -> Cli {
        let command = format!("{} {}", binary(), args.join(" "));
        let out = Command::new(binary())
            .args(args)
            .env_remove("LEADROUTER_URL")
            .env_remove("LEADROUTER_ADMIN_KEY")
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("cannot run `{command}`: {e}"));
        Cli {
            command,
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }

    pub fn fail(&self, msg: &str) -> ! {
        panic!(
            "{msg}\n--- command ---\n{}\n--- exit code: {:?} ---\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command, self.code, self.stdout, self.stderr
        )
    }

    pub fn expect_code(self, code: i32) -> Self {
        if self.code != Some(code) {
            self.fail(&format!("expected exit code {code}"));
        }
        self
    }

    pub fn check(&self, ok: bool, what: &str) {
        if !ok {
            self.fail(what);
        }
    }
}
