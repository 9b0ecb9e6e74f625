/**
 * One log line per request, written when the reply is done (Fastify's own logging writes two:
 * "incoming request" and "request completed"). Polls — health checks, queue status, keep-alive
 * pings, metrics scrapes, stats dashboards — log at debug level: polled by 32 clients for a
 * minute, two lines per request at info once wrote 150 MB.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';

const POLL_PATHS = new Set(['/ping', '/health', '/readyz', '/livez', '/metrics', '/ray/stats', '/dynamic_schedule_stats', '/debug/session_stats', '/debug/session_history', '/download_youtube/progress']);
const POLL_PREFIXES = ['/queue_status/'];

/** True for the routes clients poll (at any query string). */
export function isPoll(url: string): boolean {
  const path = url.split('?', 1)[0] ?? url;
  return POLL_PATHS.has(path) || POLL_PREFIXES.some((prefix) => path.startsWith(prefix));
}

/** Adds the one-line request log. Fastify's own request logging must be off (disableRequestLogging). */
export function logRequestsOnce(app: FastifyInstance): void {
  app.addHook('onResponse', (request: FastifyRequest, reply, done) => {
    const fields = { method: request.method, url: request.url, status: reply.statusCode, ms: Math.round(reply.elapsedTime) };
    // Server errors are logged with their cause by the error handler; this line is the summary.
    if (isPoll(request.url) && reply.statusCode < 400) request.log.debug(fields, 'request');
    else request.log.info(fields, 'request');
    done();
  });
}
