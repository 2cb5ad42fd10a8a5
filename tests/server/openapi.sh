#!/bin/bash
# docs/openapi.yaml names exactly the routes the daemon serves (fwtrust-server routes),
# method by method, and every documented error code is one the server sends.
. "$(dirname "$0")/lib.sh"
"$SERVER" routes --json >"$T/routes.json"
"$PY" - "$SRC/docs/openapi.yaml" "$T/routes.json" "$SRC/src/server/http.c" <<'PY' || fail "docs/openapi.yaml and the server disagree"
import json, re, sys, yaml
doc = yaml.safe_load(open(sys.argv[1]))
documented = {"%s %s" % (m.upper(), p) for p, ops in doc["paths"].items() for m in ops
              if m in ("get", "post", "put", "delete", "patch")}
served = set(json.load(open(sys.argv[2]))["routes"])
bad = 0
for r in sorted(served - documented):
    print("served, not in docs/openapi.yaml:", r); bad = 1
for r in sorted(documented - served):
    print("in docs/openapi.yaml, not served:", r); bad = 1
codes = set(doc["components"]["schemas"]["Error"]["properties"]["error"]["enum"])
src = open(sys.argv[3]).read()
sent = set(re.findall(r'(?:reply_error\(\w+(?:->req)?, \d+, |err = )"([a-z_]+)"', src))
for c in sorted(sent - codes):
    print("error code sent, not documented:", c); bad = 1
for c in sorted(codes - sent):
    print("error code documented, never sent:", c); bad = 1
sys.exit(bad)
PY
echo "openapi: ok"
