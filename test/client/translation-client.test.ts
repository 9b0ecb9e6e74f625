/**
 * The shared API client against the real app on a real TCP port (real engine, tiny models):
 * session creation and its errors, frame classification, a real stream that comes back as the
 * same translation frames a reference run of the engine produces, EOF → PROCESSING_COMPLETE,
 * ping and delete.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { test } from 'node:test';
import type { FastifyInstance } from 'fastify';
import {
  BASE_FRAME_SAMPLES,
  classifyFrame,
  createSession,
  deleteSession,
  openTranslationSocket,
  ping,
  requestJson,
  wsUrlFor,
} from '../../src/client/translation-client.ts';
import type { TranslationFrame } from '../../src/client/translation-client.ts';
import { referenceRun, translationFrames } from '../support/engine-fixtures.ts';
import { buildTestApp, speech } from '../app/helpers.ts';
import { guarded } from '../app/wait.ts';

const pair = 'English -> Chinese';

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

/** Resolves once `check` holds over the frames received so far (checked on every frame). */
function frameWaiter(frames: TranslationFrame[]): { wake(): void; until(check: () => boolean, what: string): Promise<void> } {
  let waiters: { check: () => boolean; resolve: () => void }[] = [];
  return {
    wake() {
      const pending = waiters;
      waiters = [];
      for (const waiter of pending) {
        if (waiter.check()) waiter.resolve();
        else waiters.push(waiter);
      }
    },
    until(check, what) {
      if (check()) return Promise.resolve();
      return guarded(new Promise<void>((resolve) => waiters.push({ check, resolve })), () => `${what}; frames: ${JSON.stringify(frames.map((f) => f.raw))}`);
    },
  };
}

test('classifyFrame sorts every text frame by its prefix; anything else is the translation so far', () => {
  assert.deepEqual(classifyFrame('READY: Scheduler system ready'), { kind: 'ready', text: 'Scheduler system ready', raw: 'READY: Scheduler system ready' });
  assert.equal(classifyFrame('INITIALIZING: loading').kind, 'initializing');
  assert.equal(classifyFrame('LATENCY_UPDATED: 2').kind, 'latency-updated');
  assert.deepEqual(classifyFrame('ERROR: boom '), { kind: 'error', text: 'boom', raw: 'ERROR: boom ' });
  assert.equal(classifyFrame('PROCESSING_COMPLETE: File processing finished').kind, 'complete');
  assert.deepEqual(classifyFrame('你好 READY:'), { kind: 'translation', text: '你好 READY:', raw: '你好 READY:' });
  assert.equal(classifyFrame('').kind, 'translation');
});

test('wsUrlFor maps http→ws and https→wss and encodes the id as one path segment', () => {
  assert.equal(wsUrlFor('http://127.0.0.1:8000', 'a_English -> Chinese_1'), 'ws://127.0.0.1:8000/wss/a_English%20-%3E%20Chinese_1');
  assert.equal(wsUrlFor('https://example.org/base/', 'x/y?z'), 'wss://example.org/base/wss/x%2Fy%3Fz');
});

test('createSession reports the server error when no session is created, and a non-JSON answer clearly', async (t) => {
  const { app } = await buildTestApp(t);
  const baseUrl = await listen(app);
  await assert.rejects(createSession(baseUrl, { agent_type: 'InfiniSST', language_pair: 'Klingon -> Chinese', client_id: 'c1' }), /^Error: \/init failed: /);

  const plain = createServer((_request, response) => response.end('<html>not an API</html>'));
  await new Promise<void>((resolve) => plain.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    if (plain.listening) plain.close();
  });
  const address = plain.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  await assert.rejects(createSession(`http://127.0.0.1:${address.port}`, { language_pair: pair }), /POST \/init answered HTTP 200 without JSON: <html>/);
  plain.close();
  await assert.rejects(requestJson(`http://127.0.0.1:${address.port}`, 'POST', '/ping'), /cannot reach the server at http:\/\/127\.0\.0\.1:\d+/);
});

test('a real stream: READY, the engine\'s translation frames, EOF → complete; ping, delete, then 4004 and "Invalid session ID"', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const baseUrl = await listen(app);
  const frameSamples = BASE_FRAME_SAMPLES * 2;
  const audio = [speech(frameSamples, 61), speech(frameSamples, 62)];
  const expected = translationFrames(await referenceRun(engine.real, { languagePair: pair, latencyMultiplier: 2, steps: audio }));
  assert.ok(expected.length > 0, 'precondition: the audio produces text');

  const session = await createSession(baseUrl, { agent_type: 'InfiniSST', language_pair: pair, latency_multiplier: '2', client_id: 'client_shared' });
  assert.match(session.sessionId, / -> /);
  assert.equal(session.queued, false);
  assert.equal((await ping(baseUrl, session.sessionId)).success, true);

  const frames: TranslationFrame[] = [];
  const waiter = frameWaiter(frames);
  const socket = openTranslationSocket(baseUrl, session.sessionId, {
    onFrame(frame) {
      frames.push(frame);
      waiter.wake();
    },
  });
  t.after(() => socket.terminate());
  await socket.opened;
  assert.equal(socket.isOpen, true);
  for (const chunk of audio) await socket.sendAudio(chunk);
  await socket.sendEof();
  await waiter.until(() => frames.some((frame) => frame.kind === 'complete'), 'PROCESSING_COMPLETE');
  assert.deepEqual(frames.map((frame) => frame.kind), ['ready', ...expected.map(() => 'translation'), 'complete']);
  assert.deepEqual(frames.filter((frame) => frame.kind === 'translation').map((frame) => frame.text), expected);

  assert.equal((await deleteSession(baseUrl, session.sessionId)).success, true);
  assert.equal((await socket.closed).code, 4004);
  assert.equal(socket.isOpen, false);
  assert.equal((await ping(baseUrl, session.sessionId)).error, 'Invalid session ID');
});

test('an unknown session id: the socket opens, then closes with 4000 and the reason', async (t) => {
  const { app } = await buildTestApp(t);
  const baseUrl = await listen(app);
  const closes: number[] = [];
  const socket = openTranslationSocket(baseUrl, 'client_zz_English -> Chinese_1_000000000000', { onClose: ({ code }) => closes.push(code) });
  t.after(() => socket.terminate());
  assert.deepEqual(await socket.closed, { code: 4000, reason: 'Invalid session ID' });
  assert.deepEqual(closes, [4000]);
  assert.deepEqual(socket.closeInfo, { code: 4000, reason: 'Invalid session ID' });
  await assert.rejects(socket.sendAudio(new Float32Array(4)));
});
