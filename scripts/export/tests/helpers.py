"""Shared fixtures for the exporter's unit tests (run: /usr/bin/python3 -m unittest discover -s scripts/export/tests)."""

from __future__ import annotations

import sys
from pathlib import Path

import torch

EXPORT_DIR = Path(__file__).resolve().parent.parent
if str(EXPORT_DIR) not in sys.path:
    sys.path.insert(0, str(EXPORT_DIR))

from modeling import DecoderConfig, EncoderConfig, SpeechLLM, SpeechLLMConfig  # noqa: E402
from tiny_checkpoint import randomise, tiny_config  # noqa: E402


def tiny_model(seed: int = 3, **decoder_overrides) -> SpeechLLM:
    cfg = tiny_config(vocab_size=300)
    for name, value in decoder_overrides.items():
        setattr(cfg.decoder, name, value)
    model = SpeechLLM(cfg)
    randomise(model, seed, eos_id=5)
    return model.eval()


def audio(samples: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    t = torch.arange(samples) / 16000
    return 0.3 * torch.sin(2 * torch.pi * 220 * t) + 0.1 * torch.randn(samples, generator=gen)


__all__ = ["DecoderConfig", "EncoderConfig", "SpeechLLM", "SpeechLLMConfig", "tiny_model", "audio", "EXPORT_DIR"]
