#!/usr/bin/env python3
"""Proves ci/lint-core.py can fail: every marked violation in the fixture is reported, nothing
in the clean fixture is, and the real core/ tree is clean."""
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
LINT = os.path.join(HERE, "..", "..", "ci", "lint-core.py")


def run(path):
    p = subprocess.run([sys.executable, LINT, path], capture_output=True, text=True)
    return p.returncode, p.stdout


def main():
    failures = []
    bad_dir = os.path.join(HERE, "fixtures", "violations")
    rc, out = run(bad_dir)
    if rc != 1:
        failures.append(f"violations fixture: exit {rc}, want 1")
    with open(os.path.join(bad_dir, "bad.cc")) as f:
        marked = [i for i, line in enumerate(f.read().splitlines(), 1) if "VIOLATION" in line]
    reported = {int(line.split(":")[1]) for line in out.splitlines() if "banned" in line}
    for lineno in marked:
        if lineno not in reported:
            failures.append(f"bad.cc:{lineno} not reported")
    rc, out = run(os.path.join(HERE, "fixtures", "clean"))
    if rc != 0:
        failures.append(f"clean fixture reported violations:\n{out}")
    rc, out = run(os.path.join(HERE, "..", "..", "core"))
    if rc != 0:
        failures.append(f"core/ has violations:\n{out}")
    for f in failures:
        print("FAIL:", f)
    print(f"lint-core self-test: {len(marked)} marked violations checked, {len(failures)} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
