#!/usr/bin/env bash
# Installs every Debian package cpipe builds, tests and benchmarks with. Idempotent: when all
# packages are present it prints one line and touches nothing (no apt-get update).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build pkg-config ccache git
  libsodium-dev libssl-dev
  libboost-dev            # Boost.Asio (header-only) for the posix backend
  libyaml-cpp-dev         # scenario files
  nlohmann-json3-dev      # manifests, CLI --json output, test vectors
  libcbor-dev             # CBOR/COSE codec
  libcli11-dev            # the cpipe command line
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev  # libFuzzer targets and sanitizers
  python3 python3-numpy python3-torch  # the PyTorch oracle for the model engine
  nodejs                  # the gpt-3-encoder tokenizer oracle (npm ships with it)
)

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done"
