/**
 * End-to-end check of a running server: every route in both parameter styles (query string and
 * JSON body), the static assets, and a real WebSocket stream of a speech WAV over each protocol
 * (/wss and the realtime one) that must come back as translation. Prints one pass/fail line per
 * check and `N passed, M failed`; exits 0 only if everything passed.
 *
 *   npm run check-api -- --url http://127.0.0.1:8000 [--audio speech.wav] [--pair "English -> German"]
 *                        [--admin-token TOKEN]
 *
 * Reconfiguration checks restore the batching settings they found.
 */
import { BASE_FRAME_SAMPLES, openTranslationSocket } from '../src/client/translation-client.ts';
import type { TranslationFrame, TranslationSocket } from '../src/client/translation-client.ts';
import { ApiCheck, expect, withTimeout, type Json } from './check-api/harness.ts';
import { openRealtimeTranslation } from '../src/client/realtime-client.ts';
import { toPcm16 } from '../src/protocol/pcm16-audio.ts';
import { speech } from './check-api/speech.ts';
import { DEFAULT_LANGUAGE_PAIR, DEFAULT_SERVER_URL, parseCommandLine, SHARED_FLAGS_NOTE, usageError } from './command-line.ts';

const USAGE = `End-to-end check of a running server: every route in both parameter styles, the static
assets and one real WebSocket stream. Prints one line per check and "N passed, M failed".

Usage: npm run check-api -- [options]
  --url URL                 server (default http://127.0.0.1:8000)
  --audio FILE              speech WAV to stream (default: one made with espeak-ng)
  --pair "A -> B"           language pair (default "English -> German")
  --admin-token TOKEN       for a server with admin.token set
  --timeout S               per check, seconds (default 120; --timeout-ms N, the old flag, in ms)
  -h, --help                this text

${SHARED_FLAGS_NOTE}`;

const { values: args } = parseCommandLine('check-api', USAGE, {
  url: { type: 'string', default: DEFAULT_SERVER_URL },
  audio: { type: 'string' },
  pair: { type: 'string', default: DEFAULT_LANGUAGE_PAIR },
  'admin-token': { type: 'string' },
  timeout: { type: 'string' },
  'timeout-ms': { type: 'string' },
});
const base = (args.url ?? DEFAULT_SERVER_URL).replace(/\/+$/, '');
const pair = args.pair ?? DEFAULT_LANGUAGE_PAIR;
if (args.timeout !== undefined && args['timeout-ms'] !== undefined) usageError('check-api', '--timeout and --timeout-ms are the same flag; give one');
const timeoutMs = args['timeout-ms'] !== undefined ? Number(args['timeout-ms']) : 1000 * Number(args.timeout ?? '120');
if (!(timeoutMs > 0)) usageError('check-api', `--timeout must be a positive number of seconds, got "${args.timeout ?? args['timeout-ms']}"`);
const adminHeaders: Record<string, string> = args['admin-token'] ? { authorization: `Bearer ${args['admin-token']}` } : {};

const api = new ApiCheck(base);
const check = api.check.bind(api);
const bothStyles = api.bothStyles.bind(api);
const call = api.call.bind(api);
const expectJson = api.expectJson.bind(api);

async function createSession(style: 'query' | 'json', extra: Json = {}): Promise<string> {
  const params = { agent_type: 'InfiniSST', language_pair: pair, latency_multiplier: 2, client_id: `check_api_${style}`, ...extra };
  const json = expectJson(await call('POST', '/init', style === 'query' ? { query: params } : { body: params }));
  expect(typeof json.session_id === 'string' && json.session_id.length > 0, `no session_id: ${JSON.stringify(json)}`);
  return json.session_id;
}

interface SocketRun {
  frames: TranslationFrame[];
  closeCode: number | null;
}

