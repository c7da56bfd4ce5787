//! `check` warnings about SLA escalations nobody would hear of: the config names managers
//! (1× alerts), leadership (3× alerts) or queues that raise queue alerts, but no channel
//! configured in `[notify]` reaches them. Such escalations are still recorded in the
//! lead's history (which says no alert was sent); these warnings say so before a lead
//! ever waits.

use super::types::{ChannelKind, NotifyConfig};
use leadrouter_core::analysis::{Finding, Severity};
use leadrouter_core::config::CompiledConfig;
use std::collections::BTreeSet;

const KIND: &str = "escalation-no-channel";

/// Warnings for escalations that reach no channel.
pub fn escalation_findings(cfg: &CompiledConfig, nc: &NotifyConfig) -> Vec<Finding> {
    // Managers an SLA miss escalates to: each rep's own or their team's, and leadership.
    let mut managers: BTreeSet<u32> = cfg
        .reps
        .iter()
        .filter(|r| r.active)
        .filter_map(|r| {
            r.manager
                .or_else(|| r.team.and_then(|t| cfg.team(t).manager))
        })
        .collect();
    managers.extend(cfg.leadership.iter().copied());
    let file = cfg.source.path.clone();
    let warn = |message: String, fix: &str| Finding {
        severity: Severity::Warning,
        kind: KIND,
        location: Some(file.clone()),
        message,
        fix: Some(fix.to_string()),
        rule: None,
    };
    if !nc.enabled {
        let what = if managers.is_empty() {
            "queue alerts (leads waiting in the catch-all, review or qualification queue)"
                .to_string()
        } else {
            format!(
                "SLA escalations to managers ({}) and queue alerts",
                names(cfg, &managers)
            )
        };
        return vec![warn(
            format!(
                "{what} are recorded in the lead's history, but nobody is told: there is no [notify] table"
            ),
            "add [notify] with base_url and [notify.email] (managers' email addresses) or [notify.slack] alerts_webhook_env (docs/notifications.md)",
        )];
    }
    let slack = nc.slack.as_ref().is_some_and(|s| {
        s.alerts_webhook_env.is_some()
            || s.default_webhook_env.is_some()
            || !s.team_webhooks_env.is_empty()
    });
    let mut out = Vec::new();
    let unreached: BTreeSet<u32> = managers
        .iter()
        .copied()
        .filter(|m| {
            let man = &cfg.managers[*m as usize];
            !nc.alerts.channels.iter().any(|c| match c {
                ChannelKind::Slack => slack,
                ChannelKind::Email => nc.email.is_some() && man.email.is_some(),
                ChannelKind::Sms => nc.sms.is_some() && man.phone.is_some(),
            })
        })
        .collect();
    if !unreached.is_empty() {
        out.push(warn(
            format!(
                "SLA escalations to {} reach no channel ([notify.alerts] channels = [{}]): they are only recorded",
                names(cfg, &unreached),
                list(&nc.alerts.channels)
            ),
            "set up a channel in [notify.alerts] channels ([notify.slack] or [notify.email]) and give those managers an email",
        ));
    }
    let queue_reached = nc.alerts.queue_channels.iter().any(|c| match c {
        ChannelKind::Slack => slack,
        ChannelKind::Email => nc.email.is_some() && !nc.alerts.queue_email.is_empty(),
        ChannelKind::Sms => nc.sms.is_some() && !nc.alerts.queue_sms.is_empty(),
    });
    if !queue_reached {
        out.push(warn(
            format!(
                "queue alerts (leads waiting in the catch-all, review or qualification queue) reach no channel ([notify.alerts] queue_channels = [{}]): they are only recorded",
                list(&nc.alerts.queue_channels)
            ),
            "add queue_email = [\"revops@example.com\"] to [notify.alerts] (with [notify.email]), or a [notify.slack] webhook",
        ));
    }
    out
}

/// Up to five manager ids, then how many more.
fn names(cfg: &CompiledConfig, set: &BTreeSet<u32>) -> String {
    let ids: Vec<&str> = set
        .iter()
        .take(5)
        .map(|m| cfg.managers[*m as usize].id.as_str())
        .collect();
    match set.len() {
        n if n > 5 => format!("{} and {} more", ids.join(", "), n - 5),
        _ => ids.join(", "),
    }
}

fn list(channels: &[ChannelKind]) -> String {
    channels
        .iter()
        .map(|c| c.name())
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compiled(extra: &str) -> (CompiledConfig, NotifyConfig) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.toml");
        let text = format!(
            r#"
[[manager]]
id = "boss"
name = "Boss"
email = "boss@example.com"

[[rep]]
id = "ann"
name = "Ann"
email = "ann@example.com"
manager = "boss"
{extra}"#
        );
        std::fs::write(&path, text).unwrap();
        let cfg = leadrouter_core::config::load(&path).unwrap();
        let nc = NotifyConfig::parse(&cfg.source).unwrap();
        (cfg, nc)
    }

    #[test]
    fn no_notify_table_warns_that_escalations_are_only_recorded() {
        let (cfg, nc) = compiled("");
        let f = escalation_findings(&cfg, &nc);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.contains("boss") && f[0].message.contains("no [notify]"));
    }

    #[test]
    fn a_channel_that_reaches_managers_and_queues_is_quiet() {
        let with_email = r#"
[notify]
base_url = "https://lr.example.com"
[notify.email]
smtp_url_env = "SMTP_URL"
from = "x@example.com"
[notify.alerts]
queue_email = ["ops@example.com"]
"#;
        let (cfg, nc) = compiled(with_email);
        assert!(escalation_findings(&cfg, &nc).is_empty());
        // Email only, no queue recipients: the queue alerts warn, the manager does not.
        let (cfg, nc) = compiled(
            &with_email.replace("[notify.alerts]\nqueue_email = [\"ops@example.com\"]\n", ""),
        );
        let f = escalation_findings(&cfg, &nc);
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].message.starts_with("queue alerts"), "{f:?}");
    }
}
