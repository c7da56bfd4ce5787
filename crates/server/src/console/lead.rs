//! Lead detail (EXP-1): the form fields as received, the facts the engine used with the
//! source of each enriched field, the decision trace as a timeline (every step, every rule
//! considered, every candidate rep and why they were skipped), notifications, the SLA
//! clock, reassignments and the outcome. Reps may open only their own leads, managers
//! their reps'; whoever may work the lead gets its actions (see `actions`).

use super::time::Times;
use super::{ConsoleError, ConsoleState, Nav, PageResult, html, session};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use leadrouter_core::config::CompiledConfig;
use leadrouter_core::lifecycle::LeadStatus;
use leadrouter_core::trace::{Decision, RoutingTrace, Step, Verdict};

/// One entry of a decision timeline.
pub struct Item {
    pub class: &'static str,
    pub title: String,
    pub text: String,
    pub details: Vec<Detail>,
}

pub struct Detail {
    pub class: &'static str,
    pub text: String,
}

fn verdict(v: &Verdict, times: &Times) -> (&'static str, String) {
    match v {
        Verdict::Chosen => ("good", "chosen".into()),
        // An instant in the viewer's zone, not as the trace stores it.
        Verdict::Skipped {
            skip: skip @ leadrouter_core::trace::Skip::OutOfOffice { .. },
        } => (
            "bad",
            format!("skipped — {}", super::reps::unavailable_text(skip, times)),
        ),
        Verdict::Skipped { skip } => ("bad", format!("skipped — {}", skip.text())),
        Verdict::Passed => ("", "available, not chosen (another rep's turn)".into()),
        Verdict::NotReached => ("muted", "later in the rotation, not examined".into()),
    }
}

