/**
 * Parameters of the batching routes (spec §1.3.17 dynamic schedule, §1.3.18 Ray). They report and
 * reconfigure this server's batcher; unlike the original, every value is validated and applied.
 */
import { z } from 'zod';
import { boolParam, intParam, numberParam } from './params.ts';

const batchSize = intParam.pipe(z.number().int().min(1, 'must be ≥ 1').max(1024, 'must be ≤ 1024'));
const waitMs = numberParam.pipe(z.number().min(0, 'must be ≥ 0').max(60_000, 'must be ≤ 60000'));

export const rayConfigureQuery = z.object({
  max_batch_size: batchSize.optional(),
  batch_timeout_ms: waitMs.optional(),
  enable_dynamic_batching: boolParam.optional(),
});

export const configureDynamicScheduleQuery = z.object({
  enabled: boolParam,
  wait_threshold_ms: waitMs.optional(),
  // The batcher flushes on "full or oldest waited maxWaitMs"; a minimum batch size would stall a
  // lone session, so only 1 is accepted rather than silently ignoring other values.
  min_batch_size: intParam.pipe(z.literal(1, 'only 1 is supported (a larger minimum would stall a lone session)')).optional(),
  max_batch_size: batchSize.optional(),
});

/** Loose check of the big statistics objects: the top-level keys clients read. */
export const successWithStats = z.looseObject({ success: z.literal(true), stats: z.record(z.string(), z.unknown()) });
