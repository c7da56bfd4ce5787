//! Decision-engine benchmark: the regression guard of the routing core.
//!
//! On a large generated config — 500 reps in 25 teams, a 2,000-row routing matrix and
//! 100,000 accounts, all from a fixed seed (`support/`) — it measures:
//!
//! * compile time (cold first compile, then min / median / max of several runs) and heap
//!   memory of a compile (peak while compiling, retained by the compiled config);
//! * the time of every single `decide` call (10,000 varied leads, a fixed state snapshot,
//!   effects not applied), on leads read from memory and on leads just read (batches of 64
//!   fresh copies, as the service's sequencer decides them), and `decide` plus the
//!   on-demand `explain` and `render`;
//! * heap allocations per decision;
//! * the output digest, checked against `support::EXPECTED_DIGEST`: a change that alters
//!   any output byte stops the bench.
//!
//! Time swings with the host; the deterministic figure is instructions per decision, which
//! `scripts/bench-decide-instructions.sh` counts with callgrind through this bench's short
//! mode (`LR_BENCH_COUNT=1`: one compile, the digest, then `count_mix` and
//! `count_slow_paths` decide each lead once, and nothing is timed).
//!
//! Run with `cargo bench -p leadrouter-core --bench decide`; figures are printed and
//! written as JSON to `target/bench-decide.json`. Knobs: `LR_BENCH_DECISIONS` (default
//! 300000), `LR_BENCH_FRESH` (decisions on leads just read; default `LR_BENCH_DECISIONS`),
//! `LR_BENCH_EXPANDED` (20000), `LR_BENCH_COMPILE_RUNS` (5), `LR_BENCH_SKIP_COMPILE=1` (one
//! compile, no memory figures). The host rows and the profiling modes are in
//! `decide_profile.rs`.

#[allow(dead_code)] // each bench target uses part of the shared code
mod support;

use leadrouter_core::config::CompiledConfig;
use leadrouter_core::engine::{Routed, decide};
use leadrouter_core::state::StateSnapshot;
use serde_json::json;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::atomic::Ordering::Relaxed;
use std::time::{Duration, Instant};
use support::alloc::{ALLOCATOR, ALLOCS, COUNTING, CURRENT, PEAK, REALLOCS};
use support::leads::{Case, generate_leads, generate_state, input};
use support::measure::{
    Summary, env_usize, json_path, loadavg, measure, measure_batches, mib, per_lead_medians, r3,
    read_kb,
};
use support::vocab::NOWS;

/// Rep verdicts from which a lead counts as a slow path: an overflow chain walked, the
/// region of the decisions' p99.
const SLOW_PATH_VERDICTS: usize = 46;

