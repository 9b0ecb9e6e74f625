/**
 * The in-process session registry: admission up to a capacity, a FIFO queue beyond it with
 * promotion when a slot frees, the idle sweep, lookup, and a bounded event history. One layer of
 * sessions only: deleting or sweeping a session also releases its engine state (W15/W16).
 */
import type { SessionLogger } from './session-logger.ts';
import { AppError } from '../errors.ts';
import type { TranslationEngine } from '../inference/translation-engine.ts';
import type { Clock } from './clock.ts';
import { Session } from './session.ts';
import type { CloseReason } from './session-sink.ts';
import { createSessionId, createTestSessionId, randomSuffix, withInstanceTag } from './session-id.ts';
import { SessionHistory, type SessionEvent } from './session-history.ts';
import { OwnerCounts, type OwnerLimits } from './owner-counts.ts';
import { SlotLifetimes } from './slot-lifetimes.ts';

export type SessionEngine = Pick<TranslationEngine, 'openStream' | 'isServed' | 'languagePairs'>;

/** `maxSessionsPerClient` / `maxSessionsPerAddress` (OwnerLimits): 0/absent = no limit; a client_id is the caller's choice, an address is not. */
export interface SessionManagerOptions extends OwnerLimits {
  engine: SessionEngine;
  clock: Clock;
  maxActiveSessions: number;
  maxQueuedSessions: number;
  idleTimeoutMs: number;
  historySize: number;
  defaultLatencyMultiplier: number;
  maxSegmentsPerSession: number;
  queuedAudioLimitMs: number;
  /** Appended to new ids (`….<tag>`) so a proxy can route to this instance; absent = no tag. */
  instanceTag?: string | null;
  /**
   * An active session that no socket has ever attached to is deleted this long after it became
   * active (0/absent = never): a slot is for streaming, and /ping alone must not hold one.
   */
  attachGraceMs?: number;
  /** Sessions older than this are closed by the sweep however active (0/absent = never). */
  maxSessionDurationMs?: number;
  /** Every lifecycle event, as recorded in the history (metrics). Must not throw. */
  onEvent?: (event: SessionEvent) => void;
  logger?: SessionLogger;
}

export interface CreateSessionRequest {
  agentType: string;
  languagePair: string;
  latencyMultiplier?: number | undefined;
  clientId?: string | undefined;
  /** The caller's address (request.ip), for maxSessionsPerAddress. */
  clientAddress?: string | undefined;
  evaluationMode: boolean;
  /** "test" = /load_model's id shape. */
  kind?: 'init' | 'test';
}

export class SessionManager {
  private readonly sessions = new Map<string, Session>();
  private readonly queue: Session[] = [];
  private activeCount = 0;
  /** Deleted active sessions whose chunk in flight has not stopped yet: they still hold a slot. */
  private releasingCount = 0;
  private isAdmitting = true;
  private readonly historyLog: SessionHistory;
  /** Open sessions per client id and per address, for the per-owner caps. */
  private readonly owners: OwnerCounts<Session>;
  private readonly slotLifetimes = new SlotLifetimes();

  /** Sessions translating at once (the rest wait in the queue). */
  get maxActiveSessions(): number {
    return this.options.maxActiveSessions;
  }

  get maxQueuedSessions(): number {
    return this.options.maxQueuedSessions;
  }

