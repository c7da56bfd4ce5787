//! The one way tests run the real `leadrouter serve`: [`ServeOptions`] (binary, config,
//! database, environment, clock, keys) → [`Server`], started on port 0 in a temporary
//! directory of its own. The server's port comes from its `leadrouter listening on …`
//! line; it is ready once `/healthz` answers. It can be signalled, killed with SIGKILL
//! and restarted on the same database, and it is killed when dropped.
//!
//! Tests talk to it over HTTP with [`Server::call`] and its shorthands (see
//! [`crate::call`]); a failure prints the server's command line, stdout and stderr, so a
//! red test explains itself.
//!
//! The binary's path comes from the test crate (`env!("CARGO_BIN_EXE_leadrouter")`):
//! Cargo only tells the crate that owns a binary where it is.

use crate::call::Call;
use crate::{lock, tail};
use reqwest::Method;
use serde_json::Value;
use std::io::{BufRead, BufReader, Read, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub const ADMIN_KEY: &str = "test-admin-key-0123456789";
pub const INTAKE_KEY: &str = "test-intake-key-0123456789";

/// Variables of the test's own environment that would change what the server does; they
/// are removed unless [`ServeOptions::env`] sets them (proxies too: every call is local).
const INHERITED_ENV: [&str; 12] = [
    "LEADROUTER_CONFIG",
    "LEADROUTER_DATABASE_URL",
    "LEADROUTER_LISTEN",
    "LEADROUTER_LOG",
    "LEADROUTER_TEST_CLOCK",
    "LEADROUTER_CONSOLE_USERS",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "http_proxy",
    "https_proxy",
    "ALL_PROXY",
    "all_proxy",
];

/// How long the server may take to print its address, and then to answer `/healthz`
/// (a busy shared machine can be slow to start a debug binary).
const LISTEN_WITHIN: Duration = Duration::from_secs(60);
const HEALTHY_WITHIN: Duration = Duration::from_secs(30);
/// Failure output keeps the end of long logs.
const LOG_TAIL: usize = 60_000;

/// Where the server keeps its data.
#[derive(Debug, Clone)]
pub enum Database {
    /// A fresh SQLite file in the server's temporary directory, kept across restarts.
    FreshSqlite,
    /// This URL: a [`crate::TestDb`], or a database several servers share.
    Url(String),
}

/// Which clock the server reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Clock {
    Real,
    /// `LEADROUTER_TEST_CLOCK=1`: starts at the real time; `POST /v1/admin/clock` moves it.
    Test,
}

/// Everything that decides how `leadrouter serve` runs in a test.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub binary: PathBuf,
    /// `--config`; `None` gives no `--config` at all (the binary's embedded demo).
    pub config: Option<PathBuf>,
    pub database: Database,
    /// Extra variables, set last (they win over the keys and the clock).
    pub env: Vec<(String, String)>,
    pub clock: Clock,
    pub admin_key: String,
    pub intake_key: String,
}

impl ServeOptions {
    /// `binary` serving `config` on a fresh SQLite database, real clock, the test keys.
    pub fn new(binary: impl Into<PathBuf>, config: impl Into<PathBuf>) -> ServeOptions {
        ServeOptions {
            binary: binary.into(),
            config: Some(config.into()),
            database: Database::FreshSqlite,
            env: Vec::new(),
            clock: Clock::Real,
            admin_key: ADMIN_KEY.to_string(),
            intake_key: INTAKE_KEY.to_string(),
        }
    }

    /// `binary` with no `--config`: what a user gets from `leadrouter serve` alone.
    pub fn embedded_demo(binary: impl Into<PathBuf>) -> ServeOptions {
        ServeOptions {
            config: None,
            ..ServeOptions::new(binary, "")
        }
    }

    pub fn database(mut self, url: impl Into<String>) -> Self {
        self.database = Database::Url(url.into());
        self
    }

    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn envs(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        self.env.extend(vars);
        self
    }

    pub fn clock(mut self, clock: Clock) -> Self {
        self.clock = clock;
        self
    }
}

/// What the server printed, over all its runs, and the command line of the last one.
#[derive(Clone, Default)]
struct Output {
    command: Arc<Mutex<String>>,
    stdout: Arc<Mutex<String>>,
    stderr: Arc<Mutex<String>>,
}

impl Output {
    fn logs(&self) -> String {
        format!(
            "--- server command ---\n{}\n--- server stdout ---\n{}--- server stderr ---\n{}",
            lock(&self.command),
            tail(&lock(&self.stdout), LOG_TAIL),
            tail(&lock(&self.stderr), LOG_TAIL)
        )
    }

    fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\n{}", self.logs())
    }
}

/// One way of starting the process, cloned into a blocking task by the async callers.
#[derive(Clone)]
struct Launch {
    opts: ServeOptions,
    dir: PathBuf,
    database_url: String,
    output: Output,
}

impl Launch {
    fn command(&self) -> (Command, String) {
        let config = self
            .opts
            .config
            .iter()
            .flat_map(|c| ["--config".to_string(), c.display().to_string()]);
        let args: Vec<String> = std::iter::once("serve".to_string())
            .chain(config)
            .chain([
                "--database".into(),
                self.database_url.clone(),
                "--listen".into(),
                "127.0.0.1:0".into(),
            ])
            .collect();
        let mut env = vec![
            (
                "LEADROUTER_ADMIN_KEYS".to_string(),
                self.opts.admin_key.clone(),
            ),
            (
                "LEADROUTER_INTAKE_KEYS".to_string(),
                self.opts.intake_key.clone(),
            ),
        ];
        if self.opts.clock == Clock::Test {
            env.push(("LEADROUTER_TEST_CLOCK".into(), "1".into()));
        }
        env.extend(self.opts.env.iter().cloned());
        let mut cmd = Command::new(&self.opts.binary);
        cmd.args(&args);
        for k in INHERITED_ENV {
            cmd.env_remove(k);
        }
        cmd.envs(env.iter().map(|(k, v)| (k, v)))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let shown: Vec<String> = env.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let shown = format!(
            "{} {} {}",
            shown.join(" "),
            self.opts.binary.display(),
            args.join(" ")
        );
        (cmd, shown)
    }

