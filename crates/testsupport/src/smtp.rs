//! A real SMTP server (mailin-embedded) in the test process, on a free port of
//! 127.0.0.1, recording every message it accepts as a [`Mail`] that tests read by header,
//! subject and decoded body.
//!
//! Recipients whose address starts with `reject` get `550 no such mailbox`, so a test can
//! see a permanent rejection without a second server.

use crate::{eventually, lock};
use std::io;
use std::net::{IpAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// One message as the SMTP server received it.
#[derive(Debug, Clone)]
pub struct Mail {
    pub from: String,
    pub to: Vec<String>,
    /// The raw DATA: headers, a blank line, the encoded body.
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

    /// The body with the transfer encoding (base64 or quoted-printable) undone and line
    /// ends as `\n`, so assertions can look for whole lines (lettre picks the encoding
    /// per body).
    /// For a multipart message (an email carrying an invitation), the text/plain part.
    pub fn body(&self) -> String {
        let multipart = self
            .header("Content-Type")
            .is_some_and(|t| t.to_ascii_lowercase().starts_with("multipart/"));
        if multipart && let Some(text) = self.part("text/plain") {
            return text;
        }
        let (_, body) = self.data.split_once("\r\n\r\n").unwrap_or(("", &self.data));
        decode_body(
            self.header("Content-Transfer-Encoding").as_deref(),
            body,
            "body",
        )
    }

    /// The decoded body of the MIME part with this content type (multipart messages).
    pub fn part(&self, content_type: &str) -> Option<String> {
        let start = self.data.find(&format!("Content-Type: {content_type}"))?;
        let rest = &self.data[start..];
        let (head, body) = rest.split_once("\r\n\r\n")?;
        let body = body.split("\r\n--").next().unwrap_or(body);
        let encoding = head
            .lines()
            .find_map(|l| l.strip_prefix("Content-Transfer-Encoding:"))
            .map(str::trim);
        Some(decode_body(encoding, body, content_type))
    }

    pub fn is_to(&self, address: &str) -> bool {
        self.to.iter().any(|t| t.eq_ignore_ascii_case(address))
    }
}

/// Undo a transfer encoding. The sender must produce UTF-8: anything else fails the test.
fn decode_body(encoding: Option<&str>, body: &str, what: &str) -> String {
    match encoding.map(str::to_ascii_lowercase).as_deref() {
        Some("base64") => {
            use base64::Engine as _;
            let compact: String = body.split_whitespace().collect();
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(compact)
                .unwrap_or_else(|e| panic!("the {what} is not valid base64: {e}"));
            String::from_utf8(bytes)
                .unwrap_or_else(|e| panic!("the {what} is not UTF-8: {e}"))
                .replace("\r\n", "\n")
        }
        Some("quoted-printable") => decode_qp(body),
        _ => body.replace("\r\n", "\n"),
    }
}

/// Quoted-printable: soft line breaks removed, `=XX` escapes decoded.
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
struct Handler {
    inbox: Arc<Mutex<Vec<Mail>>>,
    current: Mail,
}

impl mailin_embedded::Handler for Handler {
    fn mail(&mut self, _ip: IpAddr, _domain: &str, from: &str) -> mailin_embedded::Response {
        self.current = Mail {
            from: from.to_string(),
            ..Mail::default()
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
        let mut mail = std::mem::take(&mut self.current);
        mail.at = Instant::now();
        lock(&self.inbox).push(mail);
        mailin_embedded::response::OK
    }
}

/// A real SMTP server on a free local port, in threads of its own (so it answers while
/// the test blocks or awaits).
pub struct SmtpServer {
    pub port: u16,
    inbox: Arc<Mutex<Vec<Mail>>>,
}

impl SmtpServer {
    pub fn start() -> SmtpServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind SMTP port");
        let port = listener.local_addr().expect("local addr").port();
        let inbox = Arc::new(Mutex::new(Vec::new()));
        let handler = Handler {
            inbox: inbox.clone(),
            current: Mail::default(),
        };
        let mut server = mailin_embedded::Server::new(handler);
        // Enough sessions for a service that sends on several workers at once.
        server
            .with_name("smtp.test")
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

    /// Every message received so far, in arrival order.
    pub fn all(&self) -> Vec<Mail> {
        lock(&self.inbox).clone()
    }

    /// Block until `n` messages arrived (or panic after 10 s); returns all of them.
    pub fn wait_for_count(&self, n: usize) -> Vec<Mail> {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let got = self.all();
            if got.len() >= n {
                return got;
            }
            assert!(
                Instant::now() < deadline,
                "expected {n} messages, got {}",
                got.len()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn mail(data: &str) -> Mail {
        Mail {
            data: data.to_string(),
            ..Mail::default()
        }
    }

    #[test]
    fn bodies_are_decoded_to_lines() {
        let qp = mail(
            "Subject: =?utf-8?b?w4lsw6huZQ==?= here\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nHi =C3=89l=\r\n=C3=A8ne,\r\nbye",
        );
        assert_eq!(qp.body(), "Hi Élène,\nbye");
        assert_eq!(qp.subject(), "Élène here");
        // "Alex\r\nKim" in base64.
        let b64 = mail("Content-Transfer-Encoding: base64\r\n\r\nQWxleA0K\r\nS2lt\r\n");
        assert_eq!(b64.body(), "Alex\nKim");
        assert_eq!(mail("To: a\r\n\r\nplain\r\ntext").body(), "plain\ntext");
    }

    #[test]
    fn headers_are_unfolded_and_case_insensitive() {
        let m = mail("Subject: a long\r\n subject\r\nFrom: x@y\r\n\r\nbody");
        assert_eq!(m.header("subject").as_deref(), Some("a long subject"));
        assert_eq!(m.header("Reply-To"), None);
    }

    #[test]
    #[should_panic(expected = "not UTF-8")]
    fn a_body_that_is_not_utf8_fails() {
        mail("Content-Transfer-Encoding: base64\r\n\r\n/w==").body();
    }
}