  constructor(private readonly options: SessionManagerOptions) {
    this.historyLog = new SessionHistory(options.historySize);
    this.owners = new OwnerCounts(options);
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
    this.owners.check(request);
    const hasSlot = this.activeCount + this.releasingCount < this.options.maxActiveSessions && this.queue.length === 0;
    if (!hasSlot && this.queue.length >= this.options.maxQueuedSessions) {
      throw new AppError('capacityReached', `No capacity for new sessions: ${this.activeCount} active and ${this.queue.length} waiting; try again later`);
    }
    const now = clock.now();
    let id: string;
    do {
      const suffix = withInstanceTag(randomSuffix(), this.options.instanceTag);
      id = request.kind === 'test'
        ? createTestSessionId(request.clientId, now, suffix)
        : createSessionId(request.clientId ?? request.agentType, request.languagePair, now, suffix);
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
    this.owners.add(session, request);
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

  /**
   * Estimated ms until a queued session gets a slot, from how long recent sessions held theirs:
   * slots free at about `maxActiveSessions / mean lifetime` per ms, and `position` of them must
   * free first. Null when the session is not queued or no active session has ended yet (nothing
   * to estimate from).
   */
  estimatedWaitMs(session: Session): number | null {
    const position = this.queuePosition(session);
    const meanLifetime = this.slotLifetimes.meanMs();
    if (position === 0 || meanLifetime === null) return null;
    return Math.round((position * meanLifetime) / this.options.maxActiveSessions);
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
    this.owners.remove(session);
    const queueIndex = this.queue.indexOf(session);
    const wasActive = queueIndex < 0 && session.state === 'active';
    if (queueIndex >= 0) this.queue.splice(queueIndex, 1);
    else if (wasActive) this.activeCount--;
    if (wasActive && session.activatedAtMs !== null) this.slotLifetimes.remember(this.options.clock.now() - session.activatedAtMs);
    const released = session.close(reason);
    this.record(session, reason === 'failed' ? 'failed' : reason);
    this.options.logger?.info({ sessionId: session.id, languagePair: session.languagePair, reason, ...session.summary() }, 'session ended');
    if (wasActive && released) {
      // Capacity is a promise: the slot is free only once the engine has stopped this session's
      // chunk, so a waiting session is promoted then, never while both would run.
      this.releasingCount++;
      void released.finally(() => {
        this.releasingCount--;
        this.promote();
      });
    }
    this.promote();
    return true;
  }

  /**
   * Deletes every session without ping or frame for `idleTimeoutMs`, every session older than
   * `maxSessionDurationMs`, and every active session no socket attached to within `attachGraceMs`
   * of its activation (all close with reason "expired"); returns their ids.
   */
  sweepIdle(): string[] {
    const now = this.options.clock.now();
    const maxAgeMs = this.options.maxSessionDurationMs ?? 0;
    const isIdle = (session: Session): boolean => now - Math.max(session.lastPingMs, session.lastActivityMs) > this.options.idleTimeoutMs;
    const isTooOld = (session: Session): boolean => maxAgeMs > 0 && now - session.createdAtMs > maxAgeMs;
    const graceMs = this.options.attachGraceMs ?? 0;
    const neverAttached = (session: Session): boolean =>
      graceMs > 0 && session.state === 'active' && !session.hasEverAttached && session.activatedAtMs !== null && now - session.activatedAtMs > graceMs;
    const idle = [...this.sessions.values()].filter(isIdle).map((session) => session.id);
    const tooOld = [...this.sessions.values()].filter((session) => !isIdle(session) && isTooOld(session)).map((session) => session.id);
    const unattached = [...this.sessions.values()].filter((session) => !isIdle(session) && !isTooOld(session) && neverAttached(session)).map((session) => session.id);
    for (const id of [...idle, ...tooOld, ...unattached]) this.delete(id, 'expired');
    if (idle.length > 0) this.options.logger?.info({ count: idle.length }, 'idle sessions swept');
    if (tooOld.length > 0) this.options.logger?.info({ count: tooOld.length, maxSessionDurationMs: maxAgeMs }, 'sessions closed at their maximum duration');
    if (unattached.length > 0) this.options.logger?.info({ count: unattached.length, attachGraceMs: graceMs }, 'active sessions that never opened a socket released their slots');
    return [...idle, ...tooOld, ...unattached];
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
      this.owners.remove(session);
      session.close('failed');
      this.record(session, 'failed');
      throw error;
    }
  }

  private promote(): void {
    while (this.isAdmitting && this.activeCount + this.releasingCount < this.options.maxActiveSessions) {
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
    const entry = { sessionId: session.id, event, atMs: this.options.clock.now(), languagePair: session.languagePair };
    this.historyLog.record(entry);
    try {
      this.options.onEvent?.(entry);
    } catch {
      // An observer (metrics) must never break the session layer.
    }
  }
}
