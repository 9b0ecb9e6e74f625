/**
 * Logs stay proportionate to what happens: a request is one line, and the polls every open page
 * and monitor makes (health, queue status, pings, metrics) are not logged at info level at all.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capturingLogger, createSession, post, startServer } from './support/ops-harness.ts';

test('polls write no info-level lines; any other request writes exactly one', async (t) => {
  const { logger, lines } = capturingLogger('info');
  const server = await startServer(t, { logger });
  const id = await createSession(server.baseUrl);
  const before = lines.length;
  const polls = 300;
  for (let i = 0; i < polls; i++) {
    await fetch(`${server.baseUrl}/health`).then((response) => response.arrayBuffer());
    await fetch(`${server.baseUrl}/queue_status/${encodeURIComponent(id)}`).then((response) => response.arrayBuffer());
    await post(server.baseUrl, '/ping', { session_id: id });
  }
  await fetch(`${server.baseUrl}/metrics`).then((response) => response.arrayBuffer());
  assert.deepEqual(lines.slice(before), [], `${3 * polls + 1} polls`);

  await post(server.baseUrl, '/update_latency', { session_id: id, latency_multiplier: '3' });
  const requestLines = lines.slice(before).filter((line) => line.includes('/update_latency'));
  assert.equal(requestLines.length, 1, lines.slice(before).join('\n'));
  const entry = JSON.parse(requestLines[0] ?? '{}') as { status?: number; method?: string; ms?: number };
  assert.equal(entry.status, 200);
  assert.equal(entry.method, 'POST');
  assert.equal(typeof entry.ms, 'number');
});
