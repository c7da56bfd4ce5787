#!/usr/bin/env bash
# Instructions per decision of the decide bench, counted by callgrind: the figure the
# regression guard compares, where the bench's times follow the host's speed.
#
# Usage (from anywhere in the repository; about 1-2 minutes after the build):
#   scripts/bench-decide-instructions.sh
# Environment:
#   BENCH_OUT=FILE             JSON result (default target/bench-decide-instructions.json)
#   BENCH_MAX_INSTRUCTIONS=N   exit 1 when a decision of the mix costs more than N
#
# How: the bench's short mode (LR_BENCH_COUNT=1) generates and compiles the workload, runs
# the warm-up pass and checks the output digest against support::EXPECTED_DIGEST (it exits
# 1 when the decisions changed). It then decides every lead once in decide::count_mix and
# the slow-path leads (46+ rep verdicts: an overflow chain walked) once each in
# decide::count_slow_paths. Callgrind collects only inside those two functions
# (--toggle-collect), so generation, compile and warm-up are left out of the count by
# construction rather than subtracted; a dump at decide::count_boundary, called between
# them, puts each region in a profile part of its own. Per decision is a part's
# instructions over the decisions in it ("decide + drop": the call and the drop of its
# result); "decide alone" sums the calls to leadrouter_core::engine::decide in that part.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
out=${BENCH_OUT:-target/bench-decide-instructions.json}
command -v valgrind >/dev/null || { echo "valgrind is not installed" >&2; exit 2; }

build_json=$(mktemp)
work=$(mktemp -d)
trap 'rm -rf "$work" "$build_json"' EXIT
cargo bench --locked -p leadrouter-core --bench decide --no-run \
  --message-format=json-render-diagnostics >"$build_json"
bin=$(python3 -c '
import json, sys
for line in open(sys.argv[1]):
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m["target"]["name"] == "decide" \
            and "bench" in m["target"]["kind"] and m.get("executable"):
        print(m["executable"])
' "$build_json" | tail -1)
[ -x "$bin" ] || { echo "bench binary not found" >&2; exit 2; }

echo "counting with callgrind: $bin"
# An empty environment and the binary's bare name: with the caller's environment the
# count moved by ~9 instructions a decision from one shell to another, probably because
# the environment and the path sit at the top of the stack and shift the alignment of
# the buffers memcpy copies. So run, two shells agree to within 0.1 a decision.
valgrind=$(command -v valgrind)
(cd "$(dirname "$bin")" && env -i LR_BENCH_COUNT=1 "$valgrind" --tool=callgrind \
  --callgrind-out-file="$work/cg.out" \
  --toggle-collect='decide::count_mix' --toggle-collect='decide::count_slow_paths' \
  --dump-before='decide::count_boundary' \
  "./$(basename "$bin")" --bench) >"$work/stdout" 2>"$work/stderr" || {
  cat "$work/stdout" "$work/stderr" >&2
  exit 1
}

python3 - "$work" "$out" "$(git rev-parse --short HEAD)$(git diff --quiet HEAD -- crates || echo ' (dirty)')" \
  "$(lscpu | sed -n 's/^Model name: *//p' | head -1)" "$(valgrind --version)" \
  "${BENCH_MAX_INSTRUCTIONS:-}" <<'EOF'
import json, re, sys, time
work, out, commit, host, valgrind, limit = sys.argv[1:7]
count = None
for line in open(f"{work}/stdout"):
    if line.startswith("count: "):
        count = json.loads(line[len("count: "):])
if count is None:
    sys.exit("the bench printed no count line:\n" + open(f"{work}/stdout").read())

def part(path):
    """Total instructions of a profile part, and the instructions and number of the calls
    to the engine's decide made from the counted functions."""
    total, decide_ir, decide_calls = None, 0, 0
    names, fn, callee, pending = {}, None, None, None
    def name(v):
        m = re.match(r"\((\d+)\)(?: (.*))?", v)
        if not m:
            return v
        if m.group(2):
            names[m.group(1)] = m.group(2)
        return names.get(m.group(1), "")
    for line in open(path):
        line = line.rstrip("\n")
        if line.startswith("totals:") or line.startswith("summary:"):
            total = int(line.split()[1])
        elif line.startswith("fn="):
            fn = name(line[3:])
        elif line.startswith("cfn="):
            callee = name(line[4:])
        elif line.startswith("calls="):
            pending = int(line[6:].split()[0])
        elif pending is not None and line and (line[0].isdigit() or line[0] in "+-*"):
            if callee == "leadrouter_core::engine::decide" and fn and fn.startswith("decide::count_"):
                decide_ir += int(line.split()[-1])
                decide_calls += pending
            pending = None
    return total, decide_ir, decide_calls

regions = {}
for key, path, n in [("mix", f"{work}/cg.out.1", count["mix_decisions"]),
                     ("slow_paths", f"{work}/cg.out", count["slow_path_decisions"])]:
    total, decide_ir, calls = part(path)
    if not total or calls != n:
        sys.exit(f"{path}: {total} instructions, {calls} calls to decide, expected {n}")
    regions[key] = {"decisions": n, "instructions": total,
                    "per_decision": round(total / n),
                    "decide_alone_per_decision": round(decide_ir / n)}

report = {
    "bench": "decide-instructions",
    "date_utc": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
    "commit": commit, "host": host, "valgrind": valgrind,
    "output_digest": count["digest"], "config_version": count["config_version"],
    "slow_path_min_verdicts": count["slow_path_min_verdicts"],
    **regions,
}
with open(out, "w") as f:
    json.dump(report, f, indent=2)
m, s = regions["mix"], regions["slow_paths"]
print(f"output digest {count['digest']} (as expected)")
print(f"instructions per decision (decide + drop): mix {m['per_decision']:,} "
      f"over {m['decisions']:,} leads; slow paths ({count['slow_path_min_verdicts']}+ rep "
      f"verdicts) {s['per_decision']:,} over {s['decisions']:,} leads")
print(f"decide alone: mix {m['decide_alone_per_decision']:,}, slow paths {s['decide_alone_per_decision']:,}")
print(f"wrote {out}")
if limit and m["per_decision"] > int(limit):
    sys.exit(f"REGRESSION: {m['per_decision']:,} instructions a decision > {int(limit):,}")
EOF
