import type { Logger } from 'pino';
import type { BatchingSettings } from './translation-engine.ts';

/** One group of workers on one device, serving some (default: all) language pairs. */
export interface DeviceGroupOptions {
  /** "cpu" or "cuda:<n>" (n = index among CUDA_VISIBLE_DEVICES). */
  device: string;
  workers: number;
  /** onnxruntime intra-op threads per worker; workers × threads should fit the cores. */
  intraOpThreads: number;
  /** Pairs this group serves; empty/absent = every loaded pair. */
  languagePairs?: string[];
  /** Bytes the group's models may use on its device; absent = measured free memory. */
  memoryBudgetBytes?: number;
}

/** Everything the engine needs; produced from the validated server config. */
export interface EngineOptions {
  /** Folder containing model packages (one sub-folder each). */
  modelsDir: string;
  /** Package folder names to load; absent = every package found in modelsDir. */
  models?: string[];
  devices: DeviceGroupOptions[];
  /** Provider preference, overriding the manifests', e.g. ["cuda", "cpu"]. Falls back in order. */
  executionProviders?: string[];
  batching: BatchingSettings;
  /** A batch not answered by a worker within this is treated as a hung worker. */
  requestDeadlineMs: number;
  /** Overrides the manifests' beam size (1 = greedy). */
  beamSize?: number;
  /** Fail start-up when a worker falls back from the first provider it was asked for (else: one warning per device group). */
  requireProviders?: boolean;
  /** Per stream: pushAudio returns false above this much unprocessed audio. */
  streamHighWaterMs: number;
  /** Per stream: audio beyond this much unprocessed audio is rejected (AppError 'overloaded'). */
  streamMaxPendingMs: number;
  logger?: Logger;
}
