//! Matrix (OPS-2): the config version in force, the `check` findings (coverage gaps,
//! shadowed and overlapping rules, inactive or unknown people) and the routing matrix as a
//! table in precedence order.

use super::{ConsoleState, Nav, PageResult, html, staff};
use askama::Template;
use axum::extract::State;
use axum::http::HeaderMap;
use leadrouter_core::analysis::{Severity, analyze};
use leadrouter_core::config::Dim;

pub struct FindingRow {
    pub severity: &'static str,
    pub kind: &'static str,
    pub location: String,
    pub message: String,
    pub fix: String,
}

pub struct RuleRow {
    pub id: String,
    pub priority: i32,
    pub layer: &'static str,
    pub conds: Vec<String>,
    pub target: String,
    pub note: String,
    pub origin: String,
}

#[derive(Template)]
#[template(path = "console/matrix.html")]
struct Page {
    nav: Nav,
    version: String,
    findings: Vec<FindingRow>,
    dims: Vec<&'static str>,
    rules: Vec<RuleRow>,
    reps: usize,
    teams: usize,
    accounts: usize,
}

pub async fn page(State(st): State<ConsoleState>, headers: HeaderMap) -> PageResult {
    let s = staff(&st, &headers).await?;
    let cfg = st.app.shared.config.load_full();
    let findings = analyze(&cfg)
        .into_iter()
        .map(|f| FindingRow {
            severity: match f.severity {
                Severity::Warning => "warning",
                Severity::Note => "note",
            },
            kind: f.kind,
            location: f.location.unwrap_or_default(),
            message: f.message,
            fix: f.fix.unwrap_or_default(),
        })
        .collect();
    let rules = cfg
        .rules
        .iter()
        .map(|r| RuleRow {
            id: r.id.clone(),
            priority: r.priority,
            layer: match r.layer {
                leadrouter_core::config::Layer::Territory => "territory",
                leadrouter_core::config::Layer::Segment => "segment",
            },
            conds: Dim::ALL
                .iter()
                .map(|d| {
                    let c = r.cond(*d);
                    if c.is_empty() {
                        "any".to_string()
                    } else {
                        c.join(" | ")
                    }
                })
                .collect(),
            target: cfg.target_label(r.target),
            note: r.note.clone().unwrap_or_default(),
            origin: r.origin.to_string(),
        })
        .collect();
    Ok(html(
        Page {
            nav: Nav::with_times(&s, &st, &headers, "matrix").0,
            version: cfg.version.clone(),
            findings,
            dims: Dim::ALL.iter().map(|d| d.name()).collect(),
            rules,
            reps: cfg.reps.len(),
            teams: cfg.teams.len(),
            accounts: cfg.accounts.len(),
        }
        .render()?,
    ))
}
