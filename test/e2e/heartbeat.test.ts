/**
 * The WebSocket heartbeat over real sockets, with clients that never answer pings (`autoPong`
 * off): a silent one is cut after two ping periods, while one that keeps sending frames — even
 * while the server has paused reading it for back-pressure — is never cut.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import WebSocket from 'ws';
import { createSession, startServer, until, type RunningServer } from '../ops/support/ops-harness.ts';

const PING_MS = 150;

async function server(t: TestContext): Promise<RunningServer> {
  return startServer(t, {
    // A tiny high-water mark: the server pauses reading a socket while a chunk of it is being translated.
    config: { websocket: { pingIntervalMs: PING_MS }, engine: { streamHighWaterMs: 100 } },
  });
}

/** A client that does not answer pings; returns its close code when it closes. */
async function openWithoutPongs(t: TestContext, baseUrl: string, id: string): Promise<{ socket: WebSocket; closed: Promise<number> }> {
  const socket = new WebSocket(`${baseUrl.replace(/^http/, 'ws')}/wss/${encodeURIComponent(id)}`, { autoPong: false });
  t.after(() => socket.terminate());
  const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  return { socket, closed };
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

test('a client that answers no ping and sends nothing is cut after two ping periods', async (t) => {
  const { baseUrl } = await server(t);
  const { closed } = await openWithoutPongs(t, baseUrl, await createSession(baseUrl));
  assert.equal(await closed, 1006, 'terminated by the heartbeat');
});

test('a client that keeps sending frames is alive without pongs, also while the server has paused reading it', async (t) => {
  const running = await server(t);
  const { socket, closed } = await openWithoutPongs(t, running.baseUrl, await createSession(running.baseUrl));
  let isClosed = false;
  void closed.then(() => (isClosed = true));
  // The server pauses reading for as long as a chunk takes to translate, which may be brief:
  // watch for it closely, apart from the sending.
  let pausedSeen = false;
  const watch = setInterval(() => (pausedSeen ||= [...running.app.websocketServer.clients].some((client) => client.isPaused)), 2);
  t.after(() => clearInterval(watch));
  const frame = new Float32Array(16_000).fill(0.01);
  // Audio faster than the engine translates it, for at least ten ping periods and until the server
  // has paused reading at least once (on a loaded machine that may take longer; 60 s at most).
  const started = Date.now();
  while (!isClosed && (Date.now() - started < 10 * PING_MS || !pausedSeen) && Date.now() - started < 60_000) {
    socket.send(Buffer.from(frame.buffer));
    await sleep(PING_MS / 5);
  }
  clearInterval(watch);
  assert.equal(isClosed, false, 'the heartbeat never cut a socket that kept talking');
  assert.ok(pausedSeen, 'precondition: the server paused reading the socket for back-pressure');
  socket.send('EOF');
  const frames: string[] = [];
  socket.on('message', (data) => frames.push(String(data)));
  await until(() => frames.some((text) => text.startsWith('PROCESSING_COMPLETE')) || isClosed);
  assert.equal(isClosed, false);
  assert.ok(frames.some((text) => text.startsWith('PROCESSING_COMPLETE')), 'the stream finished');
});
