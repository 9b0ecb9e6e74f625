import { randomUUID } from 'node:crypto';
import type { DynamicBatcher } from '../batching/dynamic-batcher.ts';
import { AppError } from '../errors.ts';
import { messageBytes, requestArrays, transferListOf, type InjectedFault, type ModelBatchRequest, type ModelBatchResponse } from './batch-messages.ts';
import { CarriedStateBackend, ChunkTranslator, type BatchItem, type BatchOutput } from './chunk-translator.ts';
import type { DeviceGroupOptions, EngineOptions } from './engine-options.ts';
import type { ModelPackage } from './manifest.ts';
import { checkModelsFit } from './model-size-check.ts';
import type { ModelWorkerData } from './model-worker.ts';
import { discoverPackages } from './model-discovery.ts';
import { StampingBatcher, type BatchObservation, type DeviceLoad, type EngineObserver, type PlacementOptions } from './engine-observation.ts';
import { EngineStream } from './translation-stream.ts';
import type { BatchingSettings, EngineStats, LanguagePairInfo, StreamListener, TranslationEngine, TranslationStream } from './translation-engine.ts';
import { WorkerPool } from './worker-pool.ts';

const WORKER_SCRIPT = new URL('./model-worker.ts', import.meta.url);

export type { BatchObservation, DeviceLoad, EngineObserver, PlacementOptions, PlacementStrategy } from './engine-observation.ts';
import { ResidentEngine } from './engine/resident-engine.ts';
export type Engine = ResidentEngine;

/** One device group's workers and, per model it serves, a batcher and the policy on top. */
interface DeviceGroup {
  options: DeviceGroupOptions;
  pool: WorkerPool<ModelBatchRequest, ModelBatchResponse>;
  lanes: Map<string, { pkg: ModelPackage; batcher: DynamicBatcher<BatchItem, BatchOutput>; translator: ChunkTranslator }>;
  openStreams: number;
}

/**
 * The inference engine: model packages on worker pools (one per device group), a dynamic
 * batcher per model and group, and streams that turn audio into cumulative text.
 */
export class CarryingEngine implements TranslationEngine {
  private readonly pairToModel = new Map<string, ModelPackage>();
  private openStreamCount = 0;
  private chunksProcessed = 0;
  private chunkErrors = 0;
  private pendingFault: { fault: InjectedFault; model: string | undefined } | undefined;
  private isClosing = false;
  private readonly observers = new Set<EngineObserver>();
  private readonly submittedAt = new WeakMap<BatchItem, number>();
  private readonly roundRobinNext = new Map<string, number>();

  private constructor(
    private readonly options: EngineOptions & PlacementOptions,
    private readonly groups: DeviceGroup[],
    packages: ModelPackage[],
    private batching: BatchingSettings,
  ) {
    for (const pkg of packages) {
      for (const pair of Object.keys(pkg.manifest.languagePairs)) {
        if (this.pairToModel.has(pair)) options.logger?.warn({ pair, model: pkg.manifest.name }, 'language pair served by two packages; keeping the first');
        else this.pairToModel.set(pair, pkg);
      }
    }
  }

  /** Loads every package, starts the workers (they load the graphs) and wires the batchers. */
  static async create(options: EngineOptions & PlacementOptions): Promise<CarryingEngine> {
    const packages = await discoverPackages(options);
    const groups: DeviceGroup[] = [];
    try {
      for (const groupOptions of options.devices) {
        const served = packages.filter((pkg) => !groupOptions.languagePairs?.length || Object.keys(pkg.manifest.languagePairs).some((p) => groupOptions.languagePairs?.includes(p)));
        if (served.length === 0) continue;
        // Fail with a sentence, not an allocation error deep inside onnxruntime, when the
        // weights (loaded once per worker) do not fit the device.
        const fit = await checkModelsFit(served, {
          device: groupOptions.device,
          workers: groupOptions.workers,
          ...(groupOptions.memoryBudgetBytes !== undefined ? { budgetBytes: groupOptions.memoryBudgetBytes } : {}),
        });
        options.logger?.info({ device: groupOptions.device, requiredBytes: fit.requiredBytes, availableBytes: fit.availableBytes }, 'model memory check');
        const workerData: ModelWorkerData = {
          packageDirs: served.map((p) => p.dir),
          providers: options.executionProviders ?? [],
          device: groupOptions.device,
          intraOpThreads: groupOptions.intraOpThreads,
        };
        const pool = await WorkerPool.start<ModelBatchRequest, ModelBatchResponse>({
          name: `models@${groupOptions.device}`,
          script: WORKER_SCRIPT,
          size: groupOptions.workers,
          workerData: () => workerData,
          deadlineMs: options.requestDeadlineMs,
          ...(options.logger ? { logger: options.logger } : {}),
        });
        groups.push({ options: groupOptions, pool, lanes: new Map(), openStreams: 0 });
      }
    } catch (error) {
      await Promise.allSettled(groups.map((g) => g.pool.close()));
      throw error;
    }
    if (groups.length === 0) throw new AppError('modelInvalid', 'no device group serves any loaded language pair; check the devices section of the config');
    const engine = new CarryingEngine(options, groups, packages, { ...options.batching });
    for (const group of groups) engine.wireGroup(group, packages);
    for (const info of engine.languagePairs()) options.logger?.info({ ...info }, 'language pair ready');
    return engine;
  }

