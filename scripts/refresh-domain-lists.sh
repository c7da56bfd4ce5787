#!/usr/bin/env bash
# Rebuild data/personal_domains.txt and data/disposable_domains.txt from their
# upstream packages:
#   - npm package  `freemail`                  (data/free.txt, data/disposable.txt)
#   - PyPI package `disposable-email-domains`  (the `blocklist` set in the wheel)
#   - npm package  `disposable-domains`        (index.json)
#   - npm package  `burner-email-providers`    (emails.txt)
#
# The npm package `mailchecker` is deliberately NOT merged: it is the list the coverage
# benchmark measures against (scripts/bench-disposable-coverage.sh), so its figure stays
# a measurement on a list the project does not ship.
#
# Usage: scripts/refresh-domain-lists.sh
#
# Environment (all optional):
#   FREEMAIL_VERSION   npm version to use (default: latest)
#   DED_VERSION        disposable-email-domains version to use (default: latest)
#   DD_VERSION         npm disposable-domains version to use (default: latest)
#   BURNER_VERSION     npm burner-email-providers version to use (default: latest)
#   OUT_DIR            where to write the files (default: <repo>/data)
#   PYTHON             python interpreter with pip (default: python3)
#
# Needs: bash, npm, python3 with pip, coreutils, tar.
#
# Merge rules (also written in the file headers):
#   1. Every entry is trimmed, lowercased and stripped of a trailing dot.
#      Non-ASCII (IDN) names become their ASCII "xn--" form. Lines that are not
#      valid host names (e.g. "404: not found", no dot) are dropped.
#   2. personal   = freemail free.txt
#      disposable = freemail disposable.txt + the PyPI blocklist
#                   + npm disposable-domains + npm burner-email-providers
#   3. If a domain is in both: it stays disposable only if the PyPI blocklist
#      has it, otherwise it stays personal only.
#   4. data/personal_extra.txt is added to personal and removed from disposable.
#   5. data/not_personal.txt is removed from personal (and not added anywhere).
#   6. Checks: the two lists share no domain, and a fixed set of well-known
#      providers is on the right list. If a check fails, nothing is written.
set -euo pipefail

export LC_ALL=C

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DATA="$ROOT/data"
OUT_DIR="${OUT_DIR:-$DATA}"
PYTHON="${PYTHON:-python3}"
FREEMAIL_VERSION="${FREEMAIL_VERSION:-latest}"
DED_VERSION="${DED_VERSION:-}"
DD_VERSION="${DD_VERSION:-latest}"
BURNER_VERSION="${BURNER_VERSION:-latest}"

EXTRA="$DATA/personal_extra.txt"
EXCLUDE="$DATA/not_personal.txt"

MUST_PERSONAL="gmail.com yahoo.com outlook.com hotmail.com icloud.com aol.com proton.me gmx.de web.de mail.ru qq.com 163.com yandex.ru"
MUST_DISPOSABLE="mailinator.com guerrillamail.com 10minutemail.com yopmail.com"
MUST_NOT_PERSONAL="google.com microsoft.com apple.com amazon.com"

for tool in npm tar sort comm "$PYTHON"; do
    command -v "$tool" >/dev/null || { echo "error: $tool not found" >&2; exit 1; }
done
for f in "$EXTRA" "$EXCLUDE"; do
    [[ -f "$f" ]] || { echo "error: missing $f" >&2; exit 1; }
done

TMP="$(mktemp -d)"
trap 'rm -rf "$TMP"' EXIT

# normalize LABEL < raw > clean: rule 1 above. Prints what it drops to stderr.
normalize() {
    "$PYTHON" -c '
import re, sys
label = sys.argv[1]
ok = re.compile(r"^(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$")
out = set()
for raw in sys.stdin.read().splitlines():
    d = raw.split("#", 1)[0].strip().lower().rstrip(".")
    if not d:
        continue
    if not d.isascii():
        try:
            d = d.encode("idna").decode("ascii")
        except UnicodeError:
            print(f"  {label}: dropped (bad IDN): {raw!r}", file=sys.stderr)
            continue
    if len(d) > 253 or not ok.match(d):
        print(f"  {label}: dropped (not a host name): {raw!r}", file=sys.stderr)
        continue
    out.add(d)
sys.stdout.write("".join(x + "\n" for x in sorted(out)))
' "$1"
}

count() { wc -l < "$1" | tr -d ' '; }

