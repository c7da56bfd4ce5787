//! Rules an admin can say directly, and what the company's own data says (issue 23), at
//! the engine: `[[tier_by_action]]` over intent × fit, the ICP fit explained criterion by
//! criterion, holding a named-account lead for its owner's working hours (the SLA clock
//! starting then), and a domain the company's data names beating the free-mail list.

use jiff::{SignedDuration, Timestamp};
use leadrouter_core::config::compile::compile;
use leadrouter_core::config::{CompiledConfig, LoadError, SourceText, Tier};
use leadrouter_core::engine::{self, Routed, RoutingInput};
use leadrouter_core::lead::{Enrichment, Lead};
use leadrouter_core::lifecycle::{Ladder, SlaStep};
use leadrouter_core::state::StateSnapshot;
use leadrouter_core::trace::{Flag, RoutePath};
use serde_json::json;

fn cfg(toml: &str) -> CompiledConfig {
    compile(SourceText::new("t.toml", toml), &|p: &str| {
        Err(LoadError::Io {
            path: p.into(),
            source: std::io::Error::other("no files in this test"),
        })
    })
    .unwrap_or_else(|e| panic!("config does not compile:\n{e}"))
}

fn lead(v: serde_json::Value) -> Lead {
    Lead::from_json(&v).expect("lead").0
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn route(c: &CompiledConfig, l: &Lead, at: Timestamp) -> Routed {
    let st = StateSnapshot::default();
    let mut r = engine::decide(c, RoutingInput::new(l, &st, at));
    r.trace.explain(c);
    r
}

fn owner(r: &Routed) -> Option<&str> {
    r.decision.owner.as_ref().map(|o| o.id.as_str())
}

fn why(r: &Routed) -> String {
    r.trace.render(&r.decision)
}

const TEAM: &str = r#"
[routing]
default_team = "t"

[[rep]]
id = "own"
name = "Owner"
team = "t"
timezone = "UTC"
working_hours = "Mon-Fri 09:00-17:00"

[[rep]]
id = "other"
name = "Other"
team = "t"

[[team]]
id = "t"
"#;

/// Monday 2026-11-23.
const MONDAY_8AM: &str = "2026-11-23T08:00:00Z";

#[test]
fn tier_by_action_says_demo_request_is_hot_when_size_is_unknown() {
    let demo =
        lead(json!({"email": "pat@globex.com", "industry": "software", "action": "Demo Request"}));
    // Without the table: high intent, no segment so no ICP fit → warm.
    let plain = cfg(TEAM);
    let r = route(&plain, &demo, ts(MONDAY_8AM));
    assert_eq!(r.decision.tier, Tier::Warm, "{}", why(&r));
    assert!(r.trace.facts.tier_by.is_none());

    let c = cfg(&format!(
        "{TEAM}\n[[tier_by_action]]\nactions = [\"demo_request\"]\nsegments = [\"enterprise\", \"unknown\"]\ntier = \"hot\"\n\n[[tier_by_action]]\nactions = [\"content_download\"]\ntier = \"standard\"\n"
    ));
    let r = route(&c, &demo, ts(MONDAY_8AM));
    assert_eq!(r.decision.tier, Tier::Hot, "{}", why(&r));
    let by = r.trace.facts.tier_by.clone().unwrap_or_default();
    assert!(
        by.starts_with("demo_request in enterprise|unknown → hot (t.toml:"),
        "{by}"
    );
    assert!(
        why(&r).contains("tier set by [[tier_by_action]] demo_request"),
        "{}",
        why(&r)
    );
    // The hot SLA applies.
    assert_eq!(r.decision.sla.contact_within, SignedDuration::from_mins(5));

    // A known size outside the entry's segments: intent × fit as usual.
    let smb = lead(
        json!({"email": "pat@globex.com", "employees": "60", "industry": "software", "action": "demo_request"}),
    );
    let r = route(&c, &smb, ts(MONDAY_8AM));
    assert_eq!(
        r.decision.tier,
        Tier::Hot,
        "smb fits the default ICP: {}",
        why(&r)
    );
    assert!(r.trace.facts.tier_by.is_none(), "{}", why(&r));
    let tiny = lead(json!({"email": "pat@globex.com", "employees": "3", "action": "demo_request"}));
    let r = route(&c, &tiny, ts(MONDAY_8AM));
    assert_eq!(r.decision.tier, Tier::Warm, "{}", why(&r));

    // An entry can lower a tier too.
    let dl =
        lead(json!({"email": "pat@globex.com", "employees": "5000", "action": "content_download"}));
    let r = route(&c, &dl, ts(MONDAY_8AM));
    assert_eq!(r.decision.tier, Tier::Standard, "{}", why(&r));
}

#[test]
fn an_unknown_tier_or_segment_in_tier_by_action_is_an_error_with_its_line() {
    let text =
        format!("{TEAM}\n[[tier_by_action]]\nactions = [\"demo_request\"]\ntier = \"scorching\"\n");
    let err = compile(SourceText::new("t.toml", text.as_str()), &|p: &str| {
        Err(LoadError::Io {
            path: p.into(),
            source: std::io::Error::other("none"),
        })
    })
    .unwrap_err()
    .to_string();
    let line = text.lines().position(|l| l.contains("scorching")).unwrap() + 1;
    assert!(err.contains(&format!("t.toml:{line}")), "{err}");
    assert!(err.contains("hot, warm or standard"), "{err}");
}

#[test]
fn the_trace_says_why_the_lead_fits_the_icp_or_not_criterion_by_criterion() {
    let c = cfg(&format!(
        "{TEAM}\n[icp]\nsegments = [\"enterprise\", \"mid_market\"]\nregions = [\"EMEA\"]\n"
    ));
    let l = lead(
        json!({"email": "pat@globex.com", "employees": "500", "industry": "software", "country": "US", "action": "demo_request"}),
    );
    let r = route(&c, &l, ts(MONDAY_8AM));
    assert!(!r.decision.icp_fit);
    let checks = &r.trace.facts.icp_checks;
    assert_eq!(checks.len(), 4, "{checks:?}");
    assert_eq!(
        checks[0],
        "segment mid_market: yes (ICP segment: enterprise, mid_market)"
    );
    assert_eq!(
        checks[1],
        "industry software: any industry fits (not part of the ICP)"
    );
    assert_eq!(checks[2], "region AMER: no (ICP region: EMEA)");
    let text = why(&r);
    assert!(text.contains("ICP fit no"), "{text}");
    assert!(
        text.contains("  ICP region AMER: no (ICP region: EMEA)"),
        "{text}"
    );
}

fn named_account(hold: Option<&str>) -> CompiledConfig {
    let hold = hold
        .map(|h| format!("hold_for_owner_within = \"{h}\"\n"))
        .unwrap_or_default();
    cfg(&format!(
        "{}\n[[account]]\ndomain = \"globex.com\"\nname = \"Globex\"\nowner = \"own\"\nnamed = true\n",
        TEAM.replace(
            "default_team = \"t\"\n",
            &format!("default_team = \"t\"\n{hold}")
        )
    ))
}

#[test]
fn a_named_account_lead_waits_for_its_owner_within_the_hold_and_the_sla_starts_then() {
    let l = lead(
        json!({"email": "pat@globex.com", "employees": "5000", "industry": "software", "action": "demo_request"}),
    );
    let at = ts(MONDAY_8AM);
    // Without the hold: whoever is on.
    let r = route(&named_account(None), &l, at);
    assert_eq!(owner(&r), Some("other"), "{}", why(&r));

    // With a 2h hold: the owner, back at 09:00; the contact SLA (hot: 5 min) from then.
    let c = named_account(Some("2h"));
    let r = route(&c, &l, at);
    assert_eq!(owner(&r), Some("own"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::NamedAccount);
    let opens = ts("2026-11-23T09:00:00Z");
    assert_eq!(
        r.decision.sla.contact_by,
        Some(opens + SignedDuration::from_mins(5))
    );
    let text = why(&r);
    assert!(
        text.contains("held until their working hours start at Mon 09:00 UTC"),
        "{text}"
    );
    assert!(
        r.decision
            .notes
            .iter()
            .any(|n| n.contains("the contact SLA starts then")),
        "{:?}",
        r.decision.notes
    );
    // The escalation ladder counts from the window too.
    let ladder = Ladder {
        alert_queues: &[],
        queue_alert_after: SignedDuration::from_mins(15),
    };
    let timers = ladder.timers(&r.decision, at);
    let manager = timers.iter().find(|t| t.step == SlaStep::Manager).unwrap();
    assert_eq!(manager.due, opens + SignedDuration::from_mins(5));

    // Friday evening: Monday 09:00 is 63h away, beyond a 14h hold.
    let friday = ts("2026-11-27T18:00:00Z");
    let r = route(&named_account(Some("14h")), &l, friday);
    assert_eq!(owner(&r), Some("other"), "{}", why(&r));
    // Within working hours nothing is held: the owner takes it now.
    let r = route(&c, &l, ts("2026-11-23T10:00:00Z"));
    assert_eq!(owner(&r), Some("own"));
    assert_eq!(
        r.decision.sla.contact_by,
        Some(ts("2026-11-23T10:05:00Z")),
        "{}",
        why(&r)
    );
}

#[test]
fn an_owner_away_for_another_reason_is_not_waited_for() {
    let c = named_account(Some("2h"));
    let l = lead(json!({"email": "pat@globex.com", "employees": "5000", "action": "demo_request"}));
    let mut st = StateSnapshot::default();
    st.availability.insert(
        "own".into(),
        leadrouter_core::state::AvailabilityOverride {
            out: true,
            out_until: None,
            note: Some("parental leave".into()),
        },
    );
    let r = engine::decide(&c, RoutingInput::new(&l, &st, ts(MONDAY_8AM)));
    assert_eq!(owner(&r), Some("other"), "{}", why(&r));
}

#[test]
fn a_domain_the_company_data_names_beats_the_free_mail_list() {
    let l = lead(
        json!({"email": "dana@fastmail.com", "employees": "300", "industry": "software", "action": "demo_request"}),
    );
    // fastmail.com is on the shipped free-mail list: a personal email, to review.
    let plain = cfg(TEAM);
    let r = route(&plain, &l, ts(MONDAY_8AM));
    assert!(r.trace.facts.personal_email, "{}", why(&r));
    assert_eq!(
        r.decision.path,
        RoutePath::PersonalEmailReview,
        "{}",
        why(&r)
    );

    // An account with that domain: the company's own data says it is a company.
    let c = cfg(&format!(
        "{TEAM}\n[[account]]\ndomain = \"fastmail.com\"\nname = \"Fastmail\"\nowner = \"other\"\n"
    ));
    let r = route(&c, &l, ts(MONDAY_8AM));
    assert!(!r.trace.facts.personal_email, "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::AccountOwner, "{}", why(&r));
    assert_eq!(owner(&r), Some("other"));
    assert!(
        r.decision
            .flags
            .contains(&Flag::CompanyDomainOverFreeMailList)
    );
    assert_eq!(r.trace.facts.company_domain_by.as_deref(), Some("account"));

    // A firmographic file that lists the domain (the enricher's answer) does the same.
    let enr = Enrichment {
        domain: Some("fastmail.com".into()),
        employees: Some(300),
        sources: [("domain".to_string(), "vendor-file".to_string())].into(),
        ..Default::default()
    };
    let st = StateSnapshot::default();
    let r = engine::decide(
        &plain,
        RoutingInput {
            enrichment: Some(&enr),
            ..RoutingInput::new(&l, &st, ts(MONDAY_8AM))
        },
    );
    assert!(!r.trace.facts.personal_email, "{}", why(&r));
    assert_ne!(r.decision.path, RoutePath::PersonalEmailReview);
    assert_eq!(
        r.trace.facts.company_domain_by.as_deref(),
        Some("enrichment:vendor-file")
    );
    // The local signals echo the email's domain: they name no company.
    let echo = Enrichment {
        sources: [("domain".to_string(), "signals".to_string())].into(),
        ..enr
    };
    let r = engine::decide(
        &plain,
        RoutingInput {
            enrichment: Some(&echo),
            ..RoutingInput::new(&l, &st, ts(MONDAY_8AM))
        },
    );
    assert!(r.trace.facts.personal_email, "{}", why(&r));
}
