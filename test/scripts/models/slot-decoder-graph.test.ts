/**
 * The `slots` decoder graph computes what the padded graph computes: same weights, and for every
 * row the same logits and new keys/values as the padded graph fed that row's prefix followed by
 * its suffix. Its inputs are arena-shaped (capacity larger than the lengths, garbage beyond them),
 * so the test also proves the graph reads only the slots its masks name.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { buildDecoderGraph } from '../../../scripts/models/decoder-graph.ts';
import type { CacheLayout } from '../../../scripts/models/decoder-graph.ts';
import { encodeModel } from '../../../scripts/models/onnx-proto.ts';
import { decoderDims } from '../../../scripts/models/tiny-dimensions.ts';
import { cacheSlots, floats, floatTensor, int64Tensor, maxAbsDiff, noise, paddedFeeds } from './tiny-model-harness.ts';
import type { CallRow } from './tiny-model-harness.ts';

const VOCAB = 37;
const TOLERANCE = 2e-5;
const d = decoderDims;

async function decoderSession(layout: CacheLayout): Promise<ort.InferenceSession> {
  const graph = buildDecoderGraph('test/slots', { vocabSize: VOCAB, logitBias: noise(VOCAB, 5, 1), logitGain: 2 }, 'new', d, layout);
  const bytes = encodeModel({ irVersion: 8, opsetVersion: 17, producerName: 'test', producerVersion: '1', docString: '', graph });
  return ort.InferenceSession.create(bytes, { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] });
}

/** `[heads, len, headDim]` slots `[0, len)` of an arena region `[heads, capacity, headDim]`. */
function firstSlots(region: Float32Array, capacity: number, len: number): Float32Array {
  const out = new Float32Array(d.numKeyValueHeads * len * d.headDim);
  for (let h = 0; h < d.numKeyValueHeads; h++) out.set(region.subarray(h * capacity * d.headDim, (h * capacity + len) * d.headDim), h * len * d.headDim);
  return out;
}

/** `[heads, a+b, headDim]` from `[heads, a, headDim]` and `[heads, b, headDim]`. */
function joinSlots(a: Float32Array, aLen: number, b: Float32Array, bLen: number): Float32Array {
  const out = new Float32Array(d.numKeyValueHeads * (aLen + bLen) * d.headDim);
  for (let h = 0; h < d.numKeyValueHeads; h++) {
    out.set(a.subarray(h * aLen * d.headDim, (h + 1) * aLen * d.headDim), h * (aLen + bLen) * d.headDim);
    out.set(b.subarray(h * bLen * d.headDim, (h + 1) * bLen * d.headDim), (h * (aLen + bLen) + aLen) * d.headDim);
  }
  return out;
}

interface Case {
  beams: number;
  prefixLengths: number[];
  prefixCapacity: number;
  /** Per row (session-major). */
  suffixLengths: number[];
  suffixCapacity: number;
  /** Per row: real new steps (the rest is right padding). */
  newLengths: number[];
}

