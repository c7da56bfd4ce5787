//! `leadrouter-load`: posts generated leads to an intake URL and reports what it saw.
//!
//! Closed loop (`--concurrency N`): N connections, each sending its next lead when the
//! previous answer arrives; this measures capacity. Open loop (`--rate R`): leads are due
//! at R per second whatever the server does, taken by whichever connection is free, and
//! latency counts from the time a lead was due, so a stall shows up in the percentiles
//! instead of silently slowing the client (coordinated omission). Each connection is one
//! HTTP/1.1 keep-alive connection, reconnected only after a transport error.
//!
//! It only ever talks to the loopback URL it is given, and stops by itself: every run is
//! bounded by `--duration` (at most an hour) or `--requests`, plus `--timeout`.

use anyhow::{Context, Result, bail};
use bytes::Bytes;
use clap::Parser;
use hdrhistogram::Histogram;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use leadrouter_loadtest::lead::LeadGenerator;
use leadrouter_loadtest::summary::{
    Errors, Mode, Percentiles, Summary, markdown_tables, new_histogram,
};
use serde::Deserialize;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

/// Longest run accepted, so a typo cannot leave a load running.
const MAX_DURATION: Duration = Duration::from_secs(3600);
const MAX_REQUESTS: u64 = 100_000_000;
const MAX_CONCURRENCY: usize = 4096;
const MAX_RATE: f64 = 1_000_000.0;

#[derive(Parser, Debug)]
#[command(
    name = "leadrouter-load",
    about = "Load generator for POST /v1/leads (loopback targets only)",
    after_help = "Examples:\n  \
        leadrouter-load http://127.0.0.1:8080/v1/leads --concurrency 64 --duration 10 --bearer KEY\n  \
        leadrouter-load http://127.0.0.1:8080/v1/leads --rate 1000 --duration 20 --json\n  \
        leadrouter-load --table results.jsonl --baseline bare-baseline"
)]
struct Args {
    /// Intake URL, e.g. http://127.0.0.1:8080/v1/leads. Must resolve to a loopback address.
    #[arg(required_unless_present = "table")]
    url: Option<String>,

    /// Closed loop: connections, each with one request in flight. Open loop: connections
    /// available to take due requests (default 64).
    #[arg(short, long)]
    concurrency: Option<usize>,

    /// Open loop: requests per second, due on a fixed schedule.
    #[arg(short, long)]
    rate: Option<f64>,

    /// Seconds to measure, after the warm-up. Default 10 unless --requests is given.
    #[arg(short, long)]
    duration: Option<f64>,

    /// Stop after this many measured requests (the warm-up is not counted).
    #[arg(short = 'n', long)]
    requests: Option<u64>,

    /// Seconds of load sent first and left out of the figures.
    #[arg(long, default_value_t = 0.0)]
    warmup: f64,

    /// Seconds one request may take before it counts as a timeout error.
    #[arg(long, default_value_t = 30.0)]
    timeout: f64,

    /// Sends `Authorization: Bearer KEY`.
    #[arg(long, env = "LEADROUTER_LOAD_BEARER", hide_env_values = true)]
    bearer: Option<String>,

    /// Extra header, `Name: value`; repeatable.
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,

    /// Sends a unique `Idempotency-Key` with every lead.
    #[arg(long)]
    idempotency_key: bool,

    /// Name of the target in the report, e.g. `leadrouter-sqlite`.
    #[arg(long, default_value = "target")]
    label: String,

    /// Goes into every email, so leads of different runs never dedupe. Default: random.
    #[arg(long)]
    run_id: Option<String>,

    /// Seed of the lead generator.
    #[arg(long, default_value_t = 1)]
    seed: u64,

    /// Client runtime threads. One is enough for ~50k req/s and leaves the other cores to
    /// the server under test.
    #[arg(long, default_value_t = 1)]
    threads: usize,

    /// Prints the summary as one line of JSON instead of text.
    #[arg(long)]
    json: bool,

    /// Prints markdown tables from a file of `--json` lines, then exits.
    #[arg(long, value_name = "JSONL")]
    table: Option<PathBuf>,

    /// With --table: the label whose closed-loop runs are the 1.00 of the ratio column.
    #[arg(long, default_value = "bare-baseline")]
    baseline: String,
}

