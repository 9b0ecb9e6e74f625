"""Exports the three step modules to ONNX with the tensor names of docs/model-format.md.

Multi-GB graphs keep their weights in one external data file next to the graph
(`decoder.onnx` + `decoder.onnx.data`); onnxruntime resolves it relative to the graph's path.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Dict, List, Sequence

import onnx
import torch

from modeling import DecoderStep, EmbedStep, EncoderStep, SlotDecoderStep, SpeechLLM

OPSET = 17
# Below this, a graph is one self-contained file unless external data is forced.
EXTERNAL_DATA_THRESHOLD = 512 * 1024 * 1024


def _cache_names(layers: int):
    past, present = [], []
    for i in range(layers):
        past += [f"past_key_values.{i}.key", f"past_key_values.{i}.value"]
        present += [f"present.{i}.key", f"present.{i}.value"]
    return past, present


def _export(module: torch.nn.Module, args: Sequence[torch.Tensor], names_in: List[str], names_out: List[str], axes: Dict[str, Dict[int, str]], out: Path, external: str) -> List[str]:
    out.parent.mkdir(parents=True, exist_ok=True)
    device = next(module.parameters()).device
    args = [a.to(device) for a in args]
    with tempfile.TemporaryDirectory(dir=out.parent) as tmp:
        raw = Path(tmp) / "graph.onnx"
        with torch.no_grad():
            torch.onnx.export(module, tuple(args), str(raw), input_names=names_in, output_names=names_out, dynamic_axes=axes, opset_version=OPSET, do_constant_folding=True)
        model = onnx.load(str(raw), load_external_data=True)
    size = sum(t.ByteSize() for t in model.graph.initializer)
    data_name = out.name + ".data"
    for old in (out, out.parent / data_name):
        if old.exists():
            old.unlink()
    if external == "always" or (external == "auto" and size > EXTERNAL_DATA_THRESHOLD):
        onnx.save_model(model, str(out), save_as_external_data=True, all_tensors_to_one_file=True, location=data_name, size_threshold=0)
        return [out.name, data_name]
    onnx.save_model(model, str(out))
    return [out.name]


def export_encoder(model: SpeechLLM, out: Path, external: str, frames: int = 48, past_frames: int = 8) -> List[str]:
    cfg = model.cfg.encoder
    layers = cfg.num_layers
    past, present = _cache_names(layers)
    batch = 2
    dtype = torch.float32
    args = [
        torch.randn(batch, frames * cfg.samples_per_frame, dtype=dtype) * 0.1,
        torch.randn(batch, cfg.context_samples, dtype=dtype) * 0.1,
        torch.ones(batch, past_frames + frames, dtype=torch.int64),
    ]
    for _ in range(layers * 2):
        args.append(torch.randn(batch, cfg.num_heads, past_frames, cfg.head_dim, dtype=dtype))
    axes: Dict[str, Dict[int, str]] = {
        "input_values": {0: "batch", 1: "samples"},
        "input_context": {0: "batch"},
        "attention_mask": {0: "batch", 1: "total_frames"},
        "speech_embeddings": {0: "batch", 1: "embeddings"},
    }
    for name in past:
        axes[name] = {0: "batch", 2: "past_frames"}
    for name in present:
        axes[name] = {0: "batch", 2: "total_frames"}
    return _export(EncoderStep(model).eval(), args, ["input_values", "input_context", "attention_mask"] + past, ["speech_embeddings"] + present, axes, out, external)


def export_embed(model: SpeechLLM, out: Path, external: str) -> List[str]:
    args = [torch.randint(0, model.cfg.decoder.vocab_size, (2, 5), dtype=torch.int64)]
    axes = {"input_ids": {0: "batch", 1: "sequence"}, "inputs_embeds": {0: "batch", 1: "sequence"}}
    return _export(EmbedStep(model).eval(), args, ["input_ids"], ["inputs_embeds"], axes, out, external)


def _add_position_ids(names_in: List[str], args: List[torch.Tensor], axes: Dict[str, Dict[int, str]], start: int, new_len: int, rows: int, row_axis: str) -> None:
    """The decoder's `position_ids` input (absolute-position models only): example values and axes."""
    names_in.append("position_ids")
    args.append(torch.arange(start, start + new_len, dtype=torch.int64).repeat(rows, 1))
    axes["position_ids"] = {0: row_axis, 1: "sequence"}


