//! Rendering scenarios, named after the requirements they check (NTF-1..4, SLA-2/3).

mod common;

use common::*;
use jiff::SignedDuration;
use leadrouter_core::config::Tier;
use leadrouter_core::trace::RoutePath;
use leadrouter_notify::render::reason_lines;
use leadrouter_notify::{
    Channel, ChannelKind, Contact, EmailPayload, EventType, Kind, LeadConfirmation, NotifyConfig,
    NotifyContext, Outgoing, Renderer, RepContact, SmsPayload,
};
use serde_json::Value;

const BASE: &str = r#"
[notify]
base_url = "https://leadrouter.example"
onboarding_url = "https://app.northwind.example/welcome"
[notify.slack]
default_webhook_env = "SLACK_WEBHOOK_URL"
team_webhooks_env = { "emea" = "SLACK_WEBHOOK_EMEA" }
alerts_webhook_env = "SLACK_WEBHOOK_ALERTS"
[notify.email]
smtp_url_env = "LEADROUTER_SMTP_URL"
from = "Northwind Sales <sales@northwind.example>"
lead_confirmation = true
[notify.sms]
api_url = "https://api.twilio.com/2010-04-01/Accounts/{account}/Messages.json"
account_env = "TWILIO_ACCOUNT_SID"
token_env = "TWILIO_AUTH_TOKEN"
from = "+15005550006"
[[notify.webhook]]
name = "crm"
url = "https://crm.example.com/hooks/leadrouter"
secret_env = "CRM_WEBHOOK_SECRET"
events = ["lead.assigned", "lead.queued", "lead.reassigned"]
[[notify.webhook]]
name = "warehouse"
url = "https://dw.example.com/hooks"
secret_env = "DW_WEBHOOK_SECRET"
events = ["lead.assigned"]
[notify.assets]
analytics = "https://northwind.example/assets/analytics-guide.pdf"
[notify.alerts]
queue_email = ["revops@northwind.example"]
"#;

fn renderer(extra: &str) -> Renderer {
    Renderer::new(&parse_config(&format!("{BASE}{extra}"))).unwrap()
}

fn email_of(m: &Outgoing) -> EmailPayload {
    serde_json::from_value(m.payload.clone()).unwrap()
}

fn find(msgs: &[Outgoing], channel: &Channel, kind: Kind) -> Option<Outgoing> {
    msgs.iter()
        .find(|m| &m.channel == channel && m.kind == kind)
        .cloned()
}

fn slack_text(payload: &Value) -> String {
    payload.to_string()
}

#[test]
fn ntf1_channels_follow_the_tier() {
    let r = renderer("");
    let channels = |ctx: &NotifyContext| {
        let mut c: Vec<String> = r
            .assignment(ctx, ctx.decision.decided_at)
            .messages
            .iter()
            .filter(|m| m.kind == Kind::RepNotification)
            .map(|m| m.channel.name().to_string())
            .collect();
        c.sort();
        c
    };
    assert_eq!(channels(&hot()), ["email", "slack", "sms"]);
    let mut warm = hot();
    warm.decision.tier = Tier::Warm;
    assert_eq!(channels(&warm), ["email", "slack"]);
    assert_eq!(channels(&standard()), ["email"]);
}

#[test]
fn ntf1_team_and_rep_overrides() {
    let r = renderer(
        r#"
[notify.channels]
standard = ["email"]
[notify.channels.teams.emea]
standard = ["slack"]
[notify.channels.reps.alex]
hot = ["sms"]
"#,
    );
    let mut ctx = standard();
    ctx.decision.team = Some("emea".into());
    let out = r.assignment(&ctx, ctx.decision.decided_at);
    let rep: Vec<&Outgoing> = out
        .messages
        .iter()
        .filter(|m| m.kind == Kind::RepNotification)
        .collect();
    assert_eq!(rep.len(), 1);
    assert_eq!(rep[0].channel, Channel::Slack);
    // The team's own Slack webhook.
    assert_eq!(rep[0].recipient, "team:emea");
    let out = r.assignment(&hot(), hot().decision.decided_at);
    let rep: Vec<&str> = out
        .messages
        .iter()
        .filter(|m| m.kind == Kind::RepNotification)
        .map(|m| m.channel.name())
        .collect();
    assert_eq!(rep, ["sms"]);
}

