import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildTestApp } from '../app/helpers.ts';

interface RayStats {
  success: boolean;
  stats: { config: { max_batch_size: number; batch_timeout_ms: number; enable_dynamic_batching: boolean }; global_stats: { gpu_utilization: Record<string, unknown> } };
}

test('GET /ray/stats answers 200 JSON with the Ray-shaped statistics of our batcher and workers', async (t) => {
  const { app } = await buildTestApp(t);
  const response = await app.inject({ method: 'GET', url: '/ray/stats' });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = response.json<RayStats>();
  assert.equal(body.success, true);
  assert.deepEqual(body.stats.config, { max_batch_size: 32, batch_timeout_ms: 100, enable_dynamic_batching: true, max_wait_ms_in_force: 100, max_queue_size: 1024 });
  assert.ok('0' in body.stats.global_stats.gpu_utilization, 'worker ids are string keys');
});

test('POST /ray/configure applies live changes from the query string or a JSON body', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const byQuery = await app.inject({ method: 'POST', url: '/ray/configure?max_batch_size=8&batch_timeout_ms=25' });
  assert.equal(byQuery.statusCode, 200);
  assert.deepEqual(byQuery.json<{ updated_config: unknown }>().updated_config, { max_batch_size: 8, batch_timeout_ms: 25 });
  assert.equal(engine.batchingSettings().maxBatchSize, 8);
  assert.equal(engine.batchingSettings().maxWaitMs, 25);

  const byBody = await app.inject({ method: 'POST', url: '/ray/configure', payload: { enable_dynamic_batching: false } });
  assert.deepEqual(byBody.json<{ updated_config: unknown }>().updated_config, { enable_dynamic_batching: false });
  assert.equal(engine.batchingSettings().maxWaitMs, 0, 'no dynamic batching = dispatch at once');
  await app.inject({ method: 'POST', url: '/ray/configure', payload: { enable_dynamic_batching: true } });
  assert.equal(engine.batchingSettings().maxWaitMs, 25, 'the configured wait comes back');
});

test('POST /ray/configure rejects values that would stop translation (max_batch_size=0) with 422', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const response = await app.inject({ method: 'POST', url: '/ray/configure?max_batch_size=0' });
  assert.equal(response.statusCode, 422);
  assert.match(response.json<{ error: string }>().error, /max_batch_size: must be ≥ 1/);
  assert.equal(engine.batchingSettings().maxBatchSize, 32);
});

test('GET /dynamic_schedule_stats and POST /configure_dynamic_schedule report and change the batcher', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const stats = await app.inject({ method: 'GET', url: '/dynamic_schedule_stats' });
  const body = stats.json<{ success: boolean; stats: { enabled: boolean; triggers: { timeout_triggers: number; batch_size_triggers: number; total_dispatches: number } } }>();
  assert.equal(body.success, true);
  assert.equal(body.stats.enabled, true);
  assert.deepEqual(body.stats.triggers, { timeout_triggers: 4, batch_size_triggers: 2, idle_triggers: 0, total_dispatches: 6 });

  const configured = await app.inject({ method: 'POST', url: '/configure_dynamic_schedule?enabled=true&wait_threshold_ms=50&max_batch_size=16' });
  assert.deepEqual(configured.json(), {
    success: true,
    configuration: { enabled: true, wait_threshold_ms: 50, min_batch_size: 1, max_batch_size: 16 },
  });
  assert.deepEqual(engine.batchingSettings(), { maxBatchSize: 16, maxWaitMs: 50, maxQueueSize: 1024 });
  const byBody = await app.inject({ method: 'POST', url: '/configure_dynamic_schedule', payload: { enabled: false } });
  assert.equal(byBody.json<{ configuration: { enabled: boolean } }>().configuration.enabled, false);
  assert.equal(engine.batchingSettings().maxWaitMs, 0);
  const missing = await app.inject({ method: 'POST', url: '/configure_dynamic_schedule' });
  assert.equal(missing.statusCode, 422);
  const minBatch = await app.inject({ method: 'POST', url: '/configure_dynamic_schedule?enabled=true&min_batch_size=4' });
  assert.equal(minBatch.statusCode, 422);
});

test('with admin.token set, the reconfiguration routes need it; the stats routes stay open', async (t) => {
  const { app, engine } = await buildTestApp(t, { config: { admin: { token: 'secret-token-1' } } });
  const refused = await app.inject({ method: 'POST', url: '/ray/configure?max_batch_size=4' });
  assert.equal(refused.statusCode, 401);
  assert.equal(refused.json<{ success: boolean }>().success, false);
  assert.equal(engine.batchingSettings().maxBatchSize, 32);
  const wrong = await app.inject({ method: 'POST', url: '/configure_dynamic_schedule?enabled=false', headers: { authorization: 'Bearer nope' } });
  assert.equal(wrong.statusCode, 401);
  const allowed = await app.inject({ method: 'POST', url: '/ray/configure?max_batch_size=4', headers: { authorization: 'Bearer secret-token-1' } });
  assert.equal(allowed.statusCode, 200);
  const viaHeader = await app.inject({ method: 'POST', url: '/configure_dynamic_schedule?enabled=false', headers: { 'x-admin-token': 'secret-token-1' } });
  assert.equal(viaHeader.statusCode, 200);
  assert.equal(engine.batchingSettings().maxBatchSize, 4);
  assert.equal((await app.inject({ method: 'GET', url: '/ray/stats' })).statusCode, 200);
});
