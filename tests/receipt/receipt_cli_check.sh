#!/bin/sh
# Runs `cpipe receipt ...` and checks its exit code and that its output matches a regex.
# usage: receipt_cli_check.sh EXPECTED_EXIT REGEX CPIPE ARGS...
want_rc=$1; regex=$2; shift 2
out=$("$@" 2>&1); rc=$?
printf '%s\n' "$out"
[ "$rc" -eq "$want_rc" ] || { echo "exit code $rc, want $want_rc" >&2; exit 1; }
printf '%s\n' "$out" | grep -Eq -- "$regex" || { echo "output does not match: $regex" >&2; exit 1; }