#[test]
fn ntf2_hot_lead_includes_phone_and_linkedin_standard_does_not() {
    let r = renderer("");
    let hot_out = r.assignment(&hot(), hot().decision.decided_at).messages;
    let mail = email_of(&find(&hot_out, &Channel::Email, Kind::RepNotification).unwrap());
    assert!(
        mail.text.contains("Phone:     +14155550123"),
        "{}",
        mail.text
    );
    assert!(
        mail.text
            .contains("LinkedIn:  https://www.linkedin.com/in/janedoe")
    );
    let slack = slack_text(
        &find(&hot_out, &Channel::Slack, Kind::RepNotification)
            .unwrap()
            .payload,
    );
    assert!(slack.contains("*Phone*\\n+14155550123"), "{slack}");
    assert!(slack.contains("linkedin.com/in/janedoe"), "{slack}");
    let sms: SmsPayload = serde_json::from_value(
        find(&hot_out, &Channel::Sms, Kind::RepNotification)
            .unwrap()
            .payload,
    )
    .unwrap();
    assert!(sms.body.contains("Call +14155550123"), "{}", sms.body);

    // Standard tier, same lead data: neither phone nor LinkedIn, on any channel.
    let r = renderer("[notify.channels]\nstandard = [\"slack\", \"email\", \"sms\"]\n");
    let std_out = r
        .assignment(&standard(), hot().decision.decided_at)
        .messages;
    assert_eq!(
        std_out
            .iter()
            .filter(|m| m.kind == Kind::RepNotification)
            .count(),
        3
    );
    for m in std_out.iter().filter(|m| m.kind == Kind::RepNotification) {
        let s = m.payload.to_string();
        assert!(
            !s.contains("4155550123"),
            "{:?} leaks the phone: {s}",
            m.channel
        );
        assert!(
            !s.contains("linkedin"),
            "{:?} leaks LinkedIn: {s}",
            m.channel
        );
    }
    // But the rest of NTF-2 is there.
    let mail = email_of(&find(&std_out, &Channel::Email, Kind::RepNotification).unwrap());
    for needle in [
        "Company:   Acme Corp",
        "Size:      1,200 employees",
        "Industry:  Software",
        "Action:    content download",
        "Score:     85 · Tier 3 (standard)",
        "Contact within 24 h",
        "Why it matched:",
        "Open the record:  https://leadrouter.example/leads/L-1001",
    ] {
        assert!(
            mail.text.contains(needle),
            "missing {needle:?}:\n{}",
            mail.text
        );
    }
}

#[test]
fn ntf3_confirmation_content_by_action() {
    let r = renderer("");
    let confirmation = |ctx: &NotifyContext| -> EmailPayload {
        email_of(&r.lead_confirmation(ctx).unwrap_or_else(|e| panic!("{e}")))
    };
    let demo = confirmation(&hot());
    assert_eq!(demo.subject, "Your demo request");
    assert_eq!(demo.from, "Alex Kim <sales@northwind.example>");
    assert_eq!(
        demo.reply_to.as_deref(),
        Some("Alex Kim <alex@northwind.example>")
    );
    assert!(demo.text.contains("https://cal.example/alex"));
    assert!(
        demo.text
            .ends_with("Alex Kim\nAccount Executive, Northwind"),
        "{}",
        demo.text
    );

    // content_download → the asset, found by product in [notify.assets].
    let content = confirmation(&standard());
    assert_eq!(content.subject, "Your download");
    assert!(
        content.text.contains(
            "Here is your download: https://northwind.example/assets/analytics-guide.pdf"
        ),
        "{}",
        content.text
    );

    // trial_signup → onboarding.
    let mut trial = hot();
    trial.lead.action = Some("Trial Signup".into());
    let trial = confirmation(&trial);
    assert_eq!(trial.subject, "Welcome to your trial");
    assert!(
        trial.text.contains("https://app.northwind.example/welcome"),
        "{}",
        trial.text
    );

    // No booking link: no dangling sentence.
    let mut no_link = hot();
    no_link.rep.as_mut().unwrap().booking_link = None;
    let t = confirmation(&no_link).text;
    assert!(t.contains("I'll be in touch shortly"), "{t}");
    assert!(!t.contains("pick a time"), "{t}");
}

