//! A replay report as one self-contained HTML page (no script, no external resource):
//! the summary, an SVG bar chart of leads per rep before and after, the tables, and each
//! changed lead with both traces side by side. Every value goes through `charts::esc`.

use super::render::outcome;
use super::report::{BeforeAfter, ChangedLead, Report};
use crate::console::charts::esc;
use std::fmt::Write as _;

/// Bars of leads per rep, as they happened (grey) and replayed (blue).
pub fn rep_chart(r: &Report) -> String {
    let rows: Vec<_> = r
        .reps
        .iter()
        .filter(|x| x.leads.before + x.leads.after > 0)
        .collect();
    let max = rows
        .iter()
        .map(|x| x.leads.before.max(x.leads.after))
        .max()
        .unwrap_or(1)
        .max(1) as f64;
    let (label_w, bar_w, row_h) = (160.0, 420.0, 26.0);
    let height = 30.0 + row_h * rows.len() as f64;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{height}" role="img" aria-label="leads per rep before and after">"#,
        w = label_w + bar_w + 80.0
    );
    let _ = write!(
        s,
        r##"<rect x="{label_w}" y="4" width="10" height="10" fill="#9aa0a6"/><text x="{}" y="13" font-size="11">before</text><rect x="{}" y="4" width="10" height="10" fill="#1a73e8"/><text x="{}" y="13" font-size="11">after</text>"##,
        label_w + 14.0,
        label_w + 70.0,
        label_w + 84.0
    );
    for (i, row) in rows.iter().enumerate() {
        let y = 24.0 + row_h * i as f64;
        let wb = bar_w * row.leads.before as f64 / max;
        let wa = bar_w * row.leads.after as f64 / max;
        let _ = write!(
            s,
            r##"<text x="{}" y="{}" font-size="12" text-anchor="end">{}</text><rect x="{label_w}" y="{y}" width="{wb:.1}" height="10" fill="#9aa0a6"><title>{} before: {}</title></rect><rect x="{label_w}" y="{}" width="{wa:.1}" height="10" fill="#1a73e8"><title>{} after: {}</title></rect><text x="{}" y="{}" font-size="11">{} → {}</text>"##,
            label_w - 6.0,
            y + 14.0,
            esc(&row.rep),
            esc(&row.rep),
            row.leads.before,
            y + 11.0,
            esc(&row.rep),
            row.leads.after,
            label_w + wa.max(wb) + 6.0,
            y + 14.0,
            row.leads.before,
            row.leads.after
        );
    }
    s.push_str("</svg>");
    s
}

fn table(s: &mut String, title: &str, rows: &std::collections::BTreeMap<String, BeforeAfter>) {
    let _ = write!(
        s,
        "<h2>{}</h2><table id=\"{}\"><tr><th></th><th>before</th><th>after</th></tr>",
        esc(title),
        esc(&title.to_lowercase())
    );
    for (k, x) in rows {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(k),
            x.before,
            x.after
        );
    }
    s.push_str("</table>");
}

/// The styles the report's classes need (`over`, `traces`), for a page that embeds
/// [`sections`].
pub const STYLE: &str = ".over{color:#b00020;font-weight:bold}.traces{display:flex;gap:1em}.traces pre{flex:1;background:#f6f8fa;padding:.5em;overflow:auto;font-size:12px;white-space:pre-wrap}";

/// How the changed leads are shown: each with both traces inline (the standalone page),
/// or as a table whose rows link to a page of their own (`link(lead_id)`, the console).
pub enum ChangedLeads<'a> {
    Inline,
    Linked(&'a dyn Fn(&str) -> String),
}

