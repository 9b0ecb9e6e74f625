"""Just enough of a Hugging Face byte-level BPE tokenizer (Llama-3, Qwen2) to turn prompts into
ids at export time, plus the chat-template rendering transformers does.

The server never encodes text: prompts are token ids in the manifest. Doing the encoding here from
tokenizer.json (instead of requiring `transformers`) keeps the export path the same on every
machine; when transformers is installed the exporter cross-checks the result against it.
"""

from __future__ import annotations

import json
import unicodedata
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import regex

GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""


def byte_to_unicode() -> Dict[int, str]:
    """GPT-2's reversible byte → printable character map (same table as src/inference/token-decoder.ts)."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    table, extra = {}, 0
    for b in range(256):
        if b in printable:
            table[b] = chr(b)
        else:
            table[b] = chr(256 + extra)
            extra += 1
    return table


class ByteLevelBPE:
    """Encoder for tokenizer.json files whose model is BPE with a byte-level pre-tokenizer."""

    def __init__(self, spec: Dict[str, Any]):
        model = spec.get("model") or {}
        if model.get("type") != "BPE":
            raise ValueError(f"tokenizer model {model.get('type')!r} is not BPE")
        self.vocab: Dict[str, int] = dict(model["vocab"])
        merges = [tuple(m.split(" ", 1)) if isinstance(m, str) else tuple(m) for m in model.get("merges", [])]
        self.ranks = {pair: i for i, pair in enumerate(merges)}
        self.ignore_merges = bool(model.get("ignore_merges", False))
        self.added = {t["content"]: int(t["id"]) for t in spec.get("added_tokens", [])}
        self.special = {int(t["id"]) for t in spec.get("added_tokens", []) if t.get("special")}
        self.normalizer = self._normalizer(spec.get("normalizer"))
        self.split_patterns, self.add_prefix_space = self._pre_tokenizer(spec.get("pre_tokenizer"))
        self.bytes_map = byte_to_unicode()

    @staticmethod
    def _normalizer(spec: Optional[Dict[str, Any]]):
        if spec is None:
            return lambda s: s
        kinds = [n.get("type") for n in spec.get("normalizers", [])] if spec.get("type") == "Sequence" else [spec.get("type")]
        for kind in kinds:
            if kind not in ("NFC", "NFKC"):
                raise ValueError(f"normalizer {kind!r} is not supported; install transformers and use --check-with-transformers")
        form = kinds[-1] if kinds else None
        return (lambda s: unicodedata.normalize(form, s)) if form else (lambda s: s)

    @staticmethod
    def _pre_tokenizer(spec: Optional[Dict[str, Any]]) -> Tuple[List[str], bool]:
        steps = spec.get("pretokenizers", []) if spec and spec.get("type") == "Sequence" else [spec] if spec else []
        patterns, add_prefix = [], False
        for step in steps:
            kind = step.get("type")
            if kind == "Split":
                pattern = step.get("pattern", {})
                if "Regex" not in pattern or step.get("behavior") != "Isolated" or step.get("invert"):
                    raise ValueError(f"Split pre-tokenizer {step} is not supported")
                patterns.append(pattern["Regex"])
            elif kind == "ByteLevel":
                add_prefix = bool(step.get("add_prefix_space", False))
                if step.get("use_regex", True):
                    patterns.append(GPT2_PATTERN)
            else:
                raise ValueError(f"pre-tokenizer {kind!r} is not supported (byte-level BPE only)")
        return patterns, add_prefix

    def _split(self, text: str) -> List[str]:
        pieces = [text]
        for pattern in self.split_patterns:
            out: List[str] = []
            for piece in pieces:
                last = 0
                for m in regex.finditer(pattern, piece):
                    if m.start() > last:
                        out.append(piece[last : m.start()])
                    if m.end() > m.start():
                        out.append(m.group(0))
                    last = m.end()
                if last < len(piece):
                    out.append(piece[last:])
            pieces = out
        return pieces

    def _bpe(self, word: str) -> List[str]:
        if self.ignore_merges and word in self.vocab:
            return [word]
        symbols = list(word)
        while len(symbols) > 1:
            best = min(range(len(symbols) - 1), key=lambda i: self.ranks.get((symbols[i], symbols[i + 1]), float("inf")))
            pair = (symbols[best], symbols[best + 1])
            if pair not in self.ranks:
                break
            merged: List[str] = []
            i = 0
            while i < len(symbols):
                if i < len(symbols) - 1 and (symbols[i], symbols[i + 1]) == pair:
                    merged.append(symbols[i] + symbols[i + 1])
                    i += 2
                else:
                    merged.append(symbols[i])
                    i += 1
            symbols = merged
        return symbols

    def encode_plain(self, text: str) -> List[int]:
        ids: List[int] = []
        text = self.normalizer(text)
        if self.add_prefix_space and text and not text.startswith(" "):
            text = " " + text
        for piece in self._split(text):
            mapped = "".join(self.bytes_map[b] for b in piece.encode("utf-8"))
            for symbol in self._bpe(mapped):
                if symbol not in self.vocab:
                    raise ValueError(f"piece {symbol!r} of {piece!r} is not in the vocabulary")
                ids.append(self.vocab[symbol])
        return ids

    def encode(self, text: str, extra_added: Dict[str, int]) -> List[int]:
        """Encodes text, matching added tokens (the tokenizer's and `extra_added`) literally first."""
        added = {**self.added, **extra_added}
        if not added:
            return self.encode_plain(text)
        pattern = "|".join(regex.escape(t) for t in sorted(added, key=len, reverse=True))
        ids: List[int] = []
        last = 0
        for m in regex.finditer(pattern, text):
            if m.start() > last:
                ids.extend(self.encode_plain(text[last : m.start()]))
            ids.append(added[m.group(0)])
            last = m.end()
        if last < len(text):
            ids.extend(self.encode_plain(text[last:]))
        return ids

    def size(self) -> int:
        return max([*self.vocab.values(), *self.added.values()]) + 1

    def piece(self, token_id: int) -> Optional[str]:
        if not hasattr(self, "_inverse"):
            self._inverse = {**{v: k for k, v in self.vocab.items()}, **{v: k for k, v in self.added.items()}}
        return self._inverse.get(token_id)


def _token_text(value: Any) -> Optional[str]:
    if isinstance(value, dict):
        return value.get("content")
    return value


class ChatTemplate:
    """Renders tokenizer_config.json's chat template the way transformers' apply_chat_template does."""

    def __init__(self, folder: Path, date_string: Optional[str]):
        import jinja2
        from jinja2.ext import loopcontrols
        from jinja2.sandbox import ImmutableSandboxedEnvironment

        config = json.loads((folder / "tokenizer_config.json").read_text())
        template = config.get("chat_template")
        if isinstance(template, list):
            template = next((t["template"] for t in template if t.get("name") == "default"), None)
        if template is None and (folder / "chat_template.jinja").exists():
            template = (folder / "chat_template.jinja").read_text()
        if not template:
            raise ValueError(f"{folder}: no chat template in tokenizer_config.json or chat_template.jinja")

        def raise_exception(message: str) -> None:
            raise jinja2.exceptions.TemplateError(message)

        def tojson(x: Any, ensure_ascii: bool = False, indent: Any = None, separators: Any = None, sort_keys: bool = False) -> str:
            return json.dumps(x, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)

        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
        env.filters["tojson"] = tojson
        env.globals["raise_exception"] = raise_exception
        env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
        self.template = env.from_string(template)
        self.tokens = {k: _token_text(config.get(k)) for k in ("bos_token", "eos_token", "unk_token", "pad_token")}
        self.date_string = date_string

    def render(self, messages: List[Dict[str, str]]) -> str:
        extra = {"date_string": self.date_string} if self.date_string else {}
        return self.template.render(messages=messages, add_generation_prompt=False, tools=None, documents=None, **{k: v for k, v in self.tokens.items() if v is not None}, **extra)
