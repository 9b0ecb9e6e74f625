import { DynamicBatcher } from '../batching/dynamic-batcher.ts';
import type { BatchItem, BatchOutput } from './chunk-translator.ts';

/** How openStream picks among several device groups serving a pair (config engine.placement). */
export type PlacementStrategy = 'least-loaded' | 'round-robin' | 'most-free-memory';

export interface PlacementOptions {
  placement?: PlacementStrategy;
  /** Free memory of a device in bytes, null when unknown: most-free-memory then falls back to least-loaded. */
  freeMemoryBytes?: (device: string) => number | null;
}

/** One finished batch, for metrics: items, each item's queue wait, and the worker's compute time. */
export interface BatchObservation {
  model: string;
  device: string;
  phase: string;
  items: number;
  /** Model rows: one per item in prefill, one per live beam in decode. */
  rows: number;
  waitsMs: number[];
  /** Main-thread time from dispatch to the answer (queueing for the worker and messaging included). */
  computeMs: number;
  /** The worker's own time on the batch; 0 when it failed. */
  workerComputeMs: number;
  /** Decode only: cache slots the rows attend to, their own new token included (0 in prefill). */
  attendedSlots: number;
  /** `messageBytes` of the request and of the answer (0 when it failed, or no observer sets `measuresTraffic`). */
  bytesToWorker: number;
  bytesFromWorker: number;
  /** Cache bytes the worker copied to build and unpack the batch's tensors (0 when it failed). */
  cacheBytesCopied: number;
  ok: boolean;
}

/** Observers see batches and chunk results; a throwing observer is ignored, never breaks inference. */
export interface EngineObserver {
  onBatch?(batch: BatchObservation): void;
  /**
   * Set to get `bytesToWorker`/`bytesFromWorker` (0 otherwise): counting them walks every batch's
   * payload on the main thread, which only the benchmark needs, not the production metrics.
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

export /** Stamps each item's submission time so that batch observers can see per-item queue waits. */
class StampingBatcher extends DynamicBatcher<BatchItem, BatchOutput> {
  constructor(options: ConstructorParameters<typeof DynamicBatcher<BatchItem, BatchOutput>>[0], private readonly stamps: WeakMap<BatchItem, number>) {
    super(options);
  }

  override submit(lane: string, item: BatchItem): Promise<BatchOutput> {
    this.stamps.set(item, performance.now());
    return super.submit(lane, item);
  }
}