/// A validated run: where to send, how, and for how long.
#[derive(Debug)]
struct Plan {
    label: String,
    url: String,
    addr: SocketAddr,
    authority: HeaderValue,
    path: Uri,
    headers: Vec<(HeaderName, HeaderValue)>,
    idempotency_key: bool,
    mode: Mode,
    concurrency: usize,
    rate: Option<f64>,
    duration: Duration,
    requests: Option<u64>,
    warmup: Duration,
    timeout: Duration,
    run_id: String,
    seed: u64,
}

fn main() -> Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.table {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading run summaries from {}", path.display()))?;
        let runs = text
            .lines()
            .filter(|l| !l.trim().is_empty())
            .enumerate()
            .map(|(i, l)| {
                serde_json::from_str::<Summary>(l)
                    .with_context(|| format!("{}:{}: not a run summary", path.display(), i + 1))
            })
            .collect::<Result<Vec<_>>>()?;
        print!("{}", markdown_tables(&runs, &args.baseline));
        return Ok(());
    }
    if args.threads == 0 || args.threads > 64 {
        bail!("--threads {} is out of range: use 1 to 64", args.threads);
    }
    let runtime = if args.threads == 1 {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.threads)
            .enable_all()
            .build()?
    };
    let json = args.json;
    let summary = runtime.block_on(async move {
        let plan = plan(args).await?;
        run(Arc::new(plan)).await
    })?;
    if json {
        // Scripts read stdout; a person watching the script still sees each run.
        eprintln!("   {}", summary.one_line());
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        print!("{}", summary.to_text());
    }
    Ok(())
}

/// Checks the arguments and resolves the target.
async fn plan(args: Args) -> Result<Plan> {
    let url = args.url.expect("clap requires a URL without --table");
    let uri: Uri = url
        .parse()
        .with_context(|| format!("URL {url:?} is not a valid URL"))?;
    if uri.scheme_str() != Some("http") {
        bail!("URL {url:?}: only http:// is supported (the target is a loopback server)");
    }
    let authority = uri
        .authority()
        .with_context(|| format!("URL {url:?} has no host"))?
        .clone();
    let host_port = match authority.port_u16() {
        Some(_) => authority.as_str().to_owned(),
        None => format!("{}:80", authority.as_str()),
    };
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host(&host_port)
        .await
        .with_context(|| format!("resolving {host_port}"))?
        .collect();
    let Some(addr) = addrs.first().copied() else {
        bail!("{host_port} resolves to no address");
    };
    if let Some(bad) = addrs.iter().find(|a| !a.ip().is_loopback()) {
        bail!(
            "URL {url:?} resolves to {bad}, which is not loopback: this tool only loads servers on this machine (127.0.0.0/8 or ::1)"
        );
    }
    let path: Uri = uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/")
        .parse()?;

    let mut headers = Vec::new();
    if let Some(key) = &args.bearer {
        let value = HeaderValue::from_str(&format!("Bearer {key}"))
            .context("--bearer: the key has characters a header cannot carry")?;
        headers.push((AUTHORIZATION, value));
    }
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .with_context(|| format!("--header {h:?}: expected `Name: value`"))?;
        let name = HeaderName::from_bytes(name.trim().as_bytes())
            .with_context(|| format!("--header {h:?}: bad header name"))?;
        let value = HeaderValue::from_str(value.trim())
            .with_context(|| format!("--header {h:?}: bad header value"))?;
        headers.push((name, value));
    }

    let mode = if args.rate.is_some() {
        Mode::Open
    } else {
        Mode::Closed
    };
    let concurrency = args.concurrency.unwrap_or(match mode {
        Mode::Closed => 1,
        Mode::Open => 64,
    });
    if concurrency == 0 || concurrency > MAX_CONCURRENCY {
        bail!("--concurrency {concurrency} is out of range: use 1 to {MAX_CONCURRENCY}");
    }
    if let Some(rate) = args.rate
        && !(rate > 0.0 && rate <= MAX_RATE)
    {
        bail!("--rate {rate} is out of range: use more than 0 and at most {MAX_RATE}");
    }
    if let Some(n) = args.requests
        && (n == 0 || n > MAX_REQUESTS)
    {
        bail!("--requests {n} is out of range: use 1 to {MAX_REQUESTS}");
    }
    let seconds = |flag: &str, s: f64| -> Result<Duration> {
        if !(s.is_finite() && s >= 0.0 && s <= MAX_DURATION.as_secs_f64()) {
            bail!(
                "{flag} {s} is out of range: use 0 to {} seconds",
                MAX_DURATION.as_secs()
            );
        }
        Ok(Duration::from_secs_f64(s))
    };
    let duration = match (args.duration, args.requests, args.rate) {
        (Some(d), _, _) => seconds("--duration", d)?,
        // Open loop with a count: the schedule ends when the count is due.
        (None, Some(n), Some(rate)) => seconds("--requests / --rate", n as f64 / rate)?,
        (None, Some(_), None) => MAX_DURATION,
        (None, None, _) => Duration::from_secs(10),
    };
    if duration.is_zero() {
        bail!("--duration must be more than 0");
    }
    let timeout = seconds("--timeout", args.timeout)?;
    if timeout.is_zero() {
        bail!("--timeout must be more than 0");
    }
    let run_id = args.run_id.unwrap_or_else(random_run_id);
    if !run_id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        bail!("--run-id {run_id:?}: use letters, digits, '-' and '_' only (it goes into emails)");
    }
    Ok(Plan {
        label: args.label,
        url,
        addr,
        authority: HeaderValue::from_str(authority.as_str())?,
        path,
        headers,
        idempotency_key: args.idempotency_key,
        mode,
        concurrency,
        rate: args.rate,
        duration,
        requests: args.requests,
        warmup: seconds("--warmup", args.warmup)?,
        timeout,
        run_id,
        seed: args.seed,
    })
}

