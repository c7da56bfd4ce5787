#!/usr/bin/env bash
# Replay benchmark (OPS-5, issue 21): `leadrouter replay` throughput against the
# in-process decision rate of the same leads in the same run (the time `engine::decide`
# alone took inside the replay), on SQLite and PostgreSQL. Target: ratio >= 0.5 (reading,
# decoding, rebuilding state and diffing cost no more than deciding).
#
#   scripts/bench-replay.sh            # build, fill each database, replay, print a table
#
# For each backend: a fresh database, `leadrouter serve` (release) with the demo config,
# BENCH_LEADS leads from `leadrouter-load` (closed loop, 32 connections), the service
# stopped, then `leadrouter replay --as-live --json` (fidelity mode: it must also
# reproduce every decision) and a candidate replay (`examples/demo.toml` with one
# territory moved). Everything started here is stopped on exit.
#
# Settings (environment):
#   BENCH_LEADS           leads stored per backend (default 100000; the issue's figure is
#                         1000000, which takes ~1 h per backend to load on 2 cores)
#   BENCH_TARGETS         default "sqlite postgres"
#   LEADROUTER_BENCH_PG   PostgreSQL admin URL (default postgres://postgres@127.0.0.1:5432/test);
#                         a database lr_replay_<pid> is created there and dropped afterwards
#   BENCH_OUT             default target/bench-replay
#   BENCH_NO_BUILD=1      use the binaries already built
#   LEADROUTER_BIN, LOAD_BIN  the binaries (default target/release/…)
#   BENCH_SQLITE_URL, BENCH_PG_URL  replay a database already filled (by an earlier run of
#                         this script or by the service) instead of making one: filling
#                         1,000,000 leads takes ~6 min on SQLite and ~30 min on PostgreSQL
#                         here, replaying them seconds; such a database is left as it is
#   BENCH_RUNS            replays per mode (default 1; the table has a row per replay)
set -euo pipefail
cd "$(dirname "$0")/.."

LEADS=${BENCH_LEADS:-100000}
TARGETS=${BENCH_TARGETS:-"sqlite postgres"}
PG_URL=${LEADROUTER_BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
OUT=${BENCH_OUT:-target/bench-replay}
LEADROUTER=${LEADROUTER_BIN:-target/release/leadrouter}
LOAD=${LOAD_BIN:-target/release/leadrouter-load}
INTAKE_KEY=bench-intake-key
ADMIN_KEY=bench-admin-key
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
say() { printf '%s\n' "$*" >&2; }

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  cargo build --release --quiet -p leadrouter -p leadrouter-loadtest
fi

SERVER_PID=""
PG_DB="lr_replay_$$"
cleanup() {
  if [ -n "$SERVER_PID" ]; then kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true; fi
  psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
}
trap cleanup EXIT

# The candidate: one US West territory row moved to the review queue.
CAND_DIR="$OUT/candidate"
mkdir -p "$CAND_DIR"
cp examples/demo.toml examples/accounts.csv examples/firmographics.csv "$CAND_DIR/"
sed 's/^\(terr-us-west-ent,.*\)rep:marcus.reed/\1queue:review/' examples/matrix.csv >"$CAND_DIR/matrix.csv"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

ROWS="$OUT/rows.md"
: >"$ROWS"
for target in $TARGETS; do
  given=""
  case $target in
    sqlite)
      given=${BENCH_SQLITE_URL:-}
      url=${given:-"sqlite://$OUT/replay.db"}
      [ -n "$given" ] || rm -f "$OUT"/replay.db* ;;
    postgres)
      given=${BENCH_PG_URL:-}
      if [ -n "$given" ]; then
        url=$given
      elif ! psql "$PG_URL" -qc "CREATE DATABASE $PG_DB" >/dev/null 2>&1; then
        say "postgres: $PG_URL unreachable; skipped"; continue
      else
        url="${PG_URL%/*}/$PG_DB"
      fi ;;
    *) say "unknown target $target"; exit 2 ;;
  esac
  if [ -z "$given" ]; then
    port=$(free_port)
    LEADROUTER_INTAKE_KEYS=$INTAKE_KEY LEADROUTER_ADMIN_KEYS=$ADMIN_KEY \
      "$LEADROUTER" serve --config examples/demo.toml --database "$url" --listen "127.0.0.1:$port" \
      >"$OUT/serve-$target.log" 2>&1 &
    SERVER_PID=$!
    for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.5; done
    say "$target: storing $LEADS leads"
    "$LOAD" "http://127.0.0.1:$port/v1/leads" --bearer "$INTAKE_KEY" --concurrency 32 \
      --requests "$LEADS" --json >"$OUT/load-$target.json"
    kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""
  fi
  for run in $(seq 1 "${BENCH_RUNS:-1}"); do
    say "$target: replaying (fidelity, run $run)"
    "$LEADROUTER" replay --database "$url" --as-live --json --list 10 >"$OUT/fidelity-$target.json" \
      || { say "$target: fidelity replay reported differences (see $OUT/fidelity-$target.json)"; }
    say "$target: replaying (candidate, run $run)"
    "$LEADROUTER" replay --database "$url" --config "$CAND_DIR/demo.toml" --json --list 10 \
      >"$OUT/candidate-$target.json"
    for mode in fidelity candidate; do
      python3 - "$OUT/$mode-$target.json" "$target" "$mode" >>"$ROWS" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
t = r["timing"]
print(f"| {sys.argv[2]} | {sys.argv[3]} | {r['routed']:,} | {r['changed']:,} | "
      f"{t['wall_seconds']:.2f} | {t['read_seconds']:.2f} | {t['apply_seconds']:.2f} | "
      f"{t['decide_seconds']:.2f} | {t['replay_per_second']:,.0f} | "
      f"{t['decide_per_second']:,.0f} | {t['ratio']:.2f} |")
PY
    done
  done
  if [ "$target" = postgres ] && [ -z "$given" ]; then
    psql "$PG_URL" -qc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null 2>&1 || true
  fi
done

echo "Host: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1); $(date -u +%Y-%m-%d)"
echo
echo "| backend | mode | leads replayed | changed | wall s | read s | apply s | decide s | replay leads/s | decide leads/s (same leads, same run) | ratio |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
cat "$ROWS"
