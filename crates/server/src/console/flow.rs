//! The routing flow (issue 23): the hierarchy drawn as a flow, intake → junk → known
//! person / recycling → account owner → personal email → qualification → nurture →
//! matrix rules → default team → catch-all, each step with the number and share of the
//! window's leads that took it, each rule, team, owner and queue with its count, and the
//! fallbacks (backup, team lead, team, overflow, catch-all) drawn as edges of their own.
//!
//! Generated from the config in force and the stored leads (path, rule, team, owner and
//! queue as each lead's decision recorded them, counted in one snapshot by
//! `ReadSnapshot::flow_counts`), so it is never out of date. A fallback is read off a
//! lead's outcome against its rule's target in the config: an owner who is the target's
//! backup or team lead, a team other than the target's, a queue where a team was meant.
//! The SVG is drawn in `flow/svg.rs` as `charts.rs` draws charts, every label through
//! [`charts::esc`](super::charts::esc); each node links to its leads.

mod svg;

use svg::share;
pub use svg::{node_id, svg};

use super::report::org_zone;
use super::{ConsoleError, ConsoleState, Nav, PageResult, html, staff};
use askama::Template;
use axum::extract::{Query, State};
use axum::http::HeaderMap;
use leadrouter_core::config::{CompiledConfig, QueueRole, Target};
use leadrouter_store::reporting::{DAY_US, FlowFilter, FlowGroup, ReportZone};
use serde::Deserialize;
use std::collections::BTreeMap;

/// The hierarchy's steps in routing order: stored path, label.
const STEPS: [(&str, &str); 13] = [
    ("junk", "Junk"),
    ("known_person", "Known person"),
    ("recycled", "Recycled"),
    ("account_owner", "Account owner"),
    ("named_account", "Named account"),
    ("personal_email_review", "Personal email"),
    ("qualification", "Qualification"),
    ("nurture", "Nurture"),
    ("territory", "Territory rules"),
    ("segment", "Segment rules"),
    ("default_team", "Default team"),
    ("catch_all", "Catch-all"),
    ("manual", "Manual assignment"),
];

/// Paths decided by a matrix rule (drawn through a rule node).
const RULE_PATHS: [&str; 2] = ["territory", "segment"];

/// Rules, and owners without a team, shown one by one; the rest share one node.
const MAX_NODES: usize = 10;

/// The longest window the page counts over.
const MAX_DAYS: i64 = 366;

/// Leads listed for a node.
const LIST_LIMIT: i64 = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub col: usize,
    pub key: String,
    pub label: String,
    pub leads: i64,
    /// The leads of this node, for its link.
    pub filter: FlowFilter,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub leads: i64,
    /// Set for a fallback: backup, team lead, team, overflow or catch-all.
    pub fallback: Option<&'static str>,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct Flow {
    pub total: i64,
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
}

impl Flow {
    fn node(&mut self, col: usize, key: String, label: String, filter: FlowFilter) -> usize {
        if let Some(i) = self.nodes.iter().position(|n| n.key == key) {
            return i;
        }
        self.nodes.push(Node {
            col,
            key,
            label,
            leads: 0,
            filter,
        });
        self.nodes.len() - 1
    }

    fn edge(&mut self, from: usize, to: usize, leads: i64, fallback: Option<&'static str>) {
        match self
            .edges
            .iter_mut()
            .find(|e| e.from == from && e.to == to && e.fallback == fallback)
        {
            Some(e) => e.leads += leads,
            None => self.edges.push(Edge {
                from,
                to,
                leads,
                fallback,
            }),
        }
    }
}

