import assert from 'node:assert/strict';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { measureModelPackage, sessionStateBytes } from '../../src/inference/engine/model-size-check.ts';
import { loadModelPackage } from '../../src/inference/manifest.ts';
import { admissionLimit } from '../../src/plugins/domain.ts';
import { MODELS_DIR } from '../support/engine-fixtures.ts';
import { buildTestApp, createSession, pathId, speech } from '../app/helpers.ts';

interface InitBody {
  success?: boolean;
  session_id?: string;
  queued?: boolean;
  queue_position?: number;
  initializing?: boolean;
  error?: string;
}

test('POST /init with query parameters creates an active session with an id of the original shape plus a random part', async (t) => {
  const { app, clock } = await buildTestApp(t);
  const response = await app.inject({
    method: 'POST',
    url: '/init?agent_type=InfiniSST&language_pair=English+-%3E+Chinese&latency_multiplier=2&client_id=client_k3j9x0a1',
  });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = response.json<InitBody>();
  assert.equal(body.queued, false);
  assert.equal(body.queue_position, 0);
  assert.equal(body.initializing, false);
  assert.match(body.session_id ?? '', new RegExp(`^client_k3j9x0a1_English -> Chinese_${clock.now()}_[0-9a-z]{12}$`));
});

test('POST /init reads a JSON body when the query string lacks the parameters (test_ray_api.py)', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({
    method: 'POST',
    url: '/init',
    payload: { agent_type: 'InfiniSST', language_pair: 'English -> Chinese', client_id: 'ray_test_user' },
  });
  assert.equal(response.statusCode, 200);
  assert.match(response.json<InitBody>().session_id ?? '', /^ray_test_user_English -> Chinese_\d+_[0-9a-z]{12}$/);
});

test('query string parameters win over JSON body fields', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({
    method: 'POST',
    url: '/init?agent_type=InfiniSST&language_pair=English+-%3E+Italian',
    payload: { agent_type: 'Other', language_pair: 'English -> Chinese', client_id: 'from_body' },
  });
  const id = response.json<InitBody>().session_id ?? '';
  assert.match(id, /^from_body_English -> Italian_/);
});

test('POST /init without client_id uses the agent type as prefix; the same client gets distinct sessions', async (t) => {
  const { app } = await buildTestApp(t);
  const first = await createSession(app, { client_id: '' });
  assert.match(first, /^InfiniSST_English -> Chinese_\d+_[0-9a-z]{12}$/);
  const a = await createSession(app);
  const b = await createSession(app);
  assert.notEqual(a, b, 'same client, same millisecond: ids still differ');
});

test('POST /init validation: missing fields and bad multipliers are 422 with a clear message and FastAPI detail', async (t) => {
  const { app } = await buildTestApp(t);
  const missing = await app.inject({ method: 'POST', url: '/init?agent_type=InfiniSST' });
  assert.equal(missing.statusCode, 422);
  const body = missing.json<{ success: boolean; error: string; detail: { loc: string[]; msg: string }[] }>();
  assert.equal(body.success, false);
  assert.match(body.error, /language_pair: field required/);
  assert.deepEqual(body.detail[0]?.loc, ['query', 'language_pair']);

  const notInt = await app.inject({ method: 'POST', url: '/init?agent_type=A&language_pair=English+-%3E+Chinese&latency_multiplier=two' });
  assert.equal(notInt.statusCode, 422);
  const outOfRange = await app.inject({ method: 'POST', url: '/init?agent_type=A&language_pair=English+-%3E+Chinese&latency_multiplier=9' });
  assert.equal(outOfRange.statusCode, 422);
  assert.match(outOfRange.json<{ error: string }>().error, /from 1 to 4/);
  const badClient = await app.inject({ method: 'POST', url: '/init?agent_type=A&language_pair=English+-%3E+Chinese&client_id=a%2Fb' });
  assert.equal(badClient.statusCode, 422);
});

test('POST /init for a pair without a model answers 400 success:false naming the served pairs', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const response = await app.inject({ method: 'POST', url: '/init?agent_type=InfiniSST&language_pair=English+-%3E+French' });
  assert.equal(response.statusCode, 400);
  const body = response.json<{ success: boolean; error: string }>();
  assert.equal(body.success, false);
  const served = engine.languagePairs().map((pair) => pair.languagePair);
  assert.deepEqual([...served].sort(), ['English -> Chinese', 'English -> German', 'English -> Italian', 'English -> Spanish'], 'the default models');
  assert.match(body.error, /English -> French/);
  assert.ok(body.error.endsWith(`Served: ${served.join(', ')}`), body.error);
  assert.equal(engine.streams.length, 0, 'no engine stream was opened');
});

