/**
 * The OpenAI-Realtime-compatible edge (/v1/realtime/translations, /v1/realtime) on the real
 * engine, over real sockets: configuration by model, output language or our extension; every kind of bad
 * input answered with an `error` event while the session (and every other) goes on; the queue said
 * in an event with its position; keys and single-use client secrets; latency, reset and lag
 * extensions. The official client's end-to-end run is test/e2e/realtime-openai-client.test.ts.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import WebSocket from 'ws';
import { buildTestApp, connectStream, createSession, FrameCollector, frameOf, pathId, speech } from '../app/helpers.ts';
import { until } from '../app/wait.ts';

type RealtimeEvent = { type: string; [key: string]: unknown };

class EventCollector {
  readonly events: RealtimeEvent[] = [];
  closed: { code: number; reason: string } | null = null;

  constructor(socket: WebSocket) {
    socket.on('message', (data: Buffer) => this.events.push(JSON.parse(data.toString()) as RealtimeEvent));
    socket.on('close', (code: number, reason: Buffer) => (this.closed = { code, reason: reason.toString() }));
  }

  /** The close code, once closed (a method: assertions on `closed` would narrow it for good). */
  closeCode(): number | null {
    return this.closed?.code ?? null;
  }

  async next(type: string, after = 0): Promise<RealtimeEvent> {
    await until(() => this.events.slice(after).some((event) => event.type === type), `a ${type} event`);
    return this.events.slice(after).find((event) => event.type === type) as RealtimeEvent;
  }

  /** The error event caused by what was sent after `after` events had arrived. */
  async error(after: number): Promise<{ code: string; message: string; param: string | null; type: string }> {
    return (await this.next('error', after)).error as { code: string; message: string; param: string | null; type: string };
  }
}

/**
 * Opens a real socket to the app (listening on a free port from the first call): the upgrade
 * passes through every onRequest hook, the per-address rate limit's included, which injected
 * sockets do not survive. Rejects with the HTTP status of a refused upgrade.
 */
async function upgrade(t: TestContext, app: FastifyInstance, pathAndQuery: string, headers: Record<string, string> = {}, onSocket: (socket: WebSocket) => void = () => {}): Promise<WebSocket> {
  if (!app.server.listening) await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const protocols = headers['sec-websocket-protocol']?.split(',').map((protocol) => protocol.trim());
  const { 'sec-websocket-protocol': _protocols, ...rest } = headers;
  const socket = new WebSocket(`ws://127.0.0.1:${port}${pathAndQuery}`, protocols ?? [], { headers: rest });
  onSocket(socket);
  t.after(() => socket.terminate());
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('unexpected-response', (_request, response) => reject(new Error(`Unexpected server response: ${response.statusCode}`)));
    socket.once('error', reject);
  });
  return socket;
}

async function connect(t: TestContext, app: FastifyInstance, query = '?model=English%20-%3E%20German', headers: Record<string, string> = {}, path = '/v1/realtime/translations') {
  let events: EventCollector | undefined;
  const socket = await upgrade(t, app, `${path}${query}`, headers, (ws) => (events = new EventCollector(ws)));
  const collector = events as unknown as EventCollector;
  await collector.next('session.created');
  return { socket, events: collector };
}

const send = (socket: WebSocket, event: Record<string, unknown>): void => socket.send(JSON.stringify(event));

/** `samples` of 16 kHz pseudo-speech as 24 kHz PCM16 base64 (every 16 kHz sample repeated 1.5× by nearest neighbour). */
function pcm24k(samples: Float32Array): string {
  const count = Math.floor((samples.length * 3) / 2);
  const pcm = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) pcm.writeInt16LE(Math.round((samples[Math.floor((i * 2) / 3)] ?? 0) * 32767), i * 2);
  return pcm.toString('base64');
}

