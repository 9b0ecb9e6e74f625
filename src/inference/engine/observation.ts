import type { StepObservation } from '../messages.ts';
/** How openStream picks among several device groups serving a pair (config engine.placement). */
export type PlacementStrategy = 'least-loaded' | 'round-robin' | 'most-free-memory';

export interface PlacementOptions {
  placement?: PlacementStrategy;
  /** Free memory of a device in bytes, null when unknown: most-free-memory then falls back to least-loaded. */
  freeMemoryBytes?: (device: string) => number | null;
}

/** One finished batch as a worker reported it, with the device it ran on, for metrics. */
export interface BatchObservation extends Omit<StepObservation, 'failedItems'> {
  device: string;
  /** False when a row of the batch failed (its item alone fails; the others were rerun alone). */
  ok: boolean;
}

/** Observers see batches and chunk results; a throwing observer is ignored, never breaks inference. */
export interface EngineObserver {
  onBatch?(batch: BatchObservation): void;
  /**
   * Set to have the engine count the bytes of every message between the threads
   * (`Engine.threadTraffic()`): walking every message costs main-thread time that only the
   * benchmark needs, not the production metrics.
   */
  readonly measuresTraffic?: boolean;
  /** A chunk's text is ready `processingMs` after its audio was complete. */
  onChunk?(chunk: { languagePair: string; device: string; processingMs: number }): void;
}

/** Load of one device group (reported by /ray/stats and used by placement). */
export interface DeviceLoad {
  device: string;
  languagePairs: string[];
  workers: number;
  liveWorkers: number;
  busyWorkers: number;
  openStreams: number;
  queueDepth: number;
  batchesRun: number;
  restarts: number;
  freeMemoryBytes: number | null;
}
