/**
 * Readiness (may this instance take new sessions?) and the /init admission guard built on it.
 * Ready = admitting (not shutting down), models loaded, every device group has a live worker, and
 * not saturated. Saturated = the session slots and the waiting queue are full, some batch queue
 * holds at least `saturationQueueFraction` of its bound, or at least half of the active sessions
 * hold more than `saturationLagMs` of untranslated audio (the engine is not keeping up: each
 * stream translates its chunks in order, so slowness piles up there, not in the batch queues).
 * Half, so that one client sending faster than real time does not make the server unready.
 */
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import type { ServerConfig } from '../config/schema.ts';
import { AppError } from '../errors.ts';
import type { TranslationEngine } from '../inference/translation-engine.ts';
import type { SessionManager } from '../sessions/session-manager.ts';
import { deviceLoadsOf } from './engine-extras.ts';

export interface ReadinessCheck {
  isOk: boolean;
  detail: string;
}

export interface Readiness {
  isReady: boolean;
  isSaturated: boolean;
  checks: Record<'admitting' | 'models' | 'workers' | 'sessionCapacity' | 'batchQueues' | 'lag', ReadinessCheck>;
}

export interface ReadinessInput {
  engine: TranslationEngine;
  sessions: SessionManager;
  config: Pick<ServerConfig, 'sessions' | 'limits'>;
}

/** Evaluates every check (cheap: counters only). Never throws. */
export function assessReadiness({ engine, sessions, config }: ReadinessInput): Readiness {
  const counts = sessions.counts();
  const pairs = engine.languagePairs();
  const loads = deviceLoadsOf(engine);
  const downGroups = (loads ?? []).filter((load) => load.liveWorkers === 0).map((load) => load.device);
  const isSessionsFull = counts.active >= sessions.maxActiveSessions && counts.queued >= sessions.maxQueuedSessions;
  const stats = engine.stats();
  const bound = Math.max(1, Math.floor(stats.batching.maxQueueSize * config.limits.saturationQueueFraction));
  const fullQueues = Object.entries(stats.models)
    .filter(([, model]) => model.prefill.queueDepth + model.decode.queueDepth >= bound)
    .map(([name]) => name);
  const maxLagMs = config.limits.saturationLagMs;
  const active = sessions.list().filter((session) => session.state === 'active');
  const behind = maxLagMs > 0 ? active.filter((session) => session.pendingAudioMs > maxLagMs).length : 0;
  const isLagging = behind > 0 && behind * 2 >= active.length;
  const checks: Readiness['checks'] = {
    admitting: { isOk: sessions.admitting, detail: sessions.admitting ? 'accepting sessions' : 'shutting down' },
    models: { isOk: pairs.length > 0, detail: pairs.length > 0 ? `${pairs.length} language pairs loaded` : 'no model loaded' },
    workers: {
      isOk: downGroups.length === 0,
      detail: downGroups.length === 0 ? 'every device group has a live worker' : `no live worker on ${downGroups.join(', ')} (being replaced)`,
    },
    sessionCapacity: {
      isOk: !isSessionsFull,
      detail: `${counts.active}/${sessions.maxActiveSessions} active, ${counts.queued}/${sessions.maxQueuedSessions} waiting`,
    },
    batchQueues: {
      isOk: fullQueues.length === 0,
      detail: fullQueues.length === 0 ? `every batch queue below ${bound} items` : `batch queue of ${fullQueues.join(', ')} at ≥ ${bound} items`,
    },
    lag: {
      isOk: !isLagging,
      detail: maxLagMs > 0 ? `${behind} of ${active.length} active sessions hold more than ${maxLagMs} ms of untranslated audio` : 'lag limit off',
    },
  };
  const isSaturated = !checks.sessionCapacity.isOk || !checks.batchQueues.isOk || isLagging;
  return { isReady: Object.values(checks).every((check) => check.isOk), isSaturated, checks };
}

/**
 * preHandler for the session-creating routes: while the batch queues are saturated or the lag is
 * too high, new sessions would only add work that cannot be served in time, so they get 503 +
 * Retry-After instead of a session (a full session queue already answers 503 from the manager).
 */
function refuseWhenSaturated(app: FastifyInstance): preHandlerHookHandler {
  return function checkSaturation(_request, _reply, done) {
    const readiness = assessReadiness({ engine: app.engine, sessions: app.sessions, config: app.appConfig });
    const { batchQueues, lag } = readiness.checks;
    if (batchQueues.isOk && lag.isOk) return done();
    done(new AppError('overloaded', `Server is saturated (${batchQueues.isOk ? lag.detail : batchQueues.detail}); try again shortly`, {
      details: { retryAfterSeconds: app.appConfig.limits.retryAfterSeconds },
    }));
  };
}

/** Adds the saturation refusal to the session-creating routes registered after this call. */
export function installAdmissionGuard(app: FastifyInstance, urls: readonly string[]): void {
  const check = refuseWhenSaturated(app);
  app.addHook('onRoute', (route) => {
    if (!urls.includes(route.url)) return;
    const existing = route.preHandler;
    route.preHandler = existing === undefined ? [check] : [check, ...(Array.isArray(existing) ? existing : [existing])];
  });
}