/// What a fallback edge is called, from a lead's outcome against what its path aimed at.
pub fn fallback_kind(cfg: &CompiledConfig, g: &FlowGroup) -> Option<&'static str> {
    let catch_all = cfg.queue_name(cfg.queue(QueueRole::CatchAll));
    let to_queue = |q: &str| {
        Some(if q == catch_all {
            "catch-all"
        } else {
            "overflow"
        })
    };
    let target = match g.path.as_str() {
        "default_team" => Target::Team(cfg.routing.default_team?),
        p if RULE_PATHS.contains(&p) => {
            let id = g.rule.as_deref()?;
            cfg.rules.iter().find(|r| r.id == id)?.target
        }
        _ => return None,
    };
    match (target, g.owner.as_deref(), g.queue.as_deref()) {
        (Target::Queue(_), _, _) => None,
        (_, None, Some(q)) => to_queue(q),
        (Target::Team(t), Some(_), _) => {
            (g.team.as_deref() != Some(cfg.team(t).id.as_str())).then_some("overflow")
        }
        (Target::Rep(r), Some(owner), _) => {
            let rep = cfg.rep(r);
            if owner == rep.id {
                None
            } else if rep.backup.is_some_and(|b| cfg.rep(b).id == owner) {
                Some("backup")
            } else if rep
                .team
                .and_then(|t| cfg.team(t).lead)
                .is_some_and(|l| cfg.rep(l).id == owner)
            {
                Some("team lead")
            } else if g.team.is_some() {
                Some("team")
            } else {
                Some("overflow")
            }
        }
        _ => None,
    }
}

fn step_label(path: &str) -> String {
    STEPS
        .iter()
        .find(|(p, _)| *p == path)
        .map(|(_, l)| l.to_string())
        .unwrap_or_else(|| path.replace('_', " "))
}

/// The flow of a window's leads through the hierarchy of `cfg`.
pub fn build(cfg: &CompiledConfig, groups: &[FlowGroup]) -> Flow {
    let mut f = Flow {
        total: groups.iter().map(|g| g.leads).sum(),
        ..Flow::default()
    };
    let intake = f.node(0, "intake".into(), "Intake".into(), FlowFilter::default());
    f.nodes[intake].leads = f.total;
    // Every step of the hierarchy is drawn, taken or not, in routing order.
    for (path, label) in STEPS {
        if path == "manual" && !groups.iter().any(|g| g.path == path) {
            continue;
        }
        f.node(
            1,
            format!("step:{path}"),
            label.to_string(),
            FlowFilter {
                path: Some(path.into()),
                ..FlowFilter::default()
            },
        );
    }
    // The busiest rules and team-less owners get a node each.
    let top = |key: &dyn Fn(&FlowGroup) -> Option<String>| -> Vec<String> {
        let mut by: BTreeMap<String, i64> = BTreeMap::new();
        for g in groups {
            if let Some(k) = key(g) {
                *by.entry(k).or_default() += g.leads;
            }
        }
        let mut v: Vec<(String, i64)> = by.into_iter().collect();
        v.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        v.into_iter().take(MAX_NODES).map(|(k, _)| k).collect()
    };
    let top_rules = top(&|g| {
        RULE_PATHS
            .contains(&g.path.as_str())
            .then(|| g.rule.clone())
            .flatten()
    });
    let top_owners = top(&|g| g.team.is_none().then(|| g.owner.clone()).flatten());
    for g in groups {
        let step = f.node(
            1,
            format!("step:{}", g.path),
            step_label(&g.path),
            FlowFilter {
                path: Some(g.path.clone()),
                ..FlowFilter::default()
            },
        );
        f.nodes[step].leads += g.leads;
        f.edge(intake, step, g.leads, None);
        // Matrix paths go through their rule.
        let mut from = step;
        if RULE_PATHS.contains(&g.path.as_str()) {
            let (key, label, filter) = match &g.rule {
                Some(r) if top_rules.contains(r) => (
                    format!("rule:{r}"),
                    format!("rule {r}"),
                    FlowFilter {
                        rule: Some(r.clone()),
                        ..FlowFilter::default()
                    },
                ),
                _ => (
                    format!("rules:{}", g.path),
                    format!("other {} rules", g.path),
                    FlowFilter {
                        path: Some(g.path.clone()),
                        ..FlowFilter::default()
                    },
                ),
            };
            from = f.node(2, key, label, filter);
            f.nodes[from].leads += g.leads;
            f.edge(step, from, g.leads, None);
        }
        let (key, label, filter) = match (&g.team, &g.owner, &g.queue) {
            (Some(t), _, _) => (
                format!("team:{t}"),
                format!(
                    "team {}",
                    cfg.team_by_id
                        .get(t)
                        .map(|i| cfg.team(*i).name.as_str())
                        .unwrap_or(t)
                ),
                FlowFilter {
                    team: Some(t.clone()),
                    ..FlowFilter::default()
                },
            ),
            (None, Some(o), _) if top_owners.contains(o) => (
                format!("owner:{o}"),
                super::rep_name(cfg, o),
                FlowFilter {
                    owner: Some(o.clone()),
                    ..FlowFilter::default()
                },
            ),
            (None, Some(_), _) => (
                "owners".into(),
                "other owners".into(),
                FlowFilter::default(),
            ),
            (None, None, Some(q)) => (
                format!("queue:{q}"),
                format!("queue {q}"),
                FlowFilter {
                    queue: Some(q.clone()),
                    ..FlowFilter::default()
                },
            ),
            (None, None, None) => ("none".into(), "no owner".into(), FlowFilter::default()),
        };
        let to = f.node(3, key, label, filter);
        f.nodes[to].leads += g.leads;
        f.edge(from, to, g.leads, fallback_kind(cfg, g));
    }
    f
}