    /// Start the process and wait until it serves `/healthz`; panics with the logs if it
    /// does not. Blocking.
    fn run(&self) -> (Child, String) {
        let (mut cmd, command) = self.command();
        *lock(&self.output.command) = command.clone();
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start `{command}`: {e}"));
        if !lock(&self.output.stdout).is_empty() || !lock(&self.output.stderr).is_empty() {
            let marker = format!("--- restarted (pid {}) ---\n", child.id());
            lock(&self.output.stdout).push_str(&marker);
            lock(&self.output.stderr).push_str(&marker);
        }
        let (tx, rx) = mpsc::channel::<String>();
        let stdout = child.stdout.take().expect("stdout is piped");
        let buf = self.output.stdout.clone();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                let mut b = lock(&buf);
                b.push_str(&line);
                b.push('\n');
                if let Some(rest) = line.split("listening on ").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(rest.split_whitespace().next().unwrap_or("").to_string());
                }
            }
        });
        let mut stderr = child.stderr.take().expect("stderr is piped");
        let buf = self.output.stderr.clone();
        let stderr_reader: JoinHandle<()> = std::thread::spawn(move || {
            let mut chunk = [0u8; 8192];
            loop {
                match stderr.read(&mut chunk) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => lock(&buf).push_str(&String::from_utf8_lossy(&chunk[..n])),
                }
            }
        });
        let url = match rx.recv_timeout(LISTEN_WITHIN) {
            Ok(url) if url.starts_with("http://") => url,
            Ok(other) => self.give_up(
                child,
                stderr_reader,
                &format!("unexpected listen line: {other:?}"),
            ),
            Err(mpsc::RecvTimeoutError::Timeout) => self.give_up(
                child,
                stderr_reader,
                &format!(
                    "the server did not print `leadrouter listening on …` within {LISTEN_WITHIN:?}"
                ),
            ),
            Err(mpsc::RecvTimeoutError::Disconnected) => self.give_up(
                child,
                stderr_reader,
                "the server closed stdout without printing `leadrouter listening on …`",
            ),
        };
        let deadline = Instant::now() + HEALTHY_WITHIN;
        while !healthy(&url) {
            if let Ok(Some(status)) = child.try_wait() {
                self.give_up(
                    child,
                    stderr_reader,
                    &format!("the server exited with {status} before /healthz answered"),
                );
            }
            if Instant::now() > deadline {
                self.give_up(
                    child,
                    stderr_reader,
                    &format!("/healthz did not answer within {HEALTHY_WITHIN:?}"),
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        (child, url)
    }

    /// Stop a start that went wrong and fail with everything the process wrote (its
    /// stderr reader is joined first, so nothing written before it died is missing).
    fn give_up(&self, mut child: Child, stderr_reader: JoinHandle<()>, msg: &str) -> ! {
        let _ = child.kill();
        let status = match child.wait() {
            Ok(s) => s.to_string(),
            Err(e) => format!("not known: {e}"),
        };
        let _ = stderr_reader.join();
        self.output.fail(&format!("{msg} ({status})"))
    }
}

/// `GET /healthz` answered 200, over a plain socket so that this works (and blocks only
/// the calling thread) in sync and async tests alike.
fn healthy(url: &str) -> bool {
    let Some(addr) = url
        .strip_prefix("http://")
        .and_then(|a| a.trim_end_matches('/').parse::<SocketAddr>().ok())
    else {
        return false;
    };
    let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(2)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = s.set_write_timeout(Some(Duration::from_secs(2)));
    let request = format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n");
    if s.write_all(request.as_bytes()).is_err() {
        return false;
    }
    let mut status_line = [0u8; 12];
    s.read_exact(&mut status_line).is_ok() && &status_line == b"HTTP/1.1 200"
}

/// A running `leadrouter serve`.
pub struct Server {
    /// Base URL, e.g. `http://127.0.0.1:41234`.
    pub url: String,
    launch: Launch,
    child: Option<Child>,
    blocking: OnceLock<reqwest::blocking::Client>,
    http: OnceLock<reqwest::Client>,
    // Last: removed after the process is gone.
    _dir: tempfile::TempDir,
}

impl Server {
    /// Start and wait until `/healthz` answers. Blocks the calling thread (up to 90 s
    /// on a busy machine); async tests use [`Server::start_async`].
    pub fn start(opts: ServeOptions) -> Server {
        let dir = tempfile::tempdir().expect("creating a temporary directory");
        let database_url = match &opts.database {
            Database::FreshSqlite => {
                format!("sqlite://{}", dir.path().join("leadrouter.db").display())
            }
            Database::Url(url) => url.clone(),
        };
        let launch = Launch {
            opts,
            dir: dir.path().to_path_buf(),
            database_url,
            output: Output::default(),
        };
        let (child, url) = launch.run();
        Server {
            url,
            launch,
            child: Some(child),
            blocking: OnceLock::new(),
            http: OnceLock::new(),
            _dir: dir,
        }
    }

    /// [`Server::start`] on a blocking thread, leaving the test's runtime free.
    pub async fn start_async(opts: ServeOptions) -> Server {
        join(tokio::task::spawn_blocking(move || Server::start(opts)).await)
    }

    /// Start several servers at once on the same options (they race on the migrations,
    /// as real instances do).
    pub async fn start_many(n: usize, opts: &ServeOptions) -> Vec<Server> {
        let starts: Vec<_> = (0..n)
            .map(|_| tokio::spawn(Server::start_async(opts.clone())))
            .collect();
        let mut servers = Vec::with_capacity(n);
        for s in starts {
            servers.push(join(s.await));
        }
        servers
    }

    pub fn options(&self) -> &ServeOptions {
        &self.launch.opts
    }

    /// The database URL the server was given (a fresh SQLite file unless set).
    pub fn database_url(&self) -> &str {
        &self.launch.database_url
    }

    /// The server's working directory (also where its fresh SQLite file lives).
    pub fn dir(&self) -> &Path {
        &self.launch.dir
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.as_ref().map(Child::id)
    }

    /// Send a signal with the system `kill` command (no extra crates for one syscall).
    pub fn signal(&self, signal: &str) {
        let pid = self
            .pid()
            .unwrap_or_else(|| self.fail("signal: the server is not running"));
        let status = Command::new("kill")
            .args([format!("-{signal}"), pid.to_string()])
            .status()
            .expect("running kill");
        if !status.success() {
            self.fail(&format!("kill -{signal} {pid} failed"));
        }
    }

    /// SIGKILL (std's `Child::kill` on Unix) and reap: no graceful shutdown, no flush.
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            if let Ok(status) = c.wait() {
                lock(&self.launch.output.stderr).push_str(&format!("--- killed: {status} ---\n"));
            }
        }
    }

    /// SIGKILL if running, then start again with the same options on the same database
    /// (a test clock starts again at the real time). Blocking.
    pub fn restart(&mut self) {
        self.kill();
        let (child, url) = self.launch.run();
        self.child = Some(child);
        self.url = url;
    }

    /// [`Server::restart`] on a blocking thread.
    pub async fn restart_async(&mut self) {
        self.kill();
        let launch = self.launch.clone();
        let (child, url) = join(tokio::task::spawn_blocking(move || launch.run()).await);
        self.child = Some(child);
        self.url = url;
    }

    /// Everything the server wrote to stdout, over all runs.
    pub fn stdout(&self) -> String {
        lock(&self.launch.output.stdout).clone()
    }

    /// Everything the server wrote to stderr (its logs), over all runs.
    pub fn stderr(&self) -> String {
        lock(&self.launch.output.stderr).clone()
    }

    /// The demo admin's console password, which `serve` prints on stderr when no console
    /// users are configured. Waited for (up to 10 s): the server prints it before the
    /// line with its address, but stderr and stdout are read by different threads, so
    /// the address can be seen first.
    pub fn demo_password(&self) -> String {
        const LINE: &str = "console login for this run: admin / ";
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        loop {
            let err = self.stderr();
            if let Some(p) = err
                .split(LINE)
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
            {
                return p.to_string();
            }
            if std::time::Instant::now() > deadline {
                self.fail("serve did not print the demo console login");
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }

    /// Command line, stdout and stderr of the server, for failure messages.
    pub fn logs(&self) -> String {
        self.launch.output.logs()
    }

    /// Panic with `msg` and everything the server said.
    pub fn fail(&self, msg: &str) -> ! {
        self.launch.output.fail(msg)
    }

    /// Assert with the server's logs on failure.
    pub fn check(&self, ok: bool, msg: impl FnOnce() -> String) {
        if !ok {
            self.fail(&msg());
        }
    }

    /// A blocking HTTP client (not for async code: reqwest's blocking client panics
    /// inside a runtime). Redirects are not followed: tests look at the 303s.
    pub fn blocking_client(&self) -> &reqwest::blocking::Client {
        self.blocking.get_or_init(|| {
            reqwest::blocking::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .build()
                .expect("building the HTTP client")
        })
    }

    /// The async HTTP client, with the same policy as [`Server::blocking_client`].
    pub fn http(&self) -> &reqwest::Client {
        self.http.get_or_init(|| {
            reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .timeout(Duration::from_secs(60))
                .pool_max_idle_per_host(64)
                .build()
                .expect("building the HTTP client")
        })
    }

    pub fn call(&self, method: Method, path: &str) -> Call<'_> {
        Call::new(self, method, path)
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
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!("{}", self.logs());
        }
    }
}

