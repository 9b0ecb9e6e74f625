/**
 * A minimal client of the OpenAI-Realtime-compatible translation protocol (/v1/realtime/translations)
 * over plain `ws`, for the load test and scripts: it speaks ws:// as well as wss:// (the official
 * `openai` client insists on TLS). Like translation-client.ts it imports nothing from the server:
 * it is the wire contract as an outside client sees it.
 */
import WebSocket from 'ws';
import type { RawData } from 'ws';
import { withoutTrailingSlashes } from './translation-client.ts';

export type RealtimeEvent = { type: string; [key: string]: unknown };

export interface RealtimeHandlers {
  /** Every event from the server, in order. */
  onEvent?(event: RealtimeEvent): void;
  onClose?(code: number, reason: string): void;
}

export interface RealtimeTranslation {
  /** Resolves with `session.created`; rejects when the connection fails first. */
  readonly created: Promise<RealtimeEvent>;
  /** The translation so far: the transcript deltas joined. */
  readonly text: string;
  readonly isOpen: boolean;
  /** Appends 24 kHz PCM16 mono audio (one `session.input_audio_buffer.append`). */
  append(pcm: Uint8Array): void;
  update(session: Record<string, unknown>): void;
  /** Sends `session.close` and resolves at `session.closed` (rejects if the socket closes first). */
  finish(): Promise<void>;
  terminate(): void;
}

/** The realtime URL of a server: http→ws, https→wss, `/v1/realtime/translations?model=…`. */
export function realtimeUrlFor(baseUrl: string | URL, model: string): string {
  const url = new URL(baseUrl);
  url.protocol = url.protocol === 'https:' ? 'wss:' : 'ws:';
  url.pathname = `${withoutTrailingSlashes(url.pathname)}/v1/realtime/translations`;
  url.search = new URLSearchParams({ model }).toString();
  return url.toString();
}

export function openRealtimeTranslation(baseUrl: string | URL, model: string, handlers: RealtimeHandlers = {}, options: { apiKey?: string; ca?: Buffer } = {}): RealtimeTranslation {
  const socket = new WebSocket(realtimeUrlFor(baseUrl, model), {
    ...(options.apiKey ? { headers: { authorization: `Bearer ${options.apiKey}` } } : {}),
    ...(options.ca ? { ca: options.ca } : {}),
  });
  let text = '';
  let closed: (() => void) | null = null;
  let closedEarly: ((error: Error) => void) | null = null;
  const created = new Promise<RealtimeEvent>((resolve, reject) => {
    socket.once('error', reject);
    socket.on('message', (data: RawData) => {
      let event: RealtimeEvent;
      try {
        event = JSON.parse(data.toString()) as RealtimeEvent;
      } catch {
        return;
      }
      if (event.type === 'session.created') resolve(event);
      if (event.type === 'session.output_transcript.delta') text += String(event.delta);
      if (event.type === 'infinisst.output_transcript.replaced') text = String(event.text);
      if (event.type === 'session.closed') closed?.();
      handlers.onEvent?.(event);
    });
  });
  socket.on('close', (code, reason) => {
    handlers.onClose?.(code, reason.toString());
    closedEarly?.(new Error(`the socket closed (${code}) before session.closed`));
  });
  const send = (event: Record<string, unknown>): void => {
    if (socket.readyState === socket.OPEN) socket.send(JSON.stringify(event));
  };
  return {
    created,
    get text() {
      return text;
    },
    get isOpen() {
      return socket.readyState === socket.OPEN;
    },
    append: (pcm) => send({ type: 'session.input_audio_buffer.append', audio: Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).toString('base64') }),
    update: (session) => send({ type: 'session.update', session }),
    finish: () => new Promise<void>((resolve, reject) => {
      closed = resolve;
      closedEarly = reject;
      if (socket.readyState !== socket.OPEN) reject(new Error('the socket is not open'));
      send({ type: 'session.close' });
    }),
    terminate: () => socket.terminate(),
  };
}
