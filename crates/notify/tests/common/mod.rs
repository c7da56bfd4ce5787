//! The notify tests' own fixtures: configs from TOML text and lead contexts. The SMTP
//! receiver and the webhook secret come from `leadrouter-testsupport`.
#![allow(dead_code)]

use leadrouter_core::config::Tier;
use leadrouter_core::trace::RoutePath;
use leadrouter_notify::render::sample_context;
use leadrouter_notify::{NotifyConfig, NotifyContext};
use std::collections::HashMap;

pub fn parse_config(toml_text: &str) -> NotifyConfig {
    let src = leadrouter_core::config::SourceText::new("test.toml", toml_text);
    NotifyConfig::parse(&src).unwrap_or_else(|e| panic!("config errors:\n{e}"))
}

pub fn env_of(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect();
    move |k: &str| map.get(k).cloned()
}

/// The sample hot demo request, assigned to Alex Kim.
pub fn hot() -> NotifyContext {
    sample_context()
}

/// The same lead as a Tier 3 (standard) content download.
pub fn standard() -> NotifyContext {
    let mut c = sample_context();
    c.decision.tier = Tier::Standard;
    c.decision.sla.contact_within = jiff::SignedDuration::from_hours(24);
    c.lead.action = Some("content_download".into());
    c.lead.product = Some("analytics".into());
    c
}

/// A lead routed to a queue (no owner).
pub fn queued(path: RoutePath, queue: &str) -> NotifyContext {
    let mut c = sample_context();
    c.decision.owner = None;
    c.decision.queue = Some(leadrouter_core::text::Text::copy(queue));
    c.decision.path = path;
    c.decision.sla.contact_by = None;
    c.rep = None;
    c.accept_url = None;
    c.contacted_url = None;
    c
}
