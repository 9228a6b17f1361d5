#!/bin/sh
# `cpipe model seal/unseal` end to end on the real tiny-gpt2 files: round trip is byte-identical;
# a flipped byte, a cut and an appended byte are refused with their codes and leave no plaintext.
# Usage: cli_seal_test.sh CPIPE SHARED_DATA
set -eu
CPIPE=$1
DATA=$2
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
mkdir -p "$T/m/tok"
cp "$DATA/tiny-gpt2/config.json" "$DATA/tiny-gpt2/model.safetensors" "$T/m/"
cp "$DATA/gpt2-tokenizer/vocab.bpe" "$T/m/tok/"
: > "$T/m/tok/empty.txt"
"$CPIPE" model dev-key --out "$T/dev.key" >/dev/null
"$CPIPE" model seal --in "$T/m" --out "$T/s" --model-id tiny-gpt2 --chunk-size 65536 --dev-key "$T/dev.key" --json 2>/dev/null \
  | grep -q "\"chunk_count\": *14"
"$CPIPE" model unseal --in "$T/s" --out "$T/u" --dev-key "$T/dev.key" --json 2>/dev/null | grep -q "\"ok\": *true"
diff -r "$T/m" "$T/u"

expect_refused() {  # NAME CODE: unseal $T/NAME must fail with CODE and write nothing
  if "$CPIPE" model unseal --in "$T/$1" --out "$T/out-$1" --dev-key "$T/dev.key" --json 2>/dev/null >"$T/$1.json"; then
    echo "unseal of $1 succeeded"; exit 1
  fi
  grep -q "\"code\": *\"$2\"" "$T/$1.json" || { cat "$T/$1.json"; exit 1; }
  [ -z "$(ls -A "$T/out-$1" 2>/dev/null)" ] || { echo "plaintext left behind for $1"; exit 1; }
}
SIZE=$(wc -c < "$T/s/model.sealed")
mkdir -p "$T/flip" "$T/cut" "$T/extra"
cp "$T/s/model.sealed" "$T/flip/model.sealed"
printf '\001' | dd of="$T/flip/model.sealed" bs=1 seek=300000 conv=notrunc 2>/dev/null
head -c $((SIZE - 1)) "$T/s/model.sealed" > "$T/cut/model.sealed"
{ cat "$T/s/model.sealed"; printf 'x'; } > "$T/extra/model.sealed"
expect_refused flip KEYS_CHUNK_AUTH_FAILED
expect_refused cut KEYS_TRUNCATED
expect_refused extra KEYS_TRAILING_DATA
"$CPIPE" model dev-key --out "$T/other.key" >/dev/null
if "$CPIPE" model unseal --in "$T/s" --out "$T/o" --dev-key "$T/other.key" 2>/dev/null; then exit 1; fi
echo ok
