/**
 * A client of the server's public API, shared by the programs that talk to a running server
 * (evaluation, `npm run translate`, load test, API check): POST /init, /queue_status, /ping,
 * /delete_session, and the WebSocket /wss/{id} with its text-frame vocabulary. It only speaks
 * HTTP and WebSocket; it imports nothing from the server so that it describes the wire contract
 * as an outside client sees it.
 */
import WebSocket from 'ws';
import type { RawData } from 'ws';

/** Samples per latency unit of an audio frame (0.96 s at 16 kHz), as the browser page frames audio. */
export const BASE_FRAME_SAMPLES = 15_360;
export const SAMPLE_RATE_HZ = 16_000;

/** What a text frame from /wss/{id} means; anything without a known prefix is the full translation so far. */
export type FrameKind = 'ready' | 'initializing' | 'latency-updated' | 'error' | 'complete' | 'translation';

export interface TranslationFrame {
  kind: FrameKind;
  /** The payload: the translation for `translation`, else the text after the prefix, trimmed. */
  text: string;
  /** The frame exactly as received. */
  raw: string;
}

const prefixes: readonly (readonly [string, FrameKind])[] = [
  ['READY:', 'ready'],
  ['INITIALIZING:', 'initializing'],
  ['LATENCY_UPDATED:', 'latency-updated'],
  ['ERROR:', 'error'],
  ['PROCESSING_COMPLETE:', 'complete'],
];

/** Classifies one text frame of /wss/{id}; never throws. */
export function classifyFrame(raw: string): TranslationFrame {
  for (const [prefix, kind] of prefixes) {
    if (raw.startsWith(prefix)) return { kind, text: raw.slice(prefix.length).trim(), raw };
  }
  return { kind: 'translation', text: raw, raw };
}

/** `path` without its trailing slashes (a loop: `/\/+$/` is quadratic on long runs of slashes). */
export function withoutTrailingSlashes(path: string): string {
  let end = path.length;
  while (end > 0 && path[end - 1] === '/') end--;
  return path.slice(0, end);
}

/** The WebSocket URL of a session: http→ws, https→wss, the id percent-encoded as one path segment. Throws TypeError on an invalid base URL. */
export function wsUrlFor(baseUrl: string | URL, sessionId: string, textFrames: TextFrames = 'full'): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${withoutTrailingSlashes(url.pathname)}/wss/${encodeURIComponent(sessionId)}`;
  url.search = textFrames === 'delta' ? '?text_frames=delta' : '';
  return url.toString();
}

/**
 * full: each translation frame is the whole text (the original's protocol); delta: the server
 * sends `DELTA:<offset>:<text>` (the text from UTF-16 offset `offset` on), which the socket turns
 * back into the whole text for `onFrame` — O(n) bytes over a long session instead of O(n²).
 */
export type TextFrames = 'full' | 'delta';

/** Applies a `DELTA:<offset>:<text>` frame to the text held; null when `raw` is not a delta frame. */
export function applyDeltaFrame(held: string, raw: string): string | null {
  const match = /^DELTA:(\d{1,15}):/.exec(raw);
  if (!match) return null;
  return held.slice(0, Math.min(held.length, Number(match[1]))) + raw.slice(match[0].length);
}

export type JsonObject = Record<string, unknown>;

export interface RequestOptions {
  /** Abort the request after this long (default 30 s). */
  timeoutMs?: number;
}

/**
 * Sends `method path?query` and parses the JSON object it answers, whatever the HTTP status (the
 * original API reports application errors as HTTP 200 with `success:false`). Throws Error when
 * the server cannot be reached or does not answer a JSON object.
 */
export async function requestJson(baseUrl: string | URL, method: 'GET' | 'POST', path: string, query: Record<string, string> = {}, options: RequestOptions = {}): Promise<JsonObject> {
  const url = new URL(baseUrl);
  url.pathname = `${withoutTrailingSlashes(url.pathname)}${path}`;
  url.search = new URLSearchParams(query).toString();
  let response: Response;
  try {
    response = await fetch(url, { method, signal: AbortSignal.timeout(options.timeoutMs ?? 30_000) });
  } catch (error) {
    const cause = error instanceof Error && error.cause instanceof Error ? error.cause.message : error instanceof Error ? error.message : String(error);
    throw new Error(`cannot reach the server at ${url.origin} (${cause}); is it running (npm start)?`, { cause: error });
  }
  const text = await response.text();
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new Error(`${method} ${path} answered HTTP ${response.status} without JSON: ${text.slice(0, 200)}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new Error(`${method} ${path} answered HTTP ${response.status} with ${text.slice(0, 200)}`);
  }
  return parsed as JsonObject;
}

