/**
 * Operations routes next to the original's /health: Prometheus `GET /metrics`, `GET /readyz`
 * (200 when this instance should get new sessions, else 503 + Retry-After, with every check and
 * why), `GET /livez` (200 while the process serves requests at all), and — only with
 * `admin.allowFaultInjection` and an admin token — `POST /debug/inject_fault` for recovery drills.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { injectFault } from '../plugins/engine-extras.ts';
import { assessReadiness } from '../plugins/readiness.ts';
import { mergeBodyParams } from '../plugins/request-params.ts';

const readinessReply = z.object({
  status: z.enum(['ready', 'not_ready']),
  saturated: z.boolean(),
  checks: z.record(z.string(), z.object({ ok: z.boolean(), detail: z.string() })),
});

const faultQuery = z.object({
  fault: z.enum(['crash', 'hang']),
  /** The model whose next batch fails (e.g. "tiny-en-es"); absent = the next batch of any model. */
  model: z.string().min(1).max(200).optional(),
  /** Alternative to `model`: the pair whose model should fail. */
  language_pair: z.string().min(1).max(200).optional(),
});

export const opsRoutes: FastifyPluginAsyncZod = async (app) => {
  const { engine, sessions, clock } = app;
  const config = app.appConfig;

  app.get('/metrics', async (_request, reply) => {
    const { contentType, body } = await app.metrics.render();
    return reply.type(contentType).header('Cache-Control', 'no-store').send(body);
  });

  app.get('/readyz', { schema: { response: { 200: readinessReply, 503: readinessReply } } }, async (_request, reply) => {
    const readiness = assessReadiness({ engine, sessions, config });
    const checks = Object.fromEntries(Object.entries(readiness.checks).map(([name, check]) => [name, { ok: check.isOk, detail: check.detail }]));
    if (!readiness.isReady) reply.code(503).header('Retry-After', String(config.limits.retryAfterSeconds));
    return { status: readiness.isReady ? ('ready' as const) : ('not_ready' as const), saturated: readiness.isSaturated, checks };
  });

  app.get('/livez', async () => ({
    status: 'alive',
    uptime_s: Math.round((clock.now() - app.startedAtMs) / 1000),
    rss_bytes: process.memoryUsage.rss(),
  }));

  if (config.admin.allowFaultInjection && config.admin.token !== null) {
    app.post('/debug/inject_fault', {
      preValidation: mergeBodyParams(['json']),
      schema: { querystring: faultQuery },
    }, async (request) => {
      const { fault, language_pair: pair } = request.query;
      const model = request.query.model ?? (pair === undefined ? undefined : engine.languagePairs().find((info) => info.languagePair === pair)?.modelName);
      if (pair !== undefined && model === undefined) throw new AppError('unsupportedLanguagePair', `language pair "${pair}" is not served`);
      if (!injectFault(engine, fault, model)) throw new AppError('badRequest', 'this engine does not support fault injection');
      request.log.warn({ fault, model }, 'worker fault armed by an operator');
      return { success: true, armed: fault, model: model ?? null, message: `the next batch${model ? ` of ${model}` : ''} will ${fault} its worker` };
    });
  }
};
