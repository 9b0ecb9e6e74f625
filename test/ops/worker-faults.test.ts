/**
 * Fault drills over the real server: an operator arms a worker crash or hang through the
 * admin-only POST /debug/inject_fault while several sessions stream. The worker is replaced (the
 * time to replacement is measured and printed, not asserted: tests must not depend on machine
 * speed). Sessions live in their worker: those on the healthy worker see no error; those the
 * failed worker hosted (the victim among them) lose the chunk in flight and their context, get
 * one ERROR frame, and translate their later chunks.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createSession, post, speechSamples, startServer, StreamClient, until, type RunningServer } from './support/ops-harness.ts';

const token = 'drill-token-0123456789';
const victimPair = 'English -> Spanish';
const bystanderPairs = ['English -> German', 'English -> Italian'];

async function drill(t: TestContext, fault: 'crash' | 'hang'): Promise<void> {
  const server: RunningServer = await startServer(t, {
    config: {
      admin: { token, allowFaultInjection: true },
      // Two workers: the bystanders' batches keep running on the healthy one.
      engine: { devices: [{ device: 'cpu', workers: 2, intraOpThreads: 1 }], requestDeadlineMs: 3_000 },
    },
  });
  const speech = await speechSamples();
  const open = async (pair: string): Promise<StreamClient> => {
    const client = await StreamClient.open(t, server.baseUrl, await createSession(server.baseUrl, { language_pair: pair }));
    await client.waitFor((frame) => frame.startsWith('READY'));
    return client;
  };
  const victim = await open(victimPair);
  const bystanders = await Promise.all(bystanderPairs.map(open));

  // Only the operator may arm a fault.
  const refused = await post(server.baseUrl, '/debug/inject_fault', { fault, language_pair: victimPair });
  assert.equal(refused.status, 401);
  const armed = await post(server.baseUrl, '/debug/inject_fault', { fault, language_pair: victimPair }, { headers: { authorization: `Bearer ${token}` } });
  assert.equal(armed.status, 200, JSON.stringify(armed.json));
  assert.equal(armed.json?.model, 'tiny-en-es');

  const loads = (): { live: number; restarts: number } => {
    const [load] = server.engine.deviceLoads();
    return { live: load?.liveWorkers ?? 0, restarts: load?.restarts ?? 0 };
  };
  const background = bystanders.map(async (client) => {
    client.sendAudio(speech);
    await client.finish();
  });
  victim.sendAudio(speech.subarray(0, 30_720));
  await victim.waitFor((frame) => frame.startsWith('ERROR'));
  const detectedAt = performance.now();
  assert.equal(loads().restarts, 1, 'the failed worker is being replaced');
  await until(() => loads().live === 2);
  t.diagnostic(`${fault}: worker replaced ${(performance.now() - detectedAt).toFixed(0)} ms after the failure was detected`);

  // The affected session recovers: later chunks translate without further errors.
  const errorsBefore = victim.errors().length;
  victim.sendAudio(speech.subarray(30_720, 30_720 * 4));
  await victim.finish();
  assert.equal(victim.errors().length, errorsBefore, `no further errors: ${victim.errors().join(' | ')}`);
  assert.equal(errorsBefore, 1, 'exactly one chunk failed');
  assert.equal(victim.closeCode, null, 'the affected socket stays open');

  await Promise.all(background);
  for (const client of bystanders) {
    assert.ok(client.errors().length <= 1, `a session on the failed worker loses one chunk at most: ${client.errors().join(' | ')}`);
    assert.ok(client.translations().length > 0, 'other sessions keep translating');
  }
  assert.ok(bystanders.some((client) => client.errors().length === 0), 'sessions on the healthy worker see no error');
  const stats = server.engine.stats();
  assert.equal(stats.workerRestarts, 1);
  assert.ok(stats.chunksProcessed > 0);
  const metrics = await (await fetch(`${server.baseUrl}/metrics`)).text();
  assert.match(metrics, /infinisst_worker_restarts_total\{device="cpu"\} 1/);
}

test('a worker crashing mid-stream is replaced; only the affected session sees one error and then recovers', async (t) => {
  await drill(t, 'crash');
});

test('a hung worker is detected by its deadline and replaced; only the affected session sees one error and then recovers', async (t) => {
  await drill(t, 'hang');
});
