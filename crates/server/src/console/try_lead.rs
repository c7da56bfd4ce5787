//! Try a lead: paste JSON or fill the form, and see the decision and its trace against the
//! live config and the committed routing state, without saving anything (EXP-2: the same
//! `decide` the sequencer runs; its effects are dropped).

use super::lead::{Item, timeline};
use super::{ConsoleState, FormData, Nav, PageResult, check_csrf, html, staff};
use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use leadrouter_core::engine::{RoutingInput, decide};
use leadrouter_core::lead::Lead;
use serde_json::{Map, Value};

/// Form fields offered besides the JSON box (Web-to-Lead names).
const FIELDS: [(&str, &str); 10] = [
    ("first_name", "First name"),
    ("last_name", "Last name"),
    ("email", "Email"),
    ("company", "Company"),
    ("title", "Title"),
    ("country", "Country"),
    ("state", "State"),
    ("employees", "Employees"),
    ("industry", "Industry"),
    ("action", "Action"),
];

const EXAMPLE: &str = r#"{
  "first_name": "Dana", "last_name": "Reyes", "email": "dana.reyes@northwind-logistics.com",
  "company": "Northwind Logistics", "title": "VP Operations", "country": "US", "state": "TX",
  "employees": 1800, "industry": "Logistics", "action": "demo_request"
}"#;

pub struct Outcome {
    pub headline: String,
    pub assigned: bool,
    pub reason: String,
    pub tier: String,
    pub path: String,
    pub rule: String,
    pub sla: String,
    pub timeline: Vec<Item>,
}

#[derive(Template)]
#[template(path = "console/try.html")]
struct Page {
    nav: Nav,
    json: String,
    fields: Vec<(&'static str, &'static str, String)>,
    enrich: bool,
    errors: Vec<String>,
    outcome: Option<Outcome>,
    version: String,
}

fn render(
    st: &ConsoleState,
    nav: Nav,
    json: String,
    fields: Vec<(&'static str, &'static str, String)>,
    enrich: bool,
    errors: Vec<String>,
    outcome: Option<Outcome>,
) -> PageResult {
    Ok(html(
        Page {
            nav,
            json,
            fields,
            enrich,
            errors,
            outcome,
            version: st.app.shared.config.load().version.clone(),
        }
        .render()?,
    ))
}

pub async fn page(State(st): State<ConsoleState>, headers: HeaderMap) -> PageResult {
    let s = staff(&st, &headers).await?;
    let fields = FIELDS
        .iter()
        .map(|(k, l)| (*k, *l, String::new()))
        .collect();
    render(
        &st,
        Nav::with_times(&s, &st, &headers, "try").0,
        EXAMPLE.into(),
        fields,
        false,
        vec![],
        None,
    )
}

pub async fn submit(State(st): State<ConsoleState>, headers: HeaderMap, body: Bytes) -> PageResult {
    let s = staff(&st, &headers).await?;
    let form = FormData::parse(&body)?;
    check_csrf(&s, &headers, &form)?;
    let (nav, times) = Nav::with_times(&s, &st, &headers, "try");
    let fields: Vec<(&'static str, &'static str, String)> = FIELDS
        .iter()
        .map(|(k, l)| (*k, *l, form.get(k).unwrap_or("").to_string()))
        .collect();
    let enrich = form.get("enrich").is_some();
    let json_text = form.get("json").unwrap_or("").to_string();
    // The filled-in fields win when any is set; otherwise the JSON box is the lead.
    let payload = if fields.iter().any(|f| !f.2.is_empty()) {
        let mut m = Map::new();
        for (k, _, v) in &fields {
            if !v.is_empty() {
                let val = match (*k, v.parse::<u64>()) {
                    ("employees", Ok(n)) => Value::from(n),
                    _ => Value::String(v.clone()),
                };
                m.insert((*k).to_string(), val);
            }
        }
        Value::Object(m)
    } else {
        match serde_json::from_str::<Value>(&json_text) {
            Ok(v) => v,
            Err(e) => {
                let errors = vec![format!(
                    "the JSON is not valid (line {}, column {}): {e}",
                    e.line(),
                    e.column()
                )];
                return render(&st, nav, json_text, fields, enrich, errors, None);
            }
        }
    };
    let (lead, issues) = match Lead::from_json(&payload) {
        Ok(x) => x,
        Err(e) => {
            return render(
                &st,
                nav,
                json_text,
                fields,
                enrich,
                vec![format!("{}: {}", e.field, e.problem)],
                None,
            );
        }
    };
    if let Err(errs) = crate::intake::validate(&lead) {
        let errors = errs
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect();
        return render(&st, nav, json_text, fields, enrich, errors, None);
    }
    let cfg = st.app.shared.config.load_full();
    let mut state = st.app.shared.store.state().await?;
    if let Some(email) = lead
        .email
        .as_deref()
        .and_then(|e| leadrouter_core::domains::parse_email(e).ok())
        && let Some(p) = st.app.shared.store.person(&email.normalized).await?
    {
        state.people.insert(email.normalized, p);
    }
    let enrichment = if enrich {
        Some(st.app.shared.enricher.load_full().enrich(&lead).await)
    } else {
        None
    };
    let now = st.app.shared.clock.now();
    let mut input = RoutingInput::new(&lead, &state, now);
    input.issues = &issues;
    input.enrichment = enrichment.as_ref();
    let crm = st.app.shared.crm_accounts.load_full();
    input.crm_accounts = Some(&crm);
    let routed = decide(&cfg, input);
    let mut trace = routed.trace.clone();
    trace.explain(&cfg);
    let d = &routed.decision;
    let outcome = Outcome {
        headline: match (&d.owner, &d.queue) {
            (Some(o), _) => format!("Would go to {} ({})", o.name, o.id),
            (None, Some(q)) => format!("Would be queued in {q}"),
            _ => "Would be decided".into(),
        },
        assigned: d.owner.is_some(),
        reason: d.reason.clone(),
        tier: d.tier.name().into(),
        path: d.path.label().into(),
        rule: d.rule.as_deref().unwrap_or("–").to_string(),
        sla: format!(
            "route within {}, first touch within {}",
            leadrouter_core::words::duration(d.sla.route_within),
            leadrouter_core::words::duration(d.sla.contact_within)
        ),
        timeline: timeline(&trace, Some(d), &times),
    };
    let json = if json_text.is_empty() {
        serde_json::to_string_pretty(&payload).unwrap_or_default()
    } else {
        json_text
    };
    render(&st, nav, json, fields, enrich, vec![], Some(outcome))
}
