//! Local HTTP receivers (wiremock) for the far ends of outgoing HTTP: Slack incoming
//! webhooks, a Twilio-compatible SMS API, CRM webhooks. Each records every request with
//! its arrival time and answers from a [`Script`] the test can change while the service
//! runs. A [`DownPort`] is a receiver that is not there yet: connections are refused
//! until the test brings it up on the same address.

use crate::{eventually, lock};
use serde_json::Value;
use std::collections::HashMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

/// The Standard Webhooks secret the test configs give webhook channels and receivers
/// verify with.
pub const WEBHOOK_SECRET: &str = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";

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
