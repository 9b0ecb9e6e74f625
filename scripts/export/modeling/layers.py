"""Numerics shared by the encoder and the decoder, written once so that the eager PyTorch
reference and the exported ONNX graphs run the very same code.

Everything here is traceable by torch.onnx.export with dynamic batch and sequence sizes: shapes
are never turned into Python integers inside arithmetic (the tracer would freeze them).
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F


def layer_norm_fp32(module: nn.LayerNorm, x: torch.Tensor) -> torch.Tensor:
    """LayerNorm computed in float32 whatever the weights' dtype (fairseq's Fp32LayerNorm)."""
    weight = module.weight.float() if module.weight is not None else None
    bias = module.bias.float() if module.bias is not None else None
    return F.layer_norm(x.float(), module.normalized_shape, weight, bias, module.eps).to(x.dtype)


class RMSNorm(nn.Module):
    """Llama/Qwen2 RMSNorm: normalise in float32, cast back, then scale."""

    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))
        self.eps = eps

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x.float()
        h = h * torch.rsqrt(h.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * h.to(x.dtype)


def rotary_cos_sin(positions: torch.Tensor, inv_freq: torch.Tensor, pairing: str, dtype: torch.dtype):
    """cos/sin tables [B, 1, L, D] for integer positions [B, L] (angles in float32)."""
    angles = positions.float().unsqueeze(-1) * inv_freq.float()  # [B, L, D/2]
    if pairing == "interleaved":
        angles = torch.stack((angles, angles), dim=-1).flatten(-2)  # f0 f0 f1 f1 …
    elif pairing == "half":
        angles = torch.cat((angles, angles), dim=-1)  # f0 f1 … f0 f1 …
    else:
        raise ValueError(f"unknown rotary pairing {pairing!r}")
    return angles.cos().to(dtype).unsqueeze(1), angles.sin().to(dtype).unsqueeze(1)


def rotate(x: torch.Tensor, cos: torch.Tensor, sin: torch.Tensor, pairing: str) -> torch.Tensor:
    """Applies rotary embeddings to x [B, H, L, D]."""
    if pairing == "interleaved":
        pairs = x.reshape(x.shape[0], x.shape[1], x.shape[2], -1, 2)
        rotated = torch.stack((-pairs[..., 1], pairs[..., 0]), dim=-1).flatten(-2)
    else:
        half = x.shape[-1] // 2
        rotated = torch.cat((-x[..., half:], x[..., :half]), dim=-1)
    return x * cos + rotated * sin


def slot_positions(attention_mask: torch.Tensor, past: torch.Tensor, new: torch.Tensor):
    """Cache-relative positions, as InfiniSST's engines use them.

    Row b's real past occupies slots [0, p_b) of the padded past, its new steps follow the padded
    past. Slot j of the past sits at position j, new step t at position p_b + t: positions are
    indices into the row's real (trimmed) cache, so they stay small however long the stream runs.

    attention_mask: [B, P + T] (1 = real); past: [B, *, P, *]; new: [B, T, *].
    Returns (is_new [P + T] bool, key_positions [B, P + T], query_positions [B, T]).
    """
    past_slots = torch.zeros_like(past[0, 0, :, 0], dtype=torch.int64)
    new_slots = torch.ones_like(new[0, :, 0], dtype=torch.int64)
    is_new = torch.cat((past_slots, new_slots))  # [S]
    slot = torch.cumsum(torch.ones_like(is_new), 0) - 1  # 0 … S-1
    new_index = torch.cumsum(is_new, 0) - 1  # t for new slots
    past_valid = (attention_mask * (1 - is_new)).sum(1, keepdim=True)  # [B, 1]
    key_pos = torch.where(is_new.bool(), past_valid + new_index, slot.unsqueeze(0))
    query_pos = past_valid + torch.cumsum(torch.ones_like(new[:, :, 0], dtype=torch.int64), 1) - 1
    return is_new.bool(), key_pos, query_pos


def attention(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    allowed: torch.Tensor,
    scale: float,
) -> torch.Tensor:
    """Softmax attention with scores in float32. q [B,H,T,D], k/v [B,H,S,D], allowed [B,1,T,S]."""
    scores = torch.matmul(q, k.transpose(-1, -2)).float() * scale
    scores = scores.masked_fill(~allowed, torch.finfo(torch.float32).min)
    probs = torch.softmax(scores, dim=-1).to(v.dtype)
    return torch.matmul(probs, v)
