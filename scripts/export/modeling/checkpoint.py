"""Loading published InfiniSST checkpoints: read the state dict, work out the architecture from
the weights' shapes plus the wav2vec 2.0 config, load with a strict key check."""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional

import torch

from .config import STANDARD_W2V2_CONV, EncoderConfig, parse_layer_spec

ENC = "model.speech_encoder."
W2V = ENC + "speech_encoder."

# Fields of fairseq's Wav2Vec2Config this exporter needs (the rest is training-only).
W2V2_FIELDS = ("conv_feature_layers", "extractor_mode", "conv_bias", "encoder_layers", "encoder_embed_dim", "encoder_ffn_embed_dim", "encoder_attention_heads", "layer_norm_first")


class CheckpointError(ValueError):
    """A checkpoint that does not fit the architecture; the message says what to do."""


def load_state_dict(path: Path) -> Dict[str, torch.Tensor]:
    """pytorch_model.bin (or a plain state-dict .pt). Tensors only: nothing is unpickled beyond them."""
    state = torch.load(str(path), map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise CheckpointError(f"{path}: not a state dict of tensors")
    return state


def _as_mapping(obj: Any) -> Optional[Mapping[str, Any]]:
    if obj is None:
        return None
    if isinstance(obj, Mapping):
        return obj
    if isinstance(obj, argparse.Namespace):
        return vars(obj)
    try:  # omegaconf DictConfig and similar
        return {k: obj[k] for k in obj.keys()}  # type: ignore[attr-defined]
    except Exception:  # noqa: BLE001 - any non-mapping is simply skipped
        return None


def read_w2v2_settings(path: Path) -> Dict[str, Any]:
    """The wav2vec 2.0 settings from a fairseq checkpoint (old `args` Namespace or new `cfg`) or
    from a JSON file holding the same fields."""
    if path.suffix == ".json":
        data = json.loads(path.read_text())
    else:
        try:
            # A fairseq checkpoint pickles its config (argparse / omegaconf objects): only load
            # files you trust. Its weights are not used; the speech LLM checkpoint has them.
            state = torch.load(str(path), map_location="cpu", weights_only=False)
        except ModuleNotFoundError as error:
            raise CheckpointError(
                f"{path}: unpickling its config needs the Python module {error.name!r}; install it "
                f"(pip install omegaconf) or pass a JSON file with the fields {', '.join(W2V2_FIELDS)}"
            ) from error
        data = None
        root = _as_mapping(state) or {}
        candidates = []
        for top in ("cfg", "args"):
            node = _as_mapping(root.get(top))
            if not node:
                continue
            model = _as_mapping(node.get("model"))
            w2v_args = _as_mapping((model or {}).get("w2v_args")) or _as_mapping(node.get("w2v_args"))
            if w2v_args:
                candidates.append(_as_mapping(w2v_args.get("model")) or w2v_args)
            candidates.extend(c for c in (model, node) if c)
        for candidate in candidates:
            if candidate and "conv_feature_layers" in candidate:
                data = candidate
                break
        if data is None:
            raise CheckpointError(f"{path}: no wav2vec 2.0 model config (conv_feature_layers) found in cfg/args")
    return {k: data[k] for k in W2V2_FIELDS if k in data}


def _count(keys: Iterable[str], pattern: str) -> int:
    found = {int(m.group(1)) for k in keys for m in [re.match(pattern, k)] if m}
    return max(found) + 1 if found else 0


def infer_encoder_config(state: Mapping[str, torch.Tensor], w2v2: Dict[str, Any], overrides: Dict[str, Any]) -> EncoderConfig:
    """Dimensions from the weights; strides / layer_norm_first from the wav2vec 2.0 settings."""
    keys = list(state.keys())
    n_conv = _count(keys, re.escape(W2V + "feature_extractor.conv_layers.") + r"(\d+)\.")
    if n_conv == 0:
        raise CheckpointError(f"no {W2V}feature_extractor weights: is this an InfiniSST speech-LLM checkpoint?")
    if "conv_feature_layers" in w2v2:
        conv = parse_layer_spec(str(w2v2["conv_feature_layers"]))
    else:
        kernels = [state[f"{W2V}feature_extractor.conv_layers.{i}.0.weight"].shape[2] for i in range(n_conv)]
        conv = [(state[f"{W2V}feature_extractor.conv_layers.{i}.0.weight"].shape[0], k, s) for i, (_, k, s) in enumerate(STANDARD_W2V2_CONV[:n_conv])]
        if [k for _, k, _ in conv] != kernels:
            raise CheckpointError("conv kernels are not wav2vec 2.0's standard ones; pass --w2v2 to give conv_feature_layers")
    layer_norm_mode = f"{W2V}feature_extractor.conv_layers.0.2.1.weight" in state
    n_layers = _count(keys, re.escape(W2V + "encoder.layers.") + r"(\d+)\.")
    fc1 = state[f"{W2V}encoder.layers.0.fc1.weight"]
    freqs = state.get(f"{W2V}encoder.layers.0.self_attn.rotary_emb.freqs")
    if freqs is None:
        raise CheckpointError("encoder layers have no rotary_emb.freqs: this is not InfiniSST's RoPE wav2vec 2.0")
    if any(k.endswith("rotary_emb.scale") for k in keys):
        raise CheckpointError("the encoder was trained with xpos (rotary_emb.scale); only plain RoPE (--xpos 0) is supported")
    embed_dim = fc1.shape[1]
    head_dim = freqs.shape[0] * 2
    n_shrink = _count(keys, re.escape(ENC + "length_shrink.conv_layers.") + r"(\d+)\.")
    shrink = overrides.pop("shrink_layers", None) or [
        (state[f"{ENC}length_shrink.conv_layers.{i}.0.weight"].shape[0],) + (state[f"{ENC}length_shrink.conv_layers.{i}.0.weight"].shape[2],) * 2
        for i in range(n_shrink)
    ]
    if "layer_norm_first" not in w2v2 and "layer_norm_first" not in overrides:
        # Every large wav2vec 2.0 (1024-dim) is pre-LN; every base one (768) is post-LN.
        overrides["layer_norm_first"] = embed_dim >= 1024
    pos_conv = state.get(f"{W2V}encoder.pos_conv.0.weight_v", state.get(f"{W2V}encoder.pos_conv.0.parametrizations.weight.original1"))
    cfg = EncoderConfig(
        conv_layers=[tuple(c) for c in conv],
        extractor_mode=str(w2v2.get("extractor_mode", "layer_norm" if layer_norm_mode else "default")),
        conv_bias=f"{W2V}feature_extractor.conv_layers.0.0.bias" in state,
        embed_dim=embed_dim,
        ffn_dim=fc1.shape[0],
        num_layers=n_layers,
        num_heads=embed_dim // head_dim,
        layer_norm_first=bool(w2v2.get("layer_norm_first", False)),
        has_post_extract_proj=f"{W2V}post_extract_proj.weight" in state,
        has_mask_emb=f"{W2V}mask_emb" in state,
        pos_conv_kernel=int(pos_conv.shape[2]) if pos_conv is not None else 0,
        pos_conv_groups=int(embed_dim // pos_conv.shape[1]) if pos_conv is not None else 16,
        shrink_layers=[tuple(int(v) for v in s) for s in shrink],
        llm_dim=state[f"{ENC}proj.weight"].shape[0],
    )
    for name, value in overrides.items():
        setattr(cfg, name, value)
    heads_cfg = w2v2.get("encoder_attention_heads")
    if heads_cfg is not None and int(heads_cfg) != cfg.num_heads:
        raise CheckpointError(f"encoder heads: wav2vec 2.0 config says {heads_cfg}, rotary freqs imply {cfg.num_heads}")
    return cfg


PRETRAINING_ONLY = ("quantizer.", "project_q.", "final_proj.", "target_glu.", "project_inp.", "input_quantizer.")


def drop_pretraining_heads(state: Dict[str, torch.Tensor]) -> List[str]:
    """Removes wav2vec 2.0 pre-training heads that fairseq's fine-tuning normally strips; returns
    the dropped keys (so the caller can say so)."""
    dropped = [k for k in state if k.startswith(W2V) and k[len(W2V) :].startswith(PRETRAINING_ONLY)]
    for key in dropped:
        del state[key]
    return dropped


def strict_load(model: torch.nn.Module, state: Mapping[str, torch.Tensor]) -> None:
    """Loads with a strict key and shape check, naming every mismatch. Accepts the torch>=2.1
    parametrised weight-norm names for the (unused) positional conv."""
    renamed = {}
    for key, value in state.items():
        key = key.replace("pos_conv.0.parametrizations.weight.original0", "pos_conv.0.weight_g")
        key = key.replace("pos_conv.0.parametrizations.weight.original1", "pos_conv.0.weight_v")
        renamed[key] = value
    expected = model.state_dict()
    missing = sorted(set(expected) - set(renamed))
    unexpected = sorted(set(renamed) - set(expected))
    wrong = sorted(k for k in set(expected) & set(renamed) if tuple(expected[k].shape) != tuple(renamed[k].shape))
    if missing or unexpected or wrong:
        lines = [f"missing: {k}" for k in missing[:20]] + [f"unexpected: {k}" for k in unexpected[:20]]
        lines += [f"shape of {k}: checkpoint {tuple(renamed[k].shape)}, model {tuple(expected[k].shape)}" for k in wrong[:20]]
        raise CheckpointError("checkpoint does not match the architecture:\n  " + "\n  ".join(lines))
    model.load_state_dict(renamed, strict=True)