/// The trace as timeline items. `explain` should have been run when the config that made
/// the decision is the one in force (then every rule considered is listed).
pub fn timeline(trace: &RoutingTrace, decision: Option<&Decision>, times: &Times) -> Vec<Item> {
    let mut out = Vec::new();
    let f = &trace.facts;
    let parts: Vec<String> = f
        .score_parts
        .iter()
        .map(|p| format!("{} {:+}", p.label, p.points))
        .collect();
    out.push(Item {
        class: "info",
        title: "Scored".into(),
        text: format!(
            "score {} ({}); ICP fit {}; tier {}",
            f.score,
            if parts.is_empty() {
                "no points".into()
            } else {
                parts.join(", ")
            },
            if f.icp_fit { "yes" } else { "no" },
            f.tier.map(|t| t.name()).unwrap_or("–")
        ),
        details: f
            .issues
            .iter()
            .map(|i| Detail {
                class: "bad",
                text: format!("input issue: {}: {}", i.field, i.problem),
            })
            .collect(),
    });
    for step in &trace.steps {
        let item = match step {
            Step::Junk { reason } => Item {
                class: if reason.is_some() { "skip" } else { "ok" },
                title: "Junk check".into(),
                text: reason
                    .clone()
                    .map(|r| format!("junk: {r}"))
                    .unwrap_or_else(|| "clean".into()),
                details: vec![],
            },
            Step::KnownPerson {
                email,
                owner,
                outcome,
            } => Item {
                class: "info",
                title: "Known person".into(),
                text: format!(
                    "{email} (owner {}): {outcome}",
                    owner.as_deref().unwrap_or("none")
                ),
                details: vec![],
            },
            Step::Account {
                matched_by,
                account,
                owner,
                named,
                outcome,
            } => Item {
                class: if account.is_some() { "ok" } else { "info" },
                title: "Account match".into(),
                text: match account {
                    Some(a) => format!(
                        "{a}{} by {}, owned by {}: {outcome}",
                        if *named { " (named account)" } else { "" },
                        matched_by.as_deref().unwrap_or("?"),
                        owner.as_deref().unwrap_or("nobody")
                    ),
                    None => outcome.to_string(),
                },
                details: vec![],
            },
            Step::PersonalEmail { domain, outcome } => Item {
                class: "info",
                title: "Personal email".into(),
                text: format!("{domain}: {outcome}"),
                details: vec![],
            },
            Step::Qualification { outcome } => Item {
                class: "info",
                title: "Firmographics".into(),
                text: outcome.to_string(),
                details: vec![],
            },
            Step::Nurture { outcome } => Item {
                class: "info",
                title: "Qualification score".into(),
                text: outcome.clone(),
                details: vec![],
            },
            Step::Matrix {
                matched,
                also_matched,
                candidates,
                rules,
                considered,
            } => {
                let mut details: Vec<Detail> = considered
                    .iter()
                    .map(|c| match &c.failed_on {
                        Some(why) => Detail {
                            class: "muted",
                            text: format!("rule {}: no — {why}", c.id),
                        },
                        None => Detail {
                            class: "good",
                            text: format!("rule {}: matches", c.id),
                        },
                    })
                    .collect();
                if !also_matched.is_empty() {
                    details.push(Detail {
                        class: "bad",
                        text: format!(
                            "also matched at the same precedence: {} (first in file order wins)",
                            also_matched.join(", ")
                        ),
                    });
                }
                Item {
                    class: if matched.is_some() { "ok" } else { "skip" },
                    title: "Routing matrix".into(),
                    text: match matched {
                        Some(m) => format!(
                            "{candidates} of {rules} rules match; rule {} wins ({:?}, priority {}, {})",
                            m.id, m.layer, m.priority, m.origin
                        ),
                        None => format!("none of {rules} rules match"),
                    },
                    details,
                }
            }
            Step::Rep {
                rep,
                role,
                verdict: v,
            } => {
                let (class, text) = verdict(v, times);
                Item {
                    class: if class == "bad" { "skip" } else { "ok" },
                    title: format!("{} {rep}", capitalise(role)),
                    text,
                    details: vec![],
                }
            }
            Step::Team {
                team,
                method,
                candidates,
            } => Item {
                class: "info",
                title: format!("Team {team}"),
                text: format!("{method}, {} candidates", candidates.len()),
                details: candidates
                    .iter()
                    .map(|c| {
                        let (class, text) = verdict(&c.verdict, times);
                        Detail {
                            class,
                            text: format!(
                                "{}: {text}{}",
                                c.rep,
                                c.load
                                    .map(|l| format!(" (load {l:.1})"))
                                    .unwrap_or_default()
                            ),
                        }
                    })
                    .collect(),
            },
            Step::Fallback { from, to, because } => Item {
                class: "skip",
                title: "Fallback".into(),
                text: format!("{from} → {to}: {because}"),
                details: vec![],
            },
            Step::Manual {
                by,
                rep,
                note,
                overridden,
            } => Item {
                class: "info",
                title: "Manual assignment".into(),
                text: format!(
                    "to {rep} by {by}{}",
                    note.as_deref()
                        .map(|n| format!(" ({n})"))
                        .unwrap_or_default()
                ),
                details: overridden
                    .iter()
                    .map(|o| Detail {
                        class: "bad",
                        text: format!("overrides: {o}"),
                    })
                    .collect(),
            },
        };
        out.push(item);
    }
    if let Some(d) = decision {
        out.push(Item {
            class: if d.owner.is_some() { "ok" } else { "info" },
            title: match (&d.owner, &d.queue) {
                (Some(o), _) => format!("Assigned to {}", o.name),
                (None, Some(q)) => format!("Queued in {q}"),
                _ => "Decided".into(),
            },
            text: d.reason.clone(),
            details: vec![Detail {
                class: "muted",
                text: format!(
                    "route by {}{}",
                    times.at(d.sla.route_by),
                    d.sla
                        .contact_by
                        .map(|c| format!(", first touch by {}", times.at(c)))
                        .unwrap_or_default()
                ),
            }],
        });
    }
    out
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

/// The engine's view of the lead, with the source of each enriched value.
pub fn facts(trace: &RoutingTrace) -> Vec<(String, String, String)> {
    let f = &trace.facts;
    let mut v = Vec::new();
    let mut push = |k: &str, val: Option<String>, src: Option<&str>| {
        if let Some(val) = val {
            v.push((k.to_string(), val, src.unwrap_or("form").to_string()));
        }
    };
    push(
        "email domain",
        f.email_domain.as_deref().map(str::to_string),
        None,
    );
    push("company", f.company.clone(), None);
    push(
        "employees",
        f.employees.map(|e| e.to_string()),
        f.employees_source.as_deref(),
    );
    push(
        "segment",
        f.segment.as_deref().map(str::to_string),
        f.employees_source.as_deref(),
    );
    push(
        "industry",
        f.industry.as_deref().map(str::to_string),
        f.industry_source.as_deref(),
    );
    push("country", f.country.as_deref().map(str::to_string), None);
    push(
        "region",
        f.region.as_deref().map(str::to_string),
        Some("derived from country"),
    );
    push("state", f.state.as_deref().map(str::to_string), None);
    push("postal code", f.postal_code.clone(), None);
    push("product", f.product.as_deref().map(str::to_string), None);
    push(
        "lead source",
        f.lead_source.as_deref().map(str::to_string),
        None,
    );
    push("action", f.action.as_deref().map(str::to_string), None);
    push(
        "email kind",
        Some(
            if f.disposable_email {
                "disposable"
            } else if f.personal_email {
                "personal"
            } else {
                "corporate"
            }
            .to_string(),
        ),
        Some("shipped domain lists"),
    );
    // ENR-2: every field a provider or a local signal supplied, and what failed.
    for (field, provider) in &f.enrichment_sources {
        v.push((
            format!("{} (enrichment)", field.replace('_', " ")),
            "supplied".to_string(),
            provider.clone(),
        ));
    }
    for why in &f.enrichment_failures {
        v.push((
            "enrichment failed".to_string(),
            why.clone(),
            "provider chain".to_string(),
        ));
    }
    v
}

pub struct HistoryEntry {
    pub kind: String,
    pub at: String,
    pub actor: String,
    pub reason: String,
    pub destination: String,
    pub timeline: Vec<Item>,
    pub stale_config: bool,
}

pub struct Message {
    pub kind: String,
    pub channel: String,
    pub recipient: String,
    pub status: String,
    pub attempts: i64,
    pub error: String,
    pub created: String,
}

pub struct TimerView {
    pub step: String,
    pub due: String,
    pub status: String,
    pub owner: String,
}

#[derive(Template)]
#[template(path = "console/lead.html")]
struct Page {
    nav: Nav,
    id: String,
    name: String,
    company: String,
    summary: Vec<(String, String)>,
    fields: Vec<(String, String)>,
    facts: Vec<(String, String, String)>,
    history: Vec<HistoryEntry>,
    messages: Vec<Message>,
    timers: Vec<TimerView>,
    sla: String,
    sla_class: &'static str,
    reassignments: usize,
    can_assign: bool,
    /// Accept, contacted, disqualify, outcome: the viewer works this lead.
    can_act: bool,
    can_accept: bool,
    can_contact: bool,
    outcomes: [&'static str; 4],
    flash: Option<String>,
    /// An admin may erase the person behind a lead that still has an address.
    can_erase: bool,
    reps: Vec<super::queues::RepOption>,
}

fn value_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        serde_json::Value::Null => String::new(),
        other => other.to_string(),
    }
}