  private wireGroup(group: DeviceGroup, packages: ModelPackage[]): void {
    const served = packages.filter((pkg) => !group.options.languagePairs?.length || Object.keys(pkg.manifest.languagePairs).some((p) => group.options.languagePairs?.includes(p)));
    for (const pkg of served) {
      const model = pkg.manifest.name;
      const batcher: DynamicBatcher<BatchItem, BatchOutput> = new StampingBatcher({
        lanes: ['prefill', 'decode'],
        ...this.batching,
        // A batch may start only when a worker of the group is free to take it right away.
        concurrency: () => batcher.runningBatches + group.pool.idleCount,
        starvationMs: Math.max(4 * this.batching.maxWaitMs, 200),
        sizeOf: (item) => ('decode' in item ? item.decode.beams.length : 1),
        keyOf: (item) => item.key,
        run: (lane, items) => this.runBatch(group, model, lane, items),
      }, this.submittedAt);
      const beamSize = this.options.beamSize ?? pkg.manifest.generation.beamSize;
      group.lanes.set(model, { pkg, batcher, translator: new ChunkTranslator(pkg, (phase, item) => batcher.submit(phase, item), beamSize) });
    }
    group.pool.onIdle(() => {
      for (const lane of group.lanes.values()) lane.batcher.poke();
    });
  }

  private async runBatch(group: DeviceGroup, model: string, lane: string, items: BatchItem[]): Promise<BatchOutput[]> {
    const pending = this.pendingFault;
    const fault = pending && (pending.model === undefined || pending.model === model) ? pending.fault : undefined;
    if (fault) this.pendingFault = undefined;
    const request: ModelBatchRequest =
      lane === 'prefill'
        ? { kind: 'prefill', model, items: items.flatMap((i) => ('prefill' in i ? [i.prefill] : [])) }
        : { kind: 'decode', model, items: items.flatMap((i) => ('decode' in i ? [i.decode] : [])) };
    if (request.items.length !== items.length) throw new AppError('internal', `mixed batch in lane ${lane}`);
    if (fault) request.fault = fault;
    const startedAt = performance.now();
    const waitsMs = items.map((item) => startedAt - (this.submittedAt.get(item) ?? startedAt));
    // Measured before sending: the transfer detaches the buffers.
    const measuresTraffic = [...this.observers].some((observer) => observer.measuresTraffic === true);
    const shape = {
      rows: request.kind === 'decode' ? request.items.reduce((sum, item) => sum + item.beams.length, 0) : request.items.length,
      attendedSlots: request.kind === 'decode' ? request.items.reduce((sum, item) => sum + item.beams.reduce((n, beam) => n + item.baseCache.length + beam.suffixCache.length + 1, 0), 0) : 0,
      bytesToWorker: measuresTraffic ? messageBytes(request) : 0,
    };
    const observe = (response: ModelBatchResponse | undefined): void => {
      if (this.observers.size === 0) return;
      const observation: BatchObservation = {
        model, device: group.options.device, phase: lane, items: items.length, waitsMs, computeMs: performance.now() - startedAt, ...shape,
        workerComputeMs: response?.computeMs ?? 0,
        bytesFromWorker: response && measuresTraffic ? messageBytes(response) : 0,
        cacheBytesCopied: response?.cacheBytesCopied ?? 0,
        ok: response !== undefined,
      };
      this.notify((o) => o.onBatch?.(observation));
    };
    try {
      const response = await group.pool.run(request, { transfer: transferListOf(requestArrays(request)) });
      observe(response);
      return response.items;
    } catch (error) {
      observe(undefined);
      throw error;
    }
  }

  private notify(call: (observer: EngineObserver) => void): void {
    for (const observer of this.observers) {
      try {
        call(observer);
      } catch {
        // Metrics must never break inference.
      }
    }
  }

