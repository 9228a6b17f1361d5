#!/usr/bin/env bash
# Quick start, command 1: installs what is needed, builds, and runs the main job on its embedded
# default — GPT-2 (synthesized weights) sharded across two simulated Nitro enclaves behind an
# untrusted host, driven by the orchestrator (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
bash ci/build.sh
exec ./build/apps/cpipe/cpipe sim pipeline --stages 2 --seed "${SEED:-1}" --prompt "The quick brown fox"
