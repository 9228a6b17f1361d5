#!/bin/sh
# The main job's flow through the CLI (ci/main.sh): a sealed 2-stage simulated pipeline (cold
# start with simulated KMS key release), stage 0's receipt, its evidence and the simulated root
# written out, and `cpipe receipt verify` accepting the receipt against that evidence with the
# model hash expected; then the same receipt with one byte flipped, and against another model.
# usage: sim_pipeline_receipt_cli.sh CPIPE WORKDIR
set -u
cpipe=$1; dir=$2
mkdir -p "$dir" && cd "$dir" || exit 1
"$cpipe" sim pipeline --stages 2 --seed 3 --sealed --max-tokens 4 --prompt-ids 464,2068,7586 \
    --receipt-out r.cbor --evidence-out e.cose --root-out root.pem --json > run.json || { cat run.json; exit 1; }
grep -q '"kms": "simulated"' run.json || { echo "no simulated KMS key release"; exit 1; }
grep -q '"attestation_ms"' run.json && grep -q '"cold_start_total_ms"' run.json || { echo "no cold start timings"; exit 1; }
hash=$(sed -n 's/.*"model_hash": "\([0-9a-f]*\)".*/\1/p' run.json)
at=$(sed -n 's/.*"receipt_evidence_time_ms": \([0-9]*\).*/\1/p' run.json)
[ ${#hash} -eq 64 ] && [ -n "$at" ] || { echo "model_hash/evidence time missing"; cat run.json; exit 1; }
"$cpipe" receipt verify r.cbor --evidence e.cose --root root.pem --at "$at" --expect-model-hash "$hash" \
    --expect-platform nitro --json > ok.json || { cat ok.json; exit 1; }
grep -q '"verified": true' ok.json || { cat ok.json; exit 1; }
for check in KEY_BINDING ATTESTATION_DOC MEASUREMENTS MHASH; do
  grep -A3 "\"check\": \"$check\"" ok.json | grep -q '"status": "PASS"' || { echo "$check did not pass"; cat ok.json; exit 1; }
done
# One flipped byte (the signature's last) and the receipt is refused.
size=$(wc -c < r.cbor)
head -c $((size - 1)) r.cbor > bad.cbor
last=$(tail -c 1 r.cbor | od -An -tu1 | tr -d ' ')
printf "$(printf '\\%03o' $(( (last + 1) % 256 )))" >> bad.cbor
"$cpipe" receipt verify bad.cbor --evidence e.cose --root root.pem --at "$at" --json > bad.json
[ $? -eq 1 ] && grep -q '"verified": false' bad.json || { cat bad.json; exit 1; }
# The right receipt, another model expected.
"$cpipe" receipt verify r.cbor --evidence e.cose --root root.pem --at "$at" \
    --expect-model-hash 1111111111111111111111111111111111111111111111111111111111111111 --json > other.json
[ $? -eq 1 ] && grep -q 'MODEL_HASH_MISMATCH' other.json || { cat other.json; exit 1; }
echo "sealed sim pipeline receipt verified by cpipe receipt verify: OK"
