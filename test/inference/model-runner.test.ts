import assert from 'node:assert/strict';
import { test } from 'node:test';
import { emptyCache } from '../../src/inference/worker/kv-cache.ts';
import { loadModelPackage } from '../../src/inference/manifest.ts';
import { ModelRunner } from '../../src/inference/worker/model-runner.ts';
import type { PrefillItem } from '../../src/inference/worker/step-items.ts';

function noise(samples: number, seed: number): Float32Array {
  const out = new Float32Array(samples);
  let s = seed;
  for (let i = 0; i < samples; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out[i] = (s / 2147483648 - 0.5) * 0.5;
  }
  return out;
}

async function load(name: string) {
  const pkg = await loadModelPackage(`models/${name}`);
  return ModelRunner.load(pkg, { providers: ['cpu'], device: 'cpu', intraOpThreads: 1 });
}

function firstPrefill(runner: ModelRunner, audio: Float32Array, multiplier: number): PrefillItem {
  const m = runner.pkg.manifest;
  const pair = Object.values(m.languagePairs)[0];
  assert.ok(pair);
  const speech = m.encoder.embeddingsPerSegment * multiplier;
  return {
    audio,
    encoderCache: emptyCache(),
    encoderNextFrame: 0,
    decoderCache: emptyCache(),
    decoderNextPosition: 0,
    inputIds: Int32Array.from([...pair.prompt.first.prefix, ...new Array<number>(speech).fill(m.specialTokens.speechPlaceholder), ...pair.prompt.first.suffix]),
    speechOffset: pair.prompt.first.prefix.length,
    topK: 8,
  };
}

function clone(item: PrefillItem): PrefillItem {
  return { ...item, audio: item.audio.slice(), inputIds: item.inputIds.slice() };
}

test('prefill of a row alone equals the same row inside a padded batch with mixed chunk sizes and cache lengths', async (t) => {
  const runner = await load('tiny-en-de');
  t.after(() => runner.release());
  const a = firstPrefill(runner, noise(15360 * 2, 1), 2);
  const b = firstPrefill(runner, noise(15360 * 1, 2), 1);
  const alone = await runner.prefill([clone(a)]);
  const together = await runner.prefill([clone(b), clone(a), clone(b)]);
  const x = alone[0];
  const y = together[1];
  assert.ok(x && y);
  assert.deepEqual([...y.topIds], [...x.topIds]);
  for (let i = 0; i < x.topLogProbs.length; i++) assert.ok(Math.abs((x.topLogProbs[i] ?? 0) - (y.topLogProbs[i] ?? 0)) < 1e-4);
  assert.equal(y.decoderCache.length, x.decoderCache.length);
  assert.equal(y.encoderCache.length, 96);
  // Second chunk: row a has a longer cache than row b; both padded in one batch.
  const m = runner.pkg.manifest;
  const pair = Object.values(m.languagePairs)[0];
  assert.ok(pair);
  const next = (prev: typeof x, audio: Float32Array, frames: number, positions: number): PrefillItem => ({
    audio,
    encoderCache: { data: prev.encoderCache.data.slice(), length: prev.encoderCache.length },
    encoderNextFrame: frames,
    decoderCache: { data: prev.decoderCache.data.slice(), length: prev.decoderCache.length },
    decoderNextPosition: positions,
    inputIds: Int32Array.from([prev.topIds[0] ?? 0, ...pair.prompt.next.prefix, ...new Array<number>(12).fill(1), ...pair.prompt.next.suffix]),
    speechOffset: 1 + pair.prompt.next.prefix.length,
    topK: 8,
  });
  const bAlone = together[0];
  assert.ok(bAlone);
  const a2 = next(x, noise(15360, 3), 96, x.decoderCache.length);
  const b2 = next(bAlone, noise(15360, 4), 48, bAlone.decoderCache.length);
  const [soloA] = await runner.prefill([a2]);
  const [mixA, mixB] = await runner.prefill([next(x, noise(15360, 3), 96, x.decoderCache.length), b2]);
  assert.ok(soloA && mixA && mixB);
  assert.deepEqual([...mixA.topIds], [...soloA.topIds]);
  assert.equal(mixA.decoderCache.length, soloA.decoderCache.length);
  let maxDiff = 0;
  for (let i = 0; i < soloA.decoderCache.data.length; i++) maxDiff = Math.max(maxDiff, Math.abs((soloA.decoderCache.data[i] ?? 0) - (mixA.decoderCache.data[i] ?? 0)));
  assert.ok(maxDiff < 1e-4, `cache differs by ${maxDiff}`);

  // Decode: beams of two sessions in one batch vs alone.
  const item = (prev: typeof x) => ({ baseCache: { data: prev.decoderCache.data.slice(), length: prev.decoderCache.length }, baseNextPosition: prev.decoderCache.length, beams: [{ suffixCache: emptyCache(), token: prev.topIds[0] ?? 0 }, { suffixCache: emptyCache(), token: prev.topIds[1] ?? 0 }], topK: 4 });
  const [d1] = await runner.decode([item(soloA)]);
  const [, d2] = await runner.decode([item(mixB), item(soloA)]);
  assert.ok(d1 && d2);
  assert.deepEqual(d2.beams.map((b) => [...b.topIds]), d1.beams.map((b) => [...b.topIds]));
  assert.equal(d2.beams[0]?.extendedSuffix.length, 1);
});

test('overlapping calls on one runner give the same results as the same calls one after the other', async (t) => {
  const runner = await load('tiny-en-de');
  t.after(() => runner.release());
  const [a, b] = await runner.prefill([firstPrefill(runner, noise(15360 * 2, 5), 2), firstPrefill(runner, noise(15360, 6), 1)]);
  assert.ok(a && b);
  // Different cache lengths, so a call that reused the other's packed buffers would feed it wrong data.
  const item = (prev: typeof a) => ({
    baseCache: { data: prev.decoderCache.data.slice(), length: prev.decoderCache.length },
    baseNextPosition: prev.decoderCache.length,
    beams: [{ suffixCache: emptyCache(), token: prev.topIds[0] ?? 0 }],
    topK: 4,
  });
  const [soloA] = await runner.decode([item(a)]);
  const [soloB] = await runner.decode([item(b), item(b)]);
  const [[overlapA], [overlapB]] = await Promise.all([runner.decode([item(a)]), runner.decode([item(b), item(b)])]);
  assert.ok(soloA && soloB && overlapA && overlapB);
  assert.deepEqual(overlapA.beams, soloA.beams);
  assert.deepEqual(overlapB.beams, soloB.beams);
});
