/**
 * Per-client rate limits on the routes that create work (W17): session creation (/init and
 * /load_model share one budget) and YouTube downloads. A token bucket per client address: a
 * burst, then a steady rate. Over the limit → 429 with Retry-After. Buckets are kept in a bounded
 * map, so a flood of addresses cannot grow memory. Time comes from the app's clock (tests use a
 * manual one).
 */
import type { FastifyInstance, onRequestHookHandler } from 'fastify';
import { AppError } from '../errors.ts';
import type { Clock } from '../sessions/clock.ts';

export interface RateRule {
  /** Sustained rate; 0 disables the rule. */
  perMinute: number;
  /** Requests allowed at once before the rate applies. */
  burst: number;
}

interface Bucket {
  tokens: number;
  updatedAtMs: number;
}

/** Token buckets by key. */
export class RateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly rule: RateRule,
    private readonly clock: Clock,
    private readonly maxKeys = 10_000,
  ) {}

  /** Takes one token for `key`; when none is left, says after how many seconds one will be. Never throws. */
  take(key: string): { isAllowed: true } | { isAllowed: false; retryAfterSeconds: number } {
    if (this.rule.perMinute <= 0) return { isAllowed: true };
    const now = this.clock.now();
    const perMs = this.rule.perMinute / 60_000;
    const existing = this.buckets.get(key);
    const bucket = existing ?? { tokens: this.rule.burst, updatedAtMs: now };
    bucket.tokens = Math.min(this.rule.burst, bucket.tokens + Math.max(0, now - bucket.updatedAtMs) * perMs);
    bucket.updatedAtMs = now;
    // Re-insert so that the map's order is least recently used first.
    this.buckets.delete(key);
    this.buckets.set(key, bucket);
    this.evict();
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return { isAllowed: true };
    }
    return { isAllowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / perMs / 1000)) };
  }

  get size(): number {
    return this.buckets.size;
  }

  private evict(): void {
    // Forgetting a bucket only hands its client a fresh burst: bounded memory wins.
    while (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next();
      if (oldest.done === true) return;
      this.buckets.delete(oldest.value);
    }
  }
}

export interface RateLimitOptions {
  clock: Clock;
  /** Route template → [budget name, rule]; routes naming the same budget share it. */
  routes: Record<string, { budget: string; rule: RateRule }>;
  /** Called for every refused request (metrics). */
  onLimited?: (route: string) => void;
}

/** Adds the limits to the routes registered after this call. */
export function installRateLimits(app: FastifyInstance, options: RateLimitOptions): void {
  const limiters = new Map<string, RateLimiter>();
  for (const { budget, rule } of Object.values(options.routes)) {
    if (!limiters.has(budget)) limiters.set(budget, new RateLimiter(rule, options.clock));
  }
  app.addHook('onRoute', (route) => {
    const entry = options.routes[route.url];
    const limiter = entry ? limiters.get(entry.budget) : undefined;
    if (!entry || !limiter || entry.rule.perMinute <= 0) return;
    const url = route.url;
    const check: onRequestHookHandler = function checkRateLimit(request, _reply, done) {
      const verdict = limiter.take(request.ip);
      if (verdict.isAllowed) return done();
      options.onLimited?.(url);
      done(new AppError('rateLimited', `Too many requests to ${url} from this client; retry in ${verdict.retryAfterSeconds} s`, {
        details: { retryAfterSeconds: verdict.retryAfterSeconds },
      }));
    };
    const existing = route.onRequest;
    route.onRequest = existing === undefined ? [check] : [...(Array.isArray(existing) ? existing : [existing]), check];
  });
}
