import assert from 'node:assert/strict';
import { test } from 'node:test';
import { collector, startEngine, streamAll, testAudio } from '../support/engine-fixtures.ts';

const PAIR = 'English -> German';

test('a session translates to the same text alone and inside batches of 32 sessions', async (t) => {
  const batched = await startEngine({ batching: { maxBatchSize: 32, maxWaitMs: 20, maxQueueSize: 1024 } });
  t.after(() => batched.close());
  const sessions = 32;
  const audio = Array.from({ length: sessions }, (_, i) => testAudio(15360 * (2 + (i % 3)), i + 1));

  const aloneTexts: string[] = [];
  for (let i = 0; i < 4; i++) {
    const stream = batched.openStream({ languagePair: PAIR, latencyMultiplier: 1 + (i % 2) });
    await streamAll(stream, audio[i] ?? new Float32Array(0));
    aloneTexts.push(stream.fullText);
    stream.close();
  }

  const streams = audio.map((_, i) => batched.openStream({ languagePair: PAIR, latencyMultiplier: 1 + (i % 2) }));
  await Promise.all(streams.map((s, i) => streamAll(s, audio[i] ?? new Float32Array(0))));
  const decode = batched.stats().models['tiny-en-de']?.decode;
  assert.ok(decode);
  const sizes = Object.keys(decode.batchSizeHistogram).map(Number);
  assert.ok(Math.max(...sizes) > 8, `expected real batching, histogram ${JSON.stringify(decode.batchSizeHistogram)}`);
  for (let i = 0; i < 4; i++) assert.equal(streams[i]?.fullText, aloneTexts[i], `session ${i} differs when batched`);
  assert.ok(aloneTexts.some((text) => text.length > 0), 'the default model produced some text');
});

test('the latency multiplier changes the chunk size from the next chunk on', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.close());
  const c = collector();
  const stream = engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: c.listener });
  stream.pushAudio(testAudio(15360, 5));
  stream.setLatencyMultiplier(3);
  stream.pushAudio(testAudio(15360 * 3, 6));
  await stream.flush();
  assert.deepEqual(c.chunks.map((r) => [r.latencyMultiplier, r.chunkAudioMs]), [[1, 960], [3, 2880]]);
  assert.deepEqual(c.chunks.map((r) => r.sourceEndMs), [960, 3840]);
  assert.throws(() => stream.setLatencyMultiplier(5), /latency multiplier/);
});

test('reset clears text and model state: the next chunk translates like a fresh stream', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.close());
  const first = engine.openStream({ languagePair: PAIR, latencyMultiplier: 1 });
  await streamAll(first, testAudio(15360 * 2, 7));
  first.reset();
  assert.equal(first.fullText, '');
  assert.equal(first.receivedAudioMs, 0);
  await streamAll(first, testAudio(15360, 8));
  const fresh = engine.openStream({ languagePair: PAIR, latencyMultiplier: 1 });
  await streamAll(fresh, testAudio(15360, 8));
  assert.equal(first.fullText, fresh.fullText);
});

test('cumulative text is the chunk texts joined with the pair joiner', async (t) => {
  const engine = await startEngine({ beamSize: 1 });
  t.after(() => engine.close());
  for (const [pair, joiner] of [['English -> German', ' '], ['English -> Chinese', '']] as const) {
    const c = collector();
    const stream = engine.openStream({ languagePair: pair, latencyMultiplier: 1, listener: c.listener });
    await streamAll(stream, testAudio(15360 * 4, 9));
    const parts = c.chunks.map((r) => r.newText).filter((s) => s.length > 0);
    assert.equal(stream.fullText, parts.join(joiner));
    assert.equal(c.chunks.at(-1)?.fullText ?? '', stream.fullText);
  }
});

test('unknown language pairs and bad multipliers are rejected clearly', async (t) => {
  const engine = await startEngine();
  t.after(() => engine.close());
  assert.throws(() => engine.openStream({ languagePair: 'English -> Klingon', latencyMultiplier: 1 }), /not served/);
  assert.throws(() => engine.openStream({ languagePair: PAIR, latencyMultiplier: 0 }), /latency multiplier/);
  assert.equal(engine.isServed('English -> Chinese'), true);
  assert.deepEqual(engine.languagePairs().map((p) => p.languagePair).sort(), ['English -> Chinese', 'English -> German', 'English -> Italian', 'English -> Spanish']);
  assert.equal(engine.languagePairs()[0]?.provider, 'cpu');
});
