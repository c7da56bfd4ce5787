//! Shared test fixtures: configs, lead contexts and an in-process SMTP server.
#![allow(dead_code)]

use leadrouter_core::config::Tier;
use leadrouter_core::trace::RoutePath;
use leadrouter_notify::render::sample_context;
use leadrouter_notify::{NotifyConfig, NotifyContext};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

pub fn parse_config(toml_text: &str) -> NotifyConfig {
    let src = leadrouter_core::config::SourceText::new("test.toml", toml_text);
    NotifyConfig::parse(&src).unwrap_or_else(|e| panic!("config errors:\n{e}"))
}

pub fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

/// The sample hot demo request, assigned to Alex Kim.
pub fn hot() -> NotifyContext {
    sample_context()
}

/// The same lead as a Tier 3 (standard) content download.
pub fn standard() -> NotifyContext {
    let mut c = sample_context();
    c.decision.tier = Tier::Standard;
    c.decision.sla.contact_within = jiff::SignedDuration::from_hours(24);
    c.lead.action = Some("content_download".into());
    c.lead.product = Some("analytics".into());
    c
}

/// A lead routed to a queue (no owner).
pub fn queued(path: RoutePath, queue: &str) -> NotifyContext {
    let mut c = sample_context();
    c.decision.owner = None;
    c.decision.queue = Some(leadrouter_core::text::Text::copy(queue));
    c.decision.path = path;
    c.decision.sla.contact_by = None;
    c.rep = None;
    c.accept_url = None;
    c.contacted_url = None;
    c
}

/// One message as the SMTP server received it.
#[derive(Debug, Clone, Default)]
pub struct Received {
    pub from: String,
    pub to: Vec<String>,
    pub data: String,
}

impl Received {
    /// The message with quoted-printable soft line breaks and escapes undone, so
    /// assertions can look for whole lines (lettre picks QP or base64 per body).
    pub fn body_text(&self) -> String {
        let (_, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        if self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("base64"))
        {
            use base64::Engine as _;
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .expect("base64 body");
            return String::from_utf8(bytes).expect("utf-8 body");
        }
        if self
            .header("Content-Transfer-Encoding")
            .is_some_and(|e| e.eq_ignore_ascii_case("quoted-printable"))
        {
            return decode_qp(body);
        }
        body.replace("\r\n", "\n")
    }

    /// A header's (unfolded) value.
    pub fn header(&self, name: &str) -> Option<String> {
        let head = self.data.split("\r\n\r\n").next().unwrap_or("");
        let unfolded = head.replace("\r\n ", " ").replace("\r\n\t", " ");
        unfolded.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

fn decode_qp(s: &str) -> String {
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

#[derive(Clone)]
struct Handler {
    inbox: Arc<Mutex<Vec<Received>>>,
    current: Received,
}

impl mailin_embedded::Handler for Handler {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> mailin_embedded::Response {
        self.current = Received {
            from: from.to_string(),
            ..Received::default()
        };
        mailin_embedded::response::OK
    }

    fn rcpt(&mut self, to: &str) -> mailin_embedded::Response {
        if to.starts_with("reject") {
            return mailin_embedded::response::NO_MAILBOX;
        }
        self.current.to.push(to.to_string());
        mailin_embedded::response::OK
    }

    fn data(&mut self, buf: &[u8]) -> io::Result<()> {
        self.current.data.push_str(&String::from_utf8_lossy(buf));
        Ok(())
    }

    fn data_end(&mut self) -> mailin_embedded::Response {
        self.inbox
            .lock()
            .expect("inbox lock")
            .push(std::mem::take(&mut self.current));
        mailin_embedded::response::OK
    }
}

/// A real SMTP server (mailin-embedded) on a free local port, in its own thread.
pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Received>>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP port");
        let port = listener.local_addr().expect("local addr").port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let handler = Handler {
            inbox: inbox.clone(),
            current: Received::default(),
        };
        let mut server = mailin_embedded::Server::new(handler);
        server
            .with_name("smtp.test")
            .with_num_threads(8)
            .with_tcp_listener(listener);
        std::thread::spawn(move || {
            let _ = server.serve();
        });
        SmtpServer { port, inbox }
    }

    pub fn url(&self) -> String {
        format!("smtp://127.0.0.1:{}", self.port)
    }

    /// Wait until `n` messages arrived (or panic after 10 s).
    pub fn wait_for(&self, n: usize) -> Vec<Received> {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.inbox.lock().expect("inbox lock").clone();
            if got.len() >= n {
                return got;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "expected {n} messages, got {}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}
