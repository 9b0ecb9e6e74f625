/**
 * Real TCP sockets against a listening server on the real engine: URL encoding of ids as a
 * browser does it, reconnects, close codes, back-pressure, and shutdown during a stream. Two
 * tests also run on the scripted engine, which can hold a chunk mid-flight to observe the exact
 * pause/resume and drain order; their real-engine counterparts are next to them.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { shutdownGracefully } from '../../src/plugins/graceful-shutdown.ts';
import { isAppError } from '../../src/errors.ts';
import { referenceRun, translationFrames } from '../support/engine-fixtures.ts';
import { audioFrame, buildScriptedTestApp, buildTestApp, createSession, FrameCollector, frameOf, speech } from '../app/helpers.ts';
import { until } from '../app/wait.ts';

const READY = 'READY: Scheduler system ready';
const COMPLETE = 'PROCESSING_COMPLETE: File processing finished';
const SHUTTING_DOWN = 'ERROR: Server is shutting down; translations in progress will still be sent';
const chunk2 = 15_360 * 2;

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `127.0.0.1:${address.port}`;
}

/** Opens `ws://host/wss/<raw id>`: the URL parser percent-encodes the space and ">" like a browser. */
async function open(t: TestContext, host: string, rawId: string): Promise<{ socket: WebSocket; frames: FrameCollector }> {
  const socket = new WebSocket(`ws://${host}/wss/${rawId}`);
  const frames = new FrameCollector(socket);
  t.after(() => socket.terminate());
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, frames };
}

test('over TCP: READY, cumulative translations, and a reconnect that continues the same translation', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const host = await listen(app);
  const audio = [speech(chunk2, 51), speech(chunk2, 52)];
  const expected = translationFrames(await referenceRun(engine.real, { languagePair: 'English -> Chinese', steps: audio }));
  assert.equal(expected.length, 2, 'precondition: both chunks add text');
  const id = await createSession(app);
  assert.match(id, / -> /, 'the id really has a space and ">"');

  const first = await open(t, host, id);
  first.socket.send(frameOf(audio[0] ?? new Float32Array()));
  assert.deepEqual(await first.frames.waitForTranslations(1), expected.slice(0, 1));
  first.socket.close();
  await first.frames.waitForClose();

  const second = await open(t, host, id);
  second.socket.send(frameOf(audio[1] ?? new Float32Array()));
  second.socket.send('EOF');
  await second.frames.waitFor((frame) => frame === COMPLETE);
  assert.deepEqual(second.frames.frames, [READY, expected[1], COMPLETE]);
});

test('over TCP: close codes 4000 (unknown id), 4003 (replaced), 4004 (deleted)', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const host = await listen(app);
  const unknown = await open(t, host, 'client_zz_English -> Chinese_1_000000000000');
  assert.deepEqual(await unknown.frames.waitForClose(), { code: 4000, reason: 'Invalid session ID' });

  const id = await createSession(app);
  const first = await open(t, host, id);
  await first.frames.waitFor((frame) => frame.startsWith('READY'));
  const second = await open(t, host, id);
  assert.equal((await first.frames.waitForClose()).code, 4003);
  await app.inject({ method: 'POST', url: `/delete_session?${new URLSearchParams({ session_id: id })}` });
  assert.equal((await second.frames.waitForClose()).code, 4004);
  assert.equal(engine.lastStream.stream.isClosed, true);
});

test('over TCP: while the real engine is stuck, a fast client is paused instead of refused, and everything is translated afterwards', async (t) => {
  // Hard limit 12 s of untranslated audio; the client sends 23 s while the first batch hangs.
  const { app, engine } = await buildTestApp(t, { engine: { streamHighWaterMs: 2_000, streamMaxPendingMs: 12_000, requestDeadlineMs: 1_000 } });
  const host = await listen(app);
  const { socket, frames } = await open(t, host, await createSession(app));
  const recorded = engine.lastStream;
  let maxPendingMs = 0;
  const sample = setInterval(() => (maxPendingMs = Math.max(maxPendingMs, recorded.stream.pendingAudioMs)), 1);
  t.after(() => clearInterval(sample));
  // The worker hangs on chunk 0 until the 1 s deadline: the server cannot keep up meanwhile.
  engine.real.injectWorkerFault('hang');
  const total = 12;
  for (let i = 0; i < total; i++) socket.send(audioFrame(chunk2, 60 + i));
  socket.send('EOF');
  await frames.waitFor((frame) => frame === COMPLETE);
  clearInterval(sample);
  assert.deepEqual(recorded.errors.map((failure) => [failure.chunkIndex, isAppError(failure.error) ? failure.error.code : '?']), [[0, 'deadlineExceeded']]);
  assert.equal(recorded.chunks.length, total - 1, 'every other chunk was translated');
  assert.equal(recorded.stream.receivedAudioMs, total * 1_920, 'no audio was dropped');
  assert.ok(recorded.drains >= 1, 'the stream went above its high-water mark and drained again');
  assert.ok(maxPendingMs <= 12_000, `pending audio stayed bounded (${maxPendingMs} ms)`);
  const errors = frames.frames.filter((frame) => frame.startsWith('ERROR'));
  assert.equal(errors.length, 1, `only the hung chunk failed, no frame was refused: ${JSON.stringify(errors)}`);
  assert.equal(frames.translations().at(-1), recorded.stream.fullText);
});

