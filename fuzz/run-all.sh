#!/usr/bin/env bash
# The long fuzz run (docs/security.md, "Continuous assurance"): every cargo-fuzz target
# in turn for SECONDS seconds each (default 300), new inputs kept in /tmp/lr-fuzz/TARGET
# (never in the committed corpus), one summary line per target: executions, seconds,
# crashes. A crash leaves its input in fuzz/artifacts/TARGET/ and stops that target;
# fix the bug, then copy the input into corpus/TARGET/ so CI replays it.
#
#   cargo install cargo-fuzz --locked
#   fuzz/run-all.sh [SECONDS] [TARGET...]
#
# Needs nightly-only flags: RUSTC_BOOTSTRAP=1 unlocks them on the stable toolchain.
# FUZZ_SANITIZER (default none: the targets are safe Rust, and an uninstrumented build
# compiles once and runs several times faster; `address` for AddressSanitizer).
# FUZZ_TIMEOUT (default 10): seconds one input may run before libFuzzer calls it a hang
# and keeps it as a timeout- artifact (libFuzzer's own default is 20 minutes).
set -uo pipefail
cd "$(dirname "$0")"
SECONDS_EACH=${1:-300}
shift || true
export RUSTC_BOOTSTRAP=1
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || mapfile -t TARGETS < <(cargo fuzz list)
for t in "${TARGETS[@]}"; do
    mkdir -p "/tmp/lr-fuzz/$t"
    log="/tmp/lr-fuzz/$t.log"
    cargo fuzz run -s "${FUZZ_SANITIZER:-none}" "$t" "/tmp/lr-fuzz/$t" "corpus/$t" -- \
        -max_total_time="$SECONDS_EACH" -max_len=65536 -timeout="${FUZZ_TIMEOUT:-10}" \
        -print_final_stats=1 >"$log" 2>&1
    rc=$?
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
    secs=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -n 1)
    crashes=$(ls "artifacts/$t" 2>/dev/null | grep -c -E '^(crash|leak|timeout|oom)-' || true)
    echo "$t: ${runs:-?} executions in ${secs:-?} s, exit $rc, artifacts $crashes (log $log)"
done
