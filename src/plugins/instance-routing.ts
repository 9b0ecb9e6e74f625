/**
 * Scale-out behind nginx (deploy/nginx): every session id this instance creates ends in
 * `.<instanceTag>`, and nginx routes requests naming a session in the path or the query string
 * straight to its owner. A session id that only arrives in a request *body* cannot be routed by
 * nginx, so such requests go to any instance; one that does not own the session answers 404
 * (`wrongInstance`, body still "Invalid session ID"), and nginx's `proxy_next_upstream http_404`
 * tries the next instance until the owner answers. Inactive without an instance tag.
 */
import type { FastifyInstance, preHandlerHookHandler } from 'fastify';
import { AppError } from '../errors.ts';
import { instanceTagOf } from '../sessions/session-id.ts';

const byUserRoutes = new Set(['/session_delays_by_user', '/export_session_delays_by_user']);

function namedSessionId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const id = (value as Record<string, unknown>).session_id;
  return typeof id === 'string' ? id : undefined;
}

/** Adds the wrong-instance check to every route registered after this call. */
export function installInstanceRouting(app: FastifyInstance, ownTag: string | null): void {
  if (ownTag === null) return;
  const check: preHandlerHookHandler = function checkSessionOwner(request, _reply, done) {
    // WebSocket upgrades are routed by path; a foreign id there gets the usual 4000 close.
    if (request.headers.upgrade !== undefined) return done();
    const url = request.routeOptions.url;
    if (url !== undefined && byUserRoutes.has(url)) {
      // The by-user evaluation routes name a client, not a session: the owner is whoever has one.
      const query = request.query as Record<string, unknown>;
      const userId = query.user_id;
      const pair = query.language_pair;
      if (typeof userId !== 'string' || typeof pair !== 'string' || app.sessions.findByUser(userId, pair)) return done();
      return done(new AppError('wrongInstance', `Session not found for user ${userId} with language ${pair}`));
    }
    // request.query already holds the JSON/form body fields on routes that merge them.
    const id = namedSessionId(request.params) ?? namedSessionId(request.query);
    if (id === undefined) return done();
    const tag = instanceTagOf(id);
    if (tag === undefined || tag === ownTag || app.sessions.get(id)) return done();
    done(new AppError('wrongInstance', 'Invalid session ID', { details: { owner: tag } }));
  };
  app.addHook('preHandler', check);
}
