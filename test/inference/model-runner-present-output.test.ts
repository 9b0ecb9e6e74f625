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
 * The committed tiny models emit only the new cache steps (presentOutput "new"); HF/Optimum
 * exports emit past ++ new ("full"). The same weights built both ways must give the same results
 * through the runner, so the engine keeps serving HF-style exports.
 */
async function writeFullVariant(): Promise<{ root: string; dir: string }> {
  const definition = tinyPackageDefinitions().find((candidate) => candidate.name === NAME);
  assert.ok(definition);
  const root = await mkdtemp(join(tmpdir(), 'present-full-'));
  return { root, dir: await writeTinyPackage(definition, root, 'full') };
}

async function loadRunner(dir: string): Promise<ModelRunner> {
  return ModelRunner.load(await loadModelPackage(dir), { providers: ['cpu'], device: 'cpu', intraOpThreads: 1 });
}

const copy = (cache: KvCache): KvCache => ({ data: cache.data.slice(), length: cache.length });

/** A prefill item; caches and arrays are fresh copies, so two runners never share buffers. */
function prefillItem(runner: ModelRunner, previous: PrefillOutput | undefined, segments: number, seed: number): PrefillItem {
  const m = runner.pkg.manifest;
  const pair = Object.values(m.languagePairs)[0];
  assert.ok(pair);
  const template = previous ? pair.prompt.next : pair.prompt.first;
  const pending = previous ? [previous.topIds[0] ?? 0] : [];
  const speech = m.encoder.embeddingsPerSegment * segments;
  return {
    audio: testAudio(SEGMENT_SAMPLES * segments, seed),
    encoderCache: previous ? copy(previous.encoderCache) : emptyCache(),
    encoderNextFrame: previous ? previous.encoderCache.length : 0,
    decoderCache: previous ? copy(previous.decoderCache) : emptyCache(),
    decoderNextPosition: previous ? previous.decoderCache.length : 0,
    inputIds: Int32Array.from([...pending, ...template.prefix, ...new Array<number>(speech).fill(m.specialTokens.speechPlaceholder), ...template.suffix]),
    speechOffset: pending.length + template.prefix.length,
    topK: 8,
  };
}

/** Two chunks of two sessions (different chunk sizes and cache lengths, batched), then three decode steps of two beams each. */
async function scenario(runner: ModelRunner): Promise<{ prefills: PrefillOutput[]; decodes: DecodeOutput[] }> {
  const first = await runner.prefill([prefillItem(runner, undefined, 2, 1), prefillItem(runner, undefined, 1, 2)]);
  const [a, b] = first;
  assert.ok(a && b);
  const second = await runner.prefill([prefillItem(runner, a, 1, 3), prefillItem(runner, b, 2, 4)]);
  const decodes: DecodeOutput[] = [];
  let suffixes = second.map(() => [emptyCache(), emptyCache()]);
  for (let step = 0; step < 3; step++) {
    const items: DecodeItem[] = second.map((out, s) => ({
      baseCache: copy(out.decoderCache),
      baseNextPosition: out.decoderCache.length,
      beams: [0, 1].map((beam) => ({ suffixCache: copy(suffixes[s]?.[beam] ?? emptyCache()), token: out.topIds[beam + step] ?? 0 })),
      topK: 4,
    }));
    const outputs = await runner.decode(items);
    decodes.push(...outputs);
    suffixes = outputs.map((out) => out.beams.map((beam) => beam.extendedSuffix));
  }
  return { prefills: [...first, ...second], decodes };
}

test('a "full"-present export and a "new"-present export of the same weights give identical results through the runner', async (t) => {
  const full = await writeFullVariant();
  t.after(() => rm(full.root, { recursive: true, force: true }));
  const fullRunner = await loadRunner(full.dir);
  t.after(() => fullRunner.release());
  const newRunner = await loadRunner(join('models', NAME));
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
    assert.deepEqual([out.encoderCache.length, out.decoderCache.length], [ref.encoderCache.length, ref.decoderCache.length]);
    assert.deepEqual(out.encoderCache.data, ref.encoderCache.data, `prefill ${i}: encoder cache`);
    assert.deepEqual(out.decoderCache.data, ref.decoderCache.data, `prefill ${i}: decoder cache`);
  });
  // Second chunks: the caches grew by the new frames / tokens on top of the first chunk's.
  assert.equal(actual.prefills[2]?.encoderCache.length, 3 * 48);
  actual.decodes.forEach((out, i) => {
    const ref = expected.decodes[i];
    assert.ok(ref);
    out.beams.forEach((beam, k) => {
      const refBeam = ref.beams[k];
      assert.ok(refBeam);
      assert.deepEqual(beam.topIds, refBeam.topIds, `decode ${i} beam ${k}: top ids`);
      assert.deepEqual(beam.topLogProbs, refBeam.topLogProbs, `decode ${i} beam ${k}: log-probs`);
      assert.equal(beam.extendedSuffix.length, Math.floor(i / 2) + 1);
      assert.deepEqual(beam.extendedSuffix.data, refBeam.extendedSuffix.data, `decode ${i} beam ${k}: suffix cache`);
    });
  });
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
  const [first] = await runner.prefill([prefillItem(runner, undefined, 1, 5)]);
  assert.ok(first);
  await assert.rejects(runner.prefill([prefillItem(runner, first, 1, 6)]), (error: unknown) => {
    assert.ok(error instanceof AppError);
    assert.equal(error.code, 'modelInvalid');
    assert.match(error.message, /present\.0\.key" has 96 cache slots, expected 48/);
    return true;
  });
});
