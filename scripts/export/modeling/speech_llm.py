"""The whole InfiniSST model with the published checkpoints' module tree, and the three step
functions the server's model package consists of (encoder / embed / decoder).
"""

from __future__ import annotations

from typing import List, Optional, Tuple

import torch
import torch.nn as nn

from .config import SpeechLLMConfig
from .decoder import DecoderStack
from .speech_encoder import SpeechEncoder

KV = Tuple[torch.Tensor, torch.Tensor]


class SpeechLLM(nn.Module):
    """`model.{embed_tokens,layers,norm,speech_encoder}` + `lm_head`, as SpeechLlamaForCausalLM /
    SpeechQwenForCausalLM lay them out."""

    def __init__(self, cfg: SpeechLLMConfig):
        super().__init__()
        self.cfg = cfg
        self.model = DecoderStack(cfg.decoder)
        self.model.speech_encoder = SpeechEncoder(cfg.encoder)
        self.lm_head = None if cfg.decoder.tie_word_embeddings else nn.Linear(cfg.decoder.hidden_size, cfg.decoder.vocab_size, bias=False)

    def output_weight(self) -> torch.Tensor:
        return self.model.embed_tokens.weight if self.lm_head is None else self.lm_head.weight


def _split_past(flat: Tuple[torch.Tensor, ...]) -> List[KV]:
    return [(flat[i], flat[i + 1]) for i in range(0, len(flat), 2)]


def _flatten(presents: List[KV]) -> Tuple[torch.Tensor, ...]:
    out: List[torch.Tensor] = []
    for k, v in presents:
        out.extend((k.float(), v.float()))
    return tuple(out)


class EncoderStep(nn.Module):
    """encoder.onnx: (input_values, input_context, attention_mask, past…) → (speech_embeddings, present…).
    Inputs and outputs are float32 whatever the weights' dtype (the engine's tensor contract)."""

    def __init__(self, model: SpeechLLM):
        super().__init__()
        self.encoder = model.model.speech_encoder

    def forward(self, input_values, input_context, attention_mask, *past):
        embeddings, presents = self.encoder(input_values, input_context, attention_mask, _split_past(past))
        return (embeddings.float(),) + _flatten(presents)


class EmbedStep(nn.Module):
    """embed.onnx: input_ids → inputs_embeds (float32)."""

    def __init__(self, model: SpeechLLM):
        super().__init__()
        self.embed_tokens = model.model.embed_tokens

    def forward(self, input_ids):
        return self.embed_tokens(input_ids).float()


class DecoderStep(nn.Module):
    """decoder.onnx: (inputs_embeds, attention_mask, [position_ids], past…) → (logits, present…)."""

    def __init__(self, model: SpeechLLM):
        super().__init__()
        self.stack = model.model
        self.model = model
        self.absolute = model.cfg.decoder.positions == "absolute"

    def run(self, inputs_embeds, attention_mask, position_ids: Optional[torch.Tensor], past: List[KV]):
        dtype = self.stack.norm.weight.dtype
        hidden, presents = self.stack.run(inputs_embeds.to(dtype), attention_mask, past, position_ids)
        logits = torch.matmul(hidden, self.model.output_weight().t()).float()
        return (logits,) + _flatten(presents)

    def forward(self, inputs_embeds, attention_mask, *rest):
        if self.absolute:
            return self.run(inputs_embeds, attention_mask, rest[0], _split_past(rest[1:]))
        return self.run(inputs_embeds, attention_mask, None, _split_past(rest))


class SlotDecoderStep(nn.Module):
    """decoder.onnx in the `slots` cache layout (docs/model-format.md): (inputs_embeds,
    [position_ids], prefix_mask, suffix_mask, prefix_key_values…, suffix_key_values…) → (logits,
    present…) with only the new steps in `present` (presentOutput "new"). Cache-slot-position
    models take no position_ids: positions follow from the masks."""

    def __init__(self, model: SpeechLLM):
        super().__init__()
        self.stack = model.model
        self.model = model
        self.absolute = model.cfg.decoder.positions == "absolute"

    def run(self, inputs_embeds, position_ids, prefix_mask, suffix_mask, caches: Tuple[torch.Tensor, ...]):
        layers = self.model.cfg.decoder.num_layers
        prefix = _split_past(caches[: 2 * layers])
        suffix = _split_past(caches[2 * layers :])
        dtype = self.stack.norm.weight.dtype
        hidden, presents = self.stack.run_slots(inputs_embeds.to(dtype), prefix_mask, suffix_mask, prefix, suffix, position_ids)
        logits = torch.matmul(hidden, self.model.output_weight().t()).float()
        return (logits,) + _flatten(presents)

    def forward(self, inputs_embeds, *rest):
        if self.absolute:
            return self.run(inputs_embeds, rest[0], rest[1], rest[2], rest[3:])
        return self.run(inputs_embeds, None, rest[0], rest[1], rest[2:])