pub fn expand(
    cfg: &CompiledConfig,
    config_version: &str,
    trace: &leadrouter_store::JsonText,
    decision: Option<&leadrouter_store::JsonText>,
    times: &Times,
) -> Option<(Vec<Item>, Option<RoutingTrace>)> {
    let mut rt: RoutingTrace = trace.parse()?;
    if config_version == cfg.version {
        rt.explain(cfg);
    }
    let d: Option<Decision> = decision.and_then(|d| d.parse());
    Some((timeline(&rt, d.as_ref(), times), Some(rt)))
}

#[derive(serde::Deserialize, Default)]
pub struct LeadQuery {
    done: Option<String>,
}

pub async fn page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    Query(q): Query<LeadQuery>,
) -> PageResult {
    let s = session(&st, &headers).await?;
    let store = &st.app.shared.store;
    let cfg = st.app.shared.config.load_full();
    let leadrouter_store::LeadDetail {
        lead,
        history: decisions,
        outbox,
        timers,
    } = store
        .lead_detail(&id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("lead {id}")))?;
    if !super::actions::may_view(&cfg, &s, lead.owner.as_deref()) {
        // A rep sees only their own leads, a manager their reps'; do not confirm that
        // the lead exists.
        return Err(ConsoleError::NotFound(format!("lead {id}")));
    }
    let now = st.app.shared.clock.now().as_microsecond();
    let (nav, times) = Nav::with_times(
        &s,
        &st,
        &headers,
        if s.is_staff() { "queues" } else { "my" },
    );
    let (name, company) = super::lead_name(&lead.payload, lead.email.as_deref());
    let mut facts_rows = Vec::new();
    let mut history = Vec::new();
    let mut reassignments = 0;
    for h in decisions {
        if matches!(h.kind.as_str(), "manual" | "sla_reassign") {
            reassignments += 1;
        }
        let mut tl = Vec::new();
        if let Some(t) = &h.trace
            && let Some((items, rt)) =
                expand(&cfg, &h.config_version, t, h.decision.as_ref(), &times)
        {
            tl = items;
            if facts_rows.is_empty()
                && let Some(rt) = rt
            {
                facts_rows = facts(&rt);
            }
        }
        history.push(HistoryEntry {
            kind: h.kind,
            at: times.ts(h.decided_at),
            actor: h.actor.unwrap_or_else(|| "leadrouter".into()),
            reason: h.reason,
            destination: match (&h.owner, &h.queue) {
                (Some(o), _) => super::rep_name(&cfg, o),
                (None, Some(q)) => format!("queue {q}"),
                _ => String::new(),
            },
            stale_config: h.config_version != cfg.version,
            timeline: tl,
        });
    }
    let fields = match &*lead.payload {
        serde_json::Value::Object(m) => m.iter().map(|(k, v)| (k.clone(), value_text(v))).collect(),
        other => vec![("payload".into(), other.to_string())],
    };
    let messages = outbox
        .into_iter()
        .map(|m| Message {
            kind: m.kind,
            channel: m.channel,
            recipient: m.recipient,
            status: m.status,
            attempts: m.attempts,
            error: m.last_error.unwrap_or_default(),
            created: times.ts(m.created_at),
        })
        .collect();
    let timers = timers
        .into_iter()
        .map(|t| TimerView {
            step: t.step.to_string(),
            due: times.ts(t.due_at),
            status: t.status,
            owner: t
                .owner
                .map(|o| super::rep_name(&cfg, &o))
                .unwrap_or_default(),
        })
        .collect();
    let (sla, sla_class) = match (lead.contact_by, lead.first_touch_at) {
        (Some(by), Some(t)) if t <= by => (
            format!(
                "contacted {} after routing, within the SLA",
                super::time::between(lead.routed_at, t)
            ),
            "good",
        ),
        (Some(_), Some(t)) => (
            format!(
                "contacted {} after routing, after the deadline",
                super::time::between(lead.routed_at, t)
            ),
            "bad",
        ),
        (Some(by), None) if lead.status != LeadStatus::Open => (
            format!(
                "closed without a recorded first touch (deadline {})",
                times.ts(by)
            ),
            "muted",
        ),
        (Some(by), None) if by >= now => (
            format!(
                "first touch due in {} (by {})",
                super::age(by, now),
                times.ts(by)
            ),
            "warn",
        ),
        (Some(by), None) => (
            format!(
                "first touch overdue by {} (was due {})",
                super::age(now, by),
                times.ts(by)
            ),
            "bad",
        ),
        (None, _) => ("no contact deadline (queued lead)".into(), "muted"),
    };
    let ts = |v: Option<i64>| v.map(|v| times.ts(v)).unwrap_or_else(|| "–".into());
    let summary = vec![
        (
            "Owner".into(),
            lead.owner
                .as_deref()
                .map(|o| super::rep_name(&cfg, o))
                .unwrap_or_else(|| "–".into()),
        ),
        (
            "Queue".into(),
            lead.queue.clone().unwrap_or_else(|| "–".into()),
        ),
        (
            "Team".into(),
            lead.team.clone().unwrap_or_else(|| "–".into()),
        ),
        (
            "Tier / score".into(),
            format!("{} / {}", lead.tier, lead.score),
        ),
        (
            "Segment".into(),
            lead.segment.clone().unwrap_or_else(|| "–".into()),
        ),
        (
            "Path / rule".into(),
            format!("{} / {}", lead.path, lead.rule.as_deref().unwrap_or("–")),
        ),
        (
            "Status / stage".into(),
            format!("{} / {}", lead.status, lead.stage),
        ),
        (
            "Outcome".into(),
            lead.outcome
                .map(|o| format!("{o} ({})", ts(lead.outcome_at)))
                .unwrap_or_else(|| "–".into()),
        ),
        ("Received".into(), times.ts(lead.received_at)),
        (
            "Routed in".into(),
            super::time::between(lead.received_at, lead.routed_at.max(lead.received_at)),
        ),
        ("Accepted".into(), ts(lead.accepted_at)),
        ("First touch".into(), ts(lead.first_touch_at)),
        ("Source".into(), lead.source.clone()),
        ("Config version".into(), lead.config_version.clone()),
    ];
    let reps = if s.is_staff() && lead.status == LeadStatus::Open {
        let state = store.state().await?;
        super::queues::rep_options(&cfg, &state, st.app.shared.clock.now())
    } else {
        Vec::new()
    };
    Ok(html(
        Page {
            nav,
            can_assign: s.is_staff() && lead.status == LeadStatus::Open,
            can_act: lead.status == LeadStatus::Open
                && super::actions::may_act(&cfg, &s, lead.owner.as_deref()),
            can_accept: lead.accepted_at.is_none() && lead.owner.is_some(),
            can_contact: lead.first_touch_at.is_none() && lead.owner.is_some(),
            outcomes: super::actions::OUTCOMES,
            flash: q.done.as_deref().and_then(|d| {
                let text = match d {
                    "accept" => "Accepted.",
                    "contacted" => "Marked as contacted.",
                    "disqualify" => "Disqualified.",
                    "outcome" => "Outcome recorded.",
                    _ => return None,
                };
                Some(text.to_string())
            }),
            can_erase: matches!(s.role, super::Role::Admin) && lead.email.is_some(),
            id,
            name,
            company,
            summary,
            fields,
            facts: facts_rows,
            history,
            messages,
            timers,
            sla,
            sla_class,
            reassignments,
            reps,
        }
        .render()?,
    ))
}

