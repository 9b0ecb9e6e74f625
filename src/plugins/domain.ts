/**
 * Where the domain meets Fastify: decorates the app with the engine, the session manager, the
 * batching control and the frozen config; runs the idle sweep; closes all sessions when the app
 * closes. The engine itself belongs to whoever created it (server.ts or a test) and is closed there.
 */
import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';
import type { ServerConfig } from '../config/schema.ts';
import type { TranslationEngine } from '../inference/translation-engine.ts';
import type { Clock } from '../sessions/clock.ts';
import type { SessionEvent } from '../sessions/session-history.ts';
import { SessionManager } from '../sessions/session-manager.ts';
import { BatchingControl } from './batching-control.ts';

declare module 'fastify' {
  interface FastifyInstance {
    appConfig: ServerConfig;
    engine: TranslationEngine;
    sessions: SessionManager;
    batching: BatchingControl;
    clock: Clock;
    /** Unix ms when the app was built (for uptime). */
    startedAtMs: number;
  }
}

export interface DomainOptions {
  config: ServerConfig;
  engine: TranslationEngine;
  clock: Clock;
  /** False in tests that drive `sessions.sweepIdle()` themselves. */
  runSweepTimer: boolean;
  /** Every session lifecycle event (metrics). */
  onSessionEvent?: (event: SessionEvent) => void;
}

interface AdmissionLog {
  info(fields: object, message: string): void;
  warn(fields: object, message: string): void;
}

/** Sessions admitted at once when the engine cannot say how many it has memory for. */
const FALLBACK_MAX_ACTIVE_SESSIONS = 32;

/**
 * Admission follows capacity: the configured limit, else the engine's slots. A configured limit
 * above the slots is honoured (the arenas grow) but said, since those sessions' memory was not
 * budgeted.
 */
export function admissionLimit(configured: number | null, slots: number | undefined, log: AdmissionLog): number {
  if (configured === null) {
    const limit = slots ?? FALLBACK_MAX_ACTIVE_SESSIONS;
    log.info({ maxActiveSessions: limit, slots: slots ?? null }, slots === undefined ? 'admission: engine capacity unknown; fixed limit' : 'admission follows the engine\'s session slots');
    return limit;
  }
  if (slots !== undefined && configured > slots) {
    log.warn({ maxActiveSessions: configured, slots }, `sessions.maxActiveSessions (${configured}) exceeds the ${slots} sessions the memory budget holds: the extra sessions' state was not budgeted`);
  }
  return configured;
}

async function domainPlugin(app: FastifyInstance, options: DomainOptions): Promise<void> {
  const { config, engine, clock } = options;
  const maxActiveSessions = admissionLimit(config.sessions.maxActiveSessions, engine.sessionSlots?.(), app.log);
  const sessions = new SessionManager({
    engine,
    clock,
    maxActiveSessions,
    maxQueuedSessions: config.sessions.maxQueuedSessions,
    idleTimeoutMs: config.sessions.idleTimeoutMs,
    historySize: config.sessions.historySize,
    defaultLatencyMultiplier: config.sessions.defaultLatencyMultiplier,
    maxSegmentsPerSession: config.evaluation.maxSegmentsPerSession,
    queuedAudioLimitMs: config.engine.streamMaxPendingMs,
    instanceTag: config.cluster.instanceTag,
    maxSessionsPerClient: config.limits.maxSessionsPerClient,
    maxSessionsPerAddress: config.limits.maxSessionsPerAddress,
    attachGraceMs: config.sessions.attachGraceMs,
    maxSessionDurationMs: config.limits.maxSessionDurationMs,
    ...(options.onSessionEvent ? { onEvent: options.onSessionEvent } : {}),
    logger: app.log.child({ component: 'sessions' }),
  });
  app.decorate('appConfig', config);
  app.decorate('engine', engine);
  app.decorate('sessions', sessions);
  app.decorate('batching', new BatchingControl(engine));
  app.decorate('clock', clock);
  app.decorate('startedAtMs', clock.now());

  if (options.runSweepTimer) {
    const timer = setInterval(() => {
      try {
        sessions.sweepIdle();
      } catch (error) {
        app.log.error({ err: error }, 'idle sweep failed');
      }
    }, config.sessions.sweepIntervalMs);
    timer.unref();
    app.addHook('onClose', async () => clearInterval(timer));
  }
  // Sessions release their engine streams when the app closes (app.ts also does this before the
  // WebSocket server closes; closeAll is idempotent).
  app.addHook('onClose', async () => sessions.closeAll('shutdown'));
}

export default fp(domainPlugin, { name: 'domain', fastify: '5.x' });
