//! Print what the built-in templates produce for a sample hot lead:
//! `cargo run -p leadrouter-notify --example render_sample`.
use leadrouter_notify::render::sample_context;
use leadrouter_notify::{NotifyConfig, Renderer};

fn main() {
    let src = leadrouter_core::config::SourceText::new(
        "render_sample.toml",
        r#"
[notify]
base_url = "https://leadrouter.example"
[notify.slack]
default_webhook_env = "SLACK_WEBHOOK_URL"
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
events = ["lead.assigned"]
"#,
    );
    let cfg = NotifyConfig::parse(&src).unwrap_or_else(|e| panic!("invalid config:\n{e}"));
    let r = Renderer::new(&cfg).expect("templates compile");
    let ctx = sample_context();
    let at = ctx.decision.decided_at;
    let out = r.assignment(&ctx, at);
    for m in &out.messages {
        println!("=== {:?} {:?} -> {}", m.channel, m.kind, m.recipient);
        println!(
            "{}",
            serde_json::to_string_pretty(&m.payload).expect("json")
        );
        if let Some(t) = m.payload.get("text").and_then(|t| t.as_str()) {
            println!("--- text ---\n{t}");
        }
    }
    for s in &out.skipped {
        println!("skipped: {s:?}");
    }
    let alert = r.manager_alert(
        &ctx,
        &leadrouter_notify::Contact {
            id: "mgr".into(),
            name: "Morgan Diaz".into(),
            email: Some("morgan@northwind.example".into()),
            phone: None,
            slack: Some("U0MGR12345".into()),
        },
        1,
    );
    for m in &alert.messages {
        println!("=== {:?} {:?} -> {}", m.channel, m.kind, m.recipient);
        println!(
            "{}",
            serde_json::to_string_pretty(&m.payload).expect("json")
        );
    }
}
