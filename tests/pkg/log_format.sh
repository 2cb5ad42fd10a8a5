#!/bin/sh
# FWTRUST_LOG_FORMAT=json turns every error and hint line on stderr into one JSON object (journald, log
# shippers); without it the error is the usual sentence. Both for a failure (exit = error
# number) and a usage error (exit 1).
# usage: log_format.sh TOOLDIR
set -u
tools=$1
fail=0
err=$(FWTRUST_LOG_FORMAT=json "$tools/fwtrust" verify --key /nonexistent/key.pem /nonexistent.bin 2>&1 >/dev/null)
rc=$?
[ $rc = 7 ] || { echo "FAIL: exit $rc, expected 7"; fail=1; }
echo "$err" | python3 -c '
import json, sys
objs = [json.loads(l) for l in sys.stdin.read().splitlines()]  # every line is one JSON object
errs = [o for o in objs if o["level"] == "error"]
assert len(errs) == 1, objs
o = errs[0]
assert o["error"] == "FWT_E_KEY" and o["code"] == 7, o
assert o["prog"] == "fwtrust verify" and "/nonexistent/key.pem" in o["detail"], o
hints = [o for o in objs if o["level"] == "hint"]
assert hints and "fwtrust pubkey" in hints[0]["message"], objs  # the hint, as JSON too
' || { echo "FAIL: not JSON lines (one error, one hint): $err"; fail=1; }
err=$(FWTRUST_LOG_FORMAT=json "$tools/fwtrust-agent" --device /nonexistent --bogus-option status 2>&1 >/dev/null)
rc=$?
[ $rc = 1 ] || { echo "FAIL: usage error exit $rc, expected 1"; fail=1; }
echo "$err" | python3 -c '
import json, sys
o = json.loads(sys.stdin.read())
assert o["error"] == "FWT_E_ARG" and "--bogus-option" in o["message"], o
' || { echo "FAIL: usage error not JSON: $err"; fail=1; }
err=$("$tools/fwtrust" verify --key /nonexistent/key.pem /nonexistent.bin 2>&1 >/dev/null)
case "$err" in
"fwtrust verify: error: "*"/nonexistent/key.pem"*) ;;
*) echo "FAIL: plain error line changed: $err"; fail=1 ;;
esac
[ $fail = 0 ] && echo "log format: json and text both right"
exit $fail
