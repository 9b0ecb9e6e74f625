"""InfiniSST's streaming speech encoder in plain PyTorch.

Module and parameter names follow the published checkpoints, whose state-dict keys come from
fairseq's Wav2Vec2Model (with the pre-training heads removed), InfiniSST's RoPE patch of fairseq's
MultiheadAttention (rotary_embedding_torch's `freqs`), its ConvFeatureExtractionModel used as the
length-shrink stack, and a final Linear projection:

    speech_encoder.feature_extractor.conv_layers.{i}.0.weight|bias, .2.1.weight|bias
    speech_encoder.post_extract_proj, speech_encoder.mask_emb, speech_encoder.layer_norm
    speech_encoder.encoder.pos_conv.0.{bias,weight_g,weight_v}   (kept for the key check, unused)
    speech_encoder.encoder.layers.{i}.self_attn.{q,k,v,out}_proj, .self_attn.rotary_emb.freqs
    speech_encoder.encoder.layers.{i}.{self_attn_layer_norm,fc1,fc2,final_layer_norm}
    speech_encoder.encoder.layer_norm
    length_shrink.conv_layers.{i}.0.weight, .2.1.weight|bias
    proj.weight|bias
"""

from __future__ import annotations

from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F

from .config import EncoderConfig
from .layers import attention, layer_norm_fp32, rotary_cos_sin, rotate, slot_positions

KV = Tuple[torch.Tensor, torch.Tensor]


