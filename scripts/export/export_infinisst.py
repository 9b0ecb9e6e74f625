#!/usr/bin/env python3
"""Exports an InfiniSST checkpoint to a model package the server loads unchanged.

    /usr/bin/python3 scripts/export/export_infinisst.py \\
        --checkpoint en-de/pytorch_model.bin [--lora en-de/lora.bin] \\
        --llm Llama-3.1-8B-Instruct --w2v2 wav2_vec_vox_960h_pl.pt \\
        --language-pair en-de --out models/infinisst-en-de --dtype fp16

See docs/real-models.md for hardware, options and troubleshooting.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))

from modeling import SpeechLLM, SpeechLLMConfig  # noqa: E402
from modeling.checkpoint import drop_pretraining_heads, infer_encoder_config, load_state_dict, read_w2v2_settings, strict_load  # noqa: E402
from modeling.config import decoder_config_from_hf, parse_layer_spec  # noqa: E402
from modeling.lora import merge_lora  # noqa: E402
from onnx_export import export_all  # noqa: E402
from prompts import HEAD_SYSTEM_PROMPT, PromptBuilder, check_with_transformers, parse_language_pair  # noqa: E402

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
QWEN_SYSTEM_PROMPT = "Translate the following speeches from {source} to {target} as a simultaneous interpreter."
SAMPLE_RATE = 16000
SEGMENT_MS = 960


def build_model(args: argparse.Namespace) -> SpeechLLM:
    """Reads the checkpoint, works out the architecture, loads it strictly, merges LoRA."""
    state = load_state_dict(args.checkpoint)
    dropped = drop_pretraining_heads(state)
    if dropped:
        print(f"ignoring {len(dropped)} wav2vec 2.0 pre-training weights ({dropped[0]}, …)", file=sys.stderr)
    vocab = state["model.embed_tokens.weight"].shape[0]
    decoder = decoder_config_from_hf(args.llm / "config.json", vocab, args.decoder_positions)
    w2v2 = read_w2v2_settings(args.w2v2) if args.w2v2 else {}
    overrides = {"max_cache_frames": args.max_cache_frames, "sliding_window": args.encoder_window == "sliding", "rope_pairing": args.encoder_rope}
    if args.length_shrink_cfg:
        overrides["shrink_layers"] = parse_layer_spec(args.length_shrink_cfg)
    if args.encoder_layer_norm_first is not None:
        overrides["layer_norm_first"] = args.encoder_layer_norm_first == "true"
    encoder = infer_encoder_config(state, w2v2, overrides)
    if decoder.tie_word_embeddings and "lm_head.weight" in state:
        del state["lm_head.weight"]  # saved alongside tied embeddings by some transformers versions
    model = SpeechLLM(SpeechLLMConfig(encoder, decoder))
    strict_load(model, state)
    del state
    gc.collect()
    if args.lora:
        merged = merge_lora(model, load_state_dict(args.lora), args.lora_alpha, args.lora_adapter)
        print(f"merged LoRA into {merged} linear layers", file=sys.stderr)
    return model.eval()


def cast_model(model: SpeechLLM, dtype: torch.dtype) -> None:
    """Weights to `dtype`; rotary frequencies stay float32 (angles are computed in float32)."""
    keep = {name: p.detach().clone() for name, p in model.named_parameters() if name.endswith("rotary_emb.freqs")}
    inv_freq = model.model.inv_freq.clone()
    model.to(dtype)
    for name, value in keep.items():
        module = model.get_submodule(name.rsplit(".", 1)[0])
        module.freqs = torch.nn.Parameter(value, requires_grad=False)
    model.model.inv_freq = inv_freq


def write_manifest(args, model: SpeechLLM, text, source: str, target: str) -> dict:
    enc, dec = model.cfg.encoder, model.cfg.decoder
    frames = SEGMENT_MS * SAMPLE_RATE // 1000 // enc.samples_per_frame
    pair = f"{source} -> {target}"
    manifest = {
        "formatVersion": 1,
        "name": args.name or f"infinisst-{source[:2].lower()}-{target[:2].lower()}",
        "description": f"InfiniSST {pair} exported from {args.checkpoint.name} ({args.dtype}, {dec.family} decoder)",
        "audio": {"sampleRateHz": SAMPLE_RATE, "baseSegmentMs": SEGMENT_MS, "maxLatencyMultiplier": args.max_latency_multiplier},
        "encoder": {
            "file": "encoder.onnx", "samplesPerFrame": enc.samples_per_frame, "framesPerSegment": frames,
            "embeddingsPerSegment": frames // enc.shrink_factor, "numLayers": enc.num_layers, "numHeads": enc.num_heads,
            "headDim": enc.head_dim, "maxCacheFrames": enc.max_cache_frames, "contextSamples": enc.context_samples,
        },
        "decoder": {
            "embedFile": "embed.onnx", "file": "decoder.onnx", "numLayers": dec.num_layers, "numKeyValueHeads": dec.num_kv_heads,
            "headDim": dec.head_dim, "hiddenSize": dec.hidden_size, "vocabSize": dec.vocab_size,
            "maxCacheTokens": args.max_cache_tokens, "keepPrefixTokens": text.keep_prefix_tokens,
            **({"cacheLayout": "slots", "presentOutput": "new"} if args.cache_layout == "slots" else {}),
        },
        "tokenizer": {"file": "tokens.json", "decoding": "byte-level"},
        "specialTokens": text.special,
        "languagePairs": {pair: {"targetJoiner": "" if target in ("Chinese", "Japanese") else " ", "prompt": text.prompt}},
        "generation": {"maxNewTokensPerMultiplier": args.max_new_tokens_per_multiplier, "beamSize": args.beam, "lengthPenalty": args.length_penalty},
        "executionProviders": args.execution_providers.split(","),
    }
    if frames % enc.shrink_factor:
        raise ValueError(f"{frames} frames per segment are not a multiple of the length-shrink factor {enc.shrink_factor}")
    (args.out / "manifest.json").write_text(json.dumps(manifest, indent=2, ensure_ascii=False))
    (args.out / "tokens.json").write_text(json.dumps({"tokens": text.tokens}, ensure_ascii=False))
    return manifest


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", type=Path, required=True, help="InfiniSST pytorch_model.bin (full speech-LLM state dict)")
    p.add_argument("--lora", type=Path, help="lora.bin to merge (en-zh / en-it checkpoints)")
    p.add_argument("--lora-alpha", type=float, default=16.0)
    p.add_argument("--lora-adapter", help="adapter name when the LoRA file holds several")
    p.add_argument("--llm", type=Path, required=True, help="base LLM folder: config.json, tokenizer.json, tokenizer_config.json")
    p.add_argument("--w2v2", type=Path, help="wav2vec 2.0 fairseq checkpoint (or JSON of its model config) for settings shapes do not show")
    p.add_argument("--language-pair", required=True, help="'English -> German' or en-de")
    p.add_argument("--out", type=Path, required=True, help="package folder, e.g. models/infinisst-en-de")
    p.add_argument("--name", help="package name (default infinisst-<src>-<tgt>)")
    p.add_argument("--dtype", choices=sorted(DTYPES), default="fp32", help="weight/compute dtype; graph I/O stays float32")
    p.add_argument("--external-data", choices=["auto", "always", "never"], default="auto", help="weights in <graph>.onnx.data (auto: above 512 MB)")
    p.add_argument("--system-prompt", help="default: InfiniSST HEAD's latency prompt (Llama) / 43f92c0's prompt (Qwen2); fields {source} {target} {latency}")
    p.add_argument("--latency-tokens", type=int, help="number of <latency_m> tokens the checkpoint's vocabulary has (default 4 for Llama, 0 for Qwen2)")
    p.add_argument("--date-string", help="date the Llama-3.1 chat template puts in the system block (default: the template's own)")
    p.add_argument("--max-latency-multiplier", type=int, default=4)
    p.add_argument("--default-multiplier", type=int, default=2, help="multiplier whose latency token goes into `prompt.first`")
    p.add_argument("--max-cache-frames", type=int, default=576)
    p.add_argument("--max-cache-tokens", type=int, default=1000)
    p.add_argument("--beam", type=int, default=4)
    p.add_argument("--max-new-tokens-per-multiplier", type=int, default=10)
    p.add_argument("--length-penalty", type=float, default=1.0)
    p.add_argument("--encoder-window", choices=["sliding", "none"], default="sliding", help="sliding: the agent's per-frame window; none: flashinfer serving")
    p.add_argument("--encoder-rope", choices=["interleaved", "half"], default="interleaved", help="interleaved: rotary_embedding_torch (training); half: flashinfer ROPE_LLAMA")
    p.add_argument("--encoder-layer-norm-first", choices=["true", "false"])
    p.add_argument("--length-shrink-cfg", help="e.g. \"[(1024,2,2)] * 2\" (default: kernel = stride, from the weights)")
    p.add_argument("--decoder-positions", choices=["cache", "absolute"], default="cache", help="cache: RoPE positions are cache slots (serving engine); absolute: HF-style")
    p.add_argument("--cache-layout", choices=["slots", "padded"], default="slots", help="slots: the decoder reads the engine's cache arenas in place and returns only new keys/values; padded: past_key_values per row, whole cache out (Hugging Face style)")
    p.add_argument("--execution-providers", default="cuda,cpu")
    p.add_argument("--export-device", choices=["auto", "cpu", "cuda"], default="auto", help="where the model is traced (auto: CUDA for fp16 when present)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    args = parse_args(argv)
    started = time.time()
    source, target = parse_language_pair(args.language_pair)
    model = build_model(args)
    family = model.cfg.decoder.family
    latency_tokens = args.latency_tokens if args.latency_tokens is not None else (4 if family == "llama" else 0)
    system_prompt = args.system_prompt or (HEAD_SYSTEM_PROMPT if latency_tokens else QWEN_SYSTEM_PROMPT)
    builder = PromptBuilder(args.llm, model.cfg.decoder.vocab_size, latency_tokens, args.date_string)
    text = builder.build(source, target, args.default_multiplier, args.max_latency_multiplier, system_prompt)
    system_only, before, between = builder.first_prompt(source, target, args.default_multiplier, system_prompt)
    mismatch = check_with_transformers(args.llm, builder, system_only + before, text.prompt["first"]["prefix"])
    if mismatch:
        raise SystemExit(f"tokenizer check failed: {mismatch}")
    if args.dtype != "fp32":
        cast_model(model, DTYPES[args.dtype])
    device = args.export_device
    if device == "auto":
        # Tracing runs the model once; PyTorch < 2.1 has no float16 matmul on CPU.
        device = "cuda" if args.dtype == "fp16" and torch.cuda.is_available() else "cpu"
    model.to(device)
    args.out.mkdir(parents=True, exist_ok=True)
    try:
        files = export_all(model, args.out, args.external_data, args.cache_layout)
    except RuntimeError as error:
        if args.dtype == "fp16" and device == "cpu" and "Half" in str(error):
            raise SystemExit("fp16 export traces the model in float16, which this PyTorch cannot do on the CPU: run it on a machine with a CUDA GPU (--export-device cuda) or PyTorch >= 2.1, or export --dtype fp32 / bf16") from error
        raise
    write_manifest(args, model, text, source, target)
    (args.out / "infinisst-export.json").write_text(json.dumps({"config": model.cfg.to_json(), "dtype": args.dtype, "files": files}, indent=2))
    weight_bytes = sum((args.out / f).stat().st_size for names in files.values() for f in names)
    print(json.dumps({"package": str(args.out), "weightBytes": weight_bytes, "seconds": round(time.time() - started, 1)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
