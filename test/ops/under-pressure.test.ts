/**
 * Under pressure, new sessions wait and existing ones go on: while the main thread's event loop is
 * stalled (here by a busy loop of the test itself, on the server's own thread), /init answers 503
 * with Retry-After and /health says so, /ping still works, and /init admits again once it passes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, post, startServer } from './support/ops-harness.ts';

const initQuery = new URLSearchParams({ agent_type: 'InfiniSST', language_pair: 'English -> German', latency_multiplier: '2' });

function stallEventLoop(ms: number): void {
  const until = Date.now() + ms;
  while (Date.now() < until) continue;
}

test('a stalled event loop makes /init answer 503 with Retry-After; other routes keep working', async (t) => {
  const server = await startServer(t, { config: { limits: { maxEventLoopDelayMs: 100, retryAfterSeconds: 3 } } });
  const { app } = server;
  const id = await createSession(server.baseUrl);
  assert.equal(app.pressureState().underPressure, false);

  stallEventLoop(1_500);
  // Let the sampler (overdue after the stall) take its measurement.
  await new Promise((resolve) => setTimeout(resolve, 20));
  const refused = await app.inject({ method: 'POST', url: `/init?${initQuery}` });
  assert.equal(refused.statusCode, 503, refused.body);
  assert.equal(refused.headers['retry-after'], '3');
  assert.match(refused.json<{ error?: string; message?: string }>().error ?? refused.body, /under pressure \(the event loop lags \d+ ms\)/);
  const health = (await app.inject({ method: 'GET', url: '/health' })).json<{ pressure: { under_pressure: boolean } }>();
  assert.equal(health.pressure.under_pressure, true);
  assert.equal((await post(server.baseUrl, '/ping', { session_id: id })).json?.success, true, 'existing sessions are served');

  // Once the loop is healthy again, sessions are admitted.
  const deadline = Date.now() + 10_000;
  let status = 0;
  while (Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 200));
    status = (await app.inject({ method: 'POST', url: `/init?${initQuery}` })).statusCode;
    if (status === 200) break;
  }
  assert.equal(status, 200);
});
