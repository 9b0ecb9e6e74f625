/**
 * The WebSocket adapter of /v1/realtime/translations: the OpenAI-Realtime-compatible edge of the
 * same sessions /wss drives. It owns one session for the life of its socket (the protocol has no
 * reconnect), turns append events into 16 kHz audio for it, and writes the session's growing
 * translation back as append-only transcript deltas. Every client mistake is an `error` event;
 * nothing a client sends ends the process or reaches another session.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { AppError } from '../errors.ts';
import type { LanguagePairInfo } from '../inference/translation-engine.ts';
import { decodeBase64Strict, Pcm16RateConverter } from '../protocol/pcm16-audio.ts';
import { toAppError } from '../protocol/error-reply.ts';
import {
  appErrorEvent, invalidRequest, parseClientEvent, REALTIME_INPUT_RATE_HZ, serverEvents,
  type RealtimeSessionView, type SessionUpdateEvent,
} from '../protocol/realtime-events.ts';
import { resolveLanguagePair, updatedChoice, type PairChoice } from '../protocol/realtime-model.ts';
import type { CloseReason, Session, SessionSink } from '../sessions/session.ts';
import type { SessionManager } from '../sessions/session-manager.ts';
import { PeriodicTask } from './periodic-task.ts';
import { RealtimeOutbox } from './realtime-outbox.ts';
import { realtimeSessionView } from './realtime-session-view.ts';

export interface RealtimeConnectionOptions {
  sessions: SessionManager;
  /** The pairs the engine serves now. */
  servedPairs: () => LanguagePairInfo[];
  log: FastifyBaseLogger;
  clientAddress: string;
  /** Largest event accepted, in bytes of JSON text (an append of the largest audio frame /wss accepts). */
  maxEventBytes: number;
  /** Default period of `infinisst.lag` events (0 = none). */
  lagIntervalMs: number;
  /** Lifetime the session view reports in `expires_at` (the idle timeout still applies). */
  maxSessionSeconds: number;
}

export class RealtimeConnection implements SessionSink {
  private session: Session | null = null;
  private choice: PairChoice;
  private readonly converter = new Pcm16RateConverter(REALTIME_INPUT_RATE_HZ);
  private readonly outbox: RealtimeOutbox;
  /** The translation the client holds: the sum of the deltas sent. */
  private clientText = '';
  private readonly lagReports = new PeriodicTask(() => {
    const session = this.session;
    if (session && session.state === 'active' && this.converter.receivedMs > 0) {
      this.outbox.send(serverEvents.lag(session.pendingAudioMs, this.converter.receivedMs));
    }
  });
  private lagIntervalMs: number;
  private isClosing = false;
  private isInputStopped = false;
  private readonly createdAt = Date.now();

  constructor(
    private readonly socket: WebSocket,
    private readonly options: RealtimeConnectionOptions,
    model: string | undefined,
  ) {
    this.outbox = new RealtimeOutbox(socket, options.log);
    this.choice = { model };
    this.lagIntervalMs = options.lagIntervalMs;
  }

  /** Creates the session the URL names, if it names one, and says `session.created` (always the first event). */
  open(): void {
    const resolution = resolveLanguagePair(this.choice, this.options.servedPairs());
    if (resolution.kind === 'unknown') {
      this.outbox.send(serverEvents.sessionCreated(this.view()));
      this.outbox.send(invalidRequest('model_not_found', resolution.reason, undefined, 'model'));
      this.outbox.closeAfterFlush(1008, 'model not found');
      return;
    }
    const refused = resolution.kind === 'pair' ? this.startSession(resolution.info) : null;
    this.outbox.send(serverEvents.sessionCreated(this.view()));
    if (refused) this.refuse(refused);
    else this.announceQueue();
  }

  /** The socket answered a heartbeat ping: the client is there, even when it sends no audio. */
  onPong(): void {
    this.session?.touch();
  }