#[derive(Deserialize, Default)]
pub struct WindowQuery {
    from: Option<String>,
    to: Option<String>,
    days: Option<i64>,
    path: Option<String>,
    rule: Option<String>,
    team: Option<String>,
    owner: Option<String>,
    queue: Option<String>,
}

/// The window: `from`/`to` dates (inclusive, the organisation's calendar), else the last
/// `days` days including today (7 by default).
fn window(
    q: &WindowQuery,
    zone: &ReportZone,
    now: i64,
) -> Result<(jiff::civil::Date, jiff::civil::Date), ConsoleError> {
    let today = ReportZone::date(zone.day_of(now));
    let date =
        |s: &Option<String>, name: &str| -> Result<Option<jiff::civil::Date>, ConsoleError> {
            match s.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                None => Ok(None),
                Some(v) => v.parse::<jiff::civil::Date>().map(Some).map_err(|_| {
                    ConsoleError::Bad(format!(
                        "{name} `{}` is not a date; write it like 2026-11-23",
                        v.chars().take(20).collect::<String>()
                    ))
                }),
            }
        };
    let days = q.days.unwrap_or(7).clamp(1, MAX_DAYS);
    let to = date(&q.to, "to")?.unwrap_or(today);
    let from = match date(&q.from, "from")? {
        Some(f) => f,
        None => to
            .checked_sub(jiff::Span::new().days(days - 1))
            .map_err(|e| ConsoleError::Bad(e.to_string()))?,
    };
    if from > to {
        return Err(ConsoleError::Bad(format!(
            "the window starts ({from}) after it ends ({to})"
        )));
    }
    if (ReportZone::key(to) - ReportZone::key(from)) / DAY_US >= MAX_DAYS {
        return Err(ConsoleError::Bad(format!(
            "the window is longer than {MAX_DAYS} days; choose a shorter one"
        )));
    }
    Ok((from, to))
}

fn instants(zone: &ReportZone, from: jiff::civil::Date, to: jiff::civil::Date) -> (i64, i64) {
    (
        zone.day_start(ReportZone::key(from)),
        zone.day_start(ReportZone::key(to) + DAY_US),
    )
}

/// The query string of a node's leads over the window.
fn leads_href(n: &Node, from: jiff::civil::Date, to: jiff::civil::Date) -> String {
    let mut qs = form_urlencoded::Serializer::new(String::new());
    qs.append_pair("from", &from.to_string());
    qs.append_pair("to", &to.to_string());
    let f = &n.filter;
    for (k, v) in [
        ("path", &f.path),
        ("rule", &f.rule),
        ("team", &f.team),
        ("owner", &f.owner),
        ("queue", &f.queue),
    ] {
        if let Some(v) = v {
            qs.append_pair(k, v);
        }
    }
    format!("/console/flow/leads?{}", qs.finish())
}

pub struct NodeRow {
    pub id: String,
    pub column: &'static str,
    pub label: String,
    pub leads: i64,
    pub share: String,
    pub href: String,
}

