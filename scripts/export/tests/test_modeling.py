"""The PyTorch definitions: checkpoint key names, streaming equivalence, cache semantics, LoRA."""

from __future__ import annotations

import math
import unittest

import torch
import torch.nn.functional as F

from helpers import EncoderConfig, SpeechLLM, SpeechLLMConfig, audio, tiny_model  # noqa: F401  (sets sys.path)
from modeling import DecoderStep, EmbedStep, EncoderStep, SlotDecoderStep
from modeling.checkpoint import CheckpointError, strict_load
from modeling.decoder import rope_inv_freq
from modeling.lora import LoraError, merge_lora
from tiny_checkpoint import tiny_config


def expected_keys(n_conv: int, n_enc: int, n_shrink: int, n_dec: int, qkv_bias: bool) -> set:
    """The published checkpoints' key names, written out from fairseq's / transformers' module
    trees independently of modeling/ (so a renamed module is caught)."""
    keys = set()
    w2v = "model.speech_encoder.speech_encoder."
    for i in range(n_conv):
        keys |= {f"{w2v}feature_extractor.conv_layers.{i}.0.weight", f"{w2v}feature_extractor.conv_layers.{i}.0.bias",
                 f"{w2v}feature_extractor.conv_layers.{i}.2.1.weight", f"{w2v}feature_extractor.conv_layers.{i}.2.1.bias"}
    keys |= {f"{w2v}post_extract_proj.weight", f"{w2v}post_extract_proj.bias", f"{w2v}mask_emb", f"{w2v}layer_norm.weight", f"{w2v}layer_norm.bias",
             f"{w2v}encoder.pos_conv.0.bias", f"{w2v}encoder.pos_conv.0.weight_g", f"{w2v}encoder.pos_conv.0.weight_v",
             f"{w2v}encoder.layer_norm.weight", f"{w2v}encoder.layer_norm.bias"}
    for i in range(n_enc):
        p = f"{w2v}encoder.layers.{i}."
        keys.add(p + "self_attn.rotary_emb.freqs")
        for m in ("self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj", "self_attn.out_proj", "self_attn_layer_norm", "fc1", "fc2", "final_layer_norm"):
            keys |= {p + m + ".weight", p + m + ".bias"}
    for i in range(n_shrink):
        p = f"model.speech_encoder.length_shrink.conv_layers.{i}."
        keys |= {p + "0.weight", p + "2.1.weight", p + "2.1.bias"}
    keys |= {"model.speech_encoder.proj.weight", "model.speech_encoder.proj.bias", "model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}
    for i in range(n_dec):
        p = f"model.layers.{i}."
        keys |= {p + f"self_attn.{m}.weight" for m in ("q_proj", "k_proj", "v_proj", "o_proj")}
        keys |= {p + f"mlp.{m}.weight" for m in ("gate_proj", "up_proj", "down_proj")}
        keys |= {p + "input_layernorm.weight", p + "post_attention_layernorm.weight"}
        if qkv_bias:
            keys |= {p + f"self_attn.{m}.bias" for m in ("q_proj", "k_proj", "v_proj")}
    return keys


class KeyNames(unittest.TestCase):
    def test_llama_model_has_exactly_the_published_keys(self):
        model = tiny_model()
        self.assertEqual(set(model.state_dict()), expected_keys(7, 2, 2, 2, qkv_bias=False))

    def test_qwen2_adds_qkv_biases(self):
        cfg = tiny_config(300)
        cfg.decoder.family, cfg.decoder.qkv_bias = "qwen2", True
        self.assertEqual(set(SpeechLLM(cfg).state_dict()), expected_keys(7, 2, 2, 2, qkv_bias=True))

    def test_strict_load_names_every_problem(self):
        model = tiny_model()
        state = dict(model.state_dict())
        state.pop("model.layers.1.mlp.up_proj.weight")
        state["model.layers.9.mlp.up_proj.weight"] = torch.zeros(1)
        state["model.norm.weight"] = torch.zeros(7)
        with self.assertRaises(CheckpointError) as caught:
            strict_load(tiny_model(), state)
        message = str(caught.exception)
        self.assertIn("missing: model.layers.1.mlp.up_proj.weight", message)
        self.assertIn("unexpected: model.layers.9.mlp.up_proj.weight", message)
        self.assertIn("shape of model.norm.weight", message)

    def test_parametrised_weight_norm_names_are_accepted(self):
        model = tiny_model()
        state = dict(model.state_dict())
        prefix = "model.speech_encoder.speech_encoder.encoder.pos_conv.0."
        state[prefix + "parametrizations.weight.original0"] = state.pop(prefix + "weight_g")
        state[prefix + "parametrizations.weight.original1"] = state.pop(prefix + "weight_v")
        strict_load(tiny_model(seed=9), state)


def full_sequence_encoder(model: SpeechLLM, wave: torch.Tensor, block: int) -> torch.Tensor:
    """InfiniSST's whole-utterance computation (the training path): conv front end over the audio
    with its 399-sample zero offset, block-causal attention with a max_cache_frames window,
    rotary_embedding_torch rotation of interleaved pairs at absolute positions. Written with
    complex numbers, independently of modeling/layers.py."""
    enc = model.model.speech_encoder
    cfg = enc.cfg
    w2v = enc.speech_encoder
    x = torch.cat((torch.zeros(cfg.context_samples), wave)).view(1, 1, -1)
    for blk in w2v.feature_extractor.conv_layers:
        x = blk[0](x)
        x = blk[2][1](x.transpose(1, 2)).transpose(1, 2)
        x = F.gelu(x)
    x = w2v.post_extract_proj(w2v.layer_norm(x.transpose(1, 2)))
    length = x.shape[1]
    i = torch.arange(length)
    mask = (i[None, :] < ((i[:, None] // block) + 1) * block) & (i[None, :] >= i[:, None] - cfg.max_cache_frames)
    for layer in w2v.encoder.layers:
        att = layer.self_attn
        h = layer.self_attn_layer_norm(x)

        def heads(t):
            return t.view(1, length, att.num_heads, att.head_dim).transpose(1, 2)

        q, k, v = heads(att.q_proj(h)), heads(att.k_proj(h)), heads(att.v_proj(h))
        angle = i[:, None].float() * att.rotary_emb.freqs[None, :]
        rot = torch.polar(torch.ones_like(angle), angle)

        def rotate(t):
            return torch.view_as_real(torch.view_as_complex(t.reshape(*t.shape[:-1], -1, 2).contiguous()) * rot).flatten(-2)

        scores = rotate(q) @ rotate(k).transpose(-1, -2) / math.sqrt(att.head_dim)
        out = torch.softmax(scores.masked_fill(~mask, -math.inf), -1) @ v
        x = x + att.out_proj(out.transpose(1, 2).reshape(1, length, -1))
        x = x + layer.fc2(F.gelu(layer.fc1(layer.final_layer_norm(x))))
    x = w2v.encoder.layer_norm(x).transpose(1, 2)
    for blk in enc.length_shrink.conv_layers:
        x = F.gelu(blk[2][1](blk[0](x).transpose(1, 2)).transpose(1, 2))
    return enc.proj(x.transpose(1, 2))[0]


class StreamingEncoder(unittest.TestCase):
    def test_chunk_by_chunk_with_context_and_trimmed_cache_equals_whole_utterance(self):
        model = tiny_model()
        cfg = model.cfg.encoder
        frames = 48
        wave = audio(frames * cfg.samples_per_frame * 5, seed=1)
        step = EncoderStep(model)
        past = [torch.zeros(1, cfg.num_heads, 0, cfg.head_dim) for _ in range(cfg.num_layers * 2)]
        context = torch.zeros(1, cfg.context_samples)
        pieces = []
        with torch.no_grad():
            for c in range(5):
                chunk = wave[c * frames * 320 : (c + 1) * frames * 320].unsqueeze(0)
                mask = torch.ones(1, past[0].shape[2] + frames, dtype=torch.int64)
                out = step(chunk, context, mask, *past)
                pieces.append(out[0][0])
                past = [t[:, :, -cfg.max_cache_frames :] for t in out[1:]]  # the engine's trim
                context = torch.cat((context, chunk), 1)[:, -cfg.context_samples :]
            whole = full_sequence_encoder(model, wave, frames)
        streamed = torch.cat(pieces)
        self.assertEqual(streamed.shape, whole.shape)
        torch.testing.assert_close(streamed, whole, atol=2e-5, rtol=2e-5)

    def test_a_missing_context_changes_the_first_frames(self):
        model = tiny_model()
        cfg = model.cfg.encoder
        wave = audio(48 * 320 * 2, seed=2)
        step = EncoderStep(model)
        empty = [torch.zeros(1, cfg.num_heads, 0, cfg.head_dim) for _ in range(cfg.num_layers * 2)]
        with torch.no_grad():
            first = step(wave[None, : 48 * 320], torch.zeros(1, cfg.context_samples), torch.ones(1, 48, dtype=torch.int64), *empty)
            mask = torch.ones(1, 96, dtype=torch.int64)
            right = step(wave[None, 48 * 320 :], wave[None, 48 * 320 - cfg.context_samples : 48 * 320], mask, *first[1:])[0]
            wrong = step(wave[None, 48 * 320 :], torch.zeros(1, cfg.context_samples), mask, *first[1:])[0]
        self.assertGreater((right - wrong).abs().max().item(), 1e-5)  # float noise is ~1e-7


def reference_llama(model: SpeechLLM, ids: torch.Tensor) -> torch.Tensor:
    """Hugging Face Llama semantics without a cache, written independently: RoPE rotating
    (x_i, x_{i+d/2}) pairs, grouped KV heads by repeat_interleave, causal softmax attention."""
    cfg = model.cfg.decoder
    stack = model.model
    x = stack.embed_tokens(ids)
    n = ids.shape[1]
    pos = torch.arange(n).float()
    angle = pos[:, None] * rope_inv_freq(cfg)[None, :]
    rot = torch.polar(torch.ones_like(angle), angle)

    def rms(t, w):
        return w * (t * torch.rsqrt(t.pow(2).mean(-1, keepdim=True) + cfg.rms_norm_eps))

    def rope(t):
        half = t.shape[-1] // 2
        c = torch.complex(t[..., :half], t[..., half:]) * rot
        return torch.cat((c.real, c.imag), -1)

    causal = torch.ones(n, n, dtype=torch.bool).tril()
    for layer in stack.layers:
        a = layer.self_attn
        h = rms(x, layer.input_layernorm.weight)
        q = a.q_proj(h).view(1, n, cfg.num_heads, cfg.head_dim).transpose(1, 2)
        k = a.k_proj(h).view(1, n, cfg.num_kv_heads, cfg.head_dim).transpose(1, 2)
        v = a.v_proj(h).view(1, n, cfg.num_kv_heads, cfg.head_dim).transpose(1, 2)
        group = cfg.num_heads // cfg.num_kv_heads
        k, v = k.repeat_interleave(group, 1), v.repeat_interleave(group, 1)
        s = rope(q) @ rope(k).transpose(-1, -2) / math.sqrt(cfg.head_dim)
        o = torch.softmax(s.masked_fill(~causal, -math.inf), -1) @ v
        x = x + a.o_proj(o.transpose(1, 2).reshape(1, n, -1))
        h = rms(x, layer.post_attention_layernorm.weight)
        x = x + layer.mlp.down_proj(F.silu(layer.mlp.gate_proj(h)) * layer.mlp.up_proj(h))
    return model.lm_head(rms(x, stack.norm.weight))[0]


class Decoder(unittest.TestCase):
    def run_steps(self, model, ids, splits, positions="cache"):
        cfg = model.cfg.decoder
        step, embed = DecoderStep(model), EmbedStep(model)
        past = [torch.zeros(1, cfg.num_kv_heads, 0, cfg.head_dim) for _ in range(cfg.num_layers * 2)]
        logits, start = [], 0
        with torch.no_grad():
            for end in splits:
                part = ids[:, start:end]
                mask = torch.ones(1, past[0].shape[2] + part.shape[1], dtype=torch.int64)
                extra = [torch.arange(start, end)[None]] if positions == "absolute" else []
                out = step(embed(part), mask, *extra, *past)
                logits.append(out[0][0])
                past, start = list(out[1:]), end
        return torch.cat(logits), past

    def test_prefill_then_decode_steps_equal_hugging_face_llama_without_cache(self):
        for positions in ("cache", "absolute"):
            model = tiny_model(positions=positions)
            ids = torch.randint(0, 300, (1, 14), generator=torch.Generator().manual_seed(4))
            got, _ = self.run_steps(model, ids, [9, 10, 11, 12, 13, 14], positions)
            with torch.no_grad():
                want = reference_llama(model, ids)
            torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4, msg=positions)

    def test_after_trimming_cache_positions_are_rebased_as_in_a_fresh_sequence(self):
        # One layer: its keys and values depend on the tokens alone, so a trimmed cache must act
        # exactly like a fresh sequence of the kept tokens (flashinfer ROPE_LLAMA semantics).
        model = tiny_model(num_layers=1)
        ids = torch.randint(0, 300, (1, 20), generator=torch.Generator().manual_seed(5))
        _, past = self.run_steps(model, ids[:, :19], [19])
        keep, recent = 4, 6
        trimmed = [torch.cat((t[:, :, :keep], t[:, :, 19 - recent :]), 2) for t in past]
        mask = torch.ones(1, keep + recent + 1, dtype=torch.int64)
        with torch.no_grad():
            got = DecoderStep(model)(EmbedStep(model)(ids[:, 19:]), mask, *trimmed)[0][0, -1]
            kept = torch.cat((ids[:, :keep], ids[:, 19 - recent : 19], ids[:, 19:]), 1)
            want = reference_llama(model, kept)[-1]
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-4)

    def test_slots_layout_equals_the_padded_step_row_by_row(self):
        # Two sessions × 3 beams: each row is its session's prefix (in an arena wider than it)
        # plus its own suffix (uneven lengths, one empty) plus one new step; the padded step gets
        # the same context packed per row. Arena slots beyond the masks hold noise: never read.
        gen = torch.Generator().manual_seed(6)
        for positions in ("cache", "absolute"):
            model = tiny_model(positions=positions)
            cfg = model.cfg.decoder
            sessions, beams, cap_p, cap_u = 2, 3, 12, 5
            prefix_lens, suffix_lens = [7, 4], [[2, 0, 3], [1, 1, 4]]
            layers = cfg.num_layers
            shape = lambda rows, cap: (rows, cfg.num_kv_heads, cap, cfg.head_dim)  # noqa: E731
            prefix = [torch.randn(*shape(sessions, cap_p), generator=gen) for _ in range(layers * 2)]
            suffix = [torch.randn(*shape(sessions * beams, cap_u), generator=gen) for _ in range(layers * 2)]
            embeds = torch.randn(sessions * beams, 1, cfg.hidden_size, generator=gen)
            prefix_mask = torch.tensor([[1] * p + [0] * (8 - p) for p in prefix_lens])
            suffix_mask = torch.tensor([[1] * u + [0] * (4 - u) for row in suffix_lens for u in row])
            extra = []
            if positions == "absolute":
                extra = [torch.tensor([[prefix_lens[r // beams] + suffix_lens[r // beams][r % beams]] for r in range(sessions * beams)])]
            with torch.no_grad():
                got = SlotDecoderStep(model)(embeds, *extra, prefix_mask, suffix_mask, *prefix, *suffix)
                for r in range(sessions * beams):
                    s, p, u = r // beams, prefix_lens[r // beams], suffix_lens[r // beams][r % beams]
                    past = [torch.cat((prefix[i][s : s + 1, :, :p], suffix[i][r : r + 1, :, :u]), 2) for i in range(layers * 2)]
                    mask = torch.ones(1, p + u + 1, dtype=torch.int64)
                    row_extra = [extra[0][r : r + 1]] if extra else []
                    want = DecoderStep(model)(embeds[r : r + 1], mask, *row_extra, *past)
                    torch.testing.assert_close(got[0][r : r + 1], want[0], atol=1e-5, rtol=1e-5, msg=f"{positions} row {r} logits")
                    for i in range(layers * 2):
                        # The slots step returns only the new step; the padded one its whole cache.
                        torch.testing.assert_close(got[1 + i][r : r + 1], want[1 + i][:, :, p + u :], atol=1e-5, rtol=1e-5, msg=f"{positions} row {r} present {i}")

    def test_slots_prefill_with_an_empty_prefix_equals_the_padded_prefill(self):
        gen = torch.Generator().manual_seed(8)
        model = tiny_model()
        cfg = model.cfg.decoder
        layers = cfg.num_layers
        prefix = [torch.randn(2, cfg.num_kv_heads, 9, cfg.head_dim, generator=gen) for _ in range(layers * 2)]
        suffix = [torch.zeros(2, cfg.num_kv_heads, 1, cfg.head_dim) for _ in range(layers * 2)]
        embeds = torch.randn(2, 6, cfg.hidden_size, generator=gen)
        prefix_mask = torch.tensor([[0] * 5, [1] * 5])  # session 0 starts, session 1 has 5 committed
        suffix_mask = torch.zeros(2, 1, dtype=torch.int64)
        with torch.no_grad():
            got = SlotDecoderStep(model)(embeds, prefix_mask, suffix_mask, *prefix, *suffix)
            for b, p in enumerate((0, 5)):
                past = [t[b : b + 1, :, :p] for t in prefix]
                want = DecoderStep(model)(embeds[b : b + 1], torch.ones(1, p + 6, dtype=torch.int64), *past)
                torch.testing.assert_close(got[0][b : b + 1], want[0], atol=1e-5, rtol=1e-5)
                torch.testing.assert_close(got[1][b : b + 1], want[1][:, :, p:], atol=1e-5, rtol=1e-5)

    def test_llama3_rope_scaling_keeps_high_frequencies_and_divides_low_ones(self):
        cfg = tiny_config(300).decoder
        cfg.head_dim, cfg.rope_theta = 128, 500000.0
        cfg.rope_scaling = {"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
        scaled = rope_inv_freq(cfg)
        plain = 1.0 / (500000.0 ** (torch.arange(0, 128, 2).float() / 128))
        self.assertEqual(scaled[0].item(), 1.0)
        self.assertAlmostEqual(scaled[-1].item(), plain[-1].item() / 8, places=12)
        self.assertTrue(bool((scaled[1:] <= scaled[:-1]).all()))


class Lora(unittest.TestCase):
    def test_merge_adds_alpha_over_rank_times_b_a(self):
        model = tiny_model()
        target = model.model.layers[0].self_attn.q_proj
        before = target.weight.detach().clone()
        a, b = torch.randn(4, target.in_features), torch.randn(target.out_features, 4)
        merged = merge_lora(model, {"base_model.model.model.layers.0.self_attn.q_proj.lora_A.lora_adapter.weight": a,
                                    "base_model.model.model.layers.0.self_attn.q_proj.lora_B.lora_adapter.weight": b}, alpha=16)
        self.assertEqual(merged, 1)
        torch.testing.assert_close(target.weight.detach(), before + 4.0 * (b @ a))

    def test_a_key_matching_no_layer_is_an_error(self):
        with self.assertRaises(LoraError):
            merge_lora(tiny_model(), {"base_model.model.model.layers.7.mlp.up_proj.lora_A.weight": torch.zeros(4, 32),
                                      "base_model.model.model.layers.7.mlp.up_proj.lora_B.weight": torch.zeros(64, 4)}, alpha=16)


if __name__ == "__main__":
    unittest.main()
