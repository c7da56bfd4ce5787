//! The listener: our own accept loop over hyper's HTTP/1 server, so that the bounds a
//! service on the internet needs hold before any handler runs (issue 24, SEC-1).
//!
//! - A connection cap with a small reserve that answers only `/healthz` and `/readyz`,
//!   so probes keep answering when the cap is reached; beyond both the socket is closed
//!   at once. Accept errors (EMFILE, ENFILE, …) pause the loop briefly, never end it.
//! - hyper's header read timeout, whose timer also runs while a kept-alive connection
//!   waits for its next request: it is the header timeout and the idle timeout in one.
//! - A body read deadline (from the request's arrival, not per frame, so a trickle is
//!   cut off too) and a request timeout, both answered in the API's JSON error shape.
//! - A process-wide budget of request-body bytes in flight: bytes are counted as a
//!   handler pulls them and held until its response is ready; a request that finds the
//!   budget spent waits briefly, then gets 503.
//!
//! `/metrics` shows the budget in use and every refusal by reason ([`ListenerMetrics`]).

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, Request, Response, StatusCode, header};
use axum::response::IntoResponse;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use serde_json::json;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, ready};
use std::time::{Duration, Instant};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, TryAcquireError, watch};
use tower::ServiceExt;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The listener's bounds; `serve` takes them from `LEADROUTER_*` variables (see
/// docs/operations.md), and `Default` is what those variables default to.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Connections served in full at once.
    pub max_connections: usize,
    /// Further connections that may only ask `/healthz` or `/readyz`.
    pub health_connections: usize,
    /// Time to receive a request's headers, counted from when the connection starts
    /// waiting for one: bounds slow headers and idle kept-alive connections alike.
    pub header_timeout: Duration,
    /// Time to receive a whole request body, from the request's arrival.
    pub body_timeout: Duration,
    /// Time from a request's arrival to its response (body reading included).
    pub request_timeout: Duration,
    /// Request-body bytes held in flight across all connections.
    pub body_budget_bytes: usize,
    /// How long a request waits for budget before it is refused with 503.
    pub body_budget_wait: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 1024,
            health_connections: 16,
            header_timeout: Duration::from_secs(10),
            body_timeout: Duration::from_secs(60),
            request_timeout: Duration::from_secs(90),
            body_budget_bytes: 64 << 20,
            body_budget_wait: Duration::from_secs(1),
        }
    }
}

/// The reserve's own header timeout: a probe sends its request at once, and an
/// attacker who fills the reserve too must not hold it long.
const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);
/// Pause after an accept error that means "out of descriptors or memory": retrying at
/// once would spin a core while nothing can change.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Why the listener turned a connection or request away
/// (`leadrouter_listener_refused_total{reason}`).
#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RefusedLabels {
    reason: &'static str,
}

/// The listener's figures on `/metrics`: request-body bytes held against the budget
/// (read from the budget at each scrape) and refusals by reason — `connection_cap`
/// (socket closed at once), `health_only` (503 from the reserve), `body_timeout` (408),
/// `body_budget` (503) and `request_timeout` (503).
#[derive(Clone, Debug)]
pub struct ListenerMetrics {
    budget: Arc<Semaphore>,
    budget_total: usize,
    refused: Family<RefusedLabels, Counter>,
}

impl ListenerMetrics {
    /// The budget `limits` allow, with its counters registered on `metrics`.
    pub fn new(limits: &Limits, metrics: &crate::metrics::Metrics) -> ListenerMetrics {
        let budget_total = limits.body_budget_bytes.min(Semaphore::MAX_PERMITS);
        let m = ListenerMetrics {
            budget: Arc::new(Semaphore::new(budget_total)),
            budget_total,
            refused: Family::default(),
        };
        metrics.register(
            "listener_refused",
            "Connections and requests the listener turned away, by reason",
            m.refused.clone(),
        );
        metrics.register_collector(Box::new(m.clone()));
        m
    }

    fn refuse(&self, reason: &'static str) {
        self.refused.get_or_create(&RefusedLabels { reason }).inc();
    }
}

impl prometheus_client::collector::Collector for ListenerMetrics {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let total = self.budget_total as i64;
        let in_use = total - self.budget.available_permits() as i64;
        for (name, help, v) in [
            (
                "request_body_bytes_in_flight",
                "Request-body bytes held against the budget now",
                in_use,
            ),
            (
                "request_body_budget_bytes",
                "The budget of request-body bytes in flight",
                total,
            ),
        ] {
            ConstGauge::new(v).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        Ok(())
    }
}

