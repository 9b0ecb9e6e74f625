#!/usr/bin/env python3
"""Writes ONNX-vs-PyTorch parity cases for an exported package: padded, mixed-length batches fed
to the PyTorch step modules, with their outputs, for test/export to replay through onnxruntime.

    /usr/bin/python3 scripts/export/parity_cases.py --package DIR --checkpoint ckpt.bin [--lora l.bin] --out cases.json

Cases: the encoder with its cache (a first chunk next to a later one whose cache is full, batched
with padding), decoder prefill (different past and prompt lengths) and a decode step. Each
expected output lists, per row, which indices of its sequence axis are real (padding is not
compared).
"""

from __future__ import annotations

import argparse
import base64
import json
import sys
from pathlib import Path
from typing import Dict, List

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from modeling import DecoderStep, EmbedStep, EncoderStep, SlotDecoderStep  # noqa: E402
from reference_stream import load_package_model  # noqa: E402


def tensor_json(t: torch.Tensor) -> Dict:
    t = t.detach().contiguous()
    dtype = {torch.float32: "float32", torch.int64: "int64"}[t.dtype]
    return {"dtype": dtype, "dims": list(t.shape), "b64": base64.b64encode(t.numpy().tobytes()).decode()}


def padded_mask(past_lens: List[int], past: int, new_lens: List[int], new: int) -> torch.Tensor:
    mask = torch.zeros(len(past_lens), past + new, dtype=torch.int64)
    for b, (p, n) in enumerate(zip(past_lens, new_lens)):
        mask[b, :p] = 1
        mask[b, past : past + n] = 1
    return mask


def cache_valid(past_lens: List[int], past: int, new_lens: List[int]) -> List[List[int]]:
    return [list(range(p)) + list(range(past, past + n)) for p, n in zip(past_lens, new_lens)]


