"""Merging a PEFT LoRA state dict (InfiniSST's lora.bin: rank 32, alpha 16, all linear layers)
into the model's weights: W += (alpha / r) · B · A."""

from __future__ import annotations

import re
from typing import Dict, Mapping, Optional

import torch

_KEY = re.compile(r"^(?:base_model\.model\.)?(?P<module>.+)\.lora_(?P<ab>[AB])(?:\.(?P<adapter>[^.]+))?\.weight$")


class LoraError(ValueError):
    pass


def merge_lora(model: torch.nn.Module, lora_state: Mapping[str, torch.Tensor], alpha: float, adapter: Optional[str] = None) -> int:
    """Merges every LoRA pair into its Linear layer in place; returns the number merged.

    Unlike the original's `load_state_dict(strict=False)`, a key that matches no layer is an error:
    a silently skipped adapter is the most likely reason a merged model translates badly.
    """
    pairs: Dict[str, Dict[str, torch.Tensor]] = {}
    adapters = set()
    for key, value in lora_state.items():
        match = _KEY.match(key)
        if not match:
            raise LoraError(f"unrecognised LoRA key {key!r} (expected …<module>.lora_A|lora_B[.<adapter>].weight)")
        if match.group("adapter"):
            adapters.add(match.group("adapter"))
            if adapter is not None and match.group("adapter") != adapter:
                continue
        pairs.setdefault(match.group("module"), {})[match.group("ab")] = value
    if adapter is None and len(adapters) > 1:
        raise LoraError(f"the LoRA file holds several adapters ({', '.join(sorted(adapters))}); choose one with --lora-adapter")
    modules = dict(model.named_modules())
    merged = 0
    for name, ab in sorted(pairs.items()):
        target = modules.get(name) or modules.get(name.removeprefix("base_model.model."))
        if not isinstance(target, torch.nn.Linear):
            raise LoraError(f"LoRA weights for {name!r} match no Linear layer of the model")
        if set(ab) != {"A", "B"}:
            raise LoraError(f"LoRA weights for {name!r} lack lora_{'A' if 'A' not in ab else 'B'}")
        a, b = ab["A"].float(), ab["B"].float()
        rank = a.shape[0]
        if b.shape[1] != rank or a.shape[1] != target.in_features or b.shape[0] != target.out_features:
            raise LoraError(f"LoRA shapes for {name!r} (A {tuple(a.shape)}, B {tuple(b.shape)}) do not fit {tuple(target.weight.shape)}")
        with torch.no_grad():
            delta = (b @ a) * (alpha / rank)
            target.weight.copy_((target.weight.float() + delta).to(target.weight.dtype))
        merged += 1
    return merged
