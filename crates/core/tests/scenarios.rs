//! Scenario tests: one per requirement id of `PRODUCT.md`, named after it.
//!
//! Each test compiles a small inline config that shows exactly what it relies on (CSV
//! tables are served from a map, as `config::load` would read them from disk), routes
//! leads through the pure engine and checks the owner or queue together with the path,
//! the reason, the flags and the trace. Where the demo config under `examples/` reads
//! better, the test uses it at the README's reference clock.

use jiff::{SignedDuration, Timestamp};
use leadrouter_core::config::compile::compile;
use leadrouter_core::config::{self, CompiledConfig, Intent, Layer, LoadError, SourceText, Tier};
use leadrouter_core::engine::{self, Routed, RoutingInput};
use leadrouter_core::lead::{Enrichment, Lead};
use leadrouter_core::state::{
    AvailabilityOverride, DailyCount, Effect, PriorPerson, PriorStatus, RepLoad, StateSnapshot,
};
use leadrouter_core::trace::{Flag, RoutePath, Skip, Step, Verdict};
use serde_json::json;
use std::collections::{BTreeMap, HashMap};

// ---------------------------------------------------------------------------------------
// Helpers
// ---------------------------------------------------------------------------------------

/// The README's reference clock: Monday 2026-11-23 15:00 UTC.
const NOW: &str = "2026-11-23T15:00:00Z";

fn ts(s: &str) -> Timestamp {
    s.parse()
        .unwrap_or_else(|e| panic!("bad timestamp {s}: {e}"))
}

fn now() -> Timestamp {
    ts(NOW)
}

/// Compile an inline config; `files` serves the CSV tables it names.
fn compile_with(toml: &str, files: &[(&str, &str)]) -> CompiledConfig {
    let files: HashMap<&str, &str> = files.iter().copied().collect();
    let read = |rel: &str| -> Result<SourceText, LoadError> {
        match files.get(rel) {
            Some(text) => Ok(SourceText::new(rel, *text)),
            None => Err(LoadError::Io {
                path: rel.to_string(),
                source: std::io::Error::new(std::io::ErrorKind::NotFound, "not in the test's map"),
            }),
        }
    };
    match compile(SourceText::new("test.toml", toml), &read) {
        Ok(cfg) => cfg,
        Err(e) => panic!("test config does not compile:\n{e}"),
    }
}

fn cfg(toml: &str) -> CompiledConfig {
    compile_with(toml, &[])
}

fn load_demo() -> CompiledConfig {
    config::load(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/demo.toml"
    ))
    .unwrap_or_else(|e| panic!("demo config: {e}"))
}

/// The demo config, compiled once for the whole file.
fn demo() -> &'static CompiledConfig {
    static DEMO: std::sync::LazyLock<CompiledConfig> = std::sync::LazyLock::new(load_demo);
    &DEMO
}

