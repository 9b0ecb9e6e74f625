/**
 * The two OpenAI Realtime protocols this server speaks, with the event names and shapes of the
 * official `openai` package's types:
 *
 * - **translation** (`/v1/realtime/translations?model=…`, `RealtimeTranslation*` types, client
 *   `openai/realtime/translations/ws`): `session.input_audio_buffer.append`, `session.update`,
 *   `session.close`; the server answers `session.output_transcript.delta` and `session.closed`.
 * - **transcription** (`/v1/realtime?intent=transcription`, the Realtime API's transcription
 *   sessions, client `openai/realtime/ws`): `input_audio_buffer.append` / `commit` / `clear` and
 *   `session.update` with `type: "transcription"`; the server answers
 *   `conversation.item.input_audio_transcription.delta` and, per commit, `input_audio_buffer.committed`
 *   and `conversation.item.input_audio_transcription.completed`, carrying the translation. Clients
 *   written for OpenAI's transcription sessions (and servers that copied them) work unchanged.
 *
 * Each dialect turns its events into the same actions and shapes the same session facts.
 */
import type { RawData } from 'ws';
import { z } from 'zod';
import {
  eventId, infinisstSettings, infinisstView, invalidRequest, newEventId, parseEvent, REALTIME_INPUT_RATE_HZ,
  type ClientAction, type ServerEvent, type SessionFacts,
} from './realtime-events.ts';

export interface RealtimeDialect {
  name: 'translation' | 'transcription';
  parse(text: string): { action: ClientAction } | { error: ServerEvent };
  session(kind: 'created' | 'updated', facts: SessionFacts): ServerEvent;
  /** The translation grew by `delta`; `itemId` is the item it belongs to (transcription). */
  delta(delta: string, elapsedMs: number | null, itemId: string): ServerEvent;
}

/**
 * One frame from the client as an action of `dialect`, or the error event that answers it: binary
 * frames and events over `maxBytes` are refused before any parsing.
 */
export function readClientFrame(dialect: RealtimeDialect, data: RawData, isBinary: boolean, maxBytes: number): { action: ClientAction } | { error: ServerEvent } {
  const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  if (isBinary) return { error: invalidRequest('validation_failed', 'binary frames are not part of this protocol: send audio in append events (base64 PCM16, 24 kHz mono)') };
  if (bytes.byteLength > maxBytes) {
    return { error: invalidRequest('event_too_large', `event of ${bytes.byteLength} bytes exceeds the limit of ${maxBytes}; append audio in smaller pieces (200 ms is typical)`) };
  }
  return dialect.parse(bytes.toString('utf8'));
}

function mapped<T extends { event_id?: string | undefined }>(result: { event: T } | { error: ServerEvent }, toAction: (event: T) => ClientAction): { action: ClientAction } | { error: ServerEvent } {
  return 'error' in result ? result : { action: { ...toAction(result.event), clientEventId: result.event.event_id } };
}

// --- translation ---------------------------------------------------------------------------------

const translationUpdate = z.object({
  type: z.literal('session.update'),
  event_id: eventId,
  session: z.object({
    /** Fixed when the session is created (the official types say so); accepted when it is the same. */
    model: z.string().optional(),
    type: z.literal('translation').optional(),
    audio: z.object({
      // Accepted and ignored: this server has neither a separate transcription model nor noise reduction.
      input: z.object({ transcription: z.unknown().optional(), noise_reduction: z.unknown().optional() }).optional(),
      output: z.object({ language: z.string().min(1).max(100).optional() }).optional(),
    }).optional(),
    infinisst: infinisstSettings.optional(),
  }),
});
const translationEvents = z.discriminatedUnion('type', [
  translationUpdate,
  z.object({ type: z.literal('session.input_audio_buffer.append'), event_id: eventId, audio: z.string() }),
  z.object({ type: z.literal('session.close'), event_id: eventId }),
]);
const translationTypes = ['session.update', 'session.input_audio_buffer.append', 'session.close'];

export const translationDialect: RealtimeDialect = {
  name: 'translation',
  parse: (text) => mapped(parseEvent(text, translationEvents, translationTypes), (event): ClientAction => {
    if (event.type === 'session.input_audio_buffer.append') return { kind: 'append', audio: event.audio };
    if (event.type === 'session.close') return { kind: 'close' };
    return { kind: 'update', model: event.session.model, outputLanguage: event.session.audio?.output?.language, settings: event.session.infinisst ?? {} };
  }),
  session: (kind, facts) => ({
    type: `session.${kind}`,
    event_id: newEventId(),
    session: {
      id: facts.id,
      model: facts.model,
      type: 'translation',
      expires_at: facts.expiresAt,
      audio: { input: { transcription: null, noise_reduction: null }, output: facts.outputLanguage !== undefined ? { language: facts.outputLanguage } : {} },
      infinisst: infinisstView(facts),
    },
  }),
  delta: (delta, elapsedMs) => ({ type: 'session.output_transcript.delta', event_id: newEventId(), delta, elapsed_ms: elapsedMs }),
};

