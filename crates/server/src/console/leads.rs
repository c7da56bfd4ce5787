//! Leads (OPS-6, issue 21 and issue 23): every stored lead, newest first, a page at a
//! time ("Newer" / "Older" carry the store's keyset cursor), found by free text and
//! filtered by owner, team, queue, tier, segment, status, path and received date; and
//! the same result as CSV (`/console/leads.csv`, streamed like `GET /v1/leads`).
//!
//! The parameters are `GET /v1/leads`'s, parsed and checked by the same code
//! (`api::search::lead_query`), so the page and the API always agree on what a filter
//! means. Staff see every lead; a rep sees only their own (the owner filter is theirs
//! whatever the URL says); a manager their reps' (`actions::worked_reps`: the reps they
//! manage directly or through a team), whatever the filters. The page writes nothing.

use super::{ConsoleState, Nav, PageResult, Role, Session, html, rep_name, session};
use crate::api::search::{LeadParams, export_csv, lead_query};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use leadrouter_core::config::{CompiledConfig, Tier};
use leadrouter_core::lifecycle::LeadStatus;
use leadrouter_store::search::{LeadQuery, PATHS};

/// Leads per page.
const PAGE: i64 = 50;

pub struct Row {
    pub id: String,
    pub received: String,
    pub name: String,
    pub email: String,
    pub company: String,
    pub tier: String,
    pub path: String,
    pub went_to: String,
    pub status: String,
    pub erased: bool,
}

/// One `<option>` of a filter.
pub struct Choice {
    pub value: String,
    pub label: String,
    pub selected: bool,
}

/// One filter's `<select>`.
pub struct Select {
    pub name: &'static str,
    pub label: &'static str,
    pub choices: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "console/leads.html")]
struct Page {
    nav: Nav,
    text: String,
    from: String,
    to: String,
    selects: Vec<Select>,
    rows: Vec<Row>,
    errors: Vec<String>,
    /// Query strings of the neighbouring pages and of the CSV, filters kept.
    newer: Option<String>,
    older: Option<String>,
    csv: String,
    /// A rep sees their own leads only.
    own_only: bool,
}

/// The values of `name` the config knows, plus the one asked for if it is not among them
/// (a rep or queue since removed still has leads).
fn select(
    name: &'static str,
    label: &'static str,
    known: Vec<(String, String)>,
    chosen: &Option<String>,
) -> Select {
    let chosen = chosen.as_deref().map(str::trim).unwrap_or("");
    let mut choices = vec![Choice {
        value: String::new(),
        label: "any".into(),
        selected: chosen.is_empty(),
    }];
    if !chosen.is_empty() && !known.iter().any(|(v, _)| v == chosen) {
        choices.push(Choice {
            value: chosen.into(),
            label: chosen.into(),
            selected: true,
        });
    }
    choices.extend(known.into_iter().map(|(value, label)| Choice {
        selected: value == chosen,
        value,
        label,
    }));
    Select {
        name,
        label,
        choices,
    }
}

fn plain(values: impl IntoIterator<Item = impl Into<String>>) -> Vec<(String, String)> {
    values
        .into_iter()
        .map(|v| {
            let v = v.into();
            (v.clone(), v)
        })
        .collect()
}

fn selects(
    cfg: &CompiledConfig,
    p: &LeadParams,
    own_only: bool,
    reps_of: Option<&[String]>,
) -> Vec<Select> {
    let mut out = Vec::new();
    if !own_only {
        let reps = cfg
            .reps
            .iter()
            .filter(|r| reps_of.is_none_or(|of| of.contains(&r.id)))
            .map(|r| (r.id.clone(), r.name.clone()))
            .collect();
        out.push(select("owner", "Owner", reps, &p.owner));
    }
    let teams = cfg
        .teams
        .iter()
        .map(|t| (t.id.clone(), t.name.clone()))
        .collect();
    out.push(select("team", "Team", teams, &p.team));
    out.push(select(
        "queue",
        "Queue",
        plain(cfg.queues.clone()),
        &p.queue,
    ));
    out.push(select(
        "tier",
        "Tier",
        plain(Tier::ALL.iter().map(|t| t.name())),
        &p.tier,
    ));
    let segments = plain(cfg.segments.iter().map(|s| s.name.clone()));
    out.push(select("segment", "Segment", segments, &p.segment));
    out.push(select(
        "status",
        "Status",
        plain(LeadStatus::ALL.iter().map(|s| s.as_str())),
        &p.status,
    ));
    out.push(select(
        "path",
        "Path",
        PATHS
            .iter()
            .map(|p| ((*p).to_string(), p.replace('_', " ")))
            .collect(),
        &p.path,
    ));
    out
}

/// The query string that repeats `p`'s filters, with `cursor` when given.
fn query_string(p: &LeadParams, cursor: Option<&str>) -> String {
    let mut qs = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("q", &p.q),
        ("owner", &p.owner),
        ("team", &p.team),
        ("queue", &p.queue),
        ("tier", &p.tier),
        ("segment", &p.segment),
        ("status", &p.status),
        ("path", &p.path),
        ("from", &p.from),
        ("to", &p.to),
    ] {
        if let Some(v) = v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            qs.append_pair(k, v);
        }
    }
    if let Some(c) = cursor {
        qs.append_pair("cursor", c);
    }
    qs.finish()
}