/// `LR_BENCH_COUNT=1`: every lead decided once (and its result dropped). Not inlined, so
/// callgrind can collect this function alone (`--toggle-collect=decide::count_mix`).
#[inline(never)]
fn count_mix(cfg: &CompiledConfig, cases: &[Case<'_>], state: &StateSnapshot) {
    for i in 0..cases.len() {
        drop(black_box(decide(
            black_box(cfg),
            black_box(input(cases, state, i)),
        )));
    }
}

/// `LR_BENCH_COUNT=1`: the slow-path leads decided once each, collected on their own.
#[inline(never)]
fn count_slow_paths(
    cfg: &CompiledConfig,
    cases: &[Case<'_>],
    state: &StateSnapshot,
    picked: &[usize],
) {
    for &i in picked {
        drop(black_box(decide(
            black_box(cfg),
            black_box(input(cases, state, i)),
        )));
    }
}

/// `LR_BENCH_COUNT=1`: called between the two counted regions, so callgrind can start a
/// new profile part there (`--dump-before=decide::count_boundary`). Dumping at the entry
/// or exit of a collected function loses that region's collection state.
#[inline(never)]
fn count_boundary(slow_paths: usize) -> usize {
    black_box(slow_paths)
}

fn main() {
    let count_only = std::env::var("LR_BENCH_COUNT").is_ok_and(|v| v == "1");
    let decisions = env_usize("LR_BENCH_DECISIONS", 300_000);
    let expanded = env_usize("LR_BENCH_EXPANDED", 20_000);
    let compile_runs = env_usize("LR_BENCH_COMPILE_RUNS", 5).max(1);
    let skip_compile = count_only || std::env::var("LR_BENCH_SKIP_COMPILE").is_ok_and(|v| v == "1");

    let load_start = loadavg();
    println!(
        "leadrouter-core decide benchmark (allocator {ALLOCATOR}; 1-min load average at start: {load_start:.2})"
    );
    let t_gen = Instant::now();
    let (mut rng, g) = support::generate();
    println!(
        "generated config in {:.0} ms: config.toml {:.0} KiB, matrix.csv {:.0} KiB (2,000 rows), accounts.csv {:.0} KiB (100,000 rows)",
        t_gen.elapsed().as_secs_f64() * 1e3,
        g.toml.len() as f64 / 1024.0,
        g.matrix_csv.len() as f64 / 1024.0,
        g.accounts_csv.len() as f64 / 1024.0,
    );

    // ---- Compile: memory (counted allocator on), then time (counting off).
    // The first compile in the process is timed as "cold"; memory is measured on the
    // second so one-time statics (the leaked ISO codes) are not counted.
    let (mut cold_ms, mut peak, mut retained, mut after_drop) = (f64::NAN, 0, 0, 0);
    if !skip_compile {
        let t = Instant::now();
        let cold = support::compile_config(&g);
        cold_ms = t.elapsed().as_secs_f64() * 1e3;
        drop(cold);
        let base = CURRENT.load(Relaxed);
        PEAK.store(base, Relaxed);
        let cfg = support::compile_config(&g);
        peak = PEAK.load(Relaxed) - base;
        retained = CURRENT.load(Relaxed) - base;
        drop(cfg);
        after_drop = CURRENT.load(Relaxed) - base;
    }
    COUNTING.store(false, Relaxed);
    let mut compile_ms = Vec::new();
    let mut cfg = None;
    for _ in 0..if skip_compile { 1 } else { compile_runs } {
        drop(cfg.take());
        let t = Instant::now();
        let c = support::compile_config(&g);
        compile_ms.push(t.elapsed().as_secs_f64() * 1e3);
        cfg = Some(c);
    }
    let cfg = cfg.expect("compiled");
    compile_ms.sort_by(f64::total_cmp);
    let c_min = compile_ms[0];
    let c_med = compile_ms[compile_ms.len() / 2];
    let c_max = compile_ms[compile_ms.len() - 1];
    let hwm_kb = read_kb("VmHWM:").unwrap_or(0);
    let rss_kb = read_kb("VmRSS:").unwrap_or(0);

    println!(
        "compiled: {} reps, {} teams, {} zones, {} rules, {} accounts; version {}",
        cfg.reps.len(),
        cfg.teams.len(),
        cfg.zones.len(),
        cfg.rules.len(),
        cfg.accounts.len(),
        cfg.version
    );
    if !count_only {
        println!();
        println!("== Config compile ({} timed runs)", compile_ms.len());
        println!(
            "  time      cold {cold_ms:.0} ms; min {c_min:.0} ms, median {c_med:.0} ms, max {c_max:.0} ms   (target <= 1000 ms)"
        );
        println!(
            "  heap      peak during compile {:.1} MiB; retained by the compiled config {:.1} MiB; not freed after drop {:.2} MiB   (target <= 200 MB)",
            mib(peak),
            mib(retained),
            mib(after_drop)
        );
        println!(
            "  process   VmRSS {:.1} MiB, VmHWM {:.1} MiB (includes the generated source text and the bench's own data)",
            rss_kb as f64 / 1024.0,
            hwm_kb as f64 / 1024.0
        );
    }

    // ---- Leads and state; the warm-up pass checks the output.
    let (state, people) = generate_state(&mut rng, &g);
    let cases = generate_leads(&mut rng, &g, &people);
    let input = |i: usize| input(&cases, &state, i);
    let w = support::warm_up(&cfg, &cases, &state);
    support::check_digest(&w.digest);

    if count_only {
        // One more untimed pass, so the allocator's pages are in use before counting.
        for i in 0..cases.len() {
            black_box(decide(&cfg, input(i)));
        }
        let slow: Vec<usize> = (0..cases.len())
            .filter(|&i| w.verdicts_of[i] >= SLOW_PATH_VERDICTS)
            .collect();
        count_mix(&cfg, &cases, &state);
        count_boundary(slow.len());
        count_slow_paths(&cfg, &cases, &state, &slow);
        // One line for scripts/bench-decide-instructions.sh to read.
        println!(
            "count: {}",
            json!({
                "digest": w.digest, "config_version": cfg.version,
                "mix_decisions": cases.len(), "slow_path_decisions": slow.len(),
                "slow_path_min_verdicts": SLOW_PATH_VERDICTS,
            })
        );
        return;
    }

    for _ in 0..2 {
        for i in 0..cases.len() {
            black_box(decide(&cfg, input(i)));
        }
    }
    // Heap allocations per decision (counting allocator on for one untimed pass).
    ALLOCS.store(0, Relaxed);
    REALLOCS.store(0, Relaxed);
    COUNTING.store(true, Relaxed);
    for i in 0..cases.len() {
        drop(black_box(decide(&cfg, input(i))));
    }
    COUNTING.store(false, Relaxed);
    let allocs = ALLOCS.load(Relaxed) as f64 / cases.len() as f64;
    let reallocs = REALLOCS.load(Relaxed) as f64 / cases.len() as f64;
    let n_cases = cases.len() as f64;
    let issues_total: usize = cases.iter().map(|c| c.issues.len()).sum();
    let mut paths: HashMap<&'static str, usize> = HashMap::new();
    for p in &w.path_of {
        *paths.entry(p).or_default() += 1;
    }
    let mut path_list: Vec<(&str, usize)> = paths.iter().map(|(k, v)| (*k, *v)).collect();
    path_list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    let clock = Summary::of(&measure(100_000, 100_000, Duration::MAX, black_box));

    // ---- Decisions.
    let budget = Duration::from_secs(20);
    let d_ns = measure(decisions, decisions, Duration::MAX, |i| {
        decide(black_box(&cfg), black_box(input(i)))
    });
    // The same on leads just read, as the service decides them: its sequencer takes a
    // batch of leads that were parsed from their requests and looked up (their people's
    // history) moments before, so their bytes are in cache. Above, each lead was last
    // touched 10,000 decisions earlier and its fields are read from memory. Each batch of
    // 64 is a fresh copy of the next 64 cases (copied untimed), then decided one call at
    // a time; config and state are shared as above.
    let fresh_ns = measure_batches(
        env_usize("LR_BENCH_FRESH", decisions),
        64,
        |i| {
            let c = &cases[i % cases.len()];
            (i, c.lead.clone(), c.enrichment.clone())
        },
        |(i, lead, enr)| {
            let mut inp = input(*i);
            inp.lead = lead;
            inp.enrichment = enr.as_ref();
            decide(black_box(&cfg), black_box(inp))
        },
    );
    // The same with the result dropped inside the timed region (what a caller pays in all).
    let dd_ns = measure(
        decisions / 3,
        cases.len().min(decisions),
        Duration::MAX,
        |i| {
            drop(decide(black_box(&cfg), black_box(input(i))));
        },
    );
    let min_expanded = cases.len().min(expanded);
    let r_ns = measure(expanded, min_expanded, budget, |i| {
        let r = decide(black_box(&cfg), black_box(input(i)));
        let s = r.trace.render(&r.decision);
        (r, s)
    });
    let e_ns = measure(expanded, min_expanded, budget, |i| {
        let mut r: Routed = decide(black_box(&cfg), black_box(input(i)));
        r.trace.explain(&cfg);
        r
    });
    let er_ns = measure(expanded, min_expanded, budget, |i| {
        let mut r: Routed = decide(black_box(&cfg), black_box(input(i)));
        r.trace.explain(&cfg);
        let s = r.trace.render(&r.decision);
        (r, s)
    });
    let d = Summary::of(&d_ns);
    let fresh = Summary::of(&fresh_ns);
    // Noise-robust view: each lead was decided ~30 times; the median per lead drops the
    // samples another process or the hypervisor interrupted, and the percentiles are then
    // taken over the 10,000 leads (the workload's own tail, not the machine's).
    let per_lead = per_lead_medians(&d_ns, cases.len());
    let fresh_per_lead = per_lead_medians(&fresh_ns, cases.len());
    let rr = Summary::of(&r_ns);
    let dd = Summary::of(&dd_ns);
    let e = Summary::of(&e_ns);
    let er = Summary::of(&er_ns);

    println!();
    println!(
        "== Decisions: {} leads x {} instants, fixed state ({} rotations, {} loads, {} daily counts, {} known people), effects not applied",
        cases.len(),
        NOWS.len(),
        state.rotations.len(),
        state.loads.len(),
        state.daily.len(),
        state.people.len()
    );
    println!(
        "   timed one call at a time with Instant; clock overhead p50 {:.3} us (included below)",
        clock.p50
    );
    println!(
        "{:<34} {:>8} {:>8} {:>8} {:>8} {:>8} {:>9} {:>8}",
        "microseconds per decision", "n", "p50", "p90", "p99", "p99.9", "max", "mean"
    );
    println!("{}", d.row("decide (full trace)"));
    println!("{}", per_lead.row("  same, per-lead median of runs"));
    println!("{}", fresh.row("decide, leads just read (x64)"));
    println!("{}", fresh_per_lead.row("  same, per-lead median of runs"));
    println!("{}", dd.row("decide + drop of the result"));
    println!("{}", rr.row("decide + render"));
    println!("{}", e.row("decide + explain"));
    println!("{}", er.row("decide + explain + render"));
    println!(
        "   no time target (times follow the host's speed); instructions per decision: scripts/bench-decide-instructions.sh"
    );

    // Per-path latency of plain decide.
    let mut by_path: HashMap<&str, Vec<u64>> = HashMap::new();
    for (i, ns) in d_ns.iter().enumerate() {
        by_path
            .entry(w.path_of[i % cases.len()])
            .or_default()
            .push(*ns);
    }
    println!();
    println!("   decide by route path              share      p50      p99    p99.9");
    let mut path_json = serde_json::Map::new();
    for (p, n) in &path_list {
        let s = Summary::of(&by_path[p]);
        println!(
            "   {:<32} {:>5.1}% {:>8.2} {:>8.2} {:>8.2}",
            p,
            *n as f64 * 100.0 / n_cases,
            s.p50,
            s.p99,
            s.p999
        );
        let mut j = s.json();
        j["share"] = json!(r3(*n as f64 / n_cases));
        path_json.insert(p.to_string(), j);
    }
    // Latency by how many rep verdicts the trace records (the team walk dominates).
    const BUCKETS: [(usize, usize, &str); 5] = [
        (0, 0, "0 (queue / no rep)"),
        (1, 3, "1-3 (owner chain)"),
        (4, 20, "4-20 (one team)"),
        (21, 45, "21-45 (overflow)"),
        (SLOW_PATH_VERDICTS, usize::MAX, "46+ (overflow chain)"),
    ];
    println!();
    println!("   decide by rep verdicts in trace   share      p50      p99    p99.9");
    let mut bucket_json = serde_json::Map::new();
    for (lo, hi, label) in BUCKETS {
        let ns: Vec<u64> = d_ns
            .iter()
            .enumerate()
            .filter(|(i, _)| (lo..=hi).contains(&w.verdicts_of[i % cases.len()]))
            .map(|(_, ns)| *ns)
            .collect();
        if ns.is_empty() {
            continue;
        }
        let s = Summary::of(&ns);
        let share = ns.len() as f64 / d_ns.len() as f64;
        println!(
            "   {:<32} {:>5.1}% {:>8.2} {:>8.2} {:>8.2}",
            label,
            share * 100.0,
            s.p50,
            s.p99,
            s.p999
        );
        let mut j = s.json();
        j["share"] = json!(r3(share));
        bucket_json.insert(label.to_string(), j);
    }
    let per = |x: usize| x as f64 / n_cases;
    println!();
    println!(
        "   trace per decision (mean): {:.2} steps, {:.1} team candidates with verdicts, {:.2} fallbacks; {:.1}% with ambiguous matches; {:.0} rules listed after explain; render {:.0} bytes ({:.0} after explain); {:.2} input issues",
        per(w.steps),
        per(w.team_candidates),
        per(w.fallbacks),
        per(w.ambiguous) * 100.0,
        per(w.explain_rules),
        per(w.render_bytes),
        per(w.explain_render_bytes),
        per(issues_total),
    );
    println!(
        "   heap per decision (mean): {allocs:.1} allocations, {reallocs:.1} reallocations; output digest {}",
        w.digest
    );

    let mut report = json!({
        "bench": "decide",
        "config": {
            "reps": cfg.reps.len(), "teams": cfg.teams.len(), "zones": cfg.zones.len(),
            "rules": cfg.rules.len(), "accounts": cfg.accounts.len(), "version": cfg.version,
            "toml_bytes": g.toml.len(), "matrix_csv_bytes": g.matrix_csv.len(),
            "accounts_csv_bytes": g.accounts_csv.len(),
        },
        "compile": {
            "runs": compile_ms.len(), "cold_ms": r3(cold_ms), "min_ms": r3(c_min),
            "median_ms": r3(c_med), "max_ms": r3(c_max),
            "peak_heap_bytes": peak, "retained_heap_bytes": retained,
            "not_freed_after_drop_bytes": after_drop,
            "process_vm_hwm_kib": hwm_kb, "process_vm_rss_kib": rss_kb,
            "target_ms": 1000, "target_bytes": 200_000_000,
        },
        "decisions": {
            "leads": cases.len(), "instants": NOWS.len(),
            "clock_overhead_p50_us": r3(clock.p50),
            "decide": d.json(),
            "decide_per_lead_median": per_lead.json(),
            "decide_leads_just_read": fresh.json(),
            "decide_leads_just_read_per_lead_median": fresh_per_lead.json(),
            "decide_drop": dd.json(),
            "decide_render": rr.json(),
            "decide_explain": e.json(),
            "decide_explain_render": er.json(),
            "by_path": path_json,
            "by_rep_verdicts": bucket_json,
        },
        "trace_mean": {
            "steps": per(w.steps), "team_candidates": per(w.team_candidates),
            "fallbacks": per(w.fallbacks),
            "ambiguous_share": per(w.ambiguous),
            "explain_rules": per(w.explain_rules),
            "render_bytes": per(w.render_bytes),
            "explain_render_bytes": per(w.explain_render_bytes),
            "allocations": allocs, "reallocations": reallocs,
        },
        "output_digest": w.digest,
        "machine": {
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "threads_used": 1,
            "allocator": ALLOCATOR,
        },
    });
    let load_end = loadavg();
    println!(
        "   1-min load average: {load_start:.2} at start, {load_end:.2} at end (>1 means other work shared the 2 cores)"
    );
    report["machine"]["loadavg_start"] = json!(load_start);
    report["machine"]["loadavg_end"] = json!(load_end);
    let path = json_path("bench-decide.json");
    match std::fs::write(
        &path,
        serde_json::to_string_pretty(&report).unwrap_or_default(),
    ) {
        Ok(()) => println!("\nwrote {}", path.display()),
        Err(e) => eprintln!("\ncould not write {}: {e}", path.display()),
    }
}
