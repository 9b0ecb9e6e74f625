/**
 * Translation frames over real sockets: the original's full-text frames, and the opt-in delta
 * frames (`/wss/{id}?text_frames=delta`) that keep a long session's traffic O(n) instead of O(n²).
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import WebSocket from 'ws';
import { applyDeltaFrame, openTranslationSocket, type TranslationFrame } from '../../src/client/translation-client.ts';
import { commonPrefixLength } from '../../src/protocol/ws-frames.ts';
import { buildScriptedTestApp, buildTestApp, createSession, speech } from '../app/helpers.ts';
import { until } from '../app/wait.ts';

const chunk2 = 15_360 * 2;

async function listen(app: FastifyInstance): Promise<string> {
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return `http://127.0.0.1:${address.port}`;
}

/** Streams `chunks` chunks of pseudo-speech, then EOF; resolves with every frame once complete. */
async function streamChunks(t: TestContext, base: string, id: string, textFrames: 'full' | 'delta', chunks: number): Promise<TranslationFrame[]> {
  const frames: TranslationFrame[] = [];
  const socket = openTranslationSocket(base, id, { onFrame: (frame) => frames.push(frame) }, textFrames);
  t.after(() => socket.terminate());
  await socket.opened;
  for (let k = 0; k < chunks; k++) await socket.sendAudio(speech(chunk2, 70 + k));
  await socket.sendEof();
  await until(() => frames.some((frame) => frame.kind === 'complete'), 'PROCESSING_COMPLETE');
  socket.close();
  return frames;
}

test('delta frames rebuild exactly the text full frames carry, and carry only what changed', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const base = await listen(app);
  const full = await streamChunks(t, base, await createSession(app), 'full', 5);
  const fullTexts = full.filter((frame) => frame.kind === 'translation').map((frame) => frame.raw);
  assert.ok(fullTexts.length >= 2, `precondition: several translation frames (${fullTexts.length})`);
  assert.ok(fullTexts.every((raw) => !raw.startsWith('DELTA:')), 'without the parameter the original frames are unchanged');

  const delta = await streamChunks(t, base, await createSession(app), 'delta', 5);
  const deltas = delta.filter((frame) => frame.kind === 'translation');
  // Same audio, same model: the same sequence of texts, each sent as the change against the last.
  assert.deepEqual(deltas.map((frame) => frame.text), fullTexts);
  let held = '';
  for (const frame of deltas) {
    assert.match(frame.raw, /^DELTA:\d+:/);
    const offset = commonPrefixLength(held, frame.text);
    assert.equal(frame.raw, `DELTA:${offset}:${frame.text.slice(offset)}`);
    held = frame.text;
  }
  assert.equal(held, engine.lastStream.stream.fullText);
  const payload = deltas.reduce((sum, frame) => sum + frame.raw.length, 0);
  const resent = fullTexts.reduce((sum, text) => sum + text.length, 0);
  t.diagnostic(`5 chunks: ${payload} characters of delta frames vs ${resent} of full frames`);
  assert.ok(payload < resent, 'delta frames carry less than the full texts');
});

test('a reconnecting delta client gets the whole text first, then changes', async (t) => {
  const { app } = await buildScriptedTestApp(t, { scripted: { autoProcess: true, textOf: (index) => `Satz${index}.` } });
  const base = await listen(app);
  const id = await createSession(app, { language_pair: 'English -> German' });
  const first = await streamChunks(t, base, id, 'delta', 2);
  assert.deepEqual(first.filter((frame) => frame.kind === 'translation').map((frame) => frame.raw), ['DELTA:0:Satz0.', 'DELTA:6: Satz1.']);
  const again = await streamChunks(t, base, id, 'delta', 1);
  // A new socket starts from nothing: its first translation frame is the whole text.
  assert.deepEqual(again.filter((frame) => frame.kind === 'translation').map((frame) => frame.raw), ['DELTA:0:Satz0. Satz1. Satz2.']);
});