  onMessage(data: RawData, isBinary: boolean): void {
    if (this.isClosing) return;
    try {
      const bytes = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
      if (isBinary) throw new AppError('validationFailed', 'binary frames are not part of this protocol: send audio as session.input_audio_buffer.append events (base64 PCM16, 24 kHz mono)');
      if (bytes.byteLength > this.options.maxEventBytes) {
        this.outbox.send(invalidRequest('event_too_large', `event of ${bytes.byteLength} bytes exceeds the limit of ${this.options.maxEventBytes}; append audio in smaller pieces (200 ms is typical)`));
        return;
      }
      this.dispatch(bytes.toString('utf8'));
    } catch (error) {
      this.fail(error);
    }
  }

  onSocketClosed(): void {
    this.isClosing = true;
    this.lagReports.stop();
    this.outbox.clear();
    // The protocol has no reconnect: the session ends with its socket.
    this.endSession();
  }

  /** Deletes the session (quietly: this connection asked for it). */
  private endSession(): void {
    const session = this.session;
    if (!session) return;
    session.detach(this);
    this.session = null;
    this.options.sessions.delete(session.id);
  }

  // SessionSink: what the session says.

  sendTranslation(fullText: string): boolean {
    if (!this.outbox.isOpen) return false;
    if (fullText.startsWith(this.clientText)) {
      const delta = fullText.slice(this.clientText.length);
      if (delta !== '') this.outbox.sendDelta(delta, this.elapsedMs());
    } else {
      this.outbox.send(serverEvents.transcriptReplaced(fullText));
    }
    this.clientText = fullText;
    return true;
  }

  sendError(error: AppError): void {
    if (this.isInputStopped && error.code === 'engineClosed') return;
    this.outbox.send(appErrorEvent(error));
  }

  resumeInput(): void {
    if (!this.isInputStopped && this.socket.isPaused) this.socket.resume();
  }

  activated(): void {
    this.outbox.send(serverEvents.active());
    this.session?.deliverUndelivered();
  }

  sessionClosed(reason: CloseReason): void {
    this.session = null;
    this.lagReports.stop();
    if (this.isClosing) return;
    this.isClosing = true;
    const ended = serverEvents.sessionEnded(reason);
    this.outbox.send(ended);
    this.outbox.closeAfterFlush(reason === 'shutdown' ? 1001 : 1000, (ended.error as { message: string }).message);
  }

  replaced(): void {
    this.sessionClosed('deleted');
  }

  shuttingDown(): void {
    this.isInputStopped = true;
    if (!this.socket.isPaused) this.socket.pause();
    this.outbox.send(serverEvents.shuttingDown());
  }

  private dispatch(text: string): void {
    const parsed = parseClientEvent(text);
    if ('error' in parsed) return this.outbox.send(parsed.error);
    const event = parsed.event;
    try {
      if (event.type === 'session.input_audio_buffer.append') this.onAppend(event.audio);
      else if (event.type === 'session.update') this.onUpdate(event);
      else void this.onClose();
    } catch (error) {
      this.outbox.send(appErrorEvent(toAppError(error), event.event_id));
    }
  }

  private onAppend(audio: string): void {
    if (this.isInputStopped) return;
    const session = this.session;
    if (!session) {
      throw new AppError('validationFailed', 'audio before a session is configured: connect with ?model=<language pair or model>, or send session.update with session.audio.output.language or session.infinisst.language_pair');
    }
    const samples = this.converter.push(decodeBase64Strict(audio, 'audio'));
    if (!session.pushAudio(samples) && !this.socket.isPaused) this.socket.pause();
  }

