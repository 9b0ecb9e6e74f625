/**
 * Session routes (spec §1.3.1–§1.3.7, §1.3.11): thin — merge parameters, call the session
 * manager, shape the original's reply. Application errors the page reacts to (unknown session)
 * are 200 with `success:false` and the exact strings of §3.5.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { frontendErrors } from '../protocol/error-strings.ts';
import {
  initQuery,
  loadModelQuery,
  loadModelReply,
  optionalSessionQuery,
  pingReply,
  queueStatusReply,
  requiredSessionQuery,
  resetReply,
  sessionIdPath,
  sessionReply,
  errorReply,
  simpleSuccessReply,
  updateLatencyQuery,
  updateLatencyReply,
} from '../protocol/session-schemas.ts';
import { mergeBodyParams } from '../plugins/request-params.ts';
import type { Session } from '../sessions/session.ts';
import type { SessionManager } from '../sessions/session-manager.ts';
import { z } from 'zod';

function waitSeconds(ms: number | null): number | null {
  return ms === null ? null : Math.max(1, Math.round(ms / 1000));
}

function describeSession(session: Session, sessions: SessionManager) {
  const position = sessions.queuePosition(session);
  return {
    success: true as const,
    session_id: session.id,
    queued: position > 0,
    queue_position: position,
    estimated_wait_seconds: waitSeconds(sessions.estimatedWaitMs(session)),
    initializing: false,
    scheduler_based: true as const,
    evaluation_mode: session.evaluationMode,
    language_pair: session.languagePair,
    latency_multiplier: session.latencyMultiplier,
  };
}

export const sessionRoutes: FastifyPluginAsyncZod = async (app) => {
  const { sessions } = app;

  app.post('/init', {
    preValidation: mergeBodyParams(['json']),
    schema: { querystring: initQuery, response: { 200: z.union([sessionReply, errorReply]) } },
  }, async (request) => {
    const query = request.query;
    const session = sessions.create({
      agentType: query.agent_type,
      languagePair: query.language_pair,
      latencyMultiplier: query.latency_multiplier,
      clientId: query.client_id,
      clientAddress: request.ip,
      evaluationMode: query.evaluation_mode,
    });
    request.log.info({ sessionId: session.id, languagePair: session.languagePair, state: session.state }, 'session created');
    return describeSession(session, sessions);
  });

  app.post('/load_model', {
    preValidation: mergeBodyParams(['json']),
    schema: { querystring: loadModelQuery, response: { 200: z.union([loadModelReply, errorReply]) } },
  }, async (request) => {
    const query = request.query;
    // W21: these are full sessions here (the original's crashed /queue_status and /wss).
    const session = sessions.create({
      agentType: 'InfiniSST',
      languagePair: query.language_pair,
      latencyMultiplier: query.latency_multiplier,
      clientId: query.client_id,
      clientAddress: request.ip,
      evaluationMode: false,
      kind: 'test',
    });
    return { ...describeSession(session, sessions), message: `Model loaded successfully for ${session.languagePair}` };
  });

  app.get('/queue_status/:session_id', {
    schema: { params: sessionIdPath, response: { 200: queueStatusReply } },
  }, async (request) => {
    const id = request.params.session_id;
    const session = sessions.get(id);
    if (!session) return { session_id: id, status: 'not_found' as const, error: frontendErrors.sessionNotFound };
    const position = sessions.queuePosition(session);
    return {
      session_id: id,
      status: position > 0 ? ('queued' as const) : ('active' as const),
      queued: position > 0,
      queue_position: position,
      estimated_wait_seconds: waitSeconds(sessions.estimatedWaitMs(session)),
      session_type: 'scheduler' as const,
    };
  });

  app.post('/ping', {
    preValidation: mergeBodyParams(['json']),
    schema: { querystring: requiredSessionQuery, response: { 200: pingReply } },
  }, async (request) => {
    const session = sessions.ping(request.query.session_id);
    if (!session) return { success: false as const, error: frontendErrors.invalidSession };
    const position = sessions.queuePosition(session);
    return { success: true as const, queued: position > 0, queue_position: position };
  });

  app.post('/delete_session', {
    preValidation: mergeBodyParams(['json', 'form']),
    schema: { querystring: optionalSessionQuery, response: { 200: simpleSuccessReply } },
  }, async (request) => {
    const id = request.query.session_id;
    if (id === undefined) return { success: false as const, error: frontendErrors.noSessionId };
    if (!sessions.delete(id, 'deleted')) return { success: false as const, error: frontendErrors.invalidSession };
    request.log.info({ sessionId: id }, 'session deleted');
    return { success: true as const };
  });

  app.post('/reset_translation', {
    preValidation: mergeBodyParams(['json']),
    schema: { querystring: requiredSessionQuery, response: { 200: resetReply } },
  }, async (request) => {
    const id = request.query.session_id;
    const session = sessions.get(id);
    if (!session) {
      const message = frontendErrors.sessionDoesNotExist(id);
      // The page reads `error || message`; both carry the recognised "does not exist".
      return { success: false as const, status: 'error', error: message, message };
    }
    session.reset();
    return { success: true as const, status: 'success' as const, message: 'Session reset successfully', session_type: 'scheduler' as const };
  });

  app.post('/update_latency', {
    preValidation: mergeBodyParams(['json']),
    schema: { querystring: updateLatencyQuery, response: { 200: updateLatencyReply } },
  }, async (request) => {
    const { session_id: id, latency_multiplier: multiplier } = request.query;
    const session = sessions.get(id);
    if (!session) return { success: false as const, error: frontendErrors.invalidSession };
    session.setLatencyMultiplier(multiplier);
    return {
      success: true as const,
      message: `Latency multiplier set to ${multiplier}x; applies from the next audio chunk`,
      session_type: 'scheduler' as const,
      latency_multiplier: multiplier,
    };
  });
};
