/**
 * Transformer building blocks on top of GraphBuilder: linear, RMSNorm, rotary embeddings, masked
 * multi-head attention with a KV cache, and the MLPs. Shapes in comments: B batch, T new steps,
 * P past slots, S = P + T, H heads, D head dim.
 */
import type { GraphBuilder } from './graph-builder.ts';

/** Added to masked-out attention scores: large and finite, so a row with nothing to attend to stays NaN-free. */
const MASKED_SCORE = -1e9;
const RMS_NORM_EPSILON = 1e-6;
const ROPE_BASE = 10000;

export interface LinearOptions {
  /** Multiplies the N(0, 1/inDim) weight init. */
  gain?: number;
  /** Fixed bias values, or the std of a random N(0, std²) bias; no bias when absent. */
  bias?: Float32Array | number;
}

/** x[..., inDim] @ W[inDim, outDim] (+ bias); W ~ N(0, gain²/inDim). */
export function linear(b: GraphBuilder, x: string, name: string, inDim: number, outDim: number, options: LinearOptions = {}): string {
  return b.scoped(name, () => {
    const weight = b.randomWeight('weight', [inDim, outDim], (options.gain ?? 1) / Math.sqrt(inDim));
    const product = b.op('MatMul', [x, weight]);
    const { bias } = options;
    if (bias === undefined) return product;
    const biasName = typeof bias === 'number' ? b.randomWeight('bias', [outDim], bias) : b.floatWeight('bias', [outDim], bias);
    return b.op('Add', [product, biasName]);
  });
}

/** RMSNorm over the last axis with a learned scale (initialised to ones, as in Llama). */
export function rmsNorm(b: GraphBuilder, x: string, name: string, dim: number): string {
  return b.scoped(name, () => {
    const meanSquare = b.op('ReduceMean', [b.op('Mul', [x, x])], {
      attributes: [
        { name: 'axes', kind: 'ints', value: [-1] },
        { name: 'keepdims', kind: 'int', value: 1 },
      ],
    });
    const rms = b.op('Sqrt', [b.op('Add', [meanSquare, b.floatConstant([RMS_NORM_EPSILON])])]);
    const scale = b.floatWeight('weight', [dim], new Float32Array(dim).fill(1));
    return b.op('Mul', [b.op('Div', [x, rms]), scale]);
  });
}

export interface RotaryTables {
  /** [B, 1, T, D], broadcast over heads. */
  cos: string;
  sin: string;
}

/** cos/sin tables of the rotary embedding for absolute positions `positionIds` [B, T] (int64). */
export function rotaryTables(b: GraphBuilder, positionIds: string, headDim: number): RotaryTables {
  return b.scoped('rotary', () => {
    const half = headDim / 2;
    const inverseFrequencies = Array.from({ length: half }, (_, i) => Math.pow(ROPE_BASE, (-2 * i) / headDim));
    const positions = b.op('Unsqueeze', [b.op('Cast', [positionIds], { attributes: [{ name: 'to', kind: 'int', value: 1 }] }), b.int64Constant([2])]);
    const angles = b.op('Mul', [positions, b.floatConstant(inverseFrequencies, [half])]); // [B, T, D/2]
    const both = b.op('Concat', [angles, angles], { attributes: [{ name: 'axis', kind: 'int', value: -1 }] });
    const perHead = b.op('Unsqueeze', [both, b.int64Constant([1])]); // [B, 1, T, D]
    return { cos: b.op('Cos', [perHead]), sin: b.op('Sin', [perHead]) };
  });
}

/** Rotates pairs (i, i + D/2) of x [B, H, T, D] — the "rotate_half" convention of HF Llama. */
export function applyRotary(b: GraphBuilder, x: string, tables: RotaryTables, headDim: number): string {
  const half = headDim / 2;
  const axis = b.int64Constant([3]);
  const first = b.op('Slice', [x, b.int64Constant([0]), b.int64Constant([half]), axis]);
  const second = b.op('Slice', [x, b.int64Constant([half]), b.int64Constant([headDim]), axis]);
  const rotated = b.op('Concat', [b.op('Neg', [second]), first], { attributes: [{ name: 'axis', kind: 'int', value: 3 }] });
  return b.op('Add', [b.op('Mul', [x, tables.cos]), b.op('Mul', [rotated, tables.sin])]);
}

/** attention_mask [B, S] (int64, 1 = real) -> bool [B, 1, 1, S] broadcastable over heads and queries. */
export function keyValidity(b: GraphBuilder, attentionMask: string): string {
  const isReal = b.op('Cast', [attentionMask], { attributes: [{ name: 'to', kind: 'int', value: 9 }] });
  return b.op('Unsqueeze', [isReal, b.int64Constant([1, 2])]);
}

/**
 * Causal-by-slot mask [T, S]: new step t (slot P + t) may see slot s iff s <= P + t. P is read from
 * the past cache's shape so the graph works for any past length, including 0.
 */
