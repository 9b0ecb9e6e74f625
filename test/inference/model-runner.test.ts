import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { writeTinyPackage } from '../../scripts/models/tiny-package-files.ts';
import { tinyPackageDefinitions } from '../../scripts/models/tiny-packages.ts';
import { cacheCopyMeter, emptyCache } from '../../src/inference/worker/kv-cache.ts';
import { loadModelPackage } from '../../src/inference/manifest.ts';
import { ModelRunner } from '../../src/inference/worker/model-runner.ts';
import type { DecodeItem, PrefillItem, PrefillOutput } from '../../src/inference/worker/step-items.ts';

function noise(samples: number, seed: number): Float32Array {
  const out = new Float32Array(samples);
  let s = seed;
  for (let i = 0; i < samples; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648 - 0.5) * 0.5;
  }
  return out;
}

/** The committed model (slots cache layout) and its padded-layout twin, generated for these tests. */
const layouts: Record<'padded' | 'slots', string> = { padded: '', slots: 'models' };
before(async () => {
  layouts.padded = await mkdtemp(join(tmpdir(), 'runner-padded-'));
  const definition = tinyPackageDefinitions().find((candidate) => candidate.name === 'tiny-en-de');
  assert.ok(definition);
  await writeTinyPackage(definition, layouts.padded, { presentOutput: 'new', cacheLayout: 'padded' });
});
after(() => rm(layouts.padded, { recursive: true, force: true }));

async function load(name: string, layout: keyof typeof layouts) {
  const pkg = await loadModelPackage(join(layouts[layout], name));
  assert.equal(pkg.manifest.decoder.cacheLayout, layout);
  return ModelRunner.load(pkg, { providers: ['cpu'], device: 'cpu', intraOpThreads: 1, beamSize: 2 });
}

function firstPrefill(runner: ModelRunner, slot: number, audio: Float32Array, multiplier: number): PrefillItem {
  const m = runner.pkg.manifest;
  const pair = Object.values(m.languagePairs)[0];
  assert.ok(pair);
  const speech = m.encoder.embeddingsPerSegment * multiplier;
  return {
    audio,
    encoderCache: emptyCache(),
    encoderNextFrame: 0,
    slot,
    prefixLength: 0,
    decoderNextPosition: 0,
    inputIds: Int32Array.from([...pair.prompt.first.prefix, ...new Array<number>(speech).fill(m.specialTokens.speechPlaceholder), ...pair.prompt.first.suffix]),
    speechOffset: pair.prompt.first.prefix.length,
    topK: 8,
  };
}

function nextPrefill(runner: ModelRunner, prev: PrefillOutput, item: PrefillItem, audio: Float32Array): PrefillItem {
  const pair = Object.values(runner.pkg.manifest.languagePairs)[0];
  assert.ok(pair);
  const length = item.prefixLength + item.inputIds.length;
  return {
    audio,
    encoderCache: { data: prev.encoderCache.data.slice(), length: prev.encoderCache.length },
    encoderNextFrame: prev.encoderCache.length,
    slot: item.slot,
    prefixLength: length,
    decoderNextPosition: length,
    inputIds: Int32Array.from([prev.topIds[0] ?? 0, ...pair.prompt.next.prefix, ...new Array<number>(12).fill(1), ...pair.prompt.next.suffix]),
    speechOffset: 1 + pair.prompt.next.prefix.length,
    topK: 8,
  };
}

function prefixOf(runner: ModelRunner, slot: number, length: number): Float32Array {
  const { heads, headDim } = runner.arena.layout;
  const out = new Float32Array(heads * length * headDim);
  runner.arena.copyPrefixOut(0, slot, length, out, 0, length);
  return out;
}

function maxDiff(a: Float32Array, b: Float32Array): number {
  let worst = a.length === b.length ? 0 : Infinity;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return worst;
}

