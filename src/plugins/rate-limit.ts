/**
 * Per-client rate limits on the routes that create work (W17), with @fastify/rate-limit: session
 * creation (/init and /load_model share one budget) and YouTube downloads. Each budget allows
 * `max` requests per client address per window; beyond, 429 `rateLimited` with Retry-After and
 * the X-RateLimit-* headers. The client address is `request.ip`, which behind a reverse proxy is
 * the forwarded one only when `server.trustProxy` says so (docs/operations.md, "Behind nginx").
 *
 * The defaults are sized for a lab behind one NAT address, or every browser behind one nginx: 50
 * sessions started at once from one address pass. Tighten them with limits.initPerMinute and
 * limits.downloadsPerMinute.
 */
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { AppError } from '../errors.ts';

export interface RateBudget {
  /** Requests per client address per window; 0 disables the budget. */
  max: number;
}

export interface RateLimitOptions {
  /** Route template → budget name; routes naming the same budget share its count. */
  routes: Record<string, string>;
  budgets: Record<string, RateBudget>;
  /** The window the counts apply to (default one minute). */
  windowMs?: number;
  /** Called for every refused request (metrics). */
  onLimited?: (route: string) => void;
}

/** Adds the limits to the routes registered after this call. */
export async function installRateLimits(app: FastifyInstance, options: RateLimitOptions): Promise<void> {
  await app.register(rateLimit, {
    global: false,
    timeWindow: options.windowMs ?? 60_000,
    // Bounded: forgetting an address only hands it a fresh window.
    cache: 10_000,
    onExceeded: (request) => options.onLimited?.(request.routeOptions.url ?? request.url),
    errorResponseBuilder: (request, context) => {
      const retryAfterSeconds = Math.max(1, Math.ceil(context.ttl / 1000));
      return new AppError('rateLimited', `Too many requests to ${request.routeOptions.url ?? request.url} from this client; retry in ${retryAfterSeconds} s`, {
        details: { retryAfterSeconds },
      });
    },
  });
  const checks = new Map<string, onRequestHookHandler>();
  for (const [name, budget] of Object.entries(options.budgets)) {
    // One handler per budget: its routes share the counter of each address.
    if (budget.max > 0) checks.set(name, app.rateLimit({ max: budget.max, groupId: name }) as onRequestHookHandler);
  }
  app.addHook('onRoute', (route) => {
    const budget = options.routes[route.url];
    const check = budget === undefined ? undefined : checks.get(budget);
    if (check === undefined) return;
    const existing = route.onRequest;
    // First: a refused request does no other work (nor uses up a realtime client secret).
    route.onRequest = existing === undefined ? [check] : [check, ...(Array.isArray(existing) ? existing : [existing])];
  });
}
