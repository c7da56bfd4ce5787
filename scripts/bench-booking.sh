#!/usr/bin/env bash
# Booking slots (issue 22): one booking page view's free-slot computation for a rep with a
# year of recurring calendar events, timed side by side with the routing decision of the
# same lead in the same run (crates/core/examples/booking_bench.rs, docs/benchmarks.md).
#
# Usage: scripts/bench-booking.sh [ROUNDS]   (default 20000)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
echo "host: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1 /proc/loadavg), commit $(git rev-parse --short HEAD 2>/dev/null || echo worktree)"
cargo run -q --release -p leadrouter-core --example booking_bench -- "${1:-20000}"