export interface CreatedSession {
  sessionId: string;
  /** Waiting for capacity: it becomes active on its own (see waitUntilActive). */
  queued: boolean;
  queuePosition: number | undefined;
  initializing: boolean;
}

/** POST /init with query parameters (agent_type, language_pair, latency_multiplier, client_id, …). Throws Error with the server's message when no session was created. */
export async function createSession(baseUrl: string | URL, params: Record<string, string>, options: RequestOptions = {}): Promise<CreatedSession> {
  const reply = await requestJson(baseUrl, 'POST', '/init', params, options);
  const sessionId = reply.session_id;
  if (typeof sessionId !== 'string' || sessionId === '') {
    const error = reply.error ?? reply.detail ?? reply;
    throw new Error(`/init failed: ${typeof error === 'string' ? error : JSON.stringify(error)}`);
  }
  return {
    sessionId,
    queued: reply.queued === true,
    queuePosition: typeof reply.queue_position === 'number' ? reply.queue_position : undefined,
    initializing: reply.initializing === true,
  };
}

/** GET /queue_status/{id}. Throws Error when the server cannot be reached or answers no JSON. */
/**
 * The pairs whose model the server marks as a random-weight demo (/health `language_pairs[].demo`):
 * their output is not a translation. Empty when the server does not say or cannot be asked.
 */
export async function demoPairs(baseUrl: string | URL, options: RequestOptions = {}): Promise<string[]> {
  try {
    const health = await requestJson(baseUrl, 'GET', '/health', {}, options);
    const pairs = Array.isArray(health.language_pairs) ? (health.language_pairs as JsonObject[]) : [];
    return pairs.filter((pair) => pair.demo === true).map((pair) => String(pair.language_pair));
  } catch {
    return [];
  }
}

export function queueStatus(baseUrl: string | URL, sessionId: string, options: RequestOptions = {}): Promise<JsonObject> {
  return requestJson(baseUrl, 'GET', `/queue_status/${encodeURIComponent(sessionId)}`, {}, options);
}

/**
 * Polls /queue_status until the session is active, reporting each waiting status. Throws Error
 * if the session ends in any other state (deleted, not found).
 */
export async function waitUntilActive(
  baseUrl: string | URL,
  sessionId: string,
  options: { intervalMs: number; sleep?: (ms: number) => Promise<void>; onWaiting?: (reply: JsonObject) => void },
): Promise<void> {
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  for (;;) {
    const reply = await queueStatus(baseUrl, sessionId);
    if (reply.status === 'active') return;
    if (reply.status !== 'queued' && reply.status !== 'initializing') throw new Error(`session did not become active: ${JSON.stringify(reply)}`);
    options.onWaiting?.(reply);
    await sleep(options.intervalMs);
  }
}

/** POST /ping: keeps the session alive. Throws Error when the server cannot be reached or answers no JSON. */
export function ping(baseUrl: string | URL, sessionId: string, options: RequestOptions = {}): Promise<JsonObject> {
  return requestJson(baseUrl, 'POST', '/ping', { session_id: sessionId }, options);
}

/** POST /delete_session. Throws Error when the server cannot be reached or answers no JSON. */
export function deleteSession(baseUrl: string | URL, sessionId: string, options: RequestOptions = {}): Promise<JsonObject> {
  return requestJson(baseUrl, 'POST', '/delete_session', { session_id: sessionId }, options);
}

export interface SocketClosed {
  code: number;
  reason: string;
}

export interface SocketHandlers {
  /** Every text frame, classified; called synchronously in arrival order. */
  onFrame?(frame: TranslationFrame): void;
  onClose?(closed: SocketClosed): void;
  onError?(error: Error): void;
}