/// Serve `app` on `listener` until `shutdown` completes, then stop accepting, ask each
/// open connection to finish its request in progress, and wait for them all (as
/// `axum::serve`'s graceful shutdown did).
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: Limits,
    metrics: ListenerMetrics,
    shutdown: impl Future<Output = ()>,
) {
    let general = Arc::new(Semaphore::new(limits.max_connections));
    let reserve = Arc::new(Semaphore::new(limits.health_connections));
    let ctx = Arc::new(RequestLimits {
        budget: metrics.budget.clone(),
        budget_total: metrics.budget_total,
        limits: limits.clone(),
        metrics,
    });
    let (stop_tx, stop_rx) = watch::channel(());
    let mut refused_logged: Option<Instant> = None;
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    if !is_per_connection_error(&e) {
                        tracing::error!(error = %e, "accept failed; pausing before the next accept");
                        tokio::time::sleep(ACCEPT_BACKOFF).await;
                    }
                    continue;
                }
            },
        };
        let (kind, permit) = if let Ok(p) = general.clone().try_acquire_owned() {
            (Kind::Full, p)
        } else if let Ok(p) = reserve.clone().try_acquire_owned() {
            (Kind::HealthOnly, p)
        } else {
            // Closing at once frees the descriptor; a client sees a reset and retries.
            ctx.metrics.refuse("connection_cap");
            if refused_logged.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                tracing::warn!(
                    max_connections = limits.max_connections,
                    health_connections = limits.health_connections,
                    "connection limit reached; closing new connections"
                );
                refused_logged = Some(Instant::now());
            }
            drop(stream);
            continue;
        };
        tokio::spawn(serve_connection(
            stream,
            peer,
            kind,
            permit,
            app.clone(),
            ctx.clone(),
            stop_rx.clone(),
        ));
    }
    drop(listener);
    drop(stop_rx);
    let _ = stop_tx.send(());
    // Resolves when every connection task has dropped its receiver.
    stop_tx.closed().await;
}

/// Errors about one connection (it was reset before we took it, …): take the next.
fn is_per_connection_error(e: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        e.kind(),
        ConnectionAborted | ConnectionReset | ConnectionRefused | Interrupted | WouldBlock
    )
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Full,
    HealthOnly,
}

struct RequestLimits {
    limits: Limits,
    budget: Arc<Semaphore>,
    budget_total: usize,
    metrics: ListenerMetrics,
}

async fn serve_connection(
    stream: TcpStream,
    peer: std::net::SocketAddr,
    kind: Kind,
    _permit: OwnedSemaphorePermit,
    app: Router,
    ctx: Arc<RequestLimits>,
    mut stop: watch::Receiver<()>,
) {
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder.timer(TokioTimer::new());
    match kind {
        Kind::Full => builder.header_read_timeout(ctx.limits.header_timeout),
        Kind::HealthOnly => builder
            .header_read_timeout(ctx.limits.header_timeout.min(RESERVE_HEADER_TIMEOUT))
            .keep_alive(false),
    };
    let service = hyper::service::service_fn(move |mut req: Request<Incoming>| {
        // Handlers that key limits by client address (console login) read it as axum's
        // `ConnectInfo`, as `into_make_service_with_connect_info` would provide.
        req.extensions_mut()
            .insert(axum::extract::ConnectInfo(peer));
        handle(req, kind, app.clone(), ctx.clone())
    });
    let conn = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let result = tokio::select! {
        r = conn.as_mut() => r,
        _ = stop.changed() => {
            conn.as_mut().graceful_shutdown();
            conn.await
        }
    };
    if let Err(e) = result {
        // Timeouts and resets by clients are routine; they are not the server's errors.
        tracing::debug!(error = %e, "connection ended with an error");
    }
}

/// What happened to a request's body, read by `handle` once the handler has answered.
const BODY_OK: u8 = 0;
const BODY_TIMED_OUT: u8 = 1;
const BODY_OVER_BUDGET: u8 = 2;

/// Shared between a request's body and `handle`: the outcome, and the budget the body
/// took (released when the response is ready, since the handler held those bytes).
struct BodyState {
    outcome: AtomicU8,
    held: Mutex<Option<OwnedSemaphorePermit>>,
}

