/**
 * A client cannot flood the logs: one that never reads and repeats frames (valid latency changes
 * whose answers pile up, invalid latencies, malformed audio) gets each kind of event logged once,
 * counted afterwards, and none of its mistakes at error level.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { capturingLogger, createSession, startServer, StreamClient, until } from './support/ops-harness.ts';

test('repeated frames from one connection are counted, not logged one by one; client mistakes are not errors', async (t) => {
  const { logger, lines } = capturingLogger('debug');
  const server = await startServer(t, { logger });
  const id = await createSession(server.baseUrl);
  const client = await StreamClient.open(t, server.baseUrl, id);
  await client.waitFor((frame) => frame.startsWith('READY'));
  const before = lines.length;
  // Stop reading: the server's answers pile up in its bounded outbox and are dropped.
  const raw = (client.socket as unknown as { _socket: { pause(): void } })._socket;
  raw.pause();
  const repeats = 5_000;
  for (let i = 0; i < repeats; i++) {
    client.socket.send('LATENCY:2');
    client.socket.send('LATENCY:99');
    client.socket.send(new Uint8Array([1, 2, 3]));
  }
  await new Promise((resolve) => setTimeout(resolve, 2_000));
  client.socket.terminate();
  await until(() => lines.slice(before).some((line) => line.includes('repeated stream events')), 20);
  const produced = lines.slice(before);
  const bytes = produced.reduce((sum, line) => sum + line.length, 0);
  assert.ok(produced.length < 40, `${produced.length} log lines for ${3 * repeats} frames`);
  assert.ok(bytes < 40_000, `${bytes} bytes of logs`);
  const errors = produced.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);
  assert.deepEqual(errors, [], 'a client\'s bad frames are not server errors');
  const summary = JSON.parse(produced.find((line) => line.includes('repeated stream events')) ?? '{}') as { repeated?: Record<string, number> };
  assert.ok((summary.repeated?.['rejected:badAudioFrame'] ?? 0) > 0, JSON.stringify(summary));
});