export interface TranslationSocket {
  readonly url: string;
  /** Resolves when the handshake completes; rejects if the socket fails or closes first. */
  readonly opened: Promise<void>;
  /** Resolves when the socket has closed, with the close code and reason; never rejects. */
  readonly closed: Promise<SocketClosed>;
  /** The close code and reason once closed; undefined before. */
  readonly closeInfo: SocketClosed | undefined;
  readonly isOpen: boolean;
  /** Sends one binary frame of float32 little-endian samples. Rejects if the socket is not open. */
  sendAudio(samples: Float32Array): Promise<void>;
  /** Sends the text frame `EOF`: the server flushes the stream and answers `PROCESSING_COMPLETE:`. */
  sendEof(): Promise<void>;
  close(code?: number, reason?: string): void;
  /** Drops the connection without a closing handshake. */
  terminate(): void;
}

function rawToString(data: RawData): string {
  if (Array.isArray(data)) return Buffer.concat(data).toString('utf8');
  if (data instanceof ArrayBuffer) return Buffer.from(data).toString('utf8');
  return data.toString('utf8');
}

/**
 * Opens /wss/{id} with the handlers attached before the handshake completes (the server may send
 * READY together with it, and a frame without a listener is lost). Never throws; failures come
 * through `opened`, `onError` and `closed`.
 */
export function openTranslationSocket(baseUrl: string | URL, sessionId: string, handlers: SocketHandlers = {}, textFrames: TextFrames = 'delta'): TranslationSocket {
  const url = wsUrlFor(baseUrl, sessionId, textFrames);
  /** Delta mode: the translation as the frames so far build it. */
  let translation = '';
  // Float audio does not compress; deflate would only cost CPU on both ends.
  const socket = new WebSocket(url, { perMessageDeflate: false });
  let closeInfo: SocketClosed | undefined;
  let isOpen = false;
  const opened = new Promise<void>((resolve, reject) => {
    socket.once('open', () => {
      isOpen = true;
      resolve();
    });
    socket.once('error', reject);
    socket.once('close', (code: number, reason: Buffer) => reject(new Error(`the WebSocket closed before it opened (${code} ${reason.toString('utf8')})`)));
  });
  opened.catch(() => undefined);
  const closed = new Promise<SocketClosed>((resolve) => {
    socket.once('close', (code: number, reason: Buffer) => {
      isOpen = false;
      closeInfo = { code, reason: reason.toString('utf8') };
      handlers.onClose?.(closeInfo);
      resolve(closeInfo);
    });
  });
  socket.on('message', (data: RawData, isBinary: boolean) => {
    if (isBinary) return;
    const raw = rawToString(data);
    const rebuilt = textFrames === 'delta' ? applyDeltaFrame(translation, raw) : null;
    if (rebuilt !== null) {
      translation = rebuilt;
      handlers.onFrame?.({ kind: 'translation', text: rebuilt, raw });
    } else {
      // A server that ignores text_frames=delta sends whole texts: they are what the client holds.
      const frame = classifyFrame(raw);
      if (frame.kind === 'translation') translation = frame.text;
      handlers.onFrame?.(frame);
    }
  });
  // ws throws 'error' events nobody listens to; this listener makes every failure a report instead.
  socket.on('error', (error: Error) => handlers.onError?.(error));
  const send = (data: Buffer | string, binary: boolean): Promise<void> =>
    new Promise((resolve, reject) => {
      try {
        socket.send(data, { binary }, (error) => (error ? reject(error) : resolve()));
      } catch (error) {
        reject(error instanceof Error ? error : new Error(String(error)));
      }
    });
  return {
    url,
    opened,
    closed,
    get closeInfo() {
      return closeInfo;
    },
    get isOpen() {
      return isOpen && socket.readyState === WebSocket.OPEN;
    },
    // Float32Array memory is little-endian on every platform Node supports: it is the wire format.
    sendAudio: (samples) => send(Buffer.from(samples.buffer, samples.byteOffset, samples.byteLength), true),
    sendEof: () => send('EOF', false),
    close: (code, reason) => socket.close(code, reason),
    terminate: () => socket.terminate(),
  };
}
