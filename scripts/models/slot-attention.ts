/**
 * Attention for the `slots` cache layout (docs/model-format.md): a session's prefix shared by its
 * beams, a suffix per beam, the call's new steps, merged by log-sum-exp.
 */
import type { GraphBuilder } from './graph-builder.ts';
import { linear, projectQueryKeyValue, type RotaryTables } from './layers.ts';

/**
 * Shapes a slot-layout decoder call needs to move between its two views of the rows, computed
 * once per graph (see `slotAttention`). R rows = S sessions × W beams, session-major.
 */
export interface BeamFold {
  /** [S, W, KV, -1, D]: grouped queries [R, KV, G·T, D] split into sessions and beams. */
  sessionsAndBeams: string;
  /** [0, KV, W, -1, X] for X = 1 and X = D: folded results [S, KV, W·G·T, X] split by beam. */
  splitByBeam: { one: string; headDim: string };
  /** [R, KV, -1, X] for X = 1 and X = D: back to one entry per row. */
  perRow: { one: string; headDim: string };
}

export interface SlotAttentionParams {
  x: string;
  dModel: number;
  numHeads: number;
  numKeyValueHeads: number;
  headDim: number;
  rotary: RotaryTables;
  /** The session's committed context, shared by its beams: [S, KV, P, D] (already cut to P). */
  prefixKey: string;
  prefixValue: string;
  /** Additive mask of the prefix slots, [S, 1, 1, P]: 0 for real slots, a large negative for padding. */
  prefixBias: string;
  /** Each row's own generated tokens not yet committed: [R, KV, U, D] (already cut to U). */
  suffixKey: string;
  suffixValue: string;
  /** [R, 1, 1, U], as `prefixBias`. */
  suffixBias: string;
  /** Causal mask among this call's own steps, [G·T, T] additive. */
  newBias: string;
  fold: BeamFold;
  presentKeyName: string;
  presentValueName: string;
  queryGain: number;
  outputGain: number;
}

/**
 * Self-attention for caches kept in slot arenas (docs/model-format.md, "slots" layout). A row's
 * keys are three parts: its session's prefix (shared by every beam of the session), its own
 * suffix, and this call's new steps. Each part is attended on its own and the three are merged
 * exactly with their log-sum-exp statistics, so no part is ever concatenated or copied per beam:
 *
 * - the prefix is read once per session, with the queries of all W beams folded into the query
 *   axis ([S, KV, W·G·T, D] × [S, KV, P, D]ᵀ), which is what makes beams cheap at long contexts;
 * - the suffix (≤ a chunk's tokens) and the new steps are per row.
 *
 * A part that is all padding gets weight exp(−1e9 − m) = 0 in the merge; the new part always has
 * the query's own step, so every row has something to attend to. The present outputs hold only
 * the new steps' keys and values: the caller writes them into its arenas.
 */
export function slotAttention(b: GraphBuilder, name: string, p: SlotAttentionParams): string {
  return b.scoped(name, () => {
    const kvHeads = p.numKeyValueHeads;
    if (!Number.isInteger(p.numHeads / kvHeads)) throw new Error(`${name}: ${p.numHeads} query heads cannot share ${kvHeads} KV heads evenly`);
    const { query, key, value } = projectQueryKeyValue(b, p, kvHeads); // [R, H, T, D], [R, KV, T, D] ×2
    b.op('Identity', [key], { outputName: p.presentKeyName });
    b.op('Identity', [value], { outputName: p.presentValueName });

    const transposed = (x: string): string => b.op('Transpose', [x], { attributes: [{ name: 'perm', kind: 'ints', value: [0, 1, 3, 2] }] });
    const swapSessionAndHead = { attributes: [{ name: 'perm', kind: 'ints', value: [0, 2, 1, 3, 4] }] } as const;
    const lastAxisKept = [
      { name: 'axes', kind: 'ints', value: [-1] },
      { name: 'keepdims', kind: 'int', value: 1 },
    ] as const;
    /** Unnormalised softmax statistics of one part: running max, sum of weights, weighted values. */
    const part = (scores: string, values: string): { max: string; sum: string; context: string } => {
      const max = b.op('ReduceMax', [scores], { attributes: lastAxisKept });
      const weights = b.op('Exp', [b.op('Sub', [scores, max])]);
      const sum = b.op('ReduceSum', [weights, b.int64Constant([-1])], { attributes: [{ name: 'keepdims', kind: 'int', value: 1 }] });
      return { max, sum, context: b.op('MatMul', [weights, values]) };
    };

    // [R, KV, G·T, D], group-major along the query axis (index g·T + t), scaled once.
    const grouped = b.op('Reshape', [b.op('Mul', [query, b.floatConstant([1 / Math.sqrt(p.headDim)])]), b.int64Constant([0, kvHeads, -1, p.headDim])]);

    // Prefix: all beams of a session in one MatMul against the session's cache.
    const folded = b.op('Reshape', [b.op('Transpose', [b.op('Reshape', [grouped, p.fold.sessionsAndBeams])], swapSessionAndHead), b.int64Constant([0, kvHeads, -1, p.headDim])]); // [S, KV, W·G·T, D]
    const prefixPart = part(b.op('Add', [b.op('MatMul', [folded, transposed(p.prefixKey)]), p.prefixBias]), p.prefixValue);
    const unfold = (x: string, width: 'one' | 'headDim'): string =>
      b.op('Reshape', [b.op('Transpose', [b.op('Reshape', [x, p.fold.splitByBeam[width]])], swapSessionAndHead), p.fold.perRow[width]]); // [R, KV, G·T, X]
    const prefix = { max: unfold(prefixPart.max, 'one'), sum: unfold(prefixPart.sum, 'one'), context: unfold(prefixPart.context, 'headDim') };

    const suffix = part(b.op('Add', [b.op('MatMul', [grouped, transposed(p.suffixKey)]), p.suffixBias]), p.suffixValue);
    const fresh = part(b.op('Add', [b.op('MatMul', [grouped, transposed(key)]), p.newBias]), value);

    const parts = [prefix, suffix, fresh];
    const max = b.op('Max', parts.map((x) => x.max));
    const scales = parts.map((x) => b.op('Exp', [b.op('Sub', [x.max, max])]));
    const numerator = b.op('Sum', parts.map((x, i) => b.op('Mul', [scales[i] ?? '', x.context])));
    const denominator = b.op('Sum', parts.map((x, i) => b.op('Mul', [scales[i] ?? '', x.sum])));
    const groupedContext = b.op('Div', [numerator, denominator]); // [R, KV, G·T, D]
    const context = b.op('Transpose', [b.op('Reshape', [groupedContext, b.int64Constant([0, p.numHeads, -1, p.headDim])])], {
      attributes: [{ name: 'perm', kind: 'ints', value: [0, 2, 1, 3] }],
    }); // [R, T, H, D]
    const inner = p.numHeads * p.headDim;
    const merged = b.op('Reshape', [context, b.int64Constant([0, 0, inner])]);
    return linear(b, merged, 'o_proj', inner, p.dModel, { gain: p.outputGain });
  });
}
