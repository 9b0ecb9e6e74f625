import { test } from 'node:test';
import type { TestContext } from 'node:test';
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { AppError } from '../../src/errors.ts';
import { WorkerPool } from '../../src/inference/worker-pool.ts';
import type { WorkerPoolOptions } from '../../src/inference/worker-pool.ts';
import type { EchoRequest, EchoResponse, EchoWorkerData } from '../fixtures/workers/echo-worker.ts';

const script = new URL('../fixtures/workers/echo-worker.ts', import.meta.url);

async function startPool(t: TestContext, overrides: Partial<WorkerPoolOptions> = {}): Promise<WorkerPool<EchoRequest, EchoResponse>> {
  const pool = await WorkerPool.start<EchoRequest, EchoResponse>({
    name: 'echo', script, size: 1, workerData: () => ({}), deadlineMs: 20_000, ...overrides,
  });
  t.after(() => pool.close(0));
  return pool;
}

async function threadOf(pool: WorkerPool<EchoRequest, EchoResponse>): Promise<number> {
  const reply = await pool.run({ op: 'thread' });
  assert.equal(reply.op, 'thread');
  return reply.threadId;
}

/** Waits (polling, no timing asserts) until `condition` holds; fails after many rounds. */
async function eventually(condition: () => boolean, what: string): Promise<void> {
  for (let round = 0; round < 2_000; round++) {
    if (condition()) return;
    await sleep(10);
  }
  assert.fail(`never happened: ${what}`);
}

const hasCode = (code: string, message?: RegExp) => (error: unknown): boolean => {
  assert.ok(error instanceof AppError, `expected an AppError, got ${String(error)}`);
  assert.equal(error.code, code);
  if (message) assert.match(error.message, message);
  return true;
};

test('runs a request on a worker and reports where the worker runs', async (t) => {
  const pool = await startPool(t);
  const threadId = await threadOf(pool);
  assert.ok(threadId > 0);
  assert.deepEqual(pool.stats(), [{ id: 0, device: 'cpu', provider: 'test', busy: false, restarts: 0, batchesRun: 1 }]);
  assert.equal(pool.idleCount, 1);
});

test('transfers the request buffer to the worker and the reply buffer back', async (t) => {
  const pool = await startPool(t);
  const data = new Float32Array([1, 2, 3]);
  const pending = pool.run({ op: 'double', data }, { transfer: [data.buffer] });
  assert.equal(data.byteLength, 0, 'the sender buffer is detached, so it was moved, not copied');
  const reply = await pending;
  assert.equal(reply.op, 'double');
  if (reply.op !== 'double') return;
  assert.ok(reply.data instanceof Float32Array);
  assert.deepEqual([...reply.data], [2, 4, 6]);
});

test('two workers run two requests at the same time', async (t) => {
  const pool = await startPool(t, { size: 2 });
  const gate = new Int32Array(new SharedArrayBuffer(4));
  // Each request blocks its worker until both have arrived: only concurrent execution lets both see 2.
  const replies = await Promise.all([
    pool.run({ op: 'rendezvous', gate, parties: 2, guardMs: 15_000 }),
    pool.run({ op: 'rendezvous', gate, parties: 2, guardMs: 15_000 }),
  ]);
  assert.deepEqual(replies.map((reply) => reply.op === 'rendezvous' && reply.allArrived), [true, true]);
  assert.notEqual(replies[0]?.threadId, replies[1]?.threadId);
});