/// The parameters as this user may use them: a rep's owner filter is always themselves;
/// the page size is the console's.
fn scoped(s: &Session, mut p: LeadParams) -> LeadParams {
    if s.role == Role::Rep {
        p.owner = Some(s.user.clone());
    }
    p.limit = Some(PAGE.to_string());
    p.format = None;
    p
}

/// A manager's reps, whose leads are all a manager's lead search may find.
fn reps_of(cfg: &CompiledConfig, s: &Session) -> Option<Vec<String>> {
    (s.role == Role::Manager).then(|| super::actions::worked_reps(cfg, s))
}

pub async fn page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(p): Query<LeadParams>,
) -> PageResult {
    let s = session(&st, &headers).await?;
    let cfg = st.app.shared.config.load_full();
    let times = super::time::Times::for_viewer(&cfg, &s, &headers);
    let own_only = s.role == Role::Rep;
    let reps_of = reps_of(&cfg, &s);
    let p = scoped(&s, p);
    let mut errors = Vec::new();
    let mut rows = Vec::new();
    let (mut newer, mut older) = (None, None);
    match lead_query(&p, &cfg.organization_tz) {
        Err(issues) => {
            errors = issues
                .iter()
                .map(|i| format!("{}: {} (“{}”)", label_of(i.field), i.message, i.value))
                .collect();
        }
        Ok(mut q) => {
            q.owner_in = reps_of.clone();
            let page = st.app.shared.store.search_leads(&q).await?;
            newer = page.prev.map(|c| query_string(&p, Some(&c.encode())));
            older = page.next.map(|c| query_string(&p, Some(&c.encode())));
            rows = page
                .items
                .into_iter()
                .map(|h| {
                    let name = format!(
                        "{} {}",
                        h.first_name.as_deref().unwrap_or(""),
                        h.last_name.as_deref().unwrap_or("")
                    )
                    .trim()
                    .to_string();
                    let went_to = match (&h.owner, &h.queue) {
                        (Some(o), _) => rep_name(&cfg, o),
                        (None, Some(q)) => format!("queue {q}"),
                        (None, None) => "–".into(),
                    };
                    Row {
                        received: times.ts(h.received_at),
                        name: if name.is_empty() {
                            h.email.clone().unwrap_or_else(|| h.id.clone())
                        } else {
                            name
                        },
                        email: h.email.unwrap_or_default(),
                        company: h.company.unwrap_or_default(),
                        tier: h.tier,
                        path: h.path.replace('_', " "),
                        went_to,
                        status: h.status,
                        erased: h.erased_at.is_some(),
                        id: h.id,
                    }
                })
                .collect();
        }
    }
    let body = Page {
        nav: Nav::new(&s, &st, if s.is_staff() { "leads" } else { "my" }),
        text: p.q.clone().unwrap_or_default(),
        from: p.from.clone().unwrap_or_default(),
        to: p.to.clone().unwrap_or_default(),
        selects: selects(&cfg, &p, own_only, reps_of.as_deref()),
        rows,
        newer,
        older,
        csv: query_string(&p, None),
        own_only,
        errors: errors.clone(),
    }
    .render()?;
    if errors.is_empty() {
        Ok(html(body))
    } else {
        Ok((StatusCode::BAD_REQUEST, html(body)).into_response())
    }
}

fn label_of(field: &str) -> &str {
    match field {
        "q" => "Search",
        "from" => "Received from",
        "to" => "Received to",
        other => other,
    }
}

/// `/console/leads.csv`: the whole result of the page's filters, streamed.
pub async fn csv(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(p): Query<LeadParams>,
) -> PageResult {
    let s = session(&st, &headers).await?;
    let cfg = st.app.shared.config.load_full();
    let p = scoped(&s, p);
    let mut q: LeadQuery = lead_query(&p, &cfg.organization_tz).map_err(|issues| {
        super::ConsoleError::Bad(
            issues
                .iter()
                .map(|i| format!("{}: {}", label_of(i.field), i.message))
                .collect::<Vec<_>>()
                .join("; "),
        )
    })?;
    q.owner_in = reps_of(&cfg, &s);
    Ok(export_csv(st.app.shared.store.clone(), q))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_keep_filters_and_escape_them() {
        let p = LeadParams {
            q: Some("jane & co".into()),
            owner: Some(" ".into()),
            tier: Some("hot".into()),
            ..Default::default()
        };
        assert_eq!(
            query_string(&p, Some("6f31")),
            "q=jane+%26+co&tier=hot&cursor=6f31"
        );
    }

    #[test]
    fn a_removed_value_stays_selectable() {
        let s = select("owner", "Owner", plain(["ann"]), &Some("zed".into()));
        let v: Vec<(&str, bool)> = s
            .choices
            .iter()
            .map(|c| (c.value.as_str(), c.selected))
            .collect();
        assert_eq!(v, vec![("", false), ("zed", true), ("ann", false)]);
    }
}
