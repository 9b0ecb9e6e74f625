import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { AppError } from '../../src/errors.ts';
import { DynamicBatcher } from '../../src/batching/dynamic-batcher.ts';
import type { DynamicBatcherOptions } from '../../src/batching/dynamic-batcher.ts';
import { FakeClock } from './fake-clock.ts';

interface Item {
  name: string;
  key?: string;
  size?: number;
}

interface Call {
  lane: string;
  names: string[];
  finish: () => void;
  fail: (error: unknown) => void;
}

/** A batcher whose batches run until the test finishes them; results are `<name>!`. */
function harness(t: TestContext, overrides: Partial<DynamicBatcherOptions<Item, string>> = {}) {
  const clock = new FakeClock();
  const calls: Call[] = [];
  let slots = 1;
  const batcher = new DynamicBatcher<Item, string>({
    lanes: ['prefill', 'decode'],
    maxBatchSize: 4,
    maxWaitMs: 10,
    maxQueueSize: 100,
    concurrency: () => slots,
    keyOf: (item) => item.key ?? item.name,
    sizeOf: (item) => item.size ?? 1,
    clock,
    run: (lane, items) => new Promise<string[]>((resolve, reject) => {
      calls.push({ lane, names: items.map((item) => item.name), finish: () => resolve(items.map((item) => `${item.name}!`)), fail: reject });
    }),
    ...overrides,
  });
  t.after(async () => {
    const closing = batcher.close();
    for (const call of calls) call.finish(); // Batches a test left running; finishing twice is a no-op.
    await closing;
  });
  const submit = (lane: string, ...names: string[]): Array<Promise<string>> => names.map((name) => {
    const result = batcher.submit(lane, { name });
    result.catch(() => undefined); // Items a test does not await are rejected by the closing batcher.
    return result;
  });
  const setSlots = (n: number): void => {
    slots = n;
  };
  return { batcher, clock, calls, submit, setSlots };
}

