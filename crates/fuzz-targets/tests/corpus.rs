//! The fuzz targets on a stable toolchain: each runs over its committed corpus
//! (`fuzz/corpus/<target>/`) and then over a fixed-seed batch of inputs made by mutating
//! that corpus the way libFuzzer does (flip, insert, delete, repeat, splice, cut). The seed
//! is fixed so a failure here reproduces; `LEADROUTER_FUZZ_CASES` changes the batch size
//! (default below, a few seconds per target in a debug build) and `LEADROUTER_FUZZ_SEED`
//! the seed. A failing input is written to `target/fuzz-failures/` so it can be added to
//! the corpus once fixed.

use leadrouter_fuzz_targets::TARGETS;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const DEFAULT_CASES: usize = 3000;
/// A batch stops early past this, so a slow machine cannot turn CI into a soak test.
const TIME_CAP: Duration = Duration::from_secs(8);

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/corpus")
        .join(target)
}

fn corpus(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = corpus_dir(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let p = e.expect("a directory entry").path();
            let bytes = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            (p.file_name().unwrap().to_string_lossy().into_owned(), bytes)
        })
        .collect();
    out.sort();
    assert!(!out.is_empty(), "{} has no seeds", dir.display());
    out
}

/// splitmix64: small, fixed, and the same on every platform.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            0
        } else {
            (self.next() % n as u64) as usize
        }
    }
}

/// Bytes parsers treat specially: separators, quotes, escapes, line ends, a BOM, a
/// multi-byte character, a NUL.
const INTERESTING: &[&[u8]] = &[
    b"\"",
    b",",
    b";",
    b"|",
    b"\n",
    b"\r\n",
    b"\r",
    b"\\",
    b"@",
    b".",
    b"=",
    b"&",
    b"%",
    b"%00",
    b"%0A",
    b"+",
    b"[",
    b"]",
    b"{",
    b"}",
    b"#",
    b"\0",
    b"\xef\xbb\xbf",
    "é".as_bytes(),
    "\u{10ffff}".as_bytes(),
    b"\xff",
    b"9999999999999999999",
    b"-1",
    b"\t",
    b" ",
];

fn mutate(rng: &mut Rng, seeds: &[(String, Vec<u8>)]) -> Vec<u8> {
    let mut data = seeds[rng.below(seeds.len())].1.clone();
    for _ in 0..1 + rng.below(4) {
        let len = data.len();
        let at = rng.below(len + 1);
        match rng.below(7) {
            0 if len > 0 => data[at.min(len - 1)] ^= 1 << rng.below(8),
            1 => {
                let tok = INTERESTING[rng.below(INTERESTING.len())];
                data.splice(at..at, tok.iter().copied());
            }
            2 if len > 0 => {
                let end = (at + 1 + rng.below(16)).min(len);
                data.drain(at.min(len - 1)..end);
            }
            3 if len > 0 => {
                let start = rng.below(len);
                let end = (start + 1 + rng.below(64)).min(len);
                let chunk = data[start..end].repeat(1 + rng.below(40));
                data.splice(at..at, chunk);
            }
            4 => {
                let other = &seeds[rng.below(seeds.len())].1;
                let from = rng.below(other.len() + 1);
                let to = (from + rng.below(256)).min(other.len());
                data.splice(at..at, other[from..to].iter().copied());
            }
            5 => data.truncate(at),
            _ => data.insert(at, rng.next() as u8),
        }
    }
    data
}

fn env_number(name: &str) -> Option<u64> {
    std::env::var(name)
        .ok()
        .map(|v| v.parse().unwrap_or_else(|_| panic!("{name}={v}")))
}

/// Runs `body` on `input`; on a panic, saves the input and fails naming it.
fn check(target: &str, body: fn(&[u8]), what: &str, input: &[u8]) {
    if catch_unwind(AssertUnwindSafe(|| body(input))).is_err() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/fuzz-failures");
        std::fs::create_dir_all(&dir).expect("target/fuzz-failures");
        let file = dir.join(format!("{target}-{what}"));
        std::fs::write(&file, input).expect("the failing input saved");
        panic!(
            "fuzz target {target} failed on {what} (saved to {}; reproduce with \
             `RUSTC_BOOTSTRAP=1 cargo fuzz run {target} {}` from fuzz/): {:?}",
            file.display(),
            file.display(),
            String::from_utf8_lossy(&input[..input.len().min(300)])
        );
    }
}

fn run(target: &str) {
    let body = TARGETS
        .iter()
        .find(|(n, _)| *n == target)
        .expect("a known target")
        .1;
    let seeds = corpus(target);
    for (name, bytes) in &seeds {
        check(target, body, &format!("corpus-{name}"), bytes);
    }
    let cases = env_number("LEADROUTER_FUZZ_CASES").map_or(DEFAULT_CASES, |n| n as usize);
    let seed = env_number("LEADROUTER_FUZZ_SEED").unwrap_or(0x1ead_0024);
    // Wrapping: a name of 13 characters or more overflows u64 (shorter ones hash as before).
    let name_hash = target
        .bytes()
        .fold(0u64, |h, b| h.wrapping_mul(31).wrapping_add(u64::from(b)));
    let mut rng = Rng(seed ^ name_hash);
    let started = Instant::now();
    let mut done = 0;
    while done < cases && started.elapsed() < TIME_CAP {
        let input = mutate(&mut rng, &seeds);
        check(target, body, &format!("seed{seed:x}-case{done}"), &input);
        done += 1;
    }
    eprintln!(
        "{target}: {} seeds, {done} generated inputs, {:?}",
        seeds.len(),
        started.elapsed()
    );
}

#[test]
fn every_target_has_a_test_and_a_corpus() {
    let tested = [
        "lead_json",
        "form",
        "csv_import",
        "config",
        "matrix_csv",
        "accounts_csv",
        "email",
        "link_token",
        "ics",
        "salesforce_outbound",
    ];
    let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
    assert_eq!(names, tested);
    for t in tested {
        assert!(corpus_dir(t).is_dir(), "fuzz/corpus/{t} missing");
        let bin =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../../fuzz/fuzz_targets/{t}.rs"));
        assert!(bin.is_file(), "{} missing", bin.display());
    }
}

#[test]
fn lead_json() {
    run("lead_json");
}

#[test]
fn form() {
    run("form");
}

#[test]
fn csv_import() {
    run("csv_import");
}

#[test]
fn config() {
    run("config");
}

#[test]
fn matrix_csv() {
    run("matrix_csv");
}

#[test]
fn accounts_csv() {
    run("accounts_csv");
}

#[test]
fn email() {
    run("email");
}

#[test]
fn link_token() {
    run("link_token");
}

#[test]
fn ics() {
    run("ics");
}

#[test]
fn salesforce_outbound() {
    run("salesforce_outbound");
}
