"""Builds a tiny InfiniSST-shaped model in the published layout, for tests on machines without the
real weights: same module names as the published checkpoints, few layers, small dims, random
weights, a tiny byte-level BPE tokenizer with a Llama-3.1-style chat template.

    /usr/bin/python3 scripts/export/tiny_checkpoint.py OUT_DIR [--seed 7] [--with-lora]

writes OUT_DIR/checkpoint/pytorch_model.bin (+ lora.bin), OUT_DIR/llm/ (config.json,
tokenizer.json, tokenizer_config.json) and OUT_DIR/w2v2.pt (a fairseq-style checkpoint whose
`args` carry the wav2vec 2.0 settings).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from argparse import Namespace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from hf_tokenizer import byte_to_unicode  # noqa: E402
from modeling import DecoderConfig, EncoderConfig, SpeechLLM, SpeechLLMConfig  # noqa: E402

LLAMA3_PATTERN = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>", "<|finetune_right_pad_id|>"]
WORDS = ["Translate", " the", " following", " speech", " from", " English", " to", " German", " Chinese", " Spanish", " with", " latency", "system", "user", "assistant", "\n\n", "Cutting", " Knowledge", " Date", " December", " Today", " Jul"]
# A Llama-3.1-shaped chat template (system block with knowledge/today dates, header tokens).
CHAT_TEMPLATE = (
    "{{- bos_token }}\n"
    "{%- if not date_string is defined %}{%- set date_string = \"26 Jul 2024\" %}{%- endif %}\n"
    "{%- if messages[0]['role'] == 'system' %}{%- set system_message = messages[0]['content']|trim %}{%- set messages = messages[1:] %}"
    "{%- else %}{%- set system_message = \"\" %}{%- endif %}\n"
    "{{- \"<|start_header_id|>system<|end_header_id|>\\n\\n\" }}\n"
    "{{- \"Cutting Knowledge Date: December 2023\\n\" }}\n"
    "{{- \"Today Date: \" + date_string + \"\\n\\n\" }}\n"
    "{{- system_message }}\n"
    "{{- \"<|eot_id|>\" }}\n"
    "{%- for message in messages %}\n"
    "{{- '<|start_header_id|>' + message['role'] + '<|end_header_id|>\\n\\n' + message['content'] | trim + '<|eot_id|>' }}\n"
    "{%- endfor %}\n"
    "{%- if add_generation_prompt %}{{- '<|start_header_id|>assistant<|end_header_id|>\\n\\n' }}{%- endif %}\n"
)


def tiny_tokenizer() -> dict:
    alphabet = byte_to_unicode()
    vocab = {alphabet[b]: i for i, b in enumerate(sorted(alphabet))}
    merges = []
    for word in WORDS:
        mapped = "".join(alphabet[b] for b in word.encode("utf-8"))
        current = mapped[0]
        for ch in mapped[1:]:
            pair = (current, ch)
            if pair not in merges:
                merges.append(pair)
            current += ch
            vocab.setdefault(current, len(vocab))
    # Word-like filler pieces, so that generated text has words, not only bytes.
    for n in range(40):
        vocab.setdefault(alphabet[32] + f"w{n}", len(vocab))
    added = [{"id": len(vocab) + i, "content": s, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True} for i, s in enumerate(SPECIALS)]
    return {
        "version": "1.0",
        "added_tokens": added,
        "normalizer": None,
        "pre_tokenizer": {"type": "Sequence", "pretokenizers": [
            {"type": "Split", "pattern": {"Regex": LLAMA3_PATTERN}, "behavior": "Isolated", "invert": False},
            {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False},
        ]},
        "decoder": {"type": "ByteLevel"},
        "model": {"type": "BPE", "ignore_merges": True, "vocab": vocab, "merges": [f"{a} {b}" for a, b in merges]},
    }


def tiny_config(vocab_size: int) -> SpeechLLMConfig:
    encoder = EncoderConfig(
        conv_layers=[(8, 10, 5)] + [(8, 3, 2)] * 4 + [(8, 2, 2)] * 2,
        embed_dim=16, ffn_dim=32, num_layers=2, num_heads=2, layer_norm_first=True,
        shrink_layers=[(16, 2, 2)] * 2, llm_dim=32, max_cache_frames=96,
    )
    decoder = DecoderConfig(
        family="llama", hidden_size=32, intermediate_size=64, num_layers=2, num_heads=4, num_kv_heads=2, head_dim=8,
        vocab_size=vocab_size, rms_norm_eps=1e-5, rope_theta=500000.0,
        rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64},
    )
    return SpeechLLMConfig(encoder, decoder)


def randomise(model: SpeechLLM, seed: int, eos_id: int) -> None:
    """Weights large enough that logits are well separated (no near-ties for beam search)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in sorted(model.named_parameters()):
            if name.endswith("rotary_emb.freqs"):
                continue  # the RoPE frequencies of rotary_embedding_torch, kept as initialised
            if param.dim() == 1:
                base = 1.0 if "norm" in name and name.endswith("weight") else 0.0
                param.copy_(base + 0.1 * torch.randn(param.shape, generator=gen))
            else:
                fan_in = math.prod(param.shape[1:])
                param.copy_(torch.randn(param.shape, generator=gen) / math.sqrt(fan_in))
        model.lm_head.weight.mul_(6.0)
        # Let the end-of-turn token win now and then, so chunks of both kinds (ended, cut) occur.
        model.lm_head.weight[eos_id].mul_(2.0)


