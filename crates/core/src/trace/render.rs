//! [`RoutingTrace::render`]: the trace as text for people, one step per line (what
//! `leadrouter route --explain` prints and the console shows).

use super::{Decision, RoutingTrace, Step, Verdict};
use crate::config::{Intent, Tier};
use std::fmt::Write as _;

impl RoutingTrace {
    /// Human-readable trace, one step per line.
    pub fn render(&self, decision: &Decision) -> String {
        let mut s = String::new();
        let f = &self.facts;
        let _ = writeln!(
            s,
            "decision at {} with config {}",
            self.at, self.config_version
        );
        let _ = writeln!(
            s,
            "lead: email={} company={} employees={} segment={} industry={} country={} region={} state={} zip={}",
            f.email.as_deref().unwrap_or("-"),
            f.company.as_deref().unwrap_or("-"),
            f.employees.map(|e| e.to_string()).unwrap_or("-".into()),
            f.segment.as_deref().unwrap_or("unknown"),
            f.industry.as_deref().unwrap_or("unknown"),
            f.country.as_deref().unwrap_or("-"),
            f.region.as_deref().unwrap_or("-"),
            f.state.as_deref().unwrap_or("-"),
            f.postal_code.as_deref().unwrap_or("-"),
        );
        let parts: Vec<String> = f
            .score_parts
            .iter()
            .map(|p| format!("{} {:+}", p.label, p.points))
            .collect();
        let _ = writeln!(
            s,
            "score {} ({}); intent {:?}; ICP fit {}; tier {}",
            f.score,
            if parts.is_empty() {
                "no points".into()
            } else {
                parts.join(", ")
            },
            f.intent.unwrap_or(Intent::Low),
            if f.icp_fit { "yes" } else { "no" },
            f.tier.map(Tier::name).unwrap_or("-"),
        );
        for c in &f.icp_checks {
            let _ = writeln!(s, "  ICP {c}");
        }
        if let Some(by) = &f.tier_by {
            let _ = writeln!(
                s,
                "  tier set by [[tier_by_action]] {by}, over intent × ICP fit"
            );
        }
        for i in &f.issues {
            let _ = writeln!(s, "input issue: {}: {}", i.field, i.problem);
        }
        if !f.enrichment_sources.is_empty() {
            let fields: Vec<String> = f
                .enrichment_sources
                .iter()
                .map(|(field, provider)| format!("{field} from {provider}"))
                .collect();
            let _ = writeln!(s, "enrichment: {}", fields.join(", "));
        }
        for why in &f.enrichment_failures {
            let _ = writeln!(s, "enrichment failed: {why}");
        }
        for (n, step) in self.steps.iter().enumerate() {
            let _ = write!(s, "{:>2}. ", n + 1);
            match step {
                Step::Junk { reason } => match reason {
                    Some(r) => writeln!(s, "junk check: JUNK — {r}"),
                    None => writeln!(s, "junk check: clean"),
                },
                Step::KnownPerson { email, owner, outcome } => writeln!(
                    s,
                    "known person {email} (owner {}): {outcome}",
                    owner.as_deref().unwrap_or("none")
                ),
                Step::Account { matched_by, account, owner, named, outcome } => match account {
                    Some(a) => writeln!(
                        s,
                        "account match by {}: {a}{} owned by {}: {outcome}",
                        matched_by.as_deref().unwrap_or("?"),
                        if *named { " (named account)" } else { "" },
                        owner.as_deref().unwrap_or("nobody")
                    ),
                    None => writeln!(s, "account match: {outcome}"),
                },
                Step::PersonalEmail { domain, outcome } => {
                    writeln!(s, "personal email domain {domain}: {outcome}")
                }
                Step::Qualification { outcome } => writeln!(s, "firmographics: {outcome}"),
                Step::Nurture { outcome } => writeln!(s, "qualification score: {outcome}"),
                Step::Matrix { matched, also_matched, candidates, rules, considered } => {
                    let _ = match matched {
                        Some(m) => writeln!(
                            s,
                            "matrix: {candidates} of {rules} rules match; winner {} ({:?} rule, priority {}, {})",
                            m.id, m.layer, m.priority, m.origin
                        ),
                        None => writeln!(s, "matrix: none of {rules} rules match"),
                    };
                    if !also_matched.is_empty() {
                        let _ = writeln!(
                            s,
                            "      also matched at the same precedence: {} (first in file order wins)",
                            also_matched.join(", ")
                        );
                    }
                    for c in considered {
                        let _ = writeln!(
                            s,
                            "      rule {}: {}",
                            c.id,
                            match &c.failed_on {
                                Some(why) => format!("no — {why}"),
                                None => "matches".into(),
                            }
                        );
                    }
                    Ok(())
                }
                Step::Rep { rep, role, verdict } => {
                    writeln!(s, "{role} {rep}: {}", verdict_text(verdict))
                }
                Step::Team { team, method, candidates } => {
                    let _ = writeln!(s, "team {team} ({method}), {} candidates:", candidates.len());
                    for c in candidates {
                        let mut extra = String::new();
                        if let Some(l) = c.load {
                            let _ = write!(extra, " [load {l:.1}]");
                        }
                        let _ = writeln!(s, "      {}: {}{extra}", c.rep, verdict_text(&c.verdict));
                    }
                    Ok(())
                }
                Step::Fallback { from, to, because } => {
                    writeln!(s, "fallback {from} -> {to}: {because}")
                }
                Step::Manual { by, rep, note, overridden } => writeln!(
                    s,
                    "manual assignment to {rep} by {by}{}{}",
                    note.as_deref().map(|n| format!(" ({n})")).unwrap_or_default(),
                    overridden
                        .as_ref()
                        .map(|o| format!("; overrides: {o}"))
                        .unwrap_or_default()
                ),
            }
            .ok();
        }
        let _ = writeln!(
            s,
            "=> {} — {}",
            match (&decision.owner, &decision.queue) {
                (Some(o), _) => format!("assigned to {} ({})", o.name, o.id),
                (None, Some(q)) => format!("queued in {q}"),
                _ => "unassigned".into(),
            },
            decision.reason
        );
        let _ = writeln!(
            s,
            "   SLA: route by {}{}",
            decision.sla.route_by,
            decision
                .sla
                .contact_by
                .map(|c| format!(", first touch by {c}"))
                .unwrap_or_default()
        );
        s
    }
}

fn verdict_text(v: &Verdict) -> String {
    match v {
        Verdict::Chosen => "CHOSEN".into(),
        Verdict::Skipped { skip } => format!("skipped — {skip}"),
        Verdict::Passed => "available, not chosen".into(),
        Verdict::NotReached => "later in rotation".into(),
    }
}