async fn handle(
    req: Request<Incoming>,
    kind: Kind,
    app: Router,
    ctx: Arc<RequestLimits>,
) -> Result<Response<Body>, Infallible> {
    if kind == Kind::HealthOnly && !matches!(req.uri().path(), "/healthz" | "/readyz") {
        ctx.metrics.refuse("health_only");
        return Ok(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is at its connection limit; retry shortly".into(),
        ));
    }
    let state = Arc::new(BodyState {
        outcome: AtomicU8::new(BODY_OK),
        held: Mutex::new(None),
    });
    let (parts, incoming) = req.into_parts();
    let body = GuardedBody {
        inner: Body::new(incoming),
        deadline: Box::pin(tokio::time::sleep(ctx.limits.body_timeout)),
        budget: ctx.budget.clone(),
        budget_total: ctx.budget_total,
        budget_wait: ctx.limits.body_budget_wait,
        waiting: None,
        state: state.clone(),
    };
    let req = Request::from_parts(parts, Body::new(body));
    let answer = tokio::time::timeout(ctx.limits.request_timeout, app.oneshot(req)).await;
    drop(state.held.lock().map(|mut h| h.take()));
    let outcome = state.outcome.load(Ordering::Acquire);
    match (outcome, &answer) {
        (BODY_TIMED_OUT, _) => ctx.metrics.refuse("body_timeout"),
        (BODY_OVER_BUDGET, _) => ctx.metrics.refuse("body_budget"),
        (_, Err(_)) => ctx.metrics.refuse("request_timeout"),
        _ => {}
    }
    let resp = match (outcome, answer) {
        (BODY_TIMED_OUT, _) => error(
            StatusCode::REQUEST_TIMEOUT,
            "body_timeout",
            format!(
                "the request body did not arrive within {} s; nothing was stored",
                ctx.limits.body_timeout.as_secs_f64()
            ),
        ),
        (BODY_OVER_BUDGET, _) => error(
            StatusCode::SERVICE_UNAVAILABLE,
            "busy",
            "the server is holding as many request bodies as it may; nothing was stored, retry shortly".into(),
        ),
        (_, Err(_)) => {
            tracing::warn!(timeout_s = ctx.limits.request_timeout.as_secs_f64(), "request timed out");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                format!(
                    "the request took longer than {} s and was stopped; it may or may not have been stored, retry with the same Idempotency-Key",
                    ctx.limits.request_timeout.as_secs_f64()
                ),
            )
        }
        (_, Ok(Ok(resp))) => resp,
        (_, Ok(Err(never))) => match never {},
    };
    Ok(resp)
}

/// An error in docs/api.md's shape. The connection is closed afterwards, since the
/// rest of a body that was not read may still be on its way.
fn error(status: StatusCode, code: &str, message: String) -> Response<Body> {
    let mut resp = (
        status,
        axum::Json(json!({ "error": code, "message": message })),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("close"));
    if status == StatusCode::SERVICE_UNAVAILABLE {
        h.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

type Acquire = Pin<Box<dyn Future<Output = Option<(OwnedSemaphorePermit, Frame<Bytes>)>> + Send>>;

/// A request body under the body deadline and the byte budget. Data frames are let
/// through only once the budget holds their bytes.
struct GuardedBody {
    inner: Body,
    deadline: Pin<Box<tokio::time::Sleep>>,
    budget: Arc<Semaphore>,
    budget_total: usize,
    budget_wait: Duration,
    /// A frame waiting for budget (it comes back with its permit).
    waiting: Option<Acquire>,
    state: Arc<BodyState>,
}

impl GuardedBody {
    fn fail(
        &self,
        outcome: u8,
        message: &'static str,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        self.state.outcome.store(outcome, Ordering::Release);
        Poll::Ready(Some(Err(message.into())))
    }

    fn hold(&self, permit: OwnedSemaphorePermit) {
        if let Ok(mut held) = self.state.held.lock() {
            match held.as_mut() {
                Some(p) => p.merge(permit),
                None => *held = Some(permit),
            }
        }
    }
}

impl http_body::Body for GuardedBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = self.get_mut();
        if this.deadline.as_mut().poll(cx).is_ready() {
            return this.fail(BODY_TIMED_OUT, "request body timeout");
        }
        if let Some(waiting) = this.waiting.as_mut() {
            let got = ready!(waiting.as_mut().poll(cx));
            this.waiting = None;
            return match got {
                Some((permit, frame)) => {
                    this.hold(permit);
                    Poll::Ready(Some(Ok(frame)))
                }
                None => this.fail(BODY_OVER_BUDGET, "request body budget exhausted"),
            };
        }
        let frame = match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
            Some(Ok(frame)) => frame,
            other => return Poll::Ready(other.map(|r| r.map_err(Into::into))),
        };
        let len = frame.data_ref().map_or(0, Bytes::len);
        if len == 0 {
            return Poll::Ready(Some(Ok(frame)));
        }
        let n = match u32::try_from(len) {
            Ok(n) if len <= this.budget_total => n,
            _ => return this.fail(BODY_OVER_BUDGET, "request body budget exhausted"),
        };
        match this.budget.clone().try_acquire_many_owned(n) {
            Ok(permit) => {
                this.hold(permit);
                Poll::Ready(Some(Ok(frame)))
            }
            Err(TryAcquireError::Closed) => {
                this.fail(BODY_OVER_BUDGET, "request body budget exhausted")
            }
            Err(TryAcquireError::NoPermits) => {
                let budget = this.budget.clone();
                let wait = this.budget_wait;
                this.waiting = Some(Box::pin(async move {
                    let permit = tokio::time::timeout(wait, budget.acquire_many_owned(n)).await;
                    permit.ok()?.ok().map(|p| (p, frame))
                }));
                // Poll the new wait once so that its waker is registered.
                Pin::new(this).poll_frame(cx)
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        self.waiting.is_none() && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}
