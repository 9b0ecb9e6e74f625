#!/usr/bin/env python3
"""A plain PyTorch reference of the server's streaming policy (src/inference/chunk-translator.ts
and beam-search.ts), driven by an exported package's manifest and the PyTorch model built from the
original checkpoint. It runs one session, one row at a time, with no batching, no workers and no
ONNX: whatever the server computes for the same audio must come out token for token the same.

    /usr/bin/python3 scripts/export/reference_stream.py --package models/x --checkpoint ckpt.bin \\
        [--lora lora.bin] --audio audio.f32 --multiplier 2 --out reference.json
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hf_tokenizer import byte_to_unicode  # noqa: E402
from modeling import DecoderStep, EmbedStep, EncoderStep, SpeechLLM, SpeechLLMConfig  # noqa: E402
from modeling.checkpoint import drop_pretraining_heads, load_state_dict, strict_load  # noqa: E402
from modeling.lora import merge_lora  # noqa: E402

Cache = List[torch.Tensor]  # flat [k0, v0, k1, v1, …], each [1, heads, length, head_dim]


def load_package_model(package: Path, checkpoint: Path, lora: Optional[Path], lora_alpha: float) -> SpeechLLM:
    info = json.loads((package / "infinisst-export.json").read_text())
    model = SpeechLLM(SpeechLLMConfig.from_json(info["config"]))
    state = load_state_dict(checkpoint)
    drop_pretraining_heads(state)
    if model.cfg.decoder.tie_word_embeddings:
        state.pop("lm_head.weight", None)
    strict_load(model, state)
    if lora:
        merge_lora(model, load_state_dict(lora), lora_alpha)
    return model.eval()


def cache_len(cache: Cache) -> int:
    return cache[0].shape[2] if cache else 0


def concat(a: Cache, b: Cache) -> Cache:
    if not b:
        return a
    if not a:
        return b
    return [torch.cat((x, y), dim=2) for x, y in zip(a, b)]


def trim(cache: Cache, max_length: int, keep_prefix: int) -> Cache:
    """kv-cache.ts trimCache: keep the first `keep_prefix` slots and the most recent ones."""
    length = cache_len(cache)
    if length <= max_length:
        return cache
    prefix = min(keep_prefix, max_length)
    recent = max_length - prefix
    return [torch.cat((t[:, :, :prefix], t[:, :, length - recent :]), dim=2) for t in cache]


def top_k(logits: torch.Tensor, k: int) -> Tuple[List[int], List[float]]:
    """top-k.ts: log-softmax in float64, k best (ties → lower id), log-probs rounded to float32."""
    values = logits.double().numpy()
    log_z = values.max() + math.log(np.exp(values - values.max()).sum())
    order = np.argsort(-values, kind="stable")[:k]
    return [int(i) for i in order], [float(np.float32(values[i] - log_z)) for i in order]


@dataclass
class Hyp:
    tokens: List[int]
    log_prob: float
    finished: bool
    suffix: Cache = field(default_factory=list)


def score(tokens: Sequence[int], log_prob: float, penalty: float) -> float:
    return log_prob / math.pow(max(1, len(tokens)), penalty)


class ReferenceStream:
    def __init__(self, model: SpeechLLM, manifest: Dict, pair: str, beam: int, use_first_by_multiplier: bool = True):
        self.m = manifest
        self.pair = manifest["languagePairs"][pair]
        self.beam = beam
        self.use_first_by_multiplier = use_first_by_multiplier
        self.encoder, self.embed, self.decoder = EncoderStep(model), EmbedStep(model), DecoderStep(model)
        self.absolute = model.cfg.decoder.positions == "absolute"
        self.eoc = set(manifest["specialTokens"]["endOfChunk"])
        tokens = json.loads((Path(manifest["_dir"]) / manifest["tokenizer"]["file"]).read_text())["tokens"]
        self.tokens = tokens
        self.reset()

    def reset(self) -> None:
        self.enc_cache: Cache = []
        self.context = torch.zeros(self.m["encoder"].get("contextSamples", 0))
        self.dec_cache: Cache = []
        self.next_pos = 0
        self.pending: List[int] = []
        self.has_context = False

    def _empty(self, layers: int, heads: int, dim: int) -> Cache:
        return [torch.zeros(1, heads, 0, dim) for _ in range(layers * 2)]

    def _decoder(self, embeds: torch.Tensor, cache: Cache, first_pos: int) -> Tuple[torch.Tensor, Cache]:
        d = self.m["decoder"]
        past = cache or self._empty(d["numLayers"], d["numKeyValueHeads"], d["headDim"])
        steps = embeds.shape[1]
        mask = torch.ones(1, cache_len(past) + steps, dtype=torch.int64)
        extra = [torch.arange(first_pos, first_pos + steps).unsqueeze(0)] if self.absolute else []
        out = self.decoder(embeds, mask, *extra, *past)
        return out[0], list(out[1:])

    def _done(self, tokens: List[int], max_new: int) -> bool:
        return (bool(tokens) and tokens[-1] in self.eoc) or len(tokens) >= max_new

    @torch.no_grad()
    def translate(self, audio: torch.Tensor, multiplier: int) -> Dict:
        m, enc = self.m, self.m["encoder"]
        prompts = self.pair["prompt"]
        template = prompts["next"] if self.has_context else (prompts.get("firstByMultiplier", {}).get(str(multiplier)) if self.use_first_by_multiplier else None) or prompts["first"]
        speech_count = enc["embeddingsPerSegment"] * multiplier
        input_ids = self.pending + template["prefix"] + [m["specialTokens"]["speechPlaceholder"]] * speech_count + template["suffix"]
        max_new = m["generation"]["maxNewTokensPerMultiplier"] * multiplier

        spf = enc["samplesPerFrame"]
        frames = audio.shape[0] // spf
        real = audio[: frames * spf]
        enc_past = self.enc_cache or self._empty(enc["numLayers"], enc["numHeads"], enc["headDim"])
        mask = torch.ones(1, cache_len(enc_past) + frames, dtype=torch.int64)
        out = self.encoder(real.unsqueeze(0), self.context.unsqueeze(0), mask, *enc_past)
        speech = out[0][0]
        self.enc_cache = [t[:, :, -enc["maxCacheFrames"] :] for t in out[1:]]
        if self.context.numel():
            self.context = torch.cat((self.context, real))[-self.context.numel() :]

        embeds = self.embed(torch.tensor([input_ids]))
        offset = len(self.pending) + len(template["prefix"])
        count = min(speech.shape[0], speech_count)
        embeds[0, offset : offset + count] = speech[:count]
        logits, base = self._decoder(embeds, self.dec_cache, self.next_pos)
        base_next = self.next_pos + len(input_ids)
        top_k_size = max(2 * self.beam, 2)
        ids, lps = top_k(logits[0, -1], top_k_size)
        beams: List[Hyp] = []
        for i, lp in zip(ids, lps):
            if len(beams) >= self.beam:
                break
            beams.append(Hyp([i], lp, self._done([i], max_new)))
        penalty = m["generation"].get("lengthPenalty", 1.0)

        while any(not b.finished for b in beams):
            live = [b for b in beams if not b.finished]
            outputs = []
            for b in live:
                step_embeds = self.embed(torch.tensor([[b.tokens[-1]]]))
                logits, present = self._decoder(step_embeds, concat(base, b.suffix), base_next + cache_len(b.suffix))
                outputs.append(([t[:, :, -1:] for t in present], *top_k(logits[0, -1], top_k_size)))
            beams = self._step(beams, live, outputs, max_new, penalty)

        winner = beams[0]
        for b in beams:
            if score(b.tokens, b.log_prob, penalty) > score(winner.tokens, winner.log_prob, penalty):
                winner = b
        keep = m["decoder"].get("keepPrefixTokens") or len(prompts["first"]["prefix"])
        self.dec_cache = trim(concat(base, winner.suffix), m["decoder"]["maxCacheTokens"], keep)
        self.next_pos = base_next + max(0, len(winner.tokens) - 1)
        self.pending = winner.tokens[-1:]
        self.has_context = True
        return {"tokens": winner.tokens, "text": decode_text(winner.tokens, self.tokens, m).strip()}

    def _step(self, beams: List[Hyp], live: List[Hyp], outputs, max_new: int, penalty: float) -> List[Hyp]:
        """beam-search.ts stepBeams: finished beams compete with every extension; ties keep order."""
        pool = []
        order = 0
        for b in beams:
            if b.finished:
                pool.append((score(b.tokens, b.log_prob, penalty), order, b, None))
                order += 1
        for parent, b in enumerate(live):
            _, ids, lps = outputs[parent]
            for i, lp in zip(ids, lps):
                tokens = b.tokens + [i]
                pool.append((score(tokens, b.log_prob + lp, penalty), order, (parent, tokens, b.log_prob + lp), None))
                order += 1
        pool.sort(key=lambda e: (-e[0], e[1]))
        grown: Dict[int, Cache] = {}
        result = []
        for _, _, entry, _ in pool[: self.beam]:
            if isinstance(entry, Hyp):
                result.append(entry)
                continue
            parent, tokens, lp = entry
            if parent not in grown:
                grown[parent] = concat(live[parent].suffix, outputs[parent][0])
            result.append(Hyp(tokens, lp, self._done(tokens, max_new), grown[parent]))
        return result


def decode_text(ids: Sequence[int], tokens: Sequence[str], manifest: Dict) -> str:
    """token-decoder.ts, byte-level mode."""
    skip = set(manifest["specialTokens"].get("skipInText", []))
    char_to_byte = {c: b for b, c in byte_to_unicode().items()}
    data = bytearray()
    for i in ids:
        if i in skip or not 0 <= i < len(tokens):
            continue
        for ch in tokens[i]:
            data.extend([char_to_byte[ch]] if ch in char_to_byte else ch.encode("utf-8"))
    return data.decode("utf-8", errors="replace")


def stream(ref: ReferenceStream, audio: torch.Tensor, multiplier: int) -> List[Dict]:
    """translation-stream.ts: whole chunks of 960 ms × m; flush pads the final partial chunk."""
    enc = ref.m["encoder"]
    size = enc["samplesPerFrame"] * enc["framesPerSegment"] * multiplier
    chunks = []
    for start in range(0, audio.shape[0], size):
        piece = audio[start : start + size]
        if piece.shape[0] < size:
            piece = torch.cat((piece, torch.zeros(size - piece.shape[0])))
        chunks.append(ref.translate(piece, multiplier))
    return chunks


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--package", type=Path, required=True)
    p.add_argument("--checkpoint", type=Path, required=True)
    p.add_argument("--lora", type=Path)
    p.add_argument("--lora-alpha", type=float, default=16.0)
    p.add_argument("--audio", type=Path, required=True, help="raw float32 little-endian mono 16 kHz samples")
    p.add_argument("--multiplier", type=int, default=2)
    p.add_argument("--pair", help="language pair (default: the package's only one)")
    p.add_argument("--beam", type=int, help="default: the manifest's beam size")
    p.add_argument("--ignore-first-by-multiplier", action="store_true", help="use prompt.first for every multiplier")
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    manifest = json.loads((args.package / "manifest.json").read_text())
    manifest["_dir"] = str(args.package)
    pair = args.pair or next(iter(manifest["languagePairs"]))
    model = load_package_model(args.package, args.checkpoint, args.lora, args.lora_alpha)
    torch.set_num_threads(1)
    audio = torch.from_numpy(np.fromfile(args.audio, dtype="<f4").copy())
    beam = args.beam or manifest["generation"]["beamSize"]
    ref = ReferenceStream(model, manifest, pair, beam, not args.ignore_first_by_multiplier)
    chunks = stream(ref, audio, args.multiplier)
    args.out.write_text(json.dumps({"languagePair": pair, "multiplier": args.multiplier, "beamSize": beam, "chunks": chunks}, ensure_ascii=False, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
