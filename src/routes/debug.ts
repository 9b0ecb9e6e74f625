/** GET /debug/session_stats and /debug/session_history (spec §1.3.13–§1.3.14): always 200 JSON. */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { rayStats } from './engine-report.ts';
import { isOperatorRequest } from '../plugins/admin-auth.ts';
import { publicSessionId, publicUserId } from './session-view.ts';

export const debugRoutes: FastifyPluginAsyncZod = async (app) => {
  const { engine, batching, sessions, clock } = app;
  const expose = app.appConfig.sessions.exposeSessionIds;
  const token = app.appConfig.admin.token;

  app.get('/debug/session_stats', { schema: { response: { 200: z.looseObject({ system_info: z.record(z.string(), z.unknown()) }) } } }, async (request) => {
    const isOperator = isOperatorRequest(request, token);
    const now = clock.now();
    const counts = sessions.counts();
    return {
      system_info: {
        scheduler_available: true,
        active_sessions_count: counts.active,
        queued_sessions_count: counts.queued,
        current_time: now / 1000,
        system_type: 'scheduler_based',
      },
      active_sessions: sessions.list().map((session) => ({
        session_id: publicSessionId(session.id, session.languagePair, isOperator, expose),
        type: 'scheduler',
        state: session.state,
        queue_position: sessions.queuePosition(session),
        agent_type: session.agentType,
        language_pair: session.languagePair,
        user_id: publicUserId(session.userId, session.languagePair, isOperator, expose),
        created_at: session.createdAtMs / 1000,
        last_activity: session.lastActivityMs / 1000,
        last_ping: session.lastPingMs / 1000,
        inactive_for: (now - session.lastActivityMs) / 1000,
        ping_delay: (now - session.lastPingMs) / 1000,
        latency_multiplier: session.latencyMultiplier,
        pending_audio_ms: session.pendingAudioMs,
        evaluation_mode: session.evaluationMode,
        connected: session.hasSink,
      })),
      ray_system_stats: rayStats(engine, batching, sessions),
    };
  });

  app.get('/debug/session_history', { schema: { response: { 200: z.looseObject({ message: z.string() }) } } }, async (request) => {
    const isOperator = isOperatorRequest(request, token);
    const counts = sessions.counts();
    return {
      message: 'Session lifecycle history (oldest first, bounded)',
      current_stats: { active_sessions: counts.active, session_queue: counts.queued, timestamp: clock.now() / 1000 },
      history: sessions.history().map((event) => ({
        session_id: publicSessionId(event.sessionId, event.languagePair, isOperator, expose),
        event: event.event,
        at: event.atMs / 1000,
        language_pair: event.languagePair,
      })),
      explanation: {
        session_id_format: '<client_id or agent_type>_<language_pair>_<unix ms>_<12 random base-36 characters>',
        why_numbers_jump: ['The <unix ms> part is the creation time in milliseconds, not a counter.'],
      },
    };
  });
};
