#!/usr/bin/env python3
"""How many 64-byte lines of code a decision touches, and how densely it uses them.

Input: a callgrind profile taken with `--dump-instr=yes` (per-instruction counts) of the
decide bench's profiling target, e.g. (N decisions collected; see docs/benchmarks.md):

    cargo bench -p leadrouter-core --bench decide_profile --no-run
    LR_BENCH_PROFILE_JUST_READ=1 LR_BENCH_PROFILE_VERDICTS=0..1000 \
      valgrind --tool=callgrind --dump-instr=yes --cache-sim=yes \
      --I1=32768,8,64 --D1=49152,12,64 --LL=1048576,16,64 \
      --toggle-collect='decide_profile::decide_just_read' --callgrind-out-file=instr.out \
      target/release/deps/decide_profile-<hash> --bench
    scripts/callgrind-code-lines.py instr.out target/release/deps/decide_profile-<hash> 30000

For every code line of the binary it takes the most-executed instruction's count c and
counts the line as touched by min(1, c / N) of the decisions (an upper bound: a line run
twice by one decision and never by the next counts as touched by both). Useful bytes are
the sizes of the instructions run, weighted the same way; density = useful / touched.
Instruction sizes come from `objdump -d`. Only the bench binary's own code is counted
(libc's memcpy/memcmp are not).
"""
import collections
import re
import subprocess
import sys


def parse(path, binary_tag):
    """Exclusive Ir and I1 misses per instruction address, and the function of each."""
    obs, fns = {}, {}
    ob = fn = None
    costs = collections.defaultdict(lambda: [0, 0])
    fn_of = {}
    last = 0
    skip_next = False
    events = None
    define = re.compile(r"(c?)(ob|fn)=\((\d+)\)(?: (.*))?")
    with open(path) as f:
        for line in f:
            line = line.rstrip("\n")
            if not line:
                continue
            if line.startswith("events:"):
                events = line.split()[1:]
                continue
            m = define.match(line)
            if m:
                table = obs if m.group(2) == "ob" else fns
                if m.group(4):
                    table[m.group(3)] = m.group(4)
                if not m.group(1):  # ob= / fn= switch context; cob= / cfn= only name
                    if m.group(2) == "ob":
                        ob = table[m.group(3)]
                    else:
                        fn = table[m.group(3)]
                continue
            if line.startswith("calls="):
                skip_next = True  # the next cost line is the call's inclusive cost
                continue
            c = line[0]
            if not (c.isdigit() or c in "+-*"):
                continue
            parts = line.split()
            tok = parts[0]
            if tok == "*":
                a = last
            elif tok[0] in "+-":
                d = int(tok[1:], 16) if tok[1:].startswith("0x") else int(tok[1:])
                a = last + d if tok[0] == "+" else last - d
            else:
                a = int(tok, 16) if tok.startswith("0x") else int(tok)
            last = a
            if skip_next:
                skip_next = False
                continue
            if ob and binary_tag in ob:
                vals = [int(x) for x in parts[2:]]
                vals += [0] * (len(events) - len(vals))
                costs[a][0] += vals[events.index("Ir")]
                if "I1mr" in events:
                    costs[a][1] += vals[events.index("I1mr")]
                fn_of[a] = fn
    return costs, fn_of


def sizes(binary):
    out = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", "-j", ".text", binary],
        check=True, capture_output=True, text=True,
    ).stdout
    addrs = [int(m.group(1), 16) for m in re.finditer(r"^ +([0-9a-f]+):", out, re.M)]
    return {addrs[i]: addrs[i + 1] - addrs[i] for i in range(len(addrs) - 1)}


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    profile, binary, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
    costs, fn_of = parse(profile, binary.rsplit("/", 1)[-1])
    size = sizes(binary)
    line_max = collections.defaultdict(int)
    line_fn = {}
    line_useful = collections.defaultdict(float)
    line_miss = collections.defaultdict(int)
    for a, (ir, mr) in costs.items():
        line = a // 64
        if ir > line_max[line]:
            line_max[line] = ir
            line_fn[line] = fn_of[a]
        line_useful[line] += size.get(a, 4) * min(1.0, ir / n)
        line_miss[line] += mr
    per_fn = collections.defaultdict(lambda: [0.0, 0.0, 0, 0])
    for line, mx in line_max.items():
        row = per_fn[line_fn[line]]
        row[0] += min(1.0, mx / n)
        row[1] += line_useful[line]
        row[2] += line_miss[line]
        row[3] += 1
    touched = sum(r[0] for r in per_fn.values())
    useful = sum(r[1] for r in per_fn.values())
    misses = sum(r[2] for r in per_fn.values())
    ir_total = sum(ir for ir, _ in costs.values())
    distinct = sum(min(1.0, ir / n) for ir, _ in costs.values())
    print(f"decisions {n}; per decision: {ir_total / n:,.0f} instructions, at most "
          f"{distinct:,.0f} distinct ({ir_total / n / distinct:.2f} runs each)")
    print(f"code lines touched {touched:,.0f} ({touched * 64 / 1024:.1f} KiB), useful bytes "
          f"{useful / 1024:.1f} KiB, density {useful / (touched * 64):.2f}, "
          f"I1 misses {misses / n:,.0f} ({misses / n / touched:.0%} of lines touched)")
    print(f"{len(per_fn)} functions run; the 30 with the most lines:")
    print(f"{'function':<72} {'lines':>6} {'KiB':>6} {'dens':>5} {'I1mr':>6} {'all':>5}")
    for name, (lines, use, mr, dist) in sorted(per_fn.items(), key=lambda kv: -kv[1][0])[:30]:
        print(f"{name[-72:]:<72} {lines:>6.1f} {use / 1024:>6.2f} "
              f"{use / (lines * 64) if lines else 0:>5.2f} {mr / n:>6.1f} {dist:>5}")


if __name__ == "__main__":
    main()
