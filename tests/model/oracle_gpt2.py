#!/usr/bin/env python3
"""Independent GPT-2 reference for cpipe's model tests, in plain PyTorch ops.

Shares no code with cpipe: it parses safetensors by hand (u64 little-endian header length,
JSON header, raw little-endian data), recomputes the whole sequence at every step (no KV cache),
and applies the HF GPT-2 conventions (Conv1D weights stored [in, out], tanh GELU, LM head tied
to wte). For each prompt it writes the logits of the last position after the prompt and after
each of --steps greedy steps (ties: lowest id, like torch.argmax's first maximum) as float32 to
--out, and prints the greedy tokens as JSON on stdout.

Run with Debian's interpreter, which has torch: /usr/bin/python3 oracle_gpt2.py --model DIR ...
"""
import argparse
import json
import math
import struct
import sys

import numpy as np
import torch


def load_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n].decode("utf-8"))
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        begin, end = info["data_offsets"]
        buf = raw[base + begin:base + end]
        dt = info["dtype"]
        if dt == "F32":
            arr = np.frombuffer(buf, dtype="<f4").astype(np.float32)
        elif dt == "F16":
            arr = np.frombuffer(buf, dtype="<f2").astype(np.float32)
        elif dt == "BF16":
            arr = (np.frombuffer(buf, dtype="<u2").astype(np.uint32) << 16).view(np.float32)
        else:
            continue
        out[name] = torch.from_numpy(arr.copy().reshape(info["shape"]))
    return out


class Gpt2:
    def __init__(self, model_dir):
        with open(model_dir + "/config.json") as f:
            cfg = json.load(f)
        self.C = cfg["n_embd"]
        self.H = cfg["n_head"]
        self.L = cfg["n_layer"]
        self.eps = cfg.get("layer_norm_epsilon", 1e-5)
        t = load_safetensors(model_dir + "/model.safetensors")
        p = "transformer." if "transformer.wte.weight" in t else ""
        self.w = lambda name: t[p + name]
        self.wte = self.w("wte.weight")
        self.wpe = self.w("wpe.weight")
        self.head = t["lm_head.weight"] if "lm_head.weight" in t else self.wte

    def ln(self, x, name):
        mean = x.mean(dim=-1, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=-1, keepdim=True)
        return (x - mean) / torch.sqrt(var + self.eps) * self.w(name + ".weight") + self.w(name + ".bias")

    def conv1d(self, x, name):
        return x @ self.w(name + ".weight") + self.w(name + ".bias")

    def logits_last(self, ids):
        T = len(ids)
        C, H = self.C, self.H
        D = C // H
        x = self.wte[torch.tensor(ids)] + self.wpe[:T]
        mask = torch.triu(torch.ones(T, T, dtype=torch.bool), diagonal=1)
        for l in range(self.L):
            h = "h.%d." % l
            a = self.ln(x, h + "ln_1")
            qkv = self.conv1d(a, h + "attn.c_attn")
            q, k, v = qkv.split(C, dim=1)
            q = q.reshape(T, H, D).transpose(0, 1)
            k = k.reshape(T, H, D).transpose(0, 1)
            v = v.reshape(T, H, D).transpose(0, 1)
            s = (q @ k.transpose(1, 2)) / math.sqrt(D)
            s = s.masked_fill(mask, float("-inf"))
            s = torch.softmax(s, dim=-1)
            o = (s @ v).transpose(0, 1).reshape(T, C)
            x = x + self.conv1d(o, h + "attn.c_proj")
            m = self.conv1d(self.ln(x, h + "ln_2"), h + "mlp.c_fc")
            m = 0.5 * m * (1.0 + torch.tanh(math.sqrt(2.0 / math.pi) * (m + 0.044715 * m ** 3)))
            x = x + self.conv1d(m, h + "mlp.c_proj")
        x = self.ln(x[-1:], "ln_f")
        return (x @ self.head.t())[0]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--prompts", required=True, help="JSON list of token-id lists")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    torch.set_num_threads(1)
    model = Gpt2(a.model)
    prompts = json.loads(a.prompts)
    result = []
    with open(a.out, "wb") as f, torch.no_grad():
        for prompt in prompts:
            ids = list(prompt)
            generated = []
            for step in range(a.steps + 1):
                logits = model.logits_last(ids)
                f.write(logits.numpy().astype("<f4").tobytes())
                tok = int(torch.argmax(logits).item())
                generated.append(tok)
                ids.append(tok)
            result.append(generated)
    json.dump({"tokens": result}, sys.stdout)


if __name__ == "__main__":
    main()