for (const layout of ['padded', 'slots'] as const) {
test(`${layout} layout: a session alone and the same session inside batches (mixed chunk sizes, context lengths, slots consecutive, with holes, sparse) give the same results`, async (t) => {
  const runner = await load('tiny-en-de', layout);
  t.after(() => runner.release());
  const slots = Array.from({ length: 10 }, () => runner.arena.allocate());
  const [soloSlot = 0, a = 0, b1 = 0, b2 = 0, near = 0] = slots;
  const far = slots[9] ?? 0;
  const alone = firstPrefill(runner, soloSlot, noise(15360 * 2, 1), 2);
  const [x] = await runner.prefill([alone]);
  // The same session in slot a, between two others (the middle row of a batch).
  const inBatch = firstPrefill(runner, a, noise(15360 * 2, 1), 2);
  const [bOut, y] = await runner.prefill([firstPrefill(runner, b1, noise(15360, 2), 1), inBatch, firstPrefill(runner, b2, noise(15360, 2), 1)]);
  assert.ok(x && y && bOut);
  assert.deepEqual([...y.topIds], [...x.topIds]);
  for (let i = 0; i < x.topLogProbs.length; i++) assert.ok(Math.abs((x.topLogProbs[i] ?? 0) - (y.topLogProbs[i] ?? 0)) < 1e-4);
  assert.equal(y.encoderCache.length, 96);
  const promptLength = alone.inputIds.length;
  assert.ok(maxDiff(prefixOf(runner, a, promptLength), prefixOf(runner, soloSlot, promptLength)) < 1e-4, 'the prompt rows written into both slots agree');

  // Second chunk: the session has a longer context than its batch mate.
  const soloNext = nextPrefill(runner, x, alone, noise(15360, 3));
  const [soloA] = await runner.prefill([soloNext]);
  const [mixA, mixB] = await runner.prefill([nextPrefill(runner, y, inBatch, noise(15360, 3)), nextPrefill(runner, bOut, firstPrefill(runner, b1, noise(1, 1), 1), noise(15360, 4))]);
  assert.ok(soloA && mixA && mixB);
  assert.deepEqual([...mixA.topIds], [...soloA.topIds]);
  const length = soloNext.prefixLength + soloNext.inputIds.length;
  assert.ok(maxDiff(prefixOf(runner, a, length), prefixOf(runner, soloSlot, length)) < 1e-4, 'contexts agree');

  // Decode: two beams of the session alone, then batched with another session — consecutive
  // slots (a, b1: fed as arena views), with a hole between (a, near) and sparse (a, far: packed),
  // each given in either order, give the same rows.
  const decode = (slot: number, out: PrefillOutput): DecodeItem => ({ slot, prefixLength: length, suffixLength: 0, position: length, tokens: Int32Array.from([out.topIds[0] ?? 0, out.topIds[1] ?? 0]), topK: 4 });
  const [d1] = await runner.decode([decode(soloSlot, soloA)]);
  const [d2] = await runner.decode([decode(a, mixA), { ...decode(b1, mixB), prefixLength: soloNext.prefixLength }]);
  const copied = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
    const before = cacheCopyMeter.bytes;
    const result = await run();
    return [result, cacheCopyMeter.bytes - before];
  };
  const [[, d3], holeCopies] = await copied(() => runner.decode([{ ...decode(near, mixB), prefixLength: 1 }, decode(a, mixA)]));
  const [[d4], sparseCopies] = await copied(() => runner.decode([decode(a, mixA), { ...decode(far, mixB), prefixLength: 1 }]));
  if (layout === 'slots') {
    // With a hole the batch is still one view: only the 4 new rows are written, nothing is packed.
    const { layers, heads, headDim } = runner.arena.layout;
    const newRowBytes = layers * 2 * heads * headDim * 4;
    assert.equal(holeCopies, 4 * newRowBytes);
    assert.ok(sparseCopies > 4 * newRowBytes + length * heads * headDim * 4, 'a sparse batch is packed');
  }
  assert.ok(d1 && d2 && d3 && d4);
  const ids = (rows: typeof d1.rows) => rows.map((row) => [...(row?.topIds ?? [])]);
  assert.deepEqual(ids(d2.rows), ids(d1.rows));
  assert.deepEqual(ids(d3.rows), ids(d1.rows));
  assert.deepEqual(ids(d4.rows), ids(d1.rows));
  assert.equal(ids(d1.rows).length, 2);
});
}

test('overlapping calls on one runner give the same results as the same calls one after the other', async (t) => {
  const runner = await load('tiny-en-de', 'padded');
  t.after(() => runner.release());
  const [sa = 0, sb = 0] = [runner.arena.allocate(), runner.arena.allocate()];
  const itemA = firstPrefill(runner, sa, noise(15360 * 2, 5), 2);
  const itemB = firstPrefill(runner, sb, noise(15360, 6), 1);
  const [a, b] = await runner.prefill([itemA, itemB]);
  assert.ok(a && b);
  // Different context lengths, so a call that reused the other's packed buffers would feed it wrong data.
  const item = (slot: number, prefixLength: number, prev: PrefillOutput): DecodeItem => ({ slot, prefixLength, suffixLength: 0, position: prefixLength, tokens: Int32Array.from([prev.topIds[0] ?? 0, -1]), topK: 4 });
  const la = itemA.inputIds.length;
  const lb = itemB.inputIds.length;
  const [soloA] = await runner.decode([item(sa, la, a)]);
  const [soloB] = await runner.decode([item(sb, lb, b)]);
  const [[overlapA], [overlapB]] = await Promise.all([runner.decode([item(sa, la, a)]), runner.decode([item(sb, lb, b)])]);
  assert.ok(soloA && soloB && overlapA && overlapB);
  assert.deepEqual(overlapA.rows, soloA.rows);
  assert.deepEqual(overlapB.rows, soloB.rows);
  assert.equal(soloA.rows[1], null, 'a row fed no token gets no candidates');
});