#[test]
fn ntf3_no_confirmation_for_queued_leads_or_without_email() {
    let r = renderer("");
    for (path, queue) in [
        (RoutePath::Junk, "junk"),
        (RoutePath::PersonalEmailReview, "review"),
        (RoutePath::Nurture, "nurture"),
        (RoutePath::Qualification, "qualification"),
        (RoutePath::CatchAll, "catch-all"),
    ] {
        let ctx = queued(path, queue);
        let out = r.assignment(&ctx, ctx.decision.decided_at);
        assert!(
            out.messages
                .iter()
                .all(|m| m.kind != Kind::LeadConfirmation && m.kind != Kind::RepNotification),
            "{queue}: {:?}",
            out.messages
        );
        // The CRM still hears about it.
        assert_eq!(out.messages.len(), 1, "{queue}");
        assert_eq!(out.messages[0].payload["type"], "lead.queued");
        assert!(r.lead_confirmation(&ctx).unwrap_err().contains("queued"));
    }
    let mut no_email = hot();
    no_email.lead.email = None;
    let out = r.assignment(&no_email, no_email.decision.decided_at);
    assert!(
        out.messages
            .iter()
            .all(|m| m.kind != Kind::LeadConfirmation)
    );
    assert!(
        out.skipped
            .iter()
            .any(|s| s.kind == Kind::LeadConfirmation && s.reason.contains("no email")),
        "{:?}",
        out.skipped
    );
    let r = renderer("");
    let mut off = parse_config(BASE);
    off.email.as_mut().unwrap().lead_confirmation = LeadConfirmation::Off;
    let r_off = Renderer::new(&off).unwrap();
    assert!(r_off.lead_confirmation(&hot()).is_err());
    assert!(r.lead_confirmation(&hot()).is_ok());
}

/// Email on for reps does not mail prospects: confirmations are off until
/// `lead_confirmation` names the actions (or says `true` for all).
#[test]
fn ntf3_confirmations_are_off_until_turned_on_per_action() {
    let without = BASE.replace("lead_confirmation = true\n", "");
    let cfg = parse_config(&without);
    assert_eq!(
        cfg.email.as_ref().unwrap().lead_confirmation,
        LeadConfirmation::Off
    );
    let r = Renderer::new(&cfg).unwrap();
    let err = r.lead_confirmation(&hot()).unwrap_err();
    assert!(err.contains("lead_confirmation"), "{err}");
    let out = r.assignment(&hot(), hot().decision.decided_at);
    assert!(
        out.messages
            .iter()
            .all(|m| m.kind != Kind::LeadConfirmation)
    );
    assert!(out.messages.iter().any(|m| m.kind == Kind::RepNotification));

    let per_action = BASE.replace(
        "lead_confirmation = true",
        "lead_confirmation = [\"Demo Request\", \"trial_signup\"]",
    );
    let r = Renderer::new(&parse_config(&per_action)).unwrap();
    assert!(
        r.lead_confirmation(&hot()).is_ok(),
        "demo_request is listed"
    );
    let mut download = hot();
    download.lead.action = Some("content_download".into());
    let err = r.lead_confirmation(&download).unwrap_err();
    assert!(err.contains("content_download"), "{err}");
}

