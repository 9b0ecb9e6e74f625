/**
 * The in-process session registry: admission up to a capacity, a FIFO queue beyond it with
 * promotion when a slot frees, the idle sweep, lookup, and a bounded event history. One layer of
 * sessions only: deleting or sweeping a session also releases its engine state (W15/W16).
 */
import type { SessionLogger } from './session-logger.ts';
import { AppError } from '../errors.ts';
import type { TranslationEngine } from '../inference/translation-engine.ts';
import type { Clock } from './clock.ts';
import { Session, type CloseReason } from './session.ts';
import { createSessionId, createTestSessionId } from './session-id.ts';
import { SessionHistory, type SessionEvent } from './session-history.ts';

export type SessionEngine = Pick<TranslationEngine, 'openStream' | 'isServed' | 'languagePairs'>;

export interface SessionManagerOptions {
  engine: SessionEngine;
  clock: Clock;
  maxActiveSessions: number;
  maxQueuedSessions: number;
  idleTimeoutMs: number;
  historySize: number;
  defaultLatencyMultiplier: number;
  maxSegmentsPerSession: number;
  queuedAudioLimitMs: number;
  logger?: SessionLogger;
}

export interface CreateSessionRequest {
  agentType: string;
  languagePair: string;
  latencyMultiplier?: number | undefined;
  clientId?: string | undefined;
  evaluationMode: boolean;
  /** "test" = /load_model's id shape. */
  kind?: 'init' | 'test';
}

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly queue: Session[] = [];
  private activeCount = 0;
  private isAdmitting = true;
  private readonly historyLog: SessionHistory;

  constructor(private readonly options: SessionManagerOptions) {
    this.historyLog = new SessionHistory(options.historySize);
  }

  /** The largest multiplier the pair's model supports (4 if the engine does not say). */
  maxLatencyMultiplier(languagePair: string): number {
    return this.options.engine.languagePairs().find((info) => info.languagePair === languagePair)?.maxLatencyMultiplier ?? 4;
  }

  /**
   * Creates a session: active at once if a slot is free, else queued. Throws AppError
   * 'unsupportedLanguagePair', 'validationFailed' (multiplier out of range), 'capacityReached'
   * (queue full) or 'shuttingDown'.
   */
  create(request: CreateSessionRequest): Session {
    if (!this.isAdmitting) throw new AppError('shuttingDown');
    const { engine, clock } = this.options;
    if (!engine.isServed(request.languagePair)) {
      const served = engine.languagePairs().map((info) => info.languagePair);
      throw new AppError('unsupportedLanguagePair', `Unsupported language pair: ${request.languagePair}. Served: ${served.join(', ') || 'none'}`);
    }
    const maxMultiplier = this.maxLatencyMultiplier(request.languagePair);
    const multiplier = request.latencyMultiplier ?? Math.min(this.options.defaultLatencyMultiplier, maxMultiplier);
    if (!Number.isInteger(multiplier) || multiplier < 1 || multiplier > maxMultiplier) {
      throw new AppError('validationFailed', `latency_multiplier must be an integer from 1 to ${maxMultiplier}, got ${multiplier}`);
    }
    const hasSlot = this.activeCount < this.options.maxActiveSessions && this.queue.length === 0;
    if (!hasSlot && this.queue.length >= this.options.maxQueuedSessions) {
      throw new AppError('capacityReached', `No capacity for new sessions: ${this.activeCount} active and ${this.queue.length} waiting; try again later`);
    }
    const now = clock.now();
    let id: string;
    do {
      id = request.kind === 'test'
        ? createTestSessionId(request.clientId, now)
        : createSessionId(request.clientId ?? request.agentType, request.languagePair, now);
    } while (this.sessions.has(id));
    const session = new Session({
      id,
      agentType: request.agentType,
      languagePair: request.languagePair,
      userId: request.clientId ?? (request.kind === 'test' ? 'test_user' : id),
      latencyMultiplier: multiplier,
      maxLatencyMultiplier: maxMultiplier,
      evaluationMode: request.evaluationMode,
      clock,
      maxSegmentsPerSession: this.options.maxSegmentsPerSession,
      queuedAudioLimitMs: this.options.queuedAudioLimitMs,
      ...(this.options.logger ? { logger: this.options.logger } : {}),
    });
    this.sessions.set(id, session);
    this.record(session, 'created');
    if (hasSlot) {
      this.activate(session);
    } else {
      this.queue.push(session);
      this.record(session, 'queued');
    }
    return session;
  }

  get(id: string): Session | undefined {
    return this.sessions.get(id);
  }

  /** 1-based position in the waiting queue, 0 when not queued. */
  queuePosition(session: Session): number {
    return this.queue.indexOf(session) + 1;
  }

  /** Refreshes the session's keep-alive; undefined for unknown ids. */
  ping(id: string): Session | undefined {
    const session = this.sessions.get(id);
    session?.touch();
    return session;
  }

  /** Deletes a session and frees its engine state; promotes waiting sessions. False if unknown. */
  delete(id: string, reason: CloseReason = 'deleted'): boolean {
    const session = this.sessions.get(id);
    if (!session) return false;
    this.sessions.delete(id);
    const queueIndex = this.queue.indexOf(session);
    if (queueIndex >= 0) this.queue.splice(queueIndex, 1);
    else if (session.state === 'active') this.activeCount--;
    session.close(reason);
    this.record(session, reason === 'failed' ? 'failed' : reason);
    this.promote();
    return true;
  }

  /** Deletes every session without ping or frame for `idleTimeoutMs`; returns their ids. */
  sweepIdle(): string[] {
    const now = this.options.clock.now();
    const expired = [...this.sessions.values()]
      .filter((session) => now - Math.max(session.lastPingMs, session.lastActivityMs) > this.options.idleTimeoutMs)
      .map((session) => session.id);
    for (const id of expired) this.delete(id, 'expired');
    if (expired.length > 0) this.options.logger?.info({ count: expired.length }, 'idle sessions swept');
    return expired;
  }

  /** The newest session of a user for a pair (evaluation routes). */
  findByUser(userId: string, languagePair: string): Session | undefined {
    let found: Session | undefined;
    for (const session of this.sessions.values()) {
      if (session.userId === userId && session.languagePair === languagePair && (!found || session.createdAtMs >= found.createdAtMs)) found = session;
    }
    return found;
  }

  /** All sessions, active and queued, in creation order. */
  list(): Session[] {
    return [...this.sessions.values()];
  }

  counts(): { active: number; queued: number; total: number } {
    return { active: this.activeCount, queued: this.queue.length, total: this.sessions.size };
  }

  get admitting(): boolean {
    return this.isAdmitting;
  }

  /** First step of shutdown: `create` throws 'shuttingDown' from now on. */
  stopAdmitting(): void {
    this.isAdmitting = false;
  }

  /** Shutdown, step "stop admitting, tell clients": no new sessions; connections stop reading audio. */
  beginShutdown(): void {
    this.isAdmitting = false;
    for (const session of this.sessions.values()) session.notifyShutdown();
  }

  /** Closes every session (shutdown). */
  closeAll(reason: CloseReason = 'shutdown'): void {
    this.isAdmitting = false;
    this.queue.length = 0;
    for (const id of [...this.sessions.keys()]) this.delete(id, reason);
  }

  history(): readonly SessionEvent[] {
    return this.historyLog.list();
  }

  private activate(session: Session): void {
    try {
      session.activate((listener) =>
        this.options.engine.openStream({ languagePair: session.languagePair, latencyMultiplier: session.latencyMultiplier, listener }),
      );
      this.activeCount++;
      this.record(session, 'activated');
    } catch (error) {
      this.options.logger?.error({ err: error, sessionId: session.id }, 'opening the engine stream failed');
      this.sessions.delete(session.id);
      session.close('failed');
      this.record(session, 'failed');
      throw error;
    }
  }

  private promote(): void {
    while (this.isAdmitting && this.activeCount < this.options.maxActiveSessions) {
      const next = this.queue.shift();
      if (!next) return;
      try {
        this.activate(next);
      } catch {
        // Logged in activate; the next waiting session gets the slot.
      }
    }
  }

  private record(session: Session, event: SessionEvent['event']): void {
    this.historyLog.record({ sessionId: session.id, event, atMs: this.options.clock.now(), languagePair: session.languagePair });
  }
}
