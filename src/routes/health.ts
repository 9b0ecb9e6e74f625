/**
 * GET /health (spec §1.3.8) and POST /load_models (§1.3.10): always 200 JSON. With an admin
 * token configured, /health shows the session list and engine statistics only to the operator
 * (W11); everyone else gets the summary the page needs (status, counts, language pairs).
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isAdminRequest, isOperatorRequest } from '../plugins/admin-auth.ts';
import { deviceLoadsOf } from '../plugins/engine-extras.ts';
import { assessReadiness } from '../plugins/readiness.ts';
import { buildInfo } from '../build-info.ts';
import { rayStats } from './engine-report.ts';
import { publicSessionId, publicUserId } from './session-view.ts';

export const healthRoutes: FastifyPluginAsyncZod = async (app) => {
  const { engine, batching, sessions, clock } = app;
  const expose = app.appConfig.sessions.exposeSessionIds;

  const token = app.appConfig.admin.token;

  app.get('/health', { schema: { response: { 200: z.looseObject({ status: z.string(), time: z.number() }) } } }, async (request) => {
    const now = clock.now();
    const counts = sessions.counts();
    const loads = deviceLoadsOf(engine);
    const pairs = engine.languagePairs();
    const summary = {
      status: sessions.admitting ? 'healthy' : 'shutting_down',
      time: Math.floor(now / 1000),
      ready: assessReadiness({ engine, sessions, config: app.appConfig }).isReady,
      scheduler_available: true,
      active_sessions_count: counts.active,
      queued_sessions_count: counts.queued,
      language_pairs: pairs.map((info) => ({
        language_pair: info.languagePair,
        model: info.modelName,
        device: info.device,
        // A pair may be served by several device groups (multi-GPU); placement picks among them.
        devices: loads ? loads.filter((load) => load.languagePairs.includes(info.languagePair)).map((load) => load.device) : [info.device],
        provider: info.provider,
        max_latency_multiplier: info.maxLatencyMultiplier,
        demo: info.isDemo === true,
      })),
      // True when any served model is a random-weight demo: its output is not a translation.
      demo_models: pairs.some((info) => info.isDemo === true),
      uptime_s: Math.round((now - app.startedAtMs) / 1000),
      // While under pressure /init answers 503 (plugins/pressure.ts).
      pressure: (() => {
        const state = app.pressureState();
        return { under_pressure: state.underPressure, event_loop_delay_ms: state.eventLoopDelayMs, rss_bytes: state.rssBytes, max_rss_bytes: state.maxRssBytes };
      })(),
      instance: app.appConfig.cluster.instanceTag,
      version: buildInfo().version,
      commit: buildInfo().commit,
    };
    if (!isAdminRequest(request, token)) return { ...summary, details: 'sessions and engine statistics need the admin token' };
    const isOperator = isOperatorRequest(request, token);
    return {
      ...summary,
      active_sessions: sessions.list().map((session) => ({
        session_id: publicSessionId(session.id, session.languagePair, isOperator, expose),
        type: 'scheduler',
        state: session.state,
        agent_type: session.agentType,
        language_pair: session.languagePair,
        user_id: publicUserId(session.userId, session.languagePair, isOperator, expose),
        latency_multiplier: session.latencyMultiplier,
        inactive_for: `${((now - Math.max(session.lastPingMs, session.lastActivityMs)) / 1000).toFixed(1)}s`,
        created_at: session.createdAtMs / 1000,
        connected: session.hasSink,
      })),
      ray_stats: rayStats(engine, batching, sessions),
    };
  });

  app.post('/load_models', { schema: { response: { 200: z.looseObject({ success: z.boolean() }) } } }, async () => {
    // Models are loaded once at start-up; reloading on request was a denial-of-service lever (W10).
    const pairs = engine.languagePairs().map((info) => info.languagePair);
    if (pairs.length === 0) return { success: false, error: 'No models are loaded' };
    return {
      success: true,
      message: 'Models are loaded and ready',
      loaded_language_pairs: pairs,
      ray_stats: rayStats(engine, batching, sessions),
    };
  });
};
