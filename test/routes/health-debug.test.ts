import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildScriptedTestApp, buildTestApp, createSession } from '../app/helpers.ts';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gitCommitOf } from '../../src/build-info.ts';

test('GET /health lists sessions with masked ids, inactive_for as a string, and the engine stats', async (t) => {
  const { app, clock } = await buildTestApp(t);
  const id = await createSession(app);
  clock.advance(12_345);
  const response = await app.inject({ method: 'GET', url: '/health' });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = response.json<{
    status: string;
    time: number;
    active_sessions_count: number;
    active_sessions: { session_id: string; inactive_for: string; type: string }[];
    ray_stats: Record<string, unknown>;
    language_pairs: unknown[];
  }>();
  assert.equal(body.status, 'healthy');
  assert.equal(body.time, Math.floor(clock.now() / 1000));
  assert.equal(body.active_sessions_count, 1);
  const listed = body.active_sessions[0];
  assert.equal(listed?.inactive_for, '12.3s');
  assert.equal(listed?.session_id, `*_English -> Chinese_${id.split('_').at(-2)}_************`, 'the owner and the secret part are masked (W11)');
  assert.ok(body.ray_stats.global_stats);
  assert.equal(body.language_pairs.length, 4, 'the four default models');
});

test('sessions.exposeSessionIds shows full ids and client ids to the operator only', async (t) => {
  const token = 'operator-token-1234';
  const { app } = await buildTestApp(t, { config: { sessions: { exposeSessionIds: true }, admin: { token } } });
  const id = await createSession(app, { client_id: 'alice_laptop' });
  type Stats = { active_sessions: { session_id: string; user_id: string }[] };
  const operator = (await app.inject({ method: 'GET', url: '/debug/session_stats', headers: { authorization: `Bearer ${token}` } })).json<Stats>();
  assert.equal(operator.active_sessions[0]?.session_id, id);
  assert.equal(operator.active_sessions[0]?.user_id, 'alice_laptop');
  const anyone = await app.inject({ method: 'GET', url: '/debug/session_stats' });
  assert.equal(anyone.statusCode, 200, "the original's test script calls it without a credential");
  assert.equal(anyone.json<Stats>().active_sessions[0]?.session_id, `*_English -> Chinese_${id.split('_').at(-2)}_************`);
  assert.equal(anyone.json<Stats>().active_sessions[0]?.user_id, 'hidden');
});

test('GET /debug/session_stats and /debug/session_history answer 200 JSON with lifecycle events', async (t) => {
  const { app } = await buildTestApp(t);
  const id = await createSession(app);
  await app.inject({ method: 'POST', url: `/delete_session?${new URLSearchParams({ session_id: id })}` });
  const stats = await app.inject({ method: 'GET', url: '/debug/session_stats' });
  assert.equal(stats.statusCode, 200);
  assert.equal(stats.json<{ system_info: { active_sessions_count: number } }>().system_info.active_sessions_count, 0);
  const history = await app.inject({ method: 'GET', url: '/debug/session_history' });
  const events = history.json<{ history: { event: string }[] }>().history.map((entry) => entry.event);
  assert.deepEqual(events, ['created', 'activated', 'deleted']);
});

test('POST /load_models reports the loaded pairs without reloading anything', async (t) => {
  const { app, engine } = await buildTestApp(t, { engine: { models: ['tiny-en-it', 'tiny-en-zh'] } });
  const workersBefore = engine.stats().workers.map((worker) => [worker.id, worker.restarts]);
  const response = await app.inject({ method: 'POST', url: '/load_models' });
  assert.equal(response.statusCode, 200);
  const body = response.json<{ success: boolean; loaded_language_pairs: string[] }>();
  assert.equal(body.success, true);
  assert.deepEqual([...body.loaded_language_pairs].sort(), ['English -> Chinese', 'English -> Italian']);
  assert.deepEqual(engine.stats().workers.map((worker) => [worker.id, worker.restarts]), workersBefore, 'no worker was restarted');
});

// The real engine refuses to start without a model, so only the scripted engine can serve none.
test('POST /load_models with no model loaded is still 200 JSON with success:false', async (t) => {
  const { app } = await buildScriptedTestApp(t, { scripted: { pairs: [] } });
  const response = await app.inject({ method: 'POST', url: '/load_models' });
  assert.equal(response.statusCode, 200);
  assert.equal(response.json<{ success: boolean }>().success, false);
});

test('/health and /metrics say which build is running: the package version and the git commit', async (t) => {
  const { app } = await buildTestApp(t);
  const version = (JSON.parse(readFileSync('package.json', 'utf8')) as { version: string }).version;
  const commit = gitCommitOf(process.cwd());
  const health = (await app.inject({ method: 'GET', url: '/health' })).json<{ version: string; commit: string | null }>();
  assert.equal(health.version, version);
  assert.equal(health.commit, commit);
  if (existsSync('.git')) assert.match(health.commit ?? '', /^[0-9a-f]{40}$/, 'a checkout knows its commit');
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body;
  assert.ok(metrics.includes(`infinisst_build_info{version="${version}",commit="${commit ?? 'unknown'}"} 1`), metrics.split('\n').filter((line) => line.includes('build_info')).join('\n'));
});

test('the git commit is read from a detached HEAD, a loose ref or packed-refs, and is null elsewhere', () => {
  const root = mkdtempSync(join(tmpdir(), 'build-info-'));
  try {
    const id = 'a'.repeat(40);
    assert.equal(gitCommitOf(root), null);
    mkdirSync(join(root, '.git', 'refs', 'heads'), { recursive: true });
    writeFileSync(join(root, '.git', 'HEAD'), `${id}\n`);
    assert.equal(gitCommitOf(root), id);
    writeFileSync(join(root, '.git', 'HEAD'), 'ref: refs/heads/main\n');
    writeFileSync(join(root, '.git', 'packed-refs'), `# pack-refs with: peeled\n${'b'.repeat(40)} refs/heads/main\n`);
    assert.equal(gitCommitOf(root), 'b'.repeat(40));
    writeFileSync(join(root, '.git', 'refs', 'heads', 'main'), `${'c'.repeat(40)}\n`);
    assert.equal(gitCommitOf(root), 'c'.repeat(40));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('/health marks demo (random-weight) models, pair by pair and as a whole', async (t) => {
  const { app } = await buildTestApp(t);
  const health = (await app.inject({ method: 'GET', url: '/health' })).json<{ demo_models: boolean; language_pairs: { language_pair: string; demo: boolean }[] }>();
  assert.equal(health.demo_models, true, 'the embedded tiny models are demos');
  assert.ok(health.language_pairs.length > 0 && health.language_pairs.every((pair) => pair.demo === true));
});