  /** Adds a batch/chunk observer (metrics); returns the function that removes it. Never throws. */
  addObserver(observer: EngineObserver): () => void {
    this.observers.add(observer);
    return () => this.observers.delete(observer);
  }

  /** Per device group: workers, open streams, queued work, free memory (if known). */
  deviceLoads(): DeviceLoad[] {
    return this.groups.map((group) => this.loadOf(group));
  }

  private loadOf(group: DeviceGroup): DeviceLoad {
    const workers = group.pool.stats();
    const lanes = [...group.lanes.values()];
    return {
      device: group.options.device,
      languagePairs: lanes.flatMap((lane) => Object.keys(lane.pkg.manifest.languagePairs)),
      workers: workers.length,
      liveWorkers: group.pool.liveCount,
      busyWorkers: workers.filter((worker) => worker.busy).length,
      openStreams: group.openStreams,
      queueDepth: lanes.reduce((sum, lane) => sum + Object.values(lane.batcher.stats()).reduce((n, phase) => n + phase.queueDepth, 0), 0),
      batchesRun: workers.reduce((sum, worker) => sum + worker.batchesRun, 0),
      restarts: group.pool.restarts,
      freeMemoryBytes: this.options.freeMemoryBytes?.(group.options.device) ?? null,
    };
  }

  /**
   * Picks the group for a new stream. Least-loaded: fewest open streams per live worker (a group
   * whose workers are all down is last). Round-robin: the next group serving the pair. Most free
   * memory: the largest free memory; unknown memory or a tie falls back to least-loaded.
   */
  private place(languagePair: string, candidates: DeviceGroup[]): DeviceGroup {
    const loadOf = (group: DeviceGroup): number => (group.pool.liveCount > 0 ? group.openStreams / group.pool.liveCount : Number.POSITIVE_INFINITY);
    const leastLoaded = (groups: DeviceGroup[]): DeviceGroup => groups.reduce((a, b) => (loadOf(b) < loadOf(a) ? b : a));
    const strategy = this.options.placement ?? 'least-loaded';
    if (candidates.length === 1 || strategy === 'least-loaded') return leastLoaded(candidates);
    if (strategy === 'round-robin') {
      const next = this.roundRobinNext.get(languagePair) ?? 0;
      this.roundRobinNext.set(languagePair, (next + 1) % candidates.length);
      return candidates[next % candidates.length] ?? leastLoaded(candidates);
    }
    const free = candidates.map((group) => this.options.freeMemoryBytes?.(group.options.device) ?? null);
    if (free.some((bytes) => bytes === null)) return leastLoaded(candidates);
    const most = Math.max(...free.map((bytes) => bytes ?? 0));
    // Within 1% counts as equal (CPU groups share one free-memory figure).
    return leastLoaded(candidates.filter((_, index) => (free[index] ?? 0) >= most * 0.99));
  }

  languagePairs(): LanguagePairInfo[] {
    const workers = this.groups.flatMap((g) => g.pool.stats());
    return [...this.pairToModel.entries()].map(([languagePair, pkg]) => {
      const group = this.groups.find((g) => g.lanes.has(pkg.manifest.name));
      const worker = workers.find((w) => w.device === group?.options.device);
      return {
        languagePair,
        modelName: pkg.manifest.name,
        device: group?.options.device ?? 'none',
        provider: worker?.provider ?? 'unknown',
        maxLatencyMultiplier: pkg.manifest.audio.maxLatencyMultiplier,
      };
    });
  }

  isServed(languagePair: string): boolean {
    const pkg = this.pairToModel.get(languagePair);
    return pkg !== undefined && this.groups.some((g) => g.lanes.has(pkg.manifest.name));
  }

  openStream(options: { languagePair: string; latencyMultiplier: number; listener?: StreamListener }): TranslationStream {
    if (this.isClosing) throw new AppError('engineClosed');
    const pkg = this.pairToModel.get(options.languagePair);
    const candidates = pkg ? this.groups.filter((g) => g.lanes.has(pkg.manifest.name)) : [];
    if (!pkg || candidates.length === 0) {
      throw new AppError('unsupportedLanguagePair', `language pair "${options.languagePair}" is not served; served: ${[...this.pairToModel.keys()].join(', ')}`);
    }
    // State travels with each batch, so placement only balances load, it does not pin state.
    const group = this.place(options.languagePair, candidates);
    const lane = group.lanes.get(pkg.manifest.name);
    const pair = pkg.manifest.languagePairs[options.languagePair];
    if (!lane || !pair) throw new AppError('internal', 'model lane vanished');
    group.openStreams++;
    this.openStreamCount++;
    const key = randomUUID();
    return new EngineStream(new CarriedStateBackend(lane.translator, key, options.languagePair), {
      key,
      languagePair: options.languagePair,
      latencyMultiplier: options.latencyMultiplier,
      maxLatencyMultiplier: pkg.manifest.audio.maxLatencyMultiplier,
      joiner: pair.targetJoiner,
      highWaterSamples: this.options.streamHighWaterMs * 16,
      maxPendingSamples: this.options.streamMaxPendingMs * 16,
      listener: this.observedListener(options.languagePair, group.options.device, options.listener),
      now: () => performance.now(),
      onChunkSettled: (ok) => (ok ? this.chunksProcessed++ : this.chunkErrors++),
      onClosed: () => {
        group.openStreams--;
        this.openStreamCount--;
      },
    });
  }

