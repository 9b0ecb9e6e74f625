/**
 * Work a client queues is counted as it will be processed. Pairs of a 1-sample frame and EOF each
 * ask for a whole padded chunk; they once counted 1 sample each against the limits, so 20,000
 * pairs (~160 KB sent) grew the server by ~3 GiB. Now the padded chunks count in full, a repeated
 * EOF adds nothing, and the memory stays flat (measured RSS, generous bound) and is released
 * when the session goes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { createSession, post, speechSamples, startServer, StreamClient } from './support/ops-harness.ts';

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;
const MIB = 1024 * 1024;
const PAIRS = 5_000;
/** Without the fix the flood below queues ~600 MiB of padded chunks. */
const GROWTH_BOUND = 200 * MIB;

function rssAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage.rss();
}

test('a flood of 1-sample frames and EOFs leaves memory flat, and the server keeps serving', async (t) => {
  const server = await startServer(t);
  const { baseUrl } = server;
  // Warm up: one real session, so that lazily allocated engine buffers are in the baseline.
  const warm = await createSession(baseUrl);
  const warmClient = await StreamClient.open(t, baseUrl, warm);
  warmClient.sendAudio((await speechSamples()).subarray(0, 16_000 * 4));
  await warmClient.finish();
  await post(baseUrl, '/delete_session', { session_id: warm });
  const baseline = rssAfterGc();

  const id = await createSession(baseUrl);
  const client = await StreamClient.open(t, baseUrl, id);
  await client.waitFor((frame) => frame.startsWith('READY'));
  let peak = baseline;
  const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage.rss())), 50);
  t.after(() => clearInterval(sampler));
  const oneSample = new Float32Array(1).fill(0.1);
  for (let i = 0; i < PAIRS; i++) {
    client.socket.send(oneSample);
    client.socket.send('EOF');
  }
  for (let i = 0; i < PAIRS; i++) client.socket.send('EOF');
  // Let the server read what it will (it pauses the socket once the session's work is full).
  await new Promise((resolve) => setTimeout(resolve, 4_000));
  peak = Math.max(peak, process.memoryUsage.rss());
  assert.ok(peak - baseline < GROWTH_BOUND, `RSS grew by ${((peak - baseline) / MIB).toFixed(0)} MiB during the flood`);
  assert.ok(client.errors().some((frame) => /too much untranslated audio/.test(frame)), `the client was told to wait: ${client.errors().slice(0, 2).join(' | ')}`);

  client.socket.terminate();
  assert.equal((await post(baseUrl, '/delete_session', { session_id: id })).json?.success, true);
  clearInterval(sampler);
  await new Promise((resolve) => setTimeout(resolve, 500));
  const after = rssAfterGc();
  assert.ok(after - baseline < GROWTH_BOUND, `RSS stayed ${((after - baseline) / MIB).toFixed(0)} MiB above the baseline after the session was deleted`);

  // Another session still translates.
  const fresh = await createSession(baseUrl);
  const freshClient = await StreamClient.open(t, baseUrl, fresh);
  freshClient.sendAudio((await speechSamples()).subarray(0, 16_000 * 4));
  await freshClient.finish();
  assert.ok(freshClient.translations().length > 0);
});