  private onUpdate(event: SessionUpdateEvent): void {
    const requested = event.session;
    const settings = requested.infinisst ?? {};
    const current = this.session;
    const choice = updatedChoice(this.choice, { model: requested.model, outputLanguage: requested.audio?.output?.language, languagePair: settings.language_pair });
    const resolution = resolveLanguagePair(choice, this.options.servedPairs());
    if (resolution.kind === 'unknown') throw new AppError('unsupportedLanguagePair', resolution.reason);
    if (resolution.kind === 'pair' && resolution.info.languagePair !== current?.languagePair) {
      if (current && this.converter.receivedMs > 0) {
        throw new AppError('validationFailed', `the language pair is fixed once audio has been sent (${current.languagePair}); open a new connection for another`);
      }
      this.endSession();
      const refused = this.startSession(resolution.info, settings.latency_multiplier);
      if (refused) {
        this.refuse(refused);
        return;
      }
    } else if (settings.latency_multiplier !== undefined && current) {
      current.setLatencyMultiplier(settings.latency_multiplier);
    }
    this.choice = choice;
    if (settings.reset && this.session) {
      this.session.reset();
      this.converter.clear();
      this.clientText = '';
      this.outbox.send(serverEvents.transcriptReplaced(''));
    }
    if (settings.lag_interval_ms !== undefined) {
      this.lagIntervalMs = settings.lag_interval_ms;
      this.lagReports.start(this.lagIntervalMs);
    }
    this.outbox.send(serverEvents.sessionUpdated(this.view()));
    if (this.session !== current) this.announceQueue();
  }

  /** session.close: the tail is translated, the last deltas sent, then `session.closed` and the socket closes. */
  private async onClose(): Promise<void> {
    if (this.isClosing) return;
    this.isClosing = true;
    this.isInputStopped = true;
    const session = this.session;
    try {
      if (session) {
        const tail = this.converter.finish();
        if (tail.length > 0) session.pushAudio(tail);
        await session.flush();
      }
    } catch (error) {
      this.outbox.send(appErrorEvent(toAppError(error)));
    }
    this.lagReports.stop();
    this.outbox.send(serverEvents.sessionClosed());
    if (this.session === session) this.endSession();
    this.outbox.closeAfterFlush(1000, 'session closed');
  }

  /** Creates and attaches the session; returns why it was refused (capacity, limits, shutdown), or null. */
  private startSession(info: LanguagePairInfo, latencyMultiplier?: number): AppError | null {
    try {
      const session = this.options.sessions.create({
        agentType: 'InfiniSST',
        languagePair: info.languagePair,
        latencyMultiplier,
        clientAddress: this.options.clientAddress,
        evaluationMode: false,
      });
      this.session = session;
      session.touch();
      session.attach(this);
      this.options.log.info({ sessionId: session.id, languagePair: session.languagePair, state: session.state, protocol: 'realtime' }, 'session created');
      this.lagReports.start(this.lagIntervalMs);
      return null;
    } catch (error) {
      return toAppError(error);
    }
  }

  /** Says why no session could be had and closes: 1013 (try again later) for capacity, else 1008. */
  private refuse(error: AppError): void {
    this.outbox.send(appErrorEvent(error));
    this.isClosing = true;
    this.outbox.closeAfterFlush(error.status === 429 || error.status === 503 ? 1013 : 1008, error.code);
  }

  private announceQueue(): void {
    const session = this.session;
    if (!session || session.state !== 'queued') return;
    const waitMs = this.options.sessions.estimatedWaitMs(session);
    this.outbox.send(serverEvents.queued(this.options.sessions.queuePosition(session), waitMs === null ? null : Math.ceil(waitMs / 1000)));
  }

  /** Where in the audio the translation stands: received audio minus what is not translated yet. */
  private elapsedMs(): number {
    const pending = this.session?.pendingAudioMs ?? 0;
    return Math.max(0, Math.round(this.converter.receivedMs - pending));
  }

  private view(): RealtimeSessionView {
    const { sessions, maxSessionSeconds } = this.options;
    const expiresAt = Math.floor(this.createdAt / 1000) + maxSessionSeconds;
    return realtimeSessionView({ session: this.session, choice: this.choice, served: this.options.servedPairs(), sessions, expiresAt });
  }

  private fail(error: unknown): void {
    const appError = toAppError(error);
    if (appError.status >= 500) this.options.log.error({ err: error }, 'realtime event failed');
    this.outbox.send(appErrorEvent(appError));
  }
}
