/**
 * Fuzz: 10,000 seeded hostile inputs at a running server (real engine, real sockets) — HTTP
 * requests with odd routes, methods, query strings, bodies and session ids; WebSocket frames of
 * wrong sizes, bad values, bad UTF-8 and junk text; raw garbage for the HTTP parser. Afterwards:
 * no crash, no 5xx other than a clean 503 with Retry-After, every WS failure an ERROR: frame
 * without internals, every open session still finishes, a fresh session translates, and memory is
 * back near where it started once the sessions are gone.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test } from 'node:test';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import WebSocket from 'ws';
import { createSession, speechSamples, startServer, StreamClient, until, type RunningServer } from './support/ops-harness.ts';
import { httpRequest, Random, rawRequest, wsFrame } from './support/fuzz-inputs.ts';

const seed = Number(process.env.FUZZ_SEED ?? 20_260_529);
const counts = { http: 6_000, ws: 3_700, raw: 300 };

setFlagsFromString('--expose_gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

interface Findings {
  problems: string[];
  statuses: Map<number, number>;
}

function note(findings: Findings, problem: string): void {
  if (findings.problems.length < 20) findings.problems.push(problem);
}

async function fuzzHttp(server: RunningServer, random: Random, ids: string[], findings: Findings): Promise<void> {
  let sent = 0;
  const worker = async (): Promise<void> => {
    while (sent < counts.http) {
      sent++;
      const request = httpRequest(random, ids);
      let response: Response;
      try {
        response = await fetch(`${server.baseUrl}${request.path}`, {
          method: request.method,
          headers: request.headers,
          ...(request.body !== undefined ? { body: typeof request.body === 'string' ? request.body : new Blob([new Uint8Array(request.body)]) } : {}),
        });
      } catch (error) {
        // The client refused to send it (e.g. an invalid URL): not an input the server saw.
        if (error instanceof TypeError && !/fetch failed/.test(error.message)) continue;
        note(findings, `${request.method} ${request.path.slice(0, 120)}: connection failed: ${String(error)}`);
        continue;
      }
      const text = await response.text();
      findings.statuses.set(response.status, (findings.statuses.get(response.status) ?? 0) + 1);
      const isCleanOverload = response.status === 503 && response.headers.get('retry-after') !== null;
      if (response.status >= 500 && !isCleanOverload) note(findings, `${request.method} ${request.path.slice(0, 120)} → ${response.status} ${text.slice(0, 200)}`);
      if ((response.headers.get('content-type') ?? '').includes('json') && request.method !== 'HEAD') {
        try {
          JSON.parse(text);
        } catch {
          note(findings, `${request.path.slice(0, 120)}: JSON content type but not JSON`);
        }
      }
      const id = /"session_id":"([^"]+)"/.exec(text)?.[1];
      if (id && ids.length < 64) ids.push(id);
    }
  };
  await Promise.all(Array.from({ length: 8 }, worker));
}

async function fuzzRaw(server: RunningServer, random: Random, findings: Findings): Promise<void> {
  for (let i = 0; i < counts.raw; i++) {
    const reply = await new Promise<string>((resolve) => {
      const socket = connect(server.port, '127.0.0.1');
      let data = '';
      socket.on('data', (chunk: Buffer) => (data += chunk.toString('latin1')));
      socket.on('error', () => undefined);
      socket.on('close', () => resolve(data));
      socket.setTimeout(2_000, () => socket.destroy());
      socket.end(rawRequest(random));
    });
    const status = /^HTTP\/1\.[01] (\d{3})/.exec(reply)?.[1];
    if (status !== undefined && Number(status) >= 500) note(findings, `raw request → ${reply.slice(0, 120)}`);
  }
}

async function fuzzWebSocket(t: Parameters<typeof startServer>[0], server: RunningServer, random: Random, findings: Findings): Promise<{ ids: string[]; clients: StreamClient[] }> {
  const ids = await Promise.all(Array.from({ length: 6 }, () => createSession(server.baseUrl)));
  const clients: StreamClient[] = [];
  const connect = async (id: string): Promise<StreamClient> => {
    const client = await StreamClient.open(t, server.baseUrl, id);
    clients.push(client);
    return client;
  };
  const live = await Promise.all(ids.map(connect));
  for (let i = 0; i < counts.ws; i++) {
    const index = random.int(0, live.length - 1);
    let client = live[index];
    if (!client) continue;
    if (client.socket.readyState !== WebSocket.OPEN) {
      // Closed by a protocol violation (bad UTF-8 → 1007): the session outlives its socket.
      client = await connect(ids[index] ?? '');
      live[index] = client;
    }
    if (random.chance(0.01)) {
      // A socket to an unknown id is accepted, then closed with 4000 (as the original).
      const stray = await StreamClient.open(t, server.baseUrl, `nope_${random.int(0, 1e9)}`);
      if ((await stray.waitForClose()) !== 4000) note(findings, `stray socket closed with ${stray.closeCode}`);
      continue;
    }
    const frame = wsFrame(random);
    const isBadUtf8Text = !frame.isBinary && random.chance(0.02);
    if (isBadUtf8Text) client.socket.send(Buffer.from([0x45, 0xff, 0xfe, 0x80]), { binary: false });
    else client.socket.send(frame.data, { binary: frame.isBinary });
    // Keep the client's own buffer bounded: the server applies back-pressure by pausing reads.
    if (client.socket.bufferedAmount > 4 * 1024 * 1024) await until(() => client.socket.bufferedAmount < 1024 * 1024 || client.socket.readyState !== WebSocket.OPEN, 5);
  }
  for (const client of clients) {
    for (const frame of client.errors()) if (/\.ts:\d+|\n\s+at |TypeError|RangeError/.test(frame)) note(findings, `ERROR frame leaks internals: ${frame.slice(0, 200)}`);
  }
  for (const client of clients) {
    if (client.closeCode !== null && ![1000, 1007, 4000, 4003].includes(client.closeCode)) note(findings, `socket closed with ${client.closeCode}`);
  }
  return { ids, clients: live };
}

test('10,000 malformed inputs: no crash, only clean 4xx or ERROR: replies, no stalled session, memory bounded', { timeout: 240_000 }, async (t) => {
  const server = await startServer(t, {
    config: {
      // Generous limits, so that the fuzz reaches session creation and not only the limiter.
      limits: { initPerMinute: 1_000_000 },
      sessions: { maxActiveSessions: 32, maxQueuedSessions: 16 },
      // Tagged ids: mutated ids with foreign tags exercise the scale-out routing check too.
      cluster: { instanceTag: 'fz' },
      // A small untranslated-audio bound: the fuzz hits back-pressure and the overload refusal,
      // and what is left to translate at the end stays small.
      engine: { streamHighWaterMs: 6_000, streamMaxPendingMs: 8_000 },
    },
  });
  const random = new Random(seed);
  const findings: Findings = { problems: [], statuses: new Map() };
  t.diagnostic(`seed ${seed} (replay with FUZZ_SEED=${seed})`);
  const baselineHeap = heapAfterGc();
  const startedAt = performance.now();

  const ids: string[] = [await createSession(server.baseUrl)];
  const [, , live] = await Promise.all([
    fuzzHttp(server, new Random(random.int(0, 2 ** 31)), ids, findings),
    fuzzRaw(server, new Random(random.int(0, 2 ** 31)), findings),
    fuzzWebSocket(t, server, new Random(random.int(0, 2 ** 31)), findings),
  ]);
  t.diagnostic(`${counts.http + counts.ws + counts.raw} inputs in ${((performance.now() - startedAt) / 1000).toFixed(1)} s; HTTP statuses ${JSON.stringify(Object.fromEntries(findings.statuses))}`);
  assert.deepEqual(findings.problems, []);

  // Fuzzed reconfiguration may have changed batching: restore it before judging liveness.
  server.engine.configureBatching({ maxBatchSize: 32, maxWaitMs: 5 });
  // No stalled session: every fuzzed socket still finishes its stream.
  // No stalled session: every fuzzed session (reconnected if its socket was closed by a protocol
  // violation) still finishes its stream.
  for (const [index, id] of live.ids.entries()) {
    const current = live.clients[index];
    const client = current && current.socket.readyState === WebSocket.OPEN ? current : await StreamClient.open(t, server.baseUrl, id);
    await client.finish();
  }
  // The server still serves: health, readiness, and a fresh session translating speech.
  const health = await fetch(`${server.baseUrl}/health`);
  assert.equal(health.status, 200);
  assert.equal(((await health.json()) as { status: string }).status, 'healthy');
  for (const session of server.app.sessions.list()) server.app.sessions.delete(session.id);
  const ready = await fetch(`${server.baseUrl}/readyz`);
  assert.equal(ready.status, 200, await ready.clone().text());
  assert.equal(((await ready.json()) as { status: string }).status, 'ready');
  const fresh = await StreamClient.open(t, server.baseUrl, await createSession(server.baseUrl));
  await fresh.waitFor((frame) => frame.startsWith('READY'));
  fresh.sendAudio((await speechSamples()).subarray(0, 16_000 * 6));
  await fresh.finish();
  assert.deepEqual(fresh.errors(), []);
  assert.ok(fresh.translations().length > 0);

  // Memory: with every session gone, the heap is back near its start (bounded maps, no leaks).
  for (const session of server.app.sessions.list()) server.app.sessions.delete(session.id);
  for (const client of server.app.websocketServer.clients) client.terminate();
  await until(() => server.app.websocketServer.clients.size === 0);
  const growthMb = (heapAfterGc() - baselineHeap) / 1024 / 1024;
  t.diagnostic(`heap growth after the fuzz: ${growthMb.toFixed(1)} MB; RSS ${(process.memoryUsage.rss() / 1024 / 1024).toFixed(0)} MB`);
  assert.ok(growthMb < 64, `heap grew by ${growthMb.toFixed(1)} MB`);
  assert.equal(server.app.sessions.counts().total, 0);
});