export function causalBySlot(b: GraphBuilder, newSteps: string, pastKey: string): string {
  return b.scoped('causal', () => {
    const scalarAt = (tensor: string, index: number): string => b.op('Gather', [b.op('Shape', [tensor]), b.int64Constant([index], [])]);
    const pastLength = scalarAt(pastKey, 2);
    const total = b.op('Add', [pastLength, scalarAt(newSteps, 1)]);
    const one = b.int64Constant([1], []);
    const keySlots = b.op('Unsqueeze', [b.op('Range', [b.int64Constant([0], []), total, one]), b.int64Constant([0])]); // [1, S]
    const querySlots = b.op('Unsqueeze', [b.op('Range', [pastLength, total, one]), b.int64Constant([1])]); // [T, 1]
    return b.op('LessOrEqual', [keySlots, querySlots]);
  });
}

/**
 * What the `present.{i}.key/value` outputs hold (docs/model-format.md): `'full'` is past ++ new
 * (the Hugging Face / Optimum convention), `'new'` only this call's steps.
 */
export type PresentOutput = 'full' | 'new';

export interface AttentionParams {
  x: string;
  dModel: number;
  /** Query heads. */
  numHeads: number;
  /**
   * Key/value heads (grouped-query attention): each is shared by `numHeads / numKeyValueHeads`
   * consecutive query heads, as in HF's repeat_kv. Defaults to `numHeads` (plain multi-head).
   */
  numKeyValueHeads?: number;
  headDim: number;
  rotary: RotaryTables;
  pastKey: string;
  pastValue: string;
  /** bool, broadcastable to [B, H, T, S]: true where a query may attend to a key slot. */
  allowed: string;
  presentKeyName: string;
  presentValueName: string;
  /** Whether the present outputs repeat the past; the attention itself is the same either way. */
  presentOutput: PresentOutput;
  /** Init gain of the query projection: > 1 sharpens the random attention patterns. */
  queryGain: number;
  /** Init gain of the output projection: how strongly attention writes into the residual stream. */
  outputGain: number;
}

/** What the q/k/v projections of an attention layer need. */
export interface ProjectionParams {
  x: string;
  dModel: number;
  numHeads: number;
  headDim: number;
  rotary: RotaryTables;
  queryGain: number;
}

/**
 * The q, k, v projections of x [B, T, dModel], split into heads [B, heads, T, D]; rotary on q and
 * k. Shared by every attention variant, so their weights (named by scope) are the same.
 */
export function projectQueryKeyValue(b: GraphBuilder, p: ProjectionParams, kvHeads: number): { query: string; key: string; value: string } {
  const heads = (projection: string, count: number, gain = 1): string => {
    const projected = linear(b, p.x, projection, p.dModel, count * p.headDim, { gain });
    const split = b.op('Reshape', [projected, b.int64Constant([0, 0, count, p.headDim])]);
    return b.op('Transpose', [split], { attributes: [{ name: 'perm', kind: 'ints', value: [0, 2, 1, 3] }] }); // [B, heads, T, D]
  };
  const query = applyRotary(b, heads('q_proj', p.numHeads, p.queryGain), p.rotary, p.headDim);
  const key = applyRotary(b, heads('k_proj', kvHeads), p.rotary, p.headDim);
  return { query, key, value: heads('v_proj', kvHeads) };
}

/**
 * Multi-head self-attention over [past ; new] with rotary q/k; writes the present cache outputs.
 *
 * The past is never concatenated with the new steps: at a 1000-slot cache and one new step that
 * Concat copied the whole cache on every decode step and dominated the model's work. Instead the
 * queries meet the past and the new keys in two MatMuls, only the scores (T × S per head, small)
 * are concatenated for the mask and the softmax, and the weights are split again so that the
 * context is p_past·V_past + p_new·V_new. With `presentOutput: 'full'` the present outputs still
 * repeat the past (for engines that expect HF layout), but the attention does not read them.
 *
 * With fewer KV heads than query heads (GQA), query head h reads KV head floor(h / group). The
 * cache is never repeated: the queries of one group are folded into the sequence axis instead
 * ([B, H, T, D] -> [B, KV, G·T, D]), so each KV head meets all G·T of its queries in one MatMul.
 * That computes exactly HF's repeat_kv attention while reading the cache once, which is the point
 * of GQA for a memory-bound decode step (an Expand would copy the cache G times per call).
 */
