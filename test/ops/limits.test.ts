/**
 * Limits: per-client rate limits (429 + Retry-After; behind a proxy with server.trustProxy), sessions per client id,
 * the maximum session duration, Retry-After on 503s, and the /init refusal while the engine is
 * not keeping up (sessions holding more untranslated audio than limits.saturationLagMs).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { buildApp } from '../../src/app.ts';
import { createEngine } from '../../src/inference/engine/engine.ts';
import { toEngineOptions } from '../../src/config/engine-options.ts';
import type { Clock } from '../../src/sessions/clock.ts';
import { opsConfig, post, speechSamples, startServer } from './support/ops-harness.ts';

class ManualClock implements Clock {
  constructor(public nowMs = 1_800_000_000_000) {}
  now(): number {
    return this.nowMs;
  }
}

const initUrl = (clientId: string): string => `/init?${new URLSearchParams({ agent_type: 'InfiniSST', language_pair: 'English -> German', client_id: clientId })}`;

test('session creation is rate-limited per client address (/init and /load_model share one budget) with 429 + Retry-After', async (t) => {
  const windowMs = 1_500;
  const config = opsConfig(t, { limits: { initPerMinute: 3, downloadsPerMinute: 1 } });
  const engine = await createEngine(toEngineOptions(config, process.cwd()));
  t.after(() => engine.close(1_000));
  const app = await buildApp(config, { engine, runTimers: false, rateWindowMs: windowMs });
  t.after(() => app.close());

  const windowStart = Date.now();
  assert.equal((await app.inject({ method: 'POST', url: initUrl('c1') })).statusCode, 200);
  assert.equal((await app.inject({ method: 'POST', url: initUrl('c2') })).statusCode, 200);
  assert.equal((await app.inject({ method: 'POST', url: '/load_model?client_id=c3' })).statusCode, 200);
  const limited = await app.inject({ method: 'POST', url: initUrl('c4') });
  assert.equal(limited.statusCode, 429);
  assert.equal(limited.headers['retry-after'], '2');
  assert.equal(limited.headers['x-ratelimit-limit'], '3');
  assert.equal(limited.json<{ code: string }>().code, 'rateLimited');
  assert.match(limited.json<{ error: string }>().error, /Too many requests to \/init from this client; retry in 2 s/);
  const other = await app.inject({ method: 'POST', url: initUrl('c5'), remoteAddress: '10.0.0.9' });
  assert.equal(other.statusCode, 200, 'another client address has its own budget');
  // Downloads have their own budget (the feature is off here, so the answer is the JSON error).
  const download = await app.inject({ method: 'POST', url: '/download_youtube?url=x' });
  assert.equal(download.statusCode, 200);
  assert.deepEqual(download.json(), { error: 'YouTube download is disabled on this server' });
  assert.equal((await app.inject({ method: 'POST', url: '/download_youtube?url=x' })).statusCode, 429);
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  assert.match(metrics.body, /infinisst_rate_limited_total\{route="\/init"\} 1/);
  assert.match(metrics.body, /infinisst_youtube_downloads_total\{outcome="limited"\} 1/);
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, windowStart + windowMs + 100 - Date.now())));
  assert.equal((await app.inject({ method: 'POST', url: initUrl('c6') })).statusCode, 200, 'allowed again in the next window');
});

test('behind a proxy, server.trustProxy makes each forwarded address its own client; without it they share the proxy\'s', async (t) => {
  const config = (trustProxy: boolean | string) => opsConfig(t, { server: { trustProxy }, limits: { initPerMinute: 1 } });
  const engine = await createEngine(toEngineOptions(config(false), process.cwd()));
  t.after(() => engine.close(1_000));
  const from = (address: string) => ({ method: 'POST' as const, url: initUrl(address), remoteAddress: '127.0.0.1', headers: { 'x-forwarded-for': address } });

  const direct = await buildApp(config(false), { engine, runTimers: false });
  t.after(() => direct.close());
  assert.equal((await direct.inject(from('198.51.100.1'))).statusCode, 200);
  assert.equal((await direct.inject(from('198.51.100.2'))).statusCode, 429, 'one budget: the proxy\'s address');

  for (const trustProxy of [true, '127.0.0.1', '127.0.0.0/8']) {
    const proxied = await buildApp(config(trustProxy), { engine, runTimers: false });
    t.after(() => proxied.close());
    assert.equal((await proxied.inject(from('198.51.100.1'))).statusCode, 200, String(trustProxy));
    assert.equal((await proxied.inject(from('198.51.100.2'))).statusCode, 200, `${String(trustProxy)}: another forwarded address, another budget`);
    assert.equal((await proxied.inject(from('198.51.100.1'))).statusCode, 429, String(trustProxy));
  }
  const untrustedPeer = await buildApp(config('10.0.0.1'), { engine, runTimers: false });
  t.after(() => untrustedPeer.close());
  assert.equal((await untrustedPeer.inject(from('198.51.100.1'))).statusCode, 200);
  assert.equal((await untrustedPeer.inject(from('198.51.100.2'))).statusCode, 429, 'a peer that is not the listed proxy cannot choose its address');
});

test('at the default limits, 50 sessions started at once from one address are all admitted (none 429)', async (t) => {
  const server = await startServer(t);
  const baseUrl = `http://127.0.0.1:${server.port}`;
  const replies = await Promise.all(Array.from({ length: 50 }, (_, index) =>
    post(baseUrl, '/init', { agent_type: 'InfiniSST', language_pair: 'English -> German', client_id: `lab_${index}` })));
  assert.deepEqual(replies.map((reply) => reply.status), replies.map(() => 200));
  assert.equal(new Set(replies.map((reply) => reply.json?.session_id)).size, 50);
  // Admission follows the engine's session slots: beyond them sessions queue instead of failing.
  const queued = replies.filter((reply) => reply.json?.queued === true).length;
  assert.equal(queued, Math.max(0, 50 - server.app.sessions.maxActiveSessions));
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
