#!/usr/bin/env bash
# HubSpot write-back benchmark (issue 20, CRM-1): 10x a normal day in one hour,
# time-compressed, against the HubSpot conformance server enforcing HubSpot's published
# private-app limit (100 calls per rolling 10 s, compressed by the same factor).
#
#   scripts/bench-crm.sh                 # debug build, defaults (~2 minutes)
#   PROFILE=release BENCH_DAY=2000 BENCH_COMPRESS=60 scripts/bench-crm.sh
#
# Prints (a) intake leads/s in closed loop without and with [crm] (same config
# otherwise) and their ratio, (b) for the 10x day: write-back lag p50/p99 (conformance
# server applied the upsert - intake answered), leads lost and duplicated, upsert calls
# per lead, 429s. See crates/leadrouter/examples/crm_bench.rs.
set -euo pipefail
cd "$(dirname "$0")/.."
PROFILE=${PROFILE:-dev}
flag=""; dir=debug
if [ "$PROFILE" = release ]; then flag="--release"; dir=release; fi
cargo build $flag -p leadrouter --bin leadrouter --example crm_bench
LEADROUTER_BIN="$PWD/target/$dir/leadrouter" "target/$dir/examples/crm_bench"
