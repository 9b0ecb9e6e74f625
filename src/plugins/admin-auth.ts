/**
 * Guard for the reconfiguration routes (W10). With `admin.token` set they need
 * `Authorization: Bearer <token>` or `X-Admin-Token: <token>`; unset keeps the original's open
 * access (the README says so), since the original's evaluation scripts call them without one.
 */
import { timingSafeEqual } from 'node:crypto';
import type { preHandlerHookHandler } from 'fastify';
import { AppError } from '../errors.ts';

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

/** preHandler rejecting with AppError('unauthorized') unless the admin token matches (when one is configured). */
export function requireAdmin(token: string | null): preHandlerHookHandler {
  return function checkAdminToken(request, _reply, done) {
    if (token === null) return done();
    const presented = presentedToken(request.headers);
    if (presented !== undefined && sameToken(presented, token)) return done();
    done(new AppError('unauthorized', 'Admin token required: send "Authorization: Bearer <token>" (see admin.token in the configuration)'));
  };
}