#[test]
fn ntf4_webhook_events_go_to_subscribers() {
    let r = renderer("");
    let ctx = hot();
    let at = ctx.decision.decided_at;
    let assigned: Vec<String> = r
        .assignment(&ctx, at)
        .messages
        .iter()
        .filter(|m| m.kind == Kind::Webhook)
        .map(|m| m.recipient.clone())
        .collect();
    assert_eq!(assigned, ["crm", "warehouse"]);

    let out = r.reassignment(&ctx, Some("Sam Lee"), at);
    let hooks: Vec<&Outgoing> = out
        .messages
        .iter()
        .filter(|m| m.kind == Kind::Webhook)
        .collect();
    assert_eq!(hooks.len(), 1);
    assert_eq!(hooks[0].recipient, "crm");
    let p = &hooks[0].payload;
    assert_eq!(p["type"], "lead.reassigned");
    assert_eq!(p["data"]["previous_owner"], "Sam Lee");
    assert_eq!(p["data"]["owner"]["name"], "Alex Kim");
    // The new owner is told; the lead is not written to again.
    assert!(
        out.messages
            .iter()
            .all(|m| m.kind != Kind::LeadConfirmation)
    );
    let mail = email_of(&find(&out.messages, &Channel::Email, Kind::RepNotification).unwrap());
    assert!(mail.subject.contains("Reassigned lead"), "{}", mail.subject);
    assert!(
        mail.text
            .starts_with("Jane Doe has been reassigned to you from Sam Lee."),
        "{}",
        mail.text
    );

    // Events nobody subscribed to produce nothing.
    assert!(
        r.event(EventType::LeadContacted, &ctx, Default::default(), at)
            .is_empty()
    );
}

#[test]
fn template_overrides_from_config() {
    let r = renderer(
        r#"
[notify.templates]
slack_text = "Heads up {% if rep.slack_id %}<@{{ rep.slack_id }}>{% endif %}: {{ lead.name }} ({{ lead.company }}) wants a {{ action.label }}"
rep_email_subject = "LEAD {{ lead.name|upper }} / {{ decision.tier }}"
lead_confirmation_body = """Hello {{ lead.first_name }}, {{ rep.first_name }} here. Book me: {{ booking_link }}"""
sms_body = "{{ lead.name }} {{ links.record }}"
"#,
    );
    let mut ctx = hot();
    ctx.lead.company = Some("<Acme> & Sons".into());
    let out = r.assignment(&ctx, ctx.decision.decided_at);
    assert!(out.warnings.is_empty(), "{:?}", out.warnings);
    let slack = find(&out.messages, &Channel::Slack, Kind::RepNotification).unwrap();
    assert_eq!(
        slack.payload["blocks"][1]["text"]["text"],
        "Heads up <@U024BE7LH>: Jane Doe (&lt;Acme&gt; &amp; Sons) wants a demo request"
    );
    let mail = email_of(&find(&out.messages, &Channel::Email, Kind::RepNotification).unwrap());
    assert_eq!(mail.subject, "LEAD JANE DOE / hot");
    let conf = email_of(&find(&out.messages, &Channel::Email, Kind::LeadConfirmation).unwrap());
    assert_eq!(
        conf.text,
        "Hello Jane, Alex here. Book me: https://cal.example/alex"
    );
    let sms: SmsPayload = serde_json::from_value(
        find(&out.messages, &Channel::Sms, Kind::RepNotification)
            .unwrap()
            .payload,
    )
    .unwrap();
    assert_eq!(sms.body, "Jane Doe https://leadrouter.example/leads/L-1001");
}

