/** The live-tunable batching settings and their validation. */
import { AppError } from '../errors.ts';

export interface BatchSettings {
  /** Max units (rows) per batch. */
  maxBatchSize: number;
  /** Max time the oldest item of a lane waits for a batch to fill. */
  maxWaitMs: number;
  /** Max queued items over all lanes. */
  maxQueueSize: number;
}

/** Returns a frozen copy of valid settings; throws `badRequest` listing every invalid field. */
export function validateBatchSettings(settings: BatchSettings): Readonly<BatchSettings> {
  const problems: string[] = [];
  const { maxBatchSize, maxWaitMs, maxQueueSize } = settings;
  if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) problems.push(`maxBatchSize must be an integer ≥ 1 (got ${maxBatchSize})`);
  if (typeof maxWaitMs !== 'number' || !Number.isFinite(maxWaitMs) || maxWaitMs < 0) problems.push(`maxWaitMs must be a finite number ≥ 0 (got ${maxWaitMs})`);
  if (!Number.isInteger(maxQueueSize) || maxQueueSize < 1) problems.push(`maxQueueSize must be an integer ≥ 1 (got ${maxQueueSize})`);
  if (problems.length > 0) throw new AppError('badRequest', `invalid batching settings: ${problems.join('; ')}`, { details: { problems } });
  return Object.freeze({ maxBatchSize, maxWaitMs, maxQueueSize });
}
