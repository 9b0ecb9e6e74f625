/**
 * A session's life across sockets on the real engine (injected sockets): reset, reconnects,
 * replacement, deletion, the queue and the idle sweep. Frame texts are compared with a direct
 * engine run of the same audio, or with the engine stream behind the session.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { referenceRun, translationFrames } from '../support/engine-fixtures.ts';
import { buildTestApp, connectStream, createSession, frameOf, speech } from '../app/helpers.ts';
import { until } from '../app/wait.ts';

const READY = 'READY: Scheduler system ready';
const COMPLETE = 'PROCESSING_COMPLETE: File processing finished';
const ZH = 'English -> Chinese';
const chunk1 = 15_360;
const chunk2 = 2 * chunk1;

test('/reset_translation clears text and model state: the same audio afterwards gives the first frame again', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const audio = speech(chunk2, 41);
  const [firstChunk, secondChunk] = await referenceRun(engine.real, { languagePair: ZH, steps: [audio, audio] });
  assert.ok(firstChunk && firstChunk.newText !== '', 'precondition: the audio gives text');
  assert.notEqual(secondChunk?.newText, firstChunk.newText, 'precondition: with the model state kept, the same audio again gives other text');
  const id = await createSession(app);
  const first = await connectStream(t, app, id);
  first.socket.send(frameOf(audio));
  assert.deepEqual(await first.frames.waitForTranslations(1), [firstChunk.fullText]);
  first.socket.close();
  const reset = await app.inject({ method: 'POST', url: `/reset_translation?${new URLSearchParams({ session_id: id })}` });
  assert.equal(reset.json<{ success: boolean }>().success, true);
  const recorded = engine.lastStream;
  assert.equal(recorded.stream.fullText, '');
  assert.equal(recorded.stream.receivedAudioMs, 0);
  const second = await connectStream(t, app, id);
  second.socket.send(frameOf(audio));
  await second.frames.waitForTranslations(1);
  assert.deepEqual(second.frames.frames, [READY, firstChunk.fullText], 'starts from empty text and a fresh model state');
  assert.deepEqual(recorded.chunks.map((chunk) => chunk.chunkIndex), [0, 0], 'chunk numbering restarts');
});

test('closing the socket keeps the session: a reconnect continues the same translation', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const audio = [speech(chunk2, 42), speech(chunk2, 43)];
  const expected = translationFrames(await referenceRun(engine.real, { languagePair: ZH, steps: audio }));
  assert.equal(expected.length, 2, 'precondition: both chunks add text');
  const id = await createSession(app);
  const first = await connectStream(t, app, id);
  first.socket.send(frameOf(audio[0] ?? new Float32Array()));
  assert.deepEqual(await first.frames.waitForTranslations(1), expected.slice(0, 1));
  first.socket.close();
  await first.frames.waitForClose();
  const second = await connectStream(t, app, id);
  second.socket.send(frameOf(audio[1] ?? new Float32Array()));
  await second.frames.waitForTranslations(1);
  assert.deepEqual(second.frames.frames, [READY, expected[1]], 'the second chunk continues the first one\'s text and model state');
  assert.equal(app.sessions.counts().active, 1);
  assert.equal(engine.streams.length, 1, 'one engine stream for the whole session');
});

test('a translation finished while no socket was attached is sent after READY on reconnect', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const id = await createSession(app);
  const first = await connectStream(t, app, id);
  // 1.5 × 960 ms at multiplier 2: buffered, not yet a chunk.
  first.socket.send(frameOf(speech(chunk1 + chunk1 / 2, 44)));
  const recorded = engine.lastStream;
  await until(() => recorded.stream.receivedAudioMs === 1_440, 'the audio reached the engine stream');
  // terminate(): an injected socket has no TCP underneath, so after a clean close() the server
  // would only see the close when ws's 30 s close timer fires.
  first.socket.terminate();
  await until(() => app.sessions.get(id)?.hasSink === false, 'the server noticed the close');
  // Lowering the multiplier cuts a 960 ms chunk from the buffered audio: it is translated now,
  // with no socket attached.
  await app.inject({ method: 'POST', url: `/update_latency?${new URLSearchParams({ session_id: id, latency_multiplier: '1' })}` });
  await recorded.settled(1);
  const text = recorded.stream.fullText;
  assert.notEqual(text, '', 'precondition: the chunk adds text');
  const second = await connectStream(t, app, id);
  await second.frames.waitForTranslations(1);
  assert.deepEqual(second.frames.frames, [READY, text]);
  assert.deepEqual(first.frames.translations(), []);
});

test('a second socket on the same session replaces the first, which is closed with 4003', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const audio = speech(chunk2, 45);
  const expected = translationFrames(await referenceRun(engine.real, { languagePair: ZH, steps: [audio] }));
  const id = await createSession(app);
  const first = await connectStream(t, app, id);
  await first.frames.waitFor((frame) => frame.startsWith('READY'));
  const second = await connectStream(t, app, id);
  assert.equal((await first.frames.waitForClose()).code, 4003);
  second.socket.send(frameOf(audio));
  assert.deepEqual(await second.frames.waitForTranslations(expected.length), expected);
  assert.deepEqual(first.frames.translations(), []);
});

test('deleting a session closes its socket with 4004 and releases its engine stream; reconnecting is refused with 4000', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const id = await createSession(app);
  const { socket, frames } = await connectStream(t, app, id);
  socket.send(frameOf(speech(chunk2, 46)));
  await engine.lastStream.settled(1);
  await app.inject({ method: 'POST', url: `/delete_session?${new URLSearchParams({ session_id: id })}` });
  assert.deepEqual(await frames.waitForClose(), { code: 4004, reason: 'Session deleted' });
  assert.equal(engine.lastStream.stream.isClosed, true);
  const again = await connectStream(t, app, id);
  assert.equal((await again.frames.waitForClose()).code, 4000);
});

test('a queued session gets INITIALIZING, holds its audio, then READY and translations once promoted', async (t) => {
  const { app, engine } = await buildTestApp(t, { config: { sessions: { maxActiveSessions: 1 } } });
  const audio = speech(chunk2 + 4_000, 47);
  const expected = translationFrames(await referenceRun(engine.real, { languagePair: ZH, steps: [audio] }));
  const first = await createSession(app);
  const second = await createSession(app);
  const { socket, frames } = await connectStream(t, app, second);
  assert.match(await frames.waitFor((frame) => frame.startsWith('INITIALIZING:')), /queue position 1/);
  socket.send(frameOf(audio));
  socket.send('EOF');
  assert.equal(engine.streams.length, 1, 'a queued session has no engine stream yet');
  await app.inject({ method: 'POST', url: `/delete_session?${new URLSearchParams({ session_id: first })}` });
  await frames.waitFor((frame) => frame === COMPLETE);
  assert.deepEqual(frames.frames.slice(1), [READY, ...expected, COMPLETE]);
  assert.equal(engine.streams.length, 2);
  assert.equal(engine.streams[0]?.stream.isClosed, true, 'the deleted session released its stream');
});

test('an idle session is swept (clock-driven), its engine stream released and its socket closed with 4005', async (t) => {
  const { app, clock, engine } = await buildTestApp(t);
  const id = await createSession(app);
  const { frames } = await connectStream(t, app, id);
  await frames.waitFor((frame) => frame.startsWith('READY'));
  clock.advance(299_000);
  assert.deepEqual(app.sessions.sweepIdle(), []);
  clock.advance(2_000);
  assert.deepEqual(app.sessions.sweepIdle(), [id]);
  assert.equal((await frames.waitForClose()).code, 4005);
  assert.equal(engine.lastStream.stream.isClosed, true);
});

test('audio frames count as activity for the idle sweep', async (t) => {
  const { app, clock, engine } = await buildTestApp(t);
  const audio = speech(chunk2, 48);
  const expected = translationFrames(await referenceRun(engine.real, { languagePair: ZH, steps: [audio] }));
  const id = await createSession(app);
  const { socket, frames } = await connectStream(t, app, id);
  clock.advance(200_000);
  socket.send(frameOf(audio));
  assert.deepEqual(await frames.waitForTranslations(expected.length), expected);
  clock.advance(200_000);
  assert.deepEqual(app.sessions.sweepIdle(), []);
  assert.equal(engine.lastStream.stream.isClosed, false);
});
