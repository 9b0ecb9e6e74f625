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

async function domainPlugin(app: FastifyInstance, options: DomainOptions): Promise<void> {
  const { config, engine, clock } = options;
  const sessions = new SessionManager({
    engine,
    clock,
    maxActiveSessions: config.sessions.maxActiveSessions,
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
