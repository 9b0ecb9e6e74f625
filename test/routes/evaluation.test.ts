import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { concatAudio, referenceRun } from '../support/engine-fixtures.ts';
import { buildTestApp, connectStream, createSession, frameOf, pathId, speech } from '../app/helpers.ts';

const chunk2 = 15_360 * 2;
const ZH = 'English -> Chinese';
const IT = 'English -> Italian';

/** Streams `audio` over a socket, then EOF; resolves with the frames once PROCESSING_COMPLETE arrived. */
async function streamAudio(t: TestContext, app: FastifyInstance, id: string, audio: Float32Array): Promise<string[]> {
  const { socket, frames } = await connectStream(t, app, id);
  socket.send(frameOf(audio));
  socket.send('EOF');
  await frames.waitFor((frame) => frame.startsWith('PROCESSING_COMPLETE'));
  socket.terminate();
  return frames.frames;
}

function words(text: string): string[] {
  return text.split(/\s+/).filter((word) => word !== '');
}

test('evaluation mode from /init records delays per unit; an empty output does not shift later attributions (W7)', async (t) => {
  const { app, engine } = await buildTestApp(t);
  // With this audio the Italian model writes text for chunk 0, waits on chunk 1, writes again on chunk 2.
  const audio = concatAudio(speech(2 * chunk2, 8), speech(chunk2, 1));
  const reference = await referenceRun(engine.real, { languagePair: IT, steps: [audio] });
  assert.deepEqual(reference.map((chunk) => chunk.newText !== ''), [true, false, true], 'precondition: an empty chunk between two with text');
  const [first, , third] = reference;
  assert.ok(first && third);
  const id = await createSession(app, { language_pair: IT, evaluation_mode: 'true' });
  await streamAudio(t, app, id, audio);
  const response = await app.inject({ method: 'GET', url: `/session_delays/${pathId(id)}?include_details=true` });
  const body = response.json<{
    success: boolean;
    delays: { total_words: number; segments: number; language_type: string; time_unit: string; segment_logs: { src: string; tgt: string; chunk_index: number; source_delays_ms: number[] }[]; word_delays: unknown[] };
  }>();
  assert.equal(body.success, true);
  assert.equal(body.delays.language_type, 'words');
  const firstWords = words(first.newText).length;
  const thirdWords = words(third.newText).length;
  assert.equal(body.delays.total_words, firstWords + thirdWords);
  assert.equal(body.delays.segments, 2);
  // The second segment belongs to chunk 2 and its 5 760 ms of source (not chunk 1, whose output was empty).
  assert.deepEqual(
    body.delays.segment_logs.map((segment) => [segment.chunk_index, segment.tgt, segment.source_delays_ms]),
    [
      [0, first.newText, Array<number>(firstWords).fill(1920)],
      [2, third.newText, Array<number>(thirdWords).fill(5760)],
    ],
  );
  assert.equal(body.delays.segment_logs[1]?.src, '[Audio chunk 2] (1.9s)');
  assert.equal(body.delays.time_unit, 'ms');
  assert.equal(body.delays.word_delays.length, firstWords + thirdWords);
});

test('/enable_evaluation_mode by query or JSON body turns tracking on; unknown ids do not leak the session list', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const audio = speech(chunk2, 6);
  const [translated] = await referenceRun(engine.real, { languagePair: ZH, steps: [audio] });
  assert.ok(translated && translated.newText !== '', 'precondition: the chunk adds text');
  const id = await createSession(app);
  const before = (await app.inject({ method: 'GET', url: `/session_delays/${pathId(id)}` })).json<{ evaluation_mode: boolean; delays: { stream_laal: number } }>();
  assert.equal(before.evaluation_mode, false);
  assert.equal(before.delays.stream_laal, 0);
  const enabled = await app.inject({ method: 'POST', url: '/enable_evaluation_mode', payload: { session_id: id } });
  assert.equal(enabled.json<{ success: boolean }>().success, true);
  await streamAudio(t, app, id, audio);
  const after = (await app.inject({ method: 'GET', url: `/session_delays/${pathId(id)}` })).json<{ delays: { total_characters: number } }>();
  // Chinese counts characters (whitespace excluded).
  assert.equal(after.delays.total_characters, Array.from(translated.newText.replace(/\s/g, '')).length);
  const unknown = await app.inject({ method: 'POST', url: '/enable_evaluation_mode?session_id=nope' });
  assert.deepEqual(unknown.json(), { success: false, error: 'Session not found or invalid session ID' });
  const byQuery = await app.inject({ method: 'POST', url: `/enable_evaluation_mode?${new URLSearchParams({ session_id: id })}` });
  assert.equal(byQuery.json<{ success: boolean }>().success, true);
});

