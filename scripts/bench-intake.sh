#!/usr/bin/env bash
# Intake benchmark (issue 3): `leadrouter serve` on SQLite and PostgreSQL against the bare
# axum + SQLite group-commit baseline, in the same run, on this machine.
#
#   scripts/bench-intake.sh            # build, run everything, print markdown tables
#
# Each target gets a fresh database and a free loopback port and runs alone (the others
# are stopped), so they do not compete for the 2 cores. For each: closed loop at
# concurrency 1, 16 and 64, then an open loop at a fixed 1,000 req/s that reports
# latency from the time each request was due and leadrouter's own speed to assign
# (routed_at - received_at). Everything started here is stopped on exit.
#
# Settings (environment):
#   LEADROUTER_BENCH_PG   PostgreSQL admin URL (default postgres://postgres@127.0.0.1:5432/test);
#                         a database lr_bench_<pid> is created there and dropped afterwards.
#                         Unreachable -> the PostgreSQL target is skipped.
#   BENCH_TARGETS         default "bare-baseline bare-baseline-multirow leadrouter-sqlite
#                         leadrouter-postgres". bare-baseline (one INSERT per lead, the
#                         1.00 of the ratio column) and bare-baseline-multirow (multi-row
#                         INSERTs, what saving sqlx's per-statement hand-off is worth) are
#                         the same server with a different writer.
#   BENCH_CONCURRENCY     default "1 16 64"
#   BENCH_DURATION        seconds per closed-loop run (default 10)
#   BENCH_WARMUP          warm-up seconds before each run, not measured (default 2)
#   BENCH_OPEN_RATE       open-loop rate, req/s (default 1000; 0 skips the open loop)
#   BENCH_OPEN_DURATION   seconds (default 20)
#   BENCH_OUT             where results.jsonl, results.md and server logs go
#                         (default target/bench-intake)
#   BENCH_NICE            niceness of the servers and the load generator (default -10, so
#                         background builds disturb less; applied only where allowed)
#   BENCH_NO_BUILD=1      use the binaries already in target/release
#   BENCH_KEEP=1          keep the temporary databases
#   LEADROUTER_BIN        the leadrouter binary (default target/release/leadrouter)
set -euo pipefail
cd "$(dirname "$0")/.."

TARGETS=${BENCH_TARGETS:-"bare-baseline bare-baseline-multirow leadrouter-sqlite leadrouter-postgres"}
CONCURRENCY=${BENCH_CONCURRENCY:-"1 16 64"}
DURATION=${BENCH_DURATION:-10}
WARMUP=${BENCH_WARMUP:-2}
OPEN_RATE=${BENCH_OPEN_RATE:-1000}
OPEN_DURATION=${BENCH_OPEN_DURATION:-20}
PG_URL=${LEADROUTER_BENCH_PG:-postgres://postgres@127.0.0.1:5432/test}
OUT=${BENCH_OUT:-target/bench-intake}

INTAKE_KEY=bench-intake-key
ADMIN_KEY=bench-admin-key
LOAD=target/release/leadrouter-load
BARE=target/release/bare-baseline
LEADROUTER=${LEADROUTER_BIN:-target/release/leadrouter}

say() { printf '%s\n' "$*" >&2; }

NICE=${BENCH_NICE:--10}
PRIORITY=()
if [ "$(nice -n "$NICE" nice 2>/dev/null)" = "$NICE" ]; then
  PRIORITY=(nice -n "$NICE")
else
  say "note: cannot run at niceness $NICE here; running at normal priority"
fi

mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
# Databases live on the repository's disk: on a tmpfs, fsync costs nothing and the
# durability the benchmark is about would not be measured.
WORK=$(mktemp -d "$PWD/target/bench-intake-tmp.XXXXXX")
if [ "$(stat -f -c %T "$WORK")" = tmpfs ]; then
  say "warning: $WORK is on tmpfs; commits will look faster than on a disk"
fi
RESULTS=$OUT/results.jsonl
: >"$RESULTS"
# Anything else busy on the machine lowers every figure; the report says how busy it was.
LOAD_AT_START=$(cut -d' ' -f1-3 /proc/loadavg)

SERVER_PID=
PG_DB=
cleanup() {
  stop_server
  if [ -n "$PG_DB" ]; then
    psql "$PG_URL" -qAtc "DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)" >/dev/null 2>&1 ||
      say "warning: could not drop database $PG_DB"
  fi
  if [ "${BENCH_KEEP:-0}" = 1 ]; then
    say "kept databases in $WORK"
  else
    rm -rf "$WORK"
  fi
}
stop_server() {
  if [ -n "$SERVER_PID" ]; then
    kill "$SERVER_PID" 2>/dev/null || true
    for _ in $(seq 1 50); do
      kill -0 "$SERVER_PID" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
    SERVER_PID=
  fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ "${BENCH_NO_BUILD:-0}" != 1 ]; then
  say "building release binaries"
  cargo build --release --quiet -p leadrouter-loadtest
  if ! cargo build --release --quiet -p leadrouter; then
    say "warning: building leadrouter failed; its targets use whatever target/release/leadrouter exists"
  fi
fi

LEADROUTER_OK=1
if ! "$LEADROUTER" serve --help >/dev/null 2>&1; then
  LEADROUTER_OK=0
  say "skipping leadrouter targets: '$LEADROUTER serve --help' failed (the serve command is not built yet)"
fi

# A port nothing listens on. Racy in theory; the server reports a bind failure if lost.
free_port() {
  local port
  for _ in $(seq 1 200); do
    port=$((20000 + RANDOM % 40000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
      echo "$port"
      return 0
    fi
  done
  say "no free port found"
  return 1
}

# wait_healthy PORT LOG: until /healthz answers 200, or the server dies, or 60 s pass.
wait_healthy() {
  local port=$1 log=$2
  for _ in $(seq 1 600); do
    if curl -fsS -o /dev/null "http://127.0.0.1:$port/healthz" 2>/dev/null; then
      return 0
    fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      say "server exited before it was healthy; last lines of $log:"
      tail -n 20 "$log" >&2
      SERVER_PID=
      return 1
    fi
    sleep 0.1
  done
  say "server not healthy after 60 s; last lines of $log:"
  tail -n 20 "$log" >&2
  return 1
}

# start_target NAME PORT: starts the server for NAME in the background.
start_target() {
  local name=$1 port=$2 log=$OUT/$1.log
  case $name in
    bare-baseline)
      "${PRIORITY[@]}" "$BARE" --listen "127.0.0.1:$port" --database "sqlite://$WORK/bare.db" \
        --insert per-row >"$log" 2>&1 &
      ;;
    bare-baseline-multirow)
      "${PRIORITY[@]}" "$BARE" --listen "127.0.0.1:$port" --database "sqlite://$WORK/bare-multirow.db" \
        --insert multi-row >"$log" 2>&1 &
      ;;
    leadrouter-sqlite)
      LEADROUTER_INTAKE_KEYS=$INTAKE_KEY LEADROUTER_ADMIN_KEYS=$ADMIN_KEY \
        "${PRIORITY[@]}" "$LEADROUTER" serve --config examples/demo.toml \
        --database "sqlite://$WORK/leadrouter.db" --listen "127.0.0.1:$port" >"$log" 2>&1 &
      ;;
    leadrouter-postgres)
      LEADROUTER_INTAKE_KEYS=$INTAKE_KEY LEADROUTER_ADMIN_KEYS=$ADMIN_KEY \
        "${PRIORITY[@]}" "$LEADROUTER" serve --config examples/demo.toml \
        --database "$PG_BENCH_URL" --listen "127.0.0.1:$port" >"$log" 2>&1 &
      ;;
    *)
      say "unknown target $name"
      return 1
      ;;
  esac
  SERVER_PID=$!
  wait_healthy "$port" "$log"
}