pub struct EdgeRow {
    pub from: String,
    pub to: String,
    pub leads: i64,
    pub kind: String,
}

#[derive(Template)]
#[template(path = "console/flow.html")]
struct Page {
    nav: Nav,
    from: String,
    to: String,
    zone: String,
    total: i64,
    svg: String,
    nodes: Vec<NodeRow>,
    fallbacks: Vec<EdgeRow>,
}

pub async fn page(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<WindowQuery>,
) -> PageResult {
    let s = staff(&st, &headers).await?;
    let (nav, _times) = Nav::with_times(&s, &st, &headers, "flow");
    let cfg = st.app.shared.config.load_full();
    let zone = org_zone(&cfg);
    let now = st.app.shared.clock.now().as_microsecond();
    let (from, to) = window(&q, &zone, now)?;
    let (a, b) = instants(&zone, from, to);
    let mut snap = st.app.shared.store.snapshot().await?;
    let groups = snap.flow_counts(a, b).await?;
    snap.end().await?;
    let flow = build(&cfg, &groups);
    let href = |n: &Node| leads_href(n, from, to);
    let columns = ["intake", "step", "rule", "destination"];
    Ok(html(
        Page {
            nav,
            from: from.to_string(),
            to: to.to_string(),
            zone: zone.name().to_string(),
            total: flow.total,
            svg: svg(&flow, &href),
            nodes: flow
                .nodes
                .iter()
                .map(|n| NodeRow {
                    id: node_id(&n.key),
                    column: columns[n.col.min(3)],
                    label: n.label.clone(),
                    leads: n.leads,
                    share: share(n.leads, flow.total),
                    href: href(n),
                })
                .collect(),
            fallbacks: flow
                .edges
                .iter()
                .filter_map(|e| {
                    Some(EdgeRow {
                        kind: e.fallback?.to_string(),
                        from: flow.nodes[e.from].label.clone(),
                        to: flow.nodes[e.to].label.clone(),
                        leads: e.leads,
                    })
                })
                .collect(),
        }
        .render()?,
    ))
}

pub struct LeadRow {
    pub id: String,
    pub received: String,
    pub name: String,
    pub company: String,
    pub tier: String,
    pub path: String,
    pub rule: String,
    pub destination: String,
}

#[derive(Template)]
#[template(path = "console/flow_leads.html")]
struct LeadsPage {
    nav: Nav,
    what: String,
    from: String,
    to: String,
    back: String,
    search: String,
    rows: Vec<LeadRow>,
    limit: i64,
}

fn given(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(|s| s.trim().chars().take(200).collect::<String>())
        .filter(|s| !s.is_empty())
}

