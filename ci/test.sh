#!/usr/bin/env bash
# Quick start, command 2 (and what CI runs): installs what is needed, builds, runs the core-rule
# lint, the whole test suite, and short fuzz runs. Exits non-zero on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)
bash ci/install-deps.sh
if [ -x ci/install-npm-oracle.sh ] || [ -f ci/install-npm-oracle.sh ]; then
  bash ci/install-npm-oracle.sh
fi
bash ci/build.sh
echo "== lint-core"
python3 ci/lint-core.py core
echo "== tests"
(cd build && ctest --parallel "$(nproc)" --timeout 600 --output-on-failure)
if [ -f ci/fuzz-smoke.sh ]; then
  echo "== fuzz smoke"
  bash ci/fuzz-smoke.sh
fi
echo "== done in $(( $(date +%s) - start )) s"
