#!/usr/bin/env bash
# Intake latency during a console login flood (issue 24, "Figures"): the same intake run
# twice against one `leadrouter serve` (SQLite, loopback), first alone, then while
# flooders post bogus logins as fast as the server answers, in one run so the two are
# comparable. Also the server's RSS (idle and peak) and how the logins were answered.
#
#   scripts/bench-login-flood.sh        # build the release binary, run, print one table
#
# Bounded: loopback only; the flood lasts only as long as the second intake run (and at
# most BENCH_MAX_SECONDS); everything started here is stopped on exit.
#
# Settings (environment):
#   LEADROUTER_BIN      the leadrouter binary (default target/release/leadrouter)
#   BENCH_NO_BUILD=1    use LEADROUTER_BIN as it is
#   BENCH_LEADS         leads per intake run, sent one at a time (default 400)
#   BENCH_FLOODERS      concurrent login flooders (default 32)
#   BENCH_MAX_SECONDS   hard cap on the flooded run (default 60)
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${LEADROUTER_BIN:-target/release/leadrouter}
if [[ -z ${BENCH_NO_BUILD:-} && -z ${LEADROUTER_BIN:-} ]]; then
  cargo build --release --locked -p leadrouter >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

BIN=$BIN WORK=$work CONFIG=examples/demo.toml python3 - <<'PY'
import http.client, json, os, re, subprocess, sys, threading, time, urllib.parse

leads = int(os.environ.get("BENCH_LEADS", "400"))
flooders = int(os.environ.get("BENCH_FLOODERS", "32"))
max_seconds = float(os.environ.get("BENCH_MAX_SECONDS", "60"))
env = dict(os.environ, LEADROUTER_INTAKE_KEYS="lr_bench_intake", LEADROUTER_ADMIN_KEYS="lr_bench_admin")
env.pop("LEADROUTER_CONSOLE_USERS", None)
server = subprocess.Popen(
    [os.environ["BIN"], "serve", "--config", os.environ["CONFIG"],
     "--database", f"sqlite://{os.environ['WORK']}/bench.db", "--listen", "127.0.0.1:0"],
    env=env, stdout=subprocess.PIPE, stderr=open(f"{os.environ['WORK']}/stderr", "w"), text=True)
try:
    line = server.stdout.readline()
    m = re.search(r"http://([\d.]+):(\d+)", line)
    if not m:
        sys.exit(f"serve did not start: {line!r}")
    host, port = m.group(1), int(m.group(2))

    def rss_mib():
        with open(f"/proc/{server.pid}/status") as f:
            for l in f:
                if l.startswith("VmRSS:"):
                    return int(l.split()[1]) / 1024
        return 0.0

    def conn():
        return http.client.HTTPConnection(host, port, timeout=30)

    c = conn()
    c.request("GET", "/console/login")
    r = c.getresponse()
    page = r.read().decode()
    cookie = re.search(r"lr_console_login=([^;]+)", r.getheader("set-cookie")).group(1)
    csrf = re.search(r'name="csrf" value="([^"]+)"', page).group(1)

    def intake(start):
        c = conn()
        times = []
        for i in range(start, start + leads):
            body = json.dumps({"first_name": "Pat", "last_name": "Bench",
                               "email": f"pat.{i}@bench-{i}.com", "company": f"Bench {i}",
                               "country": "US", "employees": 500, "industry": "software",
                               "action": "demo_request"})
            t = time.perf_counter()
            c.request("POST", "/v1/leads", body, {"Authorization": "Bearer lr_bench_intake",
                                                  "Content-Type": "application/json"})
            r = c.getresponse(); r.read()
            times.append(time.perf_counter() - t)
            if r.status != 201:
                sys.exit(f"intake answered {r.status}")
        times.sort()
        q = lambda p: times[min(len(times) - 1, round((len(times) - 1) * p))] * 1000
        return q(0.5), q(0.99)

    for _ in range(2):  # warm up: first connections, first argon2 check
        intake(10_000_000)
    idle = rss_mib()
    quiet = intake(0)

    stop = threading.Event()
    statuses = {}
    lock = threading.Lock()
    def flood(f):
        c = conn(); n = 0
        while not stop.is_set():
            n += 1
            body = urllib.parse.urlencode({"csrf": csrf, "username": f"bogus-{f}-{n}",
                                           "password": "not the password"})
            try:
                c.request("POST", "/console/login", body,
                          {"Cookie": f"lr_console_login={cookie}",
                           "Content-Type": "application/x-www-form-urlencoded"})
                r = c.getresponse(); r.read(); s = r.status
            except Exception:
                c = conn(); s = 0
            with lock:
                statuses[s] = statuses.get(s, 0) + 1
    threads = [threading.Thread(target=flood, args=(f,), daemon=True) for f in range(flooders)]
    for t in threads: t.start()
    peak = [idle]
    def sample():
        while not stop.is_set():
            peak[0] = max(peak[0], rss_mib()); time.sleep(0.05)
    threading.Thread(target=sample, daemon=True).start()
    threading.Timer(max_seconds, stop.set).start()
    time.sleep(0.5)
    t0 = time.time()
    flooded = intake(leads)
    seconds = time.time() - t0
    stop.set()
    for t in threads: t.join(timeout=35)

    print(f"| run | intake p50 | intake p99 | RSS |")
    print(f"|---|---|---|---|")
    print(f"| without flood | {quiet[0]:.2f} ms | {quiet[1]:.2f} ms | {idle:.0f} MiB |")
    print(f"| {flooders} login flooders | {flooded[0]:.2f} ms | {flooded[1]:.2f} ms | peak {peak[0]:.0f} MiB |")
    print(f"\np99 ratio {flooded[1] / quiet[1]:.2f}x (target within 2x); {leads} leads per run, "
          f"one at a time; login answers during {seconds:.1f} s of flood: "
          + ", ".join(f"{n} x {s}" for s, n in sorted(statuses.items())))
finally:
    server.terminate()
    server.wait(timeout=30)
PY
