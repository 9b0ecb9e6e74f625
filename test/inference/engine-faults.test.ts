import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collector, startEngine, streamAll, testAudio } from '../support/engine-fixtures.ts';
import { until } from '../app/wait.ts';

const PAIR = 'English -> Spanish';

test('a crashed worker is replaced: the sessions it hosted lose one chunk and their context, not their text; the other worker\'s are untouched', async (t) => {
  const engine = await startEngine({ devices: [{ device: 'cpu', workers: 2, intraOpThreads: 1 }] });
  t.after(() => engine.close());
  const affected = collector();
  const victim = engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: affected.listener });
  const others = Array.from({ length: 3 }, () => collector());
  const bystanders = others.map((c) => engine.openStream({ languagePair: 'English -> Italian', latencyMultiplier: 1, listener: c.listener }));
  const background = Promise.all(bystanders.map((s, i) => streamAll(s, testAudio(15360 * 4, 20 + i))));
  engine.injectWorkerFault('crash', 'tiny-en-es');
  await streamAll(victim, testAudio(15360, 30));
  await streamAll(victim, testAudio(15360 * 2, 31));
  await background;
  assert.equal(affected.errors.length, 1);
  assert.match(affected.errors[0]?.error.message ?? '', /crashed/);
  assert.deepEqual(affected.chunks.map((r) => r.chunkIndex), [1, 2], 'the affected session recovers on its next chunks');
  for (const c of others) {
    assert.ok(c.errors.length <= 1, 'a session hosted by the crashed worker loses the chunk in flight, no more');
    assert.equal(c.chunks.length + c.errors.length, 4);
  }
  assert.ok(others.some((c) => c.errors.length === 0), 'sessions on the other worker never notice');
  assert.equal(engine.stats().workerRestarts, 1);
  assert.equal(engine.stats().workers.length, 2);
});

test('a failing row fails only its own session: bystanders in the same model and the same batches get their fault-free output', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.close());
  const seeds = [61, 62, 63, 64];
  const run = async () => {
    const collectors = seeds.map(() => collector());
    const streams = collectors.map((c) => engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: c.listener }));
    await Promise.all(streams.map((s, i) => streamAll(s, testAudio(15360 * 3, seeds[i] ?? 0))));
    for (const s of streams) s.close();
    return collectors;
  };
  const clean = await run();
  const batches: { ok: boolean; items: number }[] = [];
  engine.addObserver({ onBatch: (batch) => batches.push(batch) });
  engine.injectWorkerFault('row', 'tiny-en-es');
  const faulty = await run();
  const [victim, ...bystanders] = faulty;
  assert.equal(victim?.errors.length, 1, 'the first session to send a chunk got the fault');
  assert.equal(victim?.chunks.length, 2);
  bystanders.forEach((c, i) => {
    assert.equal(c.errors.length, 0);
    assert.deepEqual(c.chunks.map((r) => r.newText), clean[i + 1]?.chunks.map((r) => r.newText));
  });
  assert.ok(batches.some((batch) => !batch.ok && batch.items > 1), 'the failing row shared a batch with bystanders');
  assert.equal(engine.stats().workerRestarts, 0, 'no worker died');
});

test('a hung worker misses its deadline, is replaced, and the session continues', async (t) => {
  const engine = await startEngine({ requestDeadlineMs: 1500 });
  t.after(() => engine.close());
  const c = collector();
  const stream = engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: c.listener });
  engine.injectWorkerFault('hang');
  await streamAll(stream, testAudio(15360, 40));
  assert.equal(c.errors.length, 1);
  assert.equal((c.errors[0]?.error as { code?: string }).code, 'deadlineExceeded');
  await streamAll(stream, testAudio(15360, 41));
  assert.equal(c.chunks.length, 1);
  assert.equal(c.chunks[0]?.chunkIndex, 1);
  assert.equal(engine.stats().workerRestarts, 1);
});

test('the batcher rejects work beyond its queue bound with an overload error instead of growing', async (t) => {
  const engine = await startEngine({ batching: { maxBatchSize: 1, maxWaitMs: 0, maxQueueSize: 2 } });
  t.after(() => engine.close());
  const observers = Array.from({ length: 12 }, () => collector());
  const streams = observers.map((c) => engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: c.listener }));
  await Promise.all(streams.map((s, i) => streamAll(s, testAudio(15360, 50 + i))));
  const overloaded = observers.flatMap((c) => c.errors).filter((e) => (e.error as { code?: string }).code === 'overloaded');
  assert.ok(overloaded.length > 0);
  const stats = engine.stats().models['tiny-en-es'];
  assert.ok(stats && stats.prefill.rejected + stats.decode.rejected === overloaded.length);
  // The engine still works once the burst is gone.
  const c = collector();
  const calm = engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: c.listener });
  await streamAll(calm, testAudio(15360, 70));
  assert.equal(c.errors.length, 0);
  assert.equal(c.chunks.length, 1);
});

test('a stream refuses audio beyond its pending bound and signals drain below the high-water mark', async (t) => {
  const engine = await startEngine({ streamHighWaterMs: 2000, streamMaxPendingMs: 4000 });
  t.after(() => engine.close());
  let drains = 0;
  const stream = engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: { onDrain: () => drains++ } });
  assert.equal(stream.pushAudio(testAudio(16000, 1)), true);
  assert.equal(stream.pushAudio(testAudio(32000, 2)), false);
  assert.throws(() => stream.pushAudio(testAudio(32000, 3)), (e: Error & { code?: string }) => e.code === 'overloaded');
  await stream.flush();
  assert.ok(drains >= 1);
  assert.equal(stream.pendingAudioMs, 0);
  assert.equal(stream.receivedAudioMs, 3000);
});

test('a high-water mark below one chunk still drains: the partial tail does not count as back-pressure', async (t) => {
  const engine = await startEngine({ streamHighWaterMs: 100 });
  t.after(() => engine.close());
  let drains = 0;
  const stream = engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: { onDrain: () => drains++ } });
  assert.equal(stream.pushAudio(testAudio(8_000, 1)), true, 'half a chunk: nothing to translate yet, keep reading');
  assert.equal(stream.pushAudio(testAudio(16_000, 2)), false, 'a whole chunk is queued: pause');
  await until(() => drains > 0, 'the stream to drain');
  assert.equal(stream.pushAudio(testAudio(100, 3)), true, 'after the drain, reading resumes though a partial tail is held');
  await stream.flush();
  assert.equal(stream.pendingAudioMs, 0);
});

test('two workers run batches concurrently', async (t) => {
  const engine = await startEngine({ devices: [{ device: 'cpu', workers: 2, intraOpThreads: 1 }], batching: { maxBatchSize: 4, maxWaitMs: 0, maxQueueSize: 1024 } });
  t.after(() => engine.close());
  const streams = Array.from({ length: 12 }, () => engine.openStream({ languagePair: PAIR, latencyMultiplier: 1 }));
  await Promise.all(streams.map((s, i) => streamAll(s, testAudio(15360 * 2, 80 + i))));
  const workers = engine.stats().workers;
  assert.equal(workers.length, 2);
  assert.ok(workers.every((w) => w.batchesRun > 0), JSON.stringify(workers));
});
