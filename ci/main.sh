#!/usr/bin/env bash
# Quick start, command 1: installs what is needed, builds, and runs the main job on its embedded
# default — a simulated session between two attested enclaves (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
bash ci/build.sh
exec ./build/apps/cpipe/cpipe sim channel --seed "${SEED:-1}"