/// `GET /console/flow/leads`: the leads of one node of the flow over its window.
pub async fn leads(
    State(st): State<ConsoleState>,
    headers: HeaderMap,
    Query(q): Query<WindowQuery>,
) -> PageResult {
    let s = staff(&st, &headers).await?;
    let (nav, times) = Nav::with_times(&s, &st, &headers, "flow");
    let cfg = st.app.shared.config.load_full();
    let zone = org_zone(&cfg);
    let now = st.app.shared.clock.now().as_microsecond();
    let (from, to) = window(&q, &zone, now)?;
    let (a, b) = instants(&zone, from, to);
    let filter = FlowFilter {
        path: given(&q.path),
        rule: given(&q.rule),
        team: given(&q.team),
        owner: given(&q.owner),
        queue: given(&q.queue),
    };
    let mut snap = st.app.shared.store.snapshot().await?;
    let found = snap.flow_leads(&filter, a, b, LIST_LIMIT).await?;
    snap.end().await?;
    let mut what = Vec::new();
    let mut search = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("path", &filter.path),
        ("rule", &filter.rule),
        ("team", &filter.team),
        ("owner", &filter.owner),
        ("queue", &filter.queue),
    ] {
        if let Some(v) = v {
            what.push(format!("{k} {v}"));
            search.append_pair(k, v);
        }
    }
    let rows = found
        .into_iter()
        .map(|l| {
            let (name, company) = super::lead_name(&l.payload, l.email.as_deref());
            LeadRow {
                received: times.ts(l.received_at),
                destination: match (&l.owner, &l.queue) {
                    (Some(o), _) => super::rep_name(&cfg, o),
                    (None, Some(q)) => format!("queue {q}"),
                    _ => "–".into(),
                },
                rule: l.rule.unwrap_or_default(),
                id: l.id,
                name,
                company,
                tier: l.tier,
                path: step_label(&l.path),
            }
        })
        .collect();
    Ok(html(
        LeadsPage {
            nav,
            what: if what.is_empty() {
                "all leads".into()
            } else {
                what.join(", ")
            },
            back: format!("/console/flow?from={from}&to={to}"),
            search: format!("/console/leads?{}", search.finish()),
            from: from.to_string(),
            to: to.to_string(),
            rows,
            limit: LIST_LIMIT,
        }
        .render()?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::charts::esc;

    fn demo() -> CompiledConfig {
        leadrouter_core::config::load(std::path::Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/demo.toml"
        )))
        .unwrap()
    }

    fn g(
        path: &str,
        rule: Option<&str>,
        team: Option<&str>,
        owner: Option<&str>,
        queue: Option<&str>,
        n: i64,
    ) -> FlowGroup {
        FlowGroup {
            path: path.into(),
            rule: rule.map(Into::into),
            team: team.map(Into::into),
            owner: owner.map(Into::into),
            queue: queue.map(Into::into),
            leads: n,
        }
    }

    #[test]
    fn the_flow_counts_each_step_rule_and_fallback() {
        let cfg = demo();
        // A rule that targets a team, and that team's members.
        let rule = cfg
            .rules
            .iter()
            .find(|r| matches!(r.target, Target::Team(_)))
            .expect("a team rule");
        let Target::Team(t) = rule.target else {
            unreachable!()
        };
        let team = cfg.team(t);
        let member = cfg.rep(team.members[0]).id.clone();
        let catch_all = cfg.queue_name(cfg.queue(QueueRole::CatchAll)).to_string();
        let groups = vec![
            g("junk", None, None, None, Some("junk"), 2),
            g(
                "territory",
                Some(&rule.id),
                Some(&team.id),
                Some(&member),
                None,
                5,
            ),
            g("territory", Some(&rule.id), None, None, Some(&catch_all), 1),
        ];
        let f = build(&cfg, &groups);
        assert_eq!(f.total, 8);
        let node = |k: &str| f.nodes.iter().position(|n| n.key == k).unwrap();
        assert_eq!(f.nodes[node("step:junk")].leads, 2);
        assert_eq!(f.nodes[node("step:territory")].leads, 6);
        assert_eq!(
            f.nodes[node("step:nurture")].leads,
            0,
            "untaken steps are drawn"
        );
        assert_eq!(f.nodes[node(&format!("rule:{}", rule.id))].leads, 6);
        assert_eq!(f.nodes[node(&format!("team:{}", team.id))].leads, 5);
        let fallback: Vec<_> = f.edges.iter().filter(|e| e.fallback.is_some()).collect();
        assert_eq!(fallback.len(), 1, "{:?}", f.edges);
        assert_eq!(fallback[0].fallback, Some("catch-all"));
        assert_eq!(fallback[0].leads, 1);
        let svg = svg(&f, &|n| format!("/x?{}", n.key));
        assert!(svg.contains("catch-all · 1"), "{svg}");
        assert!(svg.contains("5 leads · 62.5%"), "{svg}");
    }

    #[test]
    fn labels_are_escaped() {
        let cfg = demo();
        let groups = vec![g("catch_all", None, None, None, Some("<script>"), 1)];
        let f = build(&cfg, &groups);
        let svg = svg(&f, &|_| "/a?b=1&c=<2>".into());
        assert!(!svg.contains("<script>"), "{svg}");
        assert!(svg.contains(&esc("queue <script>")), "{svg}");
        assert!(
            svg.contains(&format!("href=\"{}\"", esc("/a?b=1&c=<2>"))),
            "{svg}"
        );
        assert!(!svg.contains("c=<2>"), "{svg}");
    }
}