/// Eight hex digits from the clock and the process id: distinct across runs.
fn random_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or_default();
    let mixed = (nanos ^ (u64::from(std::process::id()) << 32)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    format!("lt{:08x}", mixed >> 32)
}

/// The times that bound a run, shared by every connection.
struct Clock {
    /// Requests due before this are warm-up and not counted.
    measure_from: Instant,
    /// No request is started after this.
    deadline: Instant,
}

/// What one connection saw.
struct WorkerStats {
    ok: u64,
    errors: Errors,
    latency: Histogram<u64>,
    speed_to_assign: Histogram<u64>,
    last_done: Option<Instant>,
}

impl WorkerStats {
    fn new() -> Self {
        WorkerStats {
            ok: 0,
            errors: Errors::default(),
            latency: new_histogram(),
            speed_to_assign: new_histogram(),
            last_done: None,
        }
    }

    fn transport_error(&mut self, what: String, timed_out: bool) {
        self.errors.transport += 1;
        if timed_out {
            self.errors.timeouts += 1;
        }
        if self.errors.first.is_none() {
            self.errors.first = Some(what);
        }
    }
}

async fn run(plan: Arc<Plan>) -> Result<Summary> {
    // Fail fast, with a clear message, when nothing listens at the URL.
    connect(plan.addr)
        .await
        .with_context(|| format!("cannot connect to {} ({})", plan.url, plan.addr))?;

    let start = Instant::now();
    let clock = Arc::new(Clock {
        measure_from: start + plan.warmup,
        deadline: start + plan.warmup + plan.duration,
    });
    let claimed = Arc::new(AtomicU64::new(0));

    let due_times = match plan.mode {
        Mode::Open => Some(Arc::new(Mutex::new(schedule(&plan, &clock)))),
        Mode::Closed => None,
    };

    let mut workers = tokio::task::JoinSet::new();
    for worker in 0..plan.concurrency {
        let plan = plan.clone();
        let clock = clock.clone();
        let claimed = claimed.clone();
        let due_times = due_times.clone();
        workers.spawn(async move {
            let generator = LeadGenerator::new(&plan.run_id, worker, plan.seed);
            match due_times {
                Some(due_times) => open_worker(&plan, &clock, generator, due_times).await,
                None => closed_worker(&plan, &clock, generator, &claimed).await,
            }
        });
    }

    let mut ok = 0;
    let mut errors = Errors::default();
    let mut latency = new_histogram();
    let mut speed_to_assign = new_histogram();
    let mut last_done = clock.measure_from;
    while let Some(stats) = workers.join_next().await {
        let stats = stats.context("a load worker panicked")?;
        ok += stats.ok;
        errors.merge(&stats.errors);
        latency.add(&stats.latency)?;
        speed_to_assign.add(&stats.speed_to_assign)?;
        if let Some(done) = stats.last_done {
            last_done = last_done.max(done);
        }
    }
    let duration_s = last_done.duration_since(clock.measure_from).as_secs_f64();
    Ok(Summary {
        label: plan.label.clone(),
        url: plan.url.clone(),
        run_id: plan.run_id.clone(),
        mode: plan.mode,
        concurrency: plan.concurrency,
        target_rate: plan.rate,
        duration_s,
        requests: ok + errors.total(),
        ok,
        errors,
        throughput_rps: if duration_s > 0.0 {
            ok as f64 / duration_s
        } else {
            0.0
        },
        latency_ms: Percentiles::from_histogram(&latency),
        speed_to_assign_ms: (!speed_to_assign.is_empty())
            .then(|| Percentiles::from_histogram(&speed_to_assign)),
    })
}

