import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildDecoderGraph } from '../../../scripts/models/decoder-graph.ts';
import { GraphBuilder } from '../../../scripts/models/graph-builder.ts';
import { attention, causalBySlot, keyValidity, rotaryTables } from '../../../scripts/models/layers.ts';
import type { PresentOutput } from '../../../scripts/models/layers.ts';
import { DataType, encodeModel } from '../../../scripts/models/onnx-proto.ts';
import type { GraphSpec } from '../../../scripts/models/onnx-proto.ts';
import { decoderDims } from '../../../scripts/models/tiny-dimensions.ts';
import { tinyPackageDefinitions } from '../../../scripts/models/tiny-packages.ts';
import { floats, floatTensor, int64Tensor, maxAbsDiff, noise } from './tiny-model-harness.ts';

const TOLERANCE = 1e-5;
// Small enough to check by hand, with a real group: 4 query heads share 2 KV heads.
const D_MODEL = 8;
const HEADS = 4;
const KV_HEADS = 2;
const HEAD_DIM = 4;
const PAST = 3;
const NEW = 2;

/** One attention layer as its own graph, so its output can be compared with a plain reference. */
function attentionGraph(presentOutput: PresentOutput): GraphSpec {
  const b = new GraphBuilder('gqa_probe', 'test/gqa');
  const x = b.input('x', DataType.FLOAT, ['batch', 'new_len', D_MODEL]);
  const mask = b.input('attention_mask', DataType.INT64, ['batch', 'total_len']);
  const positions = b.input('position_ids', DataType.INT64, ['batch', 'new_len']);
  const pastKey = b.input('past_key', DataType.FLOAT, ['batch', KV_HEADS, 'past_len', HEAD_DIM]);
  const pastValue = b.input('past_value', DataType.FLOAT, ['batch', KV_HEADS, 'past_len', HEAD_DIM]);
  const out = attention(b, 'self_attn', {
    x,
    dModel: D_MODEL,
    numHeads: HEADS,
    numKeyValueHeads: KV_HEADS,
    headDim: HEAD_DIM,
    rotary: rotaryTables(b, positions, HEAD_DIM),
    pastKey,
    pastValue,
    allowed: b.op('And', [causalBySlot(b, x, pastKey), keyValidity(b, mask)]),
    presentKeyName: 'present_key',
    presentValueName: 'present_value',
    presentOutput,
    queryGain: 3,
    outputGain: 2,
  });
  b.op('Identity', [out], { outputName: 'out' });
  b.output('out', DataType.FLOAT, ['batch', 'new_len', D_MODEL]);
  const presentLength = presentOutput === 'full' ? 'total_len' : 'new_len';
  b.output('present_key', DataType.FLOAT, ['batch', KV_HEADS, presentLength, HEAD_DIM]);
  b.output('present_value', DataType.FLOAT, ['batch', KV_HEADS, presentLength, HEAD_DIM]);
  return b.build();
}

function weightOf(graph: GraphSpec, name: string): { values: Float32Array; dims: readonly number[] } {
  const init = graph.initializers.find((candidate) => candidate.name === name);
  if (init === undefined) throw new Error(`no initializer ${name}`);
  const view = new DataView(init.rawData.buffer, init.rawData.byteOffset, init.rawData.byteLength);
  return { values: Float32Array.from({ length: init.rawData.byteLength / 4 }, (_, i) => view.getFloat32(i * 4, true)), dims: init.dims };
}

/** x [T, in] @ W [in, out] -> [T, out]. */
function matmul(x: Float64Array, w: Float32Array, rows: number, inDim: number, outDim: number): Float64Array {
  const out = new Float64Array(rows * outDim);
  for (let r = 0; r < rows; r += 1)
    for (let i = 0; i < inDim; i += 1) for (let o = 0; o < outDim; o += 1) out[r * outDim + o] = (out[r * outDim + o] ?? 0) + (x[r * inDim + i] ?? 0) * (w[i * outDim + o] ?? 0);
  return out;
}

/** HF Llama's rotate_half rotary embedding of one head vector at `position`. */
function rotate(vector: Float64Array, position: number): Float64Array {
  const half = HEAD_DIM / 2;
  return vector.map((value, d) => {
    const angle = position * Math.pow(10000, (-2 * (d % half)) / HEAD_DIM);
    const partner = d < half ? -(vector[d + half] ?? 0) : (vector[d - half] ?? 0);
    return value * Math.cos(angle) + partner * Math.sin(angle);
  });
}

