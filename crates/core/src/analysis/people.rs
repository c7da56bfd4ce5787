//! People on routing paths: teams nobody active can staff, inactive team leads and
//! backups, rules and accounts that route to inactive reps, accounts without an owner.

use super::{Finding, Severity};
use crate::config::{CompiledConfig, Target};
use std::collections::BTreeMap;

pub(super) fn people(cfg: &CompiledConfig, out: &mut Vec<Finding>) {
    for t in &cfg.teams {
        let active = t.members.iter().filter(|r| cfg.rep(**r).active).count();
        if active == 0 {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "team-without-active-rep",
                location: Some(t.origin.to_string()),
                rule: None,
                message: format!(
                    "team {} has no active member: every lead sent there overflows to {}",
                    t.id,
                    cfg.target_label(t.overflow)
                ),
                fix: Some(
                    "add active reps (rep.team or team.members) or stop routing to it".into(),
                ),
            });
        }
        if let Some(l) = t.lead
            && !cfg.rep(l).active
        {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "inactive-team-lead",
                location: Some(t.origin.to_string()),
                rule: None,
                message: format!("team {} lead {} is inactive", t.id, cfg.rep(l).id),
                fix: Some("name an active team lead".into()),
            });
        }
    }
    for r in &cfg.reps {
        if let Some(b) = r.backup
            && r.active
            && !cfg.rep(b).active
        {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "inactive-backup",
                location: Some(r.origin.to_string()),
                rule: None,
                message: format!("rep {} has inactive backup {}", r.id, cfg.rep(b).id),
                fix: Some("name an active backup".into()),
            });
        }
    }
    for rule in &cfg.rules {
        if let Target::Rep(r) = rule.target
            && !cfg.rep(r).active
        {
            out.push(Finding {
                severity: Severity::Warning,
                kind: "rule-to-inactive-rep",
                location: Some(rule.origin.to_string()),
                rule: Some(rule.id.clone()),
                message: format!(
                    "rule {} routes to inactive rep {}: its leads always take the fallback",
                    rule.id,
                    cfg.rep(r).id
                ),
                fix: Some("route the rule to an active rep or to a team".into()),
            });
        }
    }
    let mut by_owner: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for a in &cfg.accounts {
        if let Some(o) = a.owner
            && !cfg.rep(o).active
        {
            by_owner.entry(&cfg.rep(o).id).or_default().push(&a.domain);
        }
    }
    for (owner, domains) in by_owner {
        let shown: Vec<&str> = domains.iter().take(10).copied().collect();
        out.push(Finding {
            severity: Severity::Warning,
            kind: "account-owner-inactive",
            location: None,
            rule: None,
            message: format!(
                "{} account(s) owned by inactive rep {owner}: {}{}",
                domains.len(),
                shown.join(", "),
                if domains.len() > shown.len() {
                    ", …"
                } else {
                    ""
                }
            ),
            fix: Some(
                "reassign these accounts (ACC-4); until then they go to the owner's backup".into(),
            ),
        });
    }
    let unowned = cfg.accounts.iter().filter(|a| a.owner.is_none()).count();
    if unowned > 0 {
        out.push(Finding {
            severity: Severity::Note,
            kind: "account-without-owner",
            location: None,
            rule: None,
            message: format!("{unowned} account(s) have no owner and route by the matrix"),
            fix: None,
        });
    }
}

#[cfg(test)]
mod tests {
    use crate::analysis::analyze;
    use crate::analysis::fixture::{BASE, cfg, kinds};

    #[test]
    fn people_problems() {
        let c = cfg(&format!(
            "{BASE}\n[[account]]\ndomain = \"globex.com\"\nowner = \"gone\"\n\n[[rule]]\nid = \"r\"\nroute_to = \"rep:gone\"\n"
        ));
        let k = kinds(&analyze(&c));
        assert!(k.contains(&"team-without-active-rep"), "{k:?}");
        assert!(k.contains(&"account-owner-inactive"), "{k:?}");
        assert!(k.contains(&"rule-to-inactive-rep"), "{k:?}");
    }
}