test('bad input gets the protocol\'s error events, and the session and a /wss session next to it go on', async (t) => {
  const { app } = await buildTestApp(t);
  const neighbour = await connectStream(t, app, await createSession(app, { language_pair: 'English -> German' }));
  const { socket, events } = await connect(t, app);
  const cases: [() => void, string, RegExp, string | null][] = [
    [() => socket.send(Buffer.from([1, 2, 3])), 'validation_failed', /binary frames are not part of this protocol/, null],
    [() => socket.send('{not json'), 'invalid_json', /not valid JSON/, null],
    [() => send(socket, { event_id: 'e1' }), 'invalid_event', /string "type"/, 'type'],
    [() => send(socket, { type: 'response.create' }), 'unknown_event_type', /unknown event type "response.create"; this server accepts session.update, session.input_audio_buffer.append, session.close/, 'type'],
    [() => send(socket, { type: 'session.input_audio_buffer.append', audio: 'not base64!' }), 'validation_failed', /audio is not valid base64/, null],
    [() => send(socket, { type: 'session.input_audio_buffer.append', audio: 5 }), 'invalid_event', /session.input_audio_buffer.append: audio:/, 'audio'],
    [() => send(socket, { type: 'session.update', session: { infinisst: { latency_multiplier: 50 } } }), 'validation_failed', /latency_multiplier must be an integer from 1 to \d+/, null],
    [() => send(socket, { type: 'session.update', session: { model: 'another-model' } }), 'validation_failed', /the model is fixed when the session is created/, null],
    [() => socket.send(JSON.stringify({ type: 'session.input_audio_buffer.append', audio: 'A'.repeat(2_000_000) }).slice(0, 900_000)), 'event_too_large', /exceeds the limit/, null],
  ];
  for (const [act, code, message, param] of cases) {
    const before = events.events.length;
    act();
    const error = await events.error(before);
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    assert.equal(error.param, param);
    assert.equal(error.type, 'invalid_request_error');
  }
  assert.equal(events.closed, null, 'the socket stays open');
  // The session still translates, and so does the neighbour on /wss.
  send(socket, { type: 'session.input_audio_buffer.append', audio: pcm24k(speech(2 * 30_720, 3)) });
  neighbour.socket.send(frameOf(speech(30_720, 4)));
  await events.next('session.output_transcript.delta');
  await neighbour.frames.waitForTranslations(1);
  send(socket, { type: 'session.close' });
  await events.next('session.closed');
  await until(() => events.closed !== null, 'the socket closed');
  assert.equal(events.closeCode(), 1000);
});

