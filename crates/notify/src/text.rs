//! Small text helpers shared by the renderers: length limits, Slack escaping, human
//! durations and numbers.

use jiff::SignedDuration;

/// Cut `s` to at most `max` characters, ending with "…" when cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(max - 1).collect();
    out.push('…');
    out
}

/// Like [`truncate`] for Slack mrkdwn: never leaves half an escape (`&am`) or half a
/// link/mention (`<https://…`) before the ellipsis.
pub fn truncate_mrkdwn(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut out: String = s.chars().take(max.saturating_sub(1)).collect();
    if let Some(lt) = out.rfind('<')
        && !out[lt..].contains('>')
    {
        out.truncate(lt);
    }
    if let Some(amp) = out.rfind('&')
        && !out[amp..].contains(';')
    {
        out.truncate(amp);
    }
    out.push('…');
    out
}

/// Escape text for Slack mrkdwn (`&`, `<`, `>`), so a lead named `<!channel>` pings nobody.
pub fn mrkdwn_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// A Slack member id (`U…`/`W…`) that can be mentioned as `<@ID>` from an incoming
/// webhook; handles and emails cannot.
pub fn slack_member_id(s: &str) -> Option<&str> {
    let s = s.trim().trim_start_matches('@');
    let ok = s.len() >= 9
        && s.len() <= 20
        && (s.starts_with('U') || s.starts_with('W'))
        && s.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit());
    ok.then_some(s)
}

/// "5 min", "1 h", "1 h 30 min", "2 d": the core's one duration formatting.
pub fn human_duration(d: SignedDuration) -> String {
    leadrouter_core::words::duration(d)
}

/// 1200 → "1,200".
pub fn thousands(n: u32) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// "demo_request" → "demo request"; well-known actions get their own wording.
pub fn action_label(key: &str) -> String {
    match key {
        "demo_request" => "demo request".into(),
        "pricing_inquiry" | "pricing_request" => "pricing inquiry".into(),
        "trial_signup" => "trial sign-up".into(),
        "content_download" => "content download".into(),
        "webinar_registration" => "webinar registration".into(),
        "contact_us" | "contact_sales" => "contact request".into(),
        "" => "inquiry".into(),
        other => other.replace('_', " "),
    }
}

/// One line of display text: every control character (C0, C1, DEL, so CR, LF and tab),
/// line and paragraph separator and other whitespace becomes one space between words;
/// invisible direction overrides and zero-width spaces are dropped. Lead input rendered
/// on a line of a message goes through this, so it cannot start a line of its own (a
/// forged "Open the record:" link) or inject a header.
pub fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut gap = false;
    for c in s.chars() {
        if c.is_whitespace() || c.is_control() {
            gap = true;
        } else if is_invisible_format(c) {
            continue;
        } else {
            if gap && !out.is_empty() {
                out.push(' ');
            }
            gap = false;
            out.push(c);
        }
    }
    out
}

