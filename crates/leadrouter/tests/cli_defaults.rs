//! The command line and its defaults as a new user meets them (issue 23): `serve` with no
//! config, `init`, the same variable names in `import` as in `serve`, `route --json`
//! against the HTTP answer, `route | head`, and a form posted to the JSON endpoint.

mod support;

use serde_json::Value;
use std::collections::BTreeSet;
use std::io::Read as _;
use std::process::{Command, Stdio};
use support::*;

fn demo_lead() -> Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/leads/01-hot-enterprise-demo-amer.json"
    );
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// `leadrouter serve` alone, started in an empty temporary folder (not the repository),
/// runs the demo config compiled into the binary, says so, and routes the demo's leads.
#[test]
fn serve_without_config_runs_the_embedded_demo_from_any_folder() {
    let server = Server::start(ServeOptions::embedded_demo(binary()));
    let log = server.stderr();
    server.check(
        log.contains("running the demo config embedded in this binary"),
        || "the log says the embedded demo runs".into(),
    );
    server.check(!server.dir().join("examples").exists(), || {
        "the server runs outside the repository".into()
    });
    let d = server.submit(&demo_lead());
    server.check(owner_of(&d).is_some(), || {
        format!("a demo lead is assigned: {d:#}")
    });
    // The demo's own names: a rep of the Northwind config, its config version.
    let version = d["config_version"].as_str().unwrap_or_default().to_string();
    let out = cli(&[
        "check",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo.toml"),
        "--json",
    ])
    .expect_code(0);
    let check: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(
        check["version"],
        version.as_str(),
        "the embedded files are examples/"
    );
}

/// `init DIR` writes a starter that `check` accepts and `serve` routes with; a second
/// `init` into the same folder refuses and changes nothing.
#[test]
fn init_writes_a_starter_check_accepts_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("routing");
    let t = target.display().to_string();
    let out = cli(&["init", &t]).expect_code(0);
    let config = target.join("leadrouter.toml");
    for f in ["leadrouter.toml", "matrix.csv", "accounts.csv"] {
        out.check(target.join(f).is_file(), &format!("{f} is written"));
    }
    let text = std::fs::read_to_string(&config).unwrap();
    assert!(
        text.lines().filter(|l| l.starts_with('#')).count() >= 10,
        "the starter is commented:\n{text}"
    );
    let c = config.display().to_string();
    let checked = cli(&["check", &c, "--json"]).expect_code(0);
    let v: Value = serde_json::from_str(&checked.stdout).unwrap();
    checked.check(v["ok"] == true, "check accepts the starter without errors");
    checked.check(v["rules"].as_u64() >= Some(1), "the matrix CSV is read");

    let server = Server::start(serve(&config));
    let d = server.submit(&serde_json::json!({
        "email": "jo@bigco-software.com", "company": "BigCo", "employees": 5000,
        "industry": "software", "country": "US", "action": "demo_request"
    }));
    // Its rule decides (the rep may be off shift now: then the lead waits in a queue).
    server.check(d["rule"] == "enterprise-amer", || {
        format!("the starter's matrix routes the lead: {d:#}")
    });
    drop(server);

    // Edited by the user, then `init` again: refused, the edit kept.
    std::fs::write(target.join("matrix.csv"), "edited").unwrap();
    let again = cli(&["init", &t]).expect_failure();
    again.check(
        again.stderr.contains("already exist") && again.stderr.contains("nothing was written"),
        "init refuses to overwrite and says so",
    );
    assert_eq!(
        std::fs::read_to_string(target.join("matrix.csv")).unwrap(),
        "edited"
    );
}

/// `import` takes its key from LEADROUTER_ADMIN_KEYS (the list `serve` reads: the first
/// key, `name=key` entries too) and the service from LEADROUTER_URL; the old
/// LEADROUTER_ADMIN_KEY still works with a deprecation warning.
#[test]
fn import_reads_the_key_and_url_serve_uses() {
    let server = Server::start(e2e());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("one.csv");
    std::fs::write(
        &file,
        "email,company,employees\nsolo@solo-co.com,Solo Co,500\n",
    )
    .unwrap();
    let f = file.display().to_string();
    let keys = format!("ops={ADMIN_KEY},another-key");
    let out = Cli::run_in(
        binary(),
        &["import", &f],
        &[
            ("LEADROUTER_ADMIN_KEYS", &keys),
            ("LEADROUTER_URL", &server.url),
        ],
        None,
    )
    .expect_code(0);
    out.check(
        out.stdout.contains("1 imported"),
        "imported with serve's variables",
    );
    out.check(
        !out.stderr.contains("deprecated"),
        "no warning for the current name",
    );

    let old = Cli::run_in(
        binary(),
        &["import", &f],
        &[
            ("LEADROUTER_ADMIN_KEY", ADMIN_KEY),
            ("LEADROUTER_URL", &server.url),
        ],
        None,
    )
    .expect_code(0);
    old.check(
        old.stderr.contains("LEADROUTER_ADMIN_KEY is deprecated"),
        "the old name warns",
    );

    let none = Cli::run_in(
        binary(),
        &["import", &f],
        &[("LEADROUTER_URL", &server.url)],
        None,
    )
    .expect_failure();
    none.check(
        none.stderr.contains("LEADROUTER_ADMIN_KEYS") && none.stderr.contains("--key"),
        "without a key, the error names the variable and the flag",
    );
}