/** Opens /wss/{id} with the original's full-text frames (the shared client percent-encodes space and ">"), sends, and collects until `done`. */
function openSocket(id: string, send: (socket: TranslationSocket) => Promise<void>, done: (frames: TranslationFrame[]) => boolean): Promise<SocketRun> {
  return new Promise((resolve, reject) => {
    const frames: TranslationFrame[] = [];
    const finish = (closeCode: number | null): void => {
      clearTimeout(timer);
      resolve({ frames, closeCode });
    };
    const socket = openTranslationSocket(base, id, {
      onFrame(frame) {
        frames.push(frame);
        if (done(frames)) {
          socket.close();
          finish(null);
        }
      },
      onClose: ({ code }) => finish(code),
      onError(error) {
        clearTimeout(timer);
        reject(error);
      },
    }, 'full');
    // Handlers run only after this synchronous setup, so `timer` is defined whenever they use it.
    const timer = setTimeout(() => {
      socket.terminate();
      reject(new Error(`timed out after ${timeoutMs} ms; frames so far: ${JSON.stringify(frames.slice(-3).map((frame) => frame.raw))}`));
    }, timeoutMs);
    // A socket that fails to open is reported by onError or onClose.
    socket.opened.then(() => send(socket), () => undefined).catch(reject);
  });
}