test('an unknown text_frames value is refused before the upgrade (422, as every invalid parameter)', async (t) => {
  const { app } = await buildScriptedTestApp(t);
  const base = await listen(app);
  const id = await createSession(app);
  const socket = new WebSocket(`${base.replace('http', 'ws')}/wss/${encodeURIComponent(id)}?text_frames=diff`);
  t.after(() => socket.terminate());
  const status = await new Promise<number>((resolve, reject) => {
    socket.once('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0));
    socket.once('open', () => reject(new Error('the socket opened')));
    socket.once('error', () => undefined);
  });
  assert.equal(status, 422);
});

test('applyDeltaFrame: appends, rewrites from an offset, and leaves other frames alone', () => {
  assert.equal(applyDeltaFrame('', 'DELTA:0:Hallo'), 'Hallo');
  assert.equal(applyDeltaFrame('Hallo', 'DELTA:5: Welt'), 'Hallo Welt');
  assert.equal(applyDeltaFrame('Hallo Welt', 'DELTA:6:Leute'), 'Hallo Leute');
  assert.equal(applyDeltaFrame('abc', 'DELTA:99:d'), 'abcd', 'an offset past the end appends');
  assert.equal(applyDeltaFrame('abc', 'READY: Scheduler system ready'), null);
  assert.equal(applyDeltaFrame('abc', 'DELTA:x:d'), null);
  // Never cut between the halves of a surrogate pair.
  assert.equal(commonPrefixLength('a😀', 'a😁'), 1);
  assert.equal(commonPrefixLength('abc', 'abcdef'), 3);
});

/**
 * A simulated long session at m = 2 (a chunk every 1.92 s, ~29 characters of text each, as
 * speech at 150 words per minute gives): one minute of frames at hour 1 and at hour 6, through the
 * real session, connection and socket. Full frames grow with the session; delta frames do not.
 */
test('over a six-hour session, bytes per minute grow with full frames and stay flat with delta frames', async (t) => {
  const chunksPerMinute = Math.round(60 / 1.92);
  const sentence = 'ein Satz von neunundzwanzig..';
  const measure = async (textFrames: 'full' | 'delta', hour: number) => {
    const chunksBefore = Math.round(hour * 60 * chunksPerMinute);
    // Chunk 0 carries the text of every chunk before this minute; the minute's chunks follow.
    const { app } = await buildScriptedTestApp(t, { scripted: { autoProcess: true, textOf: (index) => (index === 0 ? Array(chunksBefore).fill(sentence).join(' ') : sentence) } });
    const base = await listen(app);
    // German: chunk texts are joined with a space.
    const id = await createSession(app, { language_pair: 'English -> German' });
    let bytes = 0;
    let translations = 0;
    const socket = openTranslationSocket(base, id, {
      onFrame: (frame) => {
        if (frame.kind !== 'translation') return;
        translations++;
        if (translations > 1) bytes += Buffer.byteLength(frame.raw);
      },
    }, textFrames);
    t.after(() => socket.terminate());
    await socket.opened;
    const cpuBefore = process.cpuUsage();
    for (let k = 0; k <= chunksPerMinute; k++) {
      await socket.sendAudio(speech(chunk2, k));
      const expected = k + 1;
      await until(() => translations >= expected, `translation frame ${expected}`);
    }
    const cpu = process.cpuUsage(cpuBefore);
    socket.close();
    await app.close();
    return { bytes, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
  const full1 = await measure('full', 1);
  const full6 = await measure('full', 6);
  const delta1 = await measure('delta', 1);
  const delta6 = await measure('delta', 6);
  t.diagnostic(`bytes per minute of translation frames: full ${full1.bytes} at hour 1, ${full6.bytes} at hour 6; delta ${delta1.bytes} at hour 1, ${delta6.bytes} at hour 6`);
  t.diagnostic(`process CPU for that minute of frames (server and client): full ${full1.cpuMs.toFixed(0)} / ${full6.cpuMs.toFixed(0)} ms; delta ${delta1.cpuMs.toFixed(0)} / ${delta6.cpuMs.toFixed(0)} ms`);
  assert.ok(full6.bytes > 5 * full1.bytes, 'full frames resend the whole text: six times the text, about six times the bytes');
  // Delta frames carry the new sentence and the offset it goes at, whatever the session's length.
  const expectedDelta = (hour: number): number => {
    const chunksBefore = Math.round(hour * 60 * chunksPerMinute);
    let length = chunksBefore * sentence.length + chunksBefore - 1;
    let total = 0;
    for (let k = 1; k <= chunksPerMinute; k++) {
      total += Buffer.byteLength(`DELTA:${length}: ${sentence}`);
      length += 1 + sentence.length;
    }
    return total;
  };
  assert.equal(delta1.bytes, expectedDelta(1));
  assert.equal(delta6.bytes, expectedDelta(6));
  assert.ok(delta6.bytes <= delta1.bytes + chunksPerMinute, `delta frames stay flat (${delta1.bytes} → ${delta6.bytes})`);
});
