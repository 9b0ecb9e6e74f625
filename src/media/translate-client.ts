/**
 * Streams a media file through a running server's public API, exactly as a client would:
 * `POST /init`, `WS /wss/{id}` with 15 360×latency-sample float32 frames, the text frame `EOF`,
 * wait for `PROCESSING_COMPLETE:`, then `POST /delete_session`. Used by `npm run translate` to
 * measure the real server end to end (HTTP, WebSocket, batching, models), not an in-process shortcut.
 */
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { ChunkPacer, systemClock } from './chunk-pacer.ts';
import type { PacerClock, PacingMode } from './chunk-pacer.ts';
import { decodeAudioFile, decodeSampleRateHz } from './ffmpeg-decoder.ts';
import type { DecodeOptions } from './ffmpeg-decoder.ts';
import { addedText, buildCues } from './subtitles.ts';
import type { SubtitleCue, TranslationEvent } from './subtitles.ts';

/** Samples per latency unit in a frame (0.96 s at 16 kHz), as the browser page frames audio. */
export const baseChunkSamples = 15_360;

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

const httpTimeoutMs = 30_000;

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
    const socket = createSocket(base, sessionId);
    // Listen before the socket opens: a frame sent right after the handshake may arrive with it.
    const completion = watchSocket(socket, {
      onText(text) {
        if (text.startsWith('READY:') || text.startsWith('INITIALIZING:')) status(text);
        else if (text.startsWith('ERROR:')) {
          serverErrors.push(text.slice('ERROR:'.length).trim());
          status(text);
        } else if (text.startsWith('LATENCY_UPDATED:')) status(text);
        else {
          const atMs = pacer.onTranslation();
          const added = addedText(fullText, text);
          fullText = text;
          if (added.length > 0) {
            events.push({ atMs, text: added });
            options.onTranslation?.({ atMs, added, fullText });
          }
        }
      },
    });
    const interrupted = abortedPromise(options.signal);
    try {
      await Promise.race([opened(socket), completion.closed, interrupted]);
      const send = async (samples: Float32Array): Promise<void> => {
        const endMs = ((sentSamples + samples.length) / decodeSampleRateHz) * 1000;
        await Promise.race([pacer.beforeSend(endMs), completion.closed, interrupted]);
        await sendBinary(socket, samples).catch((error: unknown) => explainSendFailure(socket, completion, error));
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
      await sendText(socket, 'EOF').catch((error: unknown) => explainSendFailure(socket, completion, error));
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
  const url = new URL('/init', base);
  url.searchParams.set('agent_type', 'InfiniSST');
  url.searchParams.set('language_pair', options.languagePair);
  url.searchParams.set('latency_multiplier', String(options.latencyMultiplier));
  url.searchParams.set('client_id', `cli_${Math.random().toString(36).slice(2, 12)}`);
  const reply = await requestJson(url, 'POST');
  const sessionId = reply.session_id;
  if (typeof sessionId !== 'string' || sessionId === '') {
    throw new Error(`/init failed: ${typeof reply.error === 'string' ? reply.error : JSON.stringify(reply)}`);
  }
  if (reply.queued === true || reply.initializing === true) await waitUntilActive(base, sessionId, status);
  return sessionId;
}

async function waitUntilActive(base: URL, sessionId: string, status: (message: string) => void): Promise<void> {
  for (;;) {
    const reply = await requestJson(new URL(`/queue_status/${encodeURIComponent(sessionId)}`, base), 'GET');
    if (reply.status === 'active') return;
    if (reply.status !== 'queued' && reply.status !== 'initializing') {
      throw new Error(`session did not become active: ${JSON.stringify(reply)}`);
    }
    status(`session ${String(reply.status)}${typeof reply.queue_position === 'number' ? ` (position ${reply.queue_position})` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 1000));
  }
}

async function deleteSession(base: URL, sessionId: string): Promise<void> {
  const url = new URL('/delete_session', base);
  url.searchParams.set('session_id', sessionId);
  await requestJson(url, 'POST');
}

async function requestJson(url: URL, method: 'GET' | 'POST'): Promise<Record<string, unknown>> {
  const response = await fetch(url, { method, signal: AbortSignal.timeout(httpTimeoutMs) });
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${url.pathname} answered HTTP ${response.status} with non-JSON: ${text.slice(0, 200)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${method} ${url.pathname} answered HTTP ${response.status} with ${text.slice(0, 200)}`);
  }
  return parsed as Record<string, unknown>;
}

function createSocket(base: URL, sessionId: string): WebSocket {
  const url = new URL(`/wss/${encodeURIComponent(sessionId)}`, base);
  url.protocol = base.protocol === 'https:' ? 'wss:' : 'ws:';
  // Float audio does not compress; deflate would only cost CPU on both ends.
  return new WebSocket(url, { perMessageDeflate: false });
}

function opened(socket: WebSocket): Promise<void> {
  if (socket.readyState === WebSocket.OPEN) return Promise.resolve();
  return new Promise((resolve) => socket.once('open', () => resolve()));
}

interface SocketWatch {
  /** Resolves on `PROCESSING_COMPLETE:`; rejects if the socket closes first. */
  completed: Promise<void>;
  /** Rejects when the socket closes (never resolves): races against waits. */
  closed: Promise<never>;
  /** Why the socket closed (code and reason), once it has. */
  closeError(): Error | undefined;
}

function watchSocket(socket: WebSocket, handlers: { onText(text: string): void }): SocketWatch {
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
  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return;
    const text = rawToString(data);
    if (text.startsWith('PROCESSING_COMPLETE:')) complete();
    else handlers.onText(text);
  });
  socket.once('close', (code: number, reason: Buffer) => {
    const error = new Error(`the server closed the WebSocket (${code}${reason.length > 0 ? ` ${reason.toString('utf8')}` : ''})`);
    closeError ??= error;
    fail(error);
    failClosed(error);
  });
  socket.on('error', (error: Error) => {
    closeError ??= error;
    fail(error);
    failClosed(error);
  });
  return { completed, closed, closeError: () => closeError };
}

/** A send failed: if the socket is closing, report the server's close code and reason instead. */
async function explainSendFailure(socket: WebSocket, watch: SocketWatch, error: unknown): Promise<never> {
  if (socket.readyState === WebSocket.CLOSING || socket.readyState === WebSocket.CLOSED) {
    // The close event (with code and reason) follows the closing handshake shortly.
    await Promise.race([watch.closed, new Promise((resolve) => setTimeout(resolve, 2000).unref())]);
  }
  throw watch.closeError() ?? error;
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

function sendBinary(socket: WebSocket, samples: Float32Array): Promise<void> {
  // Float32Array memory is little-endian on every platform Node supports: it is the wire format.
  const bytes = Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength);
  return new Promise((resolve, reject) => socket.send(bytes, { binary: true }, (error) => (error ? reject(error) : resolve())));
}

function sendText(socket: WebSocket, text: string): Promise<void> {
  return new Promise((resolve, reject) => socket.send(text, (error) => (error ? reject(error) : resolve())));
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
