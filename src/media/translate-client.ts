/**
 * Streams a media file through a running server's public API, exactly as a client would:
 * `POST /init`, `WS /wss/{id}` with 15 360×latency-sample float32 frames, the text frame `EOF`,
 * wait for `PROCESSING_COMPLETE:`, then `POST /delete_session`. Used by `npm run translate` to
 * measure the real server end to end (HTTP, WebSocket, batching, models), not an in-process shortcut.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import {
  BASE_FRAME_SAMPLES,
  createSession as createApiSession,
  deleteSession,
  openTranslationSocket,
  waitUntilActive,
} from '../client/translation-client.ts';
import type { TranslationFrame, TranslationSocket } from '../client/translation-client.ts';
import { ChunkPacer, systemClock } from './chunk-pacer.ts';
import type { PacerClock, PacingMode } from './chunk-pacer.ts';
import { decodeAudioFile, decodeSampleRateHz } from './ffmpeg-decoder.ts';
import type { DecodeOptions } from './ffmpeg-decoder.ts';
import { addedText, buildCues } from './subtitles.ts';
import type { SubtitleCue, TranslationEvent } from './subtitles.ts';

/** Samples per latency unit in a frame (0.96 s at 16 kHz), as the browser page frames audio. */
export const baseChunkSamples = BASE_FRAME_SAMPLES;

export interface TranslateFileOptions {
  filePath: string;
  /** e.g. http://127.0.0.1:8000 */
  serverUrl: string;
  languagePair: string;
  latencyMultiplier: number;
  /** Real-time factor to pace at; absent = as fast as the server answers. */
  speed?: number;
  /** Fast mode: most chunks sent and not yet answered. */
  maxInFlight?: number;
  /** Fast mode: how long to wait for an answer before assuming a silent one (default: one chunk's duration). */
  ackTimeoutMs?: number;
  /** How long to wait for `PROCESSING_COMPLETE:` after `EOF`. */
  completionTimeoutMs?: number;
  ffmpegPath?: string;
  clock?: PacerClock;
  signal?: AbortSignal;
  onTranslation?(update: { atMs: number; added: string; fullText: string }): void;
  onStatus?(message: string): void;
}

export interface TranslateFileResult {
  sessionId: string;
  fullText: string;
  events: TranslationEvent[];
  cues: SubtitleCue[];
  audioMs: number;
  chunksSent: number;
  /** `ERROR:` frames received (without the prefix). */
  serverErrors: string[];
  wallMs: number;
}

/** Runs one file through the server. Throws Error with the server's message if the session cannot be created or the socket fails. */
export async function translateFile(options: TranslateFileOptions): Promise<TranslateFileResult> {
  const clock = options.clock ?? systemClock();
  const startedAt = clock.now();
  const base = new URL(options.serverUrl);
  const chunkSamples = baseChunkSamples * options.latencyMultiplier;
  const chunkMs = (chunkSamples / decodeSampleRateHz) * 1000;
  const mode: PacingMode = options.speed !== undefined
    ? { kind: 'paced', speed: options.speed }
    : { kind: 'fast', maxInFlight: options.maxInFlight ?? 3, ackTimeoutMs: options.ackTimeoutMs ?? chunkMs };
  const status = options.onStatus ?? (() => undefined);

  // Fail before creating a session if the file cannot be read at all.
  await access(options.filePath, constants.R_OK).catch((error: unknown) => {
    throw new Error(`cannot read ${options.filePath}: ${error instanceof Error ? error.message : String(error)}`);
  });
  const sessionId = await createSession(base, options, status);
  const events: TranslationEvent[] = [];
  const serverErrors: string[] = [];
  let fullText = '';
  let chunksSent = 0;
  let sentSamples = 0;
  try {
    const pacer = new ChunkPacer(mode, clock);
    // The shared socket listens before it opens: a frame sent right after the handshake may arrive with it.
    const { socket, completion } = watchSocket(base, sessionId, (frame) => {
      if (frame.kind === 'ready' || frame.kind === 'initializing' || frame.kind === 'latency-updated') status(frame.raw);
      else if (frame.kind === 'error') {
        serverErrors.push(frame.text);
        status(frame.raw);
      } else {
        const atMs = pacer.onTranslation();
        const added = addedText(fullText, frame.text);
        fullText = frame.text;
        if (added.length > 0) {
          events.push({ atMs, text: added });
          options.onTranslation?.({ atMs, added, fullText });
        }
      }
    });
    const interrupted = abortedPromise(options.signal);
    try {
      // A socket that fails before opening is explained by its close code and reason.
      await Promise.race([socket.opened.catch(() => completion.closed), completion.closed, interrupted]);
      const send = async (samples: Float32Array): Promise<void> => {
        const endMs = ((sentSamples + samples.length) / decodeSampleRateHz) * 1000;
        await Promise.race([pacer.beforeSend(endMs), completion.closed, interrupted]);
        await socket.sendAudio(samples).catch((error: unknown) => explainSendFailure(socket, completion, error));
        sentSamples += samples.length;
        chunksSent += 1;
        pacer.sent(endMs);
      };
      const frame = new Float32Array(chunkSamples);
      let filled = 0;
      const decodeOptions: DecodeOptions = {};
      if (options.ffmpegPath !== undefined) decodeOptions.ffmpegPath = options.ffmpegPath;
      if (options.signal !== undefined) decodeOptions.signal = options.signal;
      for await (const decoded of decodeAudioFile(options.filePath, decodeOptions)) {
        let offset = 0;
        while (offset < decoded.length) {
          const take = Math.min(chunkSamples - filled, decoded.length - offset);
          frame.set(decoded.subarray(offset, offset + take), filled);
          filled += take;
          offset += take;
          if (filled === chunkSamples) {
            await send(frame);
            filled = 0;
          }
        }
      }
      // The tail goes unpadded: the server pads it itself when `EOF` flushes the stream.
      if (filled > 0) await send(frame.slice(0, filled));
      await socket.sendEof().catch((error: unknown) => explainSendFailure(socket, completion, error));
      status(`sent ${chunksSent} chunks (${(sentSamples / decodeSampleRateHz).toFixed(2)} s of audio) and EOF; waiting for the server`);
      await withTimeout(Promise.race([completion.completed, interrupted]), options.completionTimeoutMs ?? 300_000, 'PROCESSING_COMPLETE did not arrive in time');
    } finally {
      socket.close(1000, 'done');
    }
  } finally {
    await deleteSession(base, sessionId).catch((error: unknown) => status(`could not delete session: ${String(error)}`));
  }
  const audioMs = (sentSamples / decodeSampleRateHz) * 1000;
  return {
    sessionId, fullText, events, cues: buildCues(events, audioMs), audioMs, chunksSent, serverErrors, wallMs: clock.now() - startedAt,
  };
}