test('over TCP (scripted engine, exact): a client sending faster than the engine is paused, not dropped', async (t) => {
  const { app, engine } = await buildScriptedTestApp(t, { scripted: { highWaterMs: 2_000, maxPendingMs: 12_000 } });
  const host = await listen(app);
  const id = await createSession(app);
  const { socket, frames } = await open(t, host, id);
  const total = 12;
  for (let i = 0; i < total; i++) socket.send(audioFrame(chunk2, i));
  // Without reading, the server holds at most its hard limit; the rest waits in TCP buffers.
  await until(() => engine.streams.length > 0 && engine.lastStream.pendingAudioMs >= 3_840, 'the server buffered above its high-water mark');
  let maxPendingMs = 0;
  let processed = 0;
  while (processed < total) {
    maxPendingMs = Math.max(maxPendingMs, engine.lastStream.pendingAudioMs);
    if (engine.lastStream.processNext()) processed++;
    else await new Promise((resolve) => setTimeout(resolve, 5));
  }
  await frames.waitFor((frame) => frame === 'w0w1w2w3w4w5w6w7w8w9w10w11');
  assert.ok(maxPendingMs <= 12_000, `pending audio stayed bounded (${maxPendingMs} ms)`);
  assert.deepEqual(frames.frames.filter((frame) => frame.startsWith('ERROR')), [], 'no frame was refused');
});

test('graceful shutdown during an active real stream: clients are told, finished text arrives, then 1001; streams and workers are released', async (t) => {
  // A dedicated engine (`engine: {}`): shutting down closes it.
  const { app, engine } = await buildTestApp(t, { engine: {} });
  const host = await listen(app);
  const { socket, frames } = await open(t, host, await createSession(app));
  const recorded = engine.lastStream;
  socket.send(audioFrame(chunk2, 71));
  socket.send(audioFrame(chunk2, 72));
  await recorded.settled(1);

  await shutdownGracefully(app, { engine, graceMs: 5_000 });
  assert.equal((await frames.waitForClose()).code, 1001);
  const notice = frames.frames.indexOf(SHUTTING_DOWN);
  assert.ok(notice > 0, `clients are told: ${JSON.stringify(frames.frames)}`);
  assert.equal(frames.frames[0], READY);
  const translations = frames.translations();
  assert.equal(translations[0], recorded.chunks[0]?.fullText, 'text finished before the shutdown was sent');
  assert.deepEqual(translations, translationFrames(recorded.chunks), 'every finished chunk reached the client, in order');
  assert.deepEqual(frames.frames.filter((frame) => frame.startsWith('ERROR')), [SHUTTING_DOWN], 'no other error reached the client');
  assert.equal(recorded.stream.isClosed, true, 'session state released');
  assert.throws(() => engine.openStream({ languagePair: 'English -> Chinese', latencyMultiplier: 2 }), (error) => isAppError(error) && error.code === 'engineClosed');
});

// A chunk is a prefill plus many decode steps: engine.close() must drain chunks in progress, not
// only the batch running at that moment, or the chunk's text is lost.
test('graceful shutdown lets a chunk that is mid-decode finish and sends its text', async (t) => {
  const { app, engine } = await buildTestApp(t, { engine: {} });
  const host = await listen(app);
  const { socket, frames } = await open(t, host, await createSession(app));
  const recorded = engine.lastStream;
  const decodeBatches = (): number => engine.stats().models['tiny-en-zh']?.decode.batches ?? 0;
  socket.send(audioFrame(chunk2, 73));
  await recorded.settled(1);
  const before = decodeBatches();
  socket.send(audioFrame(chunk2, 74));
  await until(() => decodeBatches() >= before + 2 || recorded.settledCount > 1, 'chunk 1 is being decoded');
  assert.equal(recorded.settledCount, 1, 'precondition: chunk 1 is mid-decode when the shutdown starts');
  await shutdownGracefully(app, { engine, graceMs: 5_000 });
  await frames.waitForClose();
  assert.deepEqual(recorded.errors, [], 'the chunk in progress was not cut off');
  assert.equal(frames.translations().length, translationFrames(recorded.chunks).length);
  assert.equal(recorded.chunks.length, 2);
});

test('graceful shutdown (scripted engine, exact order): clients are told, the in-flight chunk is drained and sent, then 1001', async (t) => {
  const { app, engine } = await buildScriptedTestApp(t);
  const host = await listen(app);
  const id = await createSession(app);
  const { socket, frames } = await open(t, host, id);
  socket.send(audioFrame(chunk2));
  socket.send(audioFrame(chunk2));
  await until(() => engine.streams.length > 0 && engine.lastStream.queue.length === 2, 'both chunks were cut');

  await shutdownGracefully(app, { engine, graceMs: 1_000 });
  const closed = await frames.waitForClose();
  assert.equal(closed.code, 1001);
  assert.equal(engine.closedWithGraceMs, 1_000);
  assert.equal(engine.drainedChunks, 1, 'the in-flight chunk was finished');
  assert.deepEqual(frames.frames, [READY, SHUTTING_DOWN, 'w0']);
  assert.equal(engine.lastStream.isClosed, true, 'session state released');
});

test('app.close() alone also closes stream sockets with 1001 and releases the engine streams', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const host = await listen(app);
  const id = await createSession(app);
  const { socket, frames } = await open(t, host, id);
  await frames.waitFor((frame) => frame.startsWith('READY'));
  socket.send(audioFrame(chunk2, 81));
  await app.close();
  assert.equal((await frames.waitForClose()).code, 1001);
  assert.equal(engine.lastStream.stream.isClosed, true);
});
