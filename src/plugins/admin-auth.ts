/**
 * The operator credential (W10, W11). With `admin.token` set, routes that change server state or
 * expose other users' data need `Authorization: Bearer <token>` or `X-Admin-Token: <token>`;
 * `/health` then shows its details (session list, engine stats) only to the operator. Unset keeps
 * the original's open access (docs/operations.md says so), since the original's evaluation scripts call
 * these routes without a credential. The browser flow (/init, /ping, /wss, …) never needs it.
 */
import { timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler, preHandlerHookHandler } from 'fastify';
import { AppError } from '../errors.ts';

/** Exact paths that need the token when one is configured. */
const adminPaths = new Set([
  '/ray/configure',
  '/configure_dynamic_schedule',
  '/load_models',
  '/load_model',
  '/export_session_delays',
  '/export_session_delays_by_user',
  // Finds another user's session from a guessable client id and returns its statistics.
  '/session_delays_by_user',
]);
/** Path prefixes that need the token (every debug route, including the fault drill). */
const adminPrefixes = ['/debug/'];

/**
 * Debug routes the original's own test script calls without a credential: always answered, with
 * ids masked for everyone but the operator.
 */
const openDebugPaths = new Set(['/debug/session_stats', '/debug/session_history']);
/** True for the route templates the admin guard protects. */
export function isAdminRoute(url: string): boolean {
  if (openDebugPaths.has(url)) return false;
  return adminPaths.has(url) || adminPrefixes.some((prefix) => url.startsWith(prefix));
}

function presentedToken(headers: Record<string, string | string[] | undefined>): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string' && authorization.startsWith('Bearer ')) return authorization.slice('Bearer '.length).trim();
  const header = headers['x-admin-token'];
  return typeof header === 'string' ? header.trim() : undefined;
}

function sameToken(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/**
 * True when the request presents the configured token. With no token configured nobody is the
 * operator: other users' ids and client ids are then shown to no one. Never throws.
 */
export function isOperatorRequest(request: Pick<FastifyRequest, 'headers'>, token: string | null): boolean {
  if (token === null) return false;
  const presented = presentedToken(request.headers);
  return presented !== undefined && sameToken(presented, token);
}

/** True when no token is configured, or the request presents the configured one. Never throws. */
export function isAdminRequest(request: Pick<FastifyRequest, 'headers'>, token: string | null): boolean {
  if (token === null) return true;
  const presented = presentedToken(request.headers);
  return presented !== undefined && sameToken(presented, token);
}

const refusal = (): AppError =>
  new AppError('unauthorized', 'Admin token required: send "Authorization: Bearer <token>" (see admin.token in the configuration)');

/** preHandler rejecting with AppError('unauthorized') unless the admin token matches (when one is configured). */
export function requireAdmin(token: string | null): preHandlerHookHandler {
  return function checkAdminToken(request, _reply, done) {
    if (isAdminRequest(request, token)) return done();
    done(refusal());
  };
}

/**
 * Adds the token check to every admin route registered after this call (an onRoute hook, so the
 * route files need not repeat it). It runs on onRequest: an unauthorised caller learns nothing
 * about parameter validation either.
 */
export function installAdminGuard(app: FastifyInstance, token: string | null): void {
  if (token === null) return;
  const check: onRequestHookHandler = function checkAdminToken(request, _reply, done) {
    if (isAdminRequest(request, token)) return done();
    done(refusal());
  };
  app.addHook('onRoute', (route) => {
    if (!isAdminRoute(route.url)) return;
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? [check] : [check, ...(Array.isArray(existing) ? existing : [existing])];
  });
}
