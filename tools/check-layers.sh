#!/usr/bin/env bash
# Checks the layer rules: every `#include "..."` in the project's sources (*.h, *.cpp, *.cu, *.cuh
# under the folders the rules name; tests/ and bench/ are exempt) may only name a file of its own
# layer or of a layer its rule allows. The rules are the fenced `layer-rules` block of
# docs/ARCHITECTURE.md, one layer a line:
#
#   <layer folder>: <folders it may include, besides itself>
#
# A file belongs to the longest layer folder that is a prefix of its path; a source file under a
# scanned folder that no rule covers, or an include of such a path, is a violation too, so the
# rules stay complete. Includes whose first path component is not a scanned folder (third-party
# headers) are ignored.
#
# Usage: tools/check-layers.sh [repository root]   (default: the repository holding this script)
# Exit status: 0 when clean, 1 on violations (each printed as file:line: message), 2 on a bad
# rules block.
set -euo pipefail

root=${1:-"$(cd "$(dirname "$0")/.." && pwd)"}
doc="$root/docs/ARCHITECTURE.md"
[[ -f "$doc" ]] || { echo "check-layers: $doc not found" >&2; exit 2; }

rules=$(awk '/^```layer-rules[[:space:]]*$/ {inside = 1; next} inside && /^```/ {exit} inside' "$doc" |
        sed 's/#.*//' | awk 'NF')
[[ -n "$rules" ]] || { echo "check-layers: no \`\`\`layer-rules block in $doc" >&2; exit 2; }

# The scanned folders: the first path component of every layer.
mapfile -t tops < <(printf '%s\n' "$rules" | awk -F: '{sub(/[[:space:]]+$/, "", $1); split($1, p, "/"); print p[1]}' |
                    sort -u)
cd "$root"
mapfile -t files < <(for t in "${tops[@]}"; do
                       [[ -d "$t" ]] && find "$t" -type f \( -name '*.h' -o -name '*.cpp' -o -name '*.cu' -o -name '*.cuh' \)
                     done | sort)

rules_file=$(mktemp)
trap 'rm -f "$rules_file"' EXIT
printf '%s\n' "$rules" > "$rules_file"
awk -v tops="${tops[*]}" '
  # Pass 1 (the rules): layer -> allowed layers.
  FNR == NR {
    line = $0
    if (index(line, ":") == 0) { printf "check-layers: rule without a colon: %s\n", line > "/dev/stderr"; bad = 1; next }
    layer = substr(line, 1, index(line, ":") - 1); gsub(/[[:space:]]/, "", layer)
    rest = substr(line, index(line, ":") + 1)
    if (layer in rule) { printf "check-layers: layer %s has two rules\n", layer > "/dev/stderr"; bad = 1 }
    layers[++nlayers] = layer
    r = rest; gsub(/[[:space:]]+/, " ", r); sub(/ $/, "", r)
    rule[layer] = r
    n = split(rest, deps, /[[:space:],]+/)
    for (i = 1; i <= n; ++i) if (deps[i] != "") allowed[layer, deps[i]] = 1
    next
  }
  FNR == 1 && !checked_rules {
    checked_rules = 1
    if (bad) exit 2
    for (k in allowed) {
      split(k, kv, SUBSEP)
      if (!(kv[2] in rule)) { printf "check-layers: rule of %s names %s, which has no rule\n", kv[1], kv[2] > "/dev/stderr"; bad = 1 }
    }
    if (bad) exit 2
    nt = split(tops, t, " ")
    for (i = 1; i <= nt; ++i) scanned[t[i]] = 1
  }
  function layer_of(path,    i, best, l) {
    best = ""
    for (i = 1; i <= nlayers; ++i) {
      l = layers[i]
      if (index(path, l "/") == 1 && length(l) > length(best)) best = l
    }
    return best
  }
  FNR == 1 {
    src = FILENAME
    src_layer = layer_of(src)
    if (src_layer == "") { printf "%s:1: no layer rule covers this file (add its folder to the layer-rules block)\n", src; found = 1 }
  }
  /^[[:space:]]*#[[:space:]]*include[[:space:]]*"/ {
    if (src_layer == "") next
    inc = $0
    sub(/^[^"]*"/, "", inc); sub(/".*$/, "", inc)
    split(inc, comp, "/")
    if (!(comp[1] in scanned)) next
    target = layer_of(inc)
    if (target == "") {
      printf "%s:%d: includes \"%s\", which no layer rule covers\n", src, FNR, inc; found = 1; next
    }
    if (target == src_layer || ((src_layer, target) in allowed)) next
    printf "%s:%d: %s may not include \"%s\" (layer %s); rule: \"%s:%s\"\n", src, FNR, src_layer, inc, target, src_layer, rule[src_layer]
    found = 1
  }
  END { if (bad) exit 2; exit found ? 1 : 0 }
' "$rules_file" "${files[@]}"
