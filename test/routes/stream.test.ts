/**
 * The /wss/{session_id} protocol on the real engine (injected sockets): frames, cumulative
 * translations equal to a direct engine run of the same audio, errors that leave the session
 * working, latency changes. Session lifetime across sockets is in stream-sessions.test.ts.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { referenceRun, translationFrames } from '../support/engine-fixtures.ts';
import { audioFrame, buildTestApp, connectStream, createSession, FrameCollector, frameOf, pathId, speech } from '../app/helpers.ts';
import { until } from '../app/wait.ts';

const READY = 'READY: Scheduler system ready';
const COMPLETE = 'PROCESSING_COMPLETE: File processing finished';
const ZH = 'English -> Chinese';
const IT = 'English -> Italian';
const chunk1 = 15_360;
const chunk2 = 2 * chunk1;

test('unknown session id: the socket is accepted, then closed with 4000 "Invalid session ID"', async (t) => {
  const { app } = await buildTestApp(t);
  const { frames } = await connectStream(t, app, 'client_x_English -> Chinese_1_aaaaaaaaaaaa');
  assert.deepEqual(await frames.waitForClose(), { code: 4000, reason: 'Invalid session ID' });
  assert.deepEqual(frames.frames, []);
});

test('READY first, then one frame per chunk with the full translation so far, as a direct engine run gives it (Chinese joined without spaces)', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const audio = [speech(chunk2, 11), speech(chunk2, 12)];
  const reference = await referenceRun(engine.real, { languagePair: ZH, steps: audio });
  const expected = translationFrames(reference);
  assert.equal(expected.length, 2, 'precondition: both chunks of this audio add text');
  const { socket, frames } = await connectStream(t, app, await createSession(app));
  for (const samples of audio) socket.send(frameOf(samples));
  await frames.waitForTranslations(2);
  assert.deepEqual(frames.frames, [READY, ...expected]);
  const [first = '', second = ''] = expected;
  assert.equal(second, `${first}${reference[1]?.newText ?? ''}`, 'cumulative, Chinese joined without a space');
  const recorded = engine.lastStream;
  assert.deepEqual(recorded.chunks.map((chunk) => chunk.chunkIndex), [0, 1], 'chunks settle in order');
  assert.equal(recorded.stream.fullText, second, 'the frame carries the engine stream\'s full text');
});

test('other languages join with spaces; frames of any whole number of samples are buffered into chunks', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const audio = speech(40 * 1_600, 1);
  const reference = await referenceRun(engine.real, { languagePair: IT, steps: [audio.subarray(0, 2 * chunk2)] });
  const expected = translationFrames(reference);
  assert.equal(expected.length, 2, 'precondition: both chunks of this audio add text');
  const { socket, frames } = await connectStream(t, app, await createSession(app, { language_pair: IT }));
  // 1 600-sample frames (ray_evaluation.py): 40 of them make two 1 920 ms chunks and 160 ms over.
  for (let i = 0; i < 40; i++) socket.send(frameOf(audio.subarray(i * 1_600, (i + 1) * 1_600)));
  assert.deepEqual(await frames.waitForTranslations(2), expected);
  const [first = '', second = ''] = expected;
  assert.equal(second, `${first} ${reference[1]?.newText ?? ''}`, 'joined with a space');
  const { stream } = engine.lastStream;
  await until(() => stream.receivedAudioMs === 4_000, 'all 40 frames reached the engine stream');
  assert.equal(stream.pendingAudioMs, 160, 'the partial tail waits for more audio');
});

test('a frame that is not a whole number of float32 samples gets an ERROR frame and the stream keeps working', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const audio = speech(chunk2, 2);
  const expected = translationFrames(await referenceRun(engine.real, { languagePair: ZH, steps: [audio] }));
  const { socket, frames } = await connectStream(t, app, await createSession(app));
  socket.send(Buffer.from([1, 2, 3, 4, 5]));
  const error = await frames.waitFor((frame) => frame.startsWith('ERROR:'));
  assert.match(error, /^ERROR: Audio frame of 5 bytes is not a whole number of float32 samples/);
  socket.send(frameOf(audio));
  assert.deepEqual(await frames.waitForTranslations(expected.length), expected);
  assert.equal(frames.closeCode, null);
});

test('an oversized frame gets an ERROR frame, not a crash; smaller frames and EOF still translate', async (t) => {
  const { app, engine } = await buildTestApp(t, { config: { websocket: { maxFrameSamples: 1000 } } });
  const tail = speech(1000, 5);
  const expected = translationFrames(await referenceRun(engine.real, { languagePair: ZH, steps: [tail] }));
  const { socket, frames } = await connectStream(t, app, await createSession(app));
  socket.send(audioFrame(1001));
  assert.match(await frames.waitFor((frame) => frame.startsWith('ERROR:')), /exceeds the limit of 1000 samples/);
  socket.send(frameOf(tail));
  socket.send('ping-text-is-ignored');
  socket.send('EOF');
  await frames.waitFor((frame) => frame === COMPLETE);
  assert.equal(frames.frames.length, 3 + expected.length);
  assert.deepEqual(frames.frames.slice(2), [...expected, COMPLETE]);
});

test('EOF flushes the partial tail: its translation arrives before PROCESSING_COMPLETE', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const audio = speech(chunk2 + 5_000, 13);
  const reference = await referenceRun(engine.real, { languagePair: ZH, steps: [audio] });
  assert.deepEqual(reference.map((chunk) => [chunk.isFinal, chunk.chunkAudioMs]), [[false, 1920], [true, 312.5]]);
  const expected = translationFrames(reference);
  assert.equal(expected.length, 2, 'precondition: the padded tail adds text');
  const { socket, frames } = await connectStream(t, app, await createSession(app));
  socket.send(frameOf(audio));
  socket.send('EOF');
  await frames.waitFor((frame) => frame === COMPLETE);
  assert.deepEqual(frames.frames, [READY, ...expected, COMPLETE]);
  assert.deepEqual(engine.lastStream.chunks.map((chunk) => chunk.isFinal), [false, true]);
});

test('a worker crash on one chunk gives that session an ERROR frame; the text so far is kept and later chunks still translate', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const { socket, frames } = await connectStream(t, app, await createSession(app));
  socket.send(audioFrame(chunk2, 31));
  const recorded = engine.lastStream;
  await recorded.settled(1);
  engine.real.injectWorkerFault('crash', 'tiny-en-zh');
  socket.send(audioFrame(chunk2, 32));
  await recorded.settled(2);
  socket.send(audioFrame(chunk2, 33));
  await recorded.settled(3);
  assert.deepEqual(recorded.errors.map((failure) => failure.chunkIndex), [1], 'only the crashed chunk failed');
  assert.deepEqual(recorded.chunks.map((chunk) => chunk.chunkIndex), [0, 2], 'the session recovers on its next chunk');
  const [before, after] = recorded.chunks.map((chunk) => chunk.fullText);
  assert.ok(before && after, 'precondition: chunks 0 and 2 add text');
  await frames.waitForTranslations(2);
  assert.equal(frames.frames.length, 4);
  assert.deepEqual([frames.frames[0], frames.frames[1], frames.frames[3]], [READY, before, after]);
  assert.match(frames.frames[2] ?? '', /^ERROR: .*crashed/);
  assert.ok(after.startsWith(before), 'the text translated before the crash is kept');
  assert.equal(recorded.stream.fullText, after);
});

test('chunks with no new text send no frame', async (t) => {
  const { app, engine } = await buildTestApp(t);
  // With this audio the Italian model writes text for the first chunk and waits on the second.
  const audio = speech(2 * chunk2, 8);
  const reference = await referenceRun(engine.real, { languagePair: IT, steps: [audio] });
  assert.deepEqual(reference.map((chunk) => chunk.newText !== ''), [true, false], 'precondition: the second chunk adds nothing');
  const { socket, frames } = await connectStream(t, app, await createSession(app, { language_pair: IT }));
  socket.send(frameOf(audio));
  socket.send('EOF');
  await frames.waitFor((frame) => frame === COMPLETE);
  assert.deepEqual(frames.frames, [READY, ...translationFrames(reference), COMPLETE]);
  assert.equal(engine.lastStream.chunks.length, 2, 'both chunks were translated');
});

test('LATENCY:<n> text frames change the multiplier of the next chunk; bad values get "ERROR: Invalid latency format"', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const { socket, frames } = await connectStream(t, app, await createSession(app));
  socket.send('LATENCY:3');
  await frames.waitFor((frame) => frame === 'LATENCY_UPDATED: Set to 3');
  const recorded = engine.lastStream;
  assert.equal(recorded.stream.latencyMultiplier, 3);
  socket.send(audioFrame(3 * chunk1, 14));
  await recorded.settled(1);
  assert.deepEqual(recorded.chunks.map((chunk) => [chunk.latencyMultiplier, chunk.chunkAudioMs]), [[3, 2880]]);
  socket.send('LATENCY:abc');
  await frames.waitFor((frame) => frame === 'ERROR: Invalid latency format');
  socket.send('LATENCY:9');
  assert.match(await frames.waitFor((frame) => frame.includes('from 1 to 4')), /^ERROR:/);
  assert.equal(recorded.stream.latencyMultiplier, 3, 'a refused value changes nothing');
});

test('/update_latency mid-stream applies to the next chunk the engine cuts', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const first = speech(chunk2, 15);
  const second = speech(chunk1, 16);
  const reference = await referenceRun(engine.real, { languagePair: ZH, steps: [first, { latencyMultiplier: 1 }, second] });
  const id = await createSession(app);
  const { socket, frames } = await connectStream(t, app, id);
  socket.send(frameOf(first));
  const recorded = engine.lastStream;
  await recorded.settled(1);
  const updated = await app.inject({ method: 'POST', url: `/update_latency?${new URLSearchParams({ session_id: id, latency_multiplier: '1' })}` });
  assert.equal(updated.json<{ success: boolean }>().success, true);
  assert.equal(recorded.stream.latencyMultiplier, 1);
  socket.send(frameOf(second));
  await recorded.settled(2);
  assert.deepEqual(recorded.chunks.map((chunk) => [chunk.latencyMultiplier, chunk.chunkAudioMs]), [[2, 1920], [1, 960]]);
  const expected = translationFrames(reference);
  assert.deepEqual(await frames.waitForTranslations(expected.length), expected);
});

test("one session's bad frames and a failing model row do not disturb another session", async (t) => {
  const { app, engine } = await buildTestApp(t);
  const calmAudio = speech(2 * chunk2, 1);
  const expectedCalm = translationFrames(await referenceRun(engine.real, { languagePair: IT, steps: [calmAudio] }));
  const noisy = await connectStream(t, app, await createSession(app, { client_id: 'noisy' }));
  const calm = await connectStream(t, app, await createSession(app, { client_id: 'calm', language_pair: IT }));
  // The noisy session's next chunk fails in the model (a crash would take the context of every
  // session its worker hosts; that is the crash test above).
  engine.real.injectWorkerFault('row', 'tiny-en-zh');
  noisy.socket.send(Buffer.from([1, 2, 3]));
  noisy.socket.send(audioFrame(chunk2, 17));
  calm.socket.send(frameOf(calmAudio));
  await calm.frames.waitForTranslations(expectedCalm.length);
  await noisy.frames.waitFor((frame) => /^ERROR: .*injected fault/.test(frame));
  assert.deepEqual(calm.frames.frames, [READY, ...expectedCalm], 'the calm session translates exactly as alone');
  assert.equal(noisy.frames.frames.filter((frame) => frame.startsWith('ERROR')).length, 2);
  assert.equal(calm.frames.closeCode, null);
});

test('sockets from other sites are closed with 1008: by default, and with an allow-list unless listed', async (t) => {
  const byDefault = (await buildTestApp(t)).app;
  let foreign: FrameCollector | undefined;
  await byDefault.injectWS(`/wss/${pathId(await createSession(byDefault))}`, { headers: { origin: 'https://evil.example' } }, { onInit: (ws) => (foreign = new FrameCollector(ws)) });
  assert.deepEqual(await foreign?.waitForClose(), { code: 1008, reason: 'Origin not allowed' });

  const { app } = await buildTestApp(t, { config: { cors: { origins: ['https://ok.example'] } } });
  const id = await createSession(app);
  let frames: FrameCollector | undefined;
  await app.injectWS(`/wss/${pathId(id)}`, { headers: { origin: 'https://evil.example' } }, { onInit: (ws) => (frames = new FrameCollector(ws)) });
  assert.deepEqual(await frames?.waitForClose(), { code: 1008, reason: 'Origin not allowed' });
  const allowed = await app.injectWS(`/wss/${pathId(id)}`, { headers: { origin: 'https://ok.example' } }, { onInit: (ws) => (frames = new FrameCollector(ws)) });
  t.after(() => allowed.terminate());
  await frames?.waitFor((frame) => frame.startsWith('READY'));
});
