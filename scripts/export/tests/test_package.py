"""Tokenizer, prompts, checkpoint settings and the exported graphs' contract."""

from __future__ import annotations

import json
import tempfile
import unittest
from pathlib import Path

import onnx

from helpers import EXPORT_DIR  # noqa: F401  (sets sys.path)
import export_infinisst
from hf_tokenizer import ByteLevelBPE, byte_to_unicode
from modeling.checkpoint import infer_encoder_config, load_state_dict, read_w2v2_settings
from modeling.config import parse_layer_spec
from prompts import PromptBuilder, parse_language_pair
from tiny_checkpoint import CHAT_TEMPLATE, build, tiny_tokenizer


class Tokenizer(unittest.TestCase):
    def setUp(self):
        self.bpe = ByteLevelBPE(tiny_tokenizer())
        self.inverse = {v: k for k, v in self.bpe.vocab.items()}

    def test_words_merge_and_unknown_characters_fall_back_to_bytes(self):
        ids = self.bpe.encode("Translate the speech é", {})
        pieces = [self.inverse[i] for i in ids]
        self.assertEqual(pieces[:3], ["Translate", "Ġthe", "Ġspeech"])
        decoded = bytes(({c: b for b, c in byte_to_unicode().items()})[ch] for p in pieces for ch in p).decode()
        self.assertEqual(decoded, "Translate the speech é")

    def test_added_tokens_are_matched_before_bpe(self):
        ids = self.bpe.encode("<|eot_id|>user<sp_patch><sp_patch>", {"<sp_patch>": 999})
        self.assertEqual(ids[0], self.bpe.added["<|eot_id|>"])
        self.assertEqual(ids[-2:], [999, 999])