def export_decoder(model: SpeechLLM, out: Path, external: str, new_len: int = 5, past_len: int = 7) -> List[str]:
    cfg = model.cfg.decoder
    past, present = _cache_names(cfg.num_layers)
    batch = 2
    names_in = ["inputs_embeds", "attention_mask"]
    args = [torch.randn(batch, new_len, cfg.hidden_size), torch.ones(batch, past_len + new_len, dtype=torch.int64)]
    axes: Dict[str, Dict[int, str]] = {
        "inputs_embeds": {0: "batch", 1: "sequence"},
        "attention_mask": {0: "batch", 1: "total_sequence"},
        "logits": {0: "batch", 1: "sequence"},
    }
    if cfg.positions == "absolute":
        _add_position_ids(names_in, args, axes, past_len, new_len, batch, "batch")
    for _ in range(cfg.num_layers * 2):
        args.append(torch.randn(batch, cfg.num_kv_heads, past_len, cfg.head_dim))
    for name in past:
        axes[name] = {0: "batch", 2: "past_sequence"}
    for name in present:
        axes[name] = {0: "batch", 2: "total_sequence"}
    return _export(DecoderStep(model).eval(), args, names_in + past, ["logits"] + present, axes, out, external)


def export_slot_decoder(model: SpeechLLM, out: Path, external: str) -> List[str]:
    """decoder.onnx in the `slots` cache layout (docs/model-format.md): reads the engine's arenas
    as they lie and returns only the new steps' keys and values. Traced with sizes that all differ
    (2 sessions × 2 beams, 3 new steps, prefix 5 of 7, suffix 2 of 3), so no size is frozen."""
    cfg = model.cfg.decoder
    sessions, beams, new_len, prefix_len, prefix_cap, suffix_len, suffix_cap = 2, 2, 3, 5, 7, 2, 3
    rows = sessions * beams
    names_in = ["inputs_embeds"]
    args = [torch.randn(rows, new_len, cfg.hidden_size)]
    axes: Dict[str, Dict[int, str]] = {
        "inputs_embeds": {0: "rows", 1: "sequence"},
        "prefix_mask": {0: "sessions", 1: "prefix_len"},
        "suffix_mask": {0: "rows", 1: "suffix_len"},
        "logits": {0: "rows", 1: "sequence"},
    }
    if cfg.positions == "absolute":
        _add_position_ids(names_in, args, axes, prefix_len, new_len, rows, "rows")
    names_in += ["prefix_mask", "suffix_mask"]
    args += [torch.ones(sessions, prefix_len, dtype=torch.int64), torch.ones(rows, suffix_len, dtype=torch.int64)]
    kinds = ("key", "value")
    prefix_names = [f"prefix_key_values.{i}.{k}" for i in range(cfg.num_layers) for k in kinds]
    suffix_names = [f"suffix_key_values.{i}.{k}" for i in range(cfg.num_layers) for k in kinds]
    present = [f"present.{i}.{k}" for i in range(cfg.num_layers) for k in kinds]
    args += [torch.randn(sessions, cfg.num_kv_heads, prefix_cap, cfg.head_dim) for _ in prefix_names]
    args += [torch.randn(rows, cfg.num_kv_heads, suffix_cap, cfg.head_dim) for _ in suffix_names]
    for name in prefix_names:
        axes[name] = {0: "sessions", 2: "prefix_capacity"}
    for name in suffix_names:
        axes[name] = {0: "rows", 2: "suffix_capacity"}
    for name in present:
        axes[name] = {0: "rows", 2: "sequence"}
    return _export(SlotDecoderStep(model).eval(), args, names_in + prefix_names + suffix_names, ["logits"] + present, axes, out, external)


CACHE_LAYOUTS = ("slots", "padded")


def export_all(model: SpeechLLM, folder: Path, external: str, cache_layout: str = "slots") -> Dict[str, List[str]]:
    """Writes encoder.onnx, embed.onnx, decoder.onnx (+ .data files). Returns files per graph.
    `cache_layout`: "slots" (the engine's arenas in place, only new keys/values out) or "padded"
    (past_key_values per row, the whole cache out: what Hugging Face exports look like)."""
    if cache_layout not in CACHE_LAYOUTS:
        raise ValueError(f"cache layout {cache_layout!r} is not one of {CACHE_LAYOUTS}")
    os.makedirs(folder, exist_ok=True)
    model.eval()
    decoder = export_slot_decoder if cache_layout == "slots" else export_decoder
    return {
        "encoder": export_encoder(model, folder / "encoder.onnx", external),
        "embed": export_embed(model, folder / "embed.onnx", external),
        "decoder": decoder(model, folder / "decoder.onnx", external),
    }