test('a session is configured by the model in the URL, a package and an output language, or our language_pair; audio before that is refused', async (t) => {
  const { app } = await buildTestApp(t);
  const bare = await connect(t, app, '');
  const created = bare.events.events[0]?.session as { model: string; infinisst: { state: string } };
  assert.deepEqual([created.model, created.infinisst.state], ['', 'unconfigured']);
  send(bare.socket, { type: 'session.input_audio_buffer.append', audio: pcm24k(speech(4_800, 1)) });
  assert.match((await bare.events.error(1)).message, /audio before a session is configured/);
  const before = bare.events.events.length;
  send(bare.socket, { type: 'session.update', session: { infinisst: { language_pair: 'English -> Italian', latency_multiplier: 3 } } });
  const updated = (await bare.events.next('session.updated', before)).session as { audio: { output: { language: string } }; infinisst: { language_pair: string; latency_multiplier: number; state: string } };
  assert.deepEqual([updated.infinisst.language_pair, updated.infinisst.latency_multiplier, updated.infinisst.state, updated.audio.output.language], ['English -> Italian', 3, 'active', 'it']);

  const byPackage = await connect(t, app, '?model=tiny-en-zh');
  assert.equal((byPackage.events.events[0]?.session as { infinisst: { language_pair: string } }).infinisst.language_pair, 'English -> Chinese');
  send(byPackage.socket, { type: 'session.update', session: { audio: { output: { language: 'fr' } } } });
  assert.match((await byPackage.events.error(1)).message, /model "tiny-en-zh" does not translate into "fr"/);

  const unknown = await connect(t, app, '?model=gpt-4o-translate');
  const error = await unknown.events.error(0);
  assert.equal(error.code, 'model_not_found');
  assert.match(error.message, /model "gpt-4o-translate" is not served \(served pairs: .*"English -> German".*; models: .*tiny-en-de/);
  await until(() => unknown.events.closed !== null, 'the refused socket closed');
  assert.equal(unknown.events.closeCode(), 1008);
});

test('a session waiting for capacity says so with its position, then that it is active', async (t) => {
  const { app } = await buildTestApp(t, { config: { sessions: { maxActiveSessions: 1 } } });
  const first = await connect(t, app);
  const second = await connect(t, app);
  const queued = await second.events.next('infinisst.session.queued');
  assert.equal(queued.queue_position, 1);
  assert.equal((second.events.events[0]?.session as { infinisst: { state: string; queue_position: number } }).infinisst.queue_position, 1);
  send(first.socket, { type: 'session.close' });
  await first.events.next('session.closed');
  await second.events.next('infinisst.session.active');
});

test('with keys configured: a bearer key, or a single-use client secret minted with one', async (t) => {
  const { app } = await buildTestApp(t, { config: { realtime: { apiKeys: ['key-0123456789'] } } });
  await assert.rejects(upgrade(t, app, '/v1/realtime/translations?model=tiny-en-de'), /401/);
  await assert.rejects(upgrade(t, app, '/v1/realtime/translations?model=tiny-en-de', { authorization: 'Bearer wrong-key-000' }), /401/);
  await connect(t, app, '?model=tiny-en-de', { authorization: 'Bearer key-0123456789' });
  await connect(t, app, '?model=tiny-en-de', { 'sec-websocket-protocol': 'realtime, openai-insecure-api-key.key-0123456789' });

  const body = { session: { model: 'tiny-en-de', type: 'translation' }, expires_after: { anchor: 'created_at', seconds: 60 } };
  const refused = await app.inject({ method: 'POST', url: '/v1/realtime/translations/client_secrets', payload: body });
  assert.equal(refused.statusCode, 401);
  const minted = await app.inject({ method: 'POST', url: '/v1/realtime/translations/client_secrets', payload: body, headers: { authorization: 'Bearer key-0123456789' } });
  assert.equal(minted.statusCode, 200, minted.body);
  const secret = minted.json<{ value: string; expires_at: number; session: { model: string; audio: { output: { language: string } } } }>();
  assert.match(secret.value, /^ek_/);
  const nowS = app.clock.now() / 1000;
  assert.ok(secret.expires_at > nowS + 58 && secret.expires_at <= nowS + 60, `expires_at ${secret.expires_at}, now ${nowS}`);
  assert.deepEqual([secret.session.model, secret.session.audio.output.language], ['tiny-en-de', 'de']);
  await connect(t, app, '?model=tiny-en-de', { authorization: `Bearer ${secret.value}` });
  await assert.rejects(upgrade(t, app, '/v1/realtime/translations?model=tiny-en-de', { authorization: `Bearer ${secret.value}` }), /401/, 'a secret opens one session');
  const tooLong = await app.inject({ method: 'POST', url: '/v1/realtime/translations/client_secrets', payload: { ...body, expires_after: { seconds: 99_999 } }, headers: { authorization: 'Bearer key-0123456789' } });
  assert.equal(tooLong.statusCode, 422);
  assert.match(tooLong.body, /expires_after.seconds must be an integer from 10 to 7200/);
});

test('extensions: lag events while audio is behind, a reset that replaces the text, and text growing only by deltas', async (t) => {
  const { app } = await buildTestApp(t);
  const { socket, events } = await connect(t, app);
  send(socket, { type: 'session.update', session: { infinisst: { lag_interval_ms: 50 } } });
  await events.next('session.updated');
  send(socket, { type: 'session.input_audio_buffer.append', audio: pcm24k(speech(3 * 30_720, 5)) });
  const lag = await events.next('infinisst.lag');
  assert.equal(typeof lag.lag_ms, 'number');
  assert.ok((lag.audio_received_ms as number) > 0);
  await events.next('session.output_transcript.delta');
  const before = events.events.length;
  send(socket, { type: 'session.update', session: { infinisst: { reset: true } } });
  const replaced = await events.next('infinisst.output_transcript.replaced', before);
  assert.equal(replaced.text, '');
  send(socket, { type: 'session.close' });
  await events.next('session.closed');
});

test('the lag figure on both protocols: /wss sockets that ask get LAG: frames, and /metrics has it for every active session', async (t) => {
  const { app } = await buildTestApp(t, { config: { websocket: { lagIntervalMs: 50 } } });
  const plain = await connectStream(t, app, await createSession(app, { language_pair: 'English -> German' }));
  const id = await createSession(app, { language_pair: 'English -> German' });
  let frames: FrameCollector | undefined;
  const socket = await app.injectWS(`/wss/${pathId(id)}?lag=true`, {}, { onInit: (ws) => (frames = new FrameCollector(ws)) });
  t.after(() => socket.terminate());
  socket.send(frameOf(speech(30_720 + 8_000, 6)));
  plain.socket.send(frameOf(speech(30_720 + 8_000, 6)));
  const lag = await (frames as FrameCollector).waitFor((frame) => frame.startsWith('LAG: '));
  assert.match(lag, /^LAG: \d+$/);
  await plain.frames.waitForTranslations(1);
  assert.deepEqual(plain.frames.frames.filter((frame) => frame.startsWith('LAG')), [], 'only sockets that ask: the original page would show it as text');
  const metrics = await app.inject({ method: 'GET', url: '/metrics' });
  for (const quantile of ['0.5', '0.9', '1']) assert.match(metrics.body, new RegExp(`^infinisst_session_lag_seconds\\{quantile="${quantile}"\\} [0-9.e-]+$`, 'm'));
});

test('transcription sessions (/v1/realtime?intent=transcription): configured by session.update, commit completes an item, clear starts afresh, bad input is an error event', async (t) => {
  const { app } = await buildTestApp(t);
  await assert.rejects(upgrade(t, app, '/v1/realtime?model=gpt-realtime'), /422/, 'conversation sessions are not served');
  const refusal = await app.inject({ method: 'GET', url: '/v1/realtime?model=gpt-realtime' });
  assert.match(refusal.body, /conversation sessions are not served/);
  const { socket, events } = await connect(t, app, '?intent=transcription', {}, '/v1/realtime');
  const created = events.events[0]?.session as { type: string; infinisst: { state: string } };
  assert.deepEqual([created.type, created.infinisst.state], ['transcription', 'unconfigured']);
  const refused: [Record<string, unknown>, RegExp][] = [
    [{ type: 'input_audio_buffer.commit' }, /input_audio_buffer.commit before a session is configured/],
    [{ type: 'session.input_audio_buffer.append', audio: '' }, /unknown event type "session.input_audio_buffer.append"; this server accepts session.update, input_audio_buffer.append, input_audio_buffer.commit, input_audio_buffer.clear/],
    [{ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcmu' } } } } }, /only audio\/pcm \(PCM16 at 24000 Hz\) is accepted/],
    [{ type: 'session.update', session: { audio: { input: { format: { type: 'audio/pcm', rate: 16_000 } } } } }, /audio\/pcm is accepted at 24000 Hz only/],
  ];
  for (const [event, message] of refused) {
    const before = events.events.length;
    send(socket, event);
    assert.match((await events.error(before)).message, message);
  }
  send(socket, { type: 'session.update', session: { type: 'transcription', audio: { input: { transcription: { model: 'tiny-en-it' }, turn_detection: { type: 'server_vad' } } } } });
  const updated = (await events.next('session.updated')).session as { audio: { input: { transcription: { model: string } } }; infinisst: { language_pair: string } };
  assert.deepEqual([updated.audio.input.transcription.model, updated.infinisst.language_pair], ['tiny-en-it', 'English -> Italian']);
  send(socket, { type: 'input_audio_buffer.append', audio: pcm24k(speech(2 * 30_720, 8)) });
  send(socket, { type: 'input_audio_buffer.commit', event_id: 'c1' });
  const completed = await events.next('conversation.item.input_audio_transcription.completed');
  const committed = await events.next('input_audio_buffer.committed');
  assert.equal(committed.item_id, completed.item_id);
  assert.equal(committed.previous_item_id, null);
  const deltas = events.events.filter((event) => event.type === 'conversation.item.input_audio_transcription.delta');
  assert.equal(completed.transcript, deltas.map((event) => String(event.delta)).join(''));
  assert.ok(String(completed.transcript).length > 0);
  const before = events.events.length;
  send(socket, { type: 'input_audio_buffer.clear' });
  await events.next('input_audio_buffer.cleared', before);
  send(socket, { type: 'input_audio_buffer.append', audio: pcm24k(speech(30_720, 9)) });
  send(socket, { type: 'input_audio_buffer.commit' });
  const second = (await until(() => events.events.filter((event) => event.type === 'conversation.item.input_audio_transcription.completed').length === 2, 'a second completion'), events.events.filter((event) => event.type === 'conversation.item.input_audio_transcription.completed')[1]);
  assert.notEqual(second?.item_id, completed.item_id, 'a new item after the clear');
});

test('realtime connections share the per-address budget of /init: beyond it, 429 before the upgrade', async (t) => {
  const { app } = await buildTestApp(t, { config: { limits: { initPerMinute: 2 } } });
  await createSession(app, { language_pair: 'English -> German' });
  await connect(t, app);
  await assert.rejects(upgrade(t, app, '/v1/realtime/translations?model=tiny-en-de'), /429/);
  await assert.rejects(upgrade(t, app, '/v1/realtime?intent=transcription'), /429/);
});
