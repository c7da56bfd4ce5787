//! Disposable-domain coverage: the share of the domains read from stdin (one per line,
//! `#` comments ignored) that the shipped lists flag as disposable, by the lookup routing
//! uses (`DomainLists::is_disposable`: the address's domain or its registrable domain).
//! Run by `scripts/bench-disposable-coverage.sh` against a list the project does not
//! ship; docs/benchmarks.md has the figures.
//!
//! `--list FILE` instead measures a list file in the format of `data/` (for a baseline,
//! e.g. an earlier version of `data/disposable_domains.txt`) with the same lookup rule.

use leadrouter_core::domains::{DomainLists, parse_email};
use std::collections::HashSet;
use std::io::Read as _;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let list: Option<HashSet<String>> = match args.as_slice() {
        [flag, path] if flag == "--list" => {
            let text = std::fs::read_to_string(path)
                .unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}")));
            Some(domains(&text).collect())
        }
        [] => None,
        _ => fail("usage: disposable_coverage [--list FILE] < domains.txt"),
    };
    let mut input = String::new();
    std::io::stdin()
        .take(64 << 20)
        .read_to_string(&mut input)
        .unwrap_or_else(|e| fail(&format!("reading stdin: {e}")));
    let shipped = DomainLists::shipped();
    let (mut total, mut covered, mut unusable) = (0u64, 0u64, 0u64);
    for d in domains(&input) {
        let Ok(e) = parse_email(&format!("probe@{d}")) else {
            unusable += 1;
            continue;
        };
        total += 1;
        let hit = match &list {
            None => shipped.is_disposable(&e),
            Some(set) => set.contains(&e.domain) || set.contains(&e.registrable),
        };
        covered += u64::from(hit);
    }
    if total == 0 {
        fail("no usable domains on stdin");
    }
    println!(
        "{{\"domains\": {total}, \"disposable\": {covered}, \"coverage_percent\": {:.1}, \"unusable\": {unusable}, \"list_entries\": {}}}",
        100.0 * covered as f64 / total as f64,
        list.as_ref()
            .map_or(shipped.disposable_count(), HashSet::len)
    );
}

fn domains(text: &str) -> impl Iterator<Item = String> + '_ {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_lowercase)
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(2)
}