async function createSession(base: URL, options: TranslateFileOptions, status: (message: string) => void): Promise<string> {
  const session = await createApiSession(base, {
    agent_type: 'InfiniSST',
    language_pair: options.languagePair,
    latency_multiplier: String(options.latencyMultiplier),
    client_id: `cli_${Math.random().toString(36).slice(2, 12)}`,
  });
  if (session.queued || session.initializing) {
    await waitUntilActive(base, session.sessionId, {
      intervalMs: 1000,
      onWaiting: (reply) => status(`session ${String(reply.status)}${typeof reply.queue_position === 'number' ? ` (position ${reply.queue_position})` : ''}`),
    });
  }
  return session.sessionId;
}

interface SocketWatch {
  /** Resolves on `PROCESSING_COMPLETE:`; rejects if the socket closes first. */
  completed: Promise<void>;
  /** Rejects when the socket closes (never resolves): races against waits. */
  closed: Promise<never>;
  /** Why the socket closed (code and reason), once it has. */
  closeError(): Error | undefined;
}

function watchSocket(base: URL, sessionId: string, onFrame: (frame: TranslationFrame) => void): { socket: TranslationSocket; completion: SocketWatch } {
  let complete: () => void = () => undefined;
  let fail: (error: Error) => void = () => undefined;
  const completed = new Promise<void>((resolve, reject) => {
    complete = resolve;
    fail = reject;
  });
  let failClosed: (error: Error) => void = () => undefined;
  const closed = new Promise<never>((_resolve, reject) => {
    failClosed = reject;
  });
  completed.catch(() => undefined);
  closed.catch(() => undefined);
  let closeError: Error | undefined;
  const failWith = (error: Error): void => {
    closeError ??= error;
    fail(error);
    failClosed(error);
  };
  const socket = openTranslationSocket(base, sessionId, {
    onFrame(frame) {
      if (frame.kind === 'complete') complete();
      else onFrame(frame);
    },
    onClose: ({ code, reason }) => failWith(new Error(`the server closed the WebSocket (${code}${reason.length > 0 ? ` ${reason}` : ''})`)),
    onError: failWith,
  });
  return { socket, completion: { completed, closed, closeError: () => closeError } };
}

/** A send failed: if the socket is closing, report the server's close code and reason instead. */
async function explainSendFailure(socket: TranslationSocket, watch: SocketWatch, error: unknown): Promise<never> {
  if (!socket.isOpen) {
    // The close event (with code and reason) follows the closing handshake shortly.
    await Promise.race([watch.closed, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }
  throw watch.closeError() ?? error;
}

/** Rejects with the signal's reason when it aborts; never resolves. */
function abortedPromise(signal: AbortSignal | undefined): Promise<never> {
  const promise = new Promise<never>((_resolve, reject) => {
    if (signal?.aborted) reject(signal.reason);
    signal?.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  promise.catch(() => undefined);
  return promise;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(message)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
