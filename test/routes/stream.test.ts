import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { audioFrame, buildTestApp, createSession, FrameCollector, pathId } from '../app/helpers.ts';

const chunk2 = 15_360 * 2;

async function connect(t: TestContext, app: FastifyInstance, id: string) {
  let frames: FrameCollector | undefined;
  // Listen from the start (as a browser's onmessage does): READY may arrive with the handshake.
  const socket = await app.injectWS(`/wss/${pathId(id)}`, {}, { onInit: (ws) => (frames = new FrameCollector(ws)) });
  if (!frames) throw new Error('onInit was not called');
  t.after(() => socket.terminate());
  return { socket, frames };
}

test('unknown session id: the socket is accepted, then closed with 4000 "Invalid session ID"', async (t) => {
  const { app } = await buildTestApp(t);
  const { frames } = await connect(t, app, 'client_x_English -> Chinese_1_aaaaaaaaaaaa');
  assert.deepEqual(await frames.waitForClose(), { code: 4000, reason: 'Invalid session ID' });
  assert.deepEqual(frames.frames, []);
});

test('READY first, then one frame per chunk carrying the full translation so far (Chinese joined without spaces)', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app);
  const { socket, frames } = await connect(t, app, id);
  socket.send(audioFrame(chunk2));
  socket.send(audioFrame(chunk2));
  await frames.waitFor((frame) => frame === 'w0w1');
  assert.deepEqual(frames.frames, ['READY: Scheduler system ready', 'w0', 'w0w1']);
});

test('other languages join with spaces; frames of any whole number of samples are buffered into chunks', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const id = await createSession(app, { language_pair: 'English -> Italian' });
  const { socket, frames } = await connect(t, app, id);
  // 1 600-sample frames (ray_evaluation.py): 20 of them make one 32 000-sample stretch ≥ one chunk.
  for (let i = 0; i < 40; i++) socket.send(audioFrame(1_600));
  await frames.waitFor((frame) => frame === 'w0 w1');
  assert.equal(engine.lastStream.receivedAudioMs, 40 * 100);
});

test('a frame that is not a whole number of float32 samples gets an ERROR frame and the stream keeps working', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app);
  const { socket, frames } = await connect(t, app, id);
  socket.send(Buffer.from([1, 2, 3, 4, 5]));
  const error = await frames.waitFor((frame) => frame.startsWith('ERROR:'));
  assert.match(error, /^ERROR: Audio frame of 5 bytes is not a whole number of float32 samples/);
  socket.send(audioFrame(chunk2));
  await frames.waitFor((frame) => frame === 'w0');
  assert.equal(frames.closeCode, null);
});

test('an oversized frame gets an ERROR frame, not a crash', async (t) => {
  const { app } = await buildTestApp(t, { config: { websocket: { maxFrameSamples: 1000 } } });
  const id = await createSession(app);
  const { socket, frames } = await connect(t, app, id);
  socket.send(audioFrame(1001));
  assert.match(await frames.waitFor((frame) => frame.startsWith('ERROR:')), /exceeds the limit of 1000 samples/);
  socket.send(audioFrame(1000));
  socket.send('ping-text-is-ignored');
  socket.send('EOF');
  await frames.waitFor((frame) => frame.startsWith('PROCESSING_COMPLETE'));
});

test('EOF flushes the partial tail: its translation arrives before PROCESSING_COMPLETE', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app);
  const { socket, frames } = await connect(t, app, id);
  socket.send(audioFrame(chunk2 + 5_000));
  socket.send('EOF');
  await frames.waitFor((frame) => frame.startsWith('PROCESSING_COMPLETE'));
  assert.deepEqual(frames.frames, ['READY: Scheduler system ready', 'w0', 'w0w1', 'PROCESSING_COMPLETE: File processing finished']);
});

test('an engine error on one chunk gives that session an ERROR frame and later chunks still translate', async (t) => {
  const { app } = await buildTestApp(t, { engine: { failChunks: new Set([1]) } });
  const id = await createSession(app);
  const { socket, frames } = await connect(t, app, id);
  for (let i = 0; i < 3; i++) socket.send(audioFrame(chunk2));
  await frames.waitFor((frame) => frame === 'w0w2');
  assert.deepEqual(frames.frames.slice(1), ['w0', 'ERROR: Inference worker failed on chunk 1', 'w0w2']);
});

