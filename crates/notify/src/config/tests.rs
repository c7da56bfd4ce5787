//! Unit tests of the `[notify]` parser: the two phases and their messages.

use super::*;
use jiff::SignedDuration;

fn parse(s: &str) -> Result<NotifyConfig, ConfigErrors> {
    NotifyConfig::parse(&SourceText::new("leadrouter.toml", s))
}

#[test]
fn no_table_means_off() {
    let c = parse("[organization]\nname = \"Northwind\"\n").unwrap();
    assert!(!c.enabled);
    assert!(c.slack.is_none() && c.email.is_none() && c.sms.is_none());
}

#[test]
fn full_example_parses() {
    let c = parse(
        r#"
[notify]
base_url = "http://127.0.0.1:8080/"
link_secret_env = "LEADROUTER_LINK_SECRET"
[notify.slack]
default_webhook_env = "SLACK_WEBHOOK_URL"
team_webhooks_env = { "amer-enterprise" = "SLACK_WEBHOOK_AMER_ENT" }
[notify.email]
smtp_url_env = "LEADROUTER_SMTP_URL"
from = "Northwind Sales <sales@northwind.example>"
[notify.sms]
api_url = "https://api.twilio.com/2010-04-01/Accounts/{account}/Messages.json"
account_env = "TWILIO_ACCOUNT_SID"
token_env = "TWILIO_AUTH_TOKEN"
from = "+15005550006"
[[notify.webhook]]
name = "crm"
url = "https://crm.example.com/hooks/leadrouter"
secret_env = "CRM_WEBHOOK_SECRET"
events = ["lead.assigned", "lead.reassigned", "lead.sla_escalated"]
[notify.channels]
hot = ["slack", "email", "sms"]
warm = ["slack", "email"]
standard = ["email"]
[notify.channels.teams."amer-enterprise"]
standard = ["slack", "email"]
[notify.templates]
sms_body = "Lead {{ lead.name }}"
"#,
    )
    .unwrap();
    assert_eq!(c.base_url, "http://127.0.0.1:8080");
    assert_eq!(c.webhooks[0].events.len(), 3);
    assert!(!c.webhooks[0].allow_private);
    use leadrouter_core::config::Tier;
    assert_eq!(
        c.channels
            .channels(Tier::Standard, Some("amer-enterprise"), None),
        &[ChannelKind::Slack, ChannelKind::Email]
    );
    assert_eq!(
        c.channels.channels(Tier::Standard, Some("other"), None),
        &[ChannelKind::Email]
    );
    assert_eq!(c.templates[&TemplateName::SmsBody], "Lead {{ lead.name }}");
}

#[test]
fn errors_name_file_line_key_value_and_fix() {
    let e = parse(
        r#"
[notify]
base_url = "ftp://x"
[notify.email]
smtp_url_env = "smtp://user:pass@host"
from = "not a mailbox"
[[notify.webhook]]
name = "crm"
url = "https://crm.example.com"
secret_env = "CRM_SECRET"
events = ["lead.created"]
[notify.channels]
hot = ["pager"]
[notify.templates]
sms_body = "{{ lead.name"
"#,
    )
    .unwrap_err();
    let text = e.to_string();
    let line_of = |key: &str| {
        e.0.iter()
            .find(|x| x.field == key)
            .unwrap_or_else(|| panic!("{key} missing from:\n{text}"))
            .line
    };
    assert_eq!(line_of("notify.base_url"), Some(3), "{text}");
    assert_eq!(line_of("notify.email.smtp_url_env"), Some(5), "{text}");
    assert!(text.contains("export LEADROUTER_SMTP_URL"), "{text}");
    assert_eq!(line_of("notify.email.from"), Some(6), "{text}");
    assert!(
        text.contains(
            "leadrouter.toml:11: notify.webhook[0].events = \"lead.created\": unknown event type"
        ),
        "{text}"
    );
    assert_eq!(line_of("notify.channels.hot"), Some(13), "{text}");
    assert!(
        e.0.iter()
            .all(|x| x.file == "leadrouter.toml" && x.fix.is_some())
    );
    // Template errors are reported only once the rest is valid.
    let e = parse(
        r#"
[notify]
base_url = "https://lr.example.com"
[notify.templates]
sms_body = "{{ lead.name"
"#,
    )
    .unwrap_err();
    assert_eq!(e.0[0].field, "notify.templates.sms_body", "{e}");
    assert_eq!(e.0[0].line, Some(5), "{e}");
}