fn demo_file(rel: &str) -> serde_json::Value {
    let path = format!("{}/../../examples/{rel}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn demo_state(rel: &str) -> StateSnapshot {
    serde_json::from_value(demo_file(rel)).expect("state file")
}

fn lead(v: serde_json::Value) -> Lead {
    Lead::from_json(&v).expect("lead is an object").0
}

/// A lead that reaches the matrix in every config below: mid-market software, high
/// intent (so it is neither unqualified nor missing firmographics), no email.
fn plain_lead() -> Lead {
    lead(json!({"employees": "500", "industry": "software", "action": "demo_request"}))
}

fn route_at(cfg: &CompiledConfig, lead: &Lead, state: &StateSnapshot, at: Timestamp) -> Routed {
    engine::decide(cfg, RoutingInput::new(lead, state, at))
}

fn route(cfg: &CompiledConfig, lead: &Lead, state: &StateSnapshot) -> Routed {
    route_at(cfg, lead, state, now())
}

/// Route and commit the effects, as the caller does in one transaction.
fn route_apply(
    cfg: &CompiledConfig,
    lead: &Lead,
    state: &mut StateSnapshot,
    at: Timestamp,
) -> Routed {
    let r = route_at(cfg, lead, state, at);
    state.apply(&r.effects);
    r
}

fn owner(r: &Routed) -> Option<&str> {
    r.decision.owner.as_ref().map(|o| o.id.as_str())
}

fn queue(r: &Routed) -> Option<&str> {
    r.decision.queue.as_deref()
}

/// The rendered trace, for assertion messages.
fn why(r: &Routed) -> String {
    r.trace.render(&r.decision)
}

fn has_step(r: &Routed, pred: impl Fn(&Step) -> bool) -> bool {
    r.trace.steps.iter().any(pred)
}

fn team_candidates(r: &Routed, team: &str) -> Vec<(String, Verdict)> {
    r.trace
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Team {
                team: t,
                candidates,
                ..
            } if t == team => Some(
                candidates
                    .iter()
                    .map(|c| (c.rep.to_string(), c.verdict.clone()))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no team step for {team}:\n{}", why(r)))
}

fn verdict_of(r: &Routed, team: &str, rep: &str) -> Verdict {
    team_candidates(r, team)
        .into_iter()
        .find(|(id, _)| id == rep)
        .map(|(_, v)| v)
        .unwrap_or_else(|| panic!("{rep} is not a candidate of {team}:\n{}", why(r)))
}

fn days_ago(n: i64) -> Timestamp {
    now()
        .checked_sub(SignedDuration::from_hours(24 * n))
        .unwrap()
}

fn after(d: SignedDuration) -> Timestamp {
    now().checked_add(d).unwrap()
}

/// Route `n` identical leads (no email, so nobody becomes a known person) and return
/// who got each one.
fn run(cfg: &CompiledConfig, state: &mut StateSnapshot, n: usize) -> Vec<String> {
    let l = plain_lead();
    (0..n)
        .map(|_| {
            let r = route_apply(cfg, &l, state, now());
            owner(&r)
                .unwrap_or_else(|| panic!("not assigned:\n{}", why(&r)))
                .to_string()
        })
        .collect()
}

fn counts(picks: &[String]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for p in picks {
        *m.entry(p.clone()).or_default() += 1;
    }
    m
}

// ---------------------------------------------------------------------------------------
// ACC: account match
// ---------------------------------------------------------------------------------------

const ACCOUNT_CFG: &str = r#"
[routing]
default_team = "pool"

[[rep]]
id = "owner"
name = "Olivia Owner"

[[rep]]
id = "territory"
name = "Terry Territory"

[[rep]]
id = "pool1"
name = "Pat Pool"
team = "pool"

[[team]]
id = "pool"

[[account]]
domain = "globex.com"
name = "Globex Corporation"
owner = "owner"
aliases = ["Globex Corp"]

# A high-priority territory rule that would take every US lead.
[[rule]]
id = "us-everything"
priority = 100
country = ["US"]
route_to = "rep:territory"
"#;

#[test]
fn acc_1_existing_account_goes_to_account_owner() {
    let c = cfg(ACCOUNT_CFG);
    // Subdomain of the account's registrable domain, in the territory rule's country.
    let l = lead(json!({
        "email": "Katrin.Meyer@de.globex.com", "country": "US", "employees": "500",
        "industry": "software", "action": "demo_request"
    }));
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(owner(&r), Some("owner"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::AccountOwner);
    assert_eq!(r.decision.rule, None, "no matrix rule decided it");
    assert!(
        r.decision
            .reason
            .starts_with("account Globex Corporation (globex.com)"),
        "{}",
        r.decision.reason
    );
    assert!(has_step(&r, |s| matches!(s,
        Step::Account { matched_by: Some(by), owner: Some(o), named: false, .. }
            if by == "email domain" && o == "owner")));
    assert!(
        !has_step(&r, |s| matches!(s, Step::Matrix { .. })),
        "the matrix is never consulted for an account lead:\n{}",
        why(&r)
    );
    assert_eq!(r.trace.facts.email_domain.as_deref(), Some("globex.com"));
    assert!(r.decision.flags.is_empty(), "{:?}", r.decision.flags);

    // Without the account the territory rule takes it: the account is what decided.
    let other = lead(json!({
        "email": "k.meyer@initrode.com", "country": "US", "employees": "500",
        "industry": "software", "action": "demo_request"
    }));
    let r = route(&c, &other, &StateSnapshot::default());
    assert_eq!(owner(&r), Some("territory"), "{}", why(&r));

    // The demo: lead 02 (de.globex.com, Germany, would hit terr-dach-ent) goes to the
    // owner of Globex Corporation.
    let d = demo();
    let r = route(
        d,
        &lead(demo_file("leads/02-existing-account-subdomain.json")),
        &StateSnapshot::default(),
    );
    assert_eq!(owner(&r), Some("ana.lopez"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::AccountOwner);
}

#[test]
fn acc_2_named_account_owner() {
    // The ABM list is imported as CSV, next to an inline account.
    let toml = r#"
[routing]
accounts_csv = "abm.csv"
default_team = "pool"

[[rep]]
id = "sophie"
name = "Sophie Martin"

[[rep]]
id = "jordan"
name = "Jordan Blake"

[[rep]]
id = "pool1"
name = "Pat Pool"
team = "pool"

[[team]]
id = "pool"

[[rule]]
id = "us-central-ent"
priority = 30
segment = ["enterprise"]
country = ["US"]
state = ["IL"]
route_to = "rep:jordan"
"#;
    let abm = "domain,name,owner,named,aliases\n\
               castellan-insurance.com,Castellan Insurance Group,sophie,yes,Castellan\n";
    let c = compile_with(toml, &[("abm.csv", abm)]);
    let l = lead(json!({
        "email": "james.whitaker@castellan-insurance.com", "country": "US", "state": "IL",
        "employees": "8500", "industry": "insurance", "action": "webinar_registration"
    }));
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(owner(&r), Some("sophie"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::NamedAccount);
    assert!(
        r.decision
            .reason
            .starts_with("named account Castellan Insurance Group"),
        "{}",
        r.decision.reason
    );
    assert!(has_step(
        &r,
        |s| matches!(s, Step::Account { named: true, owner: Some(o), .. } if o == "sophie")
    ));
    assert!(!has_step(&r, |s| matches!(s, Step::Matrix { .. })));
    // The account's origin is the CSV row.
    let acct = &c.accounts[c.account_by_domain["castellan-insurance.com"] as usize];
    assert!(acct.named);
    assert_eq!(acct.origin.to_string(), "abm.csv:2");

    // The demo's named account from accounts.csv.
    let d = demo();
    let r = route(
        d,
        &lead(demo_file("leads/03-named-account.json")),
        &StateSnapshot::default(),
    );
    assert_eq!(owner(&r), Some("sophie.martin"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::NamedAccount);
}

#[test]
fn acc_3_personal_email_goes_to_review() {
    let c = cfg(ACCOUNT_CFG);
    for l in [
        // No company at all.
        lead(
            json!({"email": "tom.becker87@gmail.com", "country": "US", "action": "demo_request",
                    "employees": "500", "industry": "software"}),
        ),
        // A company that is not a known account.
        lead(
            json!({"email": "tom@yahoo.co.uk", "company": "Becker Consulting", "country": "US",
                    "action": "demo_request", "employees": "500", "industry": "software"}),
        ),
        // A subdomain of a free-mail provider.
        lead(json!({"email": "tom@mail.outlook.com", "country": "US", "action": "demo_request"})),
    ] {
        let r = route(&c, &l, &StateSnapshot::default());
        assert_eq!(queue(&r), Some("review"), "{}", why(&r));
        assert_eq!(owner(&r), None);
        assert_eq!(r.decision.path, RoutePath::PersonalEmailReview);
        assert!(r.trace.facts.personal_email);
        assert!(
            r.decision.reason.starts_with("personal email (")
                && r.decision.reason.contains("needs review"),
            "{}",
            r.decision.reason
        );
        assert!(has_step(&r, |s| matches!(s, Step::PersonalEmail { .. })));
        // Not even the US territory rule (priority 100) gets to hand it to a rep.
        assert!(!has_step(&r, |s| matches!(s, Step::Matrix { .. })));
        assert!(r.effects.is_empty(), "a queued lead changes no rep state");
    }
}

#[test]
fn acc_3_personal_email_mapped_by_company() {
    let c = cfg(ACCOUNT_CFG);
    // The company field names the account (an alias, with a legal suffix).
    let l = lead(
        json!({"email": "marta.rossi.dev@gmail.com", "company": "Globex Corp, Inc.",
                        "action": "trial_signup"}),
    );
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(owner(&r), Some("owner"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::AccountOwner);
    assert!(has_step(
        &r,
        |s| matches!(s, Step::Account { matched_by: Some(by), .. } if by == "company name")
    ));

    // Enrichment maps it through the company's domain.
    let l = lead(json!({"email": "marta@gmail.com", "action": "trial_signup"}));
    let enr = Enrichment {
        domain: Some("https://www.globex.com/about".into()),
        ..Default::default()
    };
    let st = StateSnapshot::default();
    let r = engine::decide(
        &c,
        RoutingInput {
            enrichment: Some(&enr),
            ..RoutingInput::new(&l, &st, now())
        },
    );
    assert_eq!(owner(&r), Some("owner"), "{}", why(&r));
    assert!(has_step(
        &r,
        |s| matches!(s, Step::Account { matched_by: Some(by), .. } if by == "enriched domain")
    ));

    // The demo: gmail + company "Initech".
    let d = demo();
    let r = route(
        d,
        &lead(demo_file(
            "leads/05-personal-email-company-maps-account.json",
        )),
        &st,
    );
    assert_eq!(owner(&r), Some("david.kim"), "{}", why(&r));
}

#[test]
fn acc_4_inactive_owner_falls_back_and_is_flagged() {
    let toml = r#"
[routing]
default_team = "pool"

[[rep]]
id = "greg"
name = "Greg Walsh"
team = "ent"
backup = "priya"
active = false

[[rep]]
id = "priya"
name = "Priya Shah"
team = "ent"

[[rep]]
id = "ana"
name = "Ana Lopez"
team = "ent"

[[rep]]
id = "pool1"
name = "Pat Pool"
team = "pool"

[[team]]
id = "ent"
lead = "ana"

[[team]]
id = "pool"

[[account]]
domain = "harborviewcapital.com"
name = "Harborview Capital"
owner = "greg"

[[account]]
domain = "orphan.com"
name = "Orphan Inc"
"#;
    let c = cfg(toml);
    let l = lead(
        json!({"email": "l.chang@harborviewcapital.com", "employees": "1500",
                        "industry": "finance", "action": "demo_request"}),
    );
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(owner(&r), Some("priya"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::AccountOwner);
    assert!(
        r.decision.flags.contains(&Flag::AccountOwnerInactive),
        "{:?}",
        r.decision.flags
    );
    assert!(
        r.decision.flags.contains(&Flag::Fallback),
        "{:?}",
        r.decision.flags
    );
    assert!(
        r.decision
            .notes
            .iter()
            .any(|n| n.contains("inactive rep greg") && n.contains("reassign")),
        "{:?}",
        r.decision.notes
    );
    assert!(has_step(&r, |s| matches!(s,
        Step::Rep { rep, verdict: Verdict::Skipped { skip: Skip::Inactive }, .. } if rep == "greg")));
    assert!(has_step(&r, |s| matches!(s,
        Step::Rep { rep, role, verdict: Verdict::Chosen } if rep == "priya" && role == "backup")));
    assert!(
        r.decision.reason.contains("greg: inactive → backup priya"),
        "{}",
        r.decision.reason
    );

    // Backup away too: the team lead takes it.
    let mut st = StateSnapshot::default();
    out_of_office(&mut st, "priya", None, Some("sick"));
    let r = route(&c, &l, &st);
    assert_eq!(owner(&r), Some("ana"), "{}", why(&r));
    assert!(r.decision.flags.contains(&Flag::AccountOwnerInactive));

    // An account with no owner at all is routed by the matrix (here: default team) and flagged.
    let l = lead(
        json!({"email": "x@orphan.com", "employees": "500", "industry": "software",
                        "action": "demo_request"}),
    );
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(owner(&r), Some("pool1"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::DefaultTeam);
    assert!(r.decision.flags.contains(&Flag::AccountOwnerInactive));

    // The demo: Harborview Capital, owned by inactive greg.walsh → his backup priya.shah.
    let d = demo();
    let r = route(
        d,
        &lead(demo_file("leads/06-inactive-account-owner.json")),
        &StateSnapshot::default(),
    );
    assert_eq!(owner(&r), Some("priya.shah"), "{}", why(&r));
    assert!(r.decision.flags.contains(&Flag::AccountOwnerInactive));
}

// ---------------------------------------------------------------------------------------
// VAL: junk, dedupe, recycling
// ---------------------------------------------------------------------------------------

const POOL_CFG: &str = r#"
[routing]
default_team = "pool"

[[rep]]
id = "a"
name = "Alice"
team = "pool"

[[rep]]
id = "b"
name = "Bob"
team = "pool"

[[rep]]
id = "c"
name = "Carol"
team = "pool"

[[team]]
id = "pool"
method = "round_robin"

[[account]]
domain = "globex.com"
owner = "c"
"#;

#[test]
fn val_2_junk_disposable_honeypot_and_test_values_go_to_junk_queue() {
    let c = cfg(POOL_CFG);
    let cases = [
        (
            json!({"email": "bkeller2026@mailinator.com", "company": "Keller Consulting",
                   "employees": "500", "industry": "software", "action": "trial_signup"}),
            "disposable email domain mailinator.com",
        ),
        (
            // Otherwise a good lead from a known account: the honeypot still wins.
            json!({"email": "alex@globex.com", "employees": "300", "industry": "software",
                   "action": "demo_request", "fields": {"website_url": "http://cheap-seo.example"}}),
            "honeypot field `website_url` was filled",
        ),
        (
            json!({"first_name": "asdf", "last_name": "asdf", "email": "test@test.com",
                   "company": "test", "action": "demo_request"}),
            "test email address test@test.com",
        ),
        (
            json!({"first_name": "Test", "last_name": "Test", "email": "ceo@initrode.com",
                   "company": "Initrode", "employees": "500", "industry": "software",
                   "action": "demo_request"}),
            "obvious test values in name/company",
        ),
    ];
    for (v, reason) in cases {
        let r = route(&c, &lead(v.clone()), &StateSnapshot::default());
        assert_eq!(queue(&r), Some("junk"), "{v}\n{}", why(&r));
        assert_eq!(owner(&r), None);
        assert_eq!(r.decision.path, RoutePath::Junk);
        assert_eq!(r.decision.reason, format!("junk: {reason} → queue junk"));
        assert!(has_step(
            &r,
            |s| matches!(s, Step::Junk { reason: Some(x) } if x == reason)
        ));
        assert!(r.effects.is_empty(), "junk changes no rep state");
    }

    // One odd-looking value is a real person ("Bar" is a surname), not junk.
    let r = route(
        &c,
        &lead(
            json!({"first_name": "Sarah", "last_name": "Bar", "email": "sarah@initrode.com",
                     "employees": "500", "industry": "software", "action": "demo_request"}),
        ),
        &StateSnapshot::default(),
    );
    assert_eq!(r.decision.path, RoutePath::DefaultTeam, "{}", why(&r));
    assert!(has_step(&r, |s| matches!(s, Step::Junk { reason: None })));

    // The honeypot field name is configurable.
    let c2 = cfg(&POOL_CFG.replace(
        "default_team = \"pool\"",
        "default_team = \"pool\"\nhoneypot_field = \"fax_number\"",
    ));
    let r = route(
        &c2,
        &lead(
            json!({"email": "x@initrode.com", "employees": "500", "industry": "software",
                     "action": "demo_request", "fax_number": "555"}),
        ),
        &StateSnapshot::default(),
    );
    assert_eq!(queue(&r), Some("junk"), "{}", why(&r));
}

#[test]
fn val_3_known_person_goes_to_current_owner() {
    let c = cfg(POOL_CFG);
    let mut st = StateSnapshot::default();
    let first = lead(json!({"email": "Jane.Doe@Initrode.com", "employees": "500",
                            "industry": "software", "action": "content_download"}));
    let r1 = route_apply(&c, &first, &mut st, now());
    assert_eq!(owner(&r1), Some("a"), "{}", why(&r1));
    assert!(r1.effects.contains(&Effect::SetOwner {
        email: "jane.doe@initrode.com".into(),
        rep: "a".into()
    }));

    // The second submission, typed differently, normalises to the same person and goes to
    // the same owner, not to the next rep in the rotation.
    let second = lead(
        json!({"email": " jane.doe@INITRODE.com ", "employees": "500",
                             "industry": "software", "action": "demo_request"}),
    );
    let r2 = route_apply(&c, &second, &mut st, now());
    assert_eq!(owner(&r2), Some("a"), "{}", why(&r2));
    assert_eq!(r2.decision.path, RoutePath::KnownPerson);
    assert_eq!(
        r2.decision.reason,
        "existing person: stays with the current owner → Alice"
    );
    assert!(has_step(&r2, |s| matches!(s,
        Step::KnownPerson { email, owner: Some(o), .. } if email == "jane.doe@initrode.com" && o == "a")));
    // No duplicate record: still one person, owned by a.
    assert_eq!(st.people.len(), 1);
    assert_eq!(
        st.people["jane.doe@initrode.com"].owner.as_deref(),
        Some("a")
    );
    // The rotation did not move for the returning person.
    let next = route(&c, &plain_lead(), &st);
    assert_eq!(owner(&next), Some("b"), "{}", why(&next));

    // A known person whose owner has left is routed as new and flagged.
    let mut st = StateSnapshot::default();
    known_person(&mut st, "jane.doe@initrode.com", "departed.rep");
    let r = route(&c, &first, &st);
    assert_eq!(r.decision.path, RoutePath::DefaultTeam, "{}", why(&r));
    assert!(r.decision.flags.contains(&Flag::PriorOwnerInactive));
}

/// A pool where Alice's backup is Bob and the team lead is Carol (VAL-3 coverage).
const COVER_CFG: &str = r#"
[routing]
default_team = "pool"

[[rep]]
id = "a"
name = "Alice"
team = "pool"
backup = "b"

[[rep]]
id = "b"
name = "Bob"
team = "pool"

[[rep]]
id = "c"
name = "Carol"
team = "pool"

[[rep]]
id = "d"
name = "Dan"
team = "pool"

[[team]]
id = "pool"
method = "round_robin"
lead = "c"
"#;

fn jane() -> Lead {
    lead(json!({"email": "jane.doe@initrode.com", "employees": "500",
                "industry": "software", "action": "demo_request"}))
}

/// The effects of giving `rep` Jane's lead: load, daily count and the person.
fn owner_effects(r: &Routed, rep: &'static str) -> Vec<Effect> {
    let date = match r
        .effects
        .iter()
        .find(|e| matches!(e, Effect::CountDaily { .. }))
    {
        Some(Effect::CountDaily { date, .. }) => *date,
        _ => panic!("no daily count in {:?}", r.effects),
    };
    vec![
        Effect::AddEarlyLoad { rep: rep.into() },
        Effect::CountDaily {
            rep: rep.into(),
            date,
        },
        Effect::SetOwner {
            email: "jane.doe@initrode.com".into(),
            rep: rep.into(),
        },
    ]
}

#[test]
fn val_3_known_person_keeps_an_away_owner_and_the_backup_covers_the_sla() {
    // The owner is out: the lead stays theirs (with its load and daily count), and the
    // backup covers the SLA; nobody else takes the lead or the person.
    let c = cfg(COVER_CFG);
    let mut st = StateSnapshot::default();
    known_person(&mut st, "jane.doe@initrode.com", "a");
    out_of_office(&mut st, "a", None, Some("vacation"));
    let r = route_apply(&c, &jane(), &mut st, now());
    assert_eq!(owner(&r), Some("a"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::KnownPerson);
    assert_eq!(r.decision.team.as_deref(), Some("pool"));
    assert_eq!(r.trace.sla_cover().map(|c| c.as_str()), Some("b"));
    assert!(r.decision.flags.is_empty(), "{:?}", r.decision.flags);
    assert_eq!(r.effects, owner_effects(&r, "a"));
    assert_eq!(
        r.decision.reason,
        "existing person: stays with the current owner (Alice unavailable: out of office (vacation); SLA covered by Bob (backup)) → Alice"
    );
    assert_eq!(
        r.decision.notes,
        vec![
            "Alice is unavailable now (out of office (vacation)); Bob (backup) covers this lead's SLA. Alice stays the owner of jane.doe@initrode.com."
        ]
    );
    assert!(has_step(&r, |s| matches!(s,
        Step::Rep { rep, role, verdict: Verdict::Skipped { skip: Skip::OutOfOffice { .. } } }
            if rep == "a" && role == "owner")));
    assert!(has_step(&r, |s| matches!(s,
        Step::Rep { rep, role, verdict: Verdict::Chosen } if rep == "b" && role == "SLA cover (backup)")));
    assert!(!has_step(&r, |s| matches!(
        s,
        Step::Team { .. } | Step::Fallback { .. }
    )));
    assert_eq!(
        st.people["jane.doe@initrode.com"].owner.as_deref(),
        Some("a")
    );
    // The rotation did not move.
    assert!(st.rotations.is_empty());

    // Back from vacation: the next submission goes to the owner, with nothing to cover.
    st.availability.remove("a");
    let r = route_apply(&c, &jane(), &mut st, now());
    assert_eq!(owner(&r), Some("a"), "{}", why(&r));
    assert_eq!(r.trace.sla_cover(), None);
    assert!(r.decision.notes.is_empty(), "{:?}", r.decision.notes);
    assert_eq!(
        r.decision.reason,
        "existing person: stays with the current owner → Alice"
    );
}

#[test]
fn val_3_known_person_owner_outside_hours_or_at_a_limit_keeps_the_lead() {
    // Every way of being unavailable for now keeps the owner: outside working hours, the
    // daily cap, capacity. With the backup out too, the team lead covers.
    let hours = COVER_CFG.replace(
        "backup = \"b\"\n",
        "backup = \"b\"\ntimezone = \"Asia/Tokyo\"\nworking_hours = \"Mon-Fri 09:00-17:00\"\ndaily_cap = 5\ncapacity = 4\n",
    );
    let c = cfg(&hours);
    let tue_tokyo_midnight = ts("2026-11-23T15:00:00Z");
    let mut st = StateSnapshot::default();
    known_person(&mut st, "jane.doe@initrode.com", "a");
    out_of_office(&mut st, "b", None, None);
    let r = route_at(&c, &jane(), &st, tue_tokyo_midnight);
    assert_eq!(owner(&r), Some("a"), "{}", why(&r));
    assert_eq!(r.trace.sla_cover().map(|c| c.as_str()), Some("c"));
    assert!(has_step(&r, |s| matches!(s,
        Step::Rep { rep, role, verdict: Verdict::Skipped { skip: Skip::OutsideHours { .. } } }
            if rep == "a" && role == "owner")));
    assert!(has_step(&r, |s| matches!(s,
        Step::Rep { rep, role, verdict: Verdict::Skipped { .. } } if rep == "b" && role == "SLA cover (backup)")));
    assert!(
        r.decision
            .reason
            .ends_with("; SLA covered by Carol (team lead)) → Alice"),
        "{}",
        r.decision.reason
    );

    // In hours but at the daily cap, then at capacity: still Alice's.
    let monday_tokyo = ts("2026-11-23T01:00:00Z");
    let mut capped = st.clone();
    capped.daily.insert(
        "a".into(),
        DailyCount {
            date: "2026-11-23".parse().unwrap(),
            count: 5,
        },
    );
    let r = route_at(&c, &jane(), &capped, monday_tokyo);
    assert_eq!(owner(&r), Some("a"), "{}", why(&r));
    assert!(has_step(&r, |s| matches!(s,
        Step::Rep { rep, verdict: Verdict::Skipped { skip: Skip::DailyCap { count: 5, cap: 5 } }, .. } if rep == "a")));
    let mut full = st.clone();
    full.loads.insert(
        "a".into(),
        RepLoad {
            early: 0,
            mid: 4,
            late: 0,
        },
    );
    let r = route_at(&c, &jane(), &full, monday_tokyo);
    assert_eq!(owner(&r), Some("a"), "{}", why(&r));
    assert!(has_step(&r, |s| matches!(s,
        Step::Rep { rep, verdict: Verdict::Skipped { skip: Skip::AtCapacity { .. } }, .. } if rep == "a")));
    assert_eq!(r.trace.sla_cover().map(|c| c.as_str()), Some("c"));
}

#[test]
fn val_3_known_person_owner_unavailable_and_nobody_to_cover() {
    // Backup and team lead are out too: the owner keeps the lead and the SLA, and the
    // trace says nobody could cover.
    let c = cfg(COVER_CFG);
    let mut st = StateSnapshot::default();
    known_person(&mut st, "jane.doe@initrode.com", "a");
    for rep in ["a", "b", "c"] {
        out_of_office(&mut st, rep, None, None);
    }
    let r = route(&c, &jane(), &st);
    assert_eq!(owner(&r), Some("a"), "{}", why(&r));
    assert_eq!(r.trace.sla_cover(), None);
    assert_eq!(r.effects, owner_effects(&r, "a"));
    assert_eq!(
        r.decision.notes,
        vec![
            "Alice is unavailable now (out of office) and no backup or team lead is available to cover; Alice stays the owner of jane.doe@initrode.com and keeps the SLA."
        ]
    );
    assert_eq!(
        r.decision.reason,
        "existing person: stays with the current owner (Alice unavailable: out of office; nobody available to cover the SLA) → Alice"
    );
}

#[test]
fn val_3_sla_reassignment_moves_the_lead_but_not_the_person() {
    // An owner excluded from this lead (the SLA ladder's reassignment) is not kept: the
    // fallback chain takes the lead, the person stays with the owner.
    let c = cfg(COVER_CFG);
    let mut st = StateSnapshot::default();
    known_person(&mut st, "jane.doe@initrode.com", "a");
    let l = jane();
    let mut input = RoutingInput::new(&l, &st, now());
    input.exclude = &["a"];
    let r = engine::decide(&c, input);
    assert_eq!(owner(&r), Some("b"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::KnownPerson);
    assert_eq!(r.trace.sla_cover(), None);
    assert!(r.decision.flags.contains(&Flag::Fallback), "{}", why(&r));
    assert!(r.effects.contains(&Effect::SetOwner {
        email: "jane.doe@initrode.com".into(),
        rep: "a".into()
    }));
    assert!(
        r.decision
            .notes
            .iter()
            .any(|n| n == "Covering for Alice, who is unavailable now; Alice stays the owner of jane.doe@initrode.com."),
        "{:?}",
        r.decision.notes
    );
}

#[test]
fn val_4_recycled_person_keeps_an_away_owner() {
    // VAL-4 goes back to the original rep the same way: away, they keep the person.
    let c = cfg(&COVER_CFG.replace("backup = \"b\"\n", "").replace(
        "name = \"Bob\"\nteam = \"pool\"\n",
        "name = \"Bob\"\nteam = \"pool\"\nbackup = \"d\"\n",
    ));
    let mut st = disqualified("b", days_ago(20));
    out_of_office(&mut st, "b", None, None);
    let r = route(&c, &marco(), &st);
    assert_eq!(owner(&r), Some("b"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::Recycled);
    assert_eq!(r.trace.sla_cover().map(|c| c.as_str()), Some("d"));
    assert!(r.effects.contains(&Effect::SetOwner {
        email: "marco.ortiz@cobaltfab.com".into(),
        rep: "b".into()
    }));
    assert_eq!(
        r.decision.notes,
        vec![
            "Previous interaction: disqualified 20 day(s) ago (No budget until Q1).".to_string(),
            "Bob is unavailable now (out of office); Dan (backup) covers this lead's SLA. Bob stays the owner of marco.ortiz@cobaltfab.com.".to_string(),
        ]
    );
}

/// Marks `rep` out of office (ASG-5), until `until` or open-ended.
fn out_of_office(st: &mut StateSnapshot, rep: &str, until: Option<Timestamp>, note: Option<&str>) {
    st.availability.insert(
        rep.into(),
        AvailabilityOverride {
            out: true,
            out_until: until,
            note: note.map(str::to_string),
        },
    );
}

/// A known person (VAL-3) with an open lead, owned by `owner`.
fn known_person(st: &mut StateSnapshot, email: &str, owner: &str) {
    st.people.insert(
        email.into(),
        PriorPerson {
            owner: Some(owner.into()),
            status: PriorStatus::Open,
            disqualified_at: None,
            note: None,
        },
    );
}

fn disqualified(owner: &str, at: Timestamp) -> StateSnapshot {
    let mut st = StateSnapshot::default();
    st.people.insert(
        "marco.ortiz@cobaltfab.com".into(),
        PriorPerson {
            owner: Some(owner.into()),
            status: PriorStatus::Disqualified,
            disqualified_at: Some(at),
            note: Some("No budget until Q1".into()),
        },
    );
    st
}

fn marco() -> Lead {
    lead(
        json!({"email": "Marco.Ortiz@CobaltFab.com", "employees": "140",
                "industry": "manufacturing", "action": "pricing_inquiry"}),
    )
}

#[test]
fn val_4_recycled_within_90_days() {
    let c = cfg(POOL_CFG);
    for days in [53, 89] {
        let r = route(&c, &marco(), &disqualified("b", days_ago(days)));
        assert_eq!(owner(&r), Some("b"), "{days} days\n{}", why(&r));
        assert_eq!(r.decision.path, RoutePath::Recycled);
        assert_eq!(
            r.decision.reason,
            format!(
                "recycled: disqualified {days} day(s) ago (No budget until Q1); back to the original rep → Bob"
            )
        );
        assert_eq!(
            r.decision.notes,
            vec![format!(
                "Previous interaction: disqualified {days} day(s) ago (No budget until Q1)."
            )]
        );
        assert!(r.effects.contains(&Effect::SetOwner {
            email: "marco.ortiz@cobaltfab.com".into(),
            rep: "b".into()
        }));
    }

    // The demo: lead 24 with state/returning.json goes back to tyler.brooks.
    let d = demo();
    let r = route(
        d,
        &lead(demo_file("leads/24-returning-lead.json")),
        &demo_state("state/returning.json"),
    );
    assert_eq!(owner(&r), Some("tyler.brooks"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::Recycled);
    assert!(
        r.decision
            .notes
            .iter()
            .any(|n| n.contains("53 day(s)") && n.contains("No budget until Q1"))
    );
}

#[test]
fn val_4_after_90_days_treated_as_new() {
    let c = cfg(POOL_CFG);
    for days in [90, 400] {
        let r = route(&c, &marco(), &disqualified("b", days_ago(days)));
        // Routed as new: the rotation's first rep, not b.
        assert_eq!(owner(&r), Some("a"), "{days} days\n{}", why(&r));
        assert_eq!(r.decision.path, RoutePath::DefaultTeam);
        assert!(r.decision.notes.is_empty(), "{:?}", r.decision.notes);
        assert!(
            has_step(&r, |s| matches!(s,
            Step::KnownPerson { outcome, .. }
                if outcome == &format!("disqualified {days} day(s) ago, older than 90 days: treated as new"))),
            "{}",
            why(&r)
        );
    }

    // The threshold is configurable.
    let c30 = cfg(&POOL_CFG.replace(
        "default_team = \"pool\"",
        "default_team = \"pool\"\nrecycle_after_days = 30",
    ));
    let r = route(&c30, &marco(), &disqualified("b", days_ago(53)));
    assert_eq!(owner(&r), Some("a"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::DefaultTeam);
    let r = route(&c30, &marco(), &disqualified("b", days_ago(29)));
    assert_eq!(owner(&r), Some("b"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::Recycled);
}

// ---------------------------------------------------------------------------------------
// ENR: partial data
// ---------------------------------------------------------------------------------------

const PARTIAL_CFG: &str = r#"
[routing]
default_team = "pool"

[industries]
manufacturing = ["industrial machinery", "machinery"]

[[rep]]
id = "mm"
name = "Mid Market"

[[rep]]
id = "mfg"
name = "Manufacturing Specialist"

[[rep]]
id = "anyone"
name = "Anyone"

[[rep]]
id = "pool1"
name = "Pat Pool"
team = "pool"

[[team]]
id = "pool"

[[rule]]
id = "mm-mfg"
priority = 10
segment = ["mid_market"]
industry = ["manufacturing"]
route_to = "rep:mm"

[[rule]]
id = "mfg-size-unknown"
priority = 3
industry = ["manufacturing"]
route_to = "rep:mfg"

[[rule]]
id = "everything"
priority = 0
route_to = "rep:anyone"
"#;

#[test]
fn enr_5_industry_only_routes_by_industry() {
    let c = cfg(PARTIAL_CFG);
    let l = lead(
        json!({"email": "dana@buckeye-precision.com", "industry": "Industrial Machinery",
                        "action": "pricing_inquiry"}),
    );
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(owner(&r), Some("mfg"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::Segment);
    assert_eq!(r.decision.rule.as_deref(), Some("mfg-size-unknown"));
    assert_eq!(r.decision.segment, None);
    assert_eq!(r.trace.facts.industry.as_deref(), Some("manufacturing"));
    assert_eq!(r.trace.facts.industry_source.as_deref(), Some("form"));
    assert!(
        r.decision.reason.contains("industry=manufacturing"),
        "{}",
        r.decision.reason
    );
    // No size, so no ICP fit: high intent alone is warm.
    assert!(!r.decision.icp_fit);
    assert_eq!(r.decision.tier, Tier::Warm);

    // With the size known the more specific segment rule takes it.
    let l = lead(
        json!({"email": "dana@buckeye-precision.com", "industry": "machinery",
                        "employees": "300", "action": "pricing_inquiry"}),
    );
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(owner(&r), Some("mm"), "{}", why(&r));

    // The demo's lead 07: industry only → ind-amer-size-unknown → amer-midmarket.
    let d = demo();
    let r = route(
        d,
        &lead(demo_file("leads/07-partial-data-industry-only.json")),
        &StateSnapshot::default(),
    );
    assert_eq!(owner(&r), Some("david.kim"), "{}", why(&r));
    assert_eq!(r.decision.rule.as_deref(), Some("ind-amer-size-unknown"));
}

#[test]
fn enr_5_nothing_known_goes_to_qualification() {
    let c = cfg(PARTIAL_CFG);
    let l = lead(
        json!({"email": "s.oduya@kestrelpartners.net", "company": "Kestrel Partners",
                        "country": "US", "action": "demo_request"}),
    );
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(queue(&r), Some("qualification"), "{}", why(&r));
    assert_eq!(owner(&r), None);
    assert_eq!(r.decision.path, RoutePath::Qualification);
    assert_eq!(
        r.decision.reason,
        "company size and industry both unknown: general qualification → queue qualification"
    );
    // Even the unconditional rule "everything" is not consulted.
    assert!(!has_step(&r, |s| matches!(s, Step::Matrix { .. })));
    assert!(r.effects.is_empty());

    // An unreadable size is not a size.
    let (l2, issues) = Lead::from_json(&json!({"email": "not-an-email", "employees": "lots",
                                               "country": "Atlantis", "action": "demo_request"}))
    .unwrap();
    let st = StateSnapshot::default();
    let r = engine::decide(
        &c,
        RoutingInput {
            issues: &issues,
            ..RoutingInput::new(&l2, &st, now())
        },
    );
    assert_eq!(queue(&r), Some("qualification"), "{}", why(&r));
    assert!(r.decision.flags.contains(&Flag::MalformedInput));
    let fields: Vec<&str> = r
        .trace
        .facts
        .issues
        .iter()
        .map(|i| i.field.as_str())
        .collect();
    for f in ["email", "employees", "country"] {
        assert!(fields.contains(&f), "{f} missing from {fields:?}");
    }

    // Enrichment that knows the size rescues it.
    let enr = Enrichment {
        employees: Some(300),
        ..Default::default()
    };
    let r = engine::decide(
        &c,
        RoutingInput {
            enrichment: Some(&enr),
            ..RoutingInput::new(&l, &st, now())
        },
    );
    assert_eq!(r.decision.path, RoutePath::Segment, "{}", why(&r));
    assert_eq!(r.decision.segment.as_deref(), Some("mid_market"));
    assert_eq!(
        r.trace.facts.employees_source.as_deref(),
        Some("enrichment")
    );

    // ENR-2: the trace says which provider supplied which field and what failed.
    let enr = Enrichment {
        employees: Some(300),
        country: Some("US".into()),
        sources: [
            ("employees".to_string(), "vendor-export".to_string()),
            ("country".to_string(), "signals:phone".to_string()),
        ]
        .into(),
        failures: vec!["acme-data: timed out after 800ms".into()],
        ..Default::default()
    };
    let r = engine::decide(
        &c,
        RoutingInput {
            enrichment: Some(&enr),
            ..RoutingInput::new(&l, &st, now())
        },
    );
    assert_eq!(
        r.trace.facts.employees_source.as_deref(),
        Some("enrichment:vendor-export")
    );
    assert_eq!(
        r.trace
            .facts
            .enrichment_sources
            .get("country")
            .map(String::as_str),
        Some("signals:phone")
    );
    assert_eq!(
        r.trace.facts.enrichment_failures,
        ["acme-data: timed out after 800ms"]
    );
    let text = r.trace.render(&r.decision);
    assert!(
        text.contains("enrichment: country from signals:phone, employees from vendor-export"),
        "{text}"
    );
    assert!(
        text.contains("enrichment failed: acme-data: timed out after 800ms"),
        "{text}"
    );

    // With the option off, the matrix decides.
    let off = cfg(&PARTIAL_CFG.replace(
        "default_team = \"pool\"",
        "default_team = \"pool\"\nroute_unknown_firmographics = false",
    ));
    let r = route(&off, &l, &StateSnapshot::default());
    assert_eq!(owner(&r), Some("anyone"), "{}", why(&r));
    assert_eq!(r.decision.rule.as_deref(), Some("everything"));
}

// ---------------------------------------------------------------------------------------
// TIER: intent, fit, score, tiers, SLA, nurture
// ---------------------------------------------------------------------------------------

#[test]
fn tier_1_intent_from_action() {
    let c = cfg(POOL_CFG);
    let intent_of = |action: Option<&str>| {
        let mut v = json!({"employees": "500", "industry": "software"});
        if let Some(a) = action {
            v["action"] = json!(a);
        }
        route(&c, &lead(v), &StateSnapshot::default()).decision
    };
    for a in [
        "demo_request",
        "pricing_inquiry",
        "trial_signup",
        "Demo Request",
        "TRIAL-SIGNUP",
    ] {
        let d = intent_of(Some(a));
        assert_eq!(d.intent, Intent::High, "{a}");
        assert_eq!(d.tier, Tier::Hot, "{a}: high intent + ICP fit");
    }
    for a in [
        "content_download",
        "webinar_registration",
        "Webinar Registration",
    ] {
        let d = intent_of(Some(a));
        assert_eq!(d.intent, Intent::Medium, "{a}");
        assert_eq!(d.tier, Tier::Warm, "{a}: medium intent + ICP fit");
    }
    for a in [Some("newsletter_signup"), Some("chat"), None] {
        let d = intent_of(a);
        assert_eq!(d.intent, Intent::Low, "{a:?}");
        assert_eq!(d.tier, Tier::Standard, "{a:?}");
    }

    // The lists are configurable; a configured list replaces the default.
    let c = cfg(&format!(
        "[intent]\nhigh = [\"contact_sales\"]\nmedium = [\"demo_request\"]\n{POOL_CFG}"
    ));
    let d = route(
        &c,
        &lead(json!({"employees": "500", "industry": "software", "action": "Contact Sales"})),
        &StateSnapshot::default(),
    )
    .decision;
    assert_eq!(d.intent, Intent::High);
    let d = route(
        &c,
        &lead(json!({"employees": "500", "industry": "software", "action": "demo_request"})),
        &StateSnapshot::default(),
    )
    .decision;
    assert_eq!(d.intent, Intent::Medium);
    let d = route(
        &c,
        &lead(json!({"employees": "500", "industry": "software", "action": "pricing_inquiry"})),
        &StateSnapshot::default(),
    )
    .decision;
    assert_eq!(d.intent, Intent::Low);
}

const SCORING_CFG: &str = r#"
[routing]
default_team = "pool"

[icp]
segments = ["enterprise", "mid_market"]
industries = ["software"]

[scoring]
nurture_below = 20
icp_fit = 20

[scoring.segment]
enterprise = 30
mid_market = 20
smb = 10

[scoring.industry]
software = 10
retail = 5

[scoring.action]
demo_request = 30
content_download = 10
newsletter_signup = 0

[[scoring.title]]
contains = ["vp", "head of"]
points = 20

[[scoring.title]]
contains = ["director"]
points = 15

[[scoring.page]]
contains = ["/pricing"]
points = 15

[sla.hot]
route_within = "5m"
contact_within = "5m"

[sla.warm]
route_within = "15m"
contact_within = "1h"

[sla.standard]
route_within = "1h"
contact_within = "24h"

[[sla.override]]
tier = "hot"
segment = "enterprise"
contact_within = "3m"

[[rep]]
id = "a"
name = "Alice"
team = "pool"

[[team]]
id = "pool"
"#;

#[test]
fn tier_2_icp_fit_and_score() {
    let c = cfg(SCORING_CFG);
    // Enterprise software VP who looked at pricing, asking for a demo.
    let l = lead(
        json!({"employees": "2,400", "industry": "Software", "action": "demo_request",
                        "title": "VP of Data", "page_history": ["/blog/x", "/pricing"]}),
    );
    let r = route(&c, &l, &StateSnapshot::default());
    assert!(r.decision.icp_fit, "{}", why(&r));
    let parts: Vec<(String, i32)> = r
        .trace
        .facts
        .score_parts
        .iter()
        .map(|p| (p.label.to_string(), p.points))
        .collect();
    assert_eq!(
        parts,
        vec![
            ("segment enterprise".to_string(), 30),
            ("industry software".to_string(), 10),
            ("action demo_request".to_string(), 30),
            ("title has \"vp\"".to_string(), 20),
            ("visited /pricing".to_string(), 15),
            ("ICP fit".to_string(), 20),
        ]
    );
    assert_eq!(r.decision.score, 125);

    // SMB retail is outside the ICP on both counts: no fit points.
    let l = lead(
        json!({"employees": "120", "industry": "retail", "action": "content_download",
                        "title": "Marketing Director"}),
    );
    let r = route(&c, &l, &StateSnapshot::default());
    assert!(!r.decision.icp_fit);
    assert_eq!(r.decision.score, 10 + 5 + 10 + 15);
    assert!(
        !r.trace
            .facts
            .score_parts
            .iter()
            .any(|p| p.label == "ICP fit")
    );

    // Mid-market software fits; mid-market retail does not (industry), enterprise with no
    // industry does not (an industry list is configured).
    for (emp, ind, fit) in [
        ("300", Some("software"), true),
        ("300", Some("retail"), false),
        ("5000", None, false),
    ] {
        let mut v = json!({"employees": emp, "action": "demo_request"});
        if let Some(i) = ind {
            v["industry"] = json!(i);
        }
        let r = route(&c, &lead(v), &StateSnapshot::default());
        assert_eq!(r.decision.icp_fit, fit, "{emp} {ind:?}");
    }
}

#[test]
fn tier_3_hot_warm_standard_and_sla() {
    let c = cfg(SCORING_CFG);
    let m = SignedDuration::from_mins;
    let h = SignedDuration::from_hours;
    // (lead, tier, route_within, contact_within)
    let cases = [
        // high intent + fit
        (
            json!({"employees": "300", "industry": "software", "action": "demo_request"}),
            Tier::Hot,
            m(5),
            m(5),
        ),
        // hot enterprise: the segment override shortens first touch, routing keeps 5m
        (
            json!({"employees": "3000", "industry": "software", "action": "demo_request"}),
            Tier::Hot,
            m(5),
            m(3),
        ),
        // medium intent + fit
        (
            json!({"employees": "300", "industry": "software", "action": "content_download"}),
            Tier::Warm,
            m(15),
            h(1),
        ),
        // high intent without fit
        (
            json!({"employees": "300", "industry": "retail", "action": "demo_request"}),
            Tier::Warm,
            m(15),
            h(1),
        ),
        // the rest, qualified by score (20 + 10 + 0 + 20 = 50 ≥ 20)
        (
            json!({"employees": "300", "industry": "software", "action": "newsletter_signup"}),
            Tier::Standard,
            h(1),
            h(24),
        ),
        // medium intent without fit, score 5 + 10 + 15 + 20 = 50
        (
            json!({"employees": "5000", "industry": "retail", "action": "content_download", "title": "VP Sales"}),
            Tier::Standard,
            h(1),
            h(24),
        ),
    ];
    for (v, tier, route_within, contact_within) in cases {
        let r = route(&c, &lead(v.clone()), &StateSnapshot::default());
        let d = &r.decision;
        assert_eq!(owner(&r), Some("a"), "{v}\n{}", why(&r));
        assert_eq!(d.tier, tier, "{v}");
        assert_eq!(d.sla.route_within, route_within, "{v}");
        assert_eq!(d.sla.contact_within, contact_within, "{v}");
        assert_eq!(d.sla.route_by, after(route_within), "{v}");
        assert_eq!(d.sla.contact_by, Some(after(contact_within)), "{v}");
        assert_eq!(d.decided_at, now());
    }
    // A queued lead has a routing deadline but no first-touch deadline.
    let r = route(
        &c,
        &lead(json!({"employees": "10", "industry": "retail", "action": "newsletter_signup"})),
        &StateSnapshot::default(),
    );
    assert_eq!(queue(&r), Some("nurture"), "{}", why(&r));
    assert_eq!(r.decision.sla.route_by, after(h(1)));
    assert_eq!(r.decision.sla.contact_by, None);

    // Defaults when nothing is configured: 5m/5m, 15m/1h, 1h/24h.
    let d = cfg(POOL_CFG);
    for (c, tier, rw, cw) in [
        (
            json!({"employees": "300", "industry": "software", "action": "demo_request"}),
            Tier::Hot,
            m(5),
            m(5),
        ),
        (
            json!({"employees": "300", "industry": "software", "action": "webinar_registration"}),
            Tier::Warm,
            m(15),
            h(1),
        ),
        (
            json!({"employees": "300", "industry": "software", "action": "other"}),
            Tier::Standard,
            h(1),
            h(24),
        ),
    ] {
        let r = route(&d, &lead(c), &StateSnapshot::default());
        assert_eq!(
            (
                r.decision.tier,
                r.decision.sla.route_within,
                r.decision.sla.contact_within
            ),
            (tier, rw, cw)
        );
    }
}

#[test]
fn tier_4_unqualified_to_nurture() {
    let c = cfg(SCORING_CFG);
    // Low intent, outside the ICP: standard with score 10 + 5 + 0 = 15 < 20.
    let l = lead(
        json!({"email": "jess@tinselandtwine.com", "employees": "120", "industry": "retail",
                        "action": "newsletter_signup", "title": "Marketing Coordinator"}),
    );
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(queue(&r), Some("nurture"), "{}", why(&r));
    assert_eq!(owner(&r), None);
    assert_eq!(r.decision.path, RoutePath::Nurture);
    assert_eq!(r.decision.score, 15);
    assert_eq!(
        r.decision.reason,
        "unqualified (tier standard with score 15 below 20: nurture) → queue nurture"
    );
    assert!(has_step(&r, |s| matches!(s, Step::Nurture { .. })));
    assert!(r.effects.is_empty());

    // Warm with the same low score is not nurtured (only tier 3 is).
    let l = lead(json!({"employees": "120", "industry": "retail", "action": "content_download"}));
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(r.decision.tier, Tier::Standard);
    assert_eq!(r.decision.score, 25);
    assert_eq!(
        owner(&r),
        Some("a"),
        "standard at 25 ≥ 20 is worked:\n{}",
        why(&r)
    );
    let l = lead(json!({"employees": "10", "industry": "retail", "action": "demo_request"}));
    let r = route(&c, &l, &StateSnapshot::default());
    assert_eq!(r.decision.tier, Tier::Warm);
    assert_eq!(owner(&r), Some("a"), "{}", why(&r));

    // The demo's lead 09.
    let d = demo();
    let r = route(
        d,
        &lead(demo_file("leads/09-low-intent-nurture.json")),
        &StateSnapshot::default(),
    );
    assert_eq!(queue(&r), Some("nurture"), "{}", why(&r));
    assert_eq!(r.decision.score, 15);
}

// ---------------------------------------------------------------------------------------
// SEG: segments and the matrix
// ---------------------------------------------------------------------------------------

const SEGMENT_CFG: &str = r#"
[queues]
extra = ["product-led"]

[[rep]]
id = "ent"
name = "Enterprise AE"

[[rep]]
id = "mm"
name = "Mid-Market AE"

[[rep]]
id = "smb"
name = "SMB AE"

[[rule]]
id = "ent"
segment = ["enterprise"]
route_to = "rep:ent"

[[rule]]
id = "mm"
segment = ["mid_market"]
route_to = "rep:mm"

[[rule]]
id = "smb"
segment = ["smb"]
route_to = "rep:smb"

[[rule]]
id = "self-serve"
segment = ["self_serve"]
route_to = "queue:product-led"
"#;

#[test]
fn seg_1_size_segments() {
    let c = cfg(SEGMENT_CFG);
    for (emp, seg, to, rule) in [
        ("0", "self_serve", "queue:product-led", "self-serve"),
        ("49", "self_serve", "queue:product-led", "self-serve"),
        ("50", "smb", "rep:smb", "smb"),
        ("199", "smb", "rep:smb", "smb"),
        ("200", "mid_market", "rep:mm", "mm"),
        ("999", "mid_market", "rep:mm", "mm"),
        ("1000", "enterprise", "rep:ent", "ent"),
        ("1,000", "enterprise", "rep:ent", "ent"),
        ("200-500", "mid_market", "rep:mm", "mm"),
        ("1000+", "enterprise", "rep:ent", "ent"),
    ] {
        let l = lead(json!({"employees": emp, "action": "demo_request"}));
        let r = route(&c, &l, &StateSnapshot::default());
        assert_eq!(r.decision.segment.as_deref(), Some(seg), "{emp}");
        let got = match (owner(&r), queue(&r)) {
            (Some(o), _) => format!("rep:{o}"),
            (None, Some(q)) => format!("queue:{q}"),
            _ => unreachable!(),
        };
        assert_eq!(got, to, "{emp}\n{}", why(&r));
        assert_eq!(r.decision.path, RoutePath::Segment);
        assert_eq!(r.decision.rule.as_deref(), Some(rule), "{emp}");
    }

    // Thresholds are configurable.
    let custom = cfg(&format!(
        "[[segment]]\nname = \"enterprise\"\nmin_employees = 500\n\n\
         [[segment]]\nname = \"mid_market\"\nmin_employees = 100\n\n\
         [[segment]]\nname = \"smb\"\nmin_employees = 10\n\n\
         [[segment]]\nname = \"self_serve\"\nmin_employees = 0\n{SEGMENT_CFG}"
    ));
    for (emp, seg) in [
        ("9", "self_serve"),
        ("10", "smb"),
        ("99", "smb"),
        ("100", "mid_market"),
        ("499", "mid_market"),
        ("500", "enterprise"),
    ] {
        let r = route(
            &custom,
            &lead(json!({"employees": emp, "action": "demo_request"})),
            &StateSnapshot::default(),
        );
        assert_eq!(r.decision.segment.as_deref(), Some(seg), "{emp}");
    }
}

const MATRIX_PEOPLE: &str = r#"
[queues]
extra = ["partners"]

[[rep]]
id = "west"
name = "West AE"

[[rep]]
id = "nyc"
name = "NYC AE"

[[rep]]
id = "ent1"
name = "Enterprise One"
team = "ent-team"

[[rep]]
id = "ent2"
name = "Enterprise Two"
team = "ent-team"

[[rep]]
id = "pool1"
name = "Pat Pool"
team = "pool"

[[team]]
id = "ent-team"

[[team]]
id = "pool"
"#;

const MATRIX_TOML_RULES: &str = r#"
[[rule]]
id = "west"
priority = 30
segment = ["enterprise", "mid_market"]
country = ["US"]
state = ["CA", "WA"]
route_to = "rep:west"

[[rule]]
id = "nyc"
priority = 30
country = ["US"]
postal_code = ["100*"]
route_to = "rep:nyc"

[[rule]]
id = "hot-ent"
priority = 10
segment = ["enterprise"]
tier = ["hot"]
route_to = "team:ent-team"

[[rule]]
id = "partner"
priority = 50
lead_source = ["Partner"]
route_to = "queue:partners"
"#;

const MATRIX_CSV: &str = "\
id,priority,segment,industry,region,country,state,postal_code,product,lead_source,tier,route_to,note
west,30,enterprise|mid_market,,,US,CA|WA,,,,,rep:west,
nyc,30,,,,US,,100*,,,,rep:nyc,
hot-ent,10,enterprise,,,,,,,,hot,team:ent-team,
partner,50,,,,,,,,Partner,,queue:partners,
";

/// The same matrix as Excel exports it in many locales: BOM, `;` separators, columns in
/// another order, `;` inside a quoted cell, `*` for any.
const MATRIX_CSV_EXCEL: &str = "\u{feff}ID;Route To;Priority;Segment;Country;State;Postal Code;Lead Source;Tier\n\
west;rep:west;30;\"enterprise; mid_market\";US;CA|WA;*;;\n\
nyc;rep:nyc;30;*;US;;100*;;\n\
hot-ent;team:ent-team;10;enterprise;;;;;Hot\n\
partner;queue:partners;50;;;;;partner;\n";

#[test]
fn seg_2_matrix_from_toml_and_csv_same_engine() {
    let routing = "[routing]\ndefault_team = \"pool\"\n";
    let inline = cfg(&format!("{routing}{MATRIX_PEOPLE}{MATRIX_TOML_RULES}"));
    let from_csv = compile_with(
        &format!("{routing}matrix_csv = \"matrix.csv\"\n{MATRIX_PEOPLE}"),
        &[("matrix.csv", MATRIX_CSV)],
    );
    let from_excel = compile_with(
        &format!("{routing}matrix_csv = \"m.csv\"\n{MATRIX_PEOPLE}"),
        &[("m.csv", MATRIX_CSV_EXCEL)],
    );
    // Different sources, different versions; the same rules.
    assert_ne!(inline.version, from_csv.version);
    for other in [&from_csv, &from_excel] {
        let ids = |c: &CompiledConfig| c.rules.iter().map(|r| r.id.clone()).collect::<Vec<_>>();
        assert_eq!(ids(&inline), ids(other));
        for (a, b) in inline.rules.iter().zip(&other.rules) {
            assert_eq!(a.conds, b.conds, "rule {}", a.id);
            assert_eq!(
                (a.priority, a.layer, a.specificity, a.target),
                (b.priority, b.layer, b.specificity, b.target)
            );
        }
    }
    let csv_west = from_csv.rules.iter().find(|r| r.id == "west").unwrap();
    assert_eq!(csv_west.origin.to_string(), "matrix.csv:2");

    let leads = [
        (
            json!({"employees": "5000", "industry": "software", "action": "demo_request", "country": "US", "state": "California"}),
            "rep:west",
        ),
        (
            json!({"employees": "300", "industry": "software", "action": "demo_request", "country": "US", "state": "NY", "zip": "10001"}),
            "rep:nyc",
        ),
        (
            json!({"employees": "5000", "industry": "software", "action": "demo_request", "country": "US", "state": "TX"}),
            "rep:ent1",
        ),
        (
            json!({"employees": "5000", "industry": "software", "action": "demo_request", "country": "US", "state": "TX"}),
            "rep:ent2",
        ),
        (
            json!({"employees": "5000", "industry": "software", "action": "demo_request", "country": "US", "state": "CA", "lead_source": "partner"}),
            "queue:partners",
        ),
        (
            json!({"employees": "5000", "industry": "software", "action": "content_download", "country": "DE"}),
            "rep:pool1",
        ),
    ];
    let mut states = [
        StateSnapshot::default(),
        StateSnapshot::default(),
        StateSnapshot::default(),
    ];
    for (v, expect) in leads {
        let l = lead(v.clone());
        let mut decisions = Vec::new();
        for (c, st) in [&inline, &from_csv, &from_excel]
            .into_iter()
            .zip(states.iter_mut())
        {
            let r = route_apply(c, &l, st, now());
            let got = match (owner(&r), queue(&r)) {
                (Some(o), _) => format!("rep:{o}"),
                (_, Some(q)) => format!("queue:{q}"),
                _ => unreachable!(),
            };
            assert_eq!(got, expect, "{v}\n{}", why(&r));
            let mut d = r.decision.clone();
            d.config_version.clear();
            decisions.push((d, r.effects.clone(), r.trace.facts.clone()));
        }
        assert_eq!(decisions[0], decisions[1], "{v}: TOML vs CSV");
        assert_eq!(decisions[0], decisions[2], "{v}: TOML vs Excel CSV");
    }
    assert_eq!(states[0], states[1]);
    assert_eq!(states[0], states[2]);
}

// ---------------------------------------------------------------------------------------
// ASG: assignment
// ---------------------------------------------------------------------------------------

const HIERARCHY_CFG: &str = r#"
[routing]
default_team = "pool"

[[rep]]
id = "acct"
name = "Account Owner"

[[rep]]
id = "terr"
name = "Territory Rep"

[[rep]]
id = "seg"
name = "Segment Rep"

[[rep]]
id = "pool1"
name = "Pool One"
team = "pool"

[[rep]]
id = "pool2"
name = "Pool Two"
team = "pool"

[[team]]
id = "pool"
method = "round_robin"

[[account]]
domain = "acme.com"
name = "Acme"
owner = "acct"

# Same priority: the territory (geographic) rule beats the segment rule, even though the
# segment rule names more conditions.
[[rule]]
id = "seg-ent-software-analytics"
priority = 10
segment = ["enterprise"]
industry = ["software"]
product = ["analytics"]
route_to = "rep:seg"

[[rule]]
id = "terr-california"
priority = 10
country = ["US"]
state = ["CA"]
route_to = "rep:terr"
"#;

#[test]
fn asg_1_hierarchy_account_beats_territory_beats_segment_beats_default() {
    let c = cfg(HIERARCHY_CFG);
    let base = |email: &str, state: &str, emp: &str| {
        lead(
            json!({"email": email, "country": "US", "state": state, "employees": emp,
                    "industry": "software", "product": "Analytics", "action": "demo_request"}),
        )
    };
    let st = StateSnapshot::default();

    let r = route(&c, &base("a@acme.com", "CA", "5000"), &st);
    assert_eq!(
        (owner(&r), r.decision.path),
        (Some("acct"), RoutePath::AccountOwner),
        "{}",
        why(&r)
    );

    let r = route(&c, &base("a@initrode.com", "CA", "5000"), &st);
    assert_eq!(
        (owner(&r), r.decision.path),
        (Some("terr"), RoutePath::Territory),
        "{}",
        why(&r)
    );
    assert_eq!(r.decision.rule.as_deref(), Some("terr-california"));
    assert!(!r.decision.flags.contains(&Flag::AmbiguousRule));
    assert!(has_step(&r, |s| matches!(s,
        Step::Matrix { matched: Some(m), candidates: 2, .. } if m.id == "terr-california" && m.layer == Layer::Territory)));

    let r = route(&c, &base("a@initrode.com", "NY", "5000"), &st);
    assert_eq!(
        (owner(&r), r.decision.path),
        (Some("seg"), RoutePath::Segment),
        "{}",
        why(&r)
    );
    assert_eq!(
        r.decision.rule.as_deref(),
        Some("seg-ent-software-analytics")
    );

    let r = route(&c, &base("a@initrode.com", "NY", "300"), &st);
    assert_eq!(
        (owner(&r), r.decision.path),
        (Some("pool1"), RoutePath::DefaultTeam),
        "{}",
        why(&r)
    );
    assert_eq!(r.decision.team.as_deref(), Some("pool"));
    assert_eq!(
        r.decision.reason,
        "no matrix rule matched: default team pool → Pool One"
    );

    // A catch-all queue ends every path: the default team exhausted…
    let mut away = StateSnapshot::default();
    for rep in ["pool1", "pool2"] {
        out_of_office(&mut away, rep, None, None);
    }
    let r = route(&c, &base("a@initrode.com", "NY", "300"), &away);
    assert_eq!(queue(&r), Some("catch-all"), "{}", why(&r));
    assert!(r.decision.flags.contains(&Flag::NobodyAvailable));
    assert!(
        r.decision
            .reason
            .contains("team:pool: no member available → queue:catch-all"),
        "{}",
        r.decision.reason
    );

    // …or no default team at all.
    let no_default = cfg(&HIERARCHY_CFG.replace("default_team = \"pool\"", ""));
    let r = route(&no_default, &base("a@initrode.com", "NY", "300"), &st);
    assert_eq!(queue(&r), Some("catch-all"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::CatchAll);
}

const RR_CFG: &str = r#"
[routing]
default_team = "pool"

[[rep]]
id = "a"
name = "Alice"
team = "pool"

[[rep]]
id = "b"
name = "Bob"
team = "pool"

[[rep]]
id = "c"
name = "Carol"
team = "pool"

[[team]]
id = "pool"
method = "round_robin"
"#;

#[test]
fn asg_2_round_robin() {
    let c = cfg(RR_CFG);
    let mut st = StateSnapshot::default();
    let mut picks = Vec::new();
    for _ in 0..7 {
        let r = route_apply(&c, &plain_lead(), &mut st, now());
        assert_eq!(r.decision.path, RoutePath::DefaultTeam);
        picks.push(owner(&r).unwrap().to_string());
        // The chosen rep is recorded with its rotation turn; the others are not examined.
        let cands = team_candidates(&r, "pool");
        assert_eq!(
            cands.iter().filter(|(_, v)| *v == Verdict::Chosen).count(),
            1
        );
        assert!(
            cands
                .iter()
                .all(|(_, v)| matches!(v, Verdict::Chosen | Verdict::NotReached))
        );
        assert!(
            r.effects
                .iter()
                .any(|e| matches!(e, Effect::AdvanceRotation { team, .. } if team == "pool"))
        );
        // Fair across restarts: the state goes through storage (JSON) between leads.
        st = serde_json::from_str(&serde_json::to_string(&st).unwrap()).unwrap();
    }
    assert_eq!(picks, ["a", "b", "c", "a", "b", "c", "a"]);

    // An unavailable rep is skipped without losing their place for later.
    let mut st = StateSnapshot::default();
    out_of_office(
        &mut st,
        "b",
        Some(after(SignedDuration::from_hours(1))),
        None,
    );
    let picks = run(&c, &mut st, 4);
    assert_eq!(picks, ["a", "c", "a", "c"]);
}

#[test]
fn asg_2_weighted_round_robin() {
    let toml = RR_CFG
        .replace(
            "method = \"round_robin\"",
            "method = \"weighted_round_robin\"",
        )
        .replace(
            "team = \"pool\"\n\n[[rep]]\nid = \"b\"",
            "team = \"pool\"\nweight = 2.0\n\n[[rep]]\nid = \"b\"",
        )
        .replace(
            "name = \"Carol\"\nteam = \"pool\"",
            "name = \"Carol\"\nteam = \"pool\"\nweight = 0.5",
        );
    let c = cfg(&toml);
    assert_eq!(
        c.reps.iter().map(|r| r.weight).collect::<Vec<_>>(),
        [2.0, 1.0, 0.5]
    );
    let mut st = StateSnapshot::default();
    let picks = run(&c, &mut st, 70);
    let n = counts(&picks);
    assert_eq!((n["a"], n["b"], n["c"]), (40, 20, 10), "{picks:?}");
    // Spread out, not in blocks: in every window of 7 leads the shares hold within one.
    for w in picks.windows(7) {
        let n = counts(w);
        let get = |k: &str| n.get(k).copied().unwrap_or(0) as i64;
        assert!(
            (get("a") - 4).abs() <= 1 && (get("b") - 2).abs() <= 1 && (get("c") - 1).abs() <= 1,
            "{w:?}"
        );
    }
    let r = route(&c, &plain_lead(), &st);
    assert!(has_step(
        &r,
        |s| matches!(s, Step::Team { method, .. } if method == "weighted_round_robin")
    ));
}

#[test]
fn asg_3_territory_by_state_and_postal_prefix() {
    let toml = r#"
[routing]
default_team = "pool"

[industries]
healthcare = ["hospital & health care", "health care"]

[[rep]]
id = "west"
name = "West"

[[rep]]
id = "nyc"
name = "NYC"

[[rep]]
id = "dach"
name = "DACH"

[[rep]]
id = "health"
name = "AMER Healthcare Enterprise"

[[rep]]
id = "pool1"
name = "Pool"
team = "pool"

[[team]]
id = "pool"

[[rule]]
id = "us-west"
priority = 30
country = ["US"]
state = ["California", "WA"]
route_to = "rep:west"

[[rule]]
id = "nyc-zips"
priority = 30
country = ["US"]
postal_code = ["100*", "101*"]
route_to = "rep:nyc"

[[rule]]
id = "dach"
priority = 30
country = ["DE", "Austria", "CH"]
route_to = "rep:dach"

[[rule]]
id = "amer-health-ent"
priority = 20
region = ["AMER"]
industry = ["healthcare"]
segment = ["enterprise"]
route_to = "rep:health"
"#;
    let c = cfg(toml);
    let st = StateSnapshot::default();
    let at = |extra: serde_json::Value| {
        let mut v = json!({"employees": "5000", "industry": "software", "action": "demo_request"});
        for (k, x) in extra.as_object().unwrap() {
            v[k] = x.clone();
        }
        route(&c, &lead(v), &st)
    };
    for (extra, rep, rule) in [
        (
            json!({"country": "US", "state": "CA"}),
            Some("west"),
            Some("us-west"),
        ),
        (
            json!({"country": "USA", "state": "california"}),
            Some("west"),
            Some("us-west"),
        ),
        (
            json!({"country": "United States", "state": "Washington"}),
            Some("west"),
            Some("us-west"),
        ),
        (
            json!({"country": "US", "state": "NY", "zip": "10017"}),
            Some("nyc"),
            Some("nyc-zips"),
        ),
        (
            json!({"country": "US", "state": "NY", "zip": "10117"}),
            Some("nyc"),
            Some("nyc-zips"),
        ),
        (
            json!({"country": "US", "state": "NY", "zip": "10017-4321"}),
            Some("nyc"),
            Some("nyc-zips"),
        ),
        (
            json!({"country": "US", "state": "NY", "zip": "10200"}),
            Some("pool1"),
            None,
        ),
        (json!({"country": "Germany"}), Some("dach"), Some("dach")),
        (json!({"country": "AT"}), Some("dach"), Some("dach")),
        (
            json!({"country": "Switzerland"}),
            Some("dach"),
            Some("dach"),
        ),
        (json!({"country": "FR"}), Some("pool1"), None),
        // Geography + industry + size.
        (
            json!({"country": "US", "state": "TX", "industry": "Hospital & Health Care"}),
            Some("health"),
            Some("amer-health-ent"),
        ),
        (
            json!({"country": "BR", "industry": "health care"}),
            Some("health"),
            Some("amer-health-ent"),
        ),
        (
            json!({"country": "US", "state": "TX", "industry": "health care", "employees": "120"}),
            Some("pool1"),
            None,
        ),
    ] {
        let r = at(extra.clone());
        assert_eq!(owner(&r), rep, "{extra}\n{}", why(&r));
        assert_eq!(r.decision.rule.as_deref(), rule, "{extra}");
        let path = if rule.is_some() {
            RoutePath::Territory
        } else {
            RoutePath::DefaultTeam
        };
        assert_eq!(r.decision.path, path, "{extra}");
    }
    let r = at(json!({"country": "US", "state": "CA"}));
    assert!(
        r.decision
            .reason
            .starts_with("territory rule us-west matched (country=US, state=CA|WA)"),
        "{}",
        r.decision.reason
    );

    // The demo's state, postal and country territories.
    let d = demo();
    for (file, rep) in [
        ("leads/18-territory-state-ca.json", "marcus.reed"),
        ("leads/19-territory-postal-ny.json", "priya.shah"),
        ("leads/27-latam-country-territory.json", "lucas.almeida"),
        ("leads/28-dach-enterprise-country.json", "jonas.weber"),
    ] {
        let r = route(d, &lead(demo_file(file)), &st);
        assert_eq!(owner(&r), Some(rep), "{file}\n{}", why(&r));
        assert_eq!(r.decision.path, RoutePath::Territory, "{file}");
    }
}

const LL_CFG: &str = r#"
[routing]
default_team = "ll"

[capacity]
early = 0.5
mid = 1.0
late = 1.5

[[rep]]
id = "a"
name = "Alice"
team = "ll"
capacity = 10

[[rep]]
id = "b"
name = "Bob"
team = "ll"
capacity = 10

[[rep]]
id = "c"
name = "Carol"
team = "ll"
capacity = 10

[[team]]
id = "ll"
method = "least_loaded"
"#;

fn loads(list: &[(&str, u32, u32, u32)]) -> StateSnapshot {
    let mut st = StateSnapshot::default();
    for (rep, early, mid, late) in list {
        st.loads.insert(
            rep.to_string(),
            RepLoad {
                early: *early,
                mid: *mid,
                late: *late,
            },
        );
    }
    st
}

#[test]
fn asg_4_capacity_and_least_loaded_stage_weights() {
    let c = cfg(LL_CFG);
    // a has the most open leads (4) but all early: 2.0. b: 2 late = 3.0. c: 3 mid = 3.0.
    let st = loads(&[("a", 4, 0, 0), ("b", 0, 0, 2), ("c", 0, 3, 0)]);
    let r = route(&c, &plain_lead(), &st);
    assert_eq!(owner(&r), Some("a"), "{}", why(&r));
    let loads_seen: Vec<(String, Option<f64>)> = r
        .trace
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Team { candidates, .. } => Some(
                candidates
                    .iter()
                    .map(|c| (c.rep.to_string(), c.load))
                    .collect(),
            ),
            _ => None,
        })
        .unwrap();
    assert_eq!(
        loads_seen,
        vec![
            ("a".to_string(), Some(2.0)),
            ("b".to_string(), Some(3.0)),
            ("c".to_string(), Some(3.0))
        ]
    );
    assert_eq!(verdict_of(&r, "ll", "b"), Verdict::Passed);
    assert!(
        r.effects
            .contains(&Effect::AddEarlyLoad { rep: "a".into() })
    );

    // Stage weights are configurable: with late leads counting little, b is least loaded.
    let light_late = cfg(&LL_CFG.replace(
        "early = 0.5\nmid = 1.0\nlate = 1.5",
        "early = 1.0\nmid = 1.0\nlate = 0.5",
    ));
    let r = route(&light_late, &plain_lead(), &st);
    assert_eq!(owner(&r), Some("b"), "{}", why(&r));

    // At the limit: a new lead (early, 0.5) must fit under the capacity.
    let st = loads(&[("a", 0, 0, 0), ("b", 1, 0, 0), ("c", 2, 0, 0)]);
    let tight = cfg(&LL_CFG.replacen("capacity = 10", "capacity = 0.4", 1));
    let r = route(&tight, &plain_lead(), &st);
    assert_eq!(owner(&r), Some("b"), "{}", why(&r));
    assert_eq!(
        verdict_of(&r, "ll", "a"),
        Verdict::Skipped {
            skip: Skip::AtCapacity {
                load: 0.0,
                capacity: 0.4
            }
        }
    );
    let exact = cfg(&LL_CFG.replacen("capacity = 10", "capacity = 0.5", 1));
    let r = route(&exact, &plain_lead(), &st);
    assert_eq!(
        owner(&r),
        Some("a"),
        "exactly at capacity after the lead is fine:\n{}",
        why(&r)
    );

    // Everyone full: the team overflows to the catch-all, flagged.
    let full = loads(&[("a", 0, 0, 7), ("b", 0, 10, 0), ("c", 20, 0, 0)]);
    let r = route(&c, &plain_lead(), &full);
    assert_eq!(queue(&r), Some("catch-all"), "{}", why(&r));
    assert!(r.decision.flags.contains(&Flag::NobodyAvailable));
    for rep in ["a", "b", "c"] {
        assert!(matches!(
            verdict_of(&r, "ll", rep),
            Verdict::Skipped {
                skip: Skip::AtCapacity { .. }
            }
        ));
    }

    // Equal loads: the rotation breaks ties, so an empty team fills evenly.
    let mut st = StateSnapshot::default();
    let picks = run(&c, &mut st, 6);
    assert_eq!(picks, ["a", "b", "c", "a", "b", "c"]);
    // And nobody goes past capacity while leads keep coming.
    let mut st = StateSnapshot::default();
    let picks = run(&c, &mut st, 60);
    assert_eq!(picks.len(), 60);
    for rep in ["a", "b", "c"] {
        assert_eq!(st.loads[rep].weighted(&c.stage_weights), 10.0, "{rep}");
    }
    let r = route(&c, &plain_lead(), &st);
    assert_eq!(queue(&r), Some("catch-all"), "{}", why(&r));

    // Capacity is respected by round-robin teams too.
    let rr = cfg(&LL_CFG.replace("method = \"least_loaded\"", "method = \"round_robin\""));
    let r = route(&rr, &plain_lead(), &loads(&[("a", 20, 0, 0)]));
    assert_eq!(owner(&r), Some("b"), "{}", why(&r));
}

const CHAIN_CFG: &str = r#"
[organization]
timezone = "UTC"

[[rep]]
id = "primary"
name = "Primary"
team = "t"
backup = "backup"
out_of_office = [{ from = "2026-11-23", to = "2026-11-27", note = "Thanksgiving week" }]

[[rep]]
id = "backup"
name = "Backup"
team = "t"
timezone = "Asia/Tokyo"
working_hours = "Mon-Fri 09:00-17:00"

[[rep]]
id = "lead"
name = "Team Lead"
team = "t"
daily_cap = 2

[[rep]]
id = "pool1"
name = "Pool One"
team = "t"

[[team]]
id = "t"
lead = "lead"
method = "round_robin"

[[rule]]
id = "to-primary"
route_to = "rep:primary"
"#;

#[test]
fn asg_5_ooo_hours_dst_daily_cap_backup_chain() {
    // DST: 09:00-17:00 New York. On Mon 2026-03-09 (after the 03-08 switch to EDT, UTC-4)
    // 13:30Z is 09:30 local; on Fri 2026-03-06 (EST, UTC-5) it is 08:30.
    let ny = cfg(r#"
[routing]
default_team = "east"

[[rep]]
id = "ny"
name = "New York Rep"
team = "east"
timezone = "America/New_York"
working_hours = "Mon-Fri 09:00-17:00"

[[team]]
id = "east"
"#);
    let st = StateSnapshot::default();
    let r = route_at(&ny, &plain_lead(), &st, ts("2026-03-09T13:30:00Z"));
    assert_eq!(owner(&r), Some("ny"), "{}", why(&r));
    let r = route_at(&ny, &plain_lead(), &st, ts("2026-03-06T13:30:00Z"));
    assert_eq!(queue(&r), Some("catch-all"), "{}", why(&r));
    assert_eq!(
        verdict_of(&r, "east", "ny"),
        Verdict::Skipped {
            skip: Skip::OutsideHours {
                local_time: "Fri 08:30 America/New_York".into(),
                hours: "Mon-Fri 09:00-17:00".into()
            }
        }
    );
    assert!(r.decision.flags.contains(&Flag::NobodyAvailable));
    // The other end of the day moves too: 21:30Z is 17:30 EDT but 16:30 EST.
    let r = route_at(&ny, &plain_lead(), &st, ts("2026-03-09T21:30:00Z"));
    assert_eq!(queue(&r), Some("catch-all"), "{}", why(&r));
    let r = route_at(&ny, &plain_lead(), &st, ts("2026-03-06T21:30:00Z"));
    assert_eq!(owner(&r), Some("ny"), "{}", why(&r));

    // The whole chain: primary out of office → backup outside hours (Tokyo, Tue 00:00) →
    // team lead at the daily cap → the team's pool.
    let c = cfg(CHAIN_CFG);
    let mut st = StateSnapshot::default();
    st.daily.insert(
        "lead".into(),
        DailyCount {
            date: "2026-11-23".parse().unwrap(),
            count: 2,
        },
    );
    let r = route(&c, &plain_lead(), &st);
    assert_eq!(owner(&r), Some("pool1"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::Segment);
    assert_eq!(r.decision.rule.as_deref(), Some("to-primary"));
    assert_eq!(r.decision.team.as_deref(), Some("t"));
    assert!(r.decision.flags.contains(&Flag::Fallback));
    let chain: Vec<String> = r
        .trace
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Rep { rep, role, verdict } => Some(format!("{role} {rep}: {verdict:?}")),
            Step::Fallback { from, to, .. } => Some(format!("{from} -> {to}")),
            Step::Team { team, .. } => Some(format!("team {team}")),
            _ => None,
        })
        .collect();
    let until = ts("2026-11-28T00:00:00Z");
    assert_eq!(
        chain,
        vec![
            format!(
                "rule target primary: {:?}",
                Verdict::Skipped {
                    skip: Skip::OutOfOffice {
                        until: Some(until),
                        note: Some("Thanksgiving week".into())
                    }
                }
            ),
            "primary -> backup backup".to_string(),
            format!(
                "backup backup: {:?}",
                Verdict::Skipped {
                    skip: Skip::OutsideHours {
                        local_time: "Tue 00:00 Asia/Tokyo".into(),
                        hours: "Mon-Fri 09:00-17:00".into()
                    }
                }
            ),
            "backup -> team lead lead".to_string(),
            format!(
                "team lead lead: {:?}",
                Verdict::Skipped {
                    skip: Skip::DailyCap { count: 2, cap: 2 }
                }
            ),
            "lead -> team:t".to_string(),
            "team t".to_string(),
        ]
    );
    assert!(
        r.decision.reason.contains(
            "primary: out of office until 2026-11-28T00:00:00Z (Thanksgiving week) → backup backup"
        ),
        "{}",
        r.decision.reason
    );

    // Yesterday's count does not hold the team lead back today.
    st.daily.insert(
        "lead".into(),
        DailyCount {
            date: "2026-11-22".parse().unwrap(),
            count: 2,
        },
    );
    let r = route(&c, &plain_lead(), &st);
    assert_eq!(owner(&r), Some("lead"), "{}", why(&r));
    assert!(r.effects.contains(&Effect::CountDaily {
        rep: "lead".into(),
        date: "2026-11-23".parse().unwrap()
    }));

    // The config window ends with its last day; then the primary takes leads again.
    let monday_after = ts("2026-11-30T15:00:00Z");
    let r = route_at(&c, &plain_lead(), &StateSnapshot::default(), monday_after);
    assert_eq!(owner(&r), Some("primary"), "{}", why(&r));
    assert!(r.decision.flags.is_empty());

    // A run-time out-of-office (state) works the same, until it ends.
    let mut st = StateSnapshot::default();
    out_of_office(
        &mut st,
        "primary",
        Some(ts("2026-12-01T00:00:00Z")),
        Some("sick"),
    );
    out_of_office(&mut st, "backup", None, None);
    let r = route_at(&c, &plain_lead(), &st, monday_after);
    assert_eq!(owner(&r), Some("lead"), "{}", why(&r));
    st.availability.get_mut("primary").unwrap().out_until = Some(ts("2026-11-30T14:00:00Z"));
    let r = route_at(&c, &plain_lead(), &st, monday_after);
    assert_eq!(owner(&r), Some("primary"), "{}", why(&r));

    // The daily cap counts in the rep's own day: 2 leads reach the cap.
    let mut st = StateSnapshot::default();
    let capped = cfg(&CHAIN_CFG.replace("rep:primary", "rep:lead"));
    for _ in 0..2 {
        let r = route_apply(&capped, &plain_lead(), &mut st, now());
        assert_eq!(owner(&r), Some("lead"), "{}", why(&r));
    }
    let r = route_apply(&capped, &plain_lead(), &mut st, now());
    assert_ne!(owner(&r), Some("lead"), "{}", why(&r));
    assert!(has_step(
        &r,
        |s| matches!(s, Step::Rep { rep, verdict: Verdict::Skipped { skip: Skip::DailyCap { count: 2, cap: 2 } }, .. } if rep == "lead")
    ));

    // The demo: jordan.blake is out for Thanksgiving → his backup owen.price; and the ANZ
    // rule's rep, backup and team lead are all asleep → the APAC pool's late shift.
    let d = demo();
    let r = route(
        d,
        &lead(demo_file("leads/23-ooo-rep-territory.json")),
        &StateSnapshot::default(),
    );
    assert_eq!(owner(&r), Some("owen.price"), "{}", why(&r));
    let r = route(
        d,
        &lead(demo_file("leads/26-anz-enterprise-after-hours.json")),
        &StateSnapshot::default(),
    );
    assert_eq!(owner(&r), Some("arjun.mehta"), "{}", why(&r));
}

fn rr_team(members: &[&str]) -> CompiledConfig {
    let mut toml = String::from(
        "[routing]\ndefault_team = \"pool\"\n\n[[team]]\nid = \"pool\"\nmethod = \"round_robin\"\n",
    );
    for m in members {
        toml.push_str(&format!(
            "\n[[rep]]\nid = \"{m}\"\nname = \"{m}\"\nteam = \"pool\"\n"
        ));
    }
    cfg(&toml)
}

fn no_consecutive_repeats(picks: &[String]) {
    for w in picks.windows(2) {
        assert_ne!(
            w[0], w[1],
            "the same rep twice in a row (a burst): {picks:?}"
        );
    }
}

/// The order in which `reps` (a subset) were served, for checking a rotation continues.
fn order_of(picks: &[String], reps: &[&str]) -> Vec<String> {
    picks
        .iter()
        .filter(|p| reps.contains(&p.as_str()))
        .cloned()
        .collect()
}

#[test]
fn asg_5_pool_changes_no_reset_no_burst() {
    let abc = rr_team(&["a", "b", "c"]);
    let mut st = StateSnapshot::default();
    let warm = run(&abc, &mut st, 31);
    assert_eq!(
        counts(&warm),
        BTreeMap::from([("a".into(), 11), ("b".into(), 10), ("c".into(), 10)])
    );
    // Next in line: b, then c, then a.

    // A rep joins: they get no catch-up burst and the others continue where they were.
    {
        let mut st = st.clone();
        let abcd = rr_team(&["a", "b", "c", "d"]);
        let k = 40;
        let picks = run(&abcd, &mut st, k);
        let n = counts(&picks);
        assert!(
            n["d"] <= k / 4 + 1,
            "joining rep got {} of {k}: {picks:?}",
            n["d"]
        );
        assert!(n["d"] >= k / 4 - 1, "joining rep starved: {picks:?}");
        no_consecutive_repeats(&picks);
        let others = order_of(&picks, &["a", "b", "c"]);
        assert_eq!(
            &others[..6],
            ["b", "c", "a", "b", "c", "a"],
            "rotation was reset: {picks:?}"
        );
    }

    // A rep leaves: the rest carry on (b was next, so c is now next, not a restart at a).
    {
        let mut st = st.clone();
        let ac = rr_team(&["a", "c"]);
        let picks = run(&ac, &mut st, 20);
        assert_eq!(picks[0], "c", "{picks:?}");
        let n = counts(&picks);
        assert_eq!((n["a"], n["c"]), (10, 10));
        no_consecutive_repeats(&picks);
    }

    // A rep is out of office for a while, then returns.
    {
        let mut st = st.clone();
        out_of_office(&mut st, "c", None, Some("vacation"));
        let away = run(&abc, &mut st, 30);
        assert!(!away.contains(&"c".to_string()));
        let n = counts(&away);
        assert_eq!((n["a"], n["b"]), (15, 15));
        let r = route(&abc, &plain_lead(), &st);
        assert!(matches!(
            verdict_of(&r, "pool", "c"),
            Verdict::Skipped {
                skip: Skip::OutOfOffice { .. }
            } | Verdict::NotReached
        ));

        st.availability.remove("c");
        let k = 30;
        let back = run(&abc, &mut st, k);
        let n = counts(&back);
        assert!(
            n["c"] <= k / 3 + 1,
            "returning rep got {} of {k}: {back:?}",
            n["c"]
        );
        assert!(n["c"] >= k / 3 - 1, "returning rep starved: {back:?}");
        no_consecutive_repeats(&back);
        // a and b keep alternating from where they were.
        let ab = order_of(&back, &["a", "b"]);
        let last_ab = away.last().unwrap();
        assert_ne!(
            &ab[0], last_ab,
            "a/b rotation reset: {away:?} then {back:?}"
        );
    }

    // The same for a weighted team: a rep back from time away gets their weight's share.
    {
        let toml = "[routing]\ndefault_team = \"pool\"\n\n[[team]]\nid = \"pool\"\nmethod = \"weighted_round_robin\"\n\n\
                    [[rep]]\nid = \"a\"\nname = \"a\"\nteam = \"pool\"\nweight = 2.0\n\n\
                    [[rep]]\nid = \"b\"\nname = \"b\"\nteam = \"pool\"\n\n\
                    [[rep]]\nid = \"c\"\nname = \"c\"\nteam = \"pool\"\n";
        let w = cfg(toml);
        let mut st = StateSnapshot::default();
        run(&w, &mut st, 20);
        out_of_office(&mut st, "b", None, None);
        run(&w, &mut st, 60);
        st.availability.remove("b");
        let k = 40;
        let back = run(&w, &mut st, k);
        let n = counts(&back);
        assert!(
            n["b"] <= k / 4 + 1,
            "returning weighted rep got {} of {k}: {back:?}",
            n["b"]
        );
        assert!(n["a"] >= k / 2 - 1, "{back:?}");
    }
}

#[test]
fn asg_6_manual_assignment_recorded() {
    let c = cfg(RR_CFG);
    let mut st = StateSnapshot::default();
    out_of_office(&mut st, "b", None, Some("vacation"));
    let l = lead(
        json!({"email": "vip@initrode.com", "employees": "500", "industry": "software", "action": "demo_request"}),
    );

    let routed = route_apply(&c, &l, &mut st, now());
    assert_eq!(owner(&routed), Some("a"));

    // Reassigned by hand to b, who is away: the choice stands and says what it overrode.
    let r = engine::assign_manually(
        &c,
        RoutingInput::new(&l, &st, now()),
        "b",
        "ops.admin",
        Some("customer asked for Bob"),
    )
    .expect("known rep");
    assert_eq!(owner(&r), Some("b"), "{}", why(&r));
    assert_eq!(r.decision.path, RoutePath::Manual);
    assert_eq!(r.decision.reason, "manually assigned by ops.admin → Bob");
    assert_eq!(r.decision.notes, vec!["customer asked for Bob".to_string()]);
    assert_eq!(
        r.trace.steps,
        vec![Step::Manual {
            by: "ops.admin".into(),
            rep: "b".into(),
            note: Some("customer asked for Bob".into()),
            overridden: Some(Box::new(Skip::OutOfOffice {
                until: None,
                note: Some("vacation".into())
            })),
        }]
    );
    assert!(why(&r).contains("manual assignment to b by ops.admin (customer asked for Bob); overrides: out of office (vacation)"), "{}", why(&r));
    assert!(r.effects.contains(&Effect::SetOwner {
        email: "vip@initrode.com".into(),
        rep: "b".into()
    }));
    assert!(
        r.effects
            .contains(&Effect::AddEarlyLoad { rep: "b".into() })
    );
    assert!(
        !r.effects
            .iter()
            .any(|e| matches!(e, Effect::AdvanceRotation { .. })),
        "a manual choice does not take a rotation turn"
    );
    st.apply(&r.effects);
    assert_eq!(st.people["vip@initrode.com"].owner.as_deref(), Some("b"));

    // The person's next submission follows the manual owner (who is back by then).
    st.availability.remove("b");
    let again = route(&c, &l, &st);
    assert_eq!(owner(&again), Some("b"), "{}", why(&again));
    assert_eq!(again.decision.path, RoutePath::KnownPerson);

    // An available rep: nothing overridden. An unknown rep: an error, not a guess.
    let r =
        engine::assign_manually(&c, RoutingInput::new(&l, &st, now()), "c", "mgr", None).unwrap();
    assert!(matches!(
        &r.trace.steps[..],
        [Step::Manual {
            overridden: None,
            note: None,
            ..
        }]
    ));
    let err = engine::assign_manually(&c, RoutingInput::new(&l, &st, now()), "zed", "mgr", None)
        .unwrap_err();
    assert!(err.contains("unknown rep `zed`"), "{err}");
}

// ---------------------------------------------------------------------------------------
// EXP: explain and reproduce
// ---------------------------------------------------------------------------------------

const EXPLAIN_CFG: &str = r#"
[organization]
timezone = "UTC"

[[rep]]
id = "r_inactive"
name = "Inactive"
team = "amer"
active = false

[[rep]]
id = "r_ooo"
name = "Away"
team = "amer"
out_of_office = [{ from = "2026-11-20", to = "2026-11-24", note = "Conference" }]

[[rep]]
id = "r_cap"
name = "Full"
team = "amer"
capacity = 2

[[rep]]
id = "r_hours"
name = "Weekend"
team = "amer"
working_hours = "Sat 09:00-10:00"

[[rep]]
id = "r_daily"
name = "Busy Today"
team = "amer"
daily_cap = 3

[[rep]]
id = "r_ok"
name = "Olga Okay"
team = "amer"

[[rep]]
id = "r_after"
name = "Next Time"
team = "amer"

[[team]]
id = "amer"
method = "round_robin"

[[rule]]
id = "emea-ent"
priority = 20
segment = ["enterprise"]
region = ["EMEA"]
route_to = "team:amer"

[[rule]]
id = "us-health"
priority = 15
country = ["US"]
industry = ["healthcare"]
route_to = "team:amer"

[[rule]]
id = "amer-ent"
priority = 10
segment = ["enterprise"]
region = ["AMER"]
route_to = "team:amer"

[[rule]]
id = "smb"
priority = 5
segment = ["smb"]
route_to = "queue:nurture"
"#;

#[test]
fn exp_1_trace_lists_rules_candidates_and_version() {
    let c = cfg(EXPLAIN_CFG);
    let mut st = StateSnapshot::default();
    st.loads.insert(
        "r_cap".into(),
        RepLoad {
            early: 4,
            mid: 0,
            late: 0,
        },
    );
    st.daily.insert(
        "r_daily".into(),
        DailyCount {
            date: "2026-11-23".parse().unwrap(),
            count: 3,
        },
    );
    let l = lead(
        json!({"email": "jo@initrode.com", "country": "US", "employees": "5000",
                        "industry": "software", "action": "demo_request"}),
    );
    let mut r = route(&c, &l, &st);
    assert_eq!(owner(&r), Some("r_ok"), "{}", why(&r));

    // The version is on the decision and the trace, and it is the config's.
    assert!(c.version.starts_with("sha256:"), "{}", c.version);
    assert_eq!(r.decision.config_version, c.version);
    assert_eq!(r.trace.config_version, c.version);
    let edited = cfg(&EXPLAIN_CFG.replace("priority = 5", "priority = 6"));
    assert_ne!(edited.version, c.version, "any edit changes the version");

    // Structured: each rule considered with the condition that failed.
    r.trace.explain(&c);
    let considered = r
        .trace
        .steps
        .iter()
        .find_map(|s| match s {
            Step::Matrix { considered, .. } => Some(considered.clone()),
            _ => None,
        })
        .unwrap();
    let lines: Vec<(String, bool, Option<String>)> = considered
        .into_iter()
        .map(|c| (c.id, c.matched, c.failed_on))
        .collect();
    assert_eq!(
        lines,
        vec![
            (
                "emea-ent".into(),
                false,
                Some("region is AMER (rule wants EMEA)".into())
            ),
            (
                "us-health".into(),
                false,
                Some("industry is software (rule wants healthcare)".into())
            ),
            ("amer-ent".into(), true, None),
        ]
    );
    // Each candidate with its verdict.
    let verdicts = team_candidates(&r, "amer");
    let expected = vec![
        (
            "r_inactive",
            Verdict::Skipped {
                skip: Skip::Inactive,
            },
        ),
        (
            "r_ooo",
            Verdict::Skipped {
                skip: Skip::OutOfOffice {
                    until: Some(ts("2026-11-25T00:00:00Z")),
                    note: Some("Conference".into()),
                },
            },
        ),
        (
            "r_cap",
            Verdict::Skipped {
                skip: Skip::AtCapacity {
                    load: 2.0,
                    capacity: 2.0,
                },
            },
        ),
        (
            "r_hours",
            Verdict::Skipped {
                skip: Skip::OutsideHours {
                    local_time: "Mon 15:00 UTC".into(),
                    hours: "Sat 09:00-10:00".into(),
                },
            },
        ),
        (
            "r_daily",
            Verdict::Skipped {
                skip: Skip::DailyCap { count: 3, cap: 3 },
            },
        ),
        ("r_ok", Verdict::Chosen),
        ("r_after", Verdict::NotReached),
    ];
    assert_eq!(
        verdicts,
        expected
            .into_iter()
            .map(|(r, v)| (r.to_string(), v))
            .collect::<Vec<_>>()
    );

    // Rendered for a person: the same facts, one per line.
    let text = why(&r);
    for line in [
        format!("decision at 2026-11-23T15:00:00Z with config {}", c.version),
        "score ".to_string(),
        "junk check: clean".to_string(),
        "account match: no account for initrode.com".to_string(),
        "matrix: 1 of 4 rules match; winner amer-ent (Territory rule, priority 10, test.toml:".to_string(),
        "rule emea-ent: no — region is AMER (rule wants EMEA)".to_string(),
        "rule us-health: no — industry is software (rule wants healthcare)".to_string(),
        "rule amer-ent: matches".to_string(),
        "team amer (round_robin), 7 candidates:".to_string(),
        "r_inactive: skipped — inactive".to_string(),
        "r_ooo: skipped — out of office until 2026-11-25T00:00:00Z (Conference)".to_string(),
        "r_cap: skipped — at capacity (load 2.0 of 2.0)".to_string(),
        "r_hours: skipped — outside working hours (local Mon 15:00 UTC; hours Sat 09:00-10:00)".to_string(),
        "r_daily: skipped — daily cap reached (3/3)".to_string(),
        "r_ok: CHOSEN".to_string(),
        "r_after: later in rotation".to_string(),
        "=> assigned to Olga Okay (r_ok) — territory rule amer-ent matched (segment=enterprise, region=AMER) → Olga Okay".to_string(),
        "SLA: route by 2026-11-23T15:05:00Z, first touch by 2026-11-23T15:05:00Z".to_string(),
    ] {
        assert!(text.contains(&line), "missing `{line}` in:\n{text}");
    }
    // The smb rule comes after the winner in precedence order: not considered.
    assert!(!text.contains("rule smb"), "{text}");

    // When nothing matches, every rule is listed with its failed condition.
    let l = lead(
        json!({"country": "JP", "employees": "500", "industry": "software", "action": "demo_request"}),
    );
    let mut r = route(&c, &l, &st);
    assert_eq!(queue(&r), Some("catch-all"), "{}", why(&r));
    r.trace.explain(&c);
    let text = why(&r);
    assert!(text.contains("matrix: none of 4 rules match"), "{text}");
    for line in [
        "rule emea-ent: no — segment is mid_market (rule wants enterprise)",
        "rule us-health: no — industry is software (rule wants healthcare)",
        "rule amer-ent: no — segment is mid_market (rule wants enterprise)",
        "rule smb: no — segment is mid_market (rule wants smb)",
    ] {
        assert!(text.contains(line), "missing `{line}` in:\n{text}");
    }
}

#[test]
fn exp_2_deterministic() {
    let d = demo();
    let d2 = load_demo();
    assert_eq!(
        d.version, d2.version,
        "the same files give the same version"
    );
    let mut files: Vec<_> =
        std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/leads"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().to_string())
            .collect();
    files.sort();
    assert_eq!(files.len(), 30);
    for f in files {
        let (l, issues) = Lead::from_json(&demo_file(&format!("leads/{f}"))).unwrap();
        let st = match f.as_str() {
            s if s.starts_with("24-") => demo_state("state/returning.json"),
            s if s.starts_with("25-") => demo_state("state/busy.json"),
            _ => StateSnapshot::default(),
        };
        let input = RoutingInput {
            issues: &issues,
            ..RoutingInput::new(&l, &st, now())
        };
        let a = engine::decide(d, input);
        let b = engine::decide(d, input);
        let c = engine::decide(&d2, input);
        assert_eq!(a, b, "{f}: same input, different result");
        assert_eq!(a, c, "{f}: recompiled config, different result");

        // The trace (explained), decision and effects survive storage as JSON unchanged,
        // so a stored decision can be re-explained offline.
        let mut trace = a.trace.clone();
        trace.explain(d);
        let json = serde_json::to_string(&trace).unwrap();
        let back: leadrouter_core::trace::RoutingTrace = serde_json::from_str(&json)
            .unwrap_or_else(|e| panic!("{f}: trace JSON does not read back: {e}\n{json}"));
        assert_eq!(back, trace, "{f}: trace JSON round trip");
        assert_eq!(back.render(&a.decision), trace.render(&a.decision));
        let dj = serde_json::to_string(&a.decision).unwrap();
        let dback: leadrouter_core::trace::Decision = serde_json::from_str(&dj).unwrap();
        assert_eq!(dback, a.decision, "{f}: decision JSON round trip");
        let ej = serde_json::to_string(&a.effects).unwrap();
        let eback: Vec<Effect> = serde_json::from_str(&ej).unwrap();
        assert_eq!(eback, a.effects, "{f}: effects JSON round trip");

        // Replaying from the stored facts and version gives the same decision.
        assert_eq!(trace.config_version, d.version);
        assert_eq!(trace.at, now());
    }

    // A sequence of decisions with effects applied is reproducible too.
    let seq = |cfg: &CompiledConfig| {
        let mut st = StateSnapshot::default();
        let mut out = Vec::new();
        for f in [
            "01-hot-enterprise-demo-amer.json",
            "13-warm-content-download.json",
            "25-amer-smb-capacity.json",
            "29-no-region-default-team.json",
        ] {
            for i in 0..3 {
                let mut l = lead(demo_file(&format!("leads/{f}")));
                l.email = Some(format!("p{i}@{f}.example-corp.com").replace(".json", ""));
                out.push(route_apply(cfg, &l, &mut st, now()));
            }
        }
        (out, st)
    };
    assert_eq!(seq(d), seq(&d2));
}

// ---------------------------------------------------------------------------------------
// The demo as documented in examples/README.md
// ---------------------------------------------------------------------------------------

#[test]
fn demo_examples_route_as_documented() {
    let d = demo();
    // (file, owner or "queue:NAME", tier and score when not junk)
    type Expected = (&'static str, &'static str, Option<(Tier, i32)>);
    let expected: [Expected; 30] = [
        (
            "01-hot-enterprise-demo-amer.json",
            "ana.lopez",
            Some((Tier::Hot, 140)),
        ),
        (
            "02-existing-account-subdomain.json",
            "ana.lopez",
            Some((Tier::Hot, 120)),
        ),
        (
            "03-named-account.json",
            "sophie.martin",
            Some((Tier::Warm, 90)),
        ),
        (
            "04-personal-email-gmail.json",
            "queue:review",
            Some((Tier::Warm, 45)),
        ),
        (
            "05-personal-email-company-maps-account.json",
            "david.kim",
            Some((Tier::Warm, 33)),
        ),
        (
            "06-inactive-account-owner.json",
            "priya.shah",
            Some((Tier::Hot, 135)),
        ),
        (
            "07-partial-data-industry-only.json",
            "david.kim",
            Some((Tier::Warm, 58)),
        ),
        (
            "08-no-firmographics.json",
            "queue:qualification",
            Some((Tier::Warm, 45)),
        ),
        (
            "09-low-intent-nurture.json",
            "queue:nurture",
            Some((Tier::Standard, 15)),
        ),
        ("10-junk-disposable.json", "queue:junk", None),
        ("11-junk-honeypot.json", "queue:junk", None),
        ("12-junk-test-values.json", "queue:junk", None),
        (
            "13-warm-content-download.json",
            "david.kim",
            Some((Tier::Warm, 80)),
        ),
        (
            "14-emea-midmarket.json",
            "chloe.dubois",
            Some((Tier::Hot, 110)),
        ),
        ("15-apac-smb.json", "arjun.mehta", Some((Tier::Hot, 110))),
        (
            "16-fin-specialist.json",
            "ana.lopez",
            Some((Tier::Hot, 120)),
        ),
        (
            "17-health-specialist.json",
            "chloe.dubois",
            Some((Tier::Hot, 135)),
        ),
        (
            "18-territory-state-ca.json",
            "marcus.reed",
            Some((Tier::Hot, 120)),
        ),
        (
            "19-territory-postal-ny.json",
            "priya.shah",
            Some((Tier::Hot, 115)),
        ),
        (
            "20-partner-source.json",
            "queue:partners",
            Some((Tier::Hot, 105)),
        ),
        (
            "21-malformed-fields.json",
            "queue:qualification",
            Some((Tier::Warm, 30)),
        ),
        (
            "22-self-serve.json",
            "queue:nurture",
            Some((Tier::Warm, 70)),
        ),
        (
            "23-ooo-rep-territory.json",
            "owen.price",
            Some((Tier::Hot, 125)),
        ),
        (
            "24-returning-lead.json",
            "tyler.brooks",
            Some((Tier::Hot, 88)),
        ),
        (
            "25-amer-smb-capacity.json",
            "kevin.murphy",
            Some((Tier::Warm, 58)),
        ),
        (
            "26-anz-enterprise-after-hours.json",
            "arjun.mehta",
            Some((Tier::Hot, 125)),
        ),
        (
            "27-latam-country-territory.json",
            "lucas.almeida",
            Some((Tier::Warm, 65)),
        ),
        (
            "28-dach-enterprise-country.json",
            "jonas.weber",
            Some((Tier::Hot, 125)),
        ),
        (
            "29-no-region-default-team.json",
            "arjun.mehta",
            Some((Tier::Warm, 85)),
        ),
        (
            // Without enrichment (the core alone): size and industry unknown (ENR-5).
            "30-enriched-from-file.json",
            "queue:qualification",
            Some((Tier::Warm, 50)),
        ),
    ];
    let mut failures = Vec::new();
    for (f, want, tier) in expected {
        let (l, issues) = Lead::from_json(&demo_file(&format!("leads/{f}"))).unwrap();
        let st = match &f[..3] {
            "24-" => demo_state("state/returning.json"),
            "25-" => demo_state("state/busy.json"),
            _ => StateSnapshot::default(),
        };
        let r = engine::decide(
            d,
            RoutingInput {
                issues: &issues,
                ..RoutingInput::new(&l, &st, now())
            },
        );
        let got = match (owner(&r), queue(&r)) {
            (Some(o), _) => o.to_string(),
            (_, Some(q)) => format!("queue:{q}"),
            _ => unreachable!(),
        };
        if got != want {
            failures.push(format!("{f}: expected {want}, got {got}\n{}", why(&r)));
        }
        if let Some((t, s)) = tier
            && (r.decision.tier, r.decision.score) != (t, s)
        {
            failures.push(format!(
                "{f}: expected {t:?} ({s}), got {:?} ({})",
                r.decision.tier, r.decision.score
            ));
        }
    }
    // Lead 01: the hot × enterprise override (contact within 3m).
    let r = route(
        d,
        &lead(demo_file("leads/01-hot-enterprise-demo-amer.json")),
        &StateSnapshot::default(),
    );
    assert_eq!(r.decision.sla.contact_within, SignedDuration::from_mins(3));
    assert_eq!(r.decision.sla.route_within, SignedDuration::from_mins(5));
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}
