/**
 * What /ray/stats, /metrics and placement read of the workers: each worker reports its own batch
 * queues, the engine sums them per model, and each device group's load.
 */
import type { PhaseStats } from '../translation-engine.ts';
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