/// Open loop: a thread that hands out the due time of every request, on time.
///
/// A std thread sleeps with ~0.1 ms precision where tokio's timer rounds up to whole
/// milliseconds, which at 1,000 req/s would bunch requests into bursts.
fn schedule(plan: &Plan, clock: &Clock) -> mpsc::UnboundedReceiver<Instant> {
    let (tx, rx) = mpsc::unbounded_channel();
    let rate = plan.rate.expect("open loop has a rate");
    let start = Instant::now();
    let measure_from = clock.measure_from;
    let deadline = clock.deadline;
    let limit = plan.requests.unwrap_or(u64::MAX);
    std::thread::spawn(move || {
        let mut measured = 0;
        for k in 0u64.. {
            let due = start + Duration::from_secs_f64(k as f64 / rate);
            if due >= deadline || measured >= limit {
                break;
            }
            if due >= measure_from {
                measured += 1;
            }
            let now = Instant::now();
            if due > now {
                std::thread::sleep(due - now);
            }
            if tx.send(due).is_err() {
                break;
            }
        }
    });
    rx
}

async fn closed_worker(
    plan: &Plan,
    clock: &Clock,
    mut generator: LeadGenerator,
    claimed: &AtomicU64,
) -> WorkerStats {
    let mut stats = WorkerStats::new();
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    let limit = plan.requests.unwrap_or(u64::MAX);
    loop {
        let sent = Instant::now();
        if sent >= clock.deadline {
            break;
        }
        let measured = sent >= clock.measure_from;
        if measured && claimed.fetch_add(1, Ordering::Relaxed) >= limit {
            break;
        }
        one_request(
            plan,
            &mut conn,
            &mut generator,
            sent,
            measured.then_some(&mut stats),
        )
        .await;
    }
    stats
}

async fn open_worker(
    plan: &Plan,
    clock: &Clock,
    mut generator: LeadGenerator,
    due_times: Arc<Mutex<mpsc::UnboundedReceiver<Instant>>>,
) -> WorkerStats {
    let mut stats = WorkerStats::new();
    let mut conn: Option<SendRequest<Full<Bytes>>> = None;
    loop {
        let due = { due_times.lock().await.recv().await };
        let Some(due) = due else { break };
        let measured = due >= clock.measure_from;
        // A request that would start later than its whole timeout is already failed.
        if Instant::now() > due + plan.timeout {
            if measured {
                stats.transport_error("not sent before its timeout".to_owned(), true);
            }
            continue;
        }
        one_request(
            plan,
            &mut conn,
            &mut generator,
            due,
            measured.then_some(&mut stats),
        )
        .await;
    }
    stats
}

