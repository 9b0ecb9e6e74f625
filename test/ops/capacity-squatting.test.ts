/**
 * Slots are for streaming. /init without a socket, kept alive by /ping, once filled every slot
 * and queue place from one address for hours. Now an active session that never opens its socket
 * gives its slot back after `sessions.attachGraceMs`, and one address may hold only
 * `limits.maxSessionsPerAddress` sessions, whatever client_id it claims.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { post, speechSamples, startServer, StreamClient } from './support/ops-harness.ts';

const PAIR = 'English -> German';

/** POST /init from a given loopback address; resolves with the status and the JSON reply. */
function initFrom(port: number, localAddress: string, clientId: string): Promise<{ status: number; json: Record<string, unknown> }> {
  const query = new URLSearchParams({ agent_type: 'InfiniSST', language_pair: PAIR, latency_multiplier: '2', client_id: clientId });
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, localAddress, method: 'POST', path: `/init?${query}` }, (res) => {
      let body = '';
      res.on('data', (chunk: Buffer) => (body += chunk.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(body) as Record<string, unknown> }));
    });
    req.on('error', reject);
    req.end();
  });
}

test('sessions that never open their socket give their slots back; /ping alone does not hold one', async (t) => {
  const server = await startServer(t, {
    config: {
      sessions: { maxActiveSessions: 2, maxQueuedSessions: 2, attachGraceMs: 1_000, sweepIntervalMs: 100 },
      limits: { maxSessionsPerAddress: 0 },
    },
  });
  const squatters: string[] = [];
  for (let i = 0; i < 4; i++) squatters.push(String((await initFrom(server.port, '127.0.0.1', `squatter_${i}`)).json.session_id));
  assert.equal(server.app.sessions.counts().active, 2);
  assert.equal(server.app.sessions.counts().queued, 2);
  const pinging = setInterval(() => squatters.forEach((id) => void post(server.baseUrl, '/ping', { session_id: id }).catch(() => undefined)), 200);
  t.after(() => clearInterval(pinging));
  // Two grace periods: the first two release their slots, the promoted two then release theirs.
  await new Promise((resolve) => setTimeout(resolve, 3_000));
  clearInterval(pinging);
  assert.equal(server.app.sessions.counts().total, 0, 'every squatted slot and queue place was released');

  // A real user now gets a slot at once and translates.
  const reply = await initFrom(server.port, '127.0.0.1', 'real_user');
  assert.equal(reply.json.queued, false);
  const client = await StreamClient.open(t, server.baseUrl, String(reply.json.session_id));
  client.sendAudio((await speechSamples()).subarray(0, 16_000 * 3));
  await client.finish();
  assert.ok(client.translations().length > 0);
  await new Promise((resolve) => setTimeout(resolve, 1_500));
  assert.equal(server.app.sessions.counts().active, 1, 'a session that attached keeps its slot past the grace period');
});

test('one address may hold only limits.maxSessionsPerAddress sessions, whatever client_id it sends', async (t) => {
  const server = await startServer(t, { config: { limits: { maxSessionsPerAddress: 3 } } });
  for (let i = 0; i < 3; i++) assert.ok((await initFrom(server.port, '127.0.0.2', `fresh_id_${i}`)).json.session_id);
  const refused = await initFrom(server.port, '127.0.0.2', 'yet_another_id');
  assert.equal(refused.json.session_id, undefined);
  assert.match(String(refused.json.error ?? refused.json.detail ?? JSON.stringify(refused.json)), /This address already has 3 open sessions/);
  // Another address is not affected.
  assert.ok((await initFrom(server.port, '127.0.0.3', 'neighbour')).json.session_id);
});
