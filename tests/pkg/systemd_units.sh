#!/bin/sh
# The systemd units in dist/systemd pass `systemd-analyze verify` (with their programs pointed
# at this build) and each service's `systemd-analyze security` exposure is OK or better
# (below 5.0: "SAFE" or "OK"; the figures are in docs/packaging.md).
# usage: systemd_units.sh UNIT_DIR TOOLDIR   (exit 77: systemd-analyze missing)
set -u
units=$(cd "$1" && pwd) tools=$(cd "$2" && pwd)
command -v systemd-analyze >/dev/null 2>&1 || { echo "SKIP: systemd-analyze not installed"; exit 77; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
fail=0
for u in "$units"/*.service "$units"/*.timer; do
    sed "s|/usr/bin/|$tools/|g" "$u" >"$tmp/$(basename "$u")"
done
# verify: unknown directives, bad values, missing programs, timers without their service
out=$(cd "$tmp" && systemd-analyze verify --man=no ./*.service ./*.timer 2>&1)
if [ -n "$out" ]; then
    echo "FAIL: systemd-analyze verify:"; echo "$out"; fail=1
fi
for u in "$tmp"/*.service; do
    line=$(systemd-analyze security --offline=true "$u" 2>&1 | grep 'Overall exposure level')
    level=$(echo "$line" | sed -n 's/.*: \([0-9.]*\) \([A-Z]*\).*/\1 \2/p')
    echo "$(basename "$u"): exposure $level"
    case "$level" in
        *" SAFE"|*" OK"|*" PERFECT") ;;
        *) echo "FAIL: $(basename "$u") exposure '$level' is above OK"; fail=1 ;;
    esac
done
exit $fail
