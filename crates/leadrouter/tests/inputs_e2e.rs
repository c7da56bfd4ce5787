//! Inputs real forms and files send (issue 23): an email written as `Name <address>`
//! (RFC 5322 name-addr) is accepted by the API and by `route`, its address used (so
//! dedupe finds the known person) and its name kept.

mod support;

use serde_json::{Value, json};
use support::{Server, cli, e2e, e2e_config, owner_of};

fn lead(email: &str) -> Value {
    json!({
        "email": email,
        "company": "Example Co",
        "country": "US",
        "employees": 500,
        "industry": "software",
        "action": "demo_request",
    })
}

#[test]
fn cap_1_a_name_addr_email_is_accepted_and_dedupes_with_the_bare_address() {
    let server = Server::start(e2e());
    let first = server
        .post("/v1/leads")
        .intake()
        .json(&lead("\"Doe, Jane\" <Jane.Doe@example-co.com>"))
        .send()
        .expect_status(201)
        .json();
    let owner = owner_of(&first).unwrap_or_else(|| panic!("no owner in {first:#}"));
    let stored = server.lead(first["lead_id"].as_str().unwrap());
    assert_eq!(stored["email"], "Jane.Doe@example-co.com", "{stored:#}");
    // The payload is kept as sent (the name with it); reading it gives first and last
    // name (`Lead::from_json`), which the rep's notification and the console show.
    assert_eq!(
        stored["lead"]["email"], "\"Doe, Jane\" <Jane.Doe@example-co.com>",
        "{stored:#}"
    );
    // The same person by the bare address: the known person's owner, not the next turn.
    let again = server
        .post("/v1/leads")
        .intake()
        .json(&lead("jane.doe@example-co.com"))
        .send()
        .expect_status(201)
        .json();
    assert_eq!(
        owner_of(&again).as_deref(),
        Some(owner.as_str()),
        "{again:#}"
    );
    assert_eq!(again["path"], "known_person", "{again:#}");
}

#[test]
fn route_uses_the_address_of_a_name_addr_email() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("lead.json");
    std::fs::write(
        &file,
        lead("Jane Doe <jane@globex-industries.com>").to_string(),
    )
    .unwrap();
    let config = e2e_config();
    let out = cli(&[
        "route",
        "--json",
        "--config",
        config.to_str().unwrap(),
        file.to_str().unwrap(),
    ])
    .expect_code(0);
    let v: Value =
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| out.fail(&format!("not JSON: {e}")));
    let facts = &v["trace"]["facts"];
    out.check(
        facts["email"] == "jane@globex-industries.com",
        "the trace's email is the address",
    );
    out.check(
        !out.stdout.contains("not a usable address"),
        "no issue about the email",
    );
}