/// `POST /console/leads/{id}/erase` (SEC-3): erase the person behind this lead everywhere,
/// as `DELETE /v1/people/{email}` does. Admins only; the form carries the CSRF token and
/// a confirmation box (the console runs no script, so no dialog can ask).
pub async fn erase(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> PageResult {
    let s = session(&st, &headers).await?;
    let form = super::FormData::parse(&body)?;
    super::check_csrf(&s, &headers, &form)?;
    if !matches!(s.role, super::Role::Admin) {
        return Err(ConsoleError::Forbidden);
    }
    if form.get("confirm") != Some("yes") {
        return Err(ConsoleError::Bad(
            "tick the box to confirm the erasure: it cannot be undone".into(),
        ));
    }
    let store = &st.app.shared.store;
    let lead = store
        .lead(&id)
        .await?
        .ok_or_else(|| ConsoleError::NotFound(format!("lead {id}")))?;
    let Some(email) = lead.email else {
        return Err(ConsoleError::Bad(
            "this lead holds no address: its person was already erased".into(),
        ));
    };
    let now = st.app.shared.clock.now().as_microsecond();
    let counts = crate::api::people::erase_everywhere(&st.app.shared, &email, now).await?;
    // SEC-2: who erased, with the counts; never the address.
    let entry = crate::api::audit::Audit::new(format!("console:{}", s.user), "person.erase")
        .subject(id.clone())
        .detail(serde_json::to_value(&counts).unwrap_or_default());
    let _ = crate::api::audit::audit(&st.app.shared, entry).await;
    tracing::info!(user = %s.user, leads = counts.leads, "console: erased a person's data");
    Ok(axum::response::Redirect::to(&format!("/console/leads/{id}")).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_list_enrichment_sources_and_failures() {
        let mut f = leadrouter_core::trace::Facts {
            employees: Some(750),
            employees_source: Some("enrichment:vendor-export".into()),
            ..Default::default()
        };
        f.enrichment_sources
            .insert("employees".into(), "vendor-export".into());
        f.enrichment_sources
            .insert("tech_stack".into(), "acme-data".into());
        f.enrichment_failures
            .push("acme-data: timed out after 800ms".into());
        let trace = RoutingTrace {
            config_version: "sha256:test".into(),
            at: jiff::Timestamp::UNIX_EPOCH,
            facts: f,
            steps: Vec::new(),
        };
        let rows = facts(&trace);
        let has =
            |k: &str, v: &str, src: &str| rows.iter().any(|(a, b, c)| a == k && b == v && c == src);
        assert!(
            has("employees", "750", "enrichment:vendor-export"),
            "{rows:?}"
        );
        assert!(
            has("tech stack (enrichment)", "supplied", "acme-data"),
            "{rows:?}"
        );
        assert!(
            has(
                "enrichment failed",
                "acme-data: timed out after 800ms",
                "provider chain"
            ),
            "{rows:?}"
        );
    }
}
