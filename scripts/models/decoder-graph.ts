/**
 * The Llama-style decoder (RMSNorm, rotary positions, causal-by-slot grouped-query attention over
 * a KV cache, gated SiLU MLP, final norm, LM head) and the separate token-embedding graph. Tensor names follow
 * docs/model-format.md.
 */
import { GraphBuilder } from './graph-builder.ts';
import { DataType } from './onnx-proto.ts';
import type { GraphSpec } from './onnx-proto.ts';
import { attention, causalBySlot, gatedMlp, keyValidity, linear, rmsNorm, rotaryTables } from './layers.ts';
import type { PresentOutput } from './layers.ts';
import { decoderDims } from './tiny-dimensions.ts';
import type { DecoderDims } from './tiny-dimensions.ts';

/** Scale of the token embedding table: unit variance, like the speech embeddings it sits beside. */
const EMBEDDING_STD = 1;

/** Builds embed.onnx's graph: a Gather from a [vocab, hidden] table. */
export function buildEmbedGraph(seedPrefix: string, vocabSize: number, hiddenSize: number = decoderDims.hiddenSize): GraphSpec {
  const b = new GraphBuilder('token_embedding', `${seedPrefix}/embed`);
  const ids = b.input('input_ids', DataType.INT64, ['batch', 'seq']);
  const table = b.randomWeight('embed_tokens.weight', [vocabSize, hiddenSize], EMBEDDING_STD);
  b.op('Gather', [table, ids], { attributes: [{ name: 'axis', kind: 'int', value: 0 }], outputName: 'inputs_embeds' });
  b.output('inputs_embeds', DataType.FLOAT, ['batch', 'seq', hiddenSize]);
  return b.build();
}

export interface DecoderHead {
  vocabSize: number;
  /** Added to the logits; this is where the end-of-chunk token is made likely enough. */
  logitBias: Float32Array;
  /** Multiplies the LM head's N(0, 1/hidden) init: larger = more peaked next-token choices. */
  logitGain: number;
}

/**
 * Builds decoder.onnx's graph. `presentOutput` (default `'new'`, what the embedded models ship)
 * chooses whether `present.*` repeats the past; the weights and the attention are the same.
 * `dims` default to the embedded models'; the benchmark model passes its own.
 */
export function buildDecoderGraph(seedPrefix: string, head: DecoderHead, presentOutput: PresentOutput = 'new', dims: DecoderDims = decoderDims): GraphSpec {
  const d = dims;
  const b = new GraphBuilder('decoder', `${seedPrefix}/decoder`);
  const cacheDims = ['batch', d.numKeyValueHeads, 'past_len', d.headDim] as const;
  const presentDims = ['batch', d.numKeyValueHeads, presentOutput === 'full' ? 'total_len' : 'new_len', d.headDim] as const;

  const embeds = b.input('inputs_embeds', DataType.FLOAT, ['batch', 'new_len', d.hiddenSize]);
  const attentionMask = b.input('attention_mask', DataType.INT64, ['batch', 'total_len']);
  const positionIds = b.input('position_ids', DataType.INT64, ['batch', 'new_len']);
  const past = Array.from({ length: d.numLayers }, (_, i) => ({
    key: b.input(`past_key_values.${i}.key`, DataType.FLOAT, cacheDims),
    value: b.input(`past_key_values.${i}.value`, DataType.FLOAT, cacheDims),
  }));
  const firstPast = past[0];
  if (firstPast === undefined) throw new Error('the decoder needs at least one layer');

  const rotary = rotaryTables(b, positionIds, d.headDim);
  // [T, S] causal-by-slot AND [B, 1, 1, S] real slots -> [B, 1, T, S]
  const allowed = b.op('And', [causalBySlot(b, embeds, firstPast.key), keyValidity(b, attentionMask)]);

  let hidden = embeds;
  past.forEach((cache, i) => {
    hidden = b.scoped(`layers.${i}`, () => {
      const attended = attention(b, 'self_attn', {
        x: rmsNorm(b, hidden, 'input_layernorm', d.hiddenSize),
        dModel: d.hiddenSize,
        numHeads: d.numHeads,
        numKeyValueHeads: d.numKeyValueHeads,
        headDim: d.headDim,
        rotary,
        pastKey: cache.key,
        pastValue: cache.value,
        allowed,
        presentKeyName: `present.${i}.key`,
        presentValueName: `present.${i}.value`,
        presentOutput,
        queryGain: d.queryGain,
        outputGain: d.outputGain,
      });
      const afterAttention = b.op('Add', [hidden, attended]);
      const mlp = gatedMlp(b, rmsNorm(b, afterAttention, 'post_attention_layernorm', d.hiddenSize), 'mlp', d.hiddenSize, d.mlpDim);
      return b.op('Add', [afterAttention, mlp]);
    });
  });

  const normed = rmsNorm(b, hidden, 'norm', d.hiddenSize);
  const logits = linear(b, normed, 'lm_head', d.hiddenSize, head.vocabSize, { gain: head.logitGain, bias: head.logitBias });
  b.op('Identity', [logits], { outputName: 'logits' });

  b.output('logits', DataType.FLOAT, ['batch', 'new_len', head.vocabSize]);
  past.forEach((_, i) => {
    b.output(`present.${i}.key`, DataType.FLOAT, presentDims);
    b.output(`present.${i}.value`, DataType.FLOAT, presentDims);
  });
  return b.build();
}
