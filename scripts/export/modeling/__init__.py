"""Plain-PyTorch definitions of InfiniSST's speech LLM, with the published checkpoints' names."""

from .config import DecoderConfig, EncoderConfig, SpeechLLMConfig
from .speech_llm import DecoderStep, EmbedStep, EncoderStep, SlotDecoderStep, SpeechLLM

__all__ = ["DecoderConfig", "EncoderConfig", "SpeechLLMConfig", "SpeechLLM", "EncoderStep", "EmbedStep", "DecoderStep", "SlotDecoderStep"]
