import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bestBeam, startBeams, stepBeams, type BeamSearchConfig } from '../../src/inference/worker/beam-search.ts';
import { concatCaches, emptyCache, packPast, trimCache, unpackRow, type KvCache, type KvShape } from '../../src/inference/worker/kv-cache.ts';

const shape: KvShape = { layers: 1, heads: 1, headDim: 2 };
const step = (v: number) => ({ data: Float32Array.from([v, v, -v, -v]), length: 1 });
function nth<T>(items: readonly T[], index: number): T {
  const item = items[index];
  assert.ok(item !== undefined, `missing item ${index}`);
  return item;
}
/** What a worker returns for a beam: its suffix grown by one step. */
const grow = (suffix: KvCache, v: number) => concatCaches(shape, [suffix, step(v)]);
const cands = (pairs: [number, number][]) => ({ topIds: Int32Array.from(pairs.map((p) => p[0])), topLogProbs: Float32Array.from(pairs.map((p) => Math.log(p[1]))) });
const config = (beamSize: number, maxNewTokens = 5): BeamSearchConfig => ({ beamSize, maxNewTokens, endOfChunk: new Set([2]), lengthPenalty: 1 });

test('greedy search follows the best candidate and stops at the end-of-chunk token', () => {
  let beams = startBeams(cands([[10, 0.6], [11, 0.4]]), config(1));
  assert.deepEqual(beams.map((b) => b.tokens), [[10]]);
  beams = stepBeams(beams, [{ extendedSuffix: grow(nth(beams, 0).suffixCache, 1), ...cands([[12, 0.9], [2, 0.1]]) }], config(1));
  beams = stepBeams(beams, [{ extendedSuffix: grow(nth(beams, 0).suffixCache, 2), ...cands([[2, 0.8], [13, 0.2]]) }], config(1));
  const best = bestBeam(beams, 1);
  assert.deepEqual(best.tokens, [10, 12, 2]);
  assert.equal(best.isFinished, true);
  // The cache covers every token but the last (which is fed first in the next chunk).
  assert.equal(best.suffixCache.length, 2);
  assert.deepEqual([...best.suffixCache.data], [1, 1, 2, 2, -1, -1, -2, -2]);
});

test('beam search keeps the best hypotheses, reorders caches with their parents and stops at the token limit', () => {
  const cfg = config(2, 3);
  let beams = startBeams(cands([[10, 0.5], [11, 0.4], [12, 0.1]]), cfg);
  assert.deepEqual(beams.map((b) => b.tokens), [[10], [11]]);
  // Beam [11] has a much better continuation: both survivors descend from it.
  beams = stepBeams(beams, [
    { extendedSuffix: grow(nth(beams, 0).suffixCache, 1), ...cands([[20, 0.2], [21, 0.2]]) },
    { extendedSuffix: grow(nth(beams, 1).suffixCache, 2), ...cands([[30, 0.6], [31, 0.4]]) },
  ], cfg);
  assert.deepEqual(beams.map((b) => b.tokens), [[11, 30], [11, 31]]);
  assert.deepEqual([...nth(beams, 0).suffixCache.data], [2, 2, -2, -2]);
  assert.equal(nth(beams, 0).suffixCache, nth(beams, 1).suffixCache, 'siblings share their parent cache');
  beams = stepBeams(beams, [
    { extendedSuffix: grow(nth(beams, 0).suffixCache, 3), ...cands([[40, 0.5], [2, 0.5]]) },
    { extendedSuffix: grow(nth(beams, 1).suffixCache, 4), ...cands([[41, 0.9], [2, 0.1]]) },
  ], cfg);
  assert.ok(beams.every((b) => b.isFinished), 'all beams reach the 3-token limit or the end token');
  assert.deepEqual(bestBeam(beams, 1).tokens, [11, 31, 41]);
});

test('a model that yields no usable candidate ends the chunk with no text', () => {
  const beams = startBeams({ topIds: Int32Array.from([-1, -1]), topLogProbs: new Float32Array(2) }, config(2));
  assert.equal(beams.length, 1);
  assert.deepEqual(bestBeam(beams, 1).tokens, []);
});

test('caches concatenate, trim keeping the prefix, and pack/unpack with padding', () => {
  const a = { data: Float32Array.from([1, 1, 2, 2, 3, 3, -1, -1, -2, -2, -3, -3]), length: 3 };
  const b = step(4);
  const joined = concatCaches(shape, [a, emptyCache(), b]);
  assert.deepEqual([...joined.data], [1, 1, 2, 2, 3, 3, 4, 4, -1, -1, -2, -2, -3, -3, -4, -4]);
  const trimmed = trimCache(shape, joined, 3, 1);
  assert.deepEqual([...trimmed.data], [1, 1, 3, 3, 4, 4, -1, -1, -3, -3, -4, -4]);
  const packed = packPast(shape, [[a], [b]]);
  assert.equal(packed.pastLen, 3);
  assert.deepEqual(packed.lengths, [3, 1]);
  assert.deepEqual([...nth(packed.keys, 0)], [1, 1, 2, 2, 3, 3, 4, 4, 0, 0, 0, 0]);
  // present = packed past + one new slot per row; row 1 keeps its 1 real past slot + the new one.
  const keys = Float32Array.from([1, 1, 2, 2, 3, 3, 9, 9, 4, 4, 0, 0, 0, 0, 8, 8]);
  const row = unpackRow(shape, { keys: [keys], values: [keys], total: 4 }, 1, { from: 0, count: 1 }, 3, 1);
  assert.equal(row.length, 2);
  assert.deepEqual([...row.data], [4, 4, 8, 8, 4, 4, 8, 8]);
  // A beam's suffix: past slots [1, 3) of row 0 plus its new slot.
  const suffix = unpackRow(shape, { keys: [keys], values: [keys], total: 4 }, 0, { from: 1, count: 2 }, 3, 1);
  assert.deepEqual([...suffix.data], [2, 2, 3, 3, 9, 9, 2, 2, 3, 3, 9, 9]);
});
