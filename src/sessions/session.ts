/**
 * One translation session: its state machine (queued → active → closed), its engine stream
 * (opened on activation, kept across socket reconnects, closed on delete/sweep/shutdown), its
 * keep-alive time stamps, and the connection ("sink") currently receiving its results.
 */
import type { SessionLogger } from './session-logger.ts';
import type { SessionSink, SessionState, CloseReason } from './session-sink.ts';
import { AppError } from '../errors.ts';
import type { ChunkResult, StreamListener, TranslationStream } from '../inference/translation-engine.ts';
import type { Clock } from './clock.ts';
import type { DelayTracker } from '../evaluation/delay-tracker.ts';
import { SessionDelays } from './session-delays.ts';

export interface SessionInit {
  id: string;
  agentType: string;
  languagePair: string;
  /** client_id, or the session id when none was given (as the original). */
  userId: string;
  latencyMultiplier: number;
  maxLatencyMultiplier: number;
  evaluationMode: boolean;
  clock: Clock;
  maxSegmentsPerSession: number;
  /** Audio held while queued, in ms; beyond it frames are refused with `overloaded`. */
  queuedAudioLimitMs: number;
  logger?: SessionLogger;
}

export interface SessionSummary {
  /** Since /init (queue time included). */
  durationS: number;
  /** Since the session got its slot (0: it never did). */
  activeS: number;
  /** Audio accepted from the client. */
  audioS: number;
  /** Chunks translated (empty ones included) and chunks that failed. */
  chunks: number;
  chunkErrors: number;
  /** Length of the translation when it ended (the text itself is not logged). */
  textChars: number;
}

const round2 = (value: number): number => Math.round(value * 100) / 100;

export class Session {
  readonly id: string;
  readonly agentType: string;
  readonly languagePair: string;
  readonly userId: string;
  readonly createdAtMs: number;
  lastPingMs: number;
  lastActivityMs: number;
  private stateValue: SessionState = 'queued';
  private multiplier: number;
  private stream: TranslationStream | null = null;
  private sink: SessionSink | null = null;
  private readonly delayRecords: SessionDelays;
  private queuedAudio: Float32Array[] = [];
  private queuedSamples = 0;
  private lastText = '';
  private deliveredText = '';
  private activationWaiters: ((isActive: boolean) => void)[] = [];
  private everAttached = false;
  private activatedAt: number | null = null;
  /** For the summary logged when the session ends. */
  private acceptedSamples = 0;
  private chunkCount = 0;
  private chunkErrorCount = 0;

  constructor(private readonly init: SessionInit) {
    this.id = init.id;
    this.agentType = init.agentType;
    this.languagePair = init.languagePair;
    this.userId = init.userId;
    this.multiplier = init.latencyMultiplier;
    this.createdAtMs = init.clock.now();
    this.lastPingMs = this.createdAtMs;
    this.lastActivityMs = this.createdAtMs;
    this.delayRecords = new SessionDelays({ sessionId: init.id, languagePair: init.languagePair, maxSegments: init.maxSegmentsPerSession, now: () => init.clock.now(), logger: init.logger });
    if (init.evaluationMode) this.enableEvaluation();
  }

  get state(): SessionState {
    return this.stateValue;
  }
  get latencyMultiplier(): number {
    return this.multiplier;
  }
  get evaluationMode(): boolean {
    return this.delayRecords.tracker !== null;
  }
  get delays(): DelayTracker | null {
    return this.delayRecords.tracker;
  }
  /** The cumulative translation so far. */
  get fullText(): string {
    return this.lastText;
  }
  get pendingAudioMs(): number {
    return this.stream ? this.stream.pendingAudioMs : this.queuedSamples / 16;
  }
  get hasSink(): boolean {
    return this.sink !== null;
  }
  /** True once any socket attached (reconnects and detaches do not reset it). */
  get hasEverAttached(): boolean {
    return this.everAttached;
  }
  /** When the session got its slot; null while queued. */
  get activatedAtMs(): number | null {
    return this.activatedAt;
  }

  /** Refreshes the keep-alive stamps (ping, frame, latency change…). */
  touch(): void {
    const now = this.init.clock.now();
    this.lastPingMs = now;
    this.lastActivityMs = now;
  }

  /** Moves a queued session to active with a stream from `open`. Throws what `open` throws. */
  activate(open: (listener: StreamListener) => TranslationStream): void {
    if (this.stateValue !== 'queued') return;
    this.stream = open({
      onChunk: (result) => this.onChunk(result),
      onError: (error) => {
        this.chunkErrorCount++;
        this.sink?.sendError(error instanceof AppError ? error : new AppError('internal', undefined, { cause: error }));
      },
      onDrain: () => this.sink?.resumeInput(),
    });
    this.stateValue = 'active';
    this.activatedAt = this.init.clock.now();
    const held = this.queuedAudio;
    this.queuedAudio = [];
    this.queuedSamples = 0;
    let isBelowHighWater = true;
    try {
      for (const samples of held) isBelowHighWater = this.pushToStream(this.stream, samples);
    } catch (error) {
      // Only reachable if the stream's limit is below the queued-audio limit: report, keep going.
      this.sink?.sendError(error instanceof AppError ? error : new AppError('internal', undefined, { cause: error }));
    }
    this.sink?.activated();
    if (isBelowHighWater) this.sink?.resumeInput();
    this.settleActivation(true);
  }

