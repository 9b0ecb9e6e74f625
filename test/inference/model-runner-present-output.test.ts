import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { writeTinyPackage } from '../../scripts/models/tiny-package-files.ts';
import { tinyPackageDefinitions } from '../../scripts/models/tiny-packages.ts';
import { AppError } from '../../src/errors.ts';
import type { DecodeItem, DecodeOutput, PrefillItem, PrefillOutput } from '../../src/inference/worker/step-items.ts';
import { emptyCache, type KvCache } from '../../src/inference/worker/kv-cache.ts';
import { loadModelPackage } from '../../src/inference/manifest.ts';
import { ModelRunner } from '../../src/inference/worker/model-runner.ts';
import { testAudio } from '../support/engine-fixtures.ts';

const NAME = 'tiny-en-de';
const SEGMENT_SAMPLES = 15360;

/**
 * Graphs with the padded cache layout emit either only the new cache steps (presentOutput "new")
 * or, as HF/Optimum exports do, past ++ new ("full"). The same weights built both ways must give
 * the same results through the runner, so the engine keeps serving HF-style exports.
 */
async function writePaddedVariant(presentOutput: 'full' | 'new'): Promise<{ root: string; dir: string }> {
  const definition = tinyPackageDefinitions().find((candidate) => candidate.name === NAME);
  assert.ok(definition);
  const root = await mkdtemp(join(tmpdir(), `present-${presentOutput}-`));
  return { root, dir: await writeTinyPackage(definition, root, { presentOutput, cacheLayout: 'padded' }) };
}

const writeFullVariant = (): Promise<{ root: string; dir: string }> => writePaddedVariant('full');

async function loadRunner(dir: string): Promise<ModelRunner> {
  return ModelRunner.load(await loadModelPackage(dir), { providers: ['cpu'], device: 'cpu', intraOpThreads: 1, beamSize: 2 });
}

const copy = (cache: KvCache): KvCache => ({ data: cache.data.slice(), length: cache.length });

/** A prefill item of the session in `slot`; arrays are fresh copies, so two runners never share buffers. */
function prefillItem(runner: ModelRunner, slot: number, previous: { out: PrefillOutput; item: PrefillItem } | undefined, segments: number, seed: number): PrefillItem {
  const m = runner.pkg.manifest;
  const pair = Object.values(m.languagePairs)[0];
  assert.ok(pair);
  const template = previous ? pair.prompt.next : pair.prompt.first;
  const pending = previous ? [previous.out.topIds[0] ?? 0] : [];
  const speech = m.encoder.embeddingsPerSegment * segments;
  const prefixLength = previous ? previous.item.prefixLength + previous.item.inputIds.length : 0;
  return {
    audio: testAudio(SEGMENT_SAMPLES * segments, seed),
    encoderCache: previous ? copy(previous.out.encoderCache) : emptyCache(),
    encoderNextFrame: previous ? previous.out.encoderCache.length : 0,
    slot,
    prefixLength,
    decoderNextPosition: prefixLength,
    inputIds: Int32Array.from([...pending, ...template.prefix, ...new Array<number>(speech).fill(m.specialTokens.speechPlaceholder), ...template.suffix]),
    speechOffset: pending.length + template.prefix.length,
    topK: 8,
  };
}

/** Layer 0's keys of a slot's prefix `[0, length)` and of its two beams' suffixes `[0, suffixLength)`. */
function cacheOf(runner: ModelRunner, slot: number, length: number, suffixLength: number): Float32Array[] {
  const { heads, headDim } = runner.arena.layout;
  const prefix = new Float32Array(heads * length * headDim);
  runner.arena.copyPrefixOut(0, slot, length, prefix, 0, length);
  const suffixes = [0, 1].map((beam) => {
    const out = new Float32Array(heads * suffixLength * headDim);
    runner.arena.copySuffixOut(0, slot, beam, suffixLength, out, 0, suffixLength);
    return out;
  });
  return [prefix, ...suffixes];
}