export function attention(b: GraphBuilder, name: string, p: AttentionParams): string {
  return b.scoped(name, () => {
    const kvHeads = p.numKeyValueHeads ?? p.numHeads;
    if (!Number.isInteger(p.numHeads / kvHeads)) throw new Error(`${name}: ${p.numHeads} query heads cannot share ${kvHeads} KV heads evenly`);
    const group = p.numHeads / kvHeads;
    const { query, key, value } = projectQueryKeyValue(b, p, kvHeads);
    if (p.presentOutput === 'full') {
      const onSequence = { attributes: [{ name: 'axis', kind: 'int', value: 2 }] } as const;
      b.op('Concat', [p.pastKey, key], { ...onSequence, outputName: p.presentKeyName });
      b.op('Concat', [p.pastValue, value], { ...onSequence, outputName: p.presentValueName });
    } else {
      b.op('Identity', [key], { outputName: p.presentKeyName });
      b.op('Identity', [value], { outputName: p.presentValueName });
    }

    // Reshape's 0 keeps that axis of the input (batch, and S / D where they sit in the same place).
    const toGroups = (x: string, lastDim: number): string => (group === 1 ? x : b.op('Reshape', [x, b.int64Constant([0, kvHeads, -1, lastDim])]));
    const toHeads = (x: string, lastDim: number): string => (group === 1 ? x : b.op('Reshape', [x, b.int64Constant([0, p.numHeads, -1, lastDim])]));
    const transposed = (x: string): string => b.op('Transpose', [x], { attributes: [{ name: 'perm', kind: 'ints', value: [0, 1, 3, 2] }] });
    const lastAxis = { attributes: [{ name: 'axis', kind: 'int', value: -1 }] } as const;

    // Scaling the queries (G·T × D per KV head) is cheaper than scaling the scores (G·T × S).
    const groupedQuery = toGroups(b.op('Mul', [query, b.floatConstant([1 / Math.sqrt(p.headDim)])]), p.headDim); // [B, KV, G·T, D]
    const pastScores = b.op('MatMul', [groupedQuery, transposed(p.pastKey)]); // [B, KV, G·T, P]
    const newScores = b.op('MatMul', [groupedQuery, transposed(key)]); // [B, KV, G·T, T]
    const scores = toHeads(b.op('Concat', [pastScores, newScores], lastAxis), 0); // [B, H, T, S]
    // An additive mask ([B, 1, T, S], broadcast over heads) costs half a broadcasting Where over
    // [B, H, T, S]; real slots get + 0, so their scores are unchanged bit for bit.
    const bias = b.op('Where', [p.allowed, b.floatConstant([0]), b.floatConstant([MASKED_SCORE])]);
    const masked = b.op('Add', [scores, bias]);
    const weights = toGroups(b.op('Softmax', [masked], lastAxis), 0); // [B, KV, G·T, S]

    const pastLength = b.op('Gather', [b.op('Shape', [p.pastKey]), b.int64Constant([2])]); // [1]
    const sequenceAxis = b.int64Constant([3]);
    const pastWeights = b.op('Slice', [weights, b.int64Constant([0]), pastLength, sequenceAxis]); // [B, KV, G·T, P]
    const newWeights = b.op('Slice', [weights, pastLength, b.int64Constant([Number.MAX_SAFE_INTEGER]), sequenceAxis]); // [B, KV, G·T, T]
    const groupedContext = b.op('Add', [b.op('MatMul', [pastWeights, p.pastValue]), b.op('MatMul', [newWeights, value])]); // [B, KV, G·T, D]
    const context = b.op('Transpose', [toHeads(groupedContext, p.headDim)], {
      attributes: [{ name: 'perm', kind: 'ints', value: [0, 2, 1, 3] }],
    }); // [B, T, H, D]
    const inner = p.numHeads * p.headDim;
    const merged = b.op('Reshape', [context, b.int64Constant([0, 0, inner])]);
    return linear(b, merged, 'o_proj', inner, p.dModel, { gain: p.outputGain });
  });
}

/** x * sigmoid(x) */
export function silu(b: GraphBuilder, x: string): string {
  return b.op('Mul', [x, b.op('Sigmoid', [x])]);
}

/** Exact GELU, 0.5·x·(1 + erf(x/√2)), as in wav2vec 2.0. */
export function gelu(b: GraphBuilder, x: string): string {
  const erf = b.op('Erf', [b.op('Mul', [x, b.floatConstant([Math.SQRT1_2])])]);
  return b.op('Mul', [b.op('Mul', [x, b.floatConstant([0.5])]), b.op('Add', [erf, b.floatConstant([1])])]);
}

/** Llama's gated MLP: down(silu(gate(x)) * up(x)). */
export function gatedMlp(b: GraphBuilder, x: string, name: string, dim: number, hiddenDim: number): string {
  return b.scoped(name, () => {
    const gate = silu(b, linear(b, x, 'gate_proj', dim, hiddenDim));
    const up = linear(b, x, 'up_proj', dim, hiddenDim);
    return linear(b, b.op('Mul', [gate, up]), 'down_proj', hiddenDim, dim);
  });
}

/** Transformer-encoder MLP: fc2(gelu(fc1(x))). */
export function geluMlp(b: GraphBuilder, x: string, name: string, dim: number, hiddenDim: number): string {
  return b.scoped(name, () => {
    const hidden = gelu(b, linear(b, x, 'fc1', dim, hiddenDim, { bias: 0.1 }));
    return linear(b, hidden, 'fc2', hiddenDim, dim, { bias: 0.1 });
  });
}
