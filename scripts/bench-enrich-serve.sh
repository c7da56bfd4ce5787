#!/usr/bin/env bash
# Enrichment through `serve` (issue 4): does a 100 ms HTTP provider lower intake
# throughput at 1,000 leads/s? Runs `leadrouter serve` on the demo config twice on a fresh
# SQLite database each time: as shipped (local file + signals), and with an extra HTTP
# provider (a local Python server that answers every lookup after 100 ms) in front of the
# file. `leadrouter-load` sends 1,000 leads/s in open loop; leads come from a limited set
# of company domains, so concurrent lookups of one domain are coalesced and later ones
# are cache hits. Prints both runs and the provider's request count.
#
#   scripts/bench-enrich-serve.sh          # BENCH_RATE (1000), BENCH_DURATION (15), BENCH_NO_BUILD=1
set -euo pipefail
cd "$(dirname "$0")/.."
RATE=${BENCH_RATE:-1000}
DURATION=${BENCH_DURATION:-15}
[ "${BENCH_NO_BUILD:-}" = 1 ] || cargo build --release -p leadrouter -p leadrouter-loadtest
WORK=$(mktemp -d)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
cp examples/*.toml examples/*.csv "$WORK/"
PROVIDER_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
cat >"$WORK/slow.py" <<'PY'
import http.server, json, sys, time, threading
count = 0
lock = threading.Lock()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        global count
        with lock:
            count += 1
        time.sleep(0.1)
        body = json.dumps({"name": "Slow Co", "employees": 750, "industry": "Software"}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
s = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
def report():
    while True:
        time.sleep(0.5)
        open(sys.argv[2], "w").write(str(count))
threading.Thread(target=report, daemon=True).start()
s.serve_forever()
PY
python3 "$WORK/slow.py" "$PROVIDER_PORT" "$WORK/requests" &
PIDS+=($!)
# The slow provider goes first in the chain; the vendor file after it.
python3 - "$WORK/demo.toml" "$WORK/slow.toml" "$PROVIDER_PORT" <<'PY'
import sys
src, dst, port = sys.argv[1], sys.argv[2], sys.argv[3]
text = open(src).read()
slow = f'''[[enrichment.provider]]
name = "slow-api"
kind = "http"
url = "http://127.0.0.1:{port}/companies?domain={{domain}}"
timeout = "1s"
retries = 0
rate_limit = "5000/s"
cache_ttl = "1d"
miss_ttl = "1h"

[enrichment.provider.fields]
company = "/name"
employees = "/employees"
industry = "/industry"

'''
marker = "[[enrichment.provider]]"
i = text.index(marker)
open(dst, "w").write(text[:i] + slow + text[i:])
PY
run() {
  local label=$1 config=$2
  local log="$WORK/$label.log"
  : >"$log"
  LEADROUTER_INTAKE_KEYS=ik LEADROUTER_ADMIN_KEYS=ak target/release/leadrouter serve \
    --config "$config" --database "sqlite://$WORK/$label.db" --listen 127.0.0.1:0 >"$log" 2>&1 &
  local pid=$!
  PIDS+=($pid)
  local port=
  for _ in $(seq 1 300); do
    port=$(sed -n 's#.*listening on http://127\.0\.0\.1:\([0-9]*\).*#\1#p' "$log" | head -n 1)
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || { cat "$log" >&2; exit 1; }
    sleep 0.1
  done
  echo "== $label"
  target/release/leadrouter-load "http://127.0.0.1:$port/v1/leads" --bearer ik \
    --rate "$RATE" --duration "$DURATION" --warmup 2 --label "$label" |
    grep -E "requests|throughput|latency|to assign"
  curl -fsS -H 'Authorization: Bearer ak' "http://127.0.0.1:$port/v1/enrichment/stats" |
    python3 -c 'import json,sys; [print("   provider", p["name"], "calls", p["calls"], "hits", p["hits"], "requests", p.get("requests"), "coalesced", p.get("coalesced"), "cache_hits", p.get("cache_hits"), "latency p99 us", p["latency"]["p99_us"]) for p in json.load(sys.stdin)["providers"]]'
  kill "$pid"; wait "$pid" 2>/dev/null || true
}
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
run shipped "$WORK/demo.toml"
run slow-provider "$WORK/slow.toml"
echo "slow provider HTTP requests served: $(cat "$WORK/requests" 2>/dev/null || echo 0)"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