  private observedListener(languagePair: string, device: string, listener: StreamListener | undefined): StreamListener {
    return {
      onChunk: (result) => {
        this.notify((o) => o.onChunk?.({ languagePair, device, processingMs: result.processingMs }));
        listener?.onChunk?.(result);
      },
      onError: (error, chunkIndex) => listener?.onError?.(error, chunkIndex),
      onDrain: () => listener?.onDrain?.(),
    };
  }

  batchingSettings(): BatchingSettings {
    return { ...this.batching };
  }

  configureBatching(patch: Partial<BatchingSettings>): BatchingSettings {
    const next = { ...this.batching, ...patch };
    const problems: string[] = [];
    if (!Number.isInteger(next.maxBatchSize) || next.maxBatchSize < 1 || next.maxBatchSize > 1024) problems.push('maxBatchSize must be an integer from 1 to 1024');
    if (!Number.isFinite(next.maxWaitMs) || next.maxWaitMs < 0 || next.maxWaitMs > 10_000) problems.push('maxWaitMs must be from 0 to 10000');
    if (!Number.isInteger(next.maxQueueSize) || next.maxQueueSize < 1) problems.push('maxQueueSize must be a positive integer');
    if (problems.length > 0) throw new AppError('badRequest', problems.join('; '));
    this.batching = next;
    for (const group of this.groups) for (const lane of group.lanes.values()) lane.batcher.configure(next);
    this.options.logger?.info({ batching: next }, 'batching reconfigured');
    return { ...next };
  }

  /** Makes the next batch (of `model`, or of any model) crash or hang its worker: recovery tests and drills. */
  injectWorkerFault(fault: InjectedFault, model?: string): void {
    this.pendingFault = { fault, model };
  }

  stats(): EngineStats {
    const models: EngineStats['models'] = {};
    const many = this.groups.length > 1;
    for (const group of this.groups) {
      for (const [model, lane] of group.lanes) {
        const phases = lane.batcher.stats();
        const empty = { queueDepth: 0, oldestWaitMs: null, batches: 0, items: 0, batchSizeHistogram: {}, flushReasons: { full: 0, timeout: 0, idle: 0 }, computeMsTotal: 0, computeMsMean: 0, waitMsMean: 0, rejected: 0 };
        models[many ? `${model}@${group.options.device}` : model] = {
          languagePairs: Object.keys(lane.pkg.manifest.languagePairs),
          prefill: phases.prefill ?? empty,
          decode: phases.decode ?? empty,
        };
      }
    }
    const workers = this.groups.flatMap((g) => g.pool.stats());
    return {
      batching: this.batchingSettings(),
      models,
      workers,
      workerRestarts: this.groups.reduce((sum, g) => sum + g.pool.restarts, 0),
      openStreams: this.openStreamCount,
      chunksProcessed: this.chunksProcessed,
      chunkErrors: this.chunkErrors,
    };
  }

  async close(graceMs = 10_000): Promise<void> {
    if (this.isClosing) return;
    this.isClosing = true;
    const lanes = this.groups.flatMap((g) => [...g.lanes.values()]);
    // Order: let chunks in progress finish all their decode steps (up to graceMs), then close the
    // batchers (rejecting whatever is still queued), then the workers.
    let timer: NodeJS.Timeout | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, graceMs);
      timer.unref();
    });
    await Promise.race([Promise.allSettled(lanes.map((l) => l.translator.drain())), grace]);
    clearTimeout(timer);
    await Promise.allSettled(lanes.map((l) => l.batcher.close()));
    await Promise.allSettled(this.groups.map((g) => g.pool.close()));
  }
}

/** Builds a ready engine. Throws AppError('modelInvalid') with a clear message when models are missing or broken. */
export function createEngine(options: EngineOptions & PlacementOptions): Promise<ResidentEngine> {
  return ResidentEngine.create(options);
}
