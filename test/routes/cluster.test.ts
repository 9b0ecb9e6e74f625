import assert from 'node:assert/strict';
import { test } from 'node:test';
import { referenceRun } from '../support/engine-fixtures.ts';
import { buildTestApp, speech } from '../app/helpers.ts';

interface RayStats {
  success: boolean;
  stats: { config: { max_batch_size: number; batch_timeout_ms: number; enable_dynamic_batching: boolean }; global_stats: { gpu_utilization: Record<string, unknown> } };
}

test('GET /ray/stats answers 200 JSON with the Ray-shaped statistics of our batcher and workers', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const response = await app.inject({ method: 'GET', url: '/ray/stats' });
  assert.equal(response.statusCode, 200);
  assert.match(String(response.headers['content-type']), /^application\/json/);
  const body = response.json<RayStats>();
  assert.equal(body.success, true);
  assert.deepEqual(body.stats.config, { max_batch_size: 32, batch_timeout_ms: 100, enable_dynamic_batching: true, max_wait_ms_in_force: 100, max_queue_size: 1024 });
  const workerIds = engine.stats().workers.map((worker) => String(worker.id));
  assert.deepEqual(Object.keys(body.stats.global_stats.gpu_utilization), workerIds, 'one entry per real worker, ids as string keys');
  const gpuLoad = (body.stats as unknown as { gpu_load: Record<string, number> }).gpu_load;
  assert.deepEqual(Object.keys(gpuLoad), ['cpu'], 'gpu_load is per device');
  assert.ok(Object.values(gpuLoad).every((load) => load >= 0 && load <= 1), 'a share of busy workers');
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

test('a batch size set through /ray/configure is what the real batcher runs with', async (t) => {
  const { app, engine } = await buildTestApp(t);
  // Prefill items are one unit each (decode items count their beams), so prefill batch sizes are item counts.
  const prefillHistogram = (): Record<string, number> => ({ ...engine.stats().models['tiny-en-zh']?.prefill.batchSizeHistogram });
  const translateTogether = (): Promise<unknown> =>
    Promise.all([1, 2, 3].map((seed) => referenceRun(engine.real, { languagePair: 'English -> Chinese', steps: [speech(30_720, seed)] })));
  await translateTogether();
  const together = prefillHistogram();
  assert.ok(Object.keys(together).some((size) => Number(size) > 1), `precondition: concurrent streams share prefill batches (${JSON.stringify(together)})`);
  const response = await app.inject({ method: 'POST', url: '/ray/configure?max_batch_size=1' });
  assert.equal(response.statusCode, 200);
  await translateTogether();
  const after = prefillHistogram();
  const grown = Object.keys(after).filter((size) => after[size] !== together[size]);
  assert.deepEqual(grown, ['1'], `after max_batch_size=1 every new batch holds one item (${JSON.stringify(after)})`);
});

test('POST /ray/configure rejects values that would stop translation (max_batch_size=0) with 422', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const response = await app.inject({ method: 'POST', url: '/ray/configure?max_batch_size=0' });
  assert.equal(response.statusCode, 422);
  assert.match(response.json<{ error: string }>().error, /max_batch_size: must be ≥ 1/);
  assert.equal(engine.batchingSettings().maxBatchSize, 32);
});

interface Triggers {
  timeout_triggers: number;
  batch_size_triggers: number;
  idle_triggers: number;
  total_dispatches: number;
}

test('GET /dynamic_schedule_stats and POST /configure_dynamic_schedule report and change the batcher', async (t) => {
  const { app, engine } = await buildTestApp(t);
  const triggers = async (): Promise<Triggers> => {
    const stats = await app.inject({ method: 'GET', url: '/dynamic_schedule_stats' });
    const body = stats.json<{ success: boolean; stats: { enabled: boolean; triggers: Triggers } }>();
    assert.equal(body.success, true);
    assert.equal(body.stats.enabled, true);
    return body.stats.triggers;
  };
  const before = await triggers();
  const translated = await referenceRun(engine.real, { languagePair: 'English -> German', steps: [speech(30_720, 4)] });
  assert.equal(translated.length, 1);
  const after = await triggers();
  assert.ok(after.total_dispatches > before.total_dispatches, 'translating a chunk dispatched batches');
  assert.equal(after.total_dispatches, after.timeout_triggers + after.batch_size_triggers + after.idle_triggers, 'every dispatch has one reason');
  const batches = Object.values(engine.stats().models).reduce((sum, model) => sum + model.prefill.batches + model.decode.batches, 0);
  assert.equal(after.total_dispatches, batches, 'the counts are the real batchers\'');

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
  assert.equal(allowed.json<{ config_in_force: { max_batch_size: number } }>().config_in_force.max_batch_size, 4);
  const viaHeader = await app.inject({ method: 'POST', url: '/configure_dynamic_schedule?enabled=false', headers: { 'x-admin-token': 'secret-token-1' } });
  assert.equal(viaHeader.statusCode, 200);
  assert.equal(viaHeader.json<{ configuration: { enabled: boolean } }>().configuration.enabled, false);
  assert.equal(engine.batchingSettings().maxBatchSize, 4);
  const stats = await app.inject({ method: 'GET', url: '/ray/stats' });
  assert.equal(stats.statusCode, 200);
  assert.equal(stats.json<{ success: boolean }>().success, true);
});
