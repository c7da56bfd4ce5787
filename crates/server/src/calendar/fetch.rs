//! Fetching one feed: a conditional GET (If-None-Match / If-Modified-Since from the last
//! good copy), bounded in time (connect and whole request) and size (read in chunks,
//! refused past the cap), through the enrichment providers' address guard
//! (`leadrouter_enrich::guard`): names resolving to non-public addresses, IP-literal URLs
//! and redirect hops to them are refused unless `[calendar] allow_private = true`, which
//! follows no redirects. No proxy is used (a proxy would resolve the name itself).
//! Errors never contain the address: it is the feed's secret.

use super::settings::CalendarSettings;
use leadrouter_enrich::guard::{PublicOnlyResolver, Refused, refusal, refused_in};
use reqwest::header::{ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED};
use std::sync::Arc;
use std::time::Duration;

const MAX_REDIRECTS: usize = 5;

/// What a fetch brought.
#[derive(Debug)]
pub enum Fetched {
    Changed {
        body: String,
        etag: Option<String>,
        last_modified: Option<String>,
    },
    NotModified,
}

pub struct Fetcher {
    client: reqwest::Client,
    timeout: Duration,
    max_bytes: usize,
    allow_private: bool,
}

impl Fetcher {
    pub fn new(s: &CalendarSettings) -> Result<Fetcher, String> {
        let builder = reqwest::Client::builder()
            .user_agent(concat!("leadrouter-calendar/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(s.timeout.min(Duration::from_secs(5)))
            .no_proxy();
        let builder = if s.allow_private {
            builder.redirect(reqwest::redirect::Policy::none())
        } else {
            builder.dns_resolver(Arc::new(PublicOnlyResolver)).redirect(
                reqwest::redirect::Policy::custom(|hop| {
                    if hop.previous().len() >= MAX_REDIRECTS {
                        return hop.error(format!("more than {MAX_REDIRECTS} redirects"));
                    }
                    match refusal(hop.url()) {
                        Some(why) => hop.error(Refused(why)),
                        None => hop.follow(),
                    }
                }),
            )
        };
        Ok(Fetcher {
            client: builder
                .build()
                .map_err(|e| format!("cannot build the HTTP client ({e})"))?,
            timeout: s.timeout,
            max_bytes: s.max_bytes,
            allow_private: s.allow_private,
        })
    }

    pub async fn fetch(
        &self,
        url: &str,
        etag: Option<&str>,
        last_modified: Option<&str>,
    ) -> Result<Fetched, String> {
        let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(format!("scheme {} is not fetched", parsed.scheme()));
        }
        if !self.allow_private
            && let Some(why) = refusal(&parsed)
        {
            return Err(refused(&why));
        }
        let classify = |e: reqwest::Error| {
            if let Some(r) = refused_in(&e) {
                refused(&r.0)
            } else if e.is_timeout() {
                format!(
                    "timed out after {}",
                    leadrouter_enrich::fmt_duration(self.timeout)
                )
            } else if e.is_connect() {
                "connection failed".to_string()
            } else {
                format!("request failed: {}", e.without_url())
            }
        };
        let mut req = self.client.get(parsed).timeout(self.timeout);
        if let Some(v) = etag {
            req = req.header(IF_NONE_MATCH, v);
        }
        if let Some(v) = last_modified {
            req = req.header(IF_MODIFIED_SINCE, v);
        }
        let mut resp = req.send().await.map_err(classify)?;
        let code = resp.status().as_u16();
        match code {
            304 => return Ok(Fetched::NotModified),
            200 => {}
            300..=399 if self.allow_private => {
                return Err(format!(
                    "HTTP {code} redirect not followed ([calendar] allow_private follows no redirects)"
                ));
            }
            _ => return Err(format!("HTTP {code}")),
        }
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(self.too_large());
        }
        let header = |name| {
            resp.headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .filter(|v| v.len() <= 512)
                .map(str::to_string)
        };
        let (etag, last_modified) = (header(ETAG), header(LAST_MODIFIED));
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(classify)? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(self.too_large());
            }
            body.extend_from_slice(&chunk);
        }
        let body = String::from_utf8(body).map_err(|_| "the feed is not UTF-8 text".to_string())?;
        Ok(Fetched::Changed {
            body,
            etag,
            last_modified,
        })
    }

    fn too_large(&self) -> String {
        format!("the feed is larger than {} bytes", self.max_bytes)
    }
}

fn refused(why: &str) -> String {
    format!("refused: {why}; set [calendar] allow_private = true if that is intended")
}
