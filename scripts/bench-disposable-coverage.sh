#!/usr/bin/env bash
# Disposable-address coverage against a list the project does not ship: the npm package
# `mailchecker` (MIT), which scripts/refresh-domain-lists.sh deliberately leaves out.
# Prints the share of its domains that the shipped lists send to junk, by the lookup
# routing uses (crates/core/examples/disposable_coverage.rs).
#
# Usage: scripts/bench-disposable-coverage.sh
# Environment (optional):
#   MAILCHECKER_VERSION  npm version to measure against (default: latest)
#   BASELINE_REV         also measure data/disposable_domains.txt as of this git revision
#                        (e.g. the commit before a refresh), in the same run
#   PYTHON               python interpreter (default: python3)
#
# Needs: npm, python3, tar, cargo. Talks only to the npm registry.
set -euo pipefail
export LC_ALL=C
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PYTHON="${PYTHON:-python3}"
VERSION="${MAILCHECKER_VERSION:-latest}"
TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

echo "Fetching npm package mailchecker@$VERSION ..." >&2
(cd "$TMP" && npm pack --silent --loglevel=error "mailchecker@$VERSION" >/dev/null)
tar -xzf "$TMP"/mailchecker-*.tgz -C "$TMP"
GOT="$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))["version"])' "$TMP/package/package.json")"
# The list is the JSON array inside `new Set([...])` in the Node build.
"$PYTHON" -c '
import json, re, sys
src = open(sys.argv[1], encoding="utf-8").read()
m = re.search(r"new Set\((\[.*?\])\)", src, re.S)
if not m:
    sys.exit("error: no domain list found in " + sys.argv[1])
for d in sorted(set(x.strip().lower() for x in json.loads(m.group(1)))):
    print(d)
' "$TMP/package/platform/node/index.js" > "$TMP/reference.txt"
echo "reference: mailchecker@$GOT, $(wc -l < "$TMP/reference.txt" | tr -d ' ') domains" >&2

cd "$ROOT"
cargo build -q -p leadrouter-core --example disposable_coverage
BIN="$ROOT/target/debug/examples/disposable_coverage"
printf 'shipped lists (%s): ' "$(git rev-parse --short HEAD 2>/dev/null || echo worktree)"
"$BIN" < "$TMP/reference.txt"
if [[ -n "${BASELINE_REV:-}" ]]; then
    git show "$BASELINE_REV:data/disposable_domains.txt" > "$TMP/baseline.txt"
    printf 'baseline %s: ' "$BASELINE_REV"
    "$BIN" --list "$TMP/baseline.txt" < "$TMP/reference.txt"
fi
