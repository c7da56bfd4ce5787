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

/// "5 min", "1 h", "1 h 30 min", "2 d".
pub fn human_duration(d: SignedDuration) -> String {
    let secs = d.as_secs().unsigned_abs();
    let mins = secs.div_ceil(60);
    if secs < 60 {
        return format!("{secs} s");
    }
    if mins < 60 {
        return format!("{mins} min");
    }
    let (h, m) = (mins / 60, mins % 60);
    if h >= 48 && h.is_multiple_of(24) && m == 0 {
        return format!("{} d", h / 24);
    }
    if m == 0 {
        format!("{h} h")
    } else {
        format!("{h} h {m} min")
    }
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

/// Strip CR/LF (header injection) and collapse whitespace for one-line fields.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
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
