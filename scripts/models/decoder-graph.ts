/**
 * The Llama-style decoder (RMSNorm, rotary positions, causal-by-slot grouped-query attention over
 * a KV cache, gated SiLU MLP, final norm, LM head) and the separate token-embedding graph. Tensor names follow
 * docs/model-format.md.
 */
import { GraphBuilder } from './graph-builder.ts';
import { DataType } from './onnx-proto.ts';
import type { GraphSpec } from './onnx-proto.ts';
import { attention, causalBySlot, gatedMlp, keyValidity, linear, rmsNorm, rotaryTables } from './layers.ts';
import { slotAttention, type BeamFold } from './slot-attention.ts';
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
export function buildDecoderGraph(seedPrefix: string, head: DecoderHead, presentOutput: PresentOutput = 'new', dims: DecoderDims = decoderDims, cacheLayout: CacheLayout = 'padded'): GraphSpec {
  if (cacheLayout === 'slots') return buildSlotDecoderGraph(seedPrefix, head, dims);
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

  const hidden = decoderLayers(b, embeds, d, (x, i) => {
    const cache = past[i];
    if (cache === undefined) throw new Error(`layer ${i} has no cache input`);
    return attention(b, 'self_attn', {
      x,
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
  });
  lmHead(b, hidden, d, head);

  b.output('logits', DataType.FLOAT, ['batch', 'new_len', head.vocabSize]);
  past.forEach((_, i) => {
    b.output(`present.${i}.key`, DataType.FLOAT, presentDims);
    b.output(`present.${i}.value`, DataType.FLOAT, presentDims);
  });
  return b.build();
}

/**
 * How a decoder graph takes its cache (docs/model-format.md): `padded` past tensors per row
 * (`past_key_values.*`, the Hugging Face convention), or `slots`: views of the engine's slot
 * arenas, the session's prefix shared by its beams plus a short suffix per beam.
 */
export type CacheLayout = 'padded' | 'slots';

/** Large and finite: a padded slot's weight underflows to 0, and nothing turns into NaN. */
const MASKED_SCORE = -1e9;

/**
 * The decoder with the `slots` cache layout: same weights (same names) and the same function as
 * the padded graph, fed the session prefixes `[S, KV, capacity, D]` and beam suffixes
 * `[R, KV, capacity, D]` as they lie in the arenas, cut in the graph to the lengths of
 * `prefix_mask [S, P]` and `suffix_mask [R, U]`. Rows are session-major (row = s·W + w); the
 * present outputs hold only the new steps.
 */
function buildSlotDecoderGraph(seedPrefix: string, head: DecoderHead, d: DecoderDims): GraphSpec {
  const b = new GraphBuilder('decoder', `${seedPrefix}/decoder`);
  const kvHeads = d.numKeyValueHeads;
  const embeds = b.input('inputs_embeds', DataType.FLOAT, ['rows', 'new_len', d.hiddenSize]);
  const positionIds = b.input('position_ids', DataType.INT64, ['rows', 'new_len']);
  const prefixMask = b.input('prefix_mask', DataType.INT64, ['sessions', 'prefix_len']);
  const suffixMask = b.input('suffix_mask', DataType.INT64, ['rows', 'suffix_len']);
  const caches = Array.from({ length: d.numLayers }, (_, i) => ({
    prefixKey: b.input(`prefix_key_values.${i}.key`, DataType.FLOAT, ['sessions', kvHeads, 'prefix_capacity', d.headDim]),
    prefixValue: b.input(`prefix_key_values.${i}.value`, DataType.FLOAT, ['sessions', kvHeads, 'prefix_capacity', d.headDim]),
    suffixKey: b.input(`suffix_key_values.${i}.key`, DataType.FLOAT, ['rows', kvHeads, 'suffix_capacity', d.headDim]),
    suffixValue: b.input(`suffix_key_values.${i}.value`, DataType.FLOAT, ['rows', kvHeads, 'suffix_capacity', d.headDim]),
  }));

  const dim = (tensor: string, index: number): string => b.op('Slice', [b.op('Shape', [tensor]), b.int64Constant([index]), b.int64Constant([index + 1])]); // [1]
  const rows = dim(embeds, 0);
  const sessions = dim(prefixMask, 0);
  const beams = b.op('Div', [rows, sessions]);
  const concatShape = (parts: string[]): string => b.op('Concat', parts, { attributes: [{ name: 'axis', kind: 'int', value: 0 }] });
  const fold: BeamFold = {
    sessionsAndBeams: concatShape([sessions, beams, b.int64Constant([kvHeads, -1, d.headDim])]),
    splitByBeam: {
      one: concatShape([b.int64Constant([0, kvHeads]), beams, b.int64Constant([-1, 1])]),
      headDim: concatShape([b.int64Constant([0, kvHeads]), beams, b.int64Constant([-1, d.headDim])]),
    },
    perRow: { one: concatShape([rows, b.int64Constant([kvHeads, -1, 1])]), headDim: concatShape([rows, b.int64Constant([kvHeads, -1, d.headDim])]) },
  };
  const biasOf = (mask: string, unsqueezeAxes: number[]): string => {
    const isReal = b.op('Cast', [mask], { attributes: [{ name: 'to', kind: 'int', value: 9 }] });
    return b.op('Unsqueeze', [b.op('Where', [isReal, b.floatConstant([0]), b.floatConstant([MASKED_SCORE])]), b.int64Constant(unsqueezeAxes)]);
  };
  const prefixBias = biasOf(prefixMask, [1, 2]); // [S, 1, 1, P]
  const suffixBias = biasOf(suffixMask, [1, 2]); // [R, 1, 1, U]
  const prefixLength = dim(prefixMask, 1);
  const suffixLength = dim(suffixMask, 1);
  const onSlots = b.int64Constant([2]);
  const zero = b.int64Constant([0]);
  // Causal among the new steps, [G·T, T]: query g·T + t sees new step t' iff t' ≤ t.
  const newBias = b.scoped('causal', () => {
    const steps = b.op('Gather', [b.op('Shape', [embeds]), b.int64Constant([1], [])]);
    const range = b.op('Range', [b.int64Constant([0], []), steps, b.int64Constant([1], [])]);
    const allowed = b.op('LessOrEqual', [b.op('Unsqueeze', [range, b.int64Constant([0])]), b.op('Unsqueeze', [range, b.int64Constant([1])])]);
    const bias = b.op('Where', [allowed, b.floatConstant([0]), b.floatConstant([MASKED_SCORE])]);
    return b.op('Tile', [bias, b.int64Constant([d.numHeads / kvHeads, 1])]);
  });

  const rotary = rotaryTables(b, positionIds, d.headDim);
  const hidden = decoderLayers(b, embeds, d, (x, i) => {
    const cache = caches[i];
    if (cache === undefined) throw new Error(`layer ${i} has no cache input`);
    return slotAttention(b, 'self_attn', {
      x,
      dModel: d.hiddenSize,
      numHeads: d.numHeads,
      numKeyValueHeads: kvHeads,
      headDim: d.headDim,
      rotary,
      prefixKey: b.op('Slice', [cache.prefixKey, zero, prefixLength, onSlots]),
      prefixValue: b.op('Slice', [cache.prefixValue, zero, prefixLength, onSlots]),
      prefixBias,
      suffixKey: b.op('Slice', [cache.suffixKey, zero, suffixLength, onSlots]),
      suffixValue: b.op('Slice', [cache.suffixValue, zero, suffixLength, onSlots]),
      suffixBias,
      newBias,
      fold,
      presentKeyName: `present.${i}.key`,
      presentValueName: `present.${i}.value`,
      queryGain: d.queryGain,
      outputGain: d.outputGain,
    });
  });
  lmHead(b, hidden, d, head);
  b.output('logits', DataType.FLOAT, ['rows', 'new_len', head.vocabSize]);
  caches.forEach((_, i) => {
    b.output(`present.${i}.key`, DataType.FLOAT, ['rows', kvHeads, 'new_len', d.headDim]);
    b.output(`present.${i}.value`, DataType.FLOAT, ['rows', kvHeads, 'new_len', d.headDim]);
  });
  return b.build();
}

/**
 * The decoder's layers, each pre-norm attention (`attend`, given the normed input and the layer
 * index, inside the layer's scope) and a gated MLP, with residuals. Weight names depend only on
 * the scopes, so graphs that differ in their attention share every weight.
 */
function decoderLayers(b: GraphBuilder, embeds: string, d: DecoderDims, attend: (x: string, layer: number) => string): string {
  let hidden = embeds;
  for (let i = 0; i < d.numLayers; i++) {
    const input = hidden;
    hidden = b.scoped(`layers.${i}`, () => {
      const afterAttention = b.op('Add', [input, attend(rmsNorm(b, input, 'input_layernorm', d.hiddenSize), i)]);
      const mlp = gatedMlp(b, rmsNorm(b, afterAttention, 'post_attention_layernorm', d.hiddenSize), 'mlp', d.hiddenSize, d.mlpDim);
      return b.op('Add', [afterAttention, mlp]);
    });
  }
  return hidden;
}

/** Final norm and LM head, producing `logits`. */
function lmHead(b: GraphBuilder, hidden: string, d: DecoderDims, head: DecoderHead): void {
  const normed = rmsNorm(b, hidden, 'norm', d.hiddenSize);
  const logits = linear(b, normed, 'lm_head', d.hiddenSize, head.vocabSize, { gain: head.logitGain, bias: head.logitBias });
  b.op('Identity', [logits], { outputName: 'logits' });
}
