"""Prompt templates, special tokens and the token table of a model package, built from the base
LLM's tokenizer files exactly as InfiniSST's agent builds its chat prompts (spec §6.3):

* first chunk: system message "Translate the following speech from <src> to <tgt> with latency
  <latency_m>." + user message of 12·m <sp_patch> + the opened assistant turn;
* later chunks: the user turn only; the previous chunk's end-of-turn token (fed first by the
  engine) closes the previous assistant turn;
* the system block is what the KV-cache trimming keeps (always_cache_system_prompt).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from hf_tokenizer import ByteLevelBPE, ChatTemplate

SPEECH_PATCH = "<sp_patch>"
SPEECH_START = "<sp_start>"
SPEECH_END = "<sp_end>"
LATENCY = "<latency_{}>"
HEAD_SYSTEM_PROMPT = "Translate the following speech from {source} to {target} with latency {latency}."
LANGUAGES = {"en": "English", "zh": "Chinese", "de": "German", "es": "Spanish", "it": "Italian"}
PAD_TOKEN = "<|finetune_right_pad_id|>"
_SPEECH_MARK = "@@INFINISST_SPEECH@@"
_ASSISTANT_MARK = "@@INFINISST_ASSISTANT@@"


def parse_language_pair(text: str) -> tuple:
    """'English -> German' or 'en-de' → ('English', 'German')."""
    if "->" in text:
        source, target = (s.strip() for s in text.split("->", 1))
    else:
        codes = text.lower().split("-")
        if len(codes) != 2 or any(c not in LANGUAGES for c in codes):
            raise ValueError(f"language pair {text!r}: use 'English -> German' or en-de / en-es / en-zh / en-it")
        source, target = LANGUAGES[codes[0]], LANGUAGES[codes[1]]
    return source, target


@dataclass
class PackageText:
    tokens: List[str]
    special: Dict[str, object]
    prompt: Dict[str, object]
    keep_prefix_tokens: int


class PromptBuilder:
    def __init__(self, llm_dir: Path, vocab_size: int, latency_tokens: int, date_string: Optional[str] = None):
        self.bpe = ByteLevelBPE(json.loads((llm_dir / "tokenizer.json").read_text()))
        self.template = ChatTemplate(llm_dir, date_string)
        base = self.bpe.size()
        # InfiniSST's preprocess() appends its tokens after the tokenizer's own, in this order.
        names = [SPEECH_PATCH, SPEECH_START, SPEECH_END] + [LATENCY.format(i) for i in range(1, latency_tokens + 1)]
        pad = PAD_TOKEN if PAD_TOKEN in self.bpe.added or PAD_TOKEN in self.bpe.vocab else None
        if pad is None:
            names.append(PAD_TOKEN)
        self.extra = {name: base + i for i, name in enumerate(names)}
        self.pad_id = self.bpe.added.get(PAD_TOKEN, self.bpe.vocab.get(PAD_TOKEN, self.extra.get(PAD_TOKEN)))
        self.latency_tokens = latency_tokens
        needed = base + len(names)
        if vocab_size < needed:
            raise ValueError(
                f"the checkpoint's embedding has {vocab_size} rows but tokenizer + InfiniSST tokens need {needed}: "
                f"check --latency-tokens (now {latency_tokens}) and that the base LLM folder matches the checkpoint"
            )
        self.vocab_size = vocab_size
        eos = self.template.tokens.get("eos_token")
        if eos is None or self.encode(eos) == [] or len(self.encode(eos)) != 1:
            raise ValueError("tokenizer_config.json must name an eos_token that is a single token")
        self.eos_text = eos
        self.eos_id = self.encode(eos)[0]

    def encode(self, text: str) -> List[int]:
        return self.bpe.encode(text, self.extra)

    def token_table(self) -> List[str]:
        inverse = {v: k for k, v in self.extra.items()}
        table = []
        for i in range(self.vocab_size):
            piece = self.bpe.piece(i)
            table.append(piece if piece is not None else inverse.get(i, f"<|unused_{i}|>"))
        return table

    def _system(self, source: str, target: str, multiplier: int, system_prompt: str) -> str:
        latency = LATENCY.format(multiplier) if self.latency_tokens else ""
        return system_prompt.format(source=source, target=target, latency=latency)

    def first_prompt(self, source: str, target: str, multiplier: int, system_prompt: str):
        system = {"role": "system", "content": self._system(source, target, multiplier, system_prompt)}
        system_only = self.template.render([system])
        full = self.template.render([system, {"role": "user", "content": _SPEECH_MARK}, {"role": "assistant", "content": _ASSISTANT_MARK}])
        if not full.startswith(system_only) or _SPEECH_MARK not in full or _ASSISTANT_MARK not in full:
            raise ValueError("the chat template does not render system, user and assistant turns in order")
        before, rest = full[len(system_only) :].split(_SPEECH_MARK, 1)
        between = rest.split(_ASSISTANT_MARK, 1)[0]
        return system_only, before, between

    def build(self, source: str, target: str, default_multiplier: int, max_multiplier: int, system_prompt: str) -> PackageText:
        by_multiplier = {}
        keep = None
        for m in range(1, max_multiplier + 1):
            system_only, before, between = self.first_prompt(source, target, m, system_prompt)
            system_ids = self.encode(system_only)
            if keep is not None and keep != len(system_ids):
                raise ValueError("system prompts of different multipliers have different lengths")
            keep = len(system_ids)
            by_multiplier[str(m)] = {"prefix": system_ids + self.encode(before), "suffix": self.encode(between)}
        if self.eos_text not in system_only:
            raise ValueError(f"the rendered system turn does not end with the eos token {self.eos_text!r}")
        # Text the template puts between an end-of-turn token and the next turn ("" for Llama-3,
        # "\n" for Qwen2): the engine feeds the previous chunk's end-of-turn token first.
        separator = system_only.rsplit(self.eos_text, 1)[1]
        _, before, between = self.first_prompt(source, target, default_multiplier, system_prompt)
        prompt = {
            "first": by_multiplier[str(default_multiplier)],
            "firstByMultiplier": by_multiplier,
            "next": {"prefix": self.encode(separator + before), "suffix": self.encode(between)},
        }
        skip = sorted(set(self.bpe.special) | set(self.extra.values()) | {i for i in range(self.vocab_size) if self.bpe.piece(i) is None})
        special = {
            "pad": self.pad_id,
            "speechPlaceholder": self.extra[SPEECH_PATCH],
            "endOfChunk": [self.eos_id],
            "skipInText": skip,
        }
        return PackageText(tokens=self.token_table(), special=special, prompt=prompt, keep_prefix_tokens=keep or 0)


def check_with_transformers(llm_dir: Path, builder: PromptBuilder, prompt_text: str, expected: Sequence[int]) -> Optional[str]:
    """Encodes the same text with transformers (if installed); returns a mismatch description."""
    try:
        from transformers import AutoTokenizer  # type: ignore
    except ImportError:
        return None
    tok = AutoTokenizer.from_pretrained(str(llm_dir))
    tok.add_tokens(list(builder.extra.keys()), special_tokens=True)
    got = tok(prompt_text, add_special_tokens=False)["input_ids"]
    if list(got) != list(expected):
        return f"transformers encodes the prompt as {got[:40]}…, this exporter as {list(expected)[:40]}…"
    return None