/** Two chunks of two sessions (different chunk sizes and context lengths, batched), then three decode steps of two beams each. */
async function scenario(runner: ModelRunner): Promise<{ prefills: PrefillOutput[]; decodes: DecodeOutput[]; caches: Float32Array[][] }> {
  const slots = [runner.arena.allocate(), runner.arena.allocate()];
  const firstItems = [prefillItem(runner, slots[0] ?? 0, undefined, 2, 1), prefillItem(runner, slots[1] ?? 0, undefined, 1, 2)];
  const first = await runner.prefill(firstItems);
  const secondItems = first.map((out, s) => prefillItem(runner, slots[s] ?? 0, { out, item: firstItems[s] as PrefillItem }, s === 0 ? 1 : 2, 3 + s));
  const second = await runner.prefill(secondItems);
  const lengths = secondItems.map((item) => item.prefixLength + item.inputIds.length);
  const decodes: DecodeOutput[] = [];
  for (let step = 0; step < 3; step++) {
    const items: DecodeItem[] = second.map((out, s) => ({
      slot: slots[s] ?? 0,
      prefixLength: lengths[s] ?? 0,
      suffixLength: step,
      position: (lengths[s] ?? 0) + step,
      tokens: Int32Array.from([0, 1].map((beam) => out.topIds[beam + step] ?? 0)),
      topK: 4,
    }));
    decodes.push(...(await runner.decode(items)));
  }
  return { prefills: [...first, ...second], decodes, caches: slots.map((slot, s) => cacheOf(runner, slot, lengths[s] ?? 0, 3)) };
}

test('a "full"-present export and a "new"-present export of the same weights give identical results through the runner', async (t) => {
  const full = await writeFullVariant();
  t.after(() => rm(full.root, { recursive: true, force: true }));
  const fullRunner = await loadRunner(full.dir);
  t.after(() => fullRunner.release());
  const padded = await writePaddedVariant('new');
  t.after(() => rm(padded.root, { recursive: true, force: true }));
  const newRunner = await loadRunner(padded.dir);
  t.after(() => newRunner.release());
  assert.equal(fullRunner.pkg.manifest.decoder.presentOutput, 'full');
  assert.equal(fullRunner.pkg.manifest.encoder.presentOutput, 'full');
  assert.equal(newRunner.pkg.manifest.decoder.presentOutput, 'new');
  assert.equal(newRunner.pkg.manifest.encoder.presentOutput, 'new');

  const expected = await scenario(fullRunner);
  const actual = await scenario(newRunner);
  // Bit for bit: the attention is the same graph, and the runner copies cache slots, never recomputes them.
  actual.prefills.forEach((out, i) => {
    const ref = expected.prefills[i];
    assert.ok(ref);
    assert.deepEqual(out.topIds, ref.topIds, `prefill ${i}: top ids`);
    assert.deepEqual(out.topLogProbs, ref.topLogProbs, `prefill ${i}: log-probs`);
    assert.equal(out.encoderCache.length, ref.encoderCache.length);
    assert.deepEqual(out.encoderCache.data, ref.encoderCache.data, `prefill ${i}: encoder cache`);
  });
  // Second chunks: the caches grew by the new frames / tokens on top of the first chunk's.
  assert.equal(actual.prefills[2]?.encoderCache.length, 3 * 48);
  actual.decodes.forEach((out, i) => {
    const ref = expected.decodes[i];
    assert.ok(ref);
    assert.equal(out.rows.length, 2);
    out.rows.forEach((beam, k) => {
      const refBeam = ref.rows[k];
      assert.ok(beam && refBeam);
      assert.deepEqual(beam.topIds, refBeam.topIds, `decode ${i} beam ${k}: top ids`);
      assert.deepEqual(beam.topLogProbs, refBeam.topLogProbs, `decode ${i} beam ${k}: log-probs`);
    });
  });
  // The decoder caches the two runners wrote into their arenas: prefix and both beams' suffixes.
  actual.caches.forEach((parts, s) => parts.forEach((part, k) => assert.deepEqual(part, expected.caches[s]?.[k], `session ${s} cache part ${k}`)));
  assert.ok(actual.caches.every((parts) => parts.every((part) => part.some((v) => v !== 0))), 'every cache part was written');
});

test('a manifest whose presentOutput disagrees with its graphs is rejected on the first call with a cache', async (t) => {
  const full = await writeFullVariant();
  t.after(() => rm(full.root, { recursive: true, force: true }));
  const manifestPath = join(full.dir, 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestPath, 'utf8')) as { encoder: Record<string, unknown>; decoder: Record<string, unknown> };
  manifest.encoder.presentOutput = 'new';
  manifest.decoder.presentOutput = 'new';
  await writeFile(manifestPath, JSON.stringify(manifest));
  const runner = await loadRunner(full.dir);
  t.after(() => runner.release());
  // Without a past the two layouts coincide; with one, the slot count gives the mismatch away.
  const slot = runner.arena.allocate();
  const item = prefillItem(runner, slot, undefined, 1, 5);
  const [first] = await runner.prefill([item]);
  assert.ok(first);
  await assert.rejects(runner.prefill([prefillItem(runner, slot, { out: first, item }, 1, 6)]), (error: unknown) => {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, 'modelInvalid');
    assert.match(error.message, /present\.0\.key" has 96 cache slots, expected 48/);
    return true;
  });
});
