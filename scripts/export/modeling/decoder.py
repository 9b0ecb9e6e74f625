"""Llama-3 / Qwen2 decoder in plain PyTorch with Hugging Face parameter names:

    model.embed_tokens.weight
    model.layers.{i}.self_attn.{q,k,v,o}_proj.weight (+ q/k/v bias for Qwen2)
    model.layers.{i}.mlp.{gate,up,down}_proj.weight
    model.layers.{i}.{input_layernorm,post_attention_layernorm}.weight
    model.norm.weight, lm_head.weight (absent when tied to the embeddings)
"""

from __future__ import annotations

import math
from typing import List, Optional, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import DecoderConfig
from .layers import RMSNorm, attention, rotary_cos_sin, rotate, slot_positions

KV = Tuple[torch.Tensor, torch.Tensor]


def rope_inv_freq(cfg: DecoderConfig) -> torch.Tensor:
    """Inverse frequencies as transformers computes them, including Llama-3.1's scaling."""
    dim = cfg.head_dim
    inv = 1.0 / (cfg.rope_theta ** (torch.arange(0, dim, 2, dtype=torch.int64).float() / dim))
    scaling = cfg.rope_scaling or {}
    kind = scaling.get("rope_type", scaling.get("type", "default"))
    if kind == "default":
        return inv
    if kind == "linear":
        return inv / float(scaling["factor"])
    if kind == "llama3":
        factor = float(scaling["factor"])
        low, high = float(scaling["low_freq_factor"]), float(scaling["high_freq_factor"])
        old_len = float(scaling["original_max_position_embeddings"])
        low_wavelen, high_wavelen = old_len / low, old_len / high
        wavelen = 2 * math.pi / inv
        scaled = torch.where(wavelen > low_wavelen, inv / factor, inv)
        smooth = (old_len / wavelen - low) / (high - low)
        smoothed = (1 - smooth) * scaled / factor + smooth * scaled
        medium = ~(wavelen < high_wavelen) & ~(wavelen > low_wavelen)
        return torch.where(medium, smoothed, scaled)
    raise ValueError(f"rope_scaling type {kind!r} is not supported (default, linear, llama3)")


