//! `leadrouter check` runs the same `[notify]` and `[enrichment]` parsers as `serve` and a
//! reload: a bad key or value there fails the check (exit 1) with file:line and the fix,
//! and a config the check refuses is refused by `serve` with the same message.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A config the core accepts: one rep in one team.
const CORE: &str = r#"[organization]
name = "Check CLI Co"
timezone = "UTC"

[routing]
default_team = "sales"

[[rep]]
id = "ana"
name = "Ana Ruiz"
email = "ana@example.com"

[[team]]
id = "sales"
name = "Sales"
members = ["ana"]
"#;

/// Lines of `CORE`, so the tests can name the line of what they append.
fn core_lines() -> usize {
    CORE.lines().count()
}

struct Run {
    command: String,
    out: Output,
}

impl Run {
    fn code(&self) -> Option<i32> {
        self.out.status.code()
    }

    fn stdout(&self) -> String {
        String::from_utf8_lossy(&self.out.stdout).into_owned()
    }

    fn stderr(&self) -> String {
        String::from_utf8_lossy(&self.out.stderr).into_owned()
    }

    /// Panic with the command and its output unless `ok`.
    fn expect(&self, ok: bool, what: &str) {
        assert!(
            ok,
            "{what}\n--- command ---\n{}\n--- exit code: {:?} ---\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.command,
            self.code(),
            self.stdout(),
            self.stderr()
        );
    }
}

fn leadrouter(args: &[&str], env: &[(&str, &str)]) -> Run {
    let bin = env!("CARGO_BIN_EXE_leadrouter");
    let mut cmd = Command::new(bin);
    cmd.args(args)
        .env_remove("LEADROUTER_CONFIG")
        .env_remove("CHECK_CLI_SMTP_URL")
        .stdin(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("cannot run {bin}: {e}"));
    Run {
        command: format!("{bin} {}", args.join(" ")),
        out,
    }
}

fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("check.toml");
    std::fs::write(&path, format!("{CORE}{extra}")).expect("write the config");
    path
}

#[test]
fn a_bad_notify_key_fails_check_with_its_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "\n[notify]\nbase_url = \"https://leadrouter.example.com\"\ntmeout_secs = 3\n",
    );
    let path = path.to_str().unwrap();
    let run = leadrouter(&["check", path], &[]);
    run.expect(run.code() == Some(1), "check must refuse the [notify] key");
    let line = core_lines() + 4;
    let err = run.stderr();
    run.expect(
        err.contains(&format!(
            "{path}:{line}: notify.tmeout_secs: unknown key `tmeout_secs`"
        )),
        "the error names file:line and the key",
    );
    run.expect(
        err.contains("fix: did you mean `timeout_secs`?"),
        "the error gives the fix",
    );

    let json = leadrouter(&["check", "--json", path], &[]);
    json.expect(json.code() == Some(1), "check --json must refuse it too");
    let v: serde_json::Value = serde_json::from_str(&json.stdout()).expect("JSON on stdout");
    json.expect(v["ok"] == false, "ok is false");
    json.expect(
        v["errors"][0]["line"] == line,
        "the JSON error has the line",
    );
    json.expect(
        v["errors"][0]["field"] == "notify.tmeout_secs",
        "the JSON error has the key",
    );
}

#[test]
fn a_bad_enrichment_value_fails_check_with_its_line_and_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(dir.path(), "\n[enrichment]\nbudget = \"soon\"\n");
    let path = path.to_str().unwrap();
    let run = leadrouter(&["check", path], &[]);
    run.expect(
        run.code() == Some(1),
        "check must refuse the [enrichment] value",
    );
    let line = core_lines() + 3;
    let err = run.stderr();
    run.expect(
        err.contains(&format!(
            "{path}:{line}: enrichment.budget = \"soon\": not a duration"
        )),
        "the error names file:line, the key and the value",
    );
    run.expect(
        err.contains("fix: write a number with a unit (ms, s, m, h, d), e.g. \"2s\""),
        "the error gives the fix",
    );
}

/// The check resolves secrets the way `serve` does, in its own environment: what it
/// refuses, `serve` refuses with the same message, and what it accepts, `serve` gets past.
#[test]
fn check_and_serve_agree_on_a_missing_secret() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_config(
        dir.path(),
        "\n[notify]\nbase_url = \"https://leadrouter.example.com\"\n[notify.email]\nsmtp_url_env = \"CHECK_CLI_SMTP_URL\"\nfrom = \"Sales <sales@example.com>\"\n",
    );
    let path = path.to_str().unwrap();
    let expected = format!(
        "{path}:{}: notify.email.smtp_url_env = \"CHECK_CLI_SMTP_URL\": environment variable CHECK_CLI_SMTP_URL is not set",
        core_lines() + 5
    );

    let check = leadrouter(&["check", path], &[]);
    check.expect(
        check.code() == Some(1),
        "check must refuse the missing secret",
    );
    check.expect(check.stderr().contains(&expected), "check names the line");

    // serve stops at the same error before it opens the database or listens.
    let db = format!("sqlite://{}", dir.path().join("lr.db").display());
    let serve = leadrouter(
        &[
            "serve",
            "--config",
            path,
            "--database",
            &db,
            "--listen",
            "127.0.0.1:0",
        ],
        &[],
    );
    serve.expect(serve.code() == Some(2), "serve must refuse it as well");
    serve.expect(
        serve.stderr().contains(&expected),
        "serve gives the same error",
    );

    let ok = leadrouter(
        &["check", path],
        &[("CHECK_CLI_SMTP_URL", "smtp://127.0.0.1:2525")],
    );
    ok.expect(ok.code() == Some(0), "with the secret set the check passes");
}