test('POST /init evaluation_mode follows the original string rule (true/1/yes/on, anything else false)', async (t) => {
  const { app } = await buildTestApp(t);
  for (const [value, expected] of [['YES', true], ['on', true], ['garbage', false], ['0', false]] as const) {
    const response = await app.inject({ method: 'POST', url: `/init?agent_type=A&language_pair=English+-%3E+Chinese&evaluation_mode=${value}` });
    assert.equal(response.json<{ evaluation_mode: boolean }>().evaluation_mode, expected, value);
  }
});

test('GET /queue_status percent-decodes ids with spaces and ">" and reports active / not_found', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app);
  const response = await app.inject({ method: 'GET', url: `/queue_status/${pathId(id)}` });
  assert.deepEqual(response.json(), { session_id: id, status: 'active', queued: false, queue_position: 0, estimated_wait_seconds: null, session_type: 'scheduler' });
  const unknown = await app.inject({ method: 'GET', url: '/queue_status/client_x_English%20-%3E%20Chinese_1' });
  assert.equal(unknown.statusCode, 200);
  assert.deepEqual(unknown.json(), { session_id: 'client_x_English -> Chinese_1', status: 'not_found', error: 'Session not found' });
});

test('POST /ping: query or JSON body; unknown ids answer the exact "Invalid session ID" the page matches', async (t) => {
  const { app, clock } = await buildTestApp(t);
  const id = await createSession(app);
  clock.advance(10_000);
  const byQuery = await app.inject({ method: 'POST', url: `/ping?${new URLSearchParams({ session_id: id })}` });
  assert.deepEqual(byQuery.json(), { success: true, queued: false, queue_position: 0 });
  assert.equal(app.sessions.get(id)?.lastPingMs, clock.now());
  const byBody = await app.inject({ method: 'POST', url: '/ping', payload: { session_id: id } });
  assert.equal(byBody.json<{ success: boolean }>().success, true);
  const unknown = await app.inject({ method: 'POST', url: '/ping?session_id=nope' });
  assert.equal(unknown.statusCode, 200);
  assert.deepEqual(unknown.json(), { success: false, error: 'Invalid session ID' });
  const missing = await app.inject({ method: 'POST', url: '/ping' });
  assert.equal(missing.statusCode, 422);
});

test('POST /delete_session: query, JSON body and form body (sendBeacon) all work; deleted ids are then unknown', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const a = await createSession(app);
  const b = await createSession(app);
  const c = await createSession(app);
  const d = await createSession(app);
  const byQuery = await app.inject({ method: 'POST', url: `/delete_session?${new URLSearchParams({ session_id: a })}` });
  assert.deepEqual(byQuery.json(), { success: true });
  const byJson = await app.inject({ method: 'POST', url: '/delete_session', payload: { session_id: b } });
  assert.deepEqual(byJson.json(), { success: true });
  const byForm = await app.inject({
    method: 'POST',
    url: '/delete_session',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ session_id: c }).toString(),
  });
  assert.deepEqual(byForm.json(), { success: true });
  const boundary = '----beacon';
  const multipart = `--${boundary}\r\nContent-Disposition: form-data; name="session_id"\r\n\r\n${d}\r\n--${boundary}--\r\n`;
  const byMultipart = await app.inject({
    method: 'POST',
    url: '/delete_session',
    headers: { 'content-type': `multipart/form-data; boundary=${boundary}` },
    payload: multipart,
  });
  assert.deepEqual(byMultipart.json(), { success: true });
  assert.equal(app.sessions.counts().total, 0);
  assert.equal(engine.streams.length, 4);
  assert.ok(engine.streams.every((recorded) => recorded.stream.isClosed), 'engine state released');

  const again = await app.inject({ method: 'POST', url: `/delete_session?${new URLSearchParams({ session_id: a })}` });
  assert.deepEqual(again.json(), { success: false, error: 'Invalid session ID' });
  const none = await app.inject({ method: 'POST', url: '/delete_session' });
  assert.deepEqual(none.json(), { success: false, error: 'No session_id provided' });
  const ping = await app.inject({ method: 'POST', url: `/ping?${new URLSearchParams({ session_id: a })}` });
  assert.equal(ping.json<{ error: string }>().error, 'Invalid session ID');
});

