/**
 * Real TCP sockets against a listening server (FakeEngine behind it): URL encoding of ids as a
 * browser does it, reconnects, close codes, back-pressure, and shutdown during a stream.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { shutdownGracefully } from '../../src/plugins/graceful-shutdown.ts';
import { audioFrame, buildTestApp, createSession, FrameCollector } from '../app/helpers.ts';

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

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 5));
}

test('over TCP: READY, cumulative translations, and a reconnect that continues the same translation', async (t) => {
  const { app } = await buildTestApp(t);
  const host = await listen(app);
  const id = await createSession(app);
  assert.match(id, / -> /, 'the id really has a space and ">"');

  const first = await open(t, host, id);
  first.socket.send(audioFrame(chunk2));
  await first.frames.waitFor((frame) => frame === 'w0');
  first.socket.close();
  await first.frames.waitForClose();

  const second = await open(t, host, id);
  second.socket.send(audioFrame(chunk2));
  second.socket.send('EOF');
  await second.frames.waitFor((frame) => frame.startsWith('PROCESSING_COMPLETE'));
  assert.deepEqual(second.frames.frames, ['READY: Scheduler system ready', 'w0w1', 'PROCESSING_COMPLETE: File processing finished']);
});

test('over TCP: close codes 4000 (unknown id), 4003 (replaced), 4004 (deleted)', async (t) => {
  const { app } = await buildTestApp(t);
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
});

test('over TCP: a client sending faster than the engine is paused, not dropped (bounded buffering)', async (t) => {
  const { app, engine } = await buildTestApp(t, { engine: { autoProcess: false, highWaterMs: 2_000, maxPendingMs: 12_000 } });
  const host = await listen(app);
  const id = await createSession(app);
  const { socket, frames } = await open(t, host, id);
  const total = 12;
  for (let i = 0; i < total; i++) socket.send(audioFrame(chunk2));
  // Without reading, the server holds at most its hard limit; the rest waits in TCP buffers.
  await until(() => engine.streams.length > 0 && engine.lastStream.pendingAudioMs >= 3_840);
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

test('graceful shutdown during an active stream: clients are told, in-flight results arrive, then 1001', async (t) => {
  const { app, engine } = await buildTestApp(t, { engine: { autoProcess: false } });
  const host = await listen(app);
  const id = await createSession(app);
  const { socket, frames } = await open(t, host, id);
  socket.send(audioFrame(chunk2));
  socket.send(audioFrame(chunk2));
  await until(() => engine.streams.length > 0 && engine.lastStream.queue.length === 2);

  await shutdownGracefully(app, { engine, graceMs: 1_000 });
  const closed = await frames.waitForClose();
  assert.equal(closed.code, 1001);
  assert.equal(engine.closedWithGraceMs, 1_000);
  assert.equal(engine.drainedChunks, 1, 'the in-flight chunk was finished');
  assert.deepEqual(frames.frames, [
    'READY: Scheduler system ready',
    'ERROR: Server is shutting down; translations in progress will still be sent',
    'w0',
  ]);
  assert.equal(engine.lastStream.isClosed, true, 'session state released');
});

test('app.close() alone also closes stream sockets with 1001 and releases the engine streams', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const host = await listen(app);
  const id = await createSession(app);
  const { frames } = await open(t, host, id);
  await frames.waitFor((frame) => frame.startsWith('READY'));
  await app.close();
  assert.equal((await frames.waitForClose()).code, 1001);
  assert.equal(engine.lastStream.isClosed, true);
});
