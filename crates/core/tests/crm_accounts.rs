//! CRM-3: accounts synced from the CRM take part in the account step without a config
//! reload, with an explicit precedence against the config's own (CSV) accounts, and the
//! trace names where the account came from.

use jiff::Timestamp;
use leadrouter_core::config::compile::compile;
use leadrouter_core::config::{CompiledConfig, LoadError, SourceText};
use leadrouter_core::crm_accounts::{AccountPrecedence, CrmAccounts, SyncedAccount};
use leadrouter_core::engine::{self, Routed, RoutingInput};
use leadrouter_core::lead::Lead;
use leadrouter_core::state::StateSnapshot;
use leadrouter_core::trace::{Flag, RoutePath, Step};
use serde_json::json;

const CFG: &str = r#"
[routing]
default_team = "pool"

[[rep]]
id = "csv_owner"
name = "Carla Csv"

[[rep]]
id = "crm_owner"
name = "Cody Crm"

[[rep]]
id = "pool1"
name = "Pat Pool"
team = "pool"

[[team]]
id = "pool"

[[account]]
domain = "globex.com"
name = "Globex Corporation"
owner = "csv_owner"
"#;

fn cfg() -> CompiledConfig {
    let read = |rel: &str| -> Result<SourceText, LoadError> {
        Err(LoadError::Io {
            path: rel.to_string(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no tables"),
        })
    };
    compile(SourceText::new("test.toml", CFG), &read).unwrap_or_else(|e| panic!("{e}"))
}

fn synced(domain: &str, owner: Option<&str>, precedence: AccountPrecedence) -> CrmAccounts {
    CrmAccounts::new(
        "salesforce",
        precedence,
        [SyncedAccount {
            crm_id: "001000000000001AAA".into(),
            name: "Globex (CRM)".into(),
            domain: domain.into(),
            owner: owner.map(str::to_string),
            owner_crm_id: Some("005000000000009AAA".into()),
            named: true,
        }],
    )
}

fn route(c: &CompiledConfig, crm: Option<&CrmAccounts>, email: &str) -> Routed {
    let l = Lead::from_json(&json!({ "email": email, "employees": "500", "industry": "software", "action": "demo_request" }))
        .unwrap()
        .0;
    let st = StateSnapshot::default();
    let now: Timestamp = "2026-11-23T15:00:00Z".parse().unwrap();
    engine::decide(
        c,
        RoutingInput {
            crm_accounts: crm,
            ..RoutingInput::new(&l, &st, now)
        },
    )
}

fn owner(r: &Routed) -> Option<&str> {
    r.decision.owner.as_ref().map(|o| o.id.as_str())
}

#[test]
fn crm_3_synced_owner_wins_over_csv_when_the_crm_is_the_record() {
    let c = cfg();
    let without = route(&c, None, "ann@globex.com");
    assert_eq!(owner(&without), Some("csv_owner"));
    let crm = synced(
        "https://www.globex.com/",
        Some("crm_owner"),
        AccountPrecedence::Crm,
    );
    let r = route(&c, Some(&crm), "ann@globex.com");
    assert_eq!(
        owner(&r),
        Some("crm_owner"),
        "{}",
        r.trace.render(&r.decision)
    );
    assert_eq!(r.decision.path, RoutePath::NamedAccount);
    assert!(r.trace.steps.iter().any(|s| matches!(s,
        Step::Account { account: Some(a), .. } if a.contains("salesforce account 001000000000001AAA"))));
    // Same inputs, same decision.
    assert_eq!(route(&c, Some(&crm), "ann@globex.com"), r);
}

#[test]
fn crm_3_csv_precedence_keeps_the_config_owner_and_crm_fills_gaps() {
    let c = cfg();
    let crm = synced("globex.com", Some("crm_owner"), AccountPrecedence::Csv);
    assert_eq!(
        owner(&route(&c, Some(&crm), "ann@globex.com")),
        Some("csv_owner")
    );
    let other = synced("initech.com", Some("crm_owner"), AccountPrecedence::Csv);
    let r = route(&c, Some(&other), "bob@initech.com");
    assert_eq!(
        owner(&r),
        Some("crm_owner"),
        "{}",
        r.trace.render(&r.decision)
    );
}

#[test]
fn crm_3_an_owner_who_is_not_a_rep_is_flagged_and_routed_on() {
    let c = cfg();
    let crm = synced("initech.com", None, AccountPrecedence::Crm);
    let r = route(&c, Some(&crm), "bob@initech.com");
    assert!(r.decision.flags.contains(&Flag::AccountOwnerInactive));
    assert_eq!(owner(&r), Some("pool1"), "{}", r.trace.render(&r.decision));
    assert!(r.trace.steps.iter().any(|s| matches!(s,
        Step::Account { outcome, .. } if outcome.contains("005000000000009AAA"))));
}
