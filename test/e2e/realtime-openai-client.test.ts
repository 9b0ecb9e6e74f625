/**
 * The OpenAI-Realtime-compatible edge, driven by the official `openai` package's own clients
 * (which only speak wss: the server runs with a throwaway self-signed certificate) against the real
 * engine and the default models, a speech WAV at 24 kHz going in as 200 ms appends:
 * - translation sessions (`OpenAIRealtimeTranslationWS`): transcript deltas come back while audio
 *   is still being sent, `finish()` (session.close) brings the tail and `session.closed`, and the
 *   text is the one /wss produces for the same 16 kHz audio and latency;
 * - transcription sessions (`OpenAIRealtimeWS`, intent transcription): deltas per item, and each
 *   `input_audio_buffer.commit` answered by `committed` and `completed` carrying that item's
 *   translation.
 */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { test, type TestContext } from 'node:test';
import OpenAI from 'openai';
import { OpenAIRealtimeTranslationWS } from 'openai/realtime/translations/ws';
import { OpenAIRealtimeWS } from 'openai/realtime/ws';
import WebSocket from 'ws';
import { buildApp } from '../../src/app.ts';
import { toEngineOptions } from '../../src/config/engine-options.ts';
import type { ServerConfig } from '../../src/config/schema.ts';
import { decodeWav } from '../../src/evaluation/wav.ts';
import { createEngine } from '../../src/inference/engine/engine.ts';
import { Pcm16RateConverter } from '../../src/protocol/pcm16-audio.ts';
import { concatAudio, engineOptions } from '../support/engine-fixtures.ts';
import { makeSpeechWav } from '../support/speech.ts';
import { opensslSkip, selfSignedCertificate } from '../support/tls.ts';
import { createSession, FrameCollector, testConfig } from '../app/helpers.ts';
import { until } from '../app/wait.ts';

async function startTlsServer(t: TestContext, overrides: Parameters<typeof testConfig>[1] = {}) {
  const config: ServerConfig = testConfig(t, { engine: { devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1 }] }, ...overrides });
  const engine = await createEngine({ ...toEngineOptions(config, process.cwd()), modelsDir: engineOptions().modelsDir });
  t.after(() => engine.close(1_000));
  const { cert, key } = selfSignedCertificate(t);
  const tls = { cert, key };
  const app = await buildApp(config, { engine, runTimers: false, tls });
  t.after(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  return { app, port: address.port, ca: tls.cert };
}

/** 24 kHz PCM16 speech, as a Realtime client sends it. */
async function speechPcm24k(): Promise<Buffer> {
  const wav = await readFile(await makeSpeechWav(undefined, { sampleRateHz: 24_000 }));
  const parsed = decodeWav(wav);
  assert.equal(parsed.sampleRateHz, 24_000);
  const pcm = Buffer.alloc(parsed.samples.length * 2);
  parsed.samples.forEach((sample, index) => pcm.writeInt16LE(Math.max(-32768, Math.min(32767, Math.round(sample * 32768))), index * 2));
  return pcm;
}

type AnyEvent = { type: string; [key: string]: unknown };