/// Direction overrides and isolates (text that reads differently than it is), zero-width
/// space, word joiner and BOM. ZWJ/ZWNJ stay: scripts and emoji need them.
fn is_invisible_format(c: char) -> bool {
    matches!(c, '\u{200B}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{2064}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// Longest person name part (first or last name) shown in a message.
pub const MAX_SHOWN_NAME: usize = 60;
/// Longest company, title or other short lead value shown in a message.
pub const MAX_SHOWN_TEXT: usize = 100;

/// A person's first or last name as messages show it: one line, without anything a mail
/// client would turn into a link (`https://…`, `www.…`, `a@b`, `evil.com/x`, `evil.com`),
/// at most [`MAX_SHOWN_NAME`] characters. Names reach the lead confirmation, which goes
/// to whatever address was submitted: they must not carry an attacker's link.
pub fn shown_name(s: &str) -> String {
    truncate(&without_links(&one_line(s), true), MAX_SHOWN_NAME)
}

/// A company as messages show it: like [`shown_name`], but a bare domain is kept
/// ("Salesforce.com" is a company name); URLs with a scheme, `www.`, `@` or a path go.
pub fn shown_company(s: &str) -> String {
    truncate(&without_links(&one_line(s), false), MAX_SHOWN_TEXT)
}

/// A whole person's name (first and last together) as an invitation or meeting email
/// shows it: like [`shown_name`], capped at [`MAX_SHOWN_TEXT`].
pub fn shown_person(s: &str) -> String {
    truncate(&without_links(&one_line(s), true), MAX_SHOWN_TEXT)
}

/// Any other short lead value (title, industry, country, …): one line, capped.
pub fn shown_text(s: &str, max: usize) -> String {
    truncate(&one_line(s), max)
}

fn without_links(line: &str, bare_domains: bool) -> String {
    line.split(' ')
        .filter(|w| !is_link_like(w, bare_domains))
        .collect::<Vec<_>>()
        .join(" ")
}

fn is_link_like(word: &str, bare_domains: bool) -> bool {
    let lower = word.to_lowercase();
    let core = lower.trim_matches(|c: char| !c.is_alphanumeric());
    if lower.contains("://")
        || lower.contains('@')
        || core.starts_with("www.")
        || ["mailto:", "javascript:", "data:", "tel:", "sms:"]
            .iter()
            .any(|p| core.starts_with(p))
        || (core.contains('.') && core.contains('/'))
    {
        return true;
    }
    // `label.tld`: mail clients link bare domains too.
    bare_domains
        && core.rsplit_once('.').is_some_and(|(head, tld)| {
            !head.is_empty()
                && (2..=24).contains(&tld.len())
                && tld.chars().all(|c| c.is_ascii_alphabetic())
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation() {
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
        assert_eq!(truncate("ééééé", 3), "éé…");
        assert_eq!(truncate_mrkdwn("x &amp; y", 5), "x …");
        assert_eq!(truncate_mrkdwn("see <https://a.example|link>", 10), "see …");
        assert!(truncate_mrkdwn(&"a".repeat(5000), 3000).chars().count() == 3000);
    }

    #[test]
    fn escaping_and_ids() {
        assert_eq!(
            mrkdwn_escape("<!channel> & co"),
            "&lt;!channel&gt; &amp; co"
        );
        assert_eq!(slack_member_id("U024BE7LH"), Some("U024BE7LH"));
        assert_eq!(slack_member_id("@jane"), None);
        assert_eq!(slack_member_id("jane@example.com"), None);
    }

    #[test]
    fn one_line_collapses_every_line_break_and_control() {
        assert_eq!(
            one_line("Jane\r\nOpen the record: x\u{2028}y\u{85}z\tw\u{1b}[2J\u{7f}!"),
            "Jane Open the record: x y z w [2J !"
        );
        assert_eq!(one_line("  a \u{202E}evil\u{202C} b "), "a evil b");
        assert_eq!(one_line("\u{200D}👩\u{200D}💻"), "\u{200D}👩\u{200D}💻");
    }

    #[test]
    fn names_lose_links_companies_keep_domains() {
        assert_eq!(shown_name("Jane https://evil.example/x\nOpen"), "Jane Open");
        assert_eq!(shown_name("Win www.prize.example now"), "Win now");
        assert_eq!(shown_name("Bob evil.com"), "Bob");
        assert_eq!(shown_name("Bob (evil.com/login)"), "Bob");
        assert_eq!(shown_name("a@b.example Jo"), "Jo");
        assert_eq!(shown_name("J.R.R. Tolkien"), "J.R.R. Tolkien");
        assert_eq!(shown_name("Müller-Lüdenscheidt"), "Müller-Lüdenscheidt");
        assert_eq!(shown_name(&"x".repeat(500)).chars().count(), MAX_SHOWN_NAME);
        assert_eq!(shown_company("Salesforce.com"), "Salesforce.com");
        assert_eq!(shown_company("Acme http://evil.example/ Inc"), "Acme Inc");
        assert_eq!(
            shown_company("Brightlane Software & Co"),
            "Brightlane Software & Co"
        );
    }

    #[test]
    fn durations_and_numbers() {
        assert_eq!(human_duration(SignedDuration::from_mins(5)), "5 min");
        assert_eq!(human_duration(SignedDuration::from_mins(90)), "1 h 30 min");
        assert_eq!(human_duration(SignedDuration::from_hours(24)), "24 h");
        assert_eq!(human_duration(SignedDuration::from_hours(72)), "3 d");
        assert_eq!(thousands(1200), "1,200");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000_000), "1,000,000");
        assert_eq!(action_label("demo_request"), "demo request");
        assert_eq!(action_label("partner_referral"), "partner referral");
    }
}