async function main(): Promise<void> {
  console.log(`checking ${base}`);
  await check('GET /health', async () => {
    const health = expectJson(await call('GET', '/health'));
    expect(health.status === 'healthy' && Array.isArray(health.language_pairs), `status ${String(health.status)}, language_pairs ${JSON.stringify(health.language_pairs)}`);
    return String(health.status);
  });
  await check('GET /ray/stats', async () => expect(expectJson(await call('GET', '/ray/stats')).success === true, 'success is not true'));
  await check('GET / (web client)', async () => {
    const reply = await call('GET', '/');
    expect(reply.status === 200 && reply.contentType.startsWith('text/html'), `HTTP ${reply.status} ${reply.contentType}`);
  });
  for (const asset of ['audio-processor.js', 'electron-audio-fix.js']) {
    await check(`GET /static/${asset}`, async () => {
      const reply = await call('GET', `/static/${asset}`);
      expect(reply.status === 200 && reply.contentType.includes('javascript'), `HTTP ${reply.status} ${reply.contentType}`);
    });
  }
  await check('unknown route → 404 JSON', async () => void expectJson(await call('GET', '/no-such-route'), 404));
  await check('POST /load_models', async () => String(expectJson(await call('POST', '/load_models')).success));

  let queryId = '';
  let jsonId = '';
  await check('POST /init (query string)', async () => {
    queryId = await createSession('query');
    return queryId;
  });
  await check('POST /init (JSON body)', async () => {
    jsonId = await createSession('json', { evaluation_mode: 'true' });
    return jsonId;
  });
  await check('GET /queue_status/{id} (id with spaces and ">")', async () => {
    const status = expectJson(await call('GET', `/queue_status/${encodeURIComponent(queryId)}`)).status;
    expect(status === 'active' || status === 'queued', `status ${String(status)}`);
    return String(status);
  });
  await check('GET /queue_status/{unknown}', async () => expect(expectJson(await call('GET', '/queue_status/nope')).status === 'not_found', 'not not_found'));
  await bothStyles('POST /ping', '/ping', { session_id: queryId }, (json) => expect(json.success === true, JSON.stringify(json)));
  await check('POST /ping (unknown id → "Invalid session ID")', async () =>
    expect(expectJson(await call('POST', '/ping', { query: { session_id: 'nope' } })).error === 'Invalid session ID', 'wrong error'));
  await bothStyles('POST /update_latency', '/update_latency', { session_id: queryId, latency_multiplier: 2 }, (json) => expect(json.success === true, JSON.stringify(json)));
  await bothStyles('POST /reset_translation', '/reset_translation', { session_id: queryId }, (json) => expect(json.success === true, JSON.stringify(json)));
  await bothStyles('POST /enable_evaluation_mode', '/enable_evaluation_mode', { session_id: queryId }, (json) => expect(json.success === true, JSON.stringify(json)));

  await check('WS /wss/{unknown} → close 4000', async () => {
    const result = await openSocket('client_none_English -> Chinese_0', async () => undefined, () => false);
    expect(result.closeCode === 4000, `close code ${String(result.closeCode)}`);
  });
  await check(`WS /wss/{id}: speech WAV → translation frames (${pair})`, async () => {
    const audio = await speech(args.audio);
    const frameSamples = BASE_FRAME_SAMPLES * 2;
    const result = await openSocket(
      jsonId,
      async (socket) => {
        for (let offset = 0; offset < audio.samples.length; offset += frameSamples) {
          const frame = new Float32Array(frameSamples);
          frame.set(audio.samples.subarray(offset, offset + frameSamples));
          await socket.sendAudio(frame);
        }
        await socket.sendEof();
      },
      (frames) => frames.some((frame) => frame.kind === 'complete'),
    );
    expect(result.frames[0]?.kind === 'ready', `first frame ${JSON.stringify(result.frames[0]?.raw)}`);
    const translations = result.frames.filter((frame) => frame.kind === 'translation').map((frame) => frame.text);
    const errors = result.frames.filter((frame) => frame.kind === 'error').map((frame) => frame.raw);
    expect(errors.length === 0, `errors: ${errors.join(' | ')}`);
    expect(translations.length > 0, 'no translation frame');
    return `${audio.source}, ${translations.length} frames, last: ${JSON.stringify(translations[translations.length - 1]?.slice(0, 60))}`;
  });

  await check(`WS /v1/realtime/translations: speech → transcript deltas, session.close → session.closed (${pair})`, async () => {
    const audio = await speech(args.audio);
    const pcm = toPcm16(audio.samples, 16_000, 24_000);
    const errors: string[] = [];
    const realtime = openRealtimeTranslation(base, pair, { onEvent: (event) => void (event.type === 'error' && errors.push(JSON.stringify(event.error))) }, args['admin-token'] ? { apiKey: args['admin-token'] } : {});
    try {
      const created = await withTimeout(realtime.created, timeoutMs, 'session.created');
      expect((created.session as { infinisst?: { language_pair?: string } }).infinisst?.language_pair === pair, `session ${JSON.stringify(created.session).slice(0, 200)}`);
      for (let offset = 0; offset < pcm.length; offset += 9_600) realtime.append(pcm.subarray(offset, offset + 9_600));
      await withTimeout(realtime.finish(), timeoutMs, 'session.closed');
      expect(errors.length === 0, `errors: ${errors.join(' | ')}`);
      expect(realtime.text.length > 0, 'no transcript delta');
      return `${audio.source}, last: ${JSON.stringify(realtime.text.slice(-60))}`;
    } finally {
      realtime.terminate();
    }
  });
  await check('GET /v1/realtime?model=… (a conversation session) → 422', async () => void expectJson(await call('GET', '/v1/realtime', { query: { model: 'gpt-realtime' }, headers: adminHeaders }), 422));

  await check('GET /session_delays/{id}', async () => {
    const json = expectJson(await call('GET', `/session_delays/${encodeURIComponent(jsonId)}`, { query: { include_details: true } }));
    expect(json.success === true, JSON.stringify(json));
  });
  // By user: the caller proves it owns the session by naming it too (session_id), unless it holds the admin token.
  await check('GET /session_delays_by_user (query string)', async () => {
    const json = expectJson(await call('GET', '/session_delays_by_user', { query: { user_id: 'check_api_json', language_pair: pair, session_id: jsonId } }));
    expect(json.success === true, JSON.stringify(json));
  });
  await bothStyles('POST /export_session_delays', '/export_session_delays', { session_id: jsonId, filepath: 'check-api/session.jsonl' }, (json) =>
    expect(json.success === true, JSON.stringify(json)));
  await bothStyles('POST /export_session_delays_by_user', '/export_session_delays_by_user', { user_id: 'check_api_json', language_pair: pair, session_id: jsonId }, (json) =>
    expect(json.success === true, JSON.stringify(json)));
  await check('POST /export_session_delays outside the export folder is refused', async () =>
    void expectJson(await call('POST', '/export_session_delays', { query: { session_id: jsonId, filepath: '../escape.log' } }), 400));

  await check('GET /debug/session_stats', async () => {
    const stats = expectJson(await call('GET', '/debug/session_stats'));
    const info = stats.system_info as { active_sessions_count?: unknown } | undefined;
    expect(typeof info?.active_sessions_count === 'number' && Array.isArray(stats.active_sessions), JSON.stringify(stats).slice(0, 200));
  });
  await check('GET /debug/session_history', async () => {
    const history = expectJson(await call('GET', '/debug/session_history'));
    expect(Array.isArray(history.history) && typeof history.message === 'string', JSON.stringify(history).slice(0, 200));
  });

  const stats = expectJson(await call('GET', '/dynamic_schedule_stats'));
  const statsObject = stats.stats as { enabled?: boolean; configuration?: { wait_threshold_ms?: number; max_batch_size?: number } } | undefined;
  await check('GET /dynamic_schedule_stats', async () => expect(stats.success === true && statsObject !== undefined, JSON.stringify(stats)));
  const original = {
    enabled: statsObject?.enabled ?? true,
    wait_threshold_ms: statsObject?.configuration?.wait_threshold_ms ?? 100,
    max_batch_size: statsObject?.configuration?.max_batch_size ?? 32,
  };
  await bothStyles('POST /configure_dynamic_schedule', '/configure_dynamic_schedule', original, (json) => expect(json.success === true, JSON.stringify(json)), adminHeaders);
  await bothStyles(
    'POST /ray/configure',
    '/ray/configure',
    { max_batch_size: original.max_batch_size, batch_timeout_ms: original.wait_threshold_ms, enable_dynamic_batching: original.enabled },
    (json) => expect(json.success === true, JSON.stringify(json)),
    adminHeaders,
  );

  await bothStyles('POST /download_youtube (no url → JSON error)', '/download_youtube', { session_id: queryId }, (json) =>
    expect(json.error === 'Missing URL parameter', JSON.stringify(json)));
  await check('GET /test_video/{not allowed} → 404 JSON', async () => void expectJson(await call('GET', '/test_video/not-allowed.mp4'), 404));

  const loaded: string[] = [];
  await check('POST /load_model (JSON body)', async () => {
    const json = expectJson(await call('POST', '/load_model', { body: { language_pair: pair, client_id: 'check_api_lm' } }));
    expect(json.success === true && typeof json.session_id === 'string', JSON.stringify(json));
    loaded.push(json.session_id);
  });
  await check('POST /load_model (query string)', async () => {
    const json = expectJson(await call('POST', '/load_model', { query: { language_pair: pair, client_id: 'check_api_lm' } }));
    expect(json.success === true && typeof json.session_id === 'string', JSON.stringify(json));
    loaded.push(json.session_id);
  });

  await check('POST /delete_session (query string)', async () =>
    expect(expectJson(await call('POST', '/delete_session', { query: { session_id: queryId } })).success === true, 'not deleted'));
  await check('POST /delete_session (JSON body)', async () =>
    expect(expectJson(await call('POST', '/delete_session', { body: { session_id: jsonId } })).success === true, 'not deleted'));
  for (const id of loaded) {
    await check('POST /delete_session (form body)', async () =>
      expect(expectJson(await call('POST', '/delete_session', { form: { session_id: id } })).success === true, 'not deleted'));
  }
  await check('POST /ping after delete → "Invalid session ID"', async () =>
    expect(expectJson(await call('POST', '/ping', { body: { session_id: queryId } })).error === 'Invalid session ID', 'session still alive'));

  console.log(`${api.passed} passed, ${api.failed} failed`);
  process.exitCode = api.failed === 0 ? 0 : 1;
}

main().catch((error: unknown) => {
  console.log(`FAIL  check-api crashed: ${error instanceof Error ? error.message : String(error)}`);
  console.log(`${api.passed} passed, ${api.failed + 1} failed`);
  process.exitCode = 1;
});