def slot_decoder_cases(model, gen: torch.Generator) -> List[Dict]:
    """Decoder cases in the `slots` cache layout: arenas wider than the masks (noise beyond them),
    a prefill of two sessions (one starting, one with a committed prefix; prompts of different
    lengths, right-padded) and a decode step of 2 sessions × 2 beams with uneven suffixes."""
    cfg = model.cfg.decoder
    cases = []
    for name, prefix_lens, suffix_lens, new_lens, beams in (
        ("decoder prefill (slots): an empty and a committed prefix, prompts of 9 and 6", [0, 11], [0, 0], [9, 6], 1),
        ("decoder decode step (slots): 2 sessions x 2 beams, uneven suffixes", [14, 8], [3, 0, 2, 5], [1, 1, 1, 1], 2),
    ):
        sessions, rows, T = len(prefix_lens), len(new_lens), max(new_lens)
        P, U = max(1, max(prefix_lens)), max(1, max(suffix_lens))
        embeds = torch.randn(rows, T, cfg.hidden_size, generator=gen)
        prefix_mask = torch.tensor([[1] * p + [0] * (P - p) for p in prefix_lens], dtype=torch.int64)
        suffix_mask = torch.tensor([[1] * u + [0] * (U - u) for u in suffix_lens], dtype=torch.int64)
        layers = cfg.num_layers
        prefix = [torch.randn(sessions, cfg.num_kv_heads, P + 3, cfg.head_dim, generator=gen) for _ in range(layers * 2)]
        suffix = [torch.randn(rows, cfg.num_kv_heads, U + 2, cfg.head_dim, generator=gen) for _ in range(layers * 2)]
        inputs = {"inputs_embeds": embeds, "prefix_mask": prefix_mask, "suffix_mask": suffix_mask}
        extra = []
        if cfg.positions == "absolute":
            pos = torch.stack([torch.arange(prefix_lens[r // beams] + suffix_lens[r], prefix_lens[r // beams] + suffix_lens[r] + T) for r in range(rows)])
            inputs["position_ids"] = pos
            extra = [pos]
        with torch.no_grad():
            out = SlotDecoderStep(model)(embeds, *extra, prefix_mask, suffix_mask, *prefix, *suffix)
        valid = [list(range(n)) for n in new_lens]
        expected = {"logits": {**tensor_json(out[0]), "axis": 1, "valid": valid}}
        for i in range(layers):
            for j, kind in enumerate(("key", "value")):
                inputs[f"prefix_key_values.{i}.{kind}"] = prefix[2 * i + j]
                inputs[f"suffix_key_values.{i}.{kind}"] = suffix[2 * i + j]
                expected[f"present.{i}.{kind}"] = {**tensor_json(out[1 + 2 * i + j]), "axis": 2, "valid": valid}
        cases.append({"graph": "decoder", "name": name, "inputs": {k: tensor_json(v) for k, v in inputs.items()}, "expected": expected})
    return cases


def make_cases(model, seed: int, cache_layout: str = "padded") -> List[Dict]:
    gen = torch.Generator().manual_seed(seed)
    enc_cfg, dec_cfg = model.cfg.encoder, model.cfg.decoder
    cases = []

    # Encoder: row 0 is a later chunk of 48 frames with a full cache, row 1 a first chunk of 96.
    spf, ctx = enc_cfg.samples_per_frame, enc_cfg.context_samples
    frames, past = [48, 96], [enc_cfg.max_cache_frames, 0]
    P, F = max(past), max(frames)
    audio = torch.zeros(2, F * spf)
    for b, f in enumerate(frames):
        audio[b, : f * spf] = torch.randn(f * spf, generator=gen) * 0.3
    context = torch.randn(2, ctx, generator=gen) * 0.3
    context[1] = 0  # a stream's start
    mask = padded_mask(past, P, frames, F)
    caches = [torch.randn(2, enc_cfg.num_heads, P, enc_cfg.head_dim, generator=gen) for _ in range(enc_cfg.num_layers * 2)]
    with torch.no_grad():
        out = EncoderStep(model)(audio, context, mask, *caches)
    shrink = enc_cfg.shrink_factor
    inputs = {"input_values": audio, "input_context": context, "attention_mask": mask}
    expected = {"speech_embeddings": {**tensor_json(out[0]), "axis": 1, "valid": [list(range(f // shrink)) for f in frames]}}
    for i in range(enc_cfg.num_layers):
        for j, kind in enumerate(("key", "value")):
            inputs[f"past_key_values.{i}.{kind}"] = caches[2 * i + j]
            expected[f"present.{i}.{kind}"] = {**tensor_json(out[1 + 2 * i + j]), "axis": 2, "valid": cache_valid(past, P, frames)}
    cases.append({"graph": "encoder", "name": "encoder: a later chunk with a full cache batched with a first chunk", "inputs": {k: tensor_json(v) for k, v in inputs.items()}, "expected": expected})

    # Embed.
    ids = torch.randint(0, dec_cfg.vocab_size, (2, 9), generator=gen)
    with torch.no_grad():
        emb = EmbedStep(model)(ids)
    cases.append({"graph": "embed", "name": "embed", "inputs": {"input_ids": tensor_json(ids)}, "expected": {"inputs_embeds": {**tensor_json(emb), "axis": 1, "valid": [list(range(9))] * 2}}})

    if cache_layout == "slots":
        return cases + slot_decoder_cases(model, gen)

    # Decoder prefill (rows of different past / prompt lengths) and a decode step (three rows).
    for name, past, new in (("decoder prefill: padded past and prompt lengths", [23, 0], [17, 11]), ("decoder decode step: three beams", [30, 12, 25], [1, 1, 1])):
        P, T, B = max(past), max(new), len(past)
        embeds = torch.randn(B, T, dec_cfg.hidden_size, generator=gen)
        mask = padded_mask(past, P, new, T)
        caches = [torch.randn(B, dec_cfg.num_kv_heads, P, dec_cfg.head_dim, generator=gen) for _ in range(dec_cfg.num_layers * 2)]
        inputs = {"inputs_embeds": embeds, "attention_mask": mask}
        extra = []
        if dec_cfg.positions == "absolute":
            pos = torch.stack([torch.arange(p, p + T) for p in past])
            inputs["position_ids"] = pos
            extra = [pos]
        with torch.no_grad():
            out = DecoderStep(model)(embeds, mask, *extra, *caches)
        expected = {"logits": {**tensor_json(out[0]), "axis": 1, "valid": [list(range(n)) for n in new]}}
        for i in range(dec_cfg.num_layers):
            for j, kind in enumerate(("key", "value")):
                inputs[f"past_key_values.{i}.{kind}"] = caches[2 * i + j]
                expected[f"present.{i}.{kind}"] = {**tensor_json(out[1 + 2 * i + j]), "axis": 2, "valid": cache_valid(past, P, new)}
        cases.append({"graph": "decoder", "name": name, "inputs": {k: tensor_json(v) for k, v in inputs.items()}, "expected": expected})
    return cases


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--package", type=Path, required=True)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--lora", type=Path)
    p.add_argument("--lora-alpha", type=float, default=16.0)
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    torch.set_num_threads(1)
    model = load_package_model(args.package, args.checkpoint, args.lora, args.lora_alpha)
    layout = json.loads((args.package / "manifest.json").read_text())["decoder"].get("cacheLayout", "padded")
    args.out.write_text(json.dumps({"cases": make_cases(model, args.seed, layout)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
