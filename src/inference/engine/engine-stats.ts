/**
 * What /ray/stats, /metrics and placement read of the workers: each worker reports its own batch
 * queues, the engine sums them per model, and each device group's load.
 */
import type { EngineStats, PhaseStats, WorkerStats } from '../translation-engine.ts';
import type { DeviceLoad } from './observation.ts';
import type { DeviceGroup } from './resident-backend.ts';

const emptyPhase = (): PhaseStats => ({
  queueDepth: 0, oldestWaitMs: null, batches: 0, items: 0, batchSizeHistogram: {}, flushReasons: { full: 0, timeout: 0, idle: 0 },
  computeMsTotal: 0, computeMsMean: 0, waitMsMean: 0, rejected: 0,
});

/** Sums one phase's statistics over the workers that run it. */
export function sumPhases(phases: readonly PhaseStats[]): PhaseStats {
  const total = emptyPhase();
  let waitMsTotal = 0;
  for (const phase of phases) {
    total.queueDepth += phase.queueDepth;
    if (phase.oldestWaitMs !== null) total.oldestWaitMs = Math.max(total.oldestWaitMs ?? 0, phase.oldestWaitMs);
    total.batches += phase.batches;
    total.items += phase.items;
    for (const [size, count] of Object.entries(phase.batchSizeHistogram)) total.batchSizeHistogram[size] = (total.batchSizeHistogram[size] ?? 0) + count;
    total.flushReasons.full += phase.flushReasons.full;
    total.flushReasons.timeout += phase.flushReasons.timeout;
    total.flushReasons.idle += phase.flushReasons.idle;
    total.computeMsTotal += phase.computeMsTotal;
    waitMsTotal += phase.waitMsMean * phase.items;
    total.rejected += phase.rejected;
  }
  total.computeMsMean = total.batches > 0 ? total.computeMsTotal / total.batches : 0;
  total.waitMsMean = total.items > 0 ? waitMsTotal / total.items : 0;
  return total;
}

/** Each served model's batch statistics, summed over its workers (named model@group when there are several groups). */
export function modelStatsOf(groups: readonly DeviceGroup[]): EngineStats['models'] {
  const models: EngineStats['models'] = {};
  for (const group of groups) {
    for (const [model, pkg] of group.models) {
      const perWorker = group.workers.flatMap((worker) => {
        const stats = worker.modelStats().get(model);
        return stats ? [stats] : [];
      });
      models[groups.length > 1 ? `${model}@${group.name}` : model] = {
        languagePairs: Object.keys(pkg.manifest.languagePairs),
        prefill: sumPhases(perWorker.flatMap((stats) => (stats.prefill ? [stats.prefill] : []))),
        decode: sumPhases(perWorker.flatMap((stats) => (stats.decode ? [stats.decode] : []))),
      };
    }
  }
  return models;
}

/** Every worker: where it runs, what loaded, whether it is busy, how often it was replaced. */
export function workerStatsOf(groups: readonly DeviceGroup[]): WorkerStats[] {
  return groups.flatMap((group) => group.workers.map((worker) => ({
    id: worker.index,
    device: group.name,
    provider: worker.info?.provider ?? 'unknown',
    busy: worker.isBusy,
    restarts: worker.restarts,
    batchesRun: worker.batchesRun,
  })));
}

/** Each device group's load, for placement and reports. */
export function deviceLoadsOf(groups: readonly DeviceGroup[], freeMemoryBytes: ((device: string) => number | null) | undefined): DeviceLoad[] {
  return groups.map((group) => {
    const phases = group.workers.flatMap((worker) => [...worker.modelStats().values()].flatMap((stats) => Object.values(stats)));
    return {
      device: group.name,
      languagePairs: [...group.models.values()].flatMap((pkg) => Object.keys(pkg.manifest.languagePairs)),
      workers: group.workers.length,
      liveWorkers: group.workers.filter((worker) => worker.state === 'live').length,
      busyWorkers: group.workers.filter((worker) => worker.isBusy).length,
      openStreams: group.openStreams,
      queueDepth: phases.reduce((sum, phase) => sum + phase.queueDepth, 0),
      batchesRun: group.workers.reduce((sum, worker) => sum + worker.batchesRun, 0),
      restarts: group.workers.reduce((sum, worker) => sum + worker.restarts, 0),
      freeMemoryBytes: freeMemoryBytes?.(group.options.device) ?? null,
    };
  });
}
