//! Test support shared by leadrouter's test suites, one module per job:
//!
//! - [`db`]: a fresh SQLite file or PostgreSQL database per test, dropped afterwards;
//!   without PostgreSQL the test fails and says how to skip (`LEADROUTER_SKIP_PG=1`).
//! - [`smtp`]: a real SMTP server in the test process that records what it receives.
//! - [`receiver`]: local HTTP receivers (Slack, SMS, webhooks) answering from a script.
//! - [`serve`]: the one way to run the real `leadrouter serve` ([`ServeOptions`] →
//!   [`Server`]); [`call`]: talking to it over HTTP ([`Call`] → [`Resp`]).
//! - [`hubspot`]: the HubSpot conformance server (CRM v3 subset) and webhook signing.
//! - [`salesforce`]: a Salesforce org (REST API subset, OAuth JWT bearer flow) for
//!   the CRM connector's tests, and the Outbound Message envelopes it sends.
//! - [`cli`]: one-shot commands (`leadrouter import …`) run to completion ([`Cli`]).
//! - [`dns`]: a DNS server on 127.0.0.1 answering MX questions from a fixed zone.
//!
//! Every failure prints what is needed to understand it without rerunning: the command
//! line, stdout and stderr of a process, the request and response of an HTTP call (the
//! idea of ripgrep's `tests/util.rs` `TestCommand`). Nothing here passes silently.

pub mod call;
pub mod cli;
pub mod db;
pub mod dns;
pub mod hubspot;
pub mod receiver;
pub mod salesforce;
pub mod serve;
pub mod smtp;

pub use call::{Call, Resp};
pub use cli::Cli;
pub use db::TestDb;
pub use serve::{ADMIN_KEY, Clock, Database, INTAKE_KEY, ServeOptions, Server};

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

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

/// A test that failed while holding a lock must not hide its message behind a
/// poisoned-lock panic in the next reader, so poisoning is ignored.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// At most `max` bytes of `s` (cut at a character boundary), noting how much was left out.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes)", &s[..end], s.len())
}

/// The last `max` bytes of `s`: in a long server log the end is what explains a failure.
pub(crate) fn tail(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut start = s.len() - max;
    while !s.is_char_boundary(start) {
        start += 1;
    }
    format!("… ({start} bytes before)\n{}", &s[start..])
}
