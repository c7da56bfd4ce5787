#!/usr/bin/env bash
# Memory under abuse (issue 24, docs/security.md "Figures"): the resident set of the
# release `leadrouter serve` (demo config, fresh SQLite) idle, then its peak while 1,000
# connections send half a request head and stall, then its peak while 60 clients each
# upload a 52 MB body to /v1/imports without a key (the outside probe's two attacks).
# Loopback only; every phase is bounded (BENCH_PHASE seconds, default 8) and the script
# stops the server and its clients on exit. Target: each peak within 2x idle.
#
#   scripts/bench-abuse-memory.sh          # BENCH_PHASE (8), BENCH_NO_BUILD=1,
#                                          # BENCH_PROFILE=debug (default release)
#   extra LEADROUTER_* variables are passed to the server (e.g. LEADROUTER_BODY_BUDGET_BYTES)
set -euo pipefail
cd "$(dirname "$0")/.."
PHASE=${BENCH_PHASE:-8}
PROFILE=${BENCH_PROFILE:-release}
if [ "${BENCH_NO_BUILD:-}" != 1 ]; then
    if [ "$PROFILE" = debug ]; then cargo build -p leadrouter; else cargo build --release -p leadrouter; fi
fi
BIN=$PWD/target/$PROFILE/leadrouter
WORK=$(mktemp -d)
SERVER=
cleanup() {
    [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$WORK"
}
trap cleanup EXIT

"$BIN" serve --config examples/demo.toml --database "sqlite://$WORK/lr.db" \
    --listen 127.0.0.1:0 --admin-keys bench-admin-key >"$WORK/out" 2>"$WORK/err" &
SERVER=$!
for _ in $(seq 600); do
    grep -q 'listening on' "$WORK/out" 2>/dev/null && break
    sleep 0.1
done
PORT=$(sed -n 's#.*listening on http://127.0.0.1:\([0-9]*\).*#\1#p' "$WORK/out")
[ -n "$PORT" ] || { cat "$WORK/err"; echo "server did not start" >&2; exit 1; }
sleep 2

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$SERVER/status"; }
# Peak RSS while "$@" runs (sampled every 50 ms).
peak_during() {
    "$@" &
    local client=$! peak=0 now
    while kill -0 "$client" 2>/dev/null; do
        now=$(rss_kb)
        [ "$now" -gt "$peak" ] && peak=$now
        sleep 0.05
    done
    wait "$client" || true
    echo "$peak"
}

cat >"$WORK/abuse.py" <<'PY'
import socket, sys, threading, time
port, mode, phase = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
end = time.time() + phase
codes = {}
lock = threading.Lock()
def note(code):
    with lock:
        codes[code] = codes.get(code, 0) + 1
if mode == "slow":
    socks = []
    for _ in range(1000):
        s = socket.create_connection(("127.0.0.1", port), timeout=2)
        s.sendall(b"POST /v1/leads HTTP/1.1\r\nHost: bench\r\nX-Slow: ")
        socks.append(s)
    time.sleep(max(0, end - time.time()))
    open_ = 0
    for s in socks:
        s.setblocking(False)
        try:
            s.recv(1)  # b"" (or an error): the server closed it
        except BlockingIOError:
            open_ += 1
        except OSError:
            pass
        s.close()
    print(f"slow: 1000 connections, {open_} still open after {phase:.0f} s", file=sys.stderr)
else:
    size = 52_000_000
    chunk = b"x" * 65536
    def upload():
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=2)
            s.sendall(f"POST /v1/imports HTTP/1.1\r\nHost: bench\r\nContent-Type: text/csv\r\nContent-Length: {size}\r\n\r\n".encode())
            s.settimeout(phase)
            sent = 0
            while sent < size and time.time() < end:
                s.sendall(chunk)
                sent += len(chunk)
            s.settimeout(max(0.5, end - time.time()))
            note(s.recv(64).split(b" ")[1].decode())
        except (OSError, IndexError):
            note("closed")
    ts = [threading.Thread(target=upload) for _ in range(60)]
    for t in ts: t.start()
    for t in ts: t.join()
    print(f"uploads: 60 x 52 MB, answers {codes}", file=sys.stderr)
PY

IDLE=$(rss_kb)
SLOW=$(peak_during python3 "$WORK/abuse.py" "$PORT" slow "$PHASE")
sleep 2
UPLOAD=$(peak_during python3 "$WORK/abuse.py" "$PORT" upload "$PHASE")
curl -fsS "http://127.0.0.1:$PORT/healthz" >/dev/null && HEALTH=answers || HEALTH=silent

ratio() { awk -v a="$1" -v b="$IDLE" 'BEGIN { printf "%.2f", a / b }'; }
printf '%-34s %8s %6s\n' phase "RSS MiB" "x idle"
printf '%-34s %8.1f %6s\n' idle "$(echo "$IDLE/1024" | bc -l)" 1.00
printf '%-34s %8.1f %6s\n' "1,000 slow connections (peak)" "$(echo "$SLOW/1024" | bc -l)" "$(ratio "$SLOW")"
printf '%-34s %8.1f %6s\n' "60 x 52 MB uploads (peak)" "$(echo "$UPLOAD/1024" | bc -l)" "$(ratio "$UPLOAD")"
echo "/healthz afterwards: $HEALTH"
