#!/bin/sh
# End to end through the CLI: a development key bound into a SimNsm document's user_data, a
# receipt pointing at that document, verified with --evidence; then the same receipt against
# evidence that binds nothing, and against the wrong root.
# usage: receipt_cli_sim_evidence.sh CPIPE CLAIMS_JSON WORKDIR
set -u
cpipe=$1; claims=$2; dir=$3
mkdir -p "$dir" && cd "$dir" || exit 1
seed=3333333333333333333333333333333333333333333333333333333333333333
ud=$("$cpipe" receipt dev-key --dev-seed $seed --json | sed -n 's/.*"user_data":"\([0-9a-f]*\)".*/\1/p')
[ ${#ud} -eq 96 ] || { echo "no user_data: $ud"; exit 1; }
"$cpipe" attest sim-document --at 2026-02-25T00:00:00Z --user-data "$ud" --out doc.cose --root-out root.pem --json || exit 1
"$cpipe" attest sim-document --at 2026-02-25T00:00:00Z --out unbound.cose --root-out root2.pem --json || exit 1
"$cpipe" receipt issue --dev-seed $seed --claims "$claims" --iat 1771977600 --attestation-doc doc.cose --out r.cbor --json || exit 1
"$cpipe" receipt verify r.cbor --evidence doc.cose --root root.pem --at 2026-02-25T00:00:01Z \
    --now 2026-02-25T00:00:30Z --max-age 60 --expect-platform nitro --json > ok.json || { cat ok.json; exit 1; }
grep -q '"verified": true' ok.json || exit 1
for check in KEY_BINDING ATTESTATION_DOC MEASUREMENTS; do
  grep -A3 "\"check\": \"$check\"" ok.json | grep -q '"status": "PASS"' || { echo "$check did not pass"; exit 1; }
done
"$cpipe" receipt verify r.cbor --evidence unbound.cose --root root.pem --at 2026-02-25T00:00:01Z --json > unbound.json
[ $? -eq 1 ] && grep -q '"code": "KEY_NOT_BOUND"' unbound.json || { cat unbound.json; exit 1; }
"$cpipe" receipt verify r.cbor --evidence doc.cose --at 2026-02-25T00:00:01Z --json > wrongroot.json
[ $? -eq 1 ] && grep -q 'ATTEST_CHAIN_INVALID' wrongroot.json || { cat wrongroot.json; exit 1; }
echo "receipt bound to SimNsm evidence: OK"
