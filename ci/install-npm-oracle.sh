#!/usr/bin/env bash
# Installs the tokenizer oracle (npm gpt-3-encoder 1.1.4) into BUILD_DIR/npm-oracle, where
# tests/tokenizer finds it. Idempotent and quiet: when the pinned version is already there it
# prints one line and touches nothing. Usage: ci/install-npm-oracle.sh [BUILD_DIR]
# (default: $BUILD_DIR or build/, as ci/build.sh; relative paths are from the repo root).
# Outside CI (CI != true) a failed install (no network, no npm) is a warning, not an error, so
# that the oracle test can skip with a message; under CI it fails.
set -euo pipefail

VERSION=1.1.4
cd "$(dirname "$0")/.."
build_dir="${1:-${BUILD_DIR:-build}}"
prefix="${build_dir}/npm-oracle"
pkg_json="${prefix}/node_modules/gpt-3-encoder/package.json"

fail() {
  if [ "${CI:-}" = "true" ]; then
    echo "install-npm-oracle: ERROR: $*" >&2
    exit 1
  fi
  echo "install-npm-oracle: warning: $* (the oracle test will skip)" >&2
  exit 0
}

if [ -f "$pkg_json" ] && grep -q "\"version\": *\"${VERSION}\"" "$pkg_json"; then
  echo "install-npm-oracle: gpt-3-encoder@${VERSION} present in ${prefix}"
  exit 0
fi

command -v npm >/dev/null 2>&1 || fail "npm not found (ci/install-deps.sh installs nodejs)"
mkdir -p "$prefix"
log="${prefix}/install.log"
if ! npm install --prefix "$prefix" "gpt-3-encoder@${VERSION}" --no-audit --no-fund \
     --no-save --loglevel=error >"$log" 2>&1; then
  cat "$log" >&2
  fail "npm install gpt-3-encoder@${VERSION} failed"
fi
[ -f "$pkg_json" ] || fail "npm install finished but ${pkg_json} is missing"
echo "install-npm-oracle: installed gpt-3-encoder@${VERSION} in ${prefix}"