# Creates a fresh database on the PostgreSQL server; false when it is not reachable.
prepare_postgres() {
  if ! psql "$PG_URL" -qAtc 'SELECT 1' >/dev/null 2>&1; then
    say "skipping leadrouter-postgres: PostgreSQL is not reachable at $PG_URL (set LEADROUTER_BENCH_PG)"
    return 1
  fi
  PG_DB=lr_bench_$$
  PGOPTIONS="-c client_min_messages=warning" psql "$PG_URL" -qAtc "DROP DATABASE IF EXISTS $PG_DB" >/dev/null
  psql "$PG_URL" -qAtc "CREATE DATABASE $PG_DB" >/dev/null
  local base=${PG_URL%%\?*}
  local query=${PG_URL#"$base"}
  PG_BENCH_URL="${base%/*}/$PG_DB$query"
  say "postgres: database $PG_DB, synchronous_commit=$(psql "$PG_URL" -qAtc 'SHOW synchronous_commit'), fsync=$(psql "$PG_URL" -qAtc 'SHOW fsync')"
}

# load NAME PORT ARGS...: one load run, its JSON summary appended to the results.
load() {
  local name=$1 port=$2
  shift 2
  "${PRIORITY[@]}" "$LOAD" "http://127.0.0.1:$port/v1/leads" --label "$name" --bearer "$INTAKE_KEY" \
    --warmup "$WARMUP" --json "$@" >>"$RESULTS"
}

for target in $TARGETS; do
  case $target in
    leadrouter-*)
      [ "$LEADROUTER_OK" = 1 ] || continue
      ;;
  esac
  if [ "$target" = leadrouter-postgres ]; then
    prepare_postgres || continue
  fi
  port=$(free_port)
  say "== $target on 127.0.0.1:$port"
  if ! start_target "$target" "$port"; then
    say "skipping $target: it did not start (log: $OUT/$target.log)"
    stop_server
    continue
  fi
  for c in $CONCURRENCY; do
    say "   closed loop, concurrency $c, ${DURATION}s"
    load "$target" "$port" --concurrency "$c" --duration "$DURATION"
  done
  if [ "$OPEN_RATE" != 0 ]; then
    say "   open loop, $OPEN_RATE req/s, ${OPEN_DURATION}s"
    load "$target" "$port" --rate "$OPEN_RATE" --duration "$OPEN_DURATION"
  fi
  stop_server
done

{
  echo "Intake benchmark, $(date -u +%Y-%m-%dT%H:%MZ), commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (dirty)')"
  echo "Machine: $(nproc) cores, $(lscpu | sed -n 's/^Model name: *//p' | head -n 1), $(uname -r); load average (1/5/15 min) $LOAD_AT_START at start, $(cut -d' ' -f1-3 /proc/loadavg) at end"
  echo "Servers and load generator at niceness ${PRIORITY[2]:-0}. Closed loop ${DURATION}s per row after ${WARMUP}s warm-up; open loop ${OPEN_DURATION}s at ${OPEN_RATE} req/s; latency in ms; 'vs baseline' = req/s / bare-baseline req/s at the same concurrency."
  echo
  "$LOAD" --table "$RESULTS" --baseline bare-baseline
} | tee "$OUT/results.md"
say "results: $OUT/results.md, $RESULTS; server logs in $OUT"
