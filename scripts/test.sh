#!/usr/bin/env bash
# The whole test suite: formatting, lints, rustdoc (warnings denied), every test in the workspace.
# This is the README's test command and exactly what .ci/run calls.
set -euo pipefail
cd "$(dirname "$0")/.."
# The console browser test (crates/leadrouter/tests/console_e2e.rs) drives Debian's
# headless Chromium; install it when missing (CI runs as root with apt access).
if ! { [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; }; then
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver
    else
        echo "scripts/test.sh: chromium and chromium-driver are missing; install them (apt-get install -y chromium chromium-driver) or the console browser test fails" >&2
    fi
fi
cargo fmt --all -- --check
cargo clippy --workspace --all-targets --locked -- -D warnings
# Broken intra-doc links and malformed doc comments fail the build like lints do.
RUSTDOCFLAGS='-D warnings' cargo doc --workspace --no-deps --locked
# Dependency policy (deny.toml): licences, duplicate versions, sources. Needs no network;
# the advisories check does, so it is a documented command (docs/security.md).
if cargo deny --version >/dev/null 2>&1; then
    cargo deny --offline check licenses bans sources
else
    echo "scripts/test.sh: cargo-deny is not installed; skipping the dependency policy check (cargo install cargo-deny --locked)"
fi
cargo test --workspace --locked
