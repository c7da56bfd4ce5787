//! A made-up hot lead and the full template context built from it: the trial render of
//! template overrides at config load, the docs' variable list and the tests use them.

use super::*;

/// A made-up hot lead, used to trial-render template overrides at config load and in
/// docs/tests.
pub fn sample_context() -> NotifyContext {
    use leadrouter_core::config::Intent;
    use leadrouter_core::trace::{Owner, Sla};
    let at: Timestamp = "2026-03-02T15:00:00Z".parse().expect("valid timestamp");
    NotifyContext {
        lead_id: "L-1001".into(),
        lead: Lead {
            first_name: Some("Jane".into()),
            last_name: Some("Doe".into()),
            email: Some("jane.doe@acme.example".into()),
            company: Some("Acme Corp".into()),
            title: Some("VP Operations".into()),
            phone: Some("+14155550123".into()),
            country: Some("US".into()),
            action: Some("demo_request".into()),
            ..Lead::default()
        },
        decision: Decision {
            owner: Some(Owner {
                id: "alex".into(),
                name: "Alex Kim".into(),
            }),
            queue: None,
            path: RoutePath::Territory,
            rule: Some("amer-ent-software".into()),
            team: Some("amer-enterprise".into()),
            account: None,
            segment: Some("enterprise".into()),
            tier: Tier::Hot,
            score: 85,
            intent: Intent::High,
            icp_fit: true,
            sla: Sla {
                route_by: at + SignedDuration::from_mins(5),
                contact_by: Some(at + SignedDuration::from_mins(5)),
                route_within: SignedDuration::from_mins(5),
                contact_within: SignedDuration::from_mins(5),
            },
            reason: "territory rule amer-ent-software → team amer-enterprise".into(),
            flags: Vec::new(),
            notes: Vec::new(),
            config_version: "sample".into(),
            decided_at: at,
        },
        reason_lines: vec![
            "territory rule amer-ent-software → team amer-enterprise".into(),
            "score 85 (demo_request +30, enterprise +25); ICP fit yes".into(),
        ],
        rep: Some(RepContact {
            id: "alex".into(),
            name: "Alex Kim".into(),
            email: Some("alex@northwind.example".into()),
            phone: Some("+14155550100".into()),
            slack: Some("U024BE7LH".into()),
            booking_link: Some("https://cal.example/alex".into()),
            signature: Some("Alex Kim\nAccount Executive, Northwind".into()),
            linkedin: Some("https://www.linkedin.com/in/alexkim".into()),
            time_zone: Some("America/Los_Angeles".into()),
        }),
        firmographics: Firmographics {
            company: Some("Acme Corp".into()),
            employees: Some(1200),
            industry: Some("Software".into()),
            linkedin: Some("https://www.linkedin.com/in/janedoe".into()),
        },
        record_url: "https://leadrouter.example/leads/L-1001".into(),
        accept_url: Some("https://leadrouter.example/l/accept-token".into()),
        contacted_url: Some("https://leadrouter.example/l/contacted-token".into()),
        confirmation_off: None,
    }
}

/// Every template variable any template can see, filled from [`sample_context`].
pub(crate) fn sample_template_context() -> Value {
    let cfg = NotifyConfig {
        enabled: true,
        onboarding_url: Some("https://app.example/welcome".into()),
        ..NotifyConfig::default()
    };
    let r = Renderer {
        templates: Templates::empty(),
        cfg,
    };
    let mut v = r.template_context(&sample_context());
    v["reassigned"] = json!(false);
    v["previous_owner"] = json!("Sam Lee");
    v["multiple"] = json!(1);
    v["leadership"] = json!(false);
    v["overdue"] = json!("5 min");
    v["manager"] = json!({"id": "mgr", "name": "Morgan Diaz", "first_name": "Morgan", "email": "morgan@northwind.example", "slack_id": "U0MGR12345"});
    v["queue"] = json!("review");
    v["age"] = json!("17 min");
    v["asset_url"] = json!("https://example.com/guide.pdf");
    v
}
