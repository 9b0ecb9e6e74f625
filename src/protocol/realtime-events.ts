/**
 * What the two OpenAI-Realtime-compatible dialects (realtime-dialects.ts) share: JSON text frames,
 * audio as base64 PCM16 at 24 kHz, the `error` event, and what the standard protocols have no word
 * for, under clearly named extensions a stock client ignores: the `infinisst` object of a session
 * and events whose type starts with `infinisst.`. A client's events become dialect-neutral
 * actions for the connection (routes/realtime-connection.ts).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppError } from '../errors.ts';

/** The sample rate the Realtime API's websocket audio uses. */
export const REALTIME_INPUT_RATE_HZ = 24_000;

export const eventId = z.string().max(200).optional();

/** Our per-session settings, in `session.infinisst` of a `session.update` (all optional). */
export const infinisstSettings = z.strictObject({
  /** A served language pair ("English -> German"): the same as choosing the model and output language. */
  language_pair: z.string().min(1).max(200).optional(),
  /** Chunks of 960 ms × this: lower is faster, higher is more accurate (1..the model's maximum). */
  latency_multiplier: z.number().int().min(1).max(64).optional(),
  /** true: clear the translation and the model's context, keep the session. */
  reset: z.boolean().optional(),
  /** How often an `infinisst.lag` event is sent, in ms (0 = never; default 1000). */
  lag_interval_ms: z.number().int().min(0).max(600_000).optional(),
});
export type InfinisstSettings = z.infer<typeof infinisstSettings>;

/** What a client asked for, whichever dialect it speaks (realtime-dialects.ts maps events to these). */
export type ClientAction = { clientEventId?: string | undefined } & (
  | { kind: 'append'; audio: string }
  | { kind: 'update'; model?: string | undefined; outputLanguage?: string | undefined; settings: InfinisstSettings }
  /** Translate what is buffered, send the last text, end the session (translation: session.close). */
  | { kind: 'close' }
  /** Translate what is buffered and complete the current item (transcription: input_audio_buffer.commit). */
  | { kind: 'commit' }
  /** Drop the audio not yet translated and start the model afresh (transcription: input_audio_buffer.clear). */
  | { kind: 'clear' }
);

/** What the server knows about a session, before a dialect shapes it into its session object. */
export interface SessionFacts {
  id: string;
  model: string;
  languagePair: string | null;
  outputLanguage: string | undefined;
  latencyMultiplier: number | null;
  maxLatencyMultiplier: number | null;
  state: 'unconfigured' | 'queued' | 'active' | 'closed';
  queuePosition: number | null;
  isDemo: boolean;
  /** Seconds since the epoch. */
  expiresAt: number;
}

/** Our part of every session object: the `infinisst` field a stock client ignores. */
export function infinisstView(facts: SessionFacts) {
  return {
    language_pair: facts.languagePair,
    latency_multiplier: facts.latencyMultiplier,
    max_latency_multiplier: facts.maxLatencyMultiplier,
    state: facts.state,
    queue_position: facts.queuePosition,
    input_sample_rate: REALTIME_INPUT_RATE_HZ,
    /** true when the model has random weights: its text is not a translation. */
    demo: facts.isDemo,
  };
}

export function newEventId(): string {
  return `event_${randomBytes(12).toString('hex')}`;
}

export type ServerEvent = { type: string; event_id: string } & Record<string, unknown>;

export const serverEvents = {
  /** Ours: the whole translation replaced what the client holds (after a reset, or a revision deltas cannot express). */
  transcriptReplaced: (text: string): ServerEvent => ({ type: 'infinisst.output_transcript.replaced', event_id: newEventId(), text }),
  /** Ours: the session waits for a translation slot. */
  queued: (position: number, estimatedWaitSeconds: number | null): ServerEvent => ({ type: 'infinisst.session.queued', event_id: newEventId(), queue_position: position, estimated_wait_seconds: estimatedWaitSeconds }),
  /** Ours: the session got its slot and translates now. */
  active: (): ServerEvent => ({ type: 'infinisst.session.active', event_id: newEventId() }),
  /** Ours: how far the translation is behind the audio received (silence keeps it small; a busy server makes it grow). */
  lag: (lagMs: number, receivedMs: number): ServerEvent => ({ type: 'infinisst.lag', event_id: newEventId(), lag_ms: Math.round(lagMs), audio_received_ms: Math.round(receivedMs) }),
  /** The session ended without the client asking (deleted, expired, shutdown, failure). */
  sessionEnded: (reason: 'deleted' | 'expired' | 'shutdown' | 'failed'): ServerEvent => serverEvents.error({
    type: reason === 'failed' ? 'server_error' : 'invalid_request_error',
    code: `session_${reason}`,
    message: {
      deleted: 'the session was deleted',
      expired: 'the session expired (no audio for the idle timeout)',
      shutdown: 'the server is shutting down',
      failed: 'the session failed',
    }[reason],
  }),
  shuttingDown: (): ServerEvent => serverEvents.error({ type: 'server_error', code: 'server_shutting_down', message: 'the server is shutting down; translations in progress will still be sent' }),
  error: (error: { type: 'invalid_request_error' | 'server_error'; code: string; message: string; param?: string | null; clientEventId?: string | undefined }): ServerEvent => ({
    type: 'error',
    event_id: newEventId(),
    error: { type: error.type, code: error.code, message: error.message, param: error.param ?? null, event_id: error.clientEventId ?? null },
  }),
};

/** An AppError as the protocol's error event: the client's mistakes are invalid_request_error. */
export function appErrorEvent(error: AppError, clientEventId?: string): ServerEvent {
  return serverEvents.error({
    type: error.status >= 500 && error.code !== 'overloaded' ? 'server_error' : 'invalid_request_error',
    code: error.code.replace(/[A-Z]/g, (letter) => `_${letter.toLowerCase()}`),
    message: error.message,
    clientEventId,
  });
}

/** An invalid_request_error event about what the client sent. */
export function invalidRequest(code: string, message: string, clientEventId?: string, param?: string): ServerEvent {
  return serverEvents.error({ type: 'invalid_request_error', code, message, param: param ?? null, clientEventId });
}

/**
 * Reads one client event of a dialect from a text frame: the event, or the error event that
 * answers it (not JSON, no type, a type the dialect does not take, fields of the wrong shape).
 */
export function parseEvent<T>(text: string, schema: z.ZodType<T>, types: readonly string[]): { event: T } | { error: ServerEvent } {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return { error: invalidRequest('invalid_json', 'the event is not valid JSON') };
  }
  const fields = typeof raw === 'object' && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>) : {};
  const clientEventId = typeof fields.event_id === 'string' ? fields.event_id : undefined;
  const type = fields.type;
  if (typeof type !== 'string') return { error: invalidRequest('invalid_event', 'an event is a JSON object with a string "type"', clientEventId, 'type') };
  if (!types.includes(type)) {
    return { error: invalidRequest('unknown_event_type', `unknown event type "${type.slice(0, 100)}"; this server accepts ${types.join(', ')}`, clientEventId, 'type') };
  }
  const parsed = schema.safeParse(raw);
  if (parsed.success) return { event: parsed.data };
  const issue = parsed.error.issues[0];
  const param = issue?.path.join('.') ?? '';
  return { error: invalidRequest('invalid_event', `${type}: ${param ? `${param}: ` : ''}${issue?.message ?? 'invalid'}`, clientEventId, param || undefined) };
}
