//! `leadrouter check` (OPS-2) warns about what would otherwise route leads wrongly without
//! a word: values no normalised lead can match, an ICP nothing can fit, keywords with
//! stray spaces; each with file:line and the fix. A large matrix's findings are grouped
//! (by kind and by rule, with counts and the first few), in full only with `--verbose`
//! or `--json`.

mod support;

use std::path::Path;
use support::cli;

const BASE: &str = r#"[routing]
default_team = "sales"

[industries]
software = ["saas", "computer software"]
healthcare = []

[[rep]]
id = "ana"
name = "Ana Ruiz"
team = "sales"

[[team]]
id = "sales"
"#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// The line of `needle` in `text` (1-based).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in the config"))
        + 1
}

#[test]
fn ops_2_check_warns_about_values_that_can_never_match() {
    let dir = tempfile::tempdir().unwrap();
    let toml = format!(
        r#"{BASE}
[icp]
segments = []

[[scoring.title]]
contains = [" vp", "director"]
points = 10

[[rule]]
id = "ontario-in-us"
country = ["US"]
state = ["Ontario"]
route_to = "team:sales"

[[rule]]
id = "de-in-amer"
region = ["AMER"]
country = ["DE"]
route_to = "team:sales"

[[rule]]
id = "fintech"
industry = ["fintech"]
route_to = "team:sales"

[[rule]]
id = "zip4"
country = ["US"]
postal_code = ["94105-1234"]
route_to = "team:sales"
"#
    );
    let path = write(dir.path(), "traps.toml", &toml);
    let out = cli(&["check", &path]).expect_code(0);
    let warn = |kind: &str, needle: &str, fix: &str| {
        let line = line_of(&toml, needle) - usize::from(needle.starts_with("id = "));
        let at = format!("{path}:{line}:");
        let hit = out.stdout.split("\nwarning").any(|block| {
            block.contains(&format!("[{kind}]: {at}"))
                && block.contains("fix: ")
                && block.contains(fix)
        });
        out.check(
            hit,
            &format!("a {kind} warning at {at} with the fix {fix:?}"),
        );
    };
    warn(
        "icp-never-fits",
        "segments = []",
        "list the segments that fit",
    );
    warn("keyword-spaces", "contains = [\" vp\"", "write \"vp\"");
    // Rule findings point at the rule (its `[[rule]]` line, just above its id).
    warn(
        "value-never-matches",
        "id = \"ontario-in-us\"",
        "ISO 3166-2 code",
    );
    out.check(
        out.stdout.contains("it is ON in CA"),
        "the state warning says where Ontario is",
    );
    warn("value-never-matches", "id = \"de-in-amer\"", "add EMEA");
    warn(
        "value-never-matches",
        "id = \"fintech\"",
        "add `fintech` to [industries]",
    );
    warn("value-never-matches", "id = \"zip4\"", "write \"94105\"");
    // --strict turns them into a failure.
    cli(&["check", "--strict", &path]).expect_code(1);
}

#[test]
fn a_matrix_with_crlf_line_ends_is_reported_at_the_right_lines() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "m.csv",
        "id,country,state,route_to\r\nok,US,CA,team:sales\r\nbad,US,Ontario,team:sales\r\n",
    );
    let path = write(
        dir.path(),
        "c.toml",
        &BASE.replace("[routing]\n", "[routing]\nmatrix_csv = \"m.csv\"\n"),
    );
    let out = cli(&["check", &path]).expect_code(0);
    out.check(
        out.stdout.contains("m.csv:3: rule bad: state `Ontario`"),
        "the warning names line 3 of the CRLF file",
    );
    // An error in a CRLF file names its line too.
    write(
        dir.path(),
        "m.csv",
        "id,priority,route_to\r\nok,1,team:sales\r\nbad,high,team:sales\r\n",
    );
    let out = cli(&["check", &path]).expect_code(1);
    out.check(out.stderr.contains("m.csv:3"), "the error names line 3");
}

#[test]
fn an_enrichment_file_with_unusable_values_is_reported_when_loaded() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "firmo.csv",
        "domain,name,employees\r\nglobex.com,Globex,500\r\nhttps:,Initech,300\r\n",
    );
    let path = write(
        dir.path(),
        "c.toml",
        &format!(
            "{BASE}\n[enrichment]\nbudget = \"2s\"\n\n[[enrichment.provider]]\nname = \"vendor\"\nkind = \"file\"\npath = \"firmo.csv\"\n"
        ),
    );
    let out = cli(&["check", &path]).expect_code(0);
    out.check(
        out.stdout.contains("warning[enrichment-file]")
            && out
                .stdout
                .contains("firmo.csv: line 3: domain `https:` is not a domain"),
        "the unusable domain with its line",
    );
}

#[test]
fn a_large_matrix_is_summarised_and_verbose_or_json_list_everything() {
    let dir = tempfile::tempdir().unwrap();
    // 160 rules at one priority, each overlapping every other (on software) without
    // covering it (each has an industry of its own): 6,400 pairs with different targets.
    let mut csv = String::from("id,segment,industry,route_to\n");
    for i in 0..160 {
        let target = if i % 2 == 0 {
            "team:sales"
        } else {
            "queue:catch-all"
        };
        csv.push_str(&format!("r{i},enterprise,software|niche{i},{target}\n"));
    }
    write(dir.path(), "m.csv", &csv);
    let path = write(
        dir.path(),
        "c.toml",
        &BASE.replace("[routing]\n", "[routing]\nmatrix_csv = \"m.csv\"\n"),
    );
    let out = cli(&["check", "--json", &path]).expect_code(0);
    let v: serde_json::Value = serde_json::from_str(&out.stdout).unwrap();
    let all = v["findings"].as_array().unwrap().len();
    out.check(all > 6_400, "JSON lists every finding");
    let overlaps = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["kind"] == "overlapping-rules")
        .unwrap_or_else(|| out.fail("a group for the overlaps"))
        .clone();
    let n = overlaps["count"].as_u64().unwrap() as usize;
    assert_eq!(
        n,
        v["findings"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|f| f["kind"] == "overlapping-rules")
            .count()
    );

    let out = cli(&["check", &path]).expect_code(0);
    let lines = out.stdout.lines().count();
    out.check(lines < 60, &format!("the summary is short ({lines} lines)"));
    out.check(
        out.stdout
            .contains(&format!("warning[overlapping-rules]: {n} finding(s) on ")),
        "the overlap group with its count",
    );
    out.check(out.stdout.contains("most on: "), "the rules with the most");
    out.check(
        out.stdout.contains("by rule: findings on "),
        "the by-rule line",
    );
    out.check(out.stdout.contains("--verbose"), "how to see every finding");

    let out = cli(&["check", "--verbose", &path]).expect_code(0);
    let full = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("warning[overlapping-rules]"))
        .count();
    assert_eq!(full, n, "--verbose prints every finding");
}
