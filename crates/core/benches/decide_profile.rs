//! Profiling modes of the decide benchmark, apart from the regression guard (`decide.rs`)
//! so that bench stays one plain run. Same workload (`support/`), same digest check.
//!
//! `cargo bench -p leadrouter-core --bench decide_profile` with no knob times the host
//! rows: a fixed chain of 2,000 multiply-adds, 500 dependent loads in a 256 KiB ring
//! (within L2) and 100 in a 16 MiB ring (beyond it), each timed one call at a time like a
//! decision. Read a decide run's times against them: they show how fast the host runs
//! and how long its own tail is at that moment.
//!
//! `LR_BENCH_PROFILE_VERDICTS=MIN..MAX` picks the leads whose trace records that many rep
//! verdicts (`0..` is all of them); then by default each is decided three times and the
//! bench exits, for callgrind (`--toggle-collect='leadrouter_core::engine::decide'`). With
//! `LR_BENCH_PROFILE_JUST_READ=1` each goes through `decide_just_read` (a fresh copy of the
//! lead first, as the service has it: collect `decide_profile::decide_just_read` for the
//! cache misses of leads just read; `scripts/callgrind-code-lines.py` reads such a
//! profile). With `LR_BENCH_PROFILE_HOT=1` the picked leads are timed instead: each decided
//! 21 times in a row against all of them interleaved, per-lead medians (what cache misses
//! cost them).

#[allow(dead_code)] // each bench target uses part of the shared code
mod support;

use leadrouter_core::config::CompiledConfig;
use leadrouter_core::engine::{Routed, RoutingInput, decide};
use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use support::alloc::COUNTING;
use support::leads::{generate_leads, generate_state, input};
use support::measure::{Summary, loadavg, measure};
use support::vocab::Rng;

/// A fresh copy of the lead and its enrichment, then the decision, as the service decides
/// a lead it has just parsed. Not inlined, so a profile can collect this function (the
/// copy's cost included) and see `decide`'s cache misses with the lead's bytes in cache.
#[inline(never)]
fn decide_just_read(cfg: &CompiledConfig, input: RoutingInput<'_>) -> Routed {
    let (lead, enrichment) = (input.lead.clone(), input.enrichment.cloned());
    decide(
        cfg,
        RoutingInput {
            lead: &lead,
            enrichment: enrichment.as_ref(),
            ..input
        },
    )
}

/// The picked leads' time with their code and data in cache (each lead decided 21 times
/// in a row) against the same leads interleaved (21 rounds over all of them), as per-lead
/// medians; the gap is what cache misses cost them.
fn hot_and_interleaved<R>(picked: &[usize], mut f: impl FnMut(usize) -> R) {
    let median = |v: &mut [u64]| {
        v.sort_unstable();
        v[v.len() / 2]
    };
    let mut timed = |i: usize| {
        let t = Instant::now();
        let r = f(i);
        let ns = t.elapsed().as_nanos() as u64;
        drop(black_box(r));
        ns
    };
    const RUNS: usize = 21;
    let hot: Vec<u64> = picked
        .iter()
        .map(|&i| median(&mut [0; RUNS].map(|_| timed(i))))
        .collect();
    let mut rounds = vec![Vec::with_capacity(RUNS); picked.len()];
    for _ in 0..RUNS {
        for (times, &i) in rounds.iter_mut().zip(picked) {
            times.push(timed(i));
        }
    }
    let interleaved: Vec<u64> = rounds.iter_mut().map(|v| median(v)).collect();
    println!(
        "microseconds, per-lead median of {RUNS}    n      p50      p90      p99    p99.9       max     mean"
    );
    println!("{}", Summary::of(&hot).row("same lead 21 times in a row"));
    println!("{}", Summary::of(&interleaved).row("leads interleaved"));
}

/// A fixed dependent chain of `n` multiply-adds, the same instructions every call. Its
/// p50 tells how fast this host runs plain arithmetic (a step is a 64-bit multiply and an
/// add on the critical path, about four cycles), and its p99 / p50 how much the host
/// itself (interrupts, the hypervisor, a neighbour) adds to a short call's tail.
#[inline(never)]
fn fixed_work(n: u64, x: u64) -> u64 {
    let mut h = x;
    for i in 0..n {
        h = h
            .wrapping_mul(6364136223846793005)
            .wrapping_add(i ^ (h >> 17));
    }
    h
}