test('chunks with no new text send no frame', async (t) => {
  const { app } = await buildTestApp(t, { engine: { textFor: (index) => (index === 0 ? '' : `w${index}`) } });
  const id = await createSession(app);
  const { socket, frames } = await connect(t, app, id);
  socket.send(audioFrame(chunk2 * 2));
  await frames.waitFor((frame) => frame === 'w1');
  assert.deepEqual(frames.translations(), ['w1']);
});

test('LATENCY:<n> text frames change the multiplier; bad values get "ERROR: Invalid latency format"', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const id = await createSession(app);
  const { socket, frames } = await connect(t, app, id);
  socket.send('LATENCY:3');
  await frames.waitFor((frame) => frame === 'LATENCY_UPDATED: Set to 3');
  assert.deepEqual(engine.lastStream.multiplierChanges, [3]);
  socket.send('LATENCY:abc');
  await frames.waitFor((frame) => frame === 'ERROR: Invalid latency format');
  socket.send('LATENCY:9');
  assert.match(await frames.waitFor((frame) => frame.includes('from 1 to 4')), /^ERROR:/);
});

test('/update_latency mid-stream applies to the next chunk the engine cuts', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const id = await createSession(app);
  const { socket, frames } = await connect(t, app, id);
  socket.send(audioFrame(chunk2));
  await frames.waitFor((frame) => frame === 'w0');
  await app.inject({ method: 'POST', url: `/update_latency?${new URLSearchParams({ session_id: id, latency_multiplier: '1' })}` });
  socket.send(audioFrame(15_360));
  await frames.waitFor((frame) => frame === 'w0w1');
  assert.deepEqual(engine.lastStream.processedMultipliers, [2, 1]);
});

test('/reset_translation clears the text: the next translation frame starts from empty', async (t) => {
  const { app } = await buildTestApp(t, { engine: { textFor: (index) => `t${index}` } });
  const id = await createSession(app);
  const first = await connect(t, app, id);
  first.socket.send(audioFrame(chunk2));
  await first.frames.waitFor((frame) => frame === 't0');
  first.socket.close();
  await app.inject({ method: 'POST', url: `/reset_translation?${new URLSearchParams({ session_id: id })}` });
  const second = await connect(t, app, id);
  second.socket.send(audioFrame(chunk2));
  await second.frames.waitFor((frame) => frame === 't0');
  assert.deepEqual(second.frames.translations(), ['t0']);
});

test('closing the socket keeps the session: a reconnect continues the same translation', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app);
  const first = await connect(t, app, id);
  first.socket.send(audioFrame(chunk2));
  await first.frames.waitFor((frame) => frame === 'w0');
  first.socket.close();
  await first.frames.waitForClose();
  const second = await connect(t, app, id);
  second.socket.send(audioFrame(chunk2));
  await second.frames.waitFor((frame) => frame === 'w0w1');
  assert.equal(app.sessions.counts().active, 1);
});

test('a translation finished while no socket was attached is sent after READY on reconnect', async (t) => {
  const { app, engine } = await buildTestApp(t, { engine: { autoProcess: false } });
  const id = await createSession(app);
  const first = await connect(t, app, id);
  first.socket.send(audioFrame(chunk2));
  await new Promise<void>((resolve) => {
    const poll = (): void => (engine.lastStream.queue.length > 0 ? resolve() : void setImmediate(poll));
    poll();
  });
  first.socket.close();
  await first.frames.waitForClose();
  engine.lastStream.processNext(); // finishes while disconnected
  const second = await connect(t, app, id);
  await second.frames.waitFor((frame) => frame === 'w0');
  assert.deepEqual(second.frames.frames, ['READY: Scheduler system ready', 'w0']);
});

test('a second socket on the same session replaces the first, which is closed with 4003', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app);
  const first = await connect(t, app, id);
  await first.frames.waitFor((frame) => frame.startsWith('READY'));
  const second = await connect(t, app, id);
  const closed = await first.frames.waitForClose();
  assert.equal(closed.code, 4003);
  second.socket.send(audioFrame(chunk2));
  await second.frames.waitFor((frame) => frame === 'w0');
  assert.deepEqual(first.frames.translations(), []);
});