class TransposeLast(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.transpose(-2, -1)


class ConvBlockStack(nn.Module):
    """fairseq's ConvFeatureExtractionModel: Conv1d → Dropout → [LayerNorm over channels] → GELU."""

    def __init__(self, layers: List[Tuple[int, int, int]], in_dim: int, mode: str, conv_bias: bool):
        super().__init__()
        self.conv_layers = nn.ModuleList()
        for i, (dim, kernel, stride) in enumerate(layers):
            conv = nn.Conv1d(in_dim, dim, kernel, stride=stride, bias=conv_bias)
            if mode == "layer_norm":
                norm: nn.Module = nn.Sequential(TransposeLast(), nn.LayerNorm(dim), TransposeLast())
                block = nn.Sequential(conv, nn.Dropout(0.0), norm, nn.GELU())
            elif mode == "default" and i == 0:
                block = nn.Sequential(conv, nn.Dropout(0.0), nn.GroupNorm(dim, dim), nn.GELU())
            elif mode == "default":
                block = nn.Sequential(conv, nn.Dropout(0.0), nn.GELU())
            else:
                raise ValueError(f"unknown conv extractor mode {mode!r}")
            self.conv_layers.append(block)
            in_dim = dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Always float32: the stacks are small, fairseq normalises them in float32 anyway, and
        # half-precision convolutions are missing on some CPUs' PyTorch builds.
        dtype = x.dtype
        x = x.float()
        for block in self.conv_layers:
            conv = block[0]
            x = F.conv1d(x, conv.weight.float(), None if conv.bias is None else conv.bias.float(), conv.stride)
            if len(block) == 4 and isinstance(block[2], nn.Sequential):
                x = layer_norm_fp32(block[2][1], x.transpose(-2, -1)).transpose(-2, -1)
            elif len(block) == 4:
                norm = block[2]
                x = F.group_norm(x, norm.num_groups, norm.weight.float(), norm.bias.float(), norm.eps)
            x = F.gelu(x)
        return x.to(dtype)


class RotaryFreqs(nn.Module):
    """rotary_embedding_torch.RotaryEmbedding's only persistent state: `freqs` [head_dim / 2]."""

    def __init__(self, head_dim: int, theta: float = 10000.0):
        super().__init__()
        self.freqs = nn.Parameter(1.0 / (theta ** (torch.arange(0, head_dim, 2)[: head_dim // 2].float() / head_dim)), requires_grad=False)


class RopeSelfAttention(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        dim = cfg.embed_dim
        self.num_heads = cfg.num_heads
        self.head_dim = cfg.head_dim
        self.pairing = cfg.rope_pairing
        self.rotary_emb = RotaryFreqs(self.head_dim)
        self.k_proj = nn.Linear(dim, dim)
        self.v_proj = nn.Linear(dim, dim)
        self.q_proj = nn.Linear(dim, dim)
        self.out_proj = nn.Linear(dim, dim)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        return x.reshape(x.shape[0], x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, x, past: KV, key_pos, query_pos, allowed) -> Tuple[torch.Tensor, KV]:
        q, k, v = self._heads(self.q_proj(x)), self._heads(self.k_proj(x)), self._heads(self.v_proj(x))
        # The cache holds keys before rotation: InfiniSST re-rotates the whole window every chunk
        # with positions relative to the window (rotate_queries_with_cached_keys).
        k_all = torch.cat((past[0].to(k.dtype), k), dim=2)
        v_all = torch.cat((past[1].to(v.dtype), v), dim=2)
        freqs = self.rotary_emb.freqs
        q_cos, q_sin = rotary_cos_sin(query_pos, freqs, self.pairing, q.dtype)
        k_cos, k_sin = rotary_cos_sin(key_pos, freqs, self.pairing, k.dtype)
        out = attention(rotate(q, q_cos, q_sin, self.pairing), rotate(k_all, k_cos, k_sin, self.pairing), v_all, allowed, self.head_dim**-0.5)
        out = out.transpose(1, 2).reshape(x.shape[0], x.shape[1], -1)
        return self.out_proj(out), (k_all, v_all)


class EncoderLayer(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.layer_norm_first = cfg.layer_norm_first
        self.self_attn = RopeSelfAttention(cfg)
        self.self_attn_layer_norm = nn.LayerNorm(cfg.embed_dim)
        self.fc1 = nn.Linear(cfg.embed_dim, cfg.ffn_dim)
        self.fc2 = nn.Linear(cfg.ffn_dim, cfg.embed_dim)
        self.final_layer_norm = nn.LayerNorm(cfg.embed_dim)

    def _ffn(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x).float()).to(x.dtype))

    def forward(self, x, past: KV, key_pos, query_pos, allowed) -> Tuple[torch.Tensor, KV]:
        if self.layer_norm_first:
            h, present = self.self_attn(layer_norm_fp32(self.self_attn_layer_norm, x), past, key_pos, query_pos, allowed)
            x = x + h
            x = x + self._ffn(layer_norm_fp32(self.final_layer_norm, x))
        else:
            h, present = self.self_attn(x, past, key_pos, query_pos, allowed)
            x = layer_norm_fp32(self.self_attn_layer_norm, x + h)
            x = layer_norm_fp32(self.final_layer_norm, x + self._ffn(x))
        return x, present


class WeightNormConv(nn.Module):
    """Parameters of fairseq's weight-normed positional conv. InfiniSST's RoPE patch replaces the
    conv positional embedding, so these weights are loaded (strict key check) but never used."""

    def __init__(self, dim: int, kernel: int = 128, groups: int = 16):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(dim), requires_grad=False)
        self.weight_g = nn.Parameter(torch.zeros(1, 1, kernel), requires_grad=False)
        self.weight_v = nn.Parameter(torch.zeros(dim, dim // groups, kernel), requires_grad=False)


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        if cfg.pos_conv_kernel:
            self.pos_conv = nn.Sequential(WeightNormConv(cfg.embed_dim, cfg.pos_conv_kernel, cfg.pos_conv_groups))
        self.layers = nn.ModuleList([EncoderLayer(cfg) for _ in range(cfg.num_layers)])
        self.layer_norm_first = cfg.layer_norm_first
        self.layer_norm = nn.LayerNorm(cfg.embed_dim)


class Wav2Vec2Model(nn.Module):
    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        self.feature_extractor = ConvBlockStack(cfg.conv_layers, 1, cfg.extractor_mode, cfg.conv_bias)
        feat_dim = cfg.conv_layers[-1][0]
        self.post_extract_proj = nn.Linear(feat_dim, cfg.embed_dim) if cfg.has_post_extract_proj else None
        if cfg.has_mask_emb:
            self.mask_emb = nn.Parameter(torch.zeros(cfg.embed_dim), requires_grad=False)  # pre-training only
        self.layer_norm = nn.LayerNorm(feat_dim)
        self.encoder = TransformerEncoder(cfg)


class SpeechEncoder(nn.Module):
    """InfiniSST's SpeechEncoderW2V2RoPE, run one chunk (= one attention block) at a time."""

    def __init__(self, cfg: EncoderConfig):
        super().__init__()
        if cfg.extractor_mode != "layer_norm":
            # GroupNorm normalises each channel over the whole input, so a frame depends on audio
            # far outside its receptive field and chunked encoding cannot reproduce it.
            raise ValueError("only wav2vec 2.0 models with extractor_mode=layer_norm can stream (e.g. wav2vec_vox_960h_pl)")
        self.cfg = cfg
        self.speech_encoder = Wav2Vec2Model(cfg)
        self.length_shrink = ConvBlockStack(cfg.shrink_layers, cfg.embed_dim, "layer_norm", False)
        self.proj = nn.Linear(cfg.embed_dim, cfg.llm_dim)

    def forward(self, input_values, input_context, attention_mask, past: List[KV]):
        """One chunk for a padded batch.

        input_values [B, samples] (right-padded), input_context [B, context_samples] (the samples
        before the chunk, zeros at a stream's start: InfiniSST's 399-sample offset), attention_mask
        [B, P + frames], past: per layer (key, value) [B, heads, P, head_dim], keys unrotated.
        Returns speech embeddings [B, frames / shrink, llm_dim] and the new per-layer caches.
        """
        w2v = self.speech_encoder
        audio = torch.cat((input_context, input_values), dim=1).to(w2v.layer_norm.weight.dtype)
        x = w2v.feature_extractor(audio.unsqueeze(1)).transpose(1, 2)  # [B, frames, 512]
        x = layer_norm_fp32(w2v.layer_norm, x)
        if w2v.post_extract_proj is not None:
            x = w2v.post_extract_proj(x)
        encoder = w2v.encoder
        if not encoder.layer_norm_first:
            x = layer_norm_fp32(encoder.layer_norm, x)

        is_new, key_pos, query_pos = slot_positions(attention_mask, past[0][0], x)
        # Every new frame sees the whole chunk (the chunk is one attention block) and the real
        # cached frames; the agent's sliding window also hides frames older than max_cache_frames
        # before each frame.
        allowed = attention_mask.bool().unsqueeze(1)  # [B, 1, S]
        if self.cfg.sliding_window:
            allowed = allowed & (key_pos.unsqueeze(1) >= query_pos.unsqueeze(2) - self.cfg.max_cache_frames)
        allowed = allowed.unsqueeze(1)  # [B, 1, T|1, S]

        presents: List[KV] = []
        for layer, layer_past in zip(encoder.layers, past):
            x, present = layer(x, layer_past, key_pos, query_pos, allowed)
            presents.append(present)
        if encoder.layer_norm_first:
            x = layer_norm_fp32(encoder.layer_norm, x)
        x = self.length_shrink(x.transpose(1, 2)).transpose(1, 2)
        return self.proj(x), presents