test('POST /reset_translation clears the engine stream; unknown ids say "does not exist" in error and message', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const id = await createSession(app);
  const { stream } = engine.lastStream;
  // 40 ms of audio: buffered in the engine stream, not yet a chunk.
  app.sessions.get(id)?.pushAudio(speech(640, 3));
  assert.equal(stream.receivedAudioMs, 40);
  const response = await app.inject({ method: 'POST', url: '/reset_translation', payload: { session_id: id } });
  assert.deepEqual(response.json(), { success: true, status: 'success', message: 'Session reset successfully', session_type: 'scheduler' });
  assert.equal(stream.receivedAudioMs, 0, 'the engine stream was reset');
  assert.equal(stream.pendingAudioMs, 0);
  assert.equal(stream.isClosed, false, 'reset keeps the stream');
  const unknown = await app.inject({ method: 'POST', url: '/reset_translation?session_id=gone' });
  const body = unknown.json<{ success: boolean; error: string; message: string }>();
  assert.equal(body.success, false);
  assert.match(body.error, /does not exist/);
  assert.match(body.message, /does not exist/);
});

test('POST /update_latency reaches the engine stream; out-of-range values are 422; unknown ids "Invalid session ID"', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const id = await createSession(app);
  const response = await app.inject({ method: 'POST', url: `/update_latency?${new URLSearchParams({ session_id: id, latency_multiplier: '3' })}` });
  assert.equal(response.json<{ success: boolean }>().success, true);
  const { stream } = engine.lastStream;
  assert.equal(stream.latencyMultiplier, 3);
  const byBody = await app.inject({ method: 'POST', url: '/update_latency', payload: { session_id: id, latency_multiplier: 1 } });
  assert.equal(byBody.json<{ latency_multiplier: number }>().latency_multiplier, 1);
  assert.equal(stream.latencyMultiplier, 1);
  const bad = await app.inject({ method: 'POST', url: `/update_latency?${new URLSearchParams({ session_id: id, latency_multiplier: '0' })}` });
  assert.equal(bad.statusCode, 422);
  assert.equal(stream.latencyMultiplier, 1, 'a refused value changes nothing');
  const unknown = await app.inject({ method: 'POST', url: '/update_latency?session_id=x&latency_multiplier=2' });
  assert.deepEqual(unknown.json(), { success: false, error: 'Invalid session ID' });
});

test('POST /load_model creates a full session (test_<client>_<s>_<random>) usable by /queue_status', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({ method: 'POST', url: '/load_model', payload: { language_pair: 'English -> Italian', client_id: 'c1' } });
  const body = response.json<{ success: boolean; session_id: string; message: string; queued: boolean; language_pair: string }>();
  assert.equal(body.success, true);
  assert.match(body.session_id, /^test_c1_\d+_[0-9a-z]{12}$/);
  assert.equal(body.message, 'Model loaded successfully for English -> Italian');
  assert.equal(body.language_pair, 'English -> Italian');
  const status = await app.inject({ method: 'GET', url: `/queue_status/${pathId(body.session_id)}` });
  assert.equal(status.json<{ status: string }>().status, 'active');
  const byQuery = await app.inject({ method: 'POST', url: '/load_model?client_id=c2' });
  assert.match(byQuery.json<{ session_id: string }>().session_id, /^test_c2_/);
});