test('deleting a session closes its socket with 4004; reconnecting is refused with 4000', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app);
  const { frames } = await connect(t, app, id);
  await frames.waitFor((frame) => frame.startsWith('READY'));
  await app.inject({ method: 'POST', url: `/delete_session?${new URLSearchParams({ session_id: id })}` });
  assert.deepEqual(await frames.waitForClose(), { code: 4004, reason: 'Session deleted' });
  const again = await connect(t, app, id);
  assert.equal((await again.frames.waitForClose()).code, 4000);
});

test('a queued session gets INITIALIZING, holds its audio, then READY and translations once promoted', async (t) => {
  const { app } = await buildTestApp(t, { config: { sessions: { maxActiveSessions: 1 } } });
  const first = await createSession(app);
  const second = await createSession(app);
  const { socket, frames } = await connect(t, app, second);
  assert.match(await frames.waitFor((frame) => frame.startsWith('INITIALIZING:')), /queue position 1/);
  socket.send(audioFrame(chunk2));
  socket.send('EOF');
  await app.inject({ method: 'POST', url: `/delete_session?${new URLSearchParams({ session_id: first })}` });
  await frames.waitFor((frame) => frame.startsWith('PROCESSING_COMPLETE'));
  assert.deepEqual(frames.frames.slice(1), ['READY: Scheduler system ready', 'w0', 'PROCESSING_COMPLETE: File processing finished']);
});

test('an idle session is swept (clock-driven), its engine stream released and its socket closed with 4005', async (t) => {
  const { app, clock, engine } = await buildTestApp(t);
  const id = await createSession(app);
  const { frames } = await connect(t, app, id);
  await frames.waitFor((frame) => frame.startsWith('READY'));
  clock.advance(299_000);
  assert.deepEqual(app.sessions.sweepIdle(), []);
  clock.advance(2_000);
  assert.deepEqual(app.sessions.sweepIdle(), [id]);
  assert.equal((await frames.waitForClose()).code, 4005);
  assert.equal(engine.lastStream.isClosed, true);
});

test('audio frames count as activity for the idle sweep', async (t) => {
  const { app, clock } = await buildTestApp(t);
  const id = await createSession(app);
  const { socket, frames } = await connect(t, app, id);
  clock.advance(200_000);
  socket.send(audioFrame(chunk2));
  await frames.waitFor((frame) => frame === 'w0');
  clock.advance(200_000);
  assert.deepEqual(app.sessions.sweepIdle(), []);
});

test("one session's bad frames and engine errors do not disturb another session", async (t) => {
  const { app } = await buildTestApp(t, { engine: { failChunks: new Set([0]) } });
  const noisy = await connect(t, app, await createSession(app, { client_id: 'noisy' }));
  const calm = await connect(t, app, await createSession(app, { client_id: 'calm' }));
  noisy.socket.send(Buffer.from([1, 2, 3]));
  noisy.socket.send(audioFrame(chunk2));
  calm.socket.send(audioFrame(chunk2 * 2));
  await calm.frames.waitFor((frame) => frame === 'w1');
  await noisy.frames.waitFor((frame) => frame.startsWith('ERROR: Inference worker failed'));
  assert.deepEqual(calm.frames.frames, ['READY: Scheduler system ready', 'ERROR: Inference worker failed on chunk 0', 'w1']);
  assert.equal(noisy.frames.frames.filter((frame) => frame.startsWith('ERROR')).length, 2);
  assert.equal(calm.frames.closeCode, null);
});

test('with a CORS allow-list, sockets from other origins are closed with 1008', async (t) => {
  const { app } = await buildTestApp(t, { config: { cors: { origins: ['https://ok.example'] } } });
  const id = await createSession(app);
  let frames: FrameCollector | undefined;
  await app.injectWS(`/wss/${pathId(id)}`, { headers: { origin: 'https://evil.example' } }, { onInit: (ws) => (frames = new FrameCollector(ws)) });
  assert.deepEqual(await frames?.waitForClose(), { code: 1008, reason: 'Origin not allowed' });
  const allowed = await app.injectWS(`/wss/${pathId(id)}`, { headers: { origin: 'https://ok.example' } }, { onInit: (ws) => (frames = new FrameCollector(ws)) });
  t.after(() => allowed.terminate());
  await frames?.waitFor((frame) => frame.startsWith('READY'));
});
