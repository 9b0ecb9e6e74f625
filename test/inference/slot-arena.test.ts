import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SlotArena } from '../../src/inference/worker/slot-arena.ts';

// 1 layer, 2 heads, head dim 1: a position is one number per head, easy to read.
const layout = { layers: 1, heads: 2, headDim: 1, prefixCapacity: 6, beams: 2, suffixCapacity: 3 };

/** `rows` new rows of `count` steps each: head h of step t of row r holds (r+1)·100 + h·10 + t. */
function newRows(rows: number, count: number) {
  const keys = Float32Array.from({ length: rows * 2 * count }, (_, i) => {
    const r = Math.floor(i / (2 * count));
    const h = Math.floor(i / count) % 2;
    return (r + 1) * 100 + h * 10 + (i % count);
  });
  return { keys: [keys], values: [keys.map((v) => -v)], total: count };
}

function prefixOf(arena: SlotArena, slot: number, length: number): number[][] {
  const out = new Float32Array(2 * length);
  arena.copyPrefixOut(0, slot, length, out, 0, length);
  return [[...out.subarray(0, length)], [...out.subarray(length)]];
}

test('prefix rows are written in place, a beam suffix joins the prefix at the end of a chunk, and the window trim keeps the system prompt', () => {
  const arena = new SlotArena(layout, 1);
  const slot = arena.allocate();
  arena.writePrefix(slot, 0, newRows(1, 3), 0, 0, 3);
  assert.deepEqual(prefixOf(arena, slot, 3), [[100, 101, 102], [110, 111, 112]]);
  // Beam 1 decodes two tokens; beam 0 gets a copy of them (a reorder), then diverges.
  arena.writeSuffix(slot, 1, 0, newRows(2, 1), 1, 0);
  arena.writeSuffix(slot, 1, 1, newRows(1, 1), 0, 0);
  arena.copySuffix(slot, 1, 0, 2);
  arena.writeSuffix(slot, 1, 1, newRows(3, 1), 2, 0);
  const length = arena.commit(slot, 3, 0, 2, 10, 1);
  assert.equal(length, 5);
  assert.deepEqual(prefixOf(arena, slot, 5), [[100, 101, 102, 200, 100], [110, 111, 112, 210, 110]]);
  // Window 3, keep 1: the first position and the two most recent.
  const trimmed = arena.commit(slot, 5, 1, 1, 3, 1);
  assert.equal(trimmed, 3);
  assert.deepEqual(prefixOf(arena, slot, 3), [[100, 100, 200], [110, 110, 210]]);
});

test('slots are dense, zeroed when returned, and survive the arenas growing', () => {
  const arena = new SlotArena(layout, 1);
  const a = arena.allocate();
  arena.writePrefix(a, 0, newRows(1, 2), 0, 0, 2);
  const b = arena.allocate();
  assert.deepEqual([a, b], [0, 1]);
  assert.equal(arena.capacity, 2);
  arena.allocate();
  assert.equal(arena.capacity, 4, 'grown by doubling');
  assert.deepEqual(prefixOf(arena, a, 2), [[100, 101], [110, 111]], 'contents kept across growth');
  arena.release(a);
  assert.equal(arena.allocate(), 0, 'the lowest free slot first');
  assert.deepEqual(prefixOf(arena, 0, 2), [[0, 0], [0, 0]]);
  assert.equal(arena.slotsInUse, 3);
  // A consecutive range is one view: slots [1, 3) of the prefix arena.
  assert.equal(arena.prefixView(0, 1, 2).length, 2 * 2 * 6);
  assert.throws(() => arena.writePrefix(1, 5, newRows(1, 2), 0, 0, 2), /exceed the capacity 6/);
  assert.equal(arena.bytesPerSlot, (2 * 6 + 2 * 2 * 3) * 2 * 4);
});