test('sessions beyond capacity are queued FIFO with positions and promoted when a slot frees', async (t) => {
  const { app, clock } = await buildTestApp(t, { config: { sessions: { maxActiveSessions: 1, maxQueuedSessions: 2 } } });
  const first = await createSession(app);
  const second = await app.inject({ method: 'POST', url: '/init?agent_type=A&language_pair=English+-%3E+Chinese' });
  const secondBody = second.json<InitBody>();
  assert.equal(secondBody.queued, true);
  assert.equal(secondBody.queue_position, 1);
  const third = (await app.inject({ method: 'POST', url: '/init?agent_type=A&language_pair=English+-%3E+Chinese' })).json<InitBody>();
  assert.equal(third.queue_position, 2);
  const full = await app.inject({ method: 'POST', url: '/init?agent_type=A&language_pair=English+-%3E+Chinese' });
  assert.equal(full.statusCode, 503);
  assert.equal(full.json<{ success: boolean }>().success, false);

  const queued = await app.inject({ method: 'GET', url: `/queue_status/${pathId(secondBody.session_id ?? '')}` });
  assert.deepEqual(queued.json(), { session_id: secondBody.session_id, status: 'queued', queued: true, queue_position: 1, estimated_wait_seconds: null, session_type: 'scheduler' });

  // The first session held its slot 90 s: with one slot, the next in line waits about that long.
  clock.advance(90_000);
  await app.inject({ method: 'POST', url: `/delete_session?${new URLSearchParams({ session_id: first })}` });
  const promoted = await app.inject({ method: 'GET', url: `/queue_status/${pathId(secondBody.session_id ?? '')}` });
  assert.equal(promoted.json<{ status: string }>().status, 'active');
  const moved = await app.inject({ method: 'GET', url: `/queue_status/${pathId(third.session_id ?? '')}` });
  assert.equal(moved.json<{ queue_position: number }>().queue_position, 1);
  assert.equal(moved.json<{ estimated_wait_seconds: number | null }>().estimated_wait_seconds, 90);
});

test("by default admission follows the engine's session slots: a budget for two sessions queues the third", async (t) => {
  const names = (await readdir(MODELS_DIR)).filter((name) => name.startsWith('tiny-'));
  const packages = await Promise.all(names.map((name) => loadModelPackage(join(MODELS_DIR, name))));
  const weights = (await Promise.all(packages.map((pkg) => measureModelPackage(pkg)))).reduce((sum, footprint) => sum + footprint.weightBytes, 0);
  const sessionBytes = Math.max(...packages.map((pkg) => sessionStateBytes(pkg.manifest, pkg.manifest.generation.beamSize)));
  const memoryBudgetBytes = Math.ceil(weights * 1.2) + Math.floor(2.5 * sessionBytes);
  const { app, config } = await buildTestApp(t, { engine: { devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1, memoryBudgetBytes }] } });
  assert.equal(config.sessions.maxActiveSessions, null);
  assert.equal(app.sessions.maxActiveSessions, 2);
  await createSession(app);
  await createSession(app);
  const third = (await app.inject({ method: 'POST', url: '/init?agent_type=A&language_pair=English+-%3E+Chinese' })).json<InitBody>();
  assert.equal(third.queued, true);
  assert.equal(third.queue_position, 1);
  const ready = (await app.inject({ method: 'GET', url: '/readyz' })).json<{ checks: { sessionCapacity: { detail: string } } }>();
  assert.match(ready.checks.sessionCapacity.detail, /^2\/2 active, 1\/\d+ waiting$/);
});

test('a configured admission limit wins over the slots, and one above them is said at start-up', () => {
  const said: string[] = [];
  const log = { info: () => {}, warn: (_: unknown, message: string) => void said.push(message) };
  assert.equal(admissionLimit(null, 40, log), 40);
  assert.equal(admissionLimit(null, undefined, log), 32);
  assert.equal(admissionLimit(10, 40, log), 10);
  assert.deepEqual(said, []);
  assert.equal(admissionLimit(50, 40, log), 50);
  assert.match(said[0] ?? '', /sessions\.maxActiveSessions \(50\) exceeds the 40 sessions the memory budget holds/);
});

test('POST /init refuses agent_type and client_id values that would corrupt session ids, URLs or logs', async (t) => {
  const { app } = await buildTestApp(t);
  const hostile = ['a\u0000b', 'line\r\nInjected: header', '../../etc', 'evil\u202eexe.txt', 'x'.repeat(129), 'a/b', '100%'];
  for (const value of hostile) {
    for (const name of ['agent_type', 'client_id']) {
      const query = new URLSearchParams({ agent_type: 'InfiniSST', language_pair: 'English -> Chinese', [name]: value });
      const response = await app.inject({ method: 'POST', url: `/init?${query}` });
      assert.equal(response.json<InitBody>().session_id, undefined, `${name}=${JSON.stringify(value)} created a session`);
      assert.ok(response.statusCode >= 400 && response.statusCode < 500, `${name}=${JSON.stringify(value)}: ${response.statusCode}`);
    }
  }
  assert.ok((await createSession(app, { agent_type: 'Custom Agent v2' })).startsWith('client_'), 'ordinary values still work');
});
