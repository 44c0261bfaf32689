#!/usr/bin/env bash
# Self-test of tools/check-layers.sh (CTest LayerRules.SelfTest): on a small temporary tree it must
# pass when every include follows the rules, and fail, naming file:line and the rule, when a lower
# layer includes a higher one, when a file lies outside every rule, and when the rules are missing.
set -euo pipefail
script="$(cd "$(dirname "$0")/../.." && pwd)/tools/check-layers.sh"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

mkdir -p "$tmp/docs" "$tmp/low/base" "$tmp/low/top" "$tmp/mid" "$tmp/high" "$tmp/tests"
cat > "$tmp/docs/ARCHITECTURE.md" <<'DOC'
# Tiny

```layer-rules
# layer: may include
low/base:
low/top:  low/base
mid:      low/base low/top
high:     low/base low/top mid
```
DOC
echo '#include "low/base/a.h"' > "$tmp/low/base/b.h"
printf '#include <vector>\n#include "low/base/a.h"\n#include "nlohmann/json.hpp"\n' > "$tmp/low/top/t.cpp"
printf '#include "low/top/t.h"\n#include "mid/m.h"\n' > "$tmp/mid/m.cu"
printf '#include "mid/m.h"\n#include "low/base/a.h"\n' > "$tmp/high/h.cuh"
echo '#include "high/h.h"' > "$tmp/tests/anything_test.cpp"   # tests/ is exempt

"$script" "$tmp" > "$tmp/out" 2>&1 || { cat "$tmp/out"; fail "a clean tree was rejected"; }

# A lower layer including a higher one.
printf '// two lines\n#include "high/h.h"\n' > "$tmp/mid/bad.h"
if "$script" "$tmp" > "$tmp/out" 2>&1; then fail "mid including high was accepted"; fi
grep -q '^mid/bad.h:2: mid may not include "high/h.h" (layer high); rule: "mid: low/base low/top"' "$tmp/out" ||
  { cat "$tmp/out"; fail "the violation is not named with file:line and the rule"; }
rm "$tmp/mid/bad.h"

# A sub-layer including its sibling above it (longest prefix wins).
echo '#include "low/top/t.h"' > "$tmp/low/base/bad.cpp"
if "$script" "$tmp" > "$tmp/out" 2>&1; then fail "low/base including low/top was accepted"; fi
grep -q '^low/base/bad.cpp:1: low/base may not include' "$tmp/out" || { cat "$tmp/out"; fail "sub-layer violation"; }
rm "$tmp/low/base/bad.cpp"

# A file that no rule covers.
mkdir -p "$tmp/low/new" && echo '' > "$tmp/low/new/x.h"
if "$script" "$tmp" > "$tmp/out" 2>&1; then fail "a file outside every rule was accepted"; fi
grep -q '^low/new/x.h:1: no layer rule covers this file' "$tmp/out" || { cat "$tmp/out"; fail "uncovered file"; }
rm -r "$tmp/low/new"

"$script" "$tmp" > "$tmp/out" 2>&1 || { cat "$tmp/out"; fail "the tree is not clean again"; }

# No rules block: an error, not a pass.
echo '# no rules' > "$tmp/docs/ARCHITECTURE.md"
set +e
"$script" "$tmp" > "$tmp/out" 2>&1
rc=$?
set -e
[[ $rc -eq 2 ]] || { cat "$tmp/out"; fail "a missing rules block gave exit status $rc, not 2"; }
echo "LayerRules self-test passed"
