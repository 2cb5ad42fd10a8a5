#!/bin/bash
# `make bench` chapter: rollout decision speed over 10,000 devices (bench_rollout.c), on
# SQLite. The goal: every step under 1 s (docs/rollouts.md#measured).
set -euo pipefail
TOP=${TOP:-$(cd "$(dirname "$0")/../.." && pwd)}
B=${FWT_BIN:-$TOP/build/src/tools}/../../tests/server/bench-rollout
[ -x "$B" ] || { echo "bench-rollout is not built (cmake --build build)" >&2; exit 1; }
"$B" 10000 | tee /dev/stderr | python3 -c '
import json, sys
r = json.load(sys.stdin)
slow = [k for k in ("create_s", "tick_s", "approve_s", "halt_s") if r[k] >= 1.0]
print("rollout decisions over %d devices: %s" % (r["devices"], "goal met (< 1 s each)" if not slow else "SLOWER than 1 s: %s" % slow))
sys.exit(1 if slow else 0)'