#[test]
fn sla2_manager_and_leadership_alerts() {
    let mut cfg = parse_config(BASE);
    cfg.alerts.channels = vec![ChannelKind::Slack, ChannelKind::Email, ChannelKind::Sms];
    let r = Renderer::new(&cfg).unwrap();
    let manager = Contact {
        id: "mgr-amer".into(),
        name: "Diane Foster".into(),
        email: Some("diane.foster@northwind.example".into()),
        phone: Some("+12125550140".into()),
        slack: Some("U05DFOSTER1".into()),
    };
    let ctx = hot();
    let out = r.manager_alert(&ctx, &manager, 1);
    let kinds: Vec<(&str, Kind)> = out
        .messages
        .iter()
        .map(|m| (m.channel.name(), m.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("slack", Kind::ManagerAlert),
            ("email", Kind::ManagerAlert),
            ("sms", Kind::ManagerAlert)
        ]
    );
    let slack = &out.messages[0];
    assert_eq!(slack.recipient, "alerts");
    let text = slack.payload["blocks"][1]["text"]["text"].as_str().unwrap();
    assert!(text.starts_with("<@U05DFOSTER1> *SLA missed 1x*"), "{text}");
    assert!(text.contains("<@U024BE7LH>"), "{text}");
    let mail = email_of(&out.messages[1]);
    assert_eq!(mail.to, "diane.foster@northwind.example");
    assert_eq!(
        mail.subject,
        "SLA missed 1x: Jane Doe, Acme Corp (Alex Kim)"
    );
    assert!(
        mail.text
            .starts_with("Diane,\n\nAlex Kim has not contacted Jane Doe (Acme Corp) within 5 min"),
        "{}",
        mail.text
    );

    let out = r.manager_alert(&ctx, &manager, 3);
    assert!(out.messages.iter().all(|m| m.kind == Kind::LeadershipAlert));
    let mail = email_of(&out.messages[1]);
    assert!(
        mail.subject.starts_with("[Leadership] SLA missed 3x"),
        "{}",
        mail.subject
    );
    assert!(
        mail.text.contains("within 15 min of assignment: 3x"),
        "{}",
        mail.text
    );
}

#[test]
fn sla3_queue_alert() {
    let r = renderer("");
    let ctx = queued(RoutePath::PersonalEmailReview, "review");
    let out = r.queue_alert(&ctx, "review", SignedDuration::from_mins(17));
    let kinds: Vec<(&str, &str, Kind)> = out
        .messages
        .iter()
        .map(|m| (m.channel.name(), m.recipient.as_str(), m.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            ("slack", "alerts", Kind::QueueAlert),
            ("email", "revops@northwind.example", Kind::QueueAlert)
        ]
    );
    let mail = email_of(&out.messages[1]);
    assert_eq!(
        mail.subject,
        "Lead waiting 17 min in review: Jane Doe, Acme Corp"
    );
    assert!(
        mail.text
            .contains("has waited 17 min in review without an owner")
    );
    assert!(
        mail.text
            .contains("https://leadrouter.example/leads/L-1001")
    );
}

#[test]
fn ntf5_missing_contacts_are_reported_not_dropped() {
    let r = renderer("");
    let mut ctx = hot();
    ctx.rep = Some(RepContact {
        id: "pat".into(),
        name: "Pat Doe".into(),
        ..RepContact::default()
    });
    let out = r.assignment(&ctx, ctx.decision.decided_at);
    let skipped: Vec<(&str, &str)> = out
        .skipped
        .iter()
        .map(|s| (s.channel.as_str(), s.reason.as_str()))
        .collect();
    assert!(
        skipped.contains(&("email", "rep pat has no valid email address")),
        "{skipped:?}"
    );
    assert!(
        skipped.contains(&("sms", "rep pat has no phone number")),
        "{skipped:?}"
    );
    // Slack still reaches the channel (no mention without a member id).
    let slack = find(&out.messages, &Channel::Slack, Kind::RepNotification).unwrap();
    assert!(!slack.payload.to_string().contains("<@"));

    // Notifications off entirely: nothing at all.
    let off = Renderer::new(&NotifyConfig::default()).unwrap();
    assert!(
        off.assignment(&hot(), hot().decision.decided_at)
            .messages
            .is_empty()
    );
}