/** Lets the batcher's end-of-turn dispatch and any settled batch callbacks run. */
async function turn(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

const batches = (calls: readonly Call[]): string[][] => calls.map((call) => call.names);

function lastCall(calls: readonly Call[]): Call {
  const call = calls.at(-1);
  assert.ok(call, 'expected a batch to have been dispatched');
  return call;
}

/**
 * Starts one batch that keeps a run slot busy until the test finishes it. It is large (8 units in
 * flight), so a few queued units do not make the lanes "idle" while it runs.
 */
async function occupySlot(h: ReturnType<typeof harness>, name = 'blocker'): Promise<Call> {
  void h.batcher.submit('prefill', { name, size: 8 }).catch(() => undefined);
  await turn();
  return lastCall(h.calls);
}

test('a free worker takes waiting work at once when as much waits as is in flight (idle flush)', async (t) => {
  const h = harness(t);
  h.setSlots(3);
  void h.batcher.submit('decode', { name: 'x', size: 2 }).catch(() => undefined);
  await turn();
  assert.deepEqual(batches(h.calls), [['x']]);
  h.submit('decode', 'a');
  await turn();
  assert.equal(h.calls.length, 1, '1 unit waiting, 2 in flight: wait for them to come back');
  h.submit('decode', 'b');
  await turn();
  assert.deepEqual(batches(h.calls), [['x'], ['a', 'b']], '2 waiting, 2 in flight: use a free worker');
  assert.deepEqual(h.batcher.stats().decode?.flushReasons, { full: 0, timeout: 0, idle: 2 });
});

test('with several free workers, work is split into fair shares instead of one batch', async (t) => {
  const h = harness(t, { maxBatchSize: 8 });
  h.setSlots(2);
  h.submit('decode', 'a', 'b', 'c', 'd');
  await turn();
  assert.deepEqual(batches(h.calls), [['a', 'b'], ['c', 'd']]);
});

test('an item is dispatched at once when no batch is running (idle flush)', async (t) => {
  const h = harness(t);
  const [result] = h.submit('prefill', 'a');
  await turn();
  assert.deepEqual(batches(h.calls), [['a']]);
  lastCall(h.calls).finish();
  assert.equal(await result, 'a!');
  assert.deepEqual(h.batcher.stats().prefill?.flushReasons, { full: 0, timeout: 0, idle: 1 });
});

test('items submitted in the same turn share one batch', async (t) => {
  const h = harness(t);
  h.submit('prefill', 'a', 'b', 'c');
  await turn();
  assert.deepEqual(batches(h.calls), [['a', 'b', 'c']]);
});

test('a lane flushes when its queued units reach maxBatchSize (full flush)', async (t) => {
  const h = harness(t, { maxBatchSize: 3 });
  h.setSlots(2);
  await occupySlot(h);
  h.submit('decode', 'a', 'b');
  await turn();
  assert.equal(h.calls.length, 1, 'a batch is running, the lane is neither full nor timed out');
  h.submit('decode', 'c');
  await turn();
  assert.deepEqual(batches(h.calls), [['blocker'], ['a', 'b', 'c']]);
  assert.deepEqual(h.batcher.stats().decode?.flushReasons, { full: 1, timeout: 0, idle: 0 });
});

test('a lane flushes when its oldest item waited maxWaitMs (timeout flush), and no timer stays armed', async (t) => {
  const h = harness(t);
  h.setSlots(2);
  await occupySlot(h);
  h.submit('decode', 'a');
  await turn();
  assert.equal(h.clock.pendingTimers, 1);
  h.clock.advance(9);
  assert.equal(h.calls.length, 1);
  h.clock.advance(1);
  assert.deepEqual(batches(h.calls), [['blocker'], ['a']]);
  assert.deepEqual(h.batcher.stats().decode?.flushReasons, { full: 0, timeout: 1, idle: 0 });
  assert.equal(h.clock.pendingTimers, 0, 'queues are empty');
});

test('nothing is dispatched and no timer is armed while every run slot is taken; poke re-checks', async (t) => {
  const h = harness(t);
  const blocker = await occupySlot(h);
  h.submit('decode', 'a');
  await turn();
  h.clock.advance(50);
  assert.equal(h.calls.length, 1);
  assert.equal(h.clock.pendingTimers, 0);
  h.setSlots(2);
  h.batcher.poke();
  await turn();
  assert.deepEqual(batches(h.calls), [['blocker'], ['a']]);
  blocker.finish();
  await turn();
  assert.equal(h.batcher.runningBatches, 1);
});

test('the higher-priority lane goes first', async (t) => {
  const h = harness(t);
  const blocker = await occupySlot(h);
  h.submit('decode', 'd1');
  h.submit('prefill', 'p1');
  blocker.finish();
  await turn();
  assert.deepEqual(batches(h.calls), [['blocker'], ['p1']]);
  lastCall(h.calls).finish();
  await turn();
  assert.deepEqual(lastCall(h.calls).names, ['d1']);
});

test('a lower-priority lane whose oldest item waited starvationMs goes first', async (t) => {
  const h = harness(t, { starvationMs: 50 });
  const blocker = await occupySlot(h);
  h.submit('decode', 'd1');
  h.clock.advance(60);
  h.submit('prefill', 'p1');
  blocker.finish();
  await turn();
  assert.deepEqual(batches(h.calls), [['blocker'], ['d1']]);
});

test('a batch holds at most one item per key; the others wait in order', async (t) => {
  const h = harness(t);
  const blocker = await occupySlot(h);
  for (const [name, key] of [['s1-1', 's1'], ['s1-2', 's1'], ['s2-1', 's2'], ['s1-3', 's1']] as const) {
    h.batcher.submit('decode', { name, key }).catch(() => undefined);
  }
  blocker.finish();
  for (let i = 0; i < 3; i++) {
    await turn();
    lastCall(h.calls).finish();
  }
  assert.deepEqual(batches(h.calls), [['blocker'], ['s1-1', 's2-1'], ['s1-2'], ['s1-3']]);
});

test('batches are cut at maxBatchSize units, FIFO, and an oversize item goes alone', async (t) => {
  const h = harness(t);
  const blocker = await occupySlot(h);
  for (const [name, size] of [['a', 3], ['b', 2], ['c', 1], ['d', 6], ['e', 1]] as const) {
    h.batcher.submit('decode', { name, size }).catch(() => undefined);
  }
  blocker.finish();
  for (let i = 0; i < 4; i++) {
    await turn();
    lastCall(h.calls).finish();
  }
  assert.deepEqual(batches(h.calls).slice(1), [['a'], ['b', 'c'], ['d'], ['e']]);
  assert.deepEqual(h.batcher.stats().decode?.batchSizeHistogram, { '1': 1, '3': 2, '6': 1 });
});

test('submissions beyond maxQueueSize (over all lanes) are rejected with overloaded', async (t) => {
  const h = harness(t, { maxQueueSize: 2 });
  await occupySlot(h);
  h.submit('prefill', 'a');
  h.submit('decode', 'b');
  const [rejected] = h.submit('decode', 'c');
  await assert.rejects(rejected ?? Promise.resolve(), (error: unknown) => error instanceof AppError && error.code === 'overloaded');
  assert.equal(h.batcher.stats().decode?.rejected, 1);
  assert.equal(h.batcher.stats().decode?.queueDepth, 1);
});

test('a failed batch fails each of its items with the same error and the batcher keeps working', async (t) => {
  let mode: 'throw' | 'sync-throw' | 'short' | 'ok' = 'throw';
  const failure = new Error('inference exploded');
  const clock = new FakeClock();
  const batcher = new DynamicBatcher<string, string>({
    lanes: ['only'], maxBatchSize: 8, maxWaitMs: 0, maxQueueSize: 10, concurrency: () => 1, clock,
    run: (_lane, items) => {
      if (mode === 'sync-throw') throw failure;
      if (mode === 'short') return Promise.resolve(items.slice(1));
      return mode === 'throw' ? Promise.reject(failure) : Promise.resolve(items.map((item) => item.toUpperCase()));
    },
  });
  t.after(() => batcher.close());
  const failed = await Promise.allSettled([batcher.submit('only', 'a'), batcher.submit('only', 'b')]);
  assert.deepEqual(failed.map((outcome) => outcome.status === 'rejected' && outcome.reason), [failure, failure]);
  mode = 'sync-throw';
  await assert.rejects(batcher.submit('only', 'c'), (error) => error === failure);
  mode = 'short';
  await assert.rejects(batcher.submit('only', 'd'), (error: unknown) => error instanceof AppError && error.code === 'internal');
  mode = 'ok';
  assert.deepEqual(await Promise.all([batcher.submit('only', 'e'), batcher.submit('only', 'f')]), ['E', 'F']);
  assert.equal(batcher.stats().only?.batches, 4);
});

test('configure changes limits live, validates, and rejects bad values without changing anything', async (t) => {
  const h = harness(t, { maxBatchSize: 10, maxWaitMs: 100 });
  h.setSlots(3);
  await occupySlot(h);
  h.submit('decode', 'a', 'b', 'c');
  await turn();
  assert.equal(h.calls.length, 1);
  h.batcher.configure({ maxBatchSize: 3 });
  await turn();
  assert.deepEqual(lastCall(h.calls).names, ['a', 'b', 'c'], 'now full');

  h.submit('decode', 'd');
  await turn();
  h.clock.advance(20);
  assert.equal(h.calls.length, 2);
  h.batcher.configure({ maxWaitMs: 15 });
  await turn();
  assert.deepEqual(lastCall(h.calls).names, ['d'], 'waited past the new maxWaitMs');

  assert.throws(() => h.batcher.configure({ maxBatchSize: 0, maxQueueSize: 1.5 }), (error: unknown) =>
    error instanceof AppError && error.code === 'badRequest' && /maxBatchSize/.test(error.message) && /maxQueueSize/.test(error.message));
  assert.deepEqual(h.batcher.settings(), { maxBatchSize: 3, maxWaitMs: 15, maxQueueSize: 100 });
});

test('stats count batches, items, wait and compute time per lane', async (t) => {
  const h = harness(t);
  h.setSlots(2);
  const blocker = await occupySlot(h);
  h.submit('decode', 'a');
  h.clock.advance(4);
  h.submit('decode', 'b');
  await turn();
  assert.equal(h.batcher.stats().decode?.oldestWaitMs, 4, 'the oldest queued item has waited 4 ms');
  h.clock.advance(6); // a waited 10 → timeout flush of [a, b]; b waited 6.
  const batch = lastCall(h.calls);
  h.clock.advance(7);
  batch.finish();
  blocker.finish();
  await turn();
  assert.deepEqual(h.batcher.stats().decode, {
    queueDepth: 0, oldestWaitMs: null, batches: 1, items: 2, batchSizeHistogram: { '2': 1 }, flushReasons: { full: 0, timeout: 1, idle: 0 },
    computeMsTotal: 7, computeMsMean: 7, waitMsMean: 8, rejected: 0,
  });
  assert.equal(h.batcher.stats().prefill?.computeMsTotal, 17);
  assert.equal(h.batcher.runningBatches, 0);
});

test('close rejects queued items with engineClosed, waits for running batches and leaves no timers', async (t) => {
  const h = harness(t);
  h.setSlots(2);
  const blocker = await occupySlot(h);
  const [queued] = h.submit('decode', 'a');
  await turn();
  assert.equal(h.clock.pendingTimers, 1);
  const [running] = h.submit('prefill', 'x');
  let isClosed = false;
  const closing = h.batcher.close().then(() => {
    isClosed = true;
  });
  await assert.rejects(queued ?? Promise.resolve(), (error: unknown) => error instanceof AppError && error.code === 'engineClosed');
  await assert.rejects(running ?? Promise.resolve(), (error: unknown) => error instanceof AppError && error.code === 'engineClosed');
  assert.equal(h.clock.pendingTimers, 0);
  await turn();
  assert.equal(isClosed, false, 'the blocker batch is still running');
  blocker.finish();
  await closing;
  assert.equal(isClosed, true);
  await assert.rejects(h.batcher.submit('prefill', { name: 'late' }), (error: unknown) => error instanceof AppError && error.code === 'engineClosed');
  assert.equal(h.calls.length, 1);
});

test('the constructor rejects invalid settings and lanes', () => {
  const base = { maxBatchSize: 1, maxWaitMs: 0, maxQueueSize: 1, concurrency: () => 1, run: async () => [] };
  assert.throws(() => new DynamicBatcher({ ...base, lanes: [] }), /lanes/);
  assert.throws(() => new DynamicBatcher({ ...base, lanes: ['a', 'a'] }), /lanes/);
  assert.throws(() => new DynamicBatcher({ ...base, lanes: ['a'], maxWaitMs: -1 }), /maxWaitMs/);
});
