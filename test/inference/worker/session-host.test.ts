/**
 * The worker side of the engine, run in this thread with a real ModelRunner: sessions hosted with
 * their state, their steps batched together, faults kept to the failing row, cancellation.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { chunkSamples, loadModelPackage } from '../../../src/inference/manifest.ts';
import { ModelRunner } from '../../../src/inference/worker/model-runner.ts';
import type { StepObservation } from '../../../src/inference/messages.ts';
import { SessionHost } from '../../../src/inference/worker/session-host.ts';
import { StepLoop } from '../../../src/inference/worker/step-loop.ts';
import { testAudio } from '../../support/engine-fixtures.ts';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeTinyPackage } from '../../../scripts/models/tiny-package-files.ts';
import { tinyPackageDefinitions } from '../../../scripts/models/tiny-packages.ts';

const MODEL = 'tiny-en-es';
const PAIR = 'English -> Spanish';

async function hostWith(t: TestContext, batching = { maxBatchSize: 32, maxWaitMs: 5, maxQueueSize: 1024 }, modelsDir = 'models') {
  const pkg = await loadModelPackage(`${modelsDir}/${MODEL}`);
  const runner = await ModelRunner.load(pkg, { providers: ['cpu'], device: 'cpu', intraOpThreads: 1 });
  const batches: StepObservation[] = [];
  const steps = new StepLoop({ model: MODEL, runner, batching, onBatch: (observation) => batches.push(observation) });
  t.after(async () => {
    await steps.close();
    await runner.release();
  });
  const host = new SessionHost([{ pkg, steps, beamSize: 4, arena: runner.arena }]);
  const size = chunkSamples(pkg.manifest, 1);
  const chunk = (seed: number, index: number): Float32Array => testAudio(size * (index + 1), seed).subarray(size * index);
  return { host, steps, batches, chunk };
}

/** Three chunks per session; each session's texts in order. */
async function translateAll(host: SessionHost, chunk: (seed: number, index: number) => Float32Array, seeds: number[]): Promise<string[][]> {
  return Promise.all(seeds.map(async (seed) => {
    const id = `s${seed}`;
    host.open(id, MODEL, PAIR);
    const texts: string[] = [];
    for (let index = 0; index < 3; index++) texts.push((await host.translate(id, chunk(seed, index), 1)).text);
    return texts;
  }));
}

test('hosted sessions keep their context between chunks and translate the same alone as batched together', async (t) => {
  const { host, batches, chunk } = await hostWith(t);
  const seeds = [11, 12, 13, 14, 15, 16];
  const alone: string[][] = [];
  for (const seed of seeds) alone.push(...(await translateAll(host, chunk, [seed])));
  batches.length = 0;
  const together = await translateAll(host, chunk, seeds);
  assert.deepEqual(together, alone);
  const decodes = batches.filter((batch) => batch.phase === 'decode');
  assert.ok(decodes.some((batch) => batch.items > 1), 'decode steps of different sessions shared batches');
  assert.ok(batches.some((batch) => batch.phase === 'prefill' && batch.items > 1), 'prefills shared batches');
  assert.ok(alone.some((texts) => texts.some((text) => text.length > 0)), 'the model said something');
});

test('a failing row fails only its own session: the others of its batches get exactly their fault-free output', async (t) => {
  const { host, steps, batches, chunk } = await hostWith(t);
  const seeds = [21, 22, 23, 24];
  const clean = await translateAll(host, chunk, seeds);
  for (const seed of seeds) host.close(`s${seed}`);
  batches.length = 0;

  const victim = 's22';
  steps.injectFault('row', victim);
  const outcomes = await Promise.all(seeds.map(async (seed) => {
    const id = `s${seed}`;
    host.open(id, MODEL, PAIR);
    return host.translate(id, chunk(seed, 0), 1).then((done) => done.text, (error: Error & { code?: string }) => error);
  }));
  const failed = outcomes[1];
  assert.ok(failed instanceof Error, 'the victim failed');
  assert.match(failed.message, /injected fault/);
  assert.deepEqual(outcomes.filter((_, index) => index !== 1), [clean[0]?.[0], clean[2]?.[0], clean[3]?.[0]]);
  assert.ok(batches.some((batch) => batch.failedItems === 1 && batch.items > 1), 'the victim shared a batch with bystanders');
  // The victim's context is as before the failed chunk: it goes on translating.
  assert.equal(typeof (await host.translate(victim, chunk(22, 1), 1)).text, 'string');
});

test('reset and close stop a chunk in flight at its next step', async (t) => {
  const { host, chunk } = await hostWith(t);
  host.open('a', MODEL, PAIR);
  const running = host.translate('a', chunk(31, 0), 1);
  host.reset('a');
  await assert.rejects(running, (error: Error & { code?: string }) => error.code === 'chunkCancelled');
  const afterReset = await host.translate('a', chunk(31, 0), 1);
  host.open('fresh', MODEL, PAIR);
  assert.deepEqual(afterReset.text, (await host.translate('fresh', chunk(31, 0), 1)).text, 'after a reset the context is fresh');

  const closing = host.translate('a', chunk(31, 1), 1);
  host.close('a');
  await assert.rejects(closing, (error: Error & { code?: string }) => error.code === 'chunkCancelled');
  await assert.rejects(host.translate('a', chunk(31, 2), 1), (error: Error & { code?: string }) => error.code === 'sessionNotFound');
});

test('a model with the slots cache layout (arena views, beams sharing their prefix) translates exactly as its padded twin, batched', async (t) => {
  const definition = tinyPackageDefinitions().find((candidate) => candidate.name === MODEL);
  assert.ok(definition);
  const root = await mkdtemp(join(tmpdir(), 'padded-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  await writeTinyPackage(definition, root, { presentOutput: 'new', cacheLayout: 'padded' });
  const padded = await hostWith(t, undefined, root);
  const slots = await hostWith(t);
  const seeds = [41, 42, 43, 44, 45];
  const expected = await translateAll(padded.host, padded.chunk, seeds);
  const actual = await translateAll(slots.host, slots.chunk, seeds);
  assert.deepEqual(actual, expected);
  assert.ok(slots.batches.some((batch) => batch.phase === 'decode' && batch.items > 1), 'decode steps of different sessions shared batches');
  assert.ok(expected.some((texts) => texts.some((text) => text.length > 0)), 'the model said something');
});
