/**
 * The admin token and the observability endpoints: with a token, the state-changing and
 * data-exposing routes need it while the browser flow does not; /health shows details only to the
 * operator; /metrics exposes sessions, queues, batch histograms, lag, restarts and HTTP counts
 * after a real stream; /readyz and /livez answer.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isAdminRoute } from '../../src/plugins/admin-auth.ts';
import { createSession, post, speechSamples, startServer, StreamClient } from './support/ops-harness.ts';

const token = 'operator-secret-42';

test('with admin.token set, admin routes need it and the browser flow does not', async (t) => {
  const server = await startServer(t, { config: { admin: { token } } });
  const { app, baseUrl } = server;
  type Body = Record<string, unknown>;
  const noUserSession = { success: false, error: 'Session not found for user u with language English -> German' };
  // Each admin route, and what it answers once authorised: the route's own reply, not merely "not 401".
  const admin: [method: 'GET' | 'POST', url: string, authorised: (body: Body) => void][] = [
    ['POST', '/ray/configure?max_batch_size=8', (body) => assert.deepEqual([body.success, (body.config_in_force as Body).max_batch_size], [true, 8])],
    ['POST', '/configure_dynamic_schedule?enabled=true', (body) => assert.deepEqual([body.success, (body.configuration as Body).enabled], [true, true])],
    ['POST', '/load_models', (body) => assert.deepEqual([body.success, body.message, (body.loaded_language_pairs as string[]).includes('English -> German')], [true, 'Models are loaded and ready', true])],
    ['POST', '/load_model', (body) => assert.match(String(body.session_id), /^test_/)],
    ['POST', '/export_session_delays?session_id=x', (body) => assert.deepEqual(body, { success: false, error: 'Session x not found' })],
    ['POST', '/export_session_delays_by_user?user_id=u&language_pair=English%20-%3E%20German', (body) => assert.deepEqual(body, noUserSession)],
    ['GET', '/session_delays_by_user?user_id=u&language_pair=English%20-%3E%20German', (body) => assert.deepEqual(body, noUserSession)],
  ];
  for (const [method, url, authorised] of admin) {
    const refused = await app.inject({ method, url });
    assert.equal(refused.statusCode, 401, `${method} ${url} without the token`);
    assert.equal(refused.json<{ code: string }>().code, 'unauthorized');
    for (const headers of [{ authorization: `Bearer ${token}` }, { 'x-admin-token': token }]) {
      const reply = await app.inject({ method, url, headers });
      assert.equal(reply.statusCode, 200, `${method} ${url} with ${Object.keys(headers)[0]}: ${reply.body}`);
      authorised(reply.json<Body>());
    }
    assert.equal((await app.inject({ method, url, headers: { authorization: 'Bearer wrong-token-123' } })).statusCode, 401);
  }
  assert.equal(app.engine.batchingSettings().maxBatchSize, 8, 'the authorised reconfiguration applied');

  // The page's flow needs no token: /, /init, /queue_status, /ping, /wss, /update_latency, /reset, /delete.
  const page = await fetch(`${baseUrl}/`);
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<html[\s\S]*<\/html>/i);
  const id = await createSession(baseUrl);
  const queueStatus = await fetch(`${baseUrl}/queue_status/${encodeURIComponent(id)}`);
  assert.equal(queueStatus.status, 200);
  assert.deepEqual(await queueStatus.json(), { session_id: id, status: 'active', queued: false, queue_position: 0, estimated_wait_seconds: null, session_type: 'scheduler' });
  assert.equal((await post(baseUrl, '/ping', { session_id: id })).json?.success, true);
  const client = await StreamClient.open(t, baseUrl, id);
  await client.waitFor((frame) => frame.startsWith('READY'));
  client.sendAudio((await speechSamples()).subarray(0, 16_000 * 4));
  await client.finish();
  assert.ok(client.translations().length > 0);
  assert.equal((await post(baseUrl, '/update_latency', { session_id: id, latency_multiplier: '3' })).json?.success, true);
  assert.equal((await post(baseUrl, '/reset_translation', { session_id: id })).json?.success, true);

  // /health: a summary for everyone, details for the operator.
  const summary = (await app.inject({ method: 'GET', url: '/health' })).json<Record<string, unknown>>();
  assert.equal(summary.status, 'healthy');
  // Two /load_model sessions from the authorised calls above, plus the page's.
  assert.equal(summary.active_sessions_count, 3);
  assert.ok(Array.isArray(summary.language_pairs));
  assert.equal(summary.active_sessions, undefined, 'no session list without the token');
  assert.equal(summary.ray_stats, undefined);
  const detailed = (await app.inject({ method: 'GET', url: '/health', headers: { authorization: `Bearer ${token}` } })).json<Record<string, unknown>>();
  assert.equal((detailed.active_sessions as unknown[]).length, 3);
  assert.ok(detailed.ray_stats);
  assert.equal((await post(baseUrl, '/delete_session', { session_id: id })).json?.success, true);
  // No fault-injection route unless enabled.
  assert.equal((await app.inject({ method: 'POST', url: '/debug/inject_fault?fault=crash', headers: { authorization: `Bearer ${token}` } })).statusCode, 404);
});

test('without admin.token everything stays open, as in the original', async (t) => {
  const { app } = await startServer(t);
  const stats = await app.inject({ method: 'GET', url: '/debug/session_stats' });
  assert.equal(stats.statusCode, 200);
  assert.deepEqual(stats.json<{ system_info: { system_type: string; active_sessions_count: number } }>().system_info.system_type, 'scheduler_based');
  assert.ok(Array.isArray(stats.json<{ active_sessions: unknown }>().active_sessions));
  const history = await app.inject({ method: 'GET', url: '/debug/session_history' });
  assert.equal(history.statusCode, 200);
  assert.equal(history.json<{ message: string }>().message, 'Session lifecycle history (oldest first, bounded)');
  assert.ok(Array.isArray(history.json<{ history: unknown }>().history));
  const loaded = await app.inject({ method: 'POST', url: '/load_models' });
  assert.equal(loaded.statusCode, 200);
  assert.equal(loaded.json<{ success: boolean }>().success, true);
  const health = (await app.inject({ method: 'GET', url: '/health' })).json<Record<string, unknown>>();
  assert.ok(Array.isArray(health.active_sessions) && health.ray_stats, 'full /health');
  assert.equal(isAdminRoute('/debug/anything'), true);
  assert.equal(isAdminRoute('/init'), false);
});

test('/metrics exposes sessions, queues, batch size/wait/compute histograms, frame-to-text lag, restarts and requests', async (t) => {
  const { app, baseUrl } = await startServer(t);
  const id = await createSession(baseUrl);
  const client = await StreamClient.open(t, baseUrl, id);
  await client.waitFor((frame) => frame.startsWith('READY'));
  const frames = client.sendAudio((await speechSamples()).subarray(0, 16_000 * 8));
  await client.finish();

  const response = await fetch(`${baseUrl}/metrics`);
  assert.match(response.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
  const text = await response.text();
  const value = (pattern: RegExp): number => Number(pattern.exec(text)?.[1] ?? Number.NaN);
  assert.equal(value(/^infinisst_sessions\{state="active"\} (\d+)/m), 1);
  assert.equal(value(/^infinisst_sessions\{state="connected"\} (\d+)/m), 1);
  assert.equal(value(/^infinisst_session_events_total\{event="created"\} (\d+)/m), 1);
  assert.match(text, /^infinisst_batch_queue_depth\{model="tiny-en-de",phase="prefill"\} 0/m);
  const prefills = value(/^infinisst_batch_size_count\{model="tiny-en-de",device="cpu",phase="prefill"\} (\d+)/m);
  assert.ok(prefills >= 1, 'prefill batches observed');
  assert.ok(value(/^infinisst_batch_size_count\{model="tiny-en-de",device="cpu",phase="decode"\} (\d+)/m) >= 1, 'decode batches observed');
  assert.ok(value(/^infinisst_batch_wait_seconds_count\{model="tiny-en-de",device="cpu",phase="prefill"\} (\d+)/m) >= prefills, 'one wait per item');
  assert.equal(value(/^infinisst_batch_compute_seconds_count\{model="tiny-en-de",device="cpu",phase="prefill"\} (\d+)/m), prefills);
  assert.equal(value(/^infinisst_chunk_lag_seconds_count\{language_pair="English -> German"\} (\d+)/m), frames, 'one lag sample per chunk');
  assert.equal(value(/^infinisst_chunks_total\{outcome="ok"\} (\d+)/m), frames);
  assert.equal(value(/^infinisst_worker_restarts_total\{device="cpu"\} (\d+)/m) || 0, 0);
  assert.equal(value(/^infinisst_workers\{device="cpu",state="live"\} (\d+)/m), 1);
  assert.equal(value(/^infinisst_device_open_streams\{device="cpu"\} (\d+)/m), 1);
  assert.equal(value(/^infinisst_http_requests_total\{method="POST",route="\/init",status="200"\} (\d+)/m), 1);
  assert.ok(value(/^infinisst_ws_frames_received_total\{kind="binary"\} (\d+)/m) >= frames);
  assert.ok(value(/^process_resident_memory_bytes (\d+)/m) > 0);
  assert.equal(value(/^infinisst_ready (\d+)/m), 1);

  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 200);
  assert.equal(ready.json<{ status: string }>().status, 'ready');
  const live = await app.inject({ method: 'GET', url: '/livez' });
  assert.equal(live.json<{ status: string }>().status, 'alive');
  // /ray/stats reports per-device load.
  const stats = (await app.inject({ method: 'GET', url: '/ray/stats' })).json<{ stats: { device_load: Record<string, { open_streams: number; live_workers: number }> } }>();
  assert.deepEqual([stats.stats.device_load.cpu?.open_streams, stats.stats.device_load.cpu?.live_workers], [1, 1]);
});
