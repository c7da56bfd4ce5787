#!/usr/bin/env bash
# Lead search at 1,000,000 stored leads (OPS-6, docs/benchmarks.md "Lead search"): loads
# generated leads straight through the store (Tx::write, 5,000 a commit) into SQLite and
# PostgreSQL, then times the first page of each filter, of free text and a deep page,
# against one lead read by id in the same run. Target: p99 <= 100 ms for each.
#
#   scripts/bench-lead-search.sh                # BENCH_LEADS (1000000), BENCH_DIR
#                                               # (/tmp/lr-bench-search), BENCH_PG
#                                               # (postgres://postgres@127.0.0.1:5432),
#                                               # BENCH_KEEP=1 keeps both databases
# A kept database is measured again without reloading. Needs PostgreSQL with pg_trgm.
set -euo pipefail
cd "$(dirname "$0")/.."
LEADS=${BENCH_LEADS:-1000000}
DIR=${BENCH_DIR:-/tmp/lr-bench-search}
PG=${BENCH_PG:-postgres://postgres@127.0.0.1:5432}
DB=lr_bench_search
mkdir -p "$DIR"
if ! psql "$PG/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    psql "$PG/postgres" -qc "CREATE DATABASE $DB"
fi
cleanup() {
    if [ "${BENCH_KEEP:-}" != 1 ]; then
        rm -rf "$DIR"
        psql "$PG/postgres" -qc "DROP DATABASE IF EXISTS $DB" || true
    fi
}
trap cleanup EXIT
echo "host: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(date -u +%Y-%m-%dT%H:%MZ)"
cargo build --release -q -p leadrouter-store --example lead_search_bench
BIN=target/release/examples/lead_search_bench
# The two backends load and measure at once, one process each (BENCH_SERIAL=1: one
# after the other, so neither measures while the other loads).
if [ "${BENCH_SERIAL:-}" = 1 ]; then
    "$BIN" --leads "$LEADS" --sqlite "$DIR/leads.db" --postgres "$PG/$DB"
else
    "$BIN" --leads "$LEADS" --sqlite "$DIR/leads.db" >"$DIR/sqlite.out" 2>&1 &
    s=$!
    "$BIN" --leads "$LEADS" --postgres "$PG/$DB" >"$DIR/postgres.out" 2>&1 &
    p=$!
    rc=0
    wait $s || rc=$?
    wait $p || rc=$?
    cat "$DIR/sqlite.out" "$DIR/postgres.out"
    exit $rc
fi