/// The whole chain from the core: a real decision on the demo config, its trace turned
/// into reason lines, and the rep from the roster.
#[test]
fn from_a_real_decision() {
    use leadrouter_core::engine::{self, RoutingInput};
    use leadrouter_core::lead::Lead;
    use leadrouter_core::state::StateSnapshot;
    use leadrouter_notify::{Firmographics, LinkSigner};

    let cfg = leadrouter_core::config::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/demo.toml"
    ))
    .expect("demo config loads");
    let json: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/leads/01-hot-enterprise-demo-amer.json"
        ))
        .unwrap(),
    )
    .unwrap();
    let (lead, _) = Lead::from_json(&json).unwrap();
    let state = StateSnapshot::default();
    // A Tuesday, mid-morning in New York.
    let now: jiff::Timestamp = "2026-03-03T15:00:00Z".parse().unwrap();
    let routed = engine::decide(&cfg, RoutingInput::new(&lead, &state, now));
    let owner = routed
        .decision
        .owner
        .clone()
        .expect("the hot demo lead is assigned");
    let rep = cfg.rep(cfg.rep_by_id[owner.id.as_str()]);

    let notify = parse_config(BASE);
    let signer = LinkSigner::with_secret(&notify, &[7u8; 32]);
    let ctx = NotifyContext {
        lead_id: "L-77".into(),
        reason_lines: reason_lines(&routed.decision, &routed.trace),
        rep: Some(RepContact::from_rep(rep)),
        firmographics: Firmographics {
            employees: routed.trace.facts.employees,
            industry: routed.trace.facts.industry.as_deref().map(str::to_string),
            ..Firmographics::default()
        },
        lead,
        decision: routed.decision.clone(),
        record_url: String::new(),
        accept_url: None,
        contacted_url: None,
        confirmation_off: None,
    }
    .with_links(signer.links("L-77", "jane", now));
    assert_eq!(ctx.decision.tier, Tier::Hot);
    assert_eq!(ctx.reason_lines[0], routed.decision.reason);
    assert!(
        ctx.reason_lines.last().unwrap().starts_with("score "),
        "{:?}",
        ctx.reason_lines
    );

    let out = Renderer::new(&notify).unwrap().assignment(&ctx, now);
    let mail = email_of(&find(&out.messages, &Channel::Email, Kind::RepNotification).unwrap());
    assert_eq!(mail.to, rep.email.clone().unwrap());
    assert!(mail.text.contains("Summit Ridge Software"), "{}", mail.text);
    assert!(
        mail.text.contains("Size:      2,400 employees"),
        "{}",
        mail.text
    );
    assert!(
        mail.text.contains("Phone:     +14045550188"),
        "{}",
        mail.text
    );
    assert!(mail.text.contains(&routed.decision.reason), "{}", mail.text);
    let conf = email_of(&find(&out.messages, &Channel::Email, Kind::LeadConfirmation).unwrap());
    assert!(conf.from.contains(&rep.name), "{}", conf.from);
    if let Some(link) = &rep.booking_link {
        assert!(conf.text.contains(link.as_str()), "{}", conf.text);
    }
}

/// The config example in docs/notifications.md parses.
#[test]
fn documented_config_parses() {
    let doc = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../docs/notifications.md"
    ))
    .unwrap();
    let start = doc.find("```toml\n").expect("a toml block") + "```toml\n".len();
    let end = start + doc[start..].find("```").unwrap();
    let cfg = parse_config(&doc[start..end]);
    assert!(cfg.enabled && cfg.slack.is_some() && cfg.email.is_some() && cfg.sms.is_some());
    assert_eq!(cfg.webhooks.len(), 1);
    assert_eq!(cfg.assets.len(), 3);
    Renderer::new(&cfg).unwrap();
}
