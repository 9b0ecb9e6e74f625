import assert from 'node:assert/strict';
import { existsSync, readFileSync, symlinkSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { audioFrame, buildTestApp, createSession, FrameCollector, pathId } from '../app/helpers.ts';

const chunk2 = 15_360 * 2;

async function streamChunks(app: Parameters<typeof createSession>[0], id: string, chunks: number, lastText: string): Promise<void> {
  let frames: FrameCollector | undefined;
  const socket = await app.injectWS(`/wss/${pathId(id)}`, {}, { onInit: (ws) => (frames = new FrameCollector(ws)) });
  for (let i = 0; i < chunks; i++) socket.send(audioFrame(chunk2));
  await frames?.waitFor((frame) => frame === lastText);
  socket.terminate();
}

test('evaluation mode from /init records delays per unit; an empty output does not shift later attributions (W7)', async (t) => {
  const { app } = await buildTestApp(t, {
    engine: { pairs: ['English -> Italian'], textFor: (index) => (index === 1 ? '' : `parola${index} due`) },
  });
  const id = await createSession(app, { language_pair: 'English -> Italian', evaluation_mode: 'true' });
  await streamChunks(app, id, 3, 'parola0 due parola2 due');
  const response = await app.inject({ method: 'GET', url: `/session_delays/${pathId(id)}?include_details=true` });
  const body = response.json<{
    success: boolean;
    delays: { total_words: number; segments: number; language_type: string; time_unit: string; segment_logs: { src: string; chunk_index: number; source_delays_ms: number[] }[]; word_delays: unknown[] };
  }>();
  assert.equal(body.success, true);
  assert.equal(body.delays.language_type, 'words');
  assert.equal(body.delays.total_words, 4);
  assert.equal(body.delays.segments, 2);
  // The second segment belongs to chunk 2 (not chunk 1, whose output was empty).
  assert.deepEqual(body.delays.segment_logs.map((segment) => [segment.chunk_index, segment.source_delays_ms]), [[0, [1920, 1920]], [2, [5760, 5760]]]);
  assert.equal(body.delays.segment_logs[1]?.src, '[Audio chunk 2] (1.9s)');
  assert.equal(body.delays.time_unit, 'ms');
  assert.equal(body.delays.word_delays.length, 4);
});

test('/enable_evaluation_mode by query or JSON body turns tracking on; unknown ids do not leak the session list', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app);
  const before = (await app.inject({ method: 'GET', url: `/session_delays/${pathId(id)}` })).json<{ evaluation_mode: boolean; delays: { stream_laal: number } }>();
  assert.equal(before.evaluation_mode, false);
  assert.equal(before.delays.stream_laal, 0);
  const enabled = await app.inject({ method: 'POST', url: '/enable_evaluation_mode', payload: { session_id: id } });
  assert.equal(enabled.json<{ success: boolean }>().success, true);
  await streamChunks(app, id, 1, 'w0');
  const after = (await app.inject({ method: 'GET', url: `/session_delays/${pathId(id)}` })).json<{ delays: { total_characters: number } }>();
  assert.equal(after.delays.total_characters, 2);
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
  const found = await app.inject({ method: 'GET', url: '/session_delays_by_user?user_id=u1&language_pair=English+-%3E+Chinese' });
  assert.equal(found.json<{ session_id: string }>().session_id, id);
});

test('/export_session_delays writes JSON Lines inside the export folder only', async (t) => {
  const { app, config } = await buildTestApp(t);
  const id = await createSession(app, { evaluation_mode: '1' });
  const empty = await app.inject({ method: 'POST', url: `/export_session_delays?${new URLSearchParams({ session_id: id })}` });
  assert.deepEqual(empty.json(), { success: false, error: 'No delay data to export' });
  await streamChunks(app, id, 2, 'w0w1');

  const byDefault = await app.inject({ method: 'POST', url: `/export_session_delays?${new URLSearchParams({ session_id: id })}` });
  const defaultPath = byDefault.json<{ success: boolean; filepath: string }>().filepath;
  assert.ok(defaultPath.startsWith(config.paths.exportDir));
  assert.match(defaultPath, /session_client_abc123_English_To_Chinese_\d+_[0-9a-z]{12}_delays\.log$/);
  const lines = readFileSync(defaultPath, 'utf8').trim().split('\n').map((line) => JSON.parse(line) as { tgt: string });
  assert.deepEqual(lines.map((line) => line.tgt), ['w0', 'w1']);

  const named = await app.inject({ method: 'POST', url: '/export_session_delays', payload: { session_id: id, filepath: 'runs/a.jsonl' } });
  assert.equal(named.json<{ filepath: string }>().filepath, join(config.paths.exportDir, 'runs', 'a.jsonl'));

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
  await streamChunks(app, id, 1, 'w0');
  const response = await app.inject({
    method: 'POST',
    url: '/export_session_delays_by_user?user_id=eval_user&language_pair=English+-%3E+Chinese',
  });
  const body = response.json<{ success: boolean; session_id: string; filepath: string }>();
  assert.equal(body.success, true);
  assert.equal(body.session_id, id);
  assert.match(body.filepath, /session_eval_user_English_To_Chinese_delays\.log$/);
});