/// A random cycle through `bytes` of memory, one `u32` index per 64-byte line: the lines
/// in shuffled order, each linked to the next and the last to the first, so the walk
/// visits every line before it repeats.
fn chase_ring(bytes: usize, rng: &mut Rng) -> Vec<u32> {
    const STRIDE: usize = 16; // u32s per 64-byte line
    let lines = bytes / 64;
    let mut order: Vec<usize> = (0..lines).collect();
    for i in (1..lines).rev() {
        order.swap(i, rng.below(i + 1)); // Fisher-Yates
    }
    let mut ring = vec![0u32; lines * STRIDE];
    for k in 0..lines {
        ring[order[k] * STRIDE] = (order[(k + 1) % lines] * STRIDE) as u32;
    }
    ring
}

/// `steps` dependent loads along `ring` from `at`: each waits for the one before, so the
/// time is the host's load latency at that working-set size (L2 or L3 here).
#[inline(never)]
fn chase(ring: &[u32], at: u32, steps: usize) -> u32 {
    let mut i = at;
    for _ in 0..steps {
        i = ring[i as usize];
    }
    i
}

/// The host rows. Their tail (and at times their p50) grows when a neighbour on the same
/// physical core or socket competes for the caches, which the arithmetic row does not see.
fn host_rows() {
    let fixed = Summary::of(&measure(100_000, 100_000, Duration::MAX, |i| {
        fixed_work(black_box(2_000), i as u64)
    }));
    let mut chase_rng = Rng::new(0x5EED_CA5E);
    let mut chase_row = |bytes: usize, steps: usize| {
        let ring = chase_ring(bytes, &mut chase_rng);
        let mut at = 0u32;
        for _ in 0..(bytes / 64 / steps + 1) * 2 {
            at = chase(&ring, at, steps); // warm: the whole ring twice
        }
        Summary::of(&measure(50_000, 50_000, Duration::MAX, |_| {
            at = chase(black_box(&ring), at, steps);
            at
        }))
    };
    let l2 = chase_row(256 << 10, 500);
    let mem = chase_row(16 << 20, 100);
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}",
        "microseconds per call", "n", "p50", "p90", "p99", "p99.9", "max", "mean"
    );
    println!("{}", fixed.row("host: 2,000 multiply-adds"));
    println!("{}", l2.row("host: 500 loads in 256 KiB"));
    println!("{}", mem.row("host: 100 loads in 16 MiB"));
    println!("   1-min load average at end: {:.2}", loadavg());
}

fn main() {
    println!(
        "leadrouter-core decide profile (1-min load average at start: {:.2})",
        loadavg()
    );
    let Ok(range) = std::env::var("LR_BENCH_PROFILE_VERDICTS") else {
        COUNTING.store(false, Relaxed);
        host_rows();
        return;
    };
    COUNTING.store(false, Relaxed);
    let (mut rng, g) = support::generate();
    let cfg = support::compile_config(&g);
    let (state, people) = generate_state(&mut rng, &g);
    let cases = generate_leads(&mut rng, &g, &people);
    let input = |i: usize| input(&cases, &state, i);
    let w = support::warm_up(&cfg, &cases, &state);
    support::check_digest(&w.digest);

    let (min, max) = range.split_once("..").unwrap_or((range.as_str(), ""));
    let min: usize = min.parse().unwrap_or(0);
    let max: usize = max.parse().unwrap_or(usize::MAX);
    let picked: Vec<usize> = (0..cases.len())
        .filter(|&i| (min..=max).contains(&w.verdicts_of[i]))
        .collect();
    let verdicts: usize = picked.iter().map(|&i| w.verdicts_of[i]).sum();
    println!(
        "profiling {} leads with {range} rep verdicts (mean {:.1}), 3 decisions each",
        picked.len(),
        verdicts as f64 / picked.len().max(1) as f64
    );
    if std::env::var("LR_BENCH_PROFILE_HOT").is_ok_and(|v| v == "1") {
        hot_and_interleaved(&picked, |i| decide(black_box(&cfg), black_box(input(i))));
        return;
    }
    let just_read = std::env::var("LR_BENCH_PROFILE_JUST_READ").is_ok_and(|v| v == "1");
    for _ in 0..3 {
        for &i in &picked {
            if just_read {
                black_box(decide_just_read(&cfg, input(i)));
            } else {
                black_box(decide(&cfg, input(i)));
            }
        }
    }
}