/// `route --json` carries exactly the fields `POST /v1/leads?explain=true` answers with
/// (plus `effects`), with the same values for the same lead at the same instant.
#[test]
fn route_json_has_the_fields_of_the_http_answer() {
    let server = Server::start(e2e());
    let lead = serde_json::json!({
        "email": "dana@northwind-parity.com", "company": "Parity Co", "employees": 1500,
        "industry": "software", "country": "US", "state": "NY", "action": "demo_request"
    });
    let http = server
        .post("/v1/leads?explain=true")
        .intake()
        .json(&lead)
        .send()
        .expect_status(201)
        .json();
    let at = http["routed_at"].as_str().unwrap().to_string();
    let dir = tempfile::tempdir().unwrap();
    let lead_file = dir.path().join("lead.json");
    std::fs::write(&lead_file, lead.to_string()).unwrap();
    let cfg = e2e_config().display().to_string();
    let lf = lead_file.display().to_string();
    let out = cli(&[
        "route",
        "--config",
        &cfg,
        "--at",
        &at,
        "--json",
        "--explain",
        "--enrich",
        &lf,
    ])
    .expect_code(0);
    let offline: Value = serde_json::from_str(&out.stdout).unwrap();
    let keys = |v: &Value| -> BTreeSet<String> { v.as_object().unwrap().keys().cloned().collect() };
    let mut offline_keys = keys(&offline);
    assert!(offline_keys.remove("effects"), "route --json adds effects");
    assert_eq!(
        keys(&http),
        offline_keys,
        "same fields\nHTTP: {http:#}\nroute: {offline:#}"
    );
    assert_eq!(offline["lead_id"], Value::Null, "nothing is stored offline");
    for (k, v) in http.as_object().unwrap() {
        // Per request: the stored lead's id and its arrival; the trace's timings.
        if matches!(k.as_str(), "lead_id" | "received_at" | "trace") {
            continue;
        }
        assert_eq!(
            &offline[k], v,
            "field {k} differs\nHTTP: {http:#}\nroute: {offline:#}"
        );
    }
    assert!(offline["tier_number"].is_u64(), "tier_number offline too");
}

/// `leadrouter route … | head`: the reader closes the pipe; route exits quietly (no
/// panic, no "Broken pipe" on stderr).
#[test]
fn route_into_a_closed_pipe_exits_quietly() {
    let cfg = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/demo.toml");
    let lead = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../examples/leads/01-hot-enterprise-demo-amer.json"
    );
    for json in [false, true] {
        let mut args = vec![
            "route",
            "--config",
            cfg,
            "--at",
            "2026-11-23T15:00:00Z",
            lead,
        ];
        if json {
            args.push("--json");
        }
        let mut child = Command::new(binary())
            .args(&args)
            .env_remove("LEADROUTER_CONFIG")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Close the only read end before route writes: every write then fails with EPIPE.
        drop(child.stdout.take());
        let mut stderr = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        let status = child.wait().unwrap();
        assert!(
            status.success() && !stderr.contains("panicked") && !stderr.contains("Broken pipe"),
            "route {args:?} into a closed pipe: {status}\n{stderr}"
        );
    }
}

/// A form-encoded post to the JSON endpoint is told where forms go.
#[test]
fn a_form_posted_to_the_json_endpoint_is_pointed_at_the_forms_endpoint() {
    let server = Server::start(e2e());
    for ct in [
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
    ] {
        let r = server
            .post("/v1/leads")
            .intake()
            .body(ct, "email=a%40b.com&company=B")
            .send()
            .expect_status(415);
        let v = r.json();
        r.check(
            v["message"]
                .as_str()
                .is_some_and(|m| m.contains("/v1/forms/{key}")),
            "the error names /v1/forms/{key}",
        );
    }
}
