#!/usr/bin/env bash
# Short libFuzzer runs of every parser fuzz target (CI: a smoke test, not a campaign).
# Builds the targets with clang, ASan+UBSan and fuzzer coverage in $FUZZ_BUILD_DIR, seeds each
# from the real evidence in ../shared/data, runs each for $FUZZ_SECONDS (default 20 s).
# (-fno-sanitize=function: clang 14 cannot compile our coroutines with UBSan's function check
# and fuzzer coverage together: "Cannot represent a difference across sections".)
# Usage: ci/fuzz-smoke.sh [target...]   (default: all targets listed below)
# A target is registered by one line in TARGETS: "<cmake target>:<seed files/dirs, comma-separated,
# relative to shared/data>".
set -euo pipefail
cd "$(dirname "$0")/.."
FUZZ_BUILD_DIR="${FUZZ_BUILD_DIR:-build-fuzz}"
FUZZ_SECONDS="${FUZZ_SECONDS:-20}"
DATA="${CPIPE_SHARED_DATA:-$(pwd)/../shared/data}"

TARGETS=(
  "snp_report_fuzz:sev-snp/reports/milan-v2-virtee.report,sev-snp/reports/milan-v2-gosevguest.report,sev-snp/reports/azure-milan-hcl.bin"
  "snp_cert_fuzz:sev-snp/reports/milan-v2-virtee.vcek.der,sev-snp/reports/invalid-vcek-legacy.der,sev-snp/reports/azure-milan-hcl.vcek-chain.pem,sev-snp/amd-kds/Milan/cert_chain.pem"
  "nitro_cose_fuzz:nitro/evervault-2022-10-13-production.cose,nitro/evervault-2022-10-12-debug.cose,nitro/dstack-2025-12-25-debug-indefinite.cose"
)

if ! command -v clang++ >/dev/null; then
  echo "fuzz-smoke: clang++ not found, skipping" >&2
  exit 0
fi

selected=("$@")
names=()
for t in "${TARGETS[@]}"; do
  name="${t%%:*}"
  if [ ${#selected[@]} -eq 0 ] || printf '%s\n' "${selected[@]}" | grep -qx "$name"; then names+=("$name"); fi
done

GENERATOR=()
if command -v ninja >/dev/null; then GENERATOR=(-G Ninja); fi
cmake -S . -B "$FUZZ_BUILD_DIR" "${GENERATOR[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCPIPE_FUZZ=ON \
  -DCPIPE_SANITIZE= \
  "-DCMAKE_C_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer" \
  "-DCMAKE_CXX_FLAGS=-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize=function -fno-omit-frame-pointer" \
  "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=address,undefined" >/dev/null
cmake --build "$FUZZ_BUILD_DIR" --parallel "$(nproc)" --target "${names[@]}"

for t in "${TARGETS[@]}"; do
  name="${t%%:*}"
  printf '%s\n' "${names[@]}" | grep -qx "$name" || continue
  bin=$(find "$FUZZ_BUILD_DIR" -type f -name "$name" -perm -u+x | head -1)
  corpus=$(mktemp -d)
  IFS=',' read -r -a seeds <<< "${t#*:}"
  for s in "${seeds[@]}"; do cp -r "$DATA/$s" "$corpus/" 2>/dev/null || true; done
  echo "== fuzz $name for ${FUZZ_SECONDS}s"
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 "$bin" -max_total_time="$FUZZ_SECONDS" \
    -max_len=16384 -rss_limit_mb=2048 -print_final_stats=1 "$corpus" 2>&1 | tail -n 12
  rm -rf "$corpus"
done