def write_fairseq_w2v2(path: Path, cfg: EncoderConfig) -> None:
    spec = "[" + ", ".join(str(tuple(c)) for c in cfg.conv_layers) + "]"
    w2v_args = Namespace(conv_feature_layers=spec, extractor_mode="layer_norm", conv_bias=True, encoder_layers=cfg.num_layers,
                         encoder_embed_dim=cfg.embed_dim, encoder_ffn_embed_dim=cfg.ffn_dim, encoder_attention_heads=cfg.num_heads,
                         layer_norm_first=cfg.layer_norm_first)
    torch.save({"args": Namespace(w2v_args=w2v_args, w2v_path="tiny"), "model": {}}, str(path))


def build(out: Path, seed: int, with_lora: bool) -> dict:
    out.mkdir(parents=True, exist_ok=True)
    spec = tiny_tokenizer()
    base = len(spec["model"]["vocab"]) + len(SPECIALS)
    vocab_size = base + 7 + 5  # + <sp_patch> <sp_start> <sp_end> <latency_1..4>, + unused rows
    cfg = tiny_config(vocab_size)
    model = SpeechLLM(cfg)
    eos_id = spec["added_tokens"][4]["id"]
    randomise(model, seed, eos_id)
    (out / "checkpoint").mkdir(exist_ok=True)
    torch.save(model.state_dict(), str(out / "checkpoint" / "pytorch_model.bin"))
    if with_lora:
        gen = torch.Generator().manual_seed(seed + 1)
        lora = {}
        for name in ("model.layers.0.self_attn.q_proj", "model.layers.1.mlp.down_proj", "model.speech_encoder.proj"):
            module = dict(model.named_modules())[name]
            lora[f"base_model.model.{name}.lora_A.lora_adapter.weight"] = torch.randn(4, module.in_features, generator=gen) * 0.1
            lora[f"base_model.model.{name}.lora_B.lora_adapter.weight"] = torch.randn(module.out_features, 4, generator=gen) * 0.1
        torch.save(lora, str(out / "checkpoint" / "lora.bin"))
    llm = out / "llm"
    llm.mkdir(exist_ok=True)
    (llm / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False))
    (llm / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<|begin_of_text|>", "eos_token": "<|eot_id|>", "chat_template": CHAT_TEMPLATE}))
    d = cfg.decoder
    (llm / "config.json").write_text(json.dumps({
        "model_type": "llama", "hidden_size": d.hidden_size, "intermediate_size": d.intermediate_size, "num_hidden_layers": d.num_layers,
        "num_attention_heads": d.num_heads, "num_key_value_heads": d.num_kv_heads, "head_dim": d.head_dim, "rms_norm_eps": d.rms_norm_eps,
        "rope_theta": d.rope_theta, "rope_scaling": d.rope_scaling, "tie_word_embeddings": False, "hidden_act": "silu",
        "vocab_size": base, "attention_bias": False, "mlp_bias": False,
    }, indent=2))
    write_fairseq_w2v2(out / "w2v2.pt", cfg.encoder)
    return {"vocab_size": vocab_size, "eos_id": eos_id}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", type=Path)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--with-lora", action="store_true")
    args = parser.parse_args()
    info = build(args.out, args.seed, args.with_lora)
    print(json.dumps(info))


if __name__ == "__main__":
    main()
