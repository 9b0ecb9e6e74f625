/**
 * Which web pages may drive this server from a user's browser. By default only the server's own
 * pages (same origin) and clients that send no Origin (scripts, curl); `cors.origins` adds an
 * allow-list, and `["*"]` opens it to every site as the original did. A browser sends Origin with
 * every cross-site POST and WebSocket upgrade, so refusing those stops other sites from driving
 * the routes even where CORS would only hide the answer.
 */
import type { FastifyInstance } from 'fastify';
import { AppError } from '../errors.ts';

export interface OriginPolicy {
  /** True when a request with this Origin header, sent to this Host, may be served. */
  allows(origin: string | undefined, host: string | undefined): boolean;
  /** True when cross-origin reads get CORS headers for this Origin (same-origin reads need none). */
  listed(origin: string): boolean;
  readonly isOpenToAll: boolean;
}

export function originPolicy(origins: readonly string[]): OriginPolicy {
  const isOpenToAll = origins.includes('*');
  const listed = new Set(origins);
  const sameOrigin = (origin: string, host: string | undefined): boolean => {
    if (host === undefined) return false;
    try {
      return new URL(origin).host === host.toLowerCase();
    } catch {
      return false;
    }
  };
  return {
    isOpenToAll,
    listed: (origin) => isOpenToAll || listed.has(origin),
    allows: (origin, host) => origin === undefined || isOpenToAll || listed.has(origin) || sameOrigin(origin, host),
  };
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** Refuses (403 `originNotAllowed`) state-changing requests from origins the policy does not allow. */
export function refuseForeignWrites(app: FastifyInstance, policy: OriginPolicy): void {
  if (policy.isOpenToAll) return;
  app.addHook('onRequest', (request, _reply, done) => {
    if (SAFE_METHODS.has(request.method) || policy.allows(request.headers.origin, request.headers.host)) return done();
    done(new AppError('originNotAllowed'));
  });
}