test('/session_delays and /session_delays_by_user: not found answers', async (t) => {
  const { app } = await buildTestApp(t);
  const missing = await app.inject({ method: 'GET', url: '/session_delays/ghost%20id' });
  assert.deepEqual(missing.json(), { success: false, error: 'Session ghost id not found' });
  const byUser = await app.inject({ method: 'GET', url: '/session_delays_by_user?user_id=u1&language_pair=English+-%3E+Chinese' });
  assert.deepEqual(byUser.json(), { success: false, error: 'Session not found for user u1 with language English -> Chinese' });
  const id = await createSession(app, { client_id: 'u1' });
  // A client id alone finds nothing for anyone but the operator: it is not a credential.
  const guessed = await app.inject({ method: 'GET', url: '/session_delays_by_user?user_id=u1&language_pair=English+-%3E+Chinese' });
  assert.deepEqual(guessed.json(), { success: false, error: 'Session not found for user u1 with language English -> Chinese' });
  const found = await app.inject({ method: 'GET', url: `/session_delays_by_user?user_id=u1&language_pair=English+-%3E+Chinese&${new URLSearchParams({ session_id: id })}` });
  assert.equal(found.json<{ session_id: string }>().session_id, id);
});

test('/export_session_delays writes JSON Lines inside the export folder only', async (t) => {
  const { app, config, engine } = await buildTestApp(t);
  const audio = speech(2 * chunk2, 7);
  const reference = await referenceRun(engine.real, { languagePair: ZH, steps: [audio] });
  const id = await createSession(app, { evaluation_mode: '1' });
  const empty = await app.inject({ method: 'POST', url: `/export_session_delays?${new URLSearchParams({ session_id: id })}` });
  assert.deepEqual(empty.json(), { success: false, error: 'No delay data to export' });
  await streamAudio(t, app, id, audio);

  const byDefault = await app.inject({ method: 'POST', url: `/export_session_delays?${new URLSearchParams({ session_id: id })}` });
  const defaultPath = byDefault.json<{ success: boolean; filepath: string }>().filepath;
  assert.ok(!defaultPath.startsWith('/') && !defaultPath.includes(config.paths.exportDir), 'the reply names the file inside the export folder, not the server\'s folders');
  assert.match(defaultPath, /^session_client_abc123_English_To_Chinese_\d+_[0-9a-z]{12}_delays\.log$/);
  const lines = readFileSync(join(config.paths.exportDir, defaultPath), 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { tgt: string });
  assert.deepEqual(lines.map((line) => line.tgt), reference.map((chunk) => chunk.newText).filter((text) => text !== ''), 'one line per chunk that added text');

  const named = await app.inject({ method: 'POST', url: '/export_session_delays', payload: { session_id: id, filepath: 'runs/a.jsonl' } });
  assert.equal(named.json<{ filepath: string }>().filepath, join('runs', 'a.jsonl'));

  for (const filepath of ['../escape.log', '/tmp/escape.log', 'runs/../../escape.log']) {
    const refused = await app.inject({ method: 'POST', url: '/export_session_delays', payload: { session_id: id, filepath } });
    assert.equal(refused.statusCode, 400, filepath);
    assert.equal(refused.json<{ code: string }>().code, 'forbiddenPath');
  }
  assert.equal(existsSync(join(config.paths.exportDir, '..', 'escape.log')), false);

  mkdirSync(join(config.paths.exportDir, 'inner'), { recursive: true });
  symlinkSync(join(config.paths.exportDir, '..'), join(config.paths.exportDir, 'inner', 'out'));
  const viaLink = await app.inject({ method: 'POST', url: '/export_session_delays', payload: { session_id: id, filepath: 'inner/out/escape.log' } });
  assert.equal(viaLink.statusCode, 400);
  assert.equal(existsSync(join(config.paths.exportDir, '..', 'escape.log')), false);
});

test('/export_session_delays_by_user adds the session id', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app, { client_id: 'eval_user', evaluation_mode: 'true' });
  const frames = await streamAudio(t, app, id, speech(chunk2, 8));
  assert.ok(frames.length > 2, 'precondition: the chunk added text');
  const response = await app.inject({
    method: 'POST',
    url: `/export_session_delays_by_user?user_id=eval_user&language_pair=English+-%3E+Chinese&${new URLSearchParams({ session_id: id })}`,
  });
  const body = response.json<{ success: boolean; session_id: string; filepath: string }>();
  assert.equal(body.success, true);
  assert.equal(body.session_id, id);
  assert.match(body.filepath, /session_eval_user_English_To_Chinese_delays\.log$/);
});
