import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendRow, concatCaches, emptyCache, PackArena, packPast, unpackRow, type KvShape } from '../../src/inference/worker/kv-cache.ts';

// Two layers and two heads, so block offsets of every (layer, key|value, head) are exercised.
const shape: KvShape = { layers: 2, heads: 2, headDim: 3 };
const blocks = shape.layers * 2 * shape.heads;

/** A compact cache whose value at (block, slot, d) is `base + block * 100 + slot * 10 + d`. */
function compact(length: number, base: number) {
  const data = new Float32Array(blocks * length * shape.headDim);
  for (let block = 0; block < blocks; block++)
    for (let s = 0; s < length; s++) for (let d = 0; d < shape.headDim; d++) data[(block * length + s) * shape.headDim + d] = base + block * 100 + s * 10 + d;
  return { data, length };
}

/** Per-layer present tensors `[batch, heads, total, headDim]`, distinct values per row. */
function present(batch: number, total: number) {
  const tensor = (layer: number, kv: number) =>
    Float32Array.from({ length: batch * shape.heads * total * shape.headDim }, (_, i) => 10_000 * (1 + layer * 2 + kv) + i);
  return { keys: [tensor(0, 0), tensor(1, 0)], values: [tensor(0, 1), tensor(1, 1)], total };
}

test('appendRow equals the head cache concatenated with the row\'s new slots cut from present', () => {
  const head = compact(4, 0.5);
  const tensors = present(3, 5);
  for (const [row, newStart, newCount] of [[1, 0, 2], [2, 1, 3], [0, 0, 5]] as const) {
    const newOnly = unpackRow(shape, tensors, row, { from: 0, count: 0 }, newStart, newCount);
    const expected = concatCaches(shape, [head, newOnly]);
    const actual = appendRow(shape, head, tensors, row, newStart, newCount);
    assert.equal(actual.length, 4 + newCount);
    assert.deepEqual(actual.data, expected.data, `row ${row}`);
  }
});

test('appendRow onto an empty cache is just the new slots, and appending nothing copies the head', () => {
  const tensors = present(2, 1);
  const fresh = appendRow(shape, emptyCache(), tensors, 1, 0, 1);
  assert.deepEqual(fresh, unpackRow(shape, tensors, 1, { from: 0, count: 0 }, 0, 1));
  const head = compact(2, 7);
  const same = appendRow(shape, head, tensors, 0, 0, 0);
  assert.deepEqual(same, head);
  assert.notEqual(same.data, head.data);
});

test('packing into a reused arena gives exactly what fresh arrays give, padding zeroed over stale data', () => {
  const arena = new PackArena();
  // Long rows first, so later, shorter batches land on stores full of old values.
  const batches = [
    [[compact(6, 1), compact(2, 2)], [compact(5, 3)], [compact(7, 4)]],
    [[compact(1, 5)], [compact(3, 6), emptyCache()]],
    [[emptyCache()], [compact(2, 7)]],
    [[compact(9, 8)]],
  ];
  for (const [i, rows] of batches.entries()) {
    const fresh = packPast(shape, rows);
    const reused = packPast(shape, rows, arena);
    assert.deepEqual(reused.lengths, fresh.lengths);
    assert.equal(reused.pastLen, fresh.pastLen);
    assert.deepEqual(reused.keys, fresh.keys, `batch ${i}: keys`);
    assert.deepEqual(reused.values, fresh.values, `batch ${i}: values`);
  }
});

test('an arena hands out views of one store per index, grown only when too small', () => {
  const arena = new PackArena();
  const first = arena.take(0, 100);
  const smaller = arena.take(0, 40);
  assert.equal(smaller.length, 40);
  assert.equal(smaller.buffer, first.buffer);
  assert.notEqual(arena.take(1, 40).buffer, first.buffer);
  const larger = arena.take(0, 101);
  assert.equal(larger.length, 101);
  assert.notEqual(larger.buffer, first.buffer);
});