export const translationEventsOut = {
  closed: (): ServerEvent => ({ type: 'session.closed', event_id: newEventId() }),
};

// --- transcription -------------------------------------------------------------------------------

const pcm24k = z.object({
  type: z.literal('audio/pcm', { error: 'only audio/pcm (PCM16 at 24000 Hz) is accepted' }),
  rate: z.literal(REALTIME_INPUT_RATE_HZ, { error: `audio/pcm is accepted at ${REALTIME_INPUT_RATE_HZ} Hz only` }).optional(),
});
const transcriptionUpdate = z.object({
  type: z.literal('session.update'),
  event_id: eventId,
  session: z.object({
    type: z.literal('transcription').optional(),
    audio: z.object({
      input: z.object({
        format: pcm24k.optional(),
        /** `model`: a served language pair or model package; `language` (the source) and `prompt` are accepted and not used. */
        transcription: z.object({ model: z.string().min(1).max(200).optional(), language: z.string().max(20).optional(), prompt: z.string().optional() }).nullable().optional(),
        // Accepted and ignored: commits come from the client (no voice activity detection here), no noise reduction.
        turn_detection: z.unknown().optional(),
        noise_reduction: z.unknown().optional(),
      }).optional(),
    }).optional(),
    include: z.unknown().optional(),
    infinisst: infinisstSettings.optional(),
  }),
});
const transcriptionEvents = z.discriminatedUnion('type', [
  transcriptionUpdate,
  z.object({ type: z.literal('input_audio_buffer.append'), event_id: eventId, audio: z.string() }),
  z.object({ type: z.literal('input_audio_buffer.commit'), event_id: eventId }),
  z.object({ type: z.literal('input_audio_buffer.clear'), event_id: eventId }),
]);
const transcriptionTypes = ['session.update', 'input_audio_buffer.append', 'input_audio_buffer.commit', 'input_audio_buffer.clear'];

export const transcriptionDialect: RealtimeDialect = {
  name: 'transcription',
  parse: (text) => mapped(parseEvent(text, transcriptionEvents, transcriptionTypes), (event): ClientAction => {
    if (event.type === 'input_audio_buffer.append') return { kind: 'append', audio: event.audio };
    if (event.type === 'input_audio_buffer.commit') return { kind: 'commit' };
    if (event.type === 'input_audio_buffer.clear') return { kind: 'clear' };
    return { kind: 'update', model: event.session.audio?.input?.transcription?.model ?? undefined, settings: event.session.infinisst ?? {} };
  }),
  session: (kind, facts) => ({
    type: `session.${kind}`,
    event_id: newEventId(),
    session: {
      id: facts.id,
      object: 'realtime.transcription_session',
      type: 'transcription',
      expires_at: facts.expiresAt,
      audio: {
        input: {
          format: { type: 'audio/pcm', rate: REALTIME_INPUT_RATE_HZ },
          transcription: { model: facts.model, language: null, prompt: '' },
          turn_detection: null,
          noise_reduction: null,
        },
      },
      include: [],
      infinisst: infinisstView(facts),
    },
  }),
  delta: (delta, _elapsedMs, itemId) => ({ type: 'conversation.item.input_audio_transcription.delta', event_id: newEventId(), item_id: itemId, content_index: 0, delta }),
};

export const transcriptionEventsOut = {
  committed: (itemId: string, previousItemId: string | null): ServerEvent => ({ type: 'input_audio_buffer.committed', event_id: newEventId(), item_id: itemId, previous_item_id: previousItemId }),
  completed: (itemId: string, transcript: string, audioSeconds: number): ServerEvent => ({
    type: 'conversation.item.input_audio_transcription.completed',
    event_id: newEventId(),
    item_id: itemId,
    content_index: 0,
    transcript,
    usage: { type: 'duration', seconds: Math.round(audioSeconds * 1000) / 1000 },
  }),
  cleared: (): ServerEvent => ({ type: 'input_audio_buffer.cleared', event_id: newEventId() }),
};