interface Reference {
  out: Float64Array;
  /** Slot s of KV head kv over [past ; new]: what HF's present (past ++ new) holds. */
  keyAt: (kv: number, s: number) => Float64Array;
  valueAt: (kv: number, s: number) => Float64Array;
}

/** Attention of one row the way HF computes it: KV head k serves query heads [k·G, (k+1)·G). */
function reference(graph: GraphSpec, x: Float32Array, pastKey: Float32Array, pastValue: Float32Array, positions: readonly number[]): Reference {
  const w = (name: string): Float32Array => weightOf(graph, `self_attn.${name}.weight`).values;
  const input = Float64Array.from(x);
  const q = matmul(input, w('q_proj'), NEW, D_MODEL, HEADS * HEAD_DIM);
  const k = matmul(input, w('k_proj'), NEW, D_MODEL, KV_HEADS * HEAD_DIM);
  const v = matmul(input, w('v_proj'), NEW, D_MODEL, KV_HEADS * HEAD_DIM);
  const headVector = (data: Float64Array | Float32Array, t: number, h: number, width: number): Float64Array => Float64Array.from(data.subarray(t * width + h * HEAD_DIM, t * width + (h + 1) * HEAD_DIM));
  const keyAt = (kv: number, s: number): Float64Array =>
    s < PAST ? Float64Array.from(pastKey.subarray((kv * PAST + s) * HEAD_DIM, (kv * PAST + s + 1) * HEAD_DIM)) : rotate(headVector(k, s - PAST, kv, KV_HEADS * HEAD_DIM), positions[s - PAST] ?? 0);
  const valueAt = (kv: number, s: number): Float64Array =>
    s < PAST ? Float64Array.from(pastValue.subarray((kv * PAST + s) * HEAD_DIM, (kv * PAST + s + 1) * HEAD_DIM)) : headVector(v, s - PAST, kv, KV_HEADS * HEAD_DIM);
  const merged = new Float64Array(NEW * HEADS * HEAD_DIM);
  for (let t = 0; t < NEW; t += 1) {
    for (let h = 0; h < HEADS; h += 1) {
      const kv = Math.floor(h / (HEADS / KV_HEADS));
      const query = rotate(headVector(q, t, h, HEADS * HEAD_DIM), positions[t] ?? 0);
      const visible = PAST + t + 1; // causal by slot
      const scores = Array.from({ length: visible }, (_, s) => keyAt(kv, s).reduce((sum, value, d) => sum + value * (query[d] ?? 0), 0) / Math.sqrt(HEAD_DIM));
      const top = Math.max(...scores);
      const exps = scores.map((score) => Math.exp(score - top));
      const norm = exps.reduce((sum, value) => sum + value, 0);
      for (let s = 0; s < visible; s += 1) {
        const value = valueAt(kv, s);
        for (let d = 0; d < HEAD_DIM; d += 1) merged[t * HEADS * HEAD_DIM + h * HEAD_DIM + d] = (merged[t * HEADS * HEAD_DIM + h * HEAD_DIM + d] ?? 0) + ((exps[s] ?? 0) / norm) * (value[d] ?? 0);
      }
    }
  }
  return { out: matmul(merged, w('o_proj'), NEW, HEADS * HEAD_DIM, D_MODEL), keyAt, valueAt };
}

/** Row r of a present output `[batch, KV, slots, D]` as the reference would hold slots [from, from + slots). */
function expectedPresent(ref: Reference, kind: 'key' | 'value', from: number, slots: number): Float32Array {
  const at = kind === 'key' ? ref.keyAt : ref.valueAt;
  const out = new Float32Array(KV_HEADS * slots * HEAD_DIM);
  for (let kv = 0; kv < KV_HEADS; kv += 1) for (let s = 0; s < slots; s += 1) out.set(at(kv, from + s), (kv * slots + s) * HEAD_DIM);
  return out;
}

