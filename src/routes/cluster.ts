/**
 * Batching routes under the original's names: /ray/* (spec §1.3.18) and the dynamic-schedule
 * pair (§1.3.17). They report and live-reconfigure this server's batcher; values are validated
 * (max_batch_size=0 can no longer stop all translation, W10) and actually applied.
 */
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { configureDynamicScheduleQuery, rayConfigureQuery, successWithStats } from '../protocol/cluster-schemas.ts';
import { requireAdmin } from '../plugins/admin-auth.ts';
import { mergeBodyParams } from '../plugins/request-params.ts';
import { dynamicScheduleStats, rayStats } from './engine-report.ts';

const configureReply = z.looseObject({ success: z.literal(true) });

export const clusterRoutes: FastifyPluginAsyncZod = async (app) => {
  const { engine, batching, sessions } = app;
  const adminOnly = requireAdmin(app.appConfig.admin.token);

  app.get('/ray/stats', { schema: { response: { 200: successWithStats } } }, async () => ({
    success: true as const,
    stats: rayStats(engine, batching, sessions),
  }));

  app.post('/ray/configure', {
    preValidation: mergeBodyParams(['json']),
    preHandler: adminOnly,
    schema: { querystring: rayConfigureQuery, response: { 200: configureReply } },
  }, async (request) => {
    const query = request.query;
    const applied = batching.configure({
      maxBatchSize: query.max_batch_size,
      maxWaitMs: query.batch_timeout_ms,
      isDynamic: query.enable_dynamic_batching,
    });
    const updated: Record<string, unknown> = {};
    for (const key of ['max_batch_size', 'batch_timeout_ms', 'enable_dynamic_batching'] as const) {
      if (query[key] !== undefined) updated[key] = query[key];
    }
    request.log.info({ updated }, 'batching reconfigured');
    return {
      success: true as const,
      updated_config: updated,
      config_in_force: { max_batch_size: applied.maxBatchSize, max_wait_ms: applied.maxWaitMs, enable_dynamic_batching: batching.isDynamic },
    };
  });

  app.get('/dynamic_schedule_stats', { schema: { response: { 200: successWithStats } } }, async () => ({
    success: true as const,
    stats: dynamicScheduleStats(engine, batching),
  }));

  app.post('/configure_dynamic_schedule', {
    preValidation: mergeBodyParams(['json']),
    preHandler: adminOnly,
    schema: { querystring: configureDynamicScheduleQuery, response: { 200: configureReply } },
  }, async (request) => {
    const query = request.query;
    // Only the supplied values change (the original reset omitted ones to its defaults).
    const applied = batching.configure({ isDynamic: query.enabled, maxWaitMs: query.wait_threshold_ms, maxBatchSize: query.max_batch_size });
    request.log.info({ enabled: query.enabled }, 'dynamic schedule reconfigured');
    return {
      success: true as const,
      configuration: {
        enabled: batching.isDynamic,
        wait_threshold_ms: batching.waitThresholdMs,
        min_batch_size: 1,
        max_batch_size: applied.maxBatchSize,
      },
    };
  });
};
