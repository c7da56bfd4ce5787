//! HTTP calls to a [`Server`]: a [`Call`] is built, sent with the blocking client
//! ([`Call::send`], sync tests) or the async one ([`Call::send_async`]), and answered with
//! a [`Resp`]. Every failed expectation prints the request, the response and the server's
//! command line, stdout and stderr.

use crate::serve::Server;
use crate::truncate;
use reqwest::Method;
use reqwest::header::HeaderMap;
use serde_json::Value;
use std::fmt::Write as _;

/// One request being built, remembered for failure messages.
pub struct Call<'a> {
    server: &'a Server,
    desc: String,
    method: Method,
    path: String,
    headers: Vec<(String, String)>,
    /// Content type and body.
    body: Option<(String, String)>,
}

impl<'a> Call<'a> {
    pub(crate) fn new(server: &'a Server, method: Method, path: &str) -> Call<'a> {
        Call {
            server,
            desc: format!("{method} {path}"),
            method,
            path: path.to_string(),
            headers: Vec::new(),
            body: None,
        }
    }

    pub fn bearer(mut self, key: &str) -> Self {
        self.headers
            .push(("authorization".into(), format!("Bearer {key}")));
        let _ = write!(self.desc, " [Bearer {key}]");
        self
    }

    /// With the server's admin key.
    pub fn admin(self) -> Self {
        let key = self.server.options().admin_key.clone();
        self.bearer(&key)
    }

    /// With the server's intake key.
    pub fn intake(self) -> Self {
        let key = self.server.options().intake_key.clone();
        self.bearer(&key)
    }

    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        let _ = write!(self.desc, " [{name}: {value}]");
        self
    }

    pub fn json(mut self, body: &Value) -> Self {
        self.body = Some(("application/json".into(), body.to_string()));
        self
    }

    /// A raw body with its content type.
    pub fn body(mut self, content_type: &str, body: impl Into<String>) -> Self {
        self.body = Some((content_type.to_string(), body.into()));
        self
    }

    /// What the request was, for failure messages: method, path, headers, body.
    fn describe(&self) -> String {
        match &self.body {
            None => self.desc.clone(),
            Some((_, b)) if b.is_empty() => format!("{}\n(empty body)", self.desc),
            Some((_, b)) => format!("{}\n{}", self.desc, truncate(b, 2000)),
        }
    }

    fn url(&self) -> String {
        format!("{}{}", self.server.url, self.path)
    }

    /// Send with the blocking client (sync tests).
    pub fn send(self) -> Resp<'a> {
        let desc = self.describe();
        let mut rb = self
            .server
            .blocking_client()
            .request(self.method.clone(), self.url());
        for (k, v) in &self.headers {
            rb = rb.header(k, v);
        }
        if let Some((content_type, body)) = self.body {
            rb = rb.header("content-type", content_type).body(body);
        }
        let server = self.server;
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

    /// Send with the async client (async tests).
    pub async fn send_async(self) -> Resp<'a> {
        let desc = self.describe();
        let mut rb = self.server.http().request(self.method.clone(), self.url());
        for (k, v) in &self.headers {
            rb = rb.header(k, v);
        }
        if let Some((content_type, body)) = self.body {
            rb = rb.header("content-type", content_type).body(body);
        }
        let server = self.server;
        match rb.send().await {
            Ok(r) => {
                let status = r.status().as_u16();
                let headers = r.headers().clone();
                let text = match r.text().await {
                    Ok(t) => t,
                    Err(e) => server.fail(&format!("{desc}\nreading the body: {e}")),
                };
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
