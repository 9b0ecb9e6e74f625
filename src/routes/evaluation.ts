/**
 * Evaluation routes (spec §1.3.15–§1.3.17, §4.7) with api.py's intended shapes, working (W6):
 * enable tracking on a live session, read its delay statistics, export its segment logs.
 */
import { realpath } from 'node:fs/promises';
import { relative } from 'node:path';
import type { FastifyRequest } from 'fastify';
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { frontendErrors } from '../protocol/error-strings.ts';
import {
  delaysByUserQuery,
  enableEvaluationQuery,
  errorReply,
  exportDelaysByUserQuery,
  exportDelaysQuery,
  includeDetailsQuery,
  sessionIdPath,
} from '../protocol/session-schemas.ts';
import { isOperatorRequest } from '../plugins/admin-auth.ts';
import { mergeBodyParams } from '../plugins/request-params.ts';
import type { Session } from '../sessions/session.ts';
import { DelayTracker } from '../evaluation/delay-tracker.ts';
import { defaultDelaysFileName, writeJsonLines } from '../evaluation/export.ts';

const delaysReply = z.union([
  z.object({ success: z.literal(true), session_id: z.string(), evaluation_mode: z.boolean(), delays: z.record(z.string(), z.unknown()) }),
  errorReply,
]);
const exportReply = z.union([z.looseObject({ success: z.literal(true), filepath: z.string() }), errorReply]);

/** Statistics of a session; an empty object of the right shape when it is not in evaluation mode. */
function delaysOf(session: Session, includeDetails: boolean): Record<string, unknown> {
  const tracker = session.delays ?? new DelayTracker({ sessionId: session.id, languagePair: session.languagePair });
  return { ...tracker.statistics(includeDetails) };
}

export const evaluationRoutes: FastifyPluginAsyncZod = async (app) => {
  const { sessions } = app;
  const exportDir = app.appConfig.paths.exportDir;
  const token = app.appConfig.admin.token;

  /**
   * The session of `userId` for `pair`, if the caller may see it: the operator always, anyone
   * else only by also naming the session's id. Otherwise undefined, exactly as for no session, so
   * a client id reveals nothing.
   */
  function ownSessionByUser(request: FastifyRequest, userId: string, pair: string, sessionId: string | undefined): Session | undefined {
    const session = sessions.findByUser(userId, pair);
    if (!session) return undefined;
    return isOperatorRequest(request, token) || sessionId === session.id ? session : undefined;
  }

  app.post('/enable_evaluation_mode', {
    preValidation: mergeBodyParams(['json']),
    schema: { querystring: enableEvaluationQuery, response: { 200: z.union([z.looseObject({ success: z.literal(true) }), errorReply]) } },
  }, async (request) => {
    const id = request.query.session_id;
    const session = id === undefined ? undefined : sessions.get(id);
    // Unlike the original, the error does not list every session id (W11).
    if (!session) return { success: false as const, error: 'Session not found or invalid session ID' };
    session.touch();
    session.enableEvaluation();
    return { success: true as const, session_id: session.id, message: 'Evaluation mode enabled; delays are recorded from now on', session_type: 'scheduler' };
  });

  app.get('/session_delays/:session_id', {
    schema: { params: sessionIdPath, querystring: includeDetailsQuery, response: { 200: delaysReply } },
  }, async (request) => {
    const id = request.params.session_id;
    const session = sessions.get(id);
    if (!session) return { success: false as const, error: frontendErrors.sessionIdNotFound(id) };
    return { success: true as const, session_id: id, evaluation_mode: session.evaluationMode, delays: delaysOf(session, request.query.include_details) };
  });

  app.get('/session_delays_by_user', {
    schema: { querystring: delaysByUserQuery, response: { 200: delaysReply } },
  }, async (request) => {
    const { user_id: userId, language_pair: pair, include_details: includeDetails, session_id: sessionId } = request.query;
    const session = ownSessionByUser(request, userId, pair, sessionId);
    if (!session) return { success: false as const, error: `Session not found for user ${userId} with language ${pair}` };
    return { success: true as const, session_id: session.id, evaluation_mode: session.evaluationMode, delays: delaysOf(session, includeDetails) };
  });

  async function exportSession(session: Session, filepath: string | undefined, defaultName: string) {
    const segments = session.delays?.segmentLogs() ?? [];
    if (segments.length === 0) return { success: false as const, error: 'No delay data to export' };
    const path = await writeJsonLines(exportDir, filepath, defaultName, segments);
    // Relative to the export folder: the server's own directory layout is none of the client's business.
    return { success: true as const, filepath: relative(await realpath(exportDir), path), segments: segments.length };
  }

  app.post('/export_session_delays', {
    preValidation: mergeBodyParams(['json']),
    schema: { querystring: exportDelaysQuery, response: { 200: exportReply } },
  }, async (request) => {
    const { session_id: id, filepath } = request.query;
    const session = sessions.get(id);
    if (!session) return { success: false as const, error: frontendErrors.sessionIdNotFound(id) };
    return exportSession(session, filepath, defaultDelaysFileName(id));
  });

  app.post('/export_session_delays_by_user', {
    preValidation: mergeBodyParams(['json']),
    schema: { querystring: exportDelaysByUserQuery, response: { 200: exportReply } },
  }, async (request) => {
    const { user_id: userId, language_pair: pair, filepath, session_id: sessionId } = request.query;
    const session = ownSessionByUser(request, userId, pair, sessionId);
    if (!session) return { success: false as const, error: `Session not found for user ${userId} with language ${pair}` };
    const result = await exportSession(session, filepath, defaultDelaysFileName(`${userId}_${pair}`));
    return result.success ? { ...result, session_id: session.id } : result;
  });
};
