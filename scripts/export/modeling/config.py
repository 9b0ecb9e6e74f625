"""Architecture settings of an InfiniSST speech LLM, read from the files a user actually has.

The published checkpoints hold weights only. The shapes of those weights give most dimensions;
the base LLM's config.json gives the decoder's rotary and norm settings; the fairseq wav2vec 2.0
checkpoint (or a small JSON with the same fields) gives the few encoder settings that shapes do not
reveal (layer_norm_first, conv strides).
"""

from __future__ import annotations

import ast
import json
import operator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

# wav2vec 2.0's conv front end: (channels, kernel, stride). Kernels are visible in the weights,
# strides are not; these are the only strides any published wav2vec 2.0 model uses.
STANDARD_W2V2_CONV = [(512, 10, 5)] + [(512, 3, 2)] * 4 + [(512, 2, 2)] * 2


@dataclass
class EncoderConfig:
    """The streaming wav2vec 2.0 encoder with RoPE, the length-shrink stack and the projection."""

    conv_layers: List[Tuple[int, int, int]] = field(default_factory=lambda: list(STANDARD_W2V2_CONV))
    extractor_mode: str = "layer_norm"  # "layer_norm" (streamable) or "default" (GroupNorm, not streamable)
    conv_bias: bool = True
    embed_dim: int = 1024
    ffn_dim: int = 4096
    num_layers: int = 24
    num_heads: int = 16
    layer_norm_first: bool = True
    has_post_extract_proj: bool = True
    # Unused at inference (RoPE replaces the conv positional embedding; mask_emb is for
    # pre-training) but present in fairseq state dicts, so the strict key check expects them.
    has_mask_emb: bool = True
    pos_conv_kernel: int = 128  # 0 = no pos_conv weights in the checkpoint
    pos_conv_groups: int = 16
    shrink_layers: List[Tuple[int, int, int]] = field(default_factory=lambda: [(1024, 2, 2)] * 2)
    llm_dim: int = 4096
    # Streaming: one block = one chunk of frames; keys older than this many frames are dropped.
    max_cache_frames: int = 576
    # The training/agent code lets frame p see frames >= p - max_cache_frames (a per-frame sliding
    # window); InfiniSST's flashinfer serving path lets every new frame see the whole trimmed cache.
    sliding_window: bool = True
    # rotary_embedding_torch rotates interleaved pairs (x0,x1),(x2,x3)…; flashinfer's ROPE_LLAMA
    # rotates halves (x_i, x_{i+d/2}).
    rope_pairing: str = "interleaved"

    @property
    def head_dim(self) -> int:
        return self.embed_dim // self.num_heads

    @property
    def samples_per_frame(self) -> int:
        stride = 1
        for _, _, s in self.conv_layers:
            stride *= s
        return stride

    @property
    def receptive_field(self) -> int:
        field_, jump = 1, 1
        for _, k, s in self.conv_layers:
            field_ += (k - 1) * jump
            jump *= s
        return field_

    @property
    def context_samples(self) -> int:
        """Samples before a chunk that its first frame needs (InfiniSST: 79 + 320 = 399)."""
        return self.receptive_field - 1

    @property
    def shrink_factor(self) -> int:
        factor = 1
        for _, _, s in self.shrink_layers:
            factor *= s
        return factor


@dataclass
class DecoderConfig:
    """A Llama-3 / Qwen2 style decoder (RMSNorm, SwiGLU, GQA, rotary embeddings)."""

    family: str = "llama"  # "llama" or "qwen2"
    hidden_size: int = 4096
    intermediate_size: int = 14336
    num_layers: int = 32
    num_heads: int = 32
    num_kv_heads: int = 8
    head_dim: int = 128
    vocab_size: int = 128256
    rms_norm_eps: float = 1e-5
    rope_theta: float = 500000.0
    rope_scaling: Optional[Dict[str, Any]] = None
    tie_word_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    # "cache": keys are cached without rotation and positions are slot indices of the (trimmed)
    # cache, as InfiniSST's serving engine does; "absolute": HF-style rotated keys, engine positions.
    positions: str = "cache"


@dataclass
class SpeechLLMConfig:
    encoder: EncoderConfig
    decoder: DecoderConfig

    def to_json(self) -> Dict[str, Any]:
        return {"encoder": asdict(self.encoder), "decoder": asdict(self.decoder)}

    @staticmethod
    def from_json(data: Dict[str, Any]) -> "SpeechLLMConfig":
        enc = dict(data["encoder"])
        enc["conv_layers"] = [tuple(x) for x in enc["conv_layers"]]
        enc["shrink_layers"] = [tuple(x) for x in enc["shrink_layers"]]
        return SpeechLLMConfig(EncoderConfig(**enc), DecoderConfig(**data["decoder"]))


_BINOPS = {ast.Mult: operator.mul, ast.Add: operator.add}


def parse_layer_spec(text: str) -> List[Tuple[int, int, int]]:
    """Parses fairseq's layer strings such as "[(1024,2,2)] * 2" without eval()."""

    def walk(node: ast.AST) -> Any:
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant) and isinstance(node.value, int):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            items = [walk(e) for e in node.elts]
            return items if isinstance(node, ast.List) else tuple(items)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINOPS:
            return _BINOPS[type(node.op)](walk(node.left), walk(node.right))
        raise ValueError(f"unsupported expression in layer spec: {text!r}")

    value = walk(ast.parse(text, mode="eval"))
    if not isinstance(value, list) or not all(isinstance(t, tuple) and len(t) == 3 for t in value):
        raise ValueError(f"layer spec must be a list of (dim, kernel, stride) tuples: {text!r}")
    return [tuple(int(v) for v in t) for t in value]  # type: ignore[misc]


def decoder_config_from_hf(config_path: Path, vocab_size: int, positions: str) -> DecoderConfig:
    """Reads a Hugging Face config.json of Llama-3.x or Qwen2.x."""
    cfg = json.loads(Path(config_path).read_text())
    model_type = cfg.get("model_type", "")
    if model_type == "llama":
        family = "llama"
        qkv_bias = o_bias = bool(cfg.get("attention_bias", False))
    elif model_type == "qwen2":
        family = "qwen2"
        qkv_bias, o_bias = True, False
    else:
        raise ValueError(f"{config_path}: model_type {model_type!r} is not supported (llama or qwen2)")
    if cfg.get("hidden_act", "silu") != "silu":
        raise ValueError(f"{config_path}: hidden_act {cfg.get('hidden_act')!r} is not supported (silu)")
    heads = int(cfg["num_attention_heads"])
    return DecoderConfig(
        family=family,
        hidden_size=int(cfg["hidden_size"]),
        intermediate_size=int(cfg["intermediate_size"]),
        num_layers=int(cfg["num_hidden_layers"]),
        num_heads=heads,
        num_kv_heads=int(cfg.get("num_key_value_heads", heads)),
        head_dim=int(cfg.get("head_dim") or cfg["hidden_size"] // heads),
        vocab_size=vocab_size,
        rms_norm_eps=float(cfg.get("rms_norm_eps", 1e-6)),
        rope_theta=float(cfg.get("rope_theta", 10000.0)),
        rope_scaling=cfg.get("rope_scaling"),
        tie_word_embeddings=bool(cfg.get("tie_word_embeddings", False)),
        qkv_bias=qkv_bias,
        o_bias=o_bias,
        mlp_bias=bool(cfg.get("mlp_bias", False)),
        positions=positions,
    )