class Attention(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        self.q_proj = nn.Linear(cfg.hidden_size, cfg.num_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.k_proj = nn.Linear(cfg.hidden_size, cfg.num_kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.v_proj = nn.Linear(cfg.hidden_size, cfg.num_kv_heads * cfg.head_dim, bias=cfg.qkv_bias)
        self.o_proj = nn.Linear(cfg.num_heads * cfg.head_dim, cfg.hidden_size, bias=cfg.o_bias)

    def _heads(self, x: torch.Tensor, heads: int) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], heads, self.cfg.head_dim).transpose(1, 2)

    def _expand(self, x: torch.Tensor) -> torch.Tensor:
        groups = self.cfg.num_heads // self.cfg.num_kv_heads
        if groups == 1:
            return x
        return x.unsqueeze(2).expand(-1, -1, groups, -1, -1).flatten(1, 2)

    def forward(self, x, past: KV, rope, allowed) -> Tuple[torch.Tensor, KV]:
        cfg = self.cfg
        q = self._heads(self.q_proj(x), cfg.num_heads)
        k = self._heads(self.k_proj(x), cfg.num_kv_heads)
        v = self._heads(self.v_proj(x), cfg.num_kv_heads)
        q_cos, q_sin, k_cos, k_sin = rope
        q = rotate(q, q_cos, q_sin, "half")
        if cfg.positions == "absolute":
            # HF layout: keys are rotated once, at their absolute position, then cached.
            k_all = torch.cat((past[0].to(k.dtype), rotate(k, q_cos, q_sin, "half")), dim=2)
            v_all = torch.cat((past[1].to(v.dtype), v), dim=2)
            k_rot = k_all
        else:
            # Serving layout (flashinfer ROPE_LLAMA): keys cached unrotated, rotated on every call
            # at their slot in the current cache, so trimming re-bases every position.
            k_all = torch.cat((past[0].to(k.dtype), k), dim=2)
            v_all = torch.cat((past[1].to(v.dtype), v), dim=2)
            k_rot = rotate(k_all, k_cos, k_sin, "half")
        out = attention(q, self._expand(k_rot), self._expand(v_all), allowed, cfg.head_dim**-0.5)
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.o_proj(out), (k_all, v_all)

    def forward_slots(self, x, prefix: KV, suffix: KV, slots: "SlotInputs", inv_freq, query_pos) -> Tuple[torch.Tensor, KV]:
        """Attention in the slots layout; returns the output and only the new steps' keys and
        values, in the form the arenas keep them (rotated for absolute positions, raw for cache-slot
        positions, as the padded layout caches them)."""
        cfg = self.cfg
        q = self._heads(self.q_proj(x), cfg.num_heads)
        k = self._heads(self.k_proj(x), cfg.num_kv_heads)
        v = self._heads(self.v_proj(x), cfg.num_kv_heads)
        q_cos, q_sin = rotary_cos_sin(query_pos, inv_freq, "half", x.dtype)
        q = rotate(q, q_cos, q_sin, "half")
        k_past = slots.gather_past(prefix[0], suffix[0]).to(k.dtype)
        v_past = slots.gather_past(prefix[1], suffix[1]).to(v.dtype)
        if cfg.positions == "absolute":
            k_new = rotate(k, q_cos, q_sin, "half")
            k_rot = torch.cat((k_past, k_new), dim=2)
        else:
            k_new = k
            key_pos = torch.cat((slots.prefix_pos, slots.suffix_pos, slots.new_pos), dim=1)
            k_cos, k_sin = rotary_cos_sin(key_pos, inv_freq, "half", x.dtype)
            k_rot = rotate(torch.cat((k_past, k), dim=2), k_cos, k_sin, "half")
        v_all = torch.cat((v_past, v), dim=2)
        out = attention(q, self._expand(k_rot), self._expand(v_all), slots.allowed, cfg.head_dim**-0.5)
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.o_proj(out), (k_new, v)


def _counter(like: torch.Tensor) -> torch.Tensor:
    """0, 1, …, n-1 for a 1-D tensor of length n, without turning n into a Python int (traceable)."""
    return torch.cumsum(torch.ones_like(like, dtype=torch.int64), 0) - 1


class SlotInputs:
    """One call in the `slots` cache layout (docs/model-format.md), as the attention layers need it.

    Each row (session s, beam w; row = s·W + w) attends to its session's prefix (the first
    prefix_mask.sum() positions of the prefix arena), its own suffix (the first suffix_mask.sum()
    of its suffix arena) and the call's new steps, causally. The arenas arrive as they lie
    ([S, kv, capacity, D] and [R, kv, capacity, D]); the graph cuts them to the masks' widths.
    """

    def __init__(self, embeds: torch.Tensor, prefix_mask: torch.Tensor, suffix_mask: torch.Tensor):
        rows = _counter(embeds[:, 0, 0])  # [R]
        beams = torch.ones_like(rows).sum() // torch.ones_like(prefix_mask[:, 0]).sum()
        self.row_session = torch.div(rows, beams, rounding_mode="floor")  # [R]
        self.prefix_slots = _counter(prefix_mask[0])  # [P]
        self.suffix_slots = _counter(suffix_mask[0])  # [U]
        self.prefix_valid = torch.index_select(prefix_mask, 0, self.row_session)  # [R, P]
        self.suffix_valid = suffix_mask  # [R, U]
        prefix_len = self.prefix_valid.sum(1, keepdim=True)  # [R, 1]
        suffix_len = suffix_mask.sum(1, keepdim=True)  # [R, 1]
        steps = _counter(embeds[0, :, 0])  # [T]
        # Cache-slot positions: prefix slot j at j, suffix slot u right after the prefix, new step t
        # after the suffix (the slot a key would have in the row's compact cache).
        self.prefix_pos = self.prefix_slots.unsqueeze(0).expand(self.prefix_valid.shape)  # [R, P]
        self.suffix_pos = prefix_len + self.suffix_slots.unsqueeze(0)  # [R, U]
        self.new_pos = prefix_len + suffix_len + steps.unsqueeze(0)  # [R, T]
        causal = steps.unsqueeze(0) <= steps.unsqueeze(1)  # [T(query), T(key)]
        old = torch.cat((self.prefix_valid, self.suffix_valid), dim=1).bool()  # [R, P + U]
        self.allowed = torch.cat((old.unsqueeze(1).expand(-1, causal.shape[0], -1), causal.unsqueeze(0).expand(old.shape[0], -1, -1)), dim=2).unsqueeze(1)  # [R, 1, T, P + U + T]

    def gather_past(self, prefix: torch.Tensor, suffix: torch.Tensor) -> torch.Tensor:
        """Row r's prefix (cut to P) and suffix (cut to U), [R, kv, P + U, D]; the prefix is
        gathered once per row (its beams share the session's arena slot)."""
        prefix = torch.index_select(torch.index_select(prefix, 2, self.prefix_slots), 0, self.row_session)
        suffix = torch.index_select(suffix, 2, self.suffix_slots)
        return torch.cat((prefix.to(suffix.dtype), suffix), dim=2)


class MLP(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.gate_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=cfg.mlp_bias)
        self.up_proj = nn.Linear(cfg.hidden_size, cfg.intermediate_size, bias=cfg.mlp_bias)
        self.down_proj = nn.Linear(cfg.intermediate_size, cfg.hidden_size, bias=cfg.mlp_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class DecoderLayer(nn.Module):
    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.self_attn = Attention(cfg)
        self.mlp = MLP(cfg)
        self.input_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.post_attention_layernorm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)

    def forward(self, x, past: KV, rope, allowed) -> Tuple[torch.Tensor, KV]:
        h, present = self.self_attn(self.input_layernorm(x), past, rope, allowed)
        x = x + h
        return x + self.mlp(self.post_attention_layernorm(x)), present

    def forward_slots(self, x, prefix: KV, suffix: KV, slots: "SlotInputs", inv_freq, query_pos) -> Tuple[torch.Tensor, KV]:
        h, present = self.self_attn.forward_slots(self.input_layernorm(x), prefix, suffix, slots, inv_freq, query_pos)
        x = x + h
        return x + self.mlp(self.post_attention_layernorm(x)), present


class DecoderStack(nn.Module):
    """Layers + final norm; `embed_tokens` lives here too so that names match `model.*`."""

    def __init__(self, cfg: DecoderConfig):
        super().__init__()
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.hidden_size)
        self.layers = nn.ModuleList([DecoderLayer(cfg) for _ in range(cfg.num_layers)])
        self.norm = RMSNorm(cfg.hidden_size, cfg.rms_norm_eps)
        self.register_buffer("inv_freq", rope_inv_freq(cfg), persistent=False)

    def run(self, embeds, attention_mask, past: List[KV], position_ids: Optional[torch.Tensor]):
        """embeds [B, T, H] (right-padded rows), attention_mask [B, P + T], past per layer
        [B, kv_heads, P, head_dim]. Returns final hidden states and the new caches."""
        is_new, key_pos, query_pos = slot_positions(attention_mask, past[0][0], embeds)
        if self.cfg.positions == "absolute":
            if position_ids is None:
                raise ValueError("absolute positions need position_ids")
            query_pos = position_ids
        q_cos, q_sin = rotary_cos_sin(query_pos, self.inv_freq, "half", embeds.dtype)
        k_cos, k_sin = rotary_cos_sin(key_pos, self.inv_freq, "half", embeds.dtype)
        # Slot s is visible to new step t when it is real and is either past or a new step <= t.
        new_index = torch.cumsum(is_new.long(), 0) - 1
        step = torch.cumsum(torch.ones_like(embeds[0, :, 0], dtype=torch.int64), 0) - 1  # [T]
        causal = (~is_new).unsqueeze(0) | (new_index.unsqueeze(0) <= step.unsqueeze(1))  # [T, S]
        allowed = (attention_mask.bool().unsqueeze(1) & causal.unsqueeze(0)).unsqueeze(1)  # [B,1,T,S]
        x = embeds
        presents: List[KV] = []
        for layer, layer_past in zip(self.layers, past):
            x, present = layer(x, layer_past, (q_cos, q_sin, k_cos, k_sin), allowed)
            presents.append(present)
        return self.norm(x), presents

    def run_slots(self, embeds, prefix_mask, suffix_mask, prefix: List[KV], suffix: List[KV], position_ids: Optional[torch.Tensor]):
        """The `slots` cache layout: embeds [R, T, H], prefix_mask [S, P], suffix_mask [R, U],
        prefix per layer [S, kv, P_cap, D], suffix [R, kv, U_cap, D]. Returns final hidden states
        and per layer the new steps' keys and values only."""
        slots = SlotInputs(embeds, prefix_mask, suffix_mask)
        if self.cfg.positions == "absolute":
            if position_ids is None:
                raise ValueError("absolute positions need position_ids")
            query_pos = position_ids
        else:
            query_pos = slots.new_pos
        x = embeds
        presents: List[KV] = []
        for layer, layer_prefix, layer_suffix in zip(self.layers, prefix, suffix):
            x, present = layer.forward_slots(x, layer_prefix, layer_suffix, slots, self.inv_freq, query_pos)
            presents.append(present)
        return self.norm(x), presents
