import assert from 'node:assert/strict';
import { test } from 'node:test';
import { bestBeam, startBeams, stepBeams, type BeamSearchConfig } from '../../src/inference/worker/beam-search.ts';
import { packPast, trimCache, unpackRow, type KvShape } from '../../src/inference/worker/kv-cache.ts';

const shape: KvShape = { layers: 1, heads: 1, headDim: 2 };
function nth<T>(items: readonly T[], index: number): T {
  const item = items[index];
  assert.ok(item !== undefined, `missing item ${index}`);
  return item;
}
const cands = (pairs: [number, number][]) => ({ topIds: Int32Array.from(pairs.map((p) => p[0])), topLogProbs: Float32Array.from(pairs.map((p) => Math.log(p[1]))) });
const config = (beamSize: number, maxNewTokens = 5): BeamSearchConfig => ({ beamSize, maxNewTokens, endOfChunk: new Set([2]), lengthPenalty: 1 });

test('greedy search follows the best candidate, stays in row 0 and stops at the end-of-chunk token', () => {
  let beams = startBeams(cands([[10, 0.6], [11, 0.4]]), config(1));
  assert.deepEqual(beams.map((b) => b.tokens), [[10]]);
  for (const next of [cands([[12, 0.9], [2, 0.1]]), cands([[2, 0.8], [13, 0.2]])]) {
    const stepped = stepBeams(beams, [next], config(1));
    assert.deepEqual(stepped.copies, []);
    beams = stepped.beams;
  }
  const best = bestBeam(beams, 1);
  assert.deepEqual(best.tokens, [10, 12, 2]);
  assert.equal(best.isFinished, true);
  assert.equal(best.row, 0);
});

test('beam search keeps the best hypotheses; a second child of one parent gets a free row and a copy of its suffix', () => {
  const cfg = config(2, 3);
  let beams = startBeams(cands([[10, 0.5], [11, 0.4], [12, 0.1]]), cfg);
  assert.deepEqual(beams.map((b) => [b.tokens, b.row]), [[[10], 0], [[11], 1]]);
  // Beam [11] has a much better continuation: both survivors descend from it.
  let stepped = stepBeams(beams, [cands([[20, 0.2], [21, 0.2]]), cands([[30, 0.6], [31, 0.4]])], cfg);
  assert.deepEqual(stepped.beams.map((b) => [b.tokens, b.row]), [[[11, 30], 1], [[11, 31], 0]]);
  // Row 0 (the dropped parent's) receives row 1's suffix: the parent's one fed token.
  assert.deepEqual(stepped.copies, [{ from: 1, to: 0, length: 1 }]);
  beams = stepped.beams;
  stepped = stepBeams(beams, [cands([[40, 0.5], [2, 0.5]]), cands([[41, 0.9], [2, 0.1]])], cfg);
  assert.ok(stepped.beams.every((b) => b.isFinished), 'all beams reach the 3-token limit or the end token');
  assert.deepEqual(bestBeam(stepped.beams, 1).tokens, [11, 31, 41]);
  assert.equal(bestBeam(stepped.beams, 1).row, 0);
});

test('a finished hypothesis keeps its row while live beams take and copy the others', () => {
  const cfg = config(3, 6);
  let beams = startBeams(cands([[2, 0.5], [10, 0.3], [11, 0.2]]), cfg);
  assert.deepEqual(beams.map((b) => [b.tokens, b.row, b.isFinished]), [[[2], 0, true], [[10], 1, false], [[11], 2, false]]);
  // Both live beams' children come from [10] (row 1); the finished [2] keeps row 0.
  const stepped = stepBeams(beams, [cands([[20, 0.9], [21, 0.9]]), cands([[30, 0.01], [31, 0.01]])], cfg);
  assert.deepEqual(stepped.beams.map((b) => [b.tokens, b.row]), [[[10, 20], 1], [[10, 21], 2], [[2], 0]]);
  assert.deepEqual(stepped.copies, [{ from: 1, to: 2, length: 1 }]);
  beams = stepped.beams;
  assert.equal(nth(beams, 2).isFinished, true);
});

test('a model that yields no usable candidate ends the chunk with no text', () => {
  const beams = startBeams({ topIds: Int32Array.from([-1, -1]), topLogProbs: new Float32Array(2) }, config(2));
  assert.equal(beams.length, 1);
  assert.deepEqual(bestBeam(beams, 1).tokens, []);
});

test('encoder caches trim keeping the prefix, and pack/unpack with padding', () => {
  const a = { data: Float32Array.from([1, 1, 2, 2, 3, 3, -1, -1, -2, -2, -3, -3]), length: 3 };
  const b = { data: Float32Array.from([4, 4, -4, -4]), length: 1 };
  const trimmed = trimCache(shape, a, 2, 1);
  assert.deepEqual([...trimmed.data], [1, 1, 3, 3, -1, -1, -3, -3]);
  const packed = packPast(shape, [[a], [b]]);
  assert.equal(packed.pastLen, 3);
  assert.deepEqual(packed.lengths, [3, 1]);
  assert.deepEqual([...nth(packed.keys, 0)], [1, 1, 2, 2, 3, 3, 4, 4, 0, 0, 0, 0]);
  // present = packed past + one new slot per row; row 1 keeps its 1 real past slot + the new one.
  const keys = Float32Array.from([1, 1, 2, 2, 3, 3, 9, 9, 4, 4, 0, 0, 0, 0, 8, 8]);
  const row = unpackRow(shape, { keys: [keys], values: [keys], total: 4 }, 1, { from: 0, count: 1 }, 3, 1);
  assert.equal(row.length, 2);
  assert.deepEqual([...row.data], [4, 4, 8, 8, 4, 4, 8, 8]);
});
