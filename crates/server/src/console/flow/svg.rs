//! The routing flow drawn as SVG, as `charts.rs` draws charts: columns of nodes (intake,
//! hierarchy steps, matrix rules, teams / owners / queues), each a link to its leads,
//! and edges as wide as their share, fallbacks dashed and named. Every label and link
//! goes through [`esc`].

use super::{Flow, Node};
use crate::console::charts::esc;
use std::fmt::Write as _;

const COL_X: [f64; 4] = [8.0, 190.0, 420.0, 660.0];
const NODE_W: f64 = 200.0;
const NODE_H: f64 = 34.0;
const GAP: f64 = 8.0;
const TOP: f64 = 34.0;
const WIDTH: f64 = 868.0;

pub(super) fn share(n: i64, total: i64) -> String {
    if total == 0 {
        "–".into()
    } else {
        format!("{:.1}%", n as f64 * 100.0 / total as f64)
    }
}

/// Each node's top-left corner. The first two columns stack in order (the hierarchy's
/// order); a node further right sits level with the weighted middle of the nodes that
/// feed it, pushed down only as far as needed not to overlap, so edges run short.
fn layout(f: &Flow) -> Vec<(f64, f64)> {
    let mut pos = vec![(0.0, 0.0); f.nodes.len()];
    let mut next = [TOP; 4];
    for col in 0..4 {
        let mut members: Vec<(f64, usize)> = f
            .nodes
            .iter()
            .enumerate()
            .filter(|(_, n)| n.col.min(3) == col)
            .map(|(i, _)| {
                let (mut sum, mut w) = (0.0, 0.0);
                for e in f.edges.iter().filter(|e| e.to == i) {
                    let weight = e.leads.max(1) as f64;
                    sum += pos[e.from].1 * weight;
                    w += weight;
                }
                let want = if col < 2 || w == 0.0 { 0.0 } else { sum / w };
                (want, i)
            })
            .collect();
        if col >= 2 {
            members.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        }
        for (want, i) in members {
            let y = next[col].max(want);
            pos[i] = (COL_X[col], y);
            next[col] = y + NODE_H + GAP;
        }
    }
    // Intake sits level with the middle of the steps it feeds.
    let steps: Vec<f64> = (0..f.nodes.len())
        .filter(|i| f.nodes[*i].col == 1)
        .map(|i| pos[i].1)
        .collect();
    if let (Some(first), Some(last)) = (steps.first(), steps.last()) {
        for (i, n) in f.nodes.iter().enumerate() {
            if n.col == 0 {
                pos[i].1 = (first + last) / 2.0;
            }
        }
    }
    pos
}

/// A node's width: the intake is narrower.
fn node_w(n: &Node) -> f64 {
    if n.col == 0 { 150.0 } else { NODE_W - 30.0 }
}

fn leads_text(n: i64) -> String {
    if n == 1 {
        "1 lead".into()
    } else {
        format!("{n} leads")
    }
}

/// The flow as SVG: columns of nodes (each a link to its leads, `href(node)`), edges as
/// curves as wide as their share, fallbacks dashed and named.
pub fn svg(f: &Flow, href: &dyn Fn(&Node) -> String) -> String {
    let pos = layout(f);
    let height = pos.iter().map(|p| p.1).fold(TOP, f64::max) + NODE_H + 8.0;
    let mut out = String::new();
    let title = format!("Routing flow: {}", leads_text(f.total));
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" class=\"flow\" role=\"img\" aria-label=\"{t}\"><title>{t}</title>",
        t = esc(&title)
    );
    for (i, head) in ["", "Hierarchy step", "Matrix rule", "Team, owner or queue"]
        .iter()
        .enumerate()
    {
        let _ = write!(
            out,
            "<text x=\"{x}\" y=\"20\" font-size=\"12\" font-weight=\"600\" fill=\"#495057\">{h}</text>",
            x = COL_X[i],
            h = esc(head)
        );
    }
    let max = f.total.max(1) as f64;
    for e in &f.edges {
        let (x1, y1) = pos[e.from];
        let (x2, y2) = pos[e.to];
        let (x1, y1) = (x1 + node_w(&f.nodes[e.from]), y1 + NODE_H / 2.0);
        let (x2, y2) = (x2, y2 + NODE_H / 2.0);
        let w = 1.0 + 10.0 * e.leads as f64 / max;
        let mid = (x1 + x2) / 2.0;
        let (stroke, dash) = match e.fallback {
            Some(_) => ("#e8590c", " stroke-dasharray=\"6 4\""),
            None => ("#adb5bd", ""),
        };
        let class = if e.fallback.is_some() {
            "edge fallback"
        } else {
            "edge"
        };
        let _ = write!(
            out,
            "<path class=\"{class}\" d=\"M{x1:.1} {y1:.1} C{mid:.1} {y1:.1} {mid:.1} {y2:.1} {x2:.1} {y2:.1}\" fill=\"none\" stroke=\"{stroke}\" stroke-opacity=\"0.7\" stroke-width=\"{w:.1}\"{dash}><title>{t}</title></path>",
            t = esc(&format!(
                "{} → {}: {}{}",
                f.nodes[e.from].label,
                f.nodes[e.to].label,
                leads_text(e.leads),
                e.fallback
                    .map(|k| format!(" (fallback: {k})"))
                    .unwrap_or_default()
            ))
        );
        if let Some(kind) = e.fallback {
            let _ = write!(
                out,
                "<text class=\"fallback-label\" x=\"{x:.1}\" y=\"{y:.1}\" font-size=\"10\" text-anchor=\"middle\" fill=\"#d9480f\">{l}</text>",
                x = mid,
                y = (y1 + y2) / 2.0 - 3.0,
                l = esc(&format!("{kind} · {}", e.leads))
            );
        }
    }
    for (i, n) in f.nodes.iter().enumerate() {
        let (x, y) = pos[i];
        let w = node_w(n);
        let (fill, ink) = if n.leads == 0 {
            ("#f8f9fa", "#adb5bd")
        } else {
            ("#e7f5ff", "#212529")
        };
        let label: String = n.label.chars().take(26).collect();
        let _ = write!(
            out,
            "<a href=\"{h}\" id=\"node-{id}\"><rect x=\"{x:.1}\" y=\"{y:.1}\" width=\"{w:.1}\" height=\"{NODE_H}\" rx=\"5\" fill=\"{fill}\" stroke=\"#74c0fc\"/><text x=\"{tx:.1}\" y=\"{ty:.1}\" font-size=\"11\" font-weight=\"600\" fill=\"{ink}\">{l}</text><text x=\"{tx:.1}\" y=\"{ty2:.1}\" font-size=\"10\" fill=\"{ink}\">{c}</text><title>{full}</title></a>",
            h = esc(&href(n)),
            id = esc(&node_id(&n.key)),
            tx = x + 6.0,
            ty = y + 14.0,
            ty2 = y + 28.0,
            l = esc(&label),
            c = esc(&format!(
                "{} · {}",
                leads_text(n.leads),
                share(n.leads, f.total)
            )),
            full = esc(&format!("{}: {}", n.label, leads_text(n.leads))),
        );
    }
    out.push_str("</svg>");
    out
}

/// A node's key as an element id: letters, digits, `-` and `_`, the rest as `_`.
pub fn node_id(key: &str) -> String {
    key.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