#[test]
fn unknown_keys_and_wrong_types_stop_at_the_first_with_its_line() {
    let e =
        parse("[notify]\nbase_url = \"https://lr.example.com\"\ntmeout_secs = 3\n").unwrap_err();
    let text = e.to_string();
    assert!(
        text.starts_with("leadrouter.toml:3: notify.tmeout_secs: unknown key `tmeout_secs`\n    fix: did you mean `timeout_secs`?"),
        "{text}"
    );
    let e =
        parse("[notify]\nbase_url = \"https://lr.example.com\"\n[notify.emial]\nfrom = \"x\"\n")
            .unwrap_err();
    assert!(e.to_string().contains("did you mean `email`?"), "{e}");
    let e = parse("[notify]\nbase_url = 3\n").unwrap_err();
    assert_eq!(e.0[0].line, Some(2), "{e}");
    assert_eq!(e.0[0].field, "notify.base_url", "{e}");
    assert!(e.0[0].message.contains("expected a string"), "{e}");
}

#[test]
fn missing_required_keys_point_at_their_table() {
    let e = parse("[notify]\nbase_url = \"https://lr.example.com\"\n\n[notify.email]\nfrom = \"a@b.example\"\n").unwrap_err();
    assert_eq!(e.0[0].field, "notify.email.smtp_url_env", "{e}");
    assert_eq!(e.0[0].line, Some(4), "{e}");
    assert!(
        e.0[0]
            .fix
            .as_deref()
            .unwrap()
            .contains("add smtp_url_env = \"LEADROUTER_SMTP_URL\" to [notify.email]"),
        "{e}"
    );
}

#[test]
fn later_problems_are_located_at_their_key() {
    let c =
        parse("[notify]\nbase_url = \"https://lr.example.com\"\nlink_secret_env = \"LINK_KEY\"\n")
            .unwrap();
    let e = crate::LinkSigner::new(&c, &|_| None).unwrap_err();
    assert_eq!(e.0[0].file, "leadrouter.toml");
    assert_eq!(e.0[0].line, Some(3), "{e}");
}

#[test]
fn weekly_report_schedule_parses_and_rejects_bad_values() {
    let c = parse(
        r#"
[notify]
base_url = "https://lr.example.com"
"#,
    )
    .unwrap();
    assert_eq!(c.weekly_report, WeeklyReportConfig::default());
    assert_eq!(c.weekly_report.day, jiff::civil::Weekday::Monday);
    let c = parse(
        r#"
[notify]
base_url = "https://lr.example.com"
[notify.weekly_report]
day = "Fri"
time = "17:30"
timezone = "America/New_York"
to = ["vp@example.com"]
catch_up_hours = 0
"#,
    )
    .unwrap();
    let w = &c.weekly_report;
    assert!(w.enabled);
    assert_eq!(w.day, jiff::civil::Weekday::Friday);
    assert_eq!(w.time, jiff::civil::Time::constant(17, 30, 0, 0));
    assert_eq!(w.timezone.as_deref(), Some("America/New_York"));
    assert_eq!(w.to, ["vp@example.com"]);
    assert_eq!(w.catch_up, SignedDuration::ZERO);
    let e = parse(
        r#"
[notify]
base_url = "https://lr.example.com"
[notify.weekly_report]
day = "someday"
time = "8am"
timezone = "Mars/Olympus"
to = ["not an address"]
catch_up_hours = -1
"#,
    )
    .unwrap_err();
    let text = e.to_string();
    for key in ["day", "time", "timezone", "to", "catch_up_hours"] {
        assert!(
            e.0.iter()
                .any(|x| x.field == format!("notify.weekly_report.{key}")),
            "{key}: {text}"
        );
    }
    assert!(
        text.contains("\"someday\": not a day of the week"),
        "{text}"
    );
    let e = parse(
        "[notify]\nbase_url = \"https://lr.example.com\"\n[notify.weekly_report]\nsendd = true\n",
    )
    .unwrap_err();
    assert_eq!(e.0[0].field, "notify.weekly_report.sendd", "{e}");
    assert!(
        e.to_string().contains("did you mean `send`")
            || e.to_string().contains("valid keys: enabled"),
        "{e}"
    );
}

#[test]
fn tier_channel_needs_its_section() {
    let e = parse(
        r#"
[notify]
base_url = "https://lr.example.com"
[notify.channels]
hot = ["sms"]
"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("[notify.sms] is missing"), "{e}");
}
