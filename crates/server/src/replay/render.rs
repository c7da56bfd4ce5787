//! A replay report as text (the default), JSON and CSV. The HTML page is in `html`.

use super::report::{BeforeAfter, Report};
use std::fmt::Write as _;

fn ba(x: &BeforeAfter) -> String {
    let d = x.after as i64 - x.before as i64;
    if d == 0 {
        format!("{} → {}", x.before, x.after)
    } else {
        format!("{} → {} ({d:+})", x.before, x.after)
    }
}

fn opt(s: &Option<String>) -> &str {
    s.as_deref().unwrap_or("-")
}

fn fair(x: Option<f64>) -> String {
    x.map_or("-".into(), |v| format!("{v:.3}"))
}

/// The summary people read on a terminal.
pub fn text(r: &Report) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "replay ({}{}): {} routing decisions from {} to {}",
        r.mode,
        r.candidate_version
            .as_deref()
            .map(|v| format!(", candidate {v}"))
            .unwrap_or_default(),
        r.routed,
        r.since
            .as_deref()
            .or(r.history_start.as_deref())
            .unwrap_or("the start of history"),
        r.until.as_deref().unwrap_or("now"),
    );
    for n in &r.notes {
        let _ = writeln!(s, "note: {n}");
    }
    let pct = if r.routed == 0 {
        0.0
    } else {
        r.changed as f64 * 100.0 / r.routed as f64
    };
    let _ = writeln!(s, "changed: {} of {} ({pct:.1}%)", r.changed, r.routed);
    let _ = writeln!(
        s,
        "took {:.1} s: {:.0} leads/s replayed, {:.0} leads/s in decide alone ({:.2}x)",
        r.timing.wall_seconds,
        r.timing.replay_per_second,
        r.timing.decide_per_second,
        r.timing.ratio
    );
    if r.mode == "fidelity" {
        let _ = writeln!(
            s,
            "fidelity: {} of {} decisions reproduced exactly; {} with different effects",
            r.routed - r.changed,
            r.routed,
            r.effect_mismatches
        );
    }
    let _ = writeln!(
        s,
        "\nper rep (leads before → after; open load as it happened → projected / capacity):"
    );
    for row in r
        .reps
        .iter()
        .filter(|x| x.leads.before + x.leads.after > 0 || x.load_after > 0.0)
    {
        let _ = writeln!(
            s,
            "  {:<20} {:<14} {:<18} load {:.1} → {:.1} / {}{}",
            row.rep,
            opt(&row.team),
            ba(&row.leads),
            row.load_before,
            row.load_after,
            row.capacity.map_or("-".into(), |c| format!("{c}")),
            if row.over_capacity {
                "  OVER CAPACITY"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(s, "\nper team:");
    for (t, x) in &r.teams {
        let _ = writeln!(s, "  {t:<20} {}", ba(x));
    }
    let _ = writeln!(s, "\nper queue:");
    for (q, x) in &r.queues {
        let _ = writeln!(s, "  {q:<20} {}", ba(x));
    }
    let _ = writeln!(s, "catch-all: {}", ba(&r.catch_all));
    let _ = writeln!(
        s,
        "\nfairness within each team (1 = in proportion to weight):"
    );
    for f in &r.fairness {
        let _ = writeln!(
            s,
            "  {:<20} {} reps  {} → {}",
            f.team,
            f.reps,
            fair(f.before),
            fair(f.after)
        );
    }
    if !r.tier_shifts.is_empty() || !r.segment_shifts.is_empty() {
        let _ = writeln!(s, "\nshifts:");
        for x in &r.tier_shifts {
            let _ = writeln!(s, "  tier {} → {}: {}", x.before, x.after, x.leads);
        }
        for x in &r.segment_shifts {
            let _ = writeln!(s, "  segment {} → {}: {}", x.before, x.after, x.leads);
        }
    }
    if !r.changed_leads.is_empty() {
        let _ = writeln!(s, "\nchanged leads:");
        for c in &r.changed_leads {
            let _ = writeln!(
                s,
                "  {} at {}: {} → {}",
                c.lead_id,
                leadrouter_store::from_micros(c.at),
                outcome(&c.before),
                outcome(&c.after)
            );
        }
        if r.changed_not_listed > 0 {
            let _ = writeln!(
                s,
                "  … and {} more (see --json or --csv)",
                r.changed_not_listed
            );
        }
    }
    if !r.lead_changes.is_empty() {
        let _ = writeln!(
            s,
            "\nreassignments in the window (by people and the SLA ladder, kept as they happened):"
        );
        for c in &r.lead_changes {
            let _ = writeln!(
                s,
                "  {} {} by {} at {} → {}",
                c.lead_id,
                c.kind,
                opt(&c.actor),
                leadrouter_store::from_micros(c.at),
                opt(&c.owner_after)
            );
        }
    }
    s
}

/// One decision in a few words: owner or queue, tier, path, rule.
pub fn outcome(r: &super::record::RouteResult) -> String {
    format!(
        "{} ({}, {}{})",
        r.owner
            .as_deref()
            .map(str::to_string)
            .or_else(|| r.queue.as_deref().map(|q| format!("queue {q}")))
            .unwrap_or_else(|| "-".into()),
        r.tier,
        r.path,
        r.rule
            .as_deref()
            .map(|x| format!(", rule {x}"))
            .unwrap_or_default()
    )
}

pub fn json(r: &Report) -> String {
    serde_json::to_string_pretty(r).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// Every figure as one row `section,key,field,before,after` (long format): per rep
/// (leads, load, capacity), team, queue, path, tier and segment shift, and each changed
/// lead's owner, queue, tier, segment, path and rule.
pub fn csv(r: &Report) -> Result<String, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record(["section", "key", "field", "before", "after"])?;
    for row in &r.reps {
        let cap = row.capacity.map(|c| c.to_string()).unwrap_or_default();
        w.write_record([
            "rep",
            &row.rep,
            "leads",
            &row.leads.before.to_string(),
            &row.leads.after.to_string(),
        ])?;
        w.write_record([
            "rep",
            &row.rep,
            "load",
            &format!("{:.2}", row.load_before),
            &format!("{:.2}", row.load_after),
        ])?;
        w.write_record(["rep", &row.rep, "capacity", &cap, &cap])?;
    }
    for (section, map) in [("team", &r.teams), ("queue", &r.queues), ("path", &r.paths)] {
        for (k, x) in map {
            w.write_record([
                section,
                k,
                "leads",
                &x.before.to_string(),
                &x.after.to_string(),
            ])?;
        }
    }
    for f in &r.fairness {
        w.write_record(["fairness", &f.team, "jain", &fair(f.before), &fair(f.after)])?;
    }
    for (section, list) in [
        ("tier_shift", &r.tier_shifts),
        ("segment_shift", &r.segment_shifts),
    ] {
        for x in list {
            w.write_record([
                section,
                &format!("{} -> {}", x.before, x.after),
                "leads",
                "",
                &x.leads.to_string(),
            ])?;
        }
    }
    for c in &r.changed_leads {
        let (b, a) = (&c.before, &c.after);
        for (field, x, y) in [
            ("owner", opt(&b.owner), opt(&a.owner)),
            ("queue", opt(&b.queue), opt(&a.queue)),
            ("tier", b.tier.as_str(), a.tier.as_str()),
            ("segment", opt(&b.segment), opt(&a.segment)),
            ("path", b.path.as_str(), a.path.as_str()),
            ("rule", opt(&b.rule), opt(&a.rule)),
        ] {
            w.write_record(["lead", &c.lead_id, field, x, y])?;
        }
    }
    for c in &r.lead_changes {
        w.write_record([
            "reassignment",
            &c.lead_id,
            &c.kind,
            opt(&c.candidate_owner_before),
            opt(&c.owner_after),
        ])?;
    }
    let bytes = w.into_inner().map_err(|e| e.into_error())?;
    Ok(String::from_utf8_lossy(&bytes).into_owned())
}
