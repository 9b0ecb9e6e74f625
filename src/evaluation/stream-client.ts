/**
 * Streams one audio file through the server's public API exactly as a client would: POST /init,
 * WS /wss/{id}, float32 frames of 15 360 × m samples (the last one unpadded), `EOF`, then wait for
 * `PROCESSING_COMPLETE:`. Translation frames carry the whole text so far; the units of each frame
 * are the suffix beyond the previous frame, stamped with the wall-clock time since the stream
 * started (CA delay) and the audio sent by then.
 *
 * Clock: the stream starts when capture would start; frame k is sent when its last sample would
 * have been captured at `speed` × real time (speed 0 = as fast as possible).
 */
import WebSocket from 'ws';
import { AppError } from '../errors.ts';
import type { UnitKind } from './language.ts';
import { newUnitsFromCumulative } from './units.ts';

export const SAMPLE_RATE_HZ = 16_000;
export const BASE_FRAME_SAMPLES = 15_360;

export interface ReceivedUnit {
  unit: string;
  /** Wall-clock ms since the stream started. */
  elapsedMs: number;
  /** Audio sent when the frame carrying the unit arrived (client-side upper bound of the NCA delay). */
  sentAudioMs: number;
}

export interface StreamFileOptions {
  baseUrl: string;
  languagePair: string;
  unitKind: UnitKind;
  latencyMultiplier: number;
  samples: Float32Array;
  /** 1 = real time, 0 = unpaced. */
  speed: number;
  timeoutMs: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface StreamFileResult {
  sessionId: string;
  units: ReceivedUnit[];
  finalText: string;
  /** Wall-clock ms from the stream start to PROCESSING_COMPLETE. */
  completedMs: number;
  audioMs: number;
  serverErrors: string[];
  /** Per unit, the server tracker's NCA delay (ms of source consumed), when it could be matched. */
  serverSourceMs?: number[];
}

const CONTROL_PREFIXES = ['READY:', 'INITIALIZING:', 'LATENCY_UPDATED:'];

function wsUrl(baseUrl: string, sessionId: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${url.pathname.replace(/\/$/, '')}/wss/${encodeURIComponent(sessionId)}`;
  return url.toString();
}

async function requestJson(url: string, method: 'GET' | 'POST'): Promise<unknown> {
  let response: Response;
  try {
    response = await fetch(url, { method });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : String(error);
    throw new AppError('internal', `cannot reach the server at ${new URL(url).origin} (${cause}); is it running (npm start)?`, { cause: error });
  }
  const text = await response.text();
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new AppError('internal', `${method} ${new URL(url).pathname} answered HTTP ${response.status} without JSON`);
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

async function createSession(options: StreamFileOptions): Promise<string> {
  const query = new URLSearchParams({
    agent_type: 'InfiniSST',
    language_pair: options.languagePair,
    latency_multiplier: String(options.latencyMultiplier),
    client_id: `eval_${Math.random().toString(36).slice(2, 12)}`,
    evaluation_mode: 'true',
  });
  const base = options.baseUrl.replace(/\/$/, '');
  const reply = await requestJson(`${base}/init?${query}`, 'POST');
  const sessionId = field(reply, 'session_id');
  if (typeof sessionId !== 'string') {
    const error = field(reply, 'error') ?? field(reply, 'detail') ?? JSON.stringify(reply);
    throw new AppError('internal', `/init failed: ${typeof error === 'string' ? error : JSON.stringify(error)}`);
  }
  // A queued session becomes active on its own; wait for it like the web client does.
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  for (let status = field(reply, 'queued') === true ? 'queued' : 'active'; status !== 'active'; ) {
    await sleep(500);
    const info = await requestJson(`${base}/queue_status/${encodeURIComponent(sessionId)}`, 'GET');
    const next = field(info, 'status');
    if (next !== 'queued' && next !== 'active' && next !== 'initializing') throw new AppError('internal', `session ${String(next)} while queued`);
    status = next;
  }
  return sessionId;
}

/** Reads the server tracker's per-unit NCA delays; undefined unless they match `units` exactly. */
async function fetchServerDelays(baseUrl: string, sessionId: string, units: readonly ReceivedUnit[]): Promise<number[] | undefined> {
  const base = baseUrl.replace(/\/$/, '');
  try {
    const reply = await requestJson(`${base}/session_delays/${encodeURIComponent(sessionId)}?include_details=true`, 'GET');
    const delays = field(reply, 'delays');
    const details = field(delays, 'word_delays') ?? field(delays, 'character_delays');
    if (!Array.isArray(details) || details.length !== units.length) return undefined;
    const sourceMs: number[] = [];
    for (const [i, detail] of details.entries()) {
      const unit = field(detail, 'word') ?? field(detail, 'char');
      // `source_end_ms` is the same quantity under the name of the interim session tracker.
      const source = field(detail, 'source_ms') ?? field(detail, 'source_end_ms');
      if (unit !== units[i]?.unit || typeof source !== 'number') return undefined;
      sourceMs.push(source);
    }
    return sourceMs;
  } catch {
    return undefined;
  }
}

/** Streams one file; throws AppError on protocol failures, timeouts or revised text. */
export async function streamFile(options: StreamFileOptions): Promise<StreamFileResult> {
  const now = options.now ?? (() => performance.now());
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const sessionId = await createSession(options);
  const socket = new WebSocket(wsUrl(options.baseUrl, sessionId));
  const units: ReceivedUnit[] = [];
  const serverErrors: string[] = [];
  let text = '';
  let startMs = now();
  let sentSamples = 0;
  let failure: Error | undefined;
  let settle: (() => void) | undefined;
  const completed = new Promise<void>((resolve) => (settle = resolve));

  // Listeners first: frames may arrive before `open` resolves in our code.
  socket.on('message', (data, isBinary) => {
    if (isBinary) return;
    const message = Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.from(data as ArrayBuffer).toString('utf8');
    if (message.startsWith('PROCESSING_COMPLETE:')) return settle?.();
    if (message.startsWith('ERROR:')) return void serverErrors.push(message.slice(6).trim());
    if (CONTROL_PREFIXES.some((prefix) => message.startsWith(prefix))) return;
    try {
      const added = newUnitsFromCumulative(text, message, options.unitKind);
      const elapsedMs = now() - startMs;
      const sentAudioMs = (sentSamples * 1000) / SAMPLE_RATE_HZ;
      for (const unit of added) units.push({ unit, elapsedMs, sentAudioMs });
      text = message;
    } catch (error) {
      failure = error instanceof Error ? error : new Error(String(error));
      settle?.();
    }
  });
  socket.on('close', (code, reason) => {
    failure ??= new AppError('internal', `socket closed before PROCESSING_COMPLETE (${code} ${reason.toString()})`);
    settle?.();
  });
  socket.on('error', (error) => {
    failure ??= error;
    settle?.();
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });

  const timer = setTimeout(() => {
    failure ??= new AppError('deadlineExceeded', `no PROCESSING_COMPLETE within ${options.timeoutMs} ms`);
    settle?.();
  }, options.timeoutMs);
  try {
    const frameSamples = BASE_FRAME_SAMPLES * options.latencyMultiplier;
    startMs = now();
    for (let offset = 0; offset < options.samples.length && !failure; offset += frameSamples) {
      const frame = options.samples.slice(offset, Math.min(offset + frameSamples, options.samples.length));
      if (options.speed > 0) {
        const dueMs = ((offset + frame.length) * 1000) / SAMPLE_RATE_HZ / options.speed;
        const waitMs = dueMs - (now() - startMs);
        if (waitMs > 0) await sleep(waitMs);
      }
      await new Promise<void>((resolve, reject) => socket.send(frame.buffer, (error) => (error ? reject(error) : resolve())));
      sentSamples = offset + frame.length;
    }
    if (!failure) socket.send('EOF');
    await completed;
  } finally {
    clearTimeout(timer);
  }
  const completedMs = now() - startMs;
  if (failure) {
    socket.terminate();
    throw failure;
  }
  const serverSourceMs = await fetchServerDelays(options.baseUrl, sessionId, units);
  socket.close();
  await requestJson(`${options.baseUrl.replace(/\/$/, '')}/delete_session?session_id=${encodeURIComponent(sessionId)}`, 'POST').catch(() => undefined);
  const result: StreamFileResult = {
    sessionId,
    units,
    finalText: text,
    completedMs,
    audioMs: (options.samples.length * 1000) / SAMPLE_RATE_HZ,
    serverErrors,
  };
  if (serverSourceMs) result.serverSourceMs = serverSourceMs;
  return result;
}
