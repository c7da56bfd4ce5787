//! The reference docs, checked against the code, so a reader who follows them is not misled:
//!
//! - every requirement id the repository cites (`CAP-1`, `SLA-2/3`, `NTF-1..4`) is defined
//!   in docs/requirements.md, and every file and function that page names exists;
//! - every ```toml block in docs/config.md, docs/notifications.md and docs/enrichment.md
//!   compiles (or, when marked `invalid`, is refused) — see [`toml_examples_in_the_docs`]
//!   for how blocks are read; and every key the routing config accepts is named in
//!   docs/config.md;
//! - the routes of the server's router, crates/server/src/openapi.json and docs/api.md
//!   name the same routes, and docs/operations.md every environment variable the binary
//!   and the server read.
//!
//! Routes are read from the source (every `.route("PATH", METHOD(…)…)` under
//! crates/server/src), since axum cannot list a router's routes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("the repository root")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

fn rel(path: &Path) -> String {
    path.strip_prefix(root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// Files under `dir` whose extension is one of `exts`, skipping build output, VCS data
/// and hidden folders.
fn files_under(dir: &Path, exts: &[&str]) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let p = e.path();
            let name = e.file_name().to_string_lossy().into_owned();
            if p.is_dir() {
                if name != "target" && !name.starts_with('.') && name != "node_modules" {
                    stack.push(p);
                }
            } else if p
                .extension()
                .and_then(|x| x.to_str())
                .is_some_and(|x| exts.contains(&x))
            {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn is_word(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

// --- requirement ids ---------------------------------------------------------------

fn requirements_page() -> String {
    read(&root().join("docs/requirements.md"))
}

/// The ids defined by docs/requirements.md: its `### FAMILY-N title` headings.
fn defined_ids(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter_map(|l| l.strip_prefix("### "))
        .filter_map(|h| h.split_whitespace().next())
        .filter(|id| parse_id(id).is_some())
        .map(str::to_string)
        .collect()
}

fn parse_id(s: &str) -> Option<(&str, u32)> {
    let (family, n) = s.split_once('-')?;
    if family.is_empty() || !family.chars().all(|c| c.is_ascii_uppercase()) {
        return None;
    }
    if n.is_empty() || !n.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    Some((family, n.parse().ok()?))
}

/// Every requirement id of one of `families` cited in `text`, with its line. Shorthands
/// expand: `NTF-1..4` is NTF-1 to NTF-4, `SLA-2/3` is SLA-2 and SLA-3.
fn cited_ids(text: &str, families: &BTreeSet<String>) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (ln, line) in text.lines().enumerate() {
        let b = line.as_bytes();
        for family in families {
            let pat = format!("{family}-");
            let mut from = 0;
            while let Some(off) = line[from..].find(&pat) {
                let at = from + off;
                from = at + pat.len();
                let before = line[..at].chars().next_back();
                if before.is_some_and(|c| is_word(c) || c == '-') {
                    continue;
                }
                let digits = |i: usize| {
                    let n = b[i..].iter().take_while(|c| c.is_ascii_digit()).count();
                    (n > 0).then(|| (line[i..i + n].parse::<u32>().unwrap_or(0), i + n))
                };
                let Some((first, mut i)) = digits(from) else {
                    continue;
                };
                let mut nums = vec![first];
                loop {
                    if line[i..].starts_with("..")
                        && let Some((last, j)) = digits(i + 2)
                    {
                        nums.extend(first + 1..=last);
                        i = j;
                    } else if line[i..].starts_with('/')
                        && let Some((n, j)) = digits(i + 1)
                    {
                        nums.push(n);
                        i = j;
                    } else {
                        break;
                    }
                }
                out.extend(nums.into_iter().map(|n| (format!("{family}-{n}"), ln + 1)));
            }
        }
    }
    out
}

#[test]
fn every_cited_requirement_id_is_defined() {
    let page = requirements_page();
    let defined = defined_ids(&page);
    assert!(
        defined.len() >= 50,
        "docs/requirements.md defines only {} ids; its headings must read `### CAP-1 title`",
        defined.len()
    );
    let families: BTreeSet<String> = defined
        .iter()
        .filter_map(|id| parse_id(id).map(|(f, _)| f.to_string()))
        .collect();
    let exts = ["rs", "md", "toml", "sql", "csv", "json", "sh", "py", "html"];
    let mut undefined: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut cites = 0;
    for f in files_under(&root(), &exts) {
        for (id, line) in cited_ids(&read(&f), &families) {
            cites += 1;
            if !defined.contains(&id) {
                undefined
                    .entry(id)
                    .or_default()
                    .push(format!("{}:{line}", rel(&f)));
            }
        }
    }
    // The repository cites ids a few hundred times; far fewer means the scan is broken.
    assert!(
        cites > 300,
        "only {cites} requirement ids found in the repository"
    );
    assert!(
        undefined.is_empty(),
        "ids cited but not defined in docs/requirements.md (add a `### ID title` entry, or fix the citation):\n{}",
        undefined
            .iter()
            .map(|(id, at)| format!("  {id}: {}", at.join(", ")))
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn cited_ids_expand_shorthands_and_skip_lookalikes() {
    let families: BTreeSet<String> = ["NTF", "SLA", "ACC"].map(String::from).into();
    let ids = |t: &str| {
        cited_ids(t, &families)
            .into_iter()
            .map(|(id, _)| id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids("NTF-1..3 and SLA-2/3, (ACC-1/ACC-2)"),
        [
            "ACC-1", "ACC-2", "NTF-1", "NTF-2", "NTF-3", "SLA-2", "SLA-3"
        ]
    );
    assert!(ids("TEST-NTF-1 XSLA-2 SLA- NTF-x").is_empty());
}

/// Where docs/requirements.md says a requirement is built and tested: `- Code:` and
/// `- Tests:` lines, each a list of `[path](../path)` links followed by the functions
/// in that file, in backticks. A backticked name inside parentheses is any text the file
/// holds (a type, a key, a header); a bare one is a `fn` of that file.
#[test]
fn requirement_links_point_at_existing_files_and_functions() {
    let page = requirements_page();
    let docs = root().join("docs");
    let mut problems = Vec::new();
    let mut checked = 0;
    for (ln, line) in page.lines().enumerate() {
        let Some(rest) = line
            .strip_prefix("- Code: ")
            .or_else(|| line.strip_prefix("- Tests: "))
        else {
            continue;
        };
        let mut parts = rest.split("](").skip(1).peekable();
        if parts.peek().is_none() {
            problems.push(format!("line {}: no link", ln + 1));
        }
        for part in parts {
            let Some((target, after)) = part.split_once(')') else {
                problems.push(format!("line {}: unclosed link", ln + 1));
                continue;
            };
            let after = after.split('[').next().unwrap_or("");
            let path = docs.join(target);
            if !path.exists() {
                problems.push(format!("line {}: {target} does not exist", ln + 1));
                continue;
            }
            checked += 1;
            if path.is_dir() {
                continue;
            }
            let text = read(&path);
            let (loose, bare) = split_parenthesised(after);
            for name in backticked(&loose) {
                if !text.to_lowercase().contains(&name.to_lowercase()) {
                    problems.push(format!("line {}: {target} has no `{name}`", ln + 1));
                }
            }
            for name in backticked(&bare) {
                if !has_fn(&text, &name) {
                    let elsewhere = where_is_fn(&name);
                    problems.push(format!(
                        "line {}: {target} has no fn `{name}`{}",
                        ln + 1,
                        if elsewhere.is_empty() {
                            String::new()
                        } else {
                            format!(" (found in {})", elsewhere.join(", "))
                        }
                    ));
                }
            }
        }
    }
    assert!(checked > 100, "only {checked} links checked");
    assert!(
        problems.is_empty(),
        "docs/requirements.md points at code that is not there:\n  {}",
        problems.join("\n  ")
    );
}

/// Text inside parentheses, and the rest.
fn split_parenthesised(s: &str) -> (String, String) {
    let (mut inside, mut outside, mut depth) = (String::new(), String::new(), 0u32);
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => depth = depth.saturating_sub(1),
            _ if depth > 0 => inside.push(c),
            _ => outside.push(c),
        }
    }
    (inside, outside)
}

fn backticked(s: &str) -> Vec<String> {
    s.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn has_fn(text: &str, name: &str) -> bool {
    let pat = format!("fn {name}");
    text.match_indices(&pat).any(|(i, _)| {
        let next = text[i + pat.len()..].chars().next();
        let before = text[..i].chars().next_back();
        !next.is_some_and(is_word) && !before.is_some_and(is_word)
    })
}

/// Where a function went, for the failure message when code moved.
fn where_is_fn(name: &str) -> Vec<String> {
    files_under(&root().join("crates"), &["rs"])
        .into_iter()
        .filter(|f| has_fn(&read(f), name))
        .map(|f| rel(&f))
        .collect()
}

// --- config examples ---------------------------------------------------------------

/// One fenced block: its info string words after the language, its text, its line.
struct Block {
    attrs: Vec<String>,
    text: String,
    line: usize,
}

fn fenced_blocks(doc: &str, lang: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<Block> = None;
    for (ln, line) in doc.lines().enumerate() {
        let fence = line.trim_start().strip_prefix("```");
        match (open.as_mut(), fence) {
            (Some(_), Some(_)) => out.extend(open.take()),
            (Some(b), None) => {
                b.text.push_str(line);
                b.text.push('\n');
            }
            (None, Some(info)) => {
                let mut words = info.split([' ', ',']).filter(|w| !w.is_empty());
                let lang_of_block = words.next().unwrap_or("").to_string();
                let mut attrs: Vec<String> = words.map(str::to_string).collect();
                attrs.insert(0, lang_of_block);
                open = Some(Block {
                    attrs,
                    text: String::new(),
                    line: ln + 1,
                });
            }
            (None, None) => {}
        }
    }
    out.retain(|b| b.attrs[0] == lang);
    for b in &mut out {
        b.attrs.remove(0);
    }
    out
}

/// Merge a doc fragment into the demo config: tables merge key by key; an array of tables
/// (`[[rep]]`, `[[rule]]`, …) has the entry with the same identity (`id`, `domain`,
/// `name`, `key`, or `tier` + `segment`) replaced, else the fragment's entry appended;
/// any other value replaces the demo's.
fn merge(base: &mut toml::Table, fragment: toml::Table) {
    for (k, v) in fragment {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(f)) => merge(b, f),
            (Some(toml::Value::Array(b)), toml::Value::Array(f))
                if f.iter().all(toml::Value::is_table) =>
            {
                for item in f {
                    let id = identity(&item);
                    match b.iter().position(|x| id.is_some() && identity(x) == id) {
                        Some(i) => b[i] = item,
                        None => b.push(item),
                    }
                }
            }
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

fn identity(v: &toml::Value) -> Option<String> {
    let t = v.as_table()?;
    let s = |k: &str| t.get(k).and_then(toml::Value::as_str);
    ["id", "domain", "name", "key"]
        .iter()
        .find_map(|k| s(k).map(|v| format!("{k}={v}")))
        .or_else(|| Some(format!("tier={}/segment={}", s("tier")?, s("segment")?)))
}

/// Compile a config the way `serve` does: the routing config, then `[notify]` and
/// `[enrichment]` with their own parsers. Secrets named by the config are supplied.
fn compile_all(path: &Path) -> Result<(), String> {
    let cfg = leadrouter_core::config::load(path).map_err(|e| e.to_string())?;
    leadrouter_notify::NotifyConfig::parse(&cfg.source).map_err(|e| format!("[notify] {e}"))?;
    leadrouter_enrich::Enricher::from_config_with_env(&cfg.source, &cfg.base_dir, None, &|_| {
        Some("docs-example-secret".into())
    })
    .map_err(|e| {
        let all: Vec<String> = e.iter().map(ToString::to_string).collect();
        format!("[enrichment] {}", all.join("; "))
    })?;
    Ok(())
}

/// How the ```toml blocks of the docs are checked. The words after `toml` in the info
/// string say what a block is:
///
/// - none: a fragment of a config, merged into examples/demo.toml ([`merge`]); the result
///   must compile;
/// - `invalid`: the same, but the result must be refused (an example of a mistake);
/// - `in-rep`: keys of one `[[rep]]`, set on the demo's first rep;
/// - `per-line`: every non-blank line is a separate example (alternatives of one key).
#[test]
fn toml_examples_in_the_docs() {
    // The CSV and firmographic files the demo names sit beside the merged config.
    let (demo, dir) = demo_copy();
    let mut problems = Vec::new();
    let mut checked = 0;
    for doc in [
        "docs/config.md",
        "docs/notifications.md",
        "docs/enrichment.md",
    ] {
        for block in fenced_blocks(&read(&root().join(doc)), "toml") {
            let has = |a: &str| block.attrs.iter().any(|x| x == a);
            let examples: Vec<String> = if has("per-line") {
                block
                    .text
                    .lines()
                    .filter(|l| !l.trim().is_empty())
                    .map(str::to_string)
                    .collect()
            } else {
                vec![block.text.clone()]
            };
            for (i, text) in examples.iter().enumerate() {
                let at = format!("{doc}:{} (example {})", block.line, i + 1);
                let fragment: toml::Table = match toml::from_str(text) {
                    Ok(t) => t,
                    Err(_) if has("invalid") => {
                        checked += 1;
                        continue;
                    }
                    Err(e) => {
                        problems.push(format!("{at}: not TOML: {e}"));
                        continue;
                    }
                };
                let mut cfg = demo.clone();
                if has("in-rep") {
                    let rep = cfg
                        .get_mut("rep")
                        .and_then(toml::Value::as_array_mut)
                        .and_then(|a| a.first_mut())
                        .and_then(toml::Value::as_table_mut)
                        .expect("the demo has reps");
                    merge(rep, fragment);
                } else {
                    merge(&mut cfg, fragment);
                }
                let path = dir.path().join(format!("docs-example-{checked}.toml"));
                std::fs::write(&path, toml::to_string(&cfg).expect("serialise")).expect("write");
                checked += 1;
                match (compile_all(&path), has("invalid")) {
                    (Ok(()), true) => problems.push(format!("{at}: marked invalid but compiles")),
                    (Err(e), false) => problems.push(format!("{at}: refused:\n{e}")),
                    _ => {}
                }
            }
        }
    }
    assert!(checked >= 15, "only {checked} toml examples found");
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The demo's files in a temporary folder, to compile variants of the demo config there.
fn demo_copy() -> (toml::Table, tempfile::TempDir) {
    let demo_dir = root().join("examples");
    let demo: toml::Table = toml::from_str(&read(&demo_dir.join("demo.toml"))).expect("demo");
    let dir = tempfile::tempdir().expect("tempdir");
    for e in std::fs::read_dir(&demo_dir).expect("examples").flatten() {
        if e.path().is_file() && e.file_name() != "demo.toml" {
            std::fs::copy(e.path(), dir.path().join(e.file_name())).expect("copy");
        }
    }
    (demo, dir)
}

/// Every key the routing config accepts is named in docs/config.md. Each table is probed
/// with a key that does not exist, and the keys it does accept are read back from the
/// error. `[notify]` and `[enrichment]` have pages of their own.
#[test]
fn every_config_key_is_in_config_md() {
    let doc = read(&root().join("docs/config.md"));
    let (demo, dir) = demo_copy();
    let tables: [&[&str]; 21] = [
        &[],
        &["organization"],
        &["routing"],
        &["queues"],
        &["intent"],
        &["icp"],
        &["scoring"],
        &["scoring", "title"],
        &["scoring", "page"],
        &["sla", "hot"],
        &["sla", "override"],
        &["capacity"],
        &["leadership"],
        &["segment"],
        &["manager"],
        &["rep"],
        &["rep", "out_of_office"],
        &["team"],
        &["account"],
        &["rule"],
        &["form"],
    ];
    let documented = |path: &[&str], k: &str| {
        let dotted = path
            .iter()
            .chain([&k])
            .copied()
            .collect::<Vec<_>>()
            .join(".");
        [
            format!("`{k}`"),
            format!("[{k}]"),
            format!("[{k}."),
            format!("`{k} "),
            dotted,
        ]
        .iter()
        .any(|p| doc.contains(p.as_str()))
    };
    let mut problems = Vec::new();
    for (n, path) in tables.iter().enumerate() {
        let name = if path.is_empty() {
            "(top level)".to_string()
        } else {
            path.join(".")
        };
        let mut cfg = demo.clone();
        let Some(t) = table_at(&mut cfg, path) else {
            problems.push(format!("{name}: the demo has no such table to probe"));
            continue;
        };
        t.insert("zz_not_a_key".into(), toml::Value::Boolean(true));
        let file = dir.path().join(format!("probe-{n}.toml"));
        std::fs::write(&file, toml::to_string(&cfg).expect("serialise")).expect("write");
        let err = match leadrouter_core::config::load(&file) {
            Ok(_) => {
                problems.push(format!("{name}: an unknown key is accepted silently"));
                continue;
            }
            Err(e) => e.to_string(),
        };
        // The fix's "valid keys: a, b, c", or serde's own "expected `a` or `b`" /
        // "expected one of `a`, `b`, `c`".
        let first_line = |s: &str| s.lines().next().unwrap_or("").to_string();
        let keys: Vec<String> = if let Some((_, list)) = err.split_once("valid keys: ") {
            first_line(list)
                .split(", ")
                .map(|k| k.trim().to_string())
                .collect()
        } else if let Some((_, list)) = err.split_once("`zz_not_a_key`, expected") {
            backticked(&first_line(list))
        } else {
            problems.push(format!("{name}: the error lists no keys: {err}"));
            continue;
        };
        if keys.is_empty() {
            problems.push(format!("{name}: no keys read from: {err}"));
        }
        for key in keys {
            if !documented(path, &key) {
                problems.push(format!(
                    "{name}: `{key}` is accepted but not in docs/config.md"
                ));
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// The table at `path` (the first entry of an array of tables that has the next key).
fn table_at<'a>(t: &'a mut toml::Table, path: &[&str]) -> Option<&'a mut toml::Table> {
    let Some((first, rest)) = path.split_first() else {
        return Some(t);
    };
    match t.get_mut(*first)? {
        toml::Value::Table(inner) => table_at(inner, rest),
        toml::Value::Array(items) => {
            let next = rest.first();
            let item = items
                .iter_mut()
                .find(|v| next.is_none_or(|k| v.as_table().is_some_and(|t| t.contains_key(*k))))?;
            table_at(item.as_table_mut()?, rest)
        }
        _ => None,
    }
}

#[test]
fn merge_replaces_entries_by_identity_and_appends_the_rest() {
    let mut base: toml::Table =
        toml::from_str("[a]\nx = 1\ny = 2\n[[rep]]\nid = \"r1\"\nw = 1\n[[rep]]\nid = \"r2\"\n")
            .unwrap();
    let frag: toml::Table =
        toml::from_str("[a]\ny = 3\n[[rep]]\nid = \"r2\"\nw = 5\n[[rep]]\nid = \"r3\"\n").unwrap();
    merge(&mut base, frag);
    let want: toml::Table = toml::from_str(
        "[a]\nx = 1\ny = 3\n[[rep]]\nid = \"r1\"\nw = 1\n[[rep]]\nid = \"r2\"\nw = 5\n[[rep]]\nid = \"r3\"\n",
    )
    .unwrap();
    assert_eq!(base, want);
}

// --- routes --------------------------------------------------------------------------

const METHODS: [&str; 7] = ["get", "post", "put", "delete", "patch", "head", "options"];

/// (METHOD, path) of every route registered under crates/server/src.
fn router_routes() -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for f in files_under(&root().join("crates/server/src"), &["rs"]) {
        let text = read(&f);
        for unsupported in [".nest(", ".nest_service(", ".route_service("] {
            assert!(
                !text.contains(unsupported),
                "{}: `{unsupported}` is not read by this test; teach router_routes about it",
                rel(&f)
            );
        }
        for (at, _) in text.match_indices(".route(") {
            let args = &text[at + ".route(".len()..];
            let mut depth = 1;
            let end = args
                .char_indices()
                .find(|&(_, c)| {
                    match c {
                        '(' => depth += 1,
                        ')' => depth -= 1,
                        _ => {}
                    }
                    depth == 0
                })
                .map(|(i, _)| i)
                .unwrap_or_else(|| panic!("{}: unclosed .route(", rel(&f)));
            let args = &args[..end];
            // Only a router's `.route("/path", …)`; other methods named `route` (the
            // sequencer's) take no literal path.
            if !args.trim_start().starts_with('"') && !text.contains("Router") {
                continue;
            }
            let path = args
                .trim_start()
                .strip_prefix('"')
                .and_then(|s| s.split_once('"'))
                .map(|(p, _)| p.to_string())
                .unwrap_or_else(|| panic!("{}: .route( without a literal path", rel(&f)));
            let handlers = &args[args.find(',').expect("a method router")..];
            let mut found = false;
            for m in METHODS {
                let pat = format!("{m}(");
                for (i, _) in handlers.match_indices(&pat) {
                    if !handlers[..i].chars().next_back().is_some_and(is_word) {
                        out.insert((m.to_uppercase(), path.clone()));
                        found = true;
                    }
                }
            }
            assert!(found, "{}: route {path} has no method", rel(&f));
        }
    }
    out
}

fn openapi_routes() -> BTreeSet<(String, String)> {
    let spec: serde_json::Value =
        serde_json::from_str(&read(&root().join("crates/server/src/openapi.json")))
            .expect("openapi.json is JSON");
    let mut out = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for m in item.as_object().expect("path item").keys() {
            if METHODS.contains(&m.as_str()) {
                out.insert((m.to_uppercase(), path.clone()));
            }
        }
    }
    out
}

fn show(routes: &BTreeSet<&(String, String)>) -> String {
    routes
        .iter()
        .map(|(m, p)| format!("  {m} {p}"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_route_is_in_openapi_json_and_the_reverse() {
    let router = router_routes();
    let spec = openapi_routes();
    assert!(router.len() > 30, "only {} routes read", router.len());
    let undocumented: BTreeSet<_> = router.difference(&spec).collect();
    let phantom: BTreeSet<_> = spec.difference(&router).collect();
    assert!(
        undocumented.is_empty() && phantom.is_empty(),
        "routes missing from crates/server/src/openapi.json:\n{}\nroutes in openapi.json that the router does not have:\n{}",
        show(&undocumented),
        show(&phantom)
    );
}

/// docs/api.md names each route as "METHOD /path" (a query or punctuation may follow), and
/// no other.
#[test]
fn every_route_is_in_api_md() {
    let doc = read(&root().join("docs/api.md"));
    let named = |m: &str, p: &str| {
        let pat = format!("{m} {p}");
        doc.match_indices(&pat).any(|(i, _)| {
            !doc[i + pat.len()..]
                .chars()
                .next()
                .is_some_and(|c| is_word(c) || "/{}.-".contains(c))
        })
    };
    let routes = router_routes();
    let missing: BTreeSet<_> = routes.iter().filter(|(m, p)| !named(m, p)).collect();
    // And the reverse: every "METHOD /path" the page names is a route.
    let mut named_routes = BTreeSet::new();
    for m in METHODS.map(str::to_uppercase) {
        let pat = format!("{m} /");
        for (i, _) in doc.match_indices(&pat) {
            if doc[..i].chars().next_back().is_some_and(is_word) {
                continue;
            }
            let path: String = doc[i + m.len() + 1..]
                .chars()
                .take_while(|&c| is_word(c) || "/{}.-".contains(c))
                .collect();
            named_routes.insert((m.clone(), path));
        }
    }
    let phantom: BTreeSet<_> = named_routes.difference(&routes).collect();
    assert!(
        missing.is_empty() && phantom.is_empty(),
        "routes docs/api.md does not name:\n{}\nroutes docs/api.md names that the router does not have:\n{}",
        show(&missing),
        show(&phantom)
    );
}

/// The environment variables the binary and the service read are in docs/operations.md.
#[test]
fn every_environment_variable_is_in_operations_md() {
    let doc = read(&root().join("docs/operations.md"));
    let mut vars = BTreeMap::new();
    for krate in ["leadrouter", "server", "core", "store", "notify", "enrich"] {
        for f in files_under(&root().join("crates").join(krate).join("src"), &["rs"]) {
            let text = read(&f);
            for pat in ["env = \"", "env::var(\"", "env::var_os(\""] {
                for (i, _) in text.match_indices(pat) {
                    if text[..i].chars().next_back().is_some_and(is_word) {
                        continue;
                    }
                    let name: String = text[i + pat.len()..]
                        .chars()
                        .take_while(|&c| is_word(c))
                        .collect();
                    if name.starts_with("LEADROUTER_") {
                        vars.entry(name).or_insert_with(|| rel(&f));
                    }
                }
            }
        }
    }
    assert!(
        vars.len() >= 8,
        "only {} variables found: {vars:?}",
        vars.len()
    );
    let missing: Vec<_> = vars
        .iter()
        .filter(|(v, _)| !doc.contains(&format!("`{v}`")))
        .map(|(v, f)| format!("  {v} (read in {f})"))
        .collect();
    assert!(
        missing.is_empty(),
        "variables docs/operations.md does not name:\n{}",
        missing.join("\n")
    );
}
