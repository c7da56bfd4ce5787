//! What the decide benches share (`decide.rs`, the regression guard, and
//! `decide_profile.rs`, the profiling modes): the generated workload — config, leads and
//! state, all from a fixed seed — the warm-up pass that computes the output digest, and
//! the timing helpers. Each bench target uses part of it.

pub mod alloc;
pub mod config;
pub mod leads;
pub mod measure;
pub mod vocab;

use config::Generated;
use leadrouter_core::config::compile::compile;
use leadrouter_core::config::{CompiledConfig, LoadError, SourceText};
use leadrouter_core::engine::decide;
use leadrouter_core::state::StateSnapshot;
use leadrouter_core::trace::Step;
use leads::{Case, input};
use measure::Fnv;
use vocab::Rng;

/// The output digest the engine must produce on this workload: FNV-1a over the JSON of
/// every decision, trace and effect list and the rendered trace, before and after
/// `explain`, for all 10,000 leads. Any change to an output byte changes it, so a speed-up
/// that moves it changed behaviour. When an engine change is meant to change the output
/// (a routing rule), update this constant in the same commit and say why.
///
/// Last change (issue 23): `explain` now fills the trace's `facts.icp_checks` (why the
/// lead fits the ICP or not, criterion by criterion) and the rendered trace shows them.
/// Decisions, effects and the rest of the traces are unchanged: with that line of
/// `explain` left out the digest is the previous one, fnv1a64:503bdfdc75cfa524.
pub const EXPECTED_DIGEST: &str = "fnv1a64:bb7569e6b4aa990c";

/// The generated config, and the generator positioned for the state and the leads (they
/// are drawn after the config, so the order is part of the workload).
pub fn generate() -> (Rng, Generated) {
    let mut rng = Rng::new(0x1EAD_2026);
    let g = config::generate_config(&mut rng);
    (rng, g)
}

/// Compiles the generated config as `leadrouter check` would, the CSV files served from
/// memory.
pub fn compile_config(g: &Generated) -> CompiledConfig {
    let read_rel = |rel: &str| -> Result<SourceText, LoadError> {
        let text = match rel {
            "matrix.csv" => g.matrix_csv.clone(),
            "accounts.csv" => g.accounts_csv.clone(),
            other => {
                return Err(LoadError::Io {
                    path: other.to_string(),
                    source: std::io::Error::from(std::io::ErrorKind::NotFound),
                });
            }
        };
        Ok(SourceText::new(rel, text))
    };
    match compile(SourceText::new("bench.toml", g.toml.clone()), &read_rel) {
        Ok(c) => c,
        Err(e) => panic!("generated config does not compile:\n{e}"),
    }
}

/// What the warm-up pass learns about every lead: the digest, each lead's route path and
/// rep verdicts (for the per-path rows and for picking the slow paths), and the trace's
/// size.
#[derive(Default)]
pub struct Warmup {
    pub digest: String,
    pub path_of: Vec<&'static str>,
    /// Rep verdicts recorded per lead (team candidates plus single-rep checks).
    pub verdicts_of: Vec<usize>,
    pub steps: usize,
    pub team_candidates: usize,
    pub fallbacks: usize,
    pub ambiguous: usize,
    pub explain_rules: usize,
    pub render_bytes: usize,
    pub explain_render_bytes: usize,
}

/// Decides every lead once with its trace rendered, expanded and rendered again, and
/// digests all of it. This is also the warm-up: it touches every path once.
pub fn warm_up(cfg: &CompiledConfig, cases: &[Case<'_>], state: &StateSnapshot) -> Warmup {
    let mut w = Warmup::default();
    let mut digest = Fnv::default();
    for i in 0..cases.len() {
        let mut r = decide(cfg, input(cases, state, i));
        for part in [
            serde_json::to_vec(&r.decision),
            serde_json::to_vec(&r.trace),
            serde_json::to_vec(&r.effects),
        ] {
            digest.update(&part.expect("serialisable"));
        }
        let rendered = r.trace.render(&r.decision);
        digest.update(rendered.as_bytes());
        w.render_bytes += rendered.len();
        w.path_of.push(r.decision.path.label());
        w.steps += r.trace.steps.len();
        let mut verdicts = 0;
        for s in &r.trace.steps {
            match s {
                Step::Team { candidates, .. } => {
                    w.team_candidates += candidates.len();
                    verdicts += candidates.len();
                }
                Step::Rep { .. } => verdicts += 1,
                Step::Fallback { .. } => w.fallbacks += 1,
                Step::Matrix { also_matched, .. } if !also_matched.is_empty() => w.ambiguous += 1,
                _ => {}
            }
        }
        w.verdicts_of.push(verdicts);
        r.trace.explain(cfg);
        for s in &r.trace.steps {
            if let Step::Matrix { considered, .. } = s {
                w.explain_rules += considered.len();
            }
        }
        let rendered = r.trace.render(&r.decision);
        w.explain_render_bytes += rendered.len();
        digest.update(&serde_json::to_vec(&r.trace).expect("serialisable"));
        digest.update(rendered.as_bytes());
    }
    w.digest = format!("fnv1a64:{:016x}", digest.0);
    w
}

/// Stops the bench when the engine's output is not [`EXPECTED_DIGEST`]: figures of an
/// engine that decides differently are not comparable with the recorded ones.
pub fn check_digest(digest: &str) {
    if digest == EXPECTED_DIGEST {
        println!("output digest {digest} (as expected)");
        return;
    }
    eprintln!(
        "output digest {digest} differs from EXPECTED_DIGEST {EXPECTED_DIGEST} \
         (crates/core/benches/support/mod.rs): the engine's decisions, traces or effects \
         changed. If the change is intended, update the constant in the same commit."
    );
    std::process::exit(1);
}