/** Resolves when `socket` (ws, or the SDK's adapter of it) is open; rejects on its first error. */
function opened(socket: { once(event: string, listener: (...args: unknown[]) => void): unknown }): Promise<void> {
  return new Promise((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
}

/** The translation /wss gives for `samples` at latency ×2 (the realtime default). */
async function wssTranslation(app: Awaited<ReturnType<typeof startTlsServer>>['app'], port: number, ca: Buffer, samples: Float32Array): Promise<string> {
  const id = await createSession(app, { language_pair: 'English -> German', latency_multiplier: '2' });
  const socket = new WebSocket(`wss://localhost:${port}/wss/${encodeURIComponent(id)}`, { ca });
  const frames = new FrameCollector(socket);
  await opened(socket);
  for (let offset = 0; offset < samples.length; offset += 30_720) socket.send(samples.slice(offset, offset + 30_720));
  socket.send('EOF');
  await frames.waitFor((frame) => frame.startsWith('PROCESSING_COMPLETE'));
  socket.close();
  return frames.translations().at(-1) ?? '';
}

test('the official openai realtime translation client gets deltas while it streams, the tail on finish, and the text /wss gives', { skip: opensslSkip }, async (t) => {
  const { app, port, ca } = await startTlsServer(t);
  const pcm = await speechPcm24k();
  const client = new OpenAI({ apiKey: 'any-key-the-open-server-ignores', baseURL: `https://localhost:${port}/v1` });
  const connection = await OpenAIRealtimeTranslationWS.create(client, { model: 'English -> German', options: { ca } });
  const events: AnyEvent[] = [];
  const errors: Error[] = [];
  connection.on('event', (event) => events.push(event as unknown as AnyEvent));
  connection.on('error', (error) => errors.push(error));
  await opened(connection.socket.platformSocket);

  const deltas = () => events.filter((event) => event.type === 'session.output_transcript.delta');
  const appendBytes = 24_000 * 2 / 5; // 200 ms
  let deltasWhileSending = 0;
  for (let offset = 0; offset < pcm.length; offset += appendBytes) {
    connection.send({ type: 'session.input_audio_buffer.append', audio: pcm.subarray(offset, offset + appendBytes).toString('base64') });
    // Once two chunks' worth of audio is in, wait for the first delta: it must come while the session is still open for audio.
    if (offset === 24_000 * 2 * 4 && deltas().length === 0) {
      const deadline = Date.now() + 60_000;
      while (deltas().length === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    }
    if (offset + appendBytes < pcm.length) deltasWhileSending = deltas().length;
  }
  assert.ok(deltasWhileSending >= 1, 'transcript deltas arrived while audio was still being appended');
  await connection.finish({ timeoutMs: 60_000 });

  assert.deepEqual(errors, []);
  assert.equal(events[0]?.type, 'session.created');
  const session = events[0]?.session as { id: string; model: string; type: string; audio: { output: { language: string } }; infinisst: { language_pair: string; state: string } };
  assert.equal(session.type, 'translation');
  assert.equal(session.model, 'English -> German');
  assert.equal(session.audio.output.language, 'de');
  assert.equal(session.infinisst.language_pair, 'English -> German');
  assert.equal(events.at(-1)?.type, 'session.closed');
  assert.ok(deltas().length > deltasWhileSending, 'finish brought the translation of the tail');
  const text = deltas().map((event) => String(event.delta)).join('');
  assert.ok(text.trim().length > 0);
  assert.equal(app.sessions.get(session.id), undefined, 'the session ended with its connection');

  // The same audio as /wss receives it: the 16 kHz samples the server made of the 24 kHz PCM.
  const converter = new Pcm16RateConverter(24_000);
  const samples = concatAudio(converter.push(pcm), converter.finish());
  assert.equal(text, await wssTranslation(app, port, ca, samples));
});

test('the official openai realtime client in a transcription session: deltas per item, and each commit completed with its translation', { skip: opensslSkip }, async (t) => {
  const { app, port, ca } = await startTlsServer(t);
  const pcm = await speechPcm24k();
  const client = new OpenAI({ apiKey: 'any-key-the-open-server-ignores', baseURL: `https://localhost:${port}/v1` });
  const rt = await OpenAIRealtimeWS.create(client, { intent: 'transcription', options: { ca } });
  const events: AnyEvent[] = [];
  const errors: Error[] = [];
  rt.on('event', (event) => events.push(event as unknown as AnyEvent));
  rt.on('error', (error) => errors.push(error));
  await opened(rt.socket);
  const waitFor = async (predicate: (event: AnyEvent) => boolean): Promise<AnyEvent> => {
    const deadline = Date.now() + 60_000;
    while (!events.some(predicate) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    const found = events.find(predicate);
    assert.ok(found, `no matching event in ${events.map((event) => event.type).join(', ')}`);
    return found;
  };
  rt.send({ type: 'session.update', session: { type: 'transcription', audio: { input: { format: { type: 'audio/pcm', rate: 24_000 }, transcription: { model: 'English -> German' }, turn_detection: null } } } });
  const updated = await waitFor((event) => event.type === 'session.updated');
  assert.equal((updated.session as { infinisst: { language_pair: string } }).infinisst.language_pair, 'English -> German');

  // Two items: the first half of the speech, then the rest.
  const half = Math.floor(pcm.length / 4) * 2;
  for (const [from, to] of [[0, half], [half, pcm.length]] as const) {
    for (let offset = from; offset < to; offset += 9_600) rt.send({ type: 'input_audio_buffer.append', audio: pcm.subarray(offset, Math.min(offset + 9_600, to)).toString('base64') });
    rt.send({ type: 'input_audio_buffer.commit' });
  }
  const completedEvents = () => events.filter((event) => event.type === 'conversation.item.input_audio_transcription.completed');
  await waitFor(() => completedEvents().length === 2);
  rt.close();

  assert.deepEqual(errors, []);
  assert.equal(events[0]?.type, 'session.created');
  assert.equal((events[0]?.session as { type: string }).type, 'transcription');
  const committed = events.filter((event) => event.type === 'input_audio_buffer.committed');
  const [first, second] = completedEvents();
  assert.deepEqual(committed.map((event) => event.item_id), [first?.item_id, second?.item_id]);
  assert.equal(committed[1]?.previous_item_id, first?.item_id);
  for (const completed of [first, second]) {
    const deltas = events.filter((event) => event.type === 'conversation.item.input_audio_transcription.delta' && event.item_id === completed?.item_id);
    assert.ok(deltas.length > 0, 'each item had deltas');
    assert.equal(completed?.transcript, deltas.map((event) => String(event.delta)).join(''), 'the completion carries the item\'s deltas joined');
    assert.equal((completed?.usage as { type: string }).type, 'duration');
  }
  assert.ok(events.indexOf(committed[0] as AnyEvent) < events.indexOf(first as AnyEvent), 'committed, then completed');
  await until(() => app.sessions.counts().total === 0, 'the session ended with its socket');
});
