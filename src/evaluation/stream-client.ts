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
import {
  BASE_FRAME_SAMPLES,
  createSession as createApiSession,
  deleteSession,
  openTranslationSocket,
  requestJson,
  SAMPLE_RATE_HZ,
  waitUntilActive,
} from '../client/translation-client.ts';
import { AppError } from '../errors.ts';
import type { UnitKind } from './language.ts';
import { newUnitsFromCumulative } from './units.ts';

export { BASE_FRAME_SAMPLES, SAMPLE_RATE_HZ };

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
  /** Called at most every `progressEveryMs` (default 10 s) while audio is sent: ms of audio sent so far. */
  onProgress?: (sentAudioMs: number) => void;
  progressEveryMs?: number;
}

/** When the client had sent the audio up to `audioMs` (ms since the stream started); the EOF is the last entry, at Infinity. */
export interface SendMark {
  audioMs: number;
  atMs: number;
}

/**
 * Computation-aware delays whatever the pacing: each unit's source delay `d` plus the time the
 * system took to answer once it had that source — from the moment the client had sent the audio
 * up to `d` (or the EOF, for a padded tail beyond the audio) to the moment the unit arrived. At
 * 1× pacing that equals the wall-clock time since the stream started (SimulEval's elapsed); sent
 * faster than real time it still counts source time as source time, not as the seconds the
 * client saved. Never below `d`.
 */
export function computationAwareDelays(delays: readonly number[], receivedMs: readonly number[], sends: readonly SendMark[]): number[] {
  return delays.map((delay, index) => {
    const sent = sends.find((mark) => mark.audioMs >= delay - 0.5) ?? sends[sends.length - 1];
    const computeMs = sent === undefined ? 0 : Math.max(0, (receivedMs[index] ?? sent.atMs) - sent.atMs);
    return delay + computeMs;
  });
}

export interface StreamFileResult {
  sessionId: string;
  units: ReceivedUnit[];
  /** When each part of the audio (and the EOF) left the client. */
  sends: SendMark[];
  finalText: string;
  /** Wall-clock ms from the stream start to PROCESSING_COMPLETE. */
  completedMs: number;
  audioMs: number;
  serverErrors: string[];
  /** Per unit, the server tracker's NCA delay (ms of source consumed), when it could be matched. */
  serverSourceMs?: number[];
}

/** The shared client's errors become this module's AppError, as its callers expect. */
function asAppError(error: unknown): AppError {
  return error instanceof AppError ? error : new AppError('internal', error instanceof Error ? error.message : String(error), { cause: error });
}

async function createSession(options: StreamFileOptions): Promise<string> {
  try {
    const session = await createApiSession(options.baseUrl, {
      agent_type: 'InfiniSST',
      language_pair: options.languagePair,
      latency_multiplier: String(options.latencyMultiplier),
      client_id: `eval_${Math.random().toString(36).slice(2, 12)}`,
      evaluation_mode: 'true',
    });
    // A queued session becomes active on its own; wait for it like the web client does.
    if (session.queued) {
      const waitOptions: Parameters<typeof waitUntilActive>[2] = { intervalMs: 500 };
      if (options.sleep) waitOptions.sleep = options.sleep;
      await waitUntilActive(options.baseUrl, session.sessionId, waitOptions);
    }
    return session.sessionId;
  } catch (error) {
    throw asAppError(error);
  }
}

function field(value: unknown, key: string): unknown {
  return typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
}

/** Reads the server tracker's per-unit NCA delays; undefined unless they match `units` exactly. */
async function fetchServerDelays(baseUrl: string, sessionId: string, units: readonly ReceivedUnit[]): Promise<number[] | undefined> {
  try {
    const reply = await requestJson(baseUrl, 'GET', `/session_delays/${encodeURIComponent(sessionId)}`, { include_details: 'true' });
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
  const units: ReceivedUnit[] = [];
  const serverErrors: string[] = [];
  let text = '';
  let startMs = now();
  let sentSamples = 0;
  const sends: SendMark[] = [];
  let failure: Error | undefined;
  let settle: (() => void) | undefined;
  const completed = new Promise<void>((resolve) => (settle = resolve));

  // The shared socket attaches these before the handshake: frames may arrive with it.
  const socket = openTranslationSocket(options.baseUrl, sessionId, {
    onFrame(frame) {
      if (frame.kind === 'complete') return settle?.();
      if (frame.kind === 'error') return void serverErrors.push(frame.text);
      if (frame.kind !== 'translation') return;
      try {
        const added = newUnitsFromCumulative(text, frame.text, options.unitKind);
        const elapsedMs = now() - startMs;
        const sentAudioMs = (sentSamples * 1000) / SAMPLE_RATE_HZ;
        for (const unit of added) units.push({ unit, elapsedMs, sentAudioMs });
        text = frame.text;
      } catch (error) {
        failure = error instanceof Error ? error : new Error(String(error));
        settle?.();
      }
    },
    onClose({ code, reason }) {
      failure ??= new AppError('internal', `socket closed before PROCESSING_COMPLETE (${code} ${reason})`);
      settle?.();
    },
    onError(error) {
      failure ??= error;
      settle?.();
    },
  });
  await socket.opened;

  const timer = setTimeout(() => {
    failure ??= new AppError('deadlineExceeded', `no PROCESSING_COMPLETE within ${options.timeoutMs} ms`);
    settle?.();
  }, options.timeoutMs);
  try {
    const frameSamples = BASE_FRAME_SAMPLES * options.latencyMultiplier;
    startMs = now();
    let lastProgressMs = startMs;
    for (let offset = 0; offset < options.samples.length && !failure; offset += frameSamples) {
      const frame = options.samples.slice(offset, Math.min(offset + frameSamples, options.samples.length));
      if (options.speed > 0) {
        const dueMs = ((offset + frame.length) * 1000) / SAMPLE_RATE_HZ / options.speed;
        const waitMs = dueMs - (now() - startMs);
        if (waitMs > 0) await sleep(waitMs);
      }
      await socket.sendAudio(frame);
      sentSamples = offset + frame.length;
      if (options.onProgress && now() - lastProgressMs >= (options.progressEveryMs ?? 10_000)) {
        lastProgressMs = now();
        options.onProgress((sentSamples * 1000) / SAMPLE_RATE_HZ);
      }
      sends.push({ audioMs: (sentSamples * 1000) / SAMPLE_RATE_HZ, atMs: now() - startMs });
    }
    // A failed EOF shows up as the socket's close or error, which settles the wait.
    if (!failure) {
      sends.push({ audioMs: Infinity, atMs: now() - startMs });
      void socket.sendEof().catch(() => undefined);
    }
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
  await deleteSession(options.baseUrl, sessionId).catch(() => undefined);
  const result: StreamFileResult = {
    sessionId,
    units,
    sends,
    finalText: text,
    completedMs,
    audioMs: (options.samples.length * 1000) / SAMPLE_RATE_HZ,
    serverErrors,
  };
  if (serverSourceMs) result.serverSourceMs = serverSourceMs;
  return result;
}