def write_llm(folder: Path, template: str, eos: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    spec = tiny_tokenizer()
    if "<|im_end|>" in template:
        base = len(spec["model"]["vocab"]) + len(spec["added_tokens"])
        spec["added_tokens"] += [{"id": base + i, "content": c, "special": True} for i, c in enumerate(["<|im_start|>", "<|im_end|>"])]
    (folder / "tokenizer.json").write_text(json.dumps(spec))
    (folder / "tokenizer_config.json").write_text(json.dumps({"bos_token": "<|begin_of_text|>", "eos_token": eos, "chat_template": template}))


QWEN_TEMPLATE = (
    "{%- for message in messages %}{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{%- endfor %}"
)


class Prompts(unittest.TestCase):
    def test_llama_prompts_follow_the_infinisst_agent(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_llm(Path(tmp), CHAT_TEMPLATE, "<|eot_id|>")
            builder = PromptBuilder(Path(tmp), vocab_size=500, latency_tokens=4)
            text = builder.build("English", "German", 2, 4, export_infinisst.HEAD_SYSTEM_PROMPT)
            tokens = text.tokens
            first = [tokens[i] for i in text.prompt["first"]["prefix"]]
            self.assertEqual(first[0], "<|begin_of_text|>")
            self.assertIn("<latency_2>", first)
            self.assertIn("<latency_1>", [tokens[i] for i in text.prompt["firstByMultiplier"]["1"]["prefix"]])
            # The kept system block ends with its end-of-turn token; the user header follows.
            self.assertEqual(first[text.keep_prefix_tokens - 1], "<|eot_id|>")
            self.assertEqual(first[text.keep_prefix_tokens :], ["<|start_header_id|>", "user", "<|end_header_id|>", "ĊĊ"])
            self.assertEqual([tokens[i] for i in text.prompt["next"]["prefix"]], ["<|start_header_id|>", "user", "<|end_header_id|>", "ĊĊ"])
            self.assertEqual([tokens[i] for i in text.prompt["first"]["suffix"]], ["<|eot_id|>", "<|start_header_id|>", "assistant", "<|end_header_id|>", "ĊĊ"])
            self.assertEqual(tokens[text.special["speechPlaceholder"]], "<sp_patch>")
            self.assertEqual(text.special["endOfChunk"], [builder.bpe.added["<|eot_id|>"]])
            self.assertIn(text.special["speechPlaceholder"], text.special["skipInText"])
            self.assertEqual(tokens[text.special["pad"]], "<|finetune_right_pad_id|>")

    def test_qwen_next_prompt_starts_with_the_newline_after_im_end(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_llm(Path(tmp), QWEN_TEMPLATE, "<|im_end|>")
            builder = PromptBuilder(Path(tmp), vocab_size=500, latency_tokens=0)
            text = builder.build("English", "Chinese", 2, 4, export_infinisst.QWEN_SYSTEM_PROMPT)
            nxt = [text.tokens[i] for i in text.prompt["next"]["prefix"]]
            self.assertEqual(nxt[:3], ["Ċ", "<|im_start|>", "user"])
            self.assertEqual([text.tokens[i] for i in text.prompt["first"]["suffix"]][-3:], ["<|im_start|>", "assistant", "Ċ"])

    def test_a_checkpoint_vocabulary_too_small_for_the_added_tokens_is_refused(self):
        with tempfile.TemporaryDirectory() as tmp:
            write_llm(Path(tmp), CHAT_TEMPLATE, "<|eot_id|>")
            size = ByteLevelBPE(json.loads((Path(tmp) / "tokenizer.json").read_text())).size()
            with self.assertRaisesRegex(ValueError, "latency-tokens"):
                PromptBuilder(Path(tmp), vocab_size=size + 3, latency_tokens=4)

    def test_language_pairs_and_layer_specs(self):
        self.assertEqual(parse_language_pair("en-zh"), ("English", "Chinese"))
        self.assertEqual(parse_language_pair("English -> Spanish"), ("English", "Spanish"))
        self.assertEqual(parse_layer_spec("[(1024,2,2)] * 2"), [(1024, 2, 2), (1024, 2, 2)])
        with self.assertRaises(ValueError):
            parse_layer_spec("__import__('os')")


class Export(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.root = Path(cls.tmp.name)
        build(cls.root / "src", seed=3, with_lora=False)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def export(self, name: str, *extra: str) -> Path:
        out = self.root / name
        src = self.root / "src"
        export_infinisst.main(["--checkpoint", str(src / "checkpoint" / "pytorch_model.bin"), "--llm", str(src / "llm"), "--w2v2", str(src / "w2v2.pt"),
                               "--language-pair", "en-es", "--out", str(out), *extra])
        return out

    def test_the_fairseq_settings_and_the_weights_give_the_encoder_config(self):
        settings = read_w2v2_settings(self.root / "src" / "w2v2.pt")
        self.assertEqual(settings["encoder_attention_heads"], 2)
        cfg = infer_encoder_config(load_state_dict(self.root / "src" / "checkpoint" / "pytorch_model.bin"), settings, {})
        self.assertEqual((cfg.embed_dim, cfg.num_heads, cfg.num_layers, cfg.context_samples, cfg.samples_per_frame, cfg.shrink_factor), (16, 2, 2, 399, 320, 4))

    def test_graphs_declare_the_contract_names_and_keep_float32_io(self):
        out = self.export("fp32", "--external-data", "never", "--decoder-positions", "absolute")
        manifest = json.loads((out / "manifest.json").read_text())
        enc = onnx.load(str(out / "encoder.onnx"))
        dec = onnx.load(str(out / "decoder.onnx"))
        for model in (enc, dec):
            onnx.checker.check_model(model)
        layers = manifest["encoder"]["numLayers"]
        self.assertEqual([i.name for i in enc.graph.input], ["input_values", "input_context", "attention_mask"] + [f"past_key_values.{i}.{k}" for i in range(layers) for k in ("key", "value")])
        dec_layers = manifest["decoder"]["numLayers"]
        # The default slots layout: the engine's arenas in, only the new keys and values out.
        self.assertEqual((manifest["decoder"]["cacheLayout"], manifest["decoder"]["presentOutput"]), ("slots", "new"))
        arenas = [f"{part}_key_values.{i}.{k}" for part in ("prefix", "suffix") for i in range(dec_layers) for k in ("key", "value")]
        self.assertEqual([i.name for i in dec.graph.input], ["inputs_embeds", "position_ids", "prefix_mask", "suffix_mask"] + arenas)
        self.assertEqual([o.name for o in dec.graph.output], ["logits"] + [f"present.{i}.{k}" for i in range(dec_layers) for k in ("key", "value")])
        self.assertFalse((out / "decoder.onnx.data").exists())
        padded = self.export("fp32-padded", "--external-data", "never", "--decoder-positions", "absolute", "--cache-layout", "padded")
        padded_manifest = json.loads((padded / "manifest.json").read_text())
        self.assertNotIn("cacheLayout", padded_manifest["decoder"])
        self.assertEqual([i.name for i in onnx.load(str(padded / "decoder.onnx")).graph.input][:3], ["inputs_embeds", "attention_mask", "position_ids"])
        self.assertEqual(manifest["languagePairs"]["English -> Spanish"]["targetJoiner"], " ")

    def test_bf16_weights_with_float32_inputs_and_outputs_in_external_data(self):
        out = self.export("bf16", "--dtype", "bf16", "--external-data", "always")
        model = onnx.load(str(out / "decoder.onnx"), load_external_data=False)
        self.assertTrue((out / "decoder.onnx.data").exists())
        big = [t for t in model.graph.initializer if len(t.dims) == 2]
        self.assertTrue(big and all(t.data_type == onnx.TensorProto.BFLOAT16 for t in big))
        for value in list(model.graph.input[:2]) + list(model.graph.output[:1]):
            expected = onnx.TensorProto.INT64 if value.name in ("attention_mask", "position_ids", "prefix_mask", "suffix_mask") else onnx.TensorProto.FLOAT
            self.assertEqual(value.type.tensor_type.elem_type, expected, value.name)


if __name__ == "__main__":
    unittest.main()