test('a crashed worker fails its request with workerFailed, is replaced, and the others are untouched', async (t) => {
  const pool = await startPool(t, { size: 2 });
  const threadsBefore = await twoThreads(pool);

  await assert.rejects(pool.run({ op: 'crash' }), hasCode('workerFailed', /^inference worker echo#[01] crashed: fixture crash requested$/));
  assert.equal(pool.restarts, 1);
  await eventually(() => pool.idleCount === 2, 'replacement ready');

  const threadsAfter = await twoThreads(pool);
  const kept = threadsAfter.filter((id) => threadsBefore.includes(id));
  assert.equal(kept.length, 1, 'the healthy worker keeps its thread');
  assert.deepEqual(pool.stats().map((worker) => worker.restarts).sort(), [0, 1]);
});

test('a worker that exits is replaced and the next request is served by the replacement', async (t) => {
  const pool = await startPool(t);
  const before = await threadOf(pool);
  await assert.rejects(pool.run({ op: 'exit', code: 7 }), hasCode('workerFailed', /echo#0 crashed: exited with code 7/));
  // No wait: the request queues until the replacement finished init.
  const after = await threadOf(pool);
  assert.notEqual(after, before);
  assert.equal(pool.stats()[0]?.restarts, 1);
});

test('a hung worker is terminated at the deadline and replaced', async (t) => {
  const pool = await startPool(t);
  const before = await threadOf(pool);
  await assert.rejects(pool.run({ op: 'hang' }, { deadlineMs: 100 }), hasCode('deadlineExceeded', /echo#0 did not answer within 100 ms/));
  const after = await threadOf(pool);
  assert.notEqual(after, before);
  await assert.rejects(pool.run({ op: 'block' }, { deadlineMs: 100 }), hasCode('deadlineExceeded'));
  assert.notEqual(await threadOf(pool), after, 'a thread blocked synchronously is terminated too');
  assert.equal(pool.restarts, 2);
});

test('a handler error fails only that request and keeps the worker', async (t) => {
  const pool = await startPool(t);
  const before = await threadOf(pool);
  await assert.rejects(pool.run({ op: 'fail' }), hasCode('badAudioFrame', /fixture rejected the request/));
  assert.equal(await threadOf(pool), before);
  assert.equal(pool.restarts, 0);
});

test('start rejects with the init error of the worker that failed, naming it', async () => {
  await assert.rejects(
    WorkerPool.start({
      name: 'echo', script, size: 2, deadlineMs: 1_000,
      workerData: (index): EchoWorkerData => (index === 1 ? { failInit: 'cannot open encoder.onnx: no such file' } : {}),
    }),
    hasCode('modelInvalid', /^inference worker echo#1 failed to initialise: cannot open encoder\.onnx: no such file$/),
  );
});

test('start rejects with workerFailed when the worker script dies before init', async () => {
  await assert.rejects(
    WorkerPool.start({ name: 'echo', script: new URL('../fixtures/workers/no-such-worker.ts', import.meta.url), size: 1, deadlineMs: 1_000, workerData: () => ({}) }),
    hasCode('workerFailed', /^inference worker echo#0 exited during init: .*no-such-worker/),
  );
});

test('start rejects invalid options with badRequest', async () => {
  await assert.rejects(
    WorkerPool.start({ name: 'echo', script, size: 0, deadlineMs: 0, workerData: () => ({}) }),
    hasCode('badRequest', /size must be an integer ≥ 1.*deadlineMs must be > 0/),
  );
});

test('a replacement whose init fails is retried with backoff until it starts', async (t) => {
  const control = new Int32Array(new SharedArrayBuffer(8));
  const pool = await startPool(t, { restartBackoffMs: 5, workerData: (): EchoWorkerData => ({ control }) });
  assert.equal(Atomics.load(control, 1), 1);
  Atomics.store(control, 0, 1); // From now on init fails.
  await assert.rejects(pool.run({ op: 'crash' }), hasCode('workerFailed'));
  await eventually(() => Atomics.load(control, 1) >= 4, 'several init attempts');
  assert.equal(pool.liveCount, 0);
  Atomics.store(control, 0, 0);
  assert.ok(await threadOf(pool));
  assert.equal(pool.restarts, 1, 'one crash, one replacement, however many init attempts');
});

test('requests beyond the free workers wait in a bounded FIFO; onIdle fires when a worker frees up', async (t) => {
  const pool = await startPool(t, { maxQueued: 2 });
  let idleEvents = 0;
  pool.onIdle(() => idleEvents++);
  const order: number[] = [];
  const runs = [0, 1, 2].map((n) => pool.run({ op: 'thread' }).then(() => order.push(n)));
  await assert.rejects(pool.run({ op: 'thread' }), hasCode('overloaded'));
  await Promise.all(runs);
  assert.deepEqual(order, [0, 1, 2]);
  assert.equal(idleEvents, 1, 'only once the queue is drained');
  assert.equal(pool.stats()[0]?.batchesRun, 3);
});

test('close rejects queued and unfinished work and terminates every worker', async () => {
  const portsBefore = countPorts();
  const pool = await WorkerPool.start<EchoRequest, EchoResponse>({ name: 'echo', script, size: 2, deadlineMs: 20_000, workerData: () => ({}) });
  assert.equal(countPorts(), portsBefore + 2);
  // Two requests in flight that never finish, and one waiting for a worker.
  const requests = [pool.run({ op: 'hang' }), pool.run({ op: 'hang' }), pool.run({ op: 'thread' })];
  const outcomes = Promise.allSettled(requests);
  await pool.close(10);
  for (const outcome of await outcomes) {
    assert.equal(outcome.status, 'rejected');
    if (outcome.status === 'rejected') hasCode('engineClosed')(outcome.reason);
  }
  await assert.rejects(pool.run({ op: 'thread' }), hasCode('engineClosed'));
  assert.equal(countPorts(), portsBefore, 'no worker thread is left behind');
});

async function twoThreads(pool: WorkerPool<EchoRequest, EchoResponse>): Promise<number[]> {
  const gate = new Int32Array(new SharedArrayBuffer(4));
  const replies = await Promise.all([0, 1].map(() => pool.run({ op: 'rendezvous', gate, parties: 2, guardMs: 15_000 })));
  return replies.map((reply) => reply.threadId);
}

function countPorts(): number {
  return process.getActiveResourcesInfo().filter((name) => name === 'MessagePort').length;
}
