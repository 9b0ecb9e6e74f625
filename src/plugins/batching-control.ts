/**
 * Live batching configuration behind /ray/configure and /configure_dynamic_schedule. "Dynamic
 * batching" (the original's term) means: let a batch wait up to `maxWaitMs` to fill. Disabling
 * it dispatches immediately (maxWaitMs 0) while remembering the wait for re-enabling. Changes go
 * to the engine's batcher at once; no restart.
 */
import type { BatchingSettings, TranslationEngine } from '../inference/translation-engine.ts';

export interface BatchingPatch {
  maxBatchSize?: number | undefined;
  maxWaitMs?: number | undefined;
  isDynamic?: boolean | undefined;
}

export class BatchingControl {
  private isDynamicValue: boolean;
  private waitWhenDynamicMs: number;

  constructor(private readonly engine: Pick<TranslationEngine, 'batchingSettings' | 'configureBatching'>) {
    const { maxWaitMs } = engine.batchingSettings();
    this.isDynamicValue = maxWaitMs > 0;
    this.waitWhenDynamicMs = maxWaitMs > 0 ? maxWaitMs : 100;
  }

  get isDynamic(): boolean {
    return this.isDynamicValue;
  }

  /** The wait used while dynamic batching is on (reported even while it is off). */
  get waitThresholdMs(): number {
    return this.waitWhenDynamicMs;
  }

  settings(): BatchingSettings {
    return this.engine.batchingSettings();
  }

  /** Applies the given fields only; returns the settings now in force. Throws what the engine throws. */
  configure(patch: BatchingPatch): BatchingSettings {
    const enginePatch: Partial<BatchingSettings> = {};
    if (patch.maxBatchSize !== undefined) enginePatch.maxBatchSize = patch.maxBatchSize;
    const nextWait = patch.maxWaitMs ?? this.waitWhenDynamicMs;
    const nextDynamic = patch.isDynamic ?? this.isDynamicValue;
    if (patch.maxWaitMs !== undefined || patch.isDynamic !== undefined) enginePatch.maxWaitMs = nextDynamic ? nextWait : 0;
    const applied = this.engine.configureBatching(enginePatch);
    // Remember only after the engine accepted the change.
    this.waitWhenDynamicMs = nextWait;
    this.isDynamicValue = nextDynamic;
    return applied;
  }
}