/// The value of a blocking task, or its panic carried on into the test.
fn join<T>(r: Result<T, tokio::task::JoinError>) -> T {
    r.unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()))
}

/// The owner id a decision or stored lead names (`owner.id` or `owner`), if any.
pub fn owner_of(v: &Value) -> Option<String> {
    match &v["owner"] {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => o.get("id").and_then(Value::as_str).map(str::to_string),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    /// A stand-in for the binary: a shell script with this body.
    fn script(dir: &Path, body: &str) -> PathBuf {
        let path = dir.join("fake-leadrouter");
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        path
    }

    #[test]
    fn a_server_that_exits_at_start_fails_with_its_command_and_output() {
        let dir = tempfile::tempdir().unwrap();
        let bin = script(
            dir.path(),
            "echo \"starting with $*\"; echo 'config.toml:3: unknown key' >&2; exit 2",
        );
        let opts = ServeOptions::new(&bin, "config.toml")
            .env("EXTRA", "1")
            .clock(Clock::Test);
        let err = std::panic::catch_unwind(|| drop(Server::start(opts))).expect_err("start fails");
        let msg = err.downcast_ref::<String>().expect("a message");
        for needle in [
            "without printing `leadrouter listening on …`",
            "--- server command ---",
            "LEADROUTER_TEST_CLOCK=1 EXTRA=1",
            "serve --config config.toml --database sqlite://",
            "--- server stdout ---\nstarting with serve --config config.toml",
            "--- server stderr ---\nconfig.toml:3: unknown key",
            "exit status: 2",
        ] {
            assert!(msg.contains(needle), "missing {needle:?} in:\n{msg}");
        }
    }

    #[test]
    fn the_options_decide_the_server_environment() {
        let dir = tempfile::tempdir().unwrap();
        let bin = script(
            dir.path(),
            "echo \"log=[$LEADROUTER_LOG] clock=[$LEADROUTER_TEST_CLOCK] admin=[$LEADROUTER_ADMIN_KEYS]\" >&2; exit 1",
        );
        let opts = ServeOptions::new(&bin, "c.toml").env("LEADROUTER_LOG", "debug");
        let err = std::panic::catch_unwind(|| drop(Server::start(opts))).expect_err("start fails");
        let msg = err.downcast_ref::<String>().expect("a message");
        assert!(
            msg.contains(&format!("log=[debug] clock=[] admin=[{ADMIN_KEY}]")),
            "{msg}"
        );
    }
}