/// Sends one lead and records the outcome, latency counted from `since`.
async fn one_request(
    plan: &Plan,
    conn: &mut Option<SendRequest<Full<Bytes>>>,
    generator: &mut LeadGenerator,
    since: Instant,
    stats: Option<&mut WorkerStats>,
) {
    let body = Bytes::from(generator.next_body());
    let mut request = Request::builder()
        .method(Method::POST)
        .uri(plan.path.clone())
        .header(HOST, plan.authority.clone())
        .header(CONTENT_TYPE, "application/json");
    for (name, value) in &plan.headers {
        request = request.header(name, value);
    }
    if plan.idempotency_key {
        request = request.header("idempotency-key", generator.current_key());
    }
    let request = request
        .body(Full::new(body))
        .expect("request parts were validated");

    let outcome = tokio::time::timeout(plan.timeout, async {
        if conn.is_none() {
            *conn = Some(connect(plan.addr).await?);
        }
        let sender = conn.as_mut().expect("just connected");
        sender.ready().await.context("connection closed")?;
        let response = sender
            .send_request(request)
            .await
            .context("sending request")?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("reading response")?
            .to_bytes();
        anyhow::Ok((status, body))
    })
    .await;
    let done = Instant::now();

    let result = match outcome {
        Ok(Ok(answer)) => Ok(answer),
        Ok(Err(e)) => Err((format!("{e:#}"), false)),
        Err(_) => Err((format!("no answer within {:?}", plan.timeout), true)),
    };
    if result.is_err() {
        // The connection's state is unknown: start over on a new one.
        *conn = None;
    }
    let Some(stats) = stats else {
        if result.is_err() {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        return;
    };
    stats.last_done = Some(done);
    match result {
        Ok((status, body)) if status.is_success() => {
            stats.ok += 1;
            let _ = stats
                .latency
                .record(done.duration_since(since).as_nanos() as u64);
            if let Some(ns) = speed_to_assign_ns(&body) {
                let _ = stats.speed_to_assign.record(ns);
            }
        }
        Ok((status, body)) => {
            stats.errors.non_2xx += 1;
            *stats.errors.by_status.entry(status.as_u16()).or_default() += 1;
            if stats.errors.first.is_none() {
                let text = String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
                stats.errors.first = Some(format!("HTTP {status}: {text}"));
            }
        }
        Err((what, timed_out)) => {
            stats.transport_error(what, timed_out);
            // Do not spin on a server that refuses connections.
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

async fn connect(addr: SocketAddr) -> Result<SendRequest<Full<Bytes>>> {
    let stream = tokio::net::TcpStream::connect(addr)
        .await
        .with_context(|| format!("connecting to {addr}"))?;
    stream.set_nodelay(true)?;
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .context("HTTP handshake")?;
    tokio::spawn(async move {
        // Ends when the sender is dropped or the server closes; errors surface on send.
        let _ = connection.await;
    });
    Ok(sender)
}

/// The two timestamps of an intake answer; other fields are skipped unparsed.
#[derive(Deserialize)]
struct AssignTimes<'a> {
    #[serde(borrow)]
    received_at: Option<&'a str>,
    #[serde(borrow)]
    routed_at: Option<&'a str>,
}

/// Server-side speed to assign, `routed_at - received_at`, when the answer carries both.
fn speed_to_assign_ns(body: &[u8]) -> Option<u64> {
    let times: AssignTimes = serde_json::from_slice(body).ok()?;
    let received: jiff::Timestamp = times.received_at?.parse().ok()?;
    let routed: jiff::Timestamp = times.routed_at?.parse().ok()?;
    let span = routed.duration_since(received);
    Some(span.as_nanos().max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn speed_to_assign_reads_rfc3339_times() {
        let body = br#"{"lead_id":"l1","owner":{"id":"ana","name":"Ana"},
            "received_at":"2026-03-01T12:00:00.000100Z","routed_at":"2026-03-01T12:00:00.001600Z",
            "trace":{"steps":[]}}"#;
        assert_eq!(speed_to_assign_ns(body), Some(1_500_000));
    }

    #[test]
    fn speed_to_assign_accepts_offsets() {
        let body = br#"{"received_at":"2026-03-01T13:00:00+01:00","routed_at":"2026-03-01T12:00:00.002Z"}"#;
        assert_eq!(speed_to_assign_ns(body), Some(2_000_000));
    }

    #[test]
    fn no_speed_to_assign_without_both_times() {
        assert_eq!(speed_to_assign_ns(br#"{"id":1}"#), None);
        assert_eq!(
            speed_to_assign_ns(br#"{"received_at":"2026-03-01T12:00:00Z"}"#),
            None
        );
        assert_eq!(speed_to_assign_ns(b"not json"), None);
    }

    #[tokio::test]
    async fn refuses_non_loopback_targets() {
        let args = Args::parse_from(["leadrouter-load", "http://10.1.2.3:8080/v1/leads"]);
        let err = plan(args).await.unwrap_err().to_string();
        assert!(err.contains("not loopback"), "{err}");
    }

    #[tokio::test]
    async fn accepts_loopback_and_defaults_to_ten_seconds() {
        let args = Args::parse_from(["leadrouter-load", "http://127.0.0.1:9/v1/leads?x=1"]);
        let plan = plan(args).await.unwrap();
        assert_eq!(plan.duration, Duration::from_secs(10));
        assert_eq!(plan.path, "/v1/leads?x=1");
        assert_eq!(plan.mode, Mode::Closed);
        assert_eq!(plan.concurrency, 1);
    }

    #[tokio::test]
    async fn open_loop_with_a_count_runs_until_the_count_is_due() {
        let args = Args::parse_from([
            "leadrouter-load",
            "http://localhost:9/v1/leads",
            "--rate",
            "500",
            "-n",
            "1000",
        ]);
        let plan = plan(args).await.unwrap();
        assert_eq!(plan.mode, Mode::Open);
        assert_eq!(plan.duration, Duration::from_secs(2));
        assert_eq!(plan.concurrency, 64);
    }
}