test('attention with fewer KV heads than query heads equals HF repeat_kv attention, row by row in a batch, whatever the present holds', async (t) => {
  const batch = 2;
  const x = noise(batch * NEW * D_MODEL, 5, 1.5);
  const pastSize = KV_HEADS * PAST * HEAD_DIM;
  const pastKey = noise(batch * pastSize, 6, 1.5);
  const pastValue = noise(batch * pastSize, 7, 1.5);
  const positions = [[3, 4], [10, 11]];
  const outs: Partial<Record<PresentOutput, Float32Array>> = {};
  for (const presentOutput of ['new', 'full'] as const) {
    const graph = attentionGraph(presentOutput);
    assert.deepEqual(weightOf(graph, 'self_attn.q_proj.weight').dims, [D_MODEL, HEADS * HEAD_DIM]);
    assert.deepEqual(weightOf(graph, 'self_attn.k_proj.weight').dims, [D_MODEL, KV_HEADS * HEAD_DIM]);
    const bytes = encodeModel({ irVersion: 8, opsetVersion: 17, producerName: 'test', producerVersion: '1', docString: '', graph });
    const session = await ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] });
    t.after(() => session.release());
    const outputs = await session.run({
      x: floatTensor(x, [batch, NEW, D_MODEL]),
      attention_mask: int64Tensor(Array<number>(batch * (PAST + NEW)).fill(1), [batch, PAST + NEW]),
      position_ids: int64Tensor(positions.flat(), [batch, NEW]),
      past_key: floatTensor(pastKey, [batch, KV_HEADS, PAST, HEAD_DIM]),
      past_value: floatTensor(pastValue, [batch, KV_HEADS, PAST, HEAD_DIM]),
    });
    // "full": past ++ new (HF); "new": only this call's steps.
    const slots = presentOutput === 'full' ? PAST + NEW : NEW;
    assert.deepEqual(outputs.present_key?.dims, [batch, KV_HEADS, slots, HEAD_DIM]);
    assert.deepEqual(outputs.present_value?.dims, [batch, KV_HEADS, slots, HEAD_DIM]);
    const out = floats(outputs.out);
    outs[presentOutput] = out;
    for (let r = 0; r < batch; r += 1) {
      const rowSlice = (data: Float32Array, size: number): Float32Array => data.subarray(r * size, (r + 1) * size);
      const ref = reference(graph, rowSlice(x, NEW * D_MODEL), rowSlice(pastKey, pastSize), rowSlice(pastValue, pastSize), positions[r] ?? []);
      const diff = maxAbsDiff(Float32Array.from(ref.out), rowSlice(out, NEW * D_MODEL));
      assert.ok(diff <= TOLERANCE, `${presentOutput} row ${r}: the graph differs from the reference by ${diff}`);
      for (const kind of ['key', 'value'] as const) {
        const present = rowSlice(floats(outputs[`present_${kind}`]), KV_HEADS * slots * HEAD_DIM);
        const presentDiff = maxAbsDiff(expectedPresent(ref, kind, PAST + NEW - slots, slots), present);
        assert.ok(presentDiff <= TOLERANCE, `${presentOutput} row ${r}: present_${kind} differs from the reference by ${presentDiff}`);
      }
    }
  }
  // The present outputs are a side channel: the attention itself is the same graph either way.
  assert.deepEqual(outs.full, outs.new);
});

test('the default decoder uses grouped-query attention: 12 query heads over 3 KV heads per layer', () => {
  const d = decoderDims;
  assert.equal(d.numHeads * d.headDim, d.hiddenSize);
  assert.ok(d.numKeyValueHeads < d.numHeads && d.numHeads % d.numKeyValueHeads === 0);
  for (const definition of tinyPackageDefinitions()) {
    const vocabSize = definition.vocabulary.tokens.length;
    const graph = buildDecoderGraph(definition.name, { vocabSize, logitBias: new Float32Array(vocabSize), logitGain: 1 });
    for (let layer = 0; layer < d.numLayers; layer += 1) {
      const dims = (name: string): readonly number[] => weightOf(graph, `layers.${layer}.self_attn.${name}.weight`).dims;
      assert.deepEqual(dims('q_proj'), [d.hiddenSize, 12 * d.headDim], `${definition.name} layer ${layer}: 12 query heads`);
      assert.deepEqual(dims('k_proj'), [d.hiddenSize, 3 * d.headDim], `${definition.name} layer ${layer}: 3 key heads`);
      assert.deepEqual(dims('v_proj'), [d.hiddenSize, 3 * d.headDim], `${definition.name} layer ${layer}: 3 value heads`);
      assert.deepEqual(dims('o_proj'), [12 * d.headDim, d.hiddenSize]);
    }
    const cacheInput = graph.inputs.find((input) => input.name === 'past_key_values.0.key');
    assert.deepEqual(cacheInput?.dims, ['batch', 3, 'past_len', d.headDim]);
  }
});
