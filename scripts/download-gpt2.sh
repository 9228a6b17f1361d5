#!/usr/bin/env bash
# Downloads the real GPT-2 124M (openai-community/gpt2 on Hugging Face) into DIR: config.json,
# model.safetensors and the tokenizer files, in the layout `cpipe` loads (the same path that loads
# `cpipe model synth` output). For users with internet access; tests never need it.
#
#   scripts/download-gpt2.sh DIR            # e.g. scripts/download-gpt2.sh ~/models/gpt2
#   HF_ENDPOINT=https://mirror.example scripts/download-gpt2.sh DIR
#   GPT2_REVISION=<commit> scripts/download-gpt2.sh DIR   # pin a revision (default: main)
set -euo pipefail

if [[ $# -ne 1 ]]; then
  echo "usage: $0 DIR" >&2
  exit 2
fi
dir=$1
endpoint=${HF_ENDPOINT:-https://huggingface.co}
repo=openai-community/gpt2
revision=${GPT2_REVISION:-main}
files=(config.json model.safetensors tokenizer.json vocab.json merges.txt generation_config.json)

mkdir -p "$dir"
for f in "${files[@]}"; do
  url="$endpoint/$repo/resolve/$revision/$f"
  echo "fetching $url" >&2
  # Download to a temporary name so an interrupted run never leaves a truncated model behind.
  curl --fail --location --retry 3 --silent --show-error -o "$dir/$f.part" "$url"
  mv "$dir/$f.part" "$dir/$f"
done

# The OpenAI originals of the BPE files under the names the tokenizer also accepts.
cp "$dir/vocab.json" "$dir/encoder.json"
cp "$dir/merges.txt" "$dir/vocab.bpe"

if command -v sha256sum >/dev/null; then
  (cd "$dir" && sha256sum "${files[@]}")
fi
echo "done: $dir (check it with: cpipe model info --model $dir)" >&2