# --- npm: freemail ----------------------------------------------------------
echo "Fetching npm package freemail@$FREEMAIL_VERSION ..." >&2
mkdir -p "$TMP/npm"
(cd "$TMP/npm" && npm pack --silent --loglevel=error "freemail@$FREEMAIL_VERSION" >/dev/null)
tar -xzf "$TMP"/npm/freemail-*.tgz -C "$TMP/npm"
FM="$TMP/npm/package"
read -r FM_VERSION FM_LICENSE < <("$PYTHON" -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(p["version"], p.get("license", "UNKNOWN"))' "$FM/package.json")
FM_COPYRIGHT="$(grep -m1 -i '^copyright' "$FM/LICENSE" || echo "no copyright line")"

# --- npm: disposable-domains, burner-email-providers --------------------------
# npm_fetch NAME VERSION DIR: unpack the package into DIR/package; prints "version licence".
npm_fetch() {
    mkdir -p "$3"
    (cd "$3" && npm pack --silent --loglevel=error "$1@$2" >/dev/null)
    tar -xzf "$3"/*.tgz -C "$3"
    "$PYTHON" -c '
import json, sys
p = json.load(open(sys.argv[1]))
print(p["version"], p.get("license", "UNKNOWN"))' "$3/package/package.json"
}
echo "Fetching npm package disposable-domains@$DD_VERSION ..." >&2
read -r DD_VERSION_GOT DD_LICENSE < <(npm_fetch disposable-domains "$DD_VERSION" "$TMP/dd")
DD_COPYRIGHT="$(grep -m1 -i 'copyright' "$TMP/dd/package/LICENSE" || echo "no copyright line")"
"$PYTHON" -c '
import json, sys
for d in json.load(open(sys.argv[1], encoding="utf-8")):
    print(d)' "$TMP/dd/package/index.json" > "$TMP/dd_raw.txt"
echo "Fetching npm package burner-email-providers@$BURNER_VERSION ..." >&2
read -r BURNER_VERSION_GOT BURNER_LICENSE < <(npm_fetch burner-email-providers "$BURNER_VERSION" "$TMP/burner")
BURNER_COPYRIGHT="$(grep -m1 -i 'copyright' "$TMP/burner/package/LICENSE" || echo "no copyright line")"
cp "$TMP/burner/package/emails.txt" "$TMP/burner_raw.txt"

# --- PyPI: disposable-email-domains -----------------------------------------
DED_SPEC="disposable-email-domains${DED_VERSION:+==$DED_VERSION}"
echo "Fetching PyPI package $DED_SPEC ..." >&2
"$PYTHON" -m pip download --quiet --disable-pip-version-check --no-cache-dir \
    --no-deps --only-binary=:all: --dest "$TMP/pypi" "$DED_SPEC"
"$PYTHON" -m zipfile -e "$TMP"/pypi/disposable_email_domains-*.whl "$TMP/pypi/whl"
DI="$(echo "$TMP"/pypi/whl/disposable_email_domains-*.dist-info)"
read -r DED_VERSION_GOT DED_LICENSE < <("$PYTHON" -c '
import sys
from email.parser import Parser
m = Parser().parse(open(sys.argv[1], encoding="utf-8"))
lic = m.get("License-Expression") or m.get("License") or "UNKNOWN"
print(m["Version"], lic.splitlines()[0])' "$DI/METADATA")
DED_LICENSE_FILE="$(find "$DI" -iname 'LICENSE*' -type f | head -n1)"
DED_COPYRIGHT="$(grep -m1 -i '^copyright' "$DED_LICENSE_FILE" || echo "no copyright line")"

# Licence check: only permissive licences are merged into files the project ships.
for lic in "freemail:$FM_LICENSE" "disposable-email-domains:$DED_LICENSE" \
           "disposable-domains:$DD_LICENSE" "burner-email-providers:$BURNER_LICENSE"; do
    case "${lic#*:}" in
        MIT|MIT\ License|ISC|CC0-1.0|BSD-2-Clause|BSD-3-Clause|Apache-2.0) ;;
        *) echo "error: ${lic%%:*} has licence ${lic#*:}, not on the allowed list; nothing written" >&2; exit 1 ;;
    esac
done

# The wheel ships the list as a Python set literal `blocklist = {...}` in
# __init__.py. Read it with ast (the module is never imported or run).
"$PYTHON" -c '
import ast, sys
tree = ast.parse(open(sys.argv[1], encoding="utf-8").read())
for node in tree.body:
    if (isinstance(node, ast.Assign) and len(node.targets) == 1
            and isinstance(node.targets[0], ast.Name)
            and node.targets[0].id == "blocklist"):
        for d in sorted(ast.literal_eval(node.value)):
            print(d)
        break
else:
    sys.exit("error: no blocklist set found in " + sys.argv[1])
' "$TMP/pypi/whl/disposable_email_domains/__init__.py" > "$TMP/pypi_raw.txt"

# --- normalize --------------------------------------------------------------
echo "Normalizing ..." >&2
normalize "freemail free.txt"       < "$FM/data/free.txt"       > "$TMP/fm_free.txt"
normalize "freemail disposable.txt" < "$FM/data/disposable.txt" > "$TMP/fm_disp.txt"
normalize "pypi blocklist"          < "$TMP/pypi_raw.txt"       > "$TMP/pypi.txt"
normalize "npm disposable-domains"  < "$TMP/dd_raw.txt"         > "$TMP/dd.txt"
normalize "npm burner-email-providers" < "$TMP/burner_raw.txt"  > "$TMP/burner.txt"
normalize "personal_extra.txt"      < "$EXTRA"                  > "$TMP/extra.txt"
normalize "not_personal.txt"        < "$EXCLUDE"                > "$TMP/exclude.txt"

# --- merge ------------------------------------------------------------------
sort -u "$TMP/fm_disp.txt" "$TMP/pypi.txt" "$TMP/dd.txt" "$TMP/burner.txt" > "$TMP/disp0.txt"
comm -12 "$TMP/fm_free.txt" "$TMP/disp0.txt" > "$TMP/overlap.txt"
comm -12 "$TMP/overlap.txt" "$TMP/pypi.txt"  > "$TMP/overlap_to_disp.txt"
comm -23 "$TMP/overlap.txt" "$TMP/pypi.txt"  > "$TMP/overlap_to_personal.txt"

comm -23 "$TMP/fm_free.txt" "$TMP/overlap_to_disp.txt" \
    | sort -u - "$TMP/extra.txt" \
    | comm -23 - "$TMP/exclude.txt" > "$TMP/personal.txt"
comm -23 "$TMP/disp0.txt" "$TMP/overlap_to_personal.txt" \
    | comm -23 - "$TMP/extra.txt" > "$TMP/disposable.txt"

# --- checks -----------------------------------------------------------------
fail=0
both="$(comm -12 "$TMP/personal.txt" "$TMP/disposable.txt")"
if [[ -n "$both" ]]; then
    echo "check failed: in both lists: $both" >&2; fail=1
fi
for d in $MUST_PERSONAL; do
    grep -qxF "$d" "$TMP/personal.txt"   || { echo "check failed: $d not in personal" >&2; fail=1; }
    grep -qxF "$d" "$TMP/disposable.txt" && { echo "check failed: $d in disposable" >&2; fail=1; }
done
for d in $MUST_DISPOSABLE; do
    grep -qxF "$d" "$TMP/disposable.txt" || { echo "check failed: $d not in disposable" >&2; fail=1; }
    grep -qxF "$d" "$TMP/personal.txt"   && { echo "check failed: $d in personal" >&2; fail=1; }
done
for d in $MUST_NOT_PERSONAL; do
    grep -qxF "$d" "$TMP/personal.txt"   && { echo "check failed: $d in personal" >&2; fail=1; }
done
if (( fail )); then
    echo "error: checks failed; nothing written" >&2
    exit 1
fi

# --- write ------------------------------------------------------------------
N_PERSONAL="$(count "$TMP/personal.txt")"
N_DISPOSABLE="$(count "$TMP/disposable.txt")"
N_FM_FREE="$(count "$TMP/fm_free.txt")"
N_FM_DISP="$(count "$TMP/fm_disp.txt")"
N_PYPI="$(count "$TMP/pypi.txt")"
N_DD="$(count "$TMP/dd.txt")"
N_BURNER="$(count "$TMP/burner.txt")"
N_EXTRA="$(count "$TMP/extra.txt")"
N_EXCL="$(comm -12 "$TMP/exclude.txt" <(sort -u "$TMP/fm_free.txt" "$TMP/extra.txt") | wc -l | tr -d ' ')"
N_OV_D="$(count "$TMP/overlap_to_disp.txt")"
N_OV_P="$(count "$TMP/overlap_to_personal.txt")"

mkdir -p "$OUT_DIR"
{
    echo "# personal_domains.txt: free / personal (consumer) email domains."
    echo "# One lowercase ASCII domain per line (IDNs in their xn-- form), sorted, unique."
    echo "# Generated by scripts/refresh-domain-lists.sh. Do not edit by hand: change"
    echo "# data/personal_extra.txt or data/not_personal.txt and run the script again."
    echo "#"
    echo "# Source: npm package freemail@$FM_VERSION, file data/free.txt ($N_FM_FREE valid entries)"
    echo "#   Licence: $FM_LICENSE. $FM_COPYRIGHT"
    echo "#   Full text: data/licenses/freemail-LICENSE.txt"
    echo "# Added: data/personal_extra.txt ($N_EXTRA entries)"
    echo "# Removed: data/not_personal.txt ($N_EXCL of its entries were present)"
    echo "# Removed: $N_OV_D domains that are also in PyPI disposable-email-domains@$DED_VERSION_GOT"
    echo "# Rule: a domain on both the personal and the disposable source lists stays"
    echo "#   disposable only if the PyPI blocklist has it; otherwise it stays personal only."
    echo "# Entries: $N_PERSONAL"
    cat "$TMP/personal.txt"
} > "$TMP/personal_out.txt"
{
    echo "# disposable_domains.txt: disposable / throwaway email domains."
    echo "# One lowercase ASCII domain per line (IDNs in their xn-- form), sorted, unique."
    echo "# Generated by scripts/refresh-domain-lists.sh. Do not edit by hand."
    echo "#"
    echo "# Source: npm package freemail@$FM_VERSION, file data/disposable.txt ($N_FM_DISP valid entries)"
    echo "#   Licence: $FM_LICENSE. $FM_COPYRIGHT"
    echo "#   Full text: data/licenses/freemail-LICENSE.txt"
    echo "# Source: PyPI package disposable-email-domains@$DED_VERSION_GOT, set \`blocklist\` ($N_PYPI entries)"
    echo "#   Licence: $DED_LICENSE. $DED_COPYRIGHT"
    echo "#   Full text: data/licenses/disposable-email-domains-LICENSE.txt"
    echo "# Source: npm package disposable-domains@$DD_VERSION_GOT, file index.json ($N_DD valid entries)"
    echo "#   Licence: $DD_LICENSE. $DD_COPYRIGHT"
    echo "#   Full text: data/licenses/disposable-domains-LICENSE.txt"
    echo "# Source: npm package burner-email-providers@$BURNER_VERSION_GOT, file emails.txt ($N_BURNER valid entries)"
    echo "#   Licence: $BURNER_LICENSE. $BURNER_COPYRIGHT"
    echo "#   Full text: data/licenses/burner-email-providers-LICENSE.txt"
    echo "# Removed: $N_OV_P domains on the freemail free list but not on the PyPI blocklist"
    echo "# Removed: every domain in data/personal_extra.txt"
    echo "# Rule: a domain on both the personal and the disposable source lists stays"
    echo "#   disposable only if the PyPI blocklist has it; otherwise it stays personal only."
    echo "# Entries: $N_DISPOSABLE"
    cat "$TMP/disposable.txt"
} > "$TMP/disposable_out.txt"

mkdir -p "$OUT_DIR/licenses"
cp "$FM/LICENSE" "$OUT_DIR/licenses/freemail-LICENSE.txt"
cp "$DED_LICENSE_FILE" "$OUT_DIR/licenses/disposable-email-domains-LICENSE.txt"
cp "$TMP/dd/package/LICENSE" "$OUT_DIR/licenses/disposable-domains-LICENSE.txt"
cp "$TMP/burner/package/LICENSE" "$OUT_DIR/licenses/burner-email-providers-LICENSE.txt"
mv "$TMP/personal_out.txt"   "$OUT_DIR/personal_domains.txt"
mv "$TMP/disposable_out.txt" "$OUT_DIR/disposable_domains.txt"
chmod 644 "$OUT_DIR/personal_domains.txt" "$OUT_DIR/disposable_domains.txt" "$OUT_DIR"/licenses/*.txt

echo "freemail@$FM_VERSION ($FM_LICENSE), disposable-email-domains@$DED_VERSION_GOT ($DED_LICENSE), disposable-domains@$DD_VERSION_GOT ($DD_LICENSE), burner-email-providers@$BURNER_VERSION_GOT ($BURNER_LICENSE)" >&2
echo "personal_domains.txt:   $N_PERSONAL entries" >&2
echo "disposable_domains.txt: $N_DISPOSABLE entries" >&2
