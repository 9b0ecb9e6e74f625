/**
 * Multi-device placement on the real engine. Device groups named cuda:0/cuda:1 run on the CPU
 * provider here (executionProviders ["cpu"]), which is all placement needs: least-loaded balances
 * open streams, round-robin takes turns, most-free-memory follows the memory probe and falls back
 * to least-loaded when memory is unknown, and a pair → GPU map restricts where a pair may go.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createEngine, type Engine, type PlacementOptions } from '../../src/inference/engine/engine.ts';
import type { DeviceGroupOptions } from '../../src/inference/engine-options.ts';
import type { TranslationStream } from '../../src/inference/translation-engine.ts';
import { modelsDir } from './support/ops-harness.ts';

const german = 'English -> German';
const chinese = 'English -> Chinese';

async function twoGpuEngine(t: TestContext, placement: PlacementOptions, devices?: DeviceGroupOptions[]): Promise<Engine> {
  const engine = await createEngine({
    modelsDir,
    models: ['tiny-en-de', 'tiny-en-zh'],
    devices: devices ?? [{ device: 'cuda:0', workers: 1, intraOpThreads: 1 }, { device: 'cuda:1', workers: 1, intraOpThreads: 1 }],
    executionProviders: ['cpu'],
    batching: { maxBatchSize: 8, maxWaitMs: 5, maxQueueSize: 64 },
    requestDeadlineMs: 30_000,
    streamHighWaterMs: 20_000,
    streamMaxPendingMs: 60_000,
    ...placement,
  });
  t.after(() => engine.close(1_000));
  return engine;
}

/** Open streams per configured device (the groups run on the CPU here, and are named so: `cpu (configured as cuda:0)`). */
function openStreams(engine: Engine): Record<string, number> {
  return Object.fromEntries(engine.deviceLoads().map((load) => [/\(configured as (cuda:\d+)\)$/.exec(load.device)?.[1] ?? load.device, load.openStreams]));
}

test('least-loaded placement balances open streams over the groups serving a pair', async (t) => {
  const engine = await twoGpuEngine(t, { placement: 'least-loaded' });
  const streams: TranslationStream[] = [];
  for (let i = 0; i < 4; i++) streams.push(engine.openStream({ languagePair: german, latencyMultiplier: 2 }));
  assert.deepEqual(openStreams(engine), { 'cuda:0': 2, 'cuda:1': 2 });
  streams[0]?.close();
  streams[2]?.close();
  assert.deepEqual(openStreams(engine), { 'cuda:0': 0, 'cuda:1': 2 });
  engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  engine.openStream({ languagePair: chinese, latencyMultiplier: 2 });
  assert.deepEqual(openStreams(engine), { 'cuda:0': 2, 'cuda:1': 2 }, 'new streams go to the emptier device');
});

test('round-robin placement takes turns per pair, whatever the load', async (t) => {
  const engine = await twoGpuEngine(t, { placement: 'round-robin' });
  const first = engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  first.close();
  engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  assert.deepEqual(openStreams(engine), { 'cuda:0': 1, 'cuda:1': 1 }, 'third stream went back to cuda:0 by turn');
  engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  assert.deepEqual(openStreams(engine), { 'cuda:0': 1, 'cuda:1': 2 });
});

test('most-free-memory placement follows the memory probe and falls back to least-loaded when memory is unknown', async (t) => {
  const free: Record<string, number | null> = { 'cuda:0': 2e9, 'cuda:1': 6e9 };
  const engine = await twoGpuEngine(t, { placement: 'most-free-memory', freeMemoryBytes: (device) => free[device] ?? null });
  engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  assert.deepEqual(openStreams(engine), { 'cuda:0': 0, 'cuda:1': 2 });
  free['cuda:0'] = 8e9;
  engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  assert.deepEqual(openStreams(engine), { 'cuda:0': 1, 'cuda:1': 2 });
  free['cuda:0'] = null;
  engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  assert.deepEqual(openStreams(engine), { 'cuda:0': 2, 'cuda:1': 2 }, 'unknown memory: least-loaded');
  assert.equal(engine.deviceLoads().find((load) => load.device === 'cpu (configured as cuda:1)')?.freeMemoryBytes, 6e9, 'reported per device');
});

test('a pair → GPU map limits where a pair may be placed', async (t) => {
  const engine = await twoGpuEngine(t, { placement: 'least-loaded' }, [
    { device: 'cuda:0', workers: 1, intraOpThreads: 1, languagePairs: [chinese] },
    { device: 'cuda:1', workers: 1, intraOpThreads: 1 },
  ]);
  for (let i = 0; i < 3; i++) engine.openStream({ languagePair: german, latencyMultiplier: 2 });
  assert.deepEqual(openStreams(engine), { 'cuda:0': 0, 'cuda:1': 3 }, 'German only where it is served');
  engine.openStream({ languagePair: chinese, latencyMultiplier: 2 });
  assert.deepEqual(openStreams(engine), { 'cuda:0': 1, 'cuda:1': 3 }, 'Chinese on the less loaded of its two devices');
  assert.deepEqual(engine.deviceLoads().map((load) => load.languagePairs), [[chinese], [german, chinese]]);
});