/// The standalone page `leadrouter replay --html` writes.
pub fn page(r: &Report) -> String {
    let mut s = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>leadrouter replay</title><style>body{{font:14px system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;margin:.5em 0}}td,th{{border:1px solid #ddd;padding:2px 8px;text-align:left}}{STYLE}</style></head><body>",
    );
    s.push_str(&sections(r, ChangedLeads::Inline));
    s.push_str("</body></html>\n");
    s
}

/// A changed lead's two traces side by side: as it happened, and as the replay decided.
pub fn traces(c: &ChangedLead) -> String {
    format!(
        "<div class=\"traces\"><pre class=\"before\">{}</pre><pre class=\"after\">{}</pre></div>",
        esc(c.before_trace.as_deref().unwrap_or("(trace not listed)")),
        esc(c.after_trace.as_deref().unwrap_or("(trace not listed)")),
    )
}

/// The report's body (summary, chart, tables, changed leads, reassignments) as an HTML
/// fragment: the standalone page and the console's What if page both show this.
pub fn sections(r: &Report, changed: ChangedLeads<'_>) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        "<h1>Replay ({}{})</h1><p>{} routing decisions, {} changed, window {} to {}.</p>",
        esc(&r.mode),
        r.candidate_version
            .as_deref()
            .map(|v| format!(", candidate {}", esc(v)))
            .unwrap_or_default(),
        r.routed,
        r.changed,
        esc(r
            .since
            .as_deref()
            .or(r.history_start.as_deref())
            .unwrap_or("start of history")),
        esc(r.until.as_deref().unwrap_or("now")),
    );
    for n in &r.notes {
        let _ = write!(s, "<p>Note: {}</p>", esc(n));
    }
    s.push_str("<h2>Leads per rep</h2>");
    s.push_str(&rep_chart(r));
    s.push_str("<table id=\"reps\"><tr><th>rep</th><th>team</th><th>before</th><th>after</th><th>load before</th><th>load after</th><th>capacity</th></tr>");
    for row in &r.reps {
        let _ = write!(
            s,
            "<tr data-rep=\"{}\"><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td><td{}>{:.1}</td><td>{}</td></tr>",
            esc(&row.rep),
            esc(&row.rep),
            esc(row.team.as_deref().unwrap_or("-")),
            row.leads.before,
            row.leads.after,
            row.load_before,
            if row.over_capacity {
                " class=\"over\""
            } else {
                ""
            },
            row.load_after,
            row.capacity.map_or("-".into(), |c| c.to_string())
        );
    }
    s.push_str("</table>");
    table(&mut s, "Teams", &r.teams);
    table(&mut s, "Queues", &r.queues);
    table(&mut s, "Paths", &r.paths);
    s.push_str("<h2>Fairness within each team</h2><table><tr><th>team</th><th>reps</th><th>before</th><th>after</th></tr>");
    for f in &r.fairness {
        let v = |x: Option<f64>| x.map_or("-".into(), |v| format!("{v:.3}"));
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&f.team),
            f.reps,
            v(f.before),
            v(f.after)
        );
    }
    s.push_str("</table><h2>Tier and segment shifts</h2><table><tr><th></th><th>before</th><th>after</th><th>leads</th></tr>");
    for (kind, list) in [("tier", &r.tier_shifts), ("segment", &r.segment_shifts)] {
        for x in list {
            let _ = write!(
                s,
                "<tr><td>{kind}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&x.before),
                esc(&x.after),
                x.leads
            );
        }
    }
    s.push_str("</table><h2>Changed leads</h2>");
    match changed {
        ChangedLeads::Inline => {
            for c in &r.changed_leads {
                let _ = write!(
                    s,
                    "<h3 id=\"lead-{id}\">{id}</h3><p>{} → {}</p>{}",
                    esc(&outcome(&c.before)),
                    esc(&outcome(&c.after)),
                    traces(c),
                    id = esc(&c.lead_id),
                );
            }
        }
        ChangedLeads::Linked(link) => {
            s.push_str("<table id=\"changed-leads\"><tr><th>lead</th><th>as it happened</th><th>replayed</th><th></th></tr>");
            for c in &r.changed_leads {
                let _ = write!(
                    s,
                    "<tr><td>{id}</td><td>{}</td><td>{}</td><td><a href=\"{}\">both traces</a></td></tr>",
                    esc(&outcome(&c.before)),
                    esc(&outcome(&c.after)),
                    esc(&link(&c.lead_id)),
                    id = esc(&c.lead_id),
                );
            }
            s.push_str("</table>");
        }
    }
    if r.changed_not_listed > 0 {
        let _ = write!(s, "<p>… and {} more.</p>", r.changed_not_listed);
    }
    s.push_str("<h2>Reassignments in the window</h2><table><tr><th>lead</th><th>kind</th><th>by</th><th>owner after</th></tr>");
    for c in &r.lead_changes {
        let _ = write!(
            s,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&c.lead_id),
            esc(&c.kind),
            esc(c.actor.as_deref().unwrap_or("-")),
            esc(c.owner_after.as_deref().unwrap_or("-"))
        );
    }
    s.push_str("</table>");
    s
}
