/**
 * The WebSocket adapter of the OpenAI-Realtime-compatible edge (either dialect, see
 * protocol/realtime-dialects.ts): the same sessions /wss drives. It owns one session for the life
 * of its socket (the protocol has no reconnect), turns appended audio into 16 kHz samples for it,
 * and writes the session's growing translation back as append-only deltas. Every client mistake
 * is an `error` event; nothing a client sends ends the process or reaches another session.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import { AppError } from '../errors.ts';
import type { LanguagePairInfo } from '../inference/translation-engine.ts';
import { decodeBase64Strict, Pcm16RateConverter } from '../protocol/pcm16-audio.ts';
import { toAppError } from '../protocol/error-reply.ts';
import { readClientFrame, transcriptionEventsOut, translationEventsOut, type RealtimeDialect } from '../protocol/realtime-dialects.ts';
import { appErrorEvent, invalidRequest, REALTIME_INPUT_RATE_HZ, serverEvents, type ClientAction } from '../protocol/realtime-events.ts';
import { resolveLanguagePair, updatedChoice, type PairChoice } from '../protocol/realtime-model.ts';
import type { Session } from '../sessions/session.ts';
import type { CloseReason, SessionSink } from '../sessions/session-sink.ts';
import type { SessionManager } from '../sessions/session-manager.ts';
import { PeriodicTask } from './periodic-task.ts';
import { RealtimeOutbox } from './realtime-outbox.ts';
import { RealtimeItems } from './realtime-items.ts';
import { createSession, queuedEvent, sessionFacts } from './realtime-session-view.ts';

export interface RealtimeConnectionOptions {
  dialect: RealtimeDialect;
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
  private readonly items = new RealtimeItems();
  /** Commits in order: each waits for the one before it. */
  private commits: Promise<void> = Promise.resolve();
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
      this.outbox.send(this.options.dialect.session('created', this.facts()));
      this.outbox.send(invalidRequest('model_not_found', resolution.reason, undefined, 'model'));
      this.outbox.closeAfterFlush(1008, 'model not found');
      return;
    }
    const refused = resolution.kind === 'pair' ? this.startSession(resolution.info) : null;
    this.outbox.send(this.options.dialect.session('created', this.facts()));
    if (refused) this.refuse(refused);
    else this.announceQueue();
  }

  /** The socket answered a heartbeat ping: the client is there, even when it sends no audio. */
  onPong(): void {
    this.session?.touch();
  }

  onMessage(data: RawData, isBinary: boolean): void {
    if (this.isClosing) return;
    const parsed = readClientFrame(this.options.dialect, data, isBinary, this.options.maxEventBytes);
    if ('error' in parsed) return this.outbox.send(parsed.error);
    const action = parsed.action;
    try {
      if (action.kind === 'append') this.onAppend(action.audio);
      else if (action.kind === 'update') this.onUpdate(action);
      else if (action.kind === 'commit') this.commits = this.commits.then(() => this.onCommit(action.clientEventId));
      else if (action.kind === 'clear') this.onClear();
      else void this.onClose();
    } catch (error) {
      this.fail(error, action.clientEventId);
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
      // Where in the audio the translation stands: received audio minus what is not translated yet.
      const elapsedMs = Math.max(0, Math.round(this.converter.receivedMs - (this.session?.pendingAudioMs ?? 0)));
      if (delta !== '') this.outbox.sendDelta(this.options.dialect.delta(delta, elapsedMs, this.items.currentId));
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

  private onAppend(audio: string): void {
    if (this.isInputStopped) return;
    const session = this.requireSession('audio');
    const samples = this.converter.push(decodeBase64Strict(audio, 'audio'));
    if (!session.pushAudio(samples) && !this.socket.isPaused) this.socket.pause();
  }

  private onUpdate(update: Extract<ClientAction, { kind: 'update' }>): void {
    const settings = update.settings;
    const current = this.session;
    const choice = updatedChoice(this.choice, { model: update.model, outputLanguage: update.outputLanguage, languagePair: settings.language_pair });
    const resolution = resolveLanguagePair(choice, this.options.servedPairs());
    if (resolution.kind === 'unknown') throw new AppError('unsupportedLanguagePair', resolution.reason);
    if (resolution.kind === 'pair' && resolution.info.languagePair !== current?.languagePair) {
      if (current && this.converter.receivedMs > 0) {
        throw new AppError('validationFailed', `the language pair is fixed once audio has been sent (${current.languagePair}); open a new connection for another`);
      }
      this.endSession();
      const refused = this.startSession(resolution.info, settings.latency_multiplier);
      if (refused) return this.refuse(refused);
    } else if (settings.latency_multiplier !== undefined && current) {
      current.setLatencyMultiplier(settings.latency_multiplier);
    }
    this.choice = choice;
    if (settings.reset && this.session) {
      this.startAfresh();
      this.outbox.send(serverEvents.transcriptReplaced(''));
    }
    if (settings.lag_interval_ms !== undefined) {
      this.lagIntervalMs = settings.lag_interval_ms;
      this.lagReports.start(this.lagIntervalMs);
    }
    this.outbox.send(this.options.dialect.session('updated', this.facts()));
    if (this.session !== current) this.announceQueue();
  }

  /** Commit (transcription): the audio so far is translated now, then the item is committed and completed. */
  private async onCommit(clientEventId: string | undefined): Promise<void> {
    try {
      await this.translateTail(this.requireSession('input_audio_buffer.commit'));
    } catch (error) {
      return this.fail(error, clientEventId);
    }
    const item = this.items.complete(this.clientText, this.converter.receivedMs);
    this.outbox.send(transcriptionEventsOut.committed(item.itemId, item.previousItemId));
    this.outbox.send(transcriptionEventsOut.completed(item.itemId, item.transcript, item.audioSeconds));
  }

  /** Clear (transcription): audio not yet translated is dropped and the model starts afresh. */
  private onClear(): void {
    this.requireSession('input_audio_buffer.clear');
    this.startAfresh();
    this.outbox.send(transcriptionEventsOut.cleared());
  }

  /** session.close (translation): the tail is translated, the last deltas sent, then `session.closed` and the socket closes. */
  private async onClose(): Promise<void> {
    if (this.isClosing) return;
    this.isClosing = true;
    this.isInputStopped = true;
    const session = this.session;
    try {
      if (session) await this.translateTail(session);
    } catch (error) {
      this.fail(error);
    }
    this.lagReports.stop();
    this.outbox.send(translationEventsOut.closed());
    if (this.session === session) this.endSession();
    this.outbox.closeAfterFlush(1000, 'session closed');
  }

  /** Translates the audio received so far, the partial chunk included; resolves when its text was sent. */
  private async translateTail(session: Session): Promise<void> {
    const tail = this.converter.finish();
    if (tail.length > 0) session.pushAudio(tail);
    await session.flush();
  }

  /** A reset: no text, no model context, no audio pending; a new item. */
  private startAfresh(): void {
    this.session?.reset();
    this.converter.clear();
    this.clientText = '';
    this.items.restart();
  }

  private requireSession(what: string): Session {
    if (this.session) return this.session;
    throw new AppError('validationFailed', `${what} before a session is configured: name a model (a language pair or model package) in the URL or in session.update, or set session.infinisst.language_pair`);
  }

  /** Creates and attaches the session; returns why it was refused (capacity, limits, shutdown), or null. */
  private startSession(info: LanguagePairInfo, latencyMultiplier?: number): AppError | null {
    const { sessions, clientAddress, log, dialect } = this.options;
    const session = createSession(sessions, { languagePair: info.languagePair, latencyMultiplier, clientAddress });
    if (session instanceof AppError) return session;
    this.session = session;
    session.attach(this);
    log.info({ sessionId: session.id, languagePair: session.languagePair, state: session.state, protocol: `realtime ${dialect.name}` }, 'session created');
    this.lagReports.start(this.lagIntervalMs);
    return null;
  }

  /** Says why no session could be had and closes: 1013 (try again later) for capacity, else 1008. */
  private refuse(error: AppError): void {
    this.outbox.send(appErrorEvent(error));
    this.isClosing = true;
    this.outbox.closeAfterFlush(error.status === 429 || error.status === 503 ? 1013 : 1008, error.code);
  }

  private announceQueue(): void {
    const event = this.session ? queuedEvent(this.options.sessions, this.session) : null;
    if (event) this.outbox.send(event);
  }

  private facts() {
    const expiresAt = Math.floor(this.createdAt / 1000) + this.options.maxSessionSeconds;
    return sessionFacts({ session: this.session, choice: this.choice, served: this.options.servedPairs(), sessions: this.options.sessions, expiresAt });
  }

  private fail(error: unknown, clientEventId?: string): void {
    const appError = toAppError(error);
    if (appError.status >= 500) this.options.log.error({ err: error }, 'realtime event failed');
    this.outbox.send(appErrorEvent(appError, clientEventId));
  }
}