async function compare(c: Case): Promise<void> {
  const [slots, padded] = await Promise.all([decoderSession('slots'), decoderSession('padded')]);
  try {
    const sessions = c.prefixLengths.length;
    const rows = sessions * c.beams;
    const maxNew = Math.max(...c.newLengths);
    const region = (capacity: number) => d.numKeyValueHeads * capacity * d.headDim;
    // Arenas full of noise: whatever lies beyond a length must not matter.
    const prefix = Array.from({ length: d.numLayers * 2 }, (_, i) => noise(sessions * region(c.prefixCapacity), 100 + i, 1.5));
    const suffix = Array.from({ length: d.numLayers * 2 }, (_, i) => noise(rows * region(c.suffixCapacity), 200 + i, 1.5));
    const embeds = noise(rows * maxNew * d.hiddenSize, 7, 1.7);
    const positions = Array.from({ length: rows }, (_, r) => (c.prefixLengths[Math.floor(r / c.beams)] ?? 0) + (c.suffixLengths[r] ?? 0) + 2);

    const maxPrefix = Math.max(1, ...c.prefixLengths);
    const maxSuffix = Math.max(1, ...c.suffixLengths);
    const feeds: Record<string, ort.Tensor> = {
      inputs_embeds: floatTensor(embeds, [rows, maxNew, d.hiddenSize]),
      position_ids: int64Tensor(positions.flatMap((p) => Array.from({ length: maxNew }, (_, t) => p + t)), [rows, maxNew]),
      prefix_mask: int64Tensor(c.prefixLengths.flatMap((len) => Array.from({ length: maxPrefix }, (_, s) => (s < len ? 1 : 0))), [sessions, maxPrefix]),
      suffix_mask: int64Tensor(c.suffixLengths.flatMap((len) => Array.from({ length: maxSuffix }, (_, s) => (s < len ? 1 : 0))), [rows, maxSuffix]),
    };
    for (let i = 0; i < d.numLayers; i++) {
      for (const [k, kind] of (['key', 'value'] as const).entries()) {
        feeds[`prefix_key_values.${i}.${kind}`] = floatTensor(prefix[i * 2 + k] ?? new Float32Array(), [sessions, d.numKeyValueHeads, c.prefixCapacity, d.headDim]);
        feeds[`suffix_key_values.${i}.${kind}`] = floatTensor(suffix[i * 2 + k] ?? new Float32Array(), [rows, d.numKeyValueHeads, c.suffixCapacity, d.headDim]);
      }
    }
    const got = await slots.run(feeds);

    // The reference: every row alone through the padded graph, its past = prefix ++ suffix.
    for (let r = 0; r < rows; r++) {
      const s = Math.floor(r / c.beams);
      const pLen = c.prefixLengths[s] ?? 0;
      const uLen = c.suffixLengths[r] ?? 0;
      const past = (which: number) => {
        const pre = firstSlots((prefix[which] ?? new Float32Array()).subarray(s * region(c.prefixCapacity), (s + 1) * region(c.prefixCapacity)), c.prefixCapacity, pLen);
        const suf = firstSlots((suffix[which] ?? new Float32Array()).subarray(r * region(c.suffixCapacity), (r + 1) * region(c.suffixCapacity)), c.suffixCapacity, uLen);
        return joinSlots(pre, pLen, suf, uLen);
      };
      const newLen = c.newLengths[r] ?? 1;
      const row: CallRow = {
        newData: embeds.subarray(r * maxNew * d.hiddenSize, (r * maxNew + newLen) * d.hiddenSize),
        newLen,
        pastKeys: Array.from({ length: d.numLayers }, (_, i) => past(i * 2)),
        pastValues: Array.from({ length: d.numLayers }, (_, i) => past(i * 2 + 1)),
        pastLen: pLen + uLen,
        positions: Array.from({ length: newLen }, (_, t) => (positions[r] ?? 0) + t),
      };
      const { feeds: reference } = paddedFeeds([row], { dataName: 'inputs_embeds', stepWidth: d.hiddenSize, heads: d.numKeyValueHeads, headDim: d.headDim });
      const want = await padded.run(reference);
      const gotLogits = floats(got.logits).subarray(r * maxNew * VOCAB, (r * maxNew + newLen) * VOCAB);
      assert.ok(maxAbsDiff(gotLogits, floats(want.logits)) < TOLERANCE, `row ${r}: logits differ by ${maxAbsDiff(gotLogits, floats(want.logits))}`);
      for (let i = 0; i < d.numLayers; i++) {
        for (const kind of ['key', 'value']) {
          const name = `present.${i}.${kind}`;
          const diff = maxAbsDiff(cacheSlots(got[name], r, 0, newLen), cacheSlots(want[name], 0, 0, newLen));
          assert.ok(diff < TOLERANCE, `row ${r}: ${name} differs by ${diff}`);
        }
      }
    }
  } finally {
    await Promise.all([slots.release(), padded.release()]);
  }
}

test('slots decoder = padded decoder on a decode step: 3 beams sharing their session prefix, uneven suffixes', async () => {
  await compare({ beams: 3, prefixLengths: [5, 2], prefixCapacity: 9, suffixLengths: [0, 2, 1, 3, 3, 0], suffixCapacity: 4, newLengths: [1, 1, 1, 1, 1, 1] });
});

test('slots decoder = padded decoder on a prefill: several new steps, right-padded, one session with an empty prefix', async () => {
  await compare({ beams: 1, prefixLengths: [4, 0, 6], prefixCapacity: 8, suffixLengths: [0, 0, 0], suffixCapacity: 2, newLengths: [3, 2, 1] });
});

test('slots decoder, greedy decode (one beam per session, no suffix yet)', async () => {
  await compare({ beams: 1, prefixLengths: [7, 3], prefixCapacity: 7, suffixLengths: [0, 1], suffixCapacity: 3, newLengths: [1, 1] });
});
