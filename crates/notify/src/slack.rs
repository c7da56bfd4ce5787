//! Slack Block Kit within Slack's limits.
//!
//! Slack rejects a message (HTTP 400 `invalid_blocks`) when any limit is exceeded, and a
//! rejected notification is a lead nobody hears about, so every text is cut here with
//! "…" rather than trusted to be short: a 50 KB "why it matched" still produces a valid
//! message.

use crate::text::{mrkdwn_escape, truncate, truncate_mrkdwn};
use serde_json::{Value, json};

pub const MAX_BLOCKS: usize = 50;
pub const MAX_HEADER: usize = 150;
pub const MAX_SECTION_TEXT: usize = 3000;
pub const MAX_FIELDS: usize = 10;
pub const MAX_FIELD_TEXT: usize = 2000;
pub const MAX_CONTEXT_ELEMENTS: usize = 10;
pub const MAX_BUTTONS: usize = 25;
pub const MAX_BUTTON_TEXT: usize = 75;
pub const MAX_URL: usize = 3000;
/// Slack truncates the top-level `text` at 40,000 characters; it is only the
/// notification fallback, so keep it short.
pub const MAX_FALLBACK_TEXT: usize = 3000;

#[derive(Debug, Default)]
pub struct Blocks {
    blocks: Vec<Value>,
}

pub struct Button<'a> {
    pub text: &'a str,
    pub url: &'a str,
    pub action_id: &'a str,
    pub primary: bool,
}

impl Blocks {
    pub fn header(&mut self, text: &str) -> &mut Self {
        self.blocks.push(json!({
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(text, MAX_HEADER), "emoji": true}
        }));
        self
    }

    /// A section of mrkdwn that is already escaped.
    pub fn section(&mut self, mrkdwn: &str) -> &mut Self {
        if mrkdwn.trim().is_empty() {
            return self;
        }
        self.blocks.push(json!({
            "type": "section",
            "text": {"type": "mrkdwn", "text": truncate_mrkdwn(mrkdwn, MAX_SECTION_TEXT)}
        }));
        self
    }

    /// Label/value pairs; values are mrkdwn that is already escaped.
    pub fn fields(&mut self, pairs: &[(&str, String)]) -> &mut Self {
        for chunk in pairs.chunks(MAX_FIELDS) {
            let fields: Vec<Value> = chunk
                .iter()
                .map(|(label, value)| {
                    let text = format!("*{}*\n{}", mrkdwn_escape(label), value);
                    json!({"type": "mrkdwn", "text": truncate_mrkdwn(&text, MAX_FIELD_TEXT)})
                })
                .collect();
            if !fields.is_empty() {
                self.blocks
                    .push(json!({"type": "section", "fields": fields}));
            }
        }
        self
    }

    /// Small print, one element per line (already escaped mrkdwn).
    pub fn context(&mut self, lines: &[String]) -> &mut Self {
        let elements: Vec<Value> = lines
            .iter()
            .filter(|l| !l.trim().is_empty())
            .take(MAX_CONTEXT_ELEMENTS)
            .map(|l| json!({"type": "mrkdwn", "text": truncate_mrkdwn(l, MAX_SECTION_TEXT)}))
            .collect();
        if !elements.is_empty() {
            self.blocks
                .push(json!({"type": "context", "elements": elements}));
        }
        self
    }

    /// Link buttons. Buttons whose URL is too long for Slack are left out rather than cut
    /// (a cut URL is a broken link).
    pub fn buttons(&mut self, buttons: &[Button<'_>]) -> &mut Self {
        let elements: Vec<Value> = buttons
            .iter()
            .filter(|b| !b.url.is_empty() && b.url.chars().count() <= MAX_URL)
            .take(MAX_BUTTONS)
            .map(|b| {
                let mut v = json!({
                    "type": "button",
                    "text": {"type": "plain_text", "text": truncate(b.text, MAX_BUTTON_TEXT)},
                    "url": b.url,
                    "action_id": b.action_id,
                });
                if b.primary {
                    v["style"] = json!("primary");
                }
                v
            })
            .collect();
        if !elements.is_empty() {
            self.blocks
                .push(json!({"type": "actions", "elements": elements}));
        }
        self
    }

    /// The webhook body. `fallback` is plain text shown in notifications and clients
    /// without Block Kit. Link unfurling is off: unfurlers would fetch the signed
    /// action links.
    pub fn into_payload(mut self, fallback: &str) -> Value {
        self.blocks.truncate(MAX_BLOCKS);
        json!({
            "text": truncate_mrkdwn(&mrkdwn_escape(fallback), MAX_FALLBACK_TEXT),
            "blocks": self.blocks,
            "unfurl_links": false,
            "unfurl_media": false,
        })
    }
}

/// `<url|label>` when `url` is an http(s) URL Slack can link, else the escaped text.
pub fn link(url: &str, label: &str) -> String {
    let ok = (url.starts_with("https://") || url.starts_with("http://"))
        && !url.contains(['<', '>', '|', ' ']);
    if ok && url.chars().count() <= MAX_URL {
        format!("<{}|{}>", url.replace('&', "&amp;"), mrkdwn_escape(label))
    } else {
        mrkdwn_escape(url)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_hold() {
        let mut b = Blocks::default();
        b.header(&"h".repeat(500));
        b.section(&"s".repeat(10_000));
        let pairs: Vec<(&str, String)> = (0..12).map(|_| ("L", "v".repeat(5000))).collect();
        b.fields(&pairs);
        for _ in 0..60 {
            b.section("x");
        }
        let p = b.into_payload(&"t".repeat(50_000));
        let blocks = p["blocks"].as_array().unwrap();
        assert_eq!(blocks.len(), MAX_BLOCKS);
        let header = blocks[0]["text"]["text"].as_str().unwrap();
        assert_eq!(header.chars().count(), MAX_HEADER);
        assert!(header.ends_with('…'));
        assert_eq!(
            blocks[1]["text"]["text"].as_str().unwrap().chars().count(),
            MAX_SECTION_TEXT
        );
        assert_eq!(blocks[2]["fields"].as_array().unwrap().len(), MAX_FIELDS);
        assert_eq!(blocks[3]["fields"].as_array().unwrap().len(), 2);
        for f in blocks[2]["fields"].as_array().unwrap() {
            assert!(f["text"].as_str().unwrap().chars().count() <= MAX_FIELD_TEXT);
        }
        assert!(p["text"].as_str().unwrap().chars().count() <= MAX_FALLBACK_TEXT);
    }

    #[test]
    fn links() {
        assert_eq!(
            link("https://x.example/a?b=1&c=2", "Open <it>"),
            "<https://x.example/a?b=1&amp;c=2|Open &lt;it&gt;>"
        );
        assert_eq!(link("javascript:alert(1)", "x"), "javascript:alert(1)");
    }
}