  /**
   * Accepts audio. Returns false when the caller should stop reading until `resumeInput`. Throws
   * AppError('overloaded') when too much audio is pending (the frame is dropped), and
   * AppError('invalidSession') once closed.
   */
  pushAudio(samples: Float32Array): boolean {
    this.touch();
    if (samples.length === 0) return true;
    if (this.stateValue === 'closed') throw new AppError('invalidSession');
    if (this.stateValue === 'queued' || !this.stream) {
      if ((this.queuedSamples + samples.length) / 16 > this.init.queuedAudioLimitMs) {
        throw new AppError('overloaded', 'Too much audio sent while waiting for a translation slot; audio frame dropped');
      }
      this.queuedAudio.push(samples);
      this.queuedSamples += samples.length;
      this.acceptedSamples += samples.length;
      return false;
    }
    const isBelowHighWater = this.pushToStream(this.stream, samples);
    this.acceptedSamples += samples.length;
    return isBelowHighWater;
  }

  /** What the session did, for the line logged when it ends. */
  summary(): SessionSummary {
    const now = this.init.clock.now();
    return {
      durationS: round2((now - this.createdAtMs) / 1000),
      activeS: this.activatedAt === null ? 0 : round2((now - this.activatedAt) / 1000),
      audioS: round2(this.acceptedSamples / 16_000),
      chunks: this.chunkCount,
      chunkErrors: this.chunkErrorCount,
      textChars: this.lastText.length,
    };
  }

  private pushToStream(stream: TranslationStream, samples: Float32Array): boolean {
    const isBelowHighWater = stream.pushAudio(samples);
    this.delayRecords.markAudio(samples.length / 16);
    return isBelowHighWater;
  }

  /** Processes the partial tail and resolves once every queued chunk is done (waits for activation). */
  async flush(): Promise<void> {
    if (this.stateValue === 'queued') {
      const isActive = await new Promise<boolean>((resolve) => this.activationWaiters.push(resolve));
      if (!isActive) return;
    }
    if (this.stateValue === 'active' && this.stream) await this.stream.flush();
  }

  /** Clears text, model state, pending audio and delay records. */
  reset(): void {
    this.touch();
    this.stream?.reset();
    this.queuedAudio = [];
    this.queuedSamples = 0;
    this.lastText = '';
    this.deliveredText = '';
    this.delayRecords.reset();
  }

  /** Validates and applies a multiplier for the next chunk. Throws AppError('validationFailed'). */
  setLatencyMultiplier(multiplier: number): void {
    const max = this.init.maxLatencyMultiplier;
    if (!Number.isInteger(multiplier) || multiplier < 1 || multiplier > max) {
      throw new AppError('validationFailed', `latency_multiplier must be an integer from 1 to ${max} for ${this.languagePair}, got ${multiplier}`);
    }
    this.touch();
    this.stream?.setLatencyMultiplier(multiplier);
    this.multiplier = multiplier;
  }

  /** Starts delay tracking (idempotent); text translated before this is not attributed. */
  enableEvaluation(): void {
    this.delayRecords.enable(this.lastText);
  }

  /** Makes `sink` the receiver of results; the previous one is told it was replaced. */
  attach(sink: SessionSink): void {
    const previous = this.sink;
    this.sink = sink;
    this.everAttached = true;
    if (previous && previous !== sink) previous.replaced();
  }

  /** Sends the translation produced while no connection was attached, if any. */
  deliverUndelivered(): void {
    if (this.sink && this.lastText !== '' && this.lastText !== this.deliveredText && this.sink.sendTranslation(this.lastText)) {
      this.deliveredText = this.lastText;
    }
  }

  /** Forgets `sink` if it is still the attached one (socket closed); the session lives on. */
  detach(sink: SessionSink): void {
    if (this.sink === sink) this.sink = null;
  }

  /** First step of shutdown, before in-flight work drains. */
  notifyShutdown(): void {
    this.sink?.shuttingDown();
  }

  /**
   * Ends the session: releases the stream and tells the attached connection. Idempotent. Returns
   * a promise settled when the engine has stopped the chunk it was translating, or null when
   * nothing was in flight: until then the session still occupies the engine.
   */
  close(reason: CloseReason): Promise<void> | null {
    if (this.stateValue === 'closed') return null;
    this.stateValue = 'closed';
    let released: Promise<void> | null = null;
    try {
      this.stream?.close();
      released = this.stream?.whenIdle?.() ?? null;
    } catch (error) {
      this.init.logger?.warn({ err: error, sessionId: this.id }, 'closing the engine stream failed');
    }
    this.stream = null;
    this.queuedAudio = [];
    this.queuedSamples = 0;
    const sink = this.sink;
    this.sink = null;
    sink?.sessionClosed(reason);
    this.settleActivation(false);
    return released;
  }

  private onChunk(result: ChunkResult): void {
    this.chunkCount++;
    this.delayRecords.record(result);
    if (result.newText === '' || result.fullText === '') return;
    this.lastText = result.fullText;
    // A socket that is closing refuses the text; it is then sent on the next connection.
    if (this.sink?.sendTranslation(result.fullText)) this.deliveredText = result.fullText;
    this.init.logger?.debug({ sessionId: this.id, chunkIndex: result.chunkIndex, transcript: result.newText }, 'chunk translated');
  }

  private settleActivation(isActive: boolean): void {
    const waiters = this.activationWaiters;
    this.activationWaiters = [];
    for (const resolve of waiters) resolve(isActive);
  }
}
