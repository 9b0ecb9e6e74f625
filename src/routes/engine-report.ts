/**
 * Our engine's statistics in the shapes the original's clients know: the Ray system stats
 * (spec §5.2.5) and the dynamic-schedule stats (§1.3.17). Workers play the role of the original's
 * GPUs; models (one per language pair or more) play the role of per-GPU queues. Keys are strings.
 */
import type { EngineStats, PhaseStats, TranslationEngine } from '../inference/translation-engine.ts';
import type { BatchingControl } from '../plugins/batching-control.ts';
import { deviceLoadsOf } from '../plugins/engine-extras.ts';
import type { SessionManager } from '../sessions/session-manager.ts';

function sumPhases(stats: EngineStats, pick: (phase: PhaseStats) => number): number {
  return Object.values(stats.models).reduce((sum, model) => sum + pick(model.prefill) + pick(model.decode), 0);
}

function batchingConfig(batching: BatchingControl) {
  const settings = batching.settings();
  return {
    max_batch_size: settings.maxBatchSize,
    batch_timeout_ms: batching.waitThresholdMs,
    enable_dynamic_batching: batching.isDynamic,
    max_wait_ms_in_force: settings.maxWaitMs,
    max_queue_size: settings.maxQueueSize,
  };
}

/** `/ray/stats`'s `stats`, `/health`'s and `/load_models`' `ray_stats`. */
export function rayStats(engine: TranslationEngine, batching: BatchingControl, sessions: SessionManager): Record<string, unknown> {
  const stats = engine.stats();
  const counts = sessions.counts();
  const pairs = engine.languagePairs();
  const totalBatches = sumPhases(stats, (phase) => phase.batches);
  const waitWeighted = sumPhases(stats, (phase) => phase.waitMsMean * phase.batches);
  const gpuUtilization: Record<string, unknown> = {};
  for (const worker of stats.workers) {
    gpuUtilization[String(worker.id)] = {
      gpu_id: worker.id,
      device: worker.device,
      provider: worker.provider,
      language_id: pairs.filter((pair) => pair.device === worker.device).map((pair) => pair.languagePair).join(', '),
      busy: worker.busy,
      restarts: worker.restarts,
      stats: { total_batches: worker.batchesRun },
    };
  }
  const queueStats: Record<string, number> = {};
  const meanComputeSeconds: Record<string, number> = {};
  for (const [name, model] of Object.entries(stats.models)) {
    queueStats[name] = model.prefill.queueDepth + model.decode.queueDepth;
    meanComputeSeconds[name] = (model.prefill.computeMsMean + model.decode.computeMsMean) / 1000;
  }
  // What the name says: per device, the share of its workers running a batch right now.
  const gpuLoad: Record<string, number> = {};
  const devices = [...new Set(stats.workers.map((worker) => worker.device))];
  for (const device of devices) {
    const workers = stats.workers.filter((worker) => worker.device === device);
    gpuLoad[device] = workers.filter((worker) => worker.busy).length / workers.length;
  }
  // Per device group (one per GPU with multi-GPU placement): where sessions are and how busy it is.
  const deviceLoad: Record<string, unknown> = {};
  for (const load of deviceLoadsOf(engine) ?? []) {
    deviceLoad[load.device] = {
      language_pairs: load.languagePairs,
      open_streams: load.openStreams,
      workers: load.workers,
      live_workers: load.liveWorkers,
      busy_workers: load.busyWorkers,
      queue_depth: load.queueDepth,
      batches_run: load.batchesRun,
      restarts: load.restarts,
      free_memory_bytes: load.freeMemoryBytes,
    };
  }
  return {
    global_stats: {
      total_requests: stats.chunksProcessed + stats.chunkErrors,
      total_sessions: counts.total,
      active_sessions: counts.active,
      queued_sessions: counts.queued,
      avg_queue_time: totalBatches > 0 ? waitWeighted / totalBatches / 1000 : 0,
      chunks_processed: stats.chunksProcessed,
      chunk_errors: stats.chunkErrors,
      worker_restarts: stats.workerRestarts,
      gpu_utilization: gpuUtilization,
    },
    queue_stats: queueStats,
    gpu_load: gpuLoad,
    mean_batch_compute_seconds: meanComputeSeconds,
    device_load: deviceLoad,
    active_sessions: counts.active,
    config: batchingConfig(batching),
    engine: stats,
  };
}

function oldestWait(...waits: (number | null)[]): number | null {
  const known = waits.filter((wait): wait is number => wait !== null);
  return known.length > 0 ? Math.max(...known) : null;
}

/** `/dynamic_schedule_stats`' `stats`. */
export function dynamicScheduleStats(engine: TranslationEngine, batching: BatchingControl): Record<string, unknown> {
  const stats = engine.stats();
  const settings = batching.settings();
  const perModel: Record<string, unknown> = {};
  for (const [name, model] of Object.entries(stats.models)) {
    const prefill = model.prefill.queueDepth;
    const decode = model.decode.queueDepth;
    perModel[name] = {
      language: model.languagePairs.join(', '),
      prefill_queue_size: prefill,
      decode_queue_size: decode,
      total_queue_size: prefill + decode,
      // Null when both queues are empty, as the original.
      oldest_wait_time_ms: oldestWait(model.prefill.oldestWaitMs, model.decode.oldestWaitMs),
      should_dispatch: prefill + decode > 0,
      trigger_reason: prefill + decode === 0 ? 'queue_empty' : prefill + decode >= settings.maxBatchSize ? 'batch_full' : 'waiting',
    };
  }
  return {
    enabled: batching.isDynamic,
    configuration: { wait_threshold_ms: batching.waitThresholdMs, min_batch_size: 1, max_batch_size: settings.maxBatchSize, max_wait_ms_in_force: settings.maxWaitMs },
    triggers: {
      timeout_triggers: sumPhases(stats, (phase) => phase.flushReasons.timeout),
      batch_size_triggers: sumPhases(stats, (phase) => phase.flushReasons.full),
      idle_triggers: sumPhases(stats, (phase) => phase.flushReasons.idle),
      total_dispatches: sumPhases(stats, (phase) => phase.batches),
    },
    per_gpu_status: perModel,
  };
}
