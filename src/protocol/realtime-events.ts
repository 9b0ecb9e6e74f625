/**
 * The events of the OpenAI-Realtime-compatible translation protocol (`/v1/realtime/translations`),
 * with the names and shapes of the official `openai` package's realtime translation types
 * (`RealtimeTranslationClientEvent`, `RealtimeTranslationServerEvent`): JSON text frames, audio as
 * base64 PCM16 at 24 kHz. What the standard protocol has no word for travels under clearly named
 * extensions a stock client ignores: the `infinisst` object of a session and events whose type
 * starts with `infinisst.`.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import type { AppError } from '../errors.ts';

/** The sample rate the Realtime API's websocket audio uses. */
export const REALTIME_INPUT_RATE_HZ = 24_000;

const eventId = z.string().max(200).optional();

/** Our per-session settings, in `session.infinisst` of a `session.update` (all optional). */
const infinisstSettings = z.strictObject({
  /** A served language pair ("English -> German"): the same as choosing the model and output language. */
  language_pair: z.string().min(1).max(200).optional(),
  /** Chunks of 960 ms × this: lower is faster, higher is more accurate (1..the model's maximum). */
  latency_multiplier: z.number().int().min(1).max(64).optional(),
  /** true: clear the translation and the model's context, keep the session. */
  reset: z.boolean().optional(),
  /** How often an `infinisst.lag` event is sent, in ms (0 = never; default 1000). */
  lag_interval_ms: z.number().int().min(0).max(600_000).optional(),
});

const sessionUpdate = z.object({
  type: z.literal('session.update'),
  event_id: eventId,
  session: z.object({
    /** Fixed when the session is created (the official types say so); accepted when it is the same. */
    model: z.string().optional(),
    type: z.literal('translation').optional(),
    audio: z.object({
      input: z.object({
        // Accepted and ignored: this server has neither a separate transcription model nor noise reduction.
        transcription: z.unknown().optional(),
        noise_reduction: z.unknown().optional(),
      }).optional(),
      output: z.object({ language: z.string().min(1).max(100).optional() }).optional(),
    }).optional(),
    infinisst: infinisstSettings.optional(),
  }),
});

const audioAppend = z.object({
  type: z.literal('session.input_audio_buffer.append'),
  event_id: eventId,
  audio: z.string(),
});

const sessionClose = z.object({ type: z.literal('session.close'), event_id: eventId });

export const realtimeClientEvent = z.discriminatedUnion('type', [sessionUpdate, audioAppend, sessionClose]);
export type RealtimeClientEvent = z.infer<typeof realtimeClientEvent>;
export type SessionUpdateEvent = z.infer<typeof sessionUpdate>;
export const clientEventTypes = ['session.update', 'session.input_audio_buffer.append', 'session.close'] as const;

/** What the server says about a session in `session.created` / `session.updated`. */
export interface RealtimeSessionView {
  id: string;
  model: string;
  type: 'translation';
  expires_at: number;
  audio: { input: { transcription: null; noise_reduction: null }; output: { language?: string } };
  infinisst: {
    language_pair: string | null;
    latency_multiplier: number | null;
    max_latency_multiplier: number | null;
    state: 'unconfigured' | 'queued' | 'active' | 'closed';
    queue_position: number | null;
    input_sample_rate: number;
    /** true when the model has random weights: its text is not a translation. */
    demo: boolean;
  };
}

export function newEventId(): string {
  return `event_${randomBytes(12).toString('hex')}`;
}

export type ServerEvent = { type: string; event_id: string } & Record<string, unknown>;

export const serverEvents = {
  sessionCreated: (session: RealtimeSessionView): ServerEvent => ({ type: 'session.created', event_id: newEventId(), session }),
  sessionUpdated: (session: RealtimeSessionView): ServerEvent => ({ type: 'session.updated', event_id: newEventId(), session }),
  sessionClosed: (): ServerEvent => ({ type: 'session.closed', event_id: newEventId() }),
  transcriptDelta: (delta: string, elapsedMs: number | null): ServerEvent => ({ type: 'session.output_transcript.delta', event_id: newEventId(), delta, elapsed_ms: elapsedMs }),
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
 * Reads one client event from a text frame: the event, or the error event that answers it (not
 * JSON, no type, a type this server does not take, fields of the wrong shape).
 */
export function parseClientEvent(text: string): { event: RealtimeClientEvent } | { error: ServerEvent } {
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
  if (!(clientEventTypes as readonly string[]).includes(type)) {
    return { error: invalidRequest('unknown_event_type', `unknown event type "${type.slice(0, 100)}"; this server accepts ${clientEventTypes.join(', ')}`, clientEventId, 'type') };
  }
  const parsed = realtimeClientEvent.safeParse(raw);
  if (parsed.success) return { event: parsed.data };
  const issue = parsed.error.issues[0];
  const param = issue?.path.join('.') ?? '';
  return { error: invalidRequest('invalid_event', `${type}: ${param ? `${param}: ` : ''}${issue?.message ?? 'invalid'}`, clientEventId, param || undefined) };
}
