#!/usr/bin/env bash
# Quick start, command 1: installs what is needed, builds, and runs the main job on its embedded
# default — GPT-2 (synthesized weights) sealed under a simulated KMS key and sharded across two
# simulated Nitro enclaves behind an untrusted host: each stage cold-starts (attestation, KMS key
# release with Recipient, sealed chunks through the host's proxy), the orchestrator drives the
# request, stage 0 signs an AIR v1 receipt, and `cpipe receipt verify` checks it against stage
# 0's attestation evidence (see README.md).
set -euo pipefail
cd "$(dirname "$0")/.."
bash ci/install-deps.sh
bash ci/build.sh
cpipe=./build/apps/cpipe/cpipe
out=$(mktemp -d "${TMPDIR:-/tmp}/cpipe-main.XXXXXX")
trap 'rm -rf "$out"' EXIT
"$cpipe" sim pipeline --stages 2 --seed "${SEED:-1}" --prompt "The quick brown fox" --sealed \
    --receipt-out "$out/receipt.cbor" --evidence-out "$out/evidence.cose" --root-out "$out/root.pem" | tee "$out/run.txt"
hash=$(sed -n 's/.*model_hash \([0-9a-f]*\),.*/\1/p' "$out/run.txt")
at=$(sed -n 's/.*evidence_time_ms \([0-9]*\).*/\1/p' "$out/run.txt")
echo "receipt (stage 0, COSE_Sign1/EdDSA): $(od -An -tx1 -v "$out/receipt.cbor" | tr -d ' \n' | head -c 64)..."
# Verified as a client would a minute after the (simulated) run: fresh within 5 minutes.
now=$((at + 60000))
echo "cpipe receipt verify receipt.cbor --evidence evidence.cose --root root.pem --at $at --now $now --max-age 300 --expect-model-hash $hash"
"$cpipe" receipt verify "$out/receipt.cbor" --evidence "$out/evidence.cose" --root "$out/root.pem" \
    --at "$at" --now "$now" --max-age 300 --expect-model-hash "$hash" --expect-platform nitro
