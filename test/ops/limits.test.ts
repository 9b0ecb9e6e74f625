/**
 * Limits: per-client rate limits (429 + Retry-After, on a manual clock), sessions per client id,
 * the maximum session duration, Retry-After on 503s, and the /init refusal while the engine is
 * not keeping up (sessions holding more untranslated audio than limits.saturationLagMs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { RateLimiter } from '../../src/plugins/rate-limit.ts';
import { createEngine } from '../../src/inference/engine.ts';
import { toEngineOptions } from '../../src/config/engine-options.ts';
import type { Clock } from '../../src/sessions/clock.ts';
import { opsConfig, speechSamples, startServer } from './support/ops-harness.ts';

class ManualClock implements Clock {
  constructor(public nowMs = 1_800_000_000_000) {}
  now(): number {
    return this.nowMs;
  }
}

const initUrl = (clientId: string): string => `/init?${new URLSearchParams({ agent_type: 'InfiniSST', language_pair: 'English -> German', client_id: clientId })}`;

test('a token bucket allows the burst, then the rate, and says when to retry', () => {
  const clock = new ManualClock();
  const limiter = new RateLimiter({ perMinute: 6, burst: 2 }, clock, 3);
  assert.deepEqual([limiter.take('a'), limiter.take('a')].map((v) => v.isAllowed), [true, true]);
  const refused = limiter.take('a');
  assert.equal(refused.isAllowed, false);
  assert.equal(refused.isAllowed === false && refused.retryAfterSeconds, 10, 'one token per 10 s');
  assert.equal(limiter.take('b').isAllowed, true, 'budgets are per key');
  clock.nowMs += 10_000;
  assert.equal(limiter.take('a').isAllowed, true, 'refilled');
  for (const key of ['c', 'd', 'e', 'f']) limiter.take(key);
  assert.equal(limiter.size, 3, 'the key map is bounded');
  assert.equal(new RateLimiter({ perMinute: 0, burst: 1 }, clock).take('x').isAllowed, true, '0 = no limit');
});

test('session creation is rate-limited per client address (/init and /load_model share one budget) with 429 + Retry-After', async (t) => {
  const clock = new ManualClock();
  const config = opsConfig(t, { limits: { initPerMinute: 2, initBurst: 3, downloadsPerMinute: 1, downloadBurst: 1 } });
  const engine = await createEngine(toEngineOptions(config, process.cwd()));
  t.after(() => engine.close(1_000));
  const app = await buildApp(config, { engine, clock, runTimers: false });
  t.after(() => app.close());

  assert.equal((await app.inject({ method: 'POST', url: initUrl('c1') })).statusCode, 200);
  assert.equal((await app.inject({ method: 'POST', url: initUrl('c2') })).statusCode, 200);
  assert.equal((await app.inject({ method: 'POST', url: '/load_model?client_id=c3' })).statusCode, 200);
  const limited = await app.inject({ method: 'POST', url: initUrl('c4') });
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.headers['retry-after'], '30');
  assert.equal(limited.json<{ code: string }>().code, 'rateLimited');
  const other = await app.inject({ method: 'POST', url: initUrl('c5'), remoteAddress: '10.0.0.9' });
  assert.equal(other.statusCode, 200, 'another client address has its own budget');
  // Downloads have their own budget (the feature is off here, so the answer is the JSON error).
  assert.equal((await app.inject({ method: 'POST', url: '/download_youtube?url=x' })).statusCode, 200);
  assert.equal((await app.inject({ method: 'POST', url: '/download_youtube?url=x' })).statusCode, 429);
  clock.nowMs += 30_000;
  assert.equal((await app.inject({ method: 'POST', url: initUrl('c6') })).statusCode, 200, 'allowed again after Retry-After');
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  assert.match(metrics.body, /infinisst_rate_limited_total\{route="\/init"\} 1/);
  assert.match(metrics.body, /infinisst_youtube_downloads_total\{outcome="limited"\} 1/);
});

test('a client id may hold at most limits.maxSessionsPerClient open sessions; deleting one frees a place', async (t) => {
  const server = await startServer(t, { config: { limits: { maxSessionsPerClient: 2 } } });
  const app = server.app;
  const ids: string[] = [];
  for (let i = 0; i < 2; i++) ids.push((await app.inject({ method: 'POST', url: initUrl('same') })).json<{ session_id: string }>().session_id);
  const refused = await app.inject({ method: 'POST', url: initUrl('same') });
  assert.equal(refused.statusCode, 429);
  assert.equal(refused.json<{ code: string }>().code, 'tooManySessions');
  assert.ok(refused.headers['retry-after']);
  assert.equal((await app.inject({ method: 'POST', url: initUrl('someone-else') })).statusCode, 200);
  await app.inject({ method: 'POST', url: `/delete_session?session_id=${encodeURIComponent(ids[0] ?? '')}` });
  assert.equal((await app.inject({ method: 'POST', url: initUrl('same') })).statusCode, 200);
});

test('sessions are closed at limits.maxSessionDurationMs however active, with the expired close reason', async (t) => {
  const clock = new ManualClock();
  const config = opsConfig(t, { limits: { maxSessionDurationMs: 60_000 }, sessions: { idleTimeoutMs: 300_000, attachGraceMs: 0 } });
  const engine = await createEngine(toEngineOptions(config, process.cwd()));
  t.after(() => engine.close(1_000));
  const app = await buildApp(config, { engine, clock, runTimers: false });
  t.after(() => app.close());
  const id = (await app.inject({ method: 'POST', url: initUrl('long') })).json<{ session_id: string }>().session_id;
  clock.nowMs += 59_000;
  await app.inject({ method: 'POST', url: `/ping?session_id=${encodeURIComponent(id)}` });
  assert.deepEqual(app.sessions.sweepIdle(), [], 'younger than the limit: kept');
  clock.nowMs += 2_000;
  await app.inject({ method: 'POST', url: `/ping?session_id=${encodeURIComponent(id)}` });
  assert.deepEqual(app.sessions.sweepIdle(), [id], 'older than the limit: closed although it just pinged');
  assert.equal(app.sessions.history().at(-1)?.event, 'expired');
});

test('503 replies carry Retry-After: a full session queue, and /init while most sessions lag behind', async (t) => {
  const server = await startServer(t, {
    config: {
      sessions: { maxActiveSessions: 2, maxQueuedSessions: 0 },
      limits: { saturationLagMs: 2_000, retryAfterSeconds: 7 },
      engine: { streamHighWaterMs: 600_000, streamMaxPendingMs: 600_000 },
    },
  });
  const app = server.app;
  const ids = [];
  for (const client of ['a', 'b']) ids.push((await app.inject({ method: 'POST', url: initUrl(client) })).json<{ session_id: string }>().session_id);
  const full = await app.inject({ method: 'POST', url: initUrl('c') });
  assert.equal(full.statusCode, 503);
  assert.equal(full.json<{ code: string }>().code, 'capacityReached');
  assert.equal(full.headers['retry-after'], '7');
  const readyWhenFull = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(readyWhenFull.statusCode, 503, 'not ready while slots and queue are full');
  assert.equal(readyWhenFull.json<{ checks: Record<string, { ok: boolean }> }>().checks.sessionCapacity?.ok, false);

  // Free a slot, then give the remaining session minutes of audio at once: every active session is behind.
  await app.inject({ method: 'POST', url: `/delete_session?session_id=${encodeURIComponent(ids[1] ?? '')}` });
  const speech = await speechSamples();
  const backlog = new Float32Array(16_000 * 300);
  for (let offset = 0; offset < backlog.length; offset += speech.length) backlog.set(speech.subarray(0, Math.min(speech.length, backlog.length - offset)), offset);
  app.sessions.get(ids[0] ?? '')?.pushAudio(backlog);
  const lagging = await app.inject({ method: 'POST', url: initUrl('d') });
  assert.equal(lagging.statusCode, 503, lagging.body);
  assert.equal(lagging.json<{ code: string }>().code, 'overloaded');
  assert.equal(lagging.headers['retry-after'], '7');
  const ready = await app.inject({ method: 'GET', url: '/readyz' });
  assert.equal(ready.statusCode, 503);
  assert.equal(ready.json<{ saturated: boolean; checks: Record<string, { ok: boolean }> }>().checks.lag?.ok, false);

  // Once the backlog is gone, sessions are admitted again.
  await app.inject({ method: 'POST', url: `/delete_session?session_id=${encodeURIComponent(ids[0] ?? '')}` });
  assert.equal((await app.inject({ method: 'POST', url: initUrl('e') })).statusCode, 200);
  assert.equal((await app.inject({ method: 'GET', url: '/readyz' })).statusCode, 200);
});
