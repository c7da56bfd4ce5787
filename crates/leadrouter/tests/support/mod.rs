//! The leadrouter end-to-end tests' fixtures, on top of `leadrouter-testsupport` (which
//! runs the binary, makes databases and plays the far ends of every channel): where the
//! binary and the fixture configs are, and per suite the pieces only that suite needs:
//! [`browser`] for the console tests in Chromium, [`notify`] for the notification and SLA
//! tests, [`pool`] for the PostgreSQL
//! multi-instance and crash tests.

#![allow(dead_code, unused_imports)] // each test binary uses its own subset

pub mod browser;
pub mod console;
pub mod notify;
pub mod pool;

pub use leadrouter_testsupport::serve::owner_of;
pub use leadrouter_testsupport::{ADMIN_KEY, Cli, Clock, INTAKE_KEY, ServeOptions, Server, TestDb};
use std::path::{Path, PathBuf};

/// The path of the `leadrouter` binary Cargo built for these tests.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_leadrouter")
}

/// A file under `tests/fixtures/`.
pub fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The deterministic test config: reps without working hours, a two-rep round robin.
pub fn e2e_config() -> PathBuf {
    fixture("e2e.toml")
}

/// `leadrouter serve` on `config`, with a fresh SQLite database unless set otherwise.
pub fn serve(config: impl AsRef<Path>) -> ServeOptions {
    ServeOptions::new(binary(), config.as_ref())
}

/// `leadrouter serve` on the deterministic test config.
pub fn e2e() -> ServeOptions {
    serve(e2e_config())
}

/// Run `leadrouter ARGS…` to completion.
pub fn cli(args: &[&str]) -> Cli {
    Cli::run(binary(), args)
}
