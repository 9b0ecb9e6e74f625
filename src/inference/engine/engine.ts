/**
 * Main thread: the engine whose sessions live in their worker. It loads the manifests, starts the
 * workers of each device group, places every session on one worker when its first chunk arrives
 * (the least loaded live worker of its group) and routes its chunks there; it reports batches and
 * statistics. It never touches a tensor: per decode step nothing crosses threads but a small batch
 * observation, and per chunk the audio goes in and the text comes out.
 */
import { randomUUID } from 'node:crypto';
import { validateBatchSettings } from '../../batching/batch-settings.ts';
import { AppError } from '../../errors.ts';
import type { EngineOptions } from '../engine-options.ts';
import type { BatchObservation, DeviceLoad, EngineObserver, PlacementOptions } from './observation.ts';
import type { ModelPackage } from '../manifest.ts';
import { choosePairServers, discoverPackages } from './model-discovery.ts';
import { checkProviderFallbacks, planGroupMemory, runningGroupName } from './group-startup.ts';
import type { WorkerFault, StepObservation } from '../messages.ts';
import type { BatchingSettings, EngineStats, LanguagePairInfo, StreamListener, TranslationEngine, TranslationStream } from '../translation-engine.ts';
import { EngineStream } from '../translation-stream.ts';
import { deviceLoadsOf, modelStatsOf, workerStatsOf } from './engine-stats.ts';
import { ResidentBackend, type DeviceGroup } from './resident-backend.ts';
import type { WorkerData } from '../worker/worker-main.ts';
import { WorkerHandle } from './worker-handle.ts';
import { GroupChooser, placeOnWorker } from './placement.ts';

export type { BatchObservation, DeviceLoad, EngineObserver, PlacementOptions, PlacementStrategy } from './observation.ts';

const WORKER_SCRIPT = new URL('../worker/worker-main.ts', import.meta.url);

export class Engine implements TranslationEngine {
  private openStreamCount = 0;
  private chunksProcessed = 0;
  private chunkErrors = 0;
  private isClosing = false;
  private readonly observers = new Set<EngineObserver>();
  private readonly groupChooser: GroupChooser;
  /** A fault for the next chunk of `model` (or of any model), sent to the worker that gets it. */
  private pendingFault: { fault: WorkerFault; model: string | undefined } | undefined;
  private batching: BatchingSettings;

  private constructor(
    private readonly options: EngineOptions & PlacementOptions,
    private readonly groups: DeviceGroup[],
    /** The package serving each language pair (choosePairServers). */
    private readonly pairToModel: ReadonlyMap<string, ModelPackage>,
  ) {
    this.batching = { ...options.batching };
    this.groupChooser = new GroupChooser(options);
  }

  /** Loads every package, starts the workers (they load the graphs) and resolves when all are ready. */
  static async create(options: EngineOptions & PlacementOptions): Promise<Engine> {
    validateBatchSettings(options.batching);
    const discovered = await discoverPackages(options);
    const groups: DeviceGroup[] = [];
    const { pairToModel, packages } = choosePairServers(discovered, options.logger);
    const engine = new Engine(options, groups, pairToModel);
    try {
      for (const groupOptions of options.devices) {
        const served = packages.filter((pkg) => !groupOptions.languagePairs?.length || Object.keys(pkg.manifest.languagePairs).some((p) => groupOptions.languagePairs?.includes(p)));
        if (served.length === 0) continue;
        const slotsPerWorker = await planGroupMemory(served, groupOptions, options);
        const group: DeviceGroup = { options: groupOptions, name: groupOptions.device, workers: [], models: new Map(served.map((pkg) => [pkg.manifest.name, pkg])), openStreams: 0, slotsPerWorker, liveWaiters: new Set() };
        groups.push(group);
        for (let index = 0; index < groupOptions.workers; index++) group.workers.push(engine.newWorker(group, index, served));
        const started = await Promise.allSettled(group.workers.map((worker) => worker.start()));
        const failure = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
        if (failure) throw failure.reason;
        options.logger?.info({ device: groupOptions.device, workers: group.workers.map((w) => ({ id: w.index, provider: w.info?.provider })) }, 'workers started');
        checkProviderFallbacks(groupOptions.device, group.workers, options);
        group.name = runningGroupName(groupOptions.device, group.workers);
      }
    } catch (error) {
      await Promise.allSettled(groups.flatMap((group) => group.workers.map((worker) => worker.close(0))));
      throw error;
    }
    if (groups.length === 0) throw new AppError('modelInvalid', 'no device group serves any loaded language pair; check the devices section of the config');
    for (const info of engine.languagePairs()) options.logger?.info({ ...info }, 'language pair ready');
    const demos = engine.languagePairs().filter((info) => info.isDemo).map((info) => `${info.languagePair} (${info.modelName})`);
    if (demos.length > 0) {
      options.logger?.warn({ demoModels: demos }, `demo models: ${demos.join(', ')} have random weights and do not translate; export a real model for translations (docs/real-models.md)`);
    }
    return engine;
  }

  private newWorker(group: DeviceGroup, index: number, served: ModelPackage[]): WorkerHandle {
    return new WorkerHandle({
      index,
      label: `inference worker models@${group.options.device}#${index}`,
      script: WORKER_SCRIPT,
      workerData: (): WorkerData => ({
        packageDirs: served.map((pkg) => pkg.dir),
        providers: this.options.executionProviders ?? [],
        device: group.options.device,
        intraOpThreads: group.options.intraOpThreads,
        ...(this.options.beamSize !== undefined ? { beamSize: this.options.beamSize } : {}),
        batching: this.batching,
      }),
      deadlineMs: this.options.requestDeadlineMs,
      ...(this.options.logger ? { logger: this.options.logger } : {}),
      measuresTraffic: () => this.measuresTraffic(),
      onBatch: (observation, worker) => this.observeBatch(group, worker, observation),
      onLive: () => {
        const waiters = [...group.liveWaiters];
        group.liveWaiters.clear();
        for (const wake of waiters) wake();
      },
    });
  }

  /**
   * Bytes of every message between this thread and the workers (chunks, results, batch reports),
   * counted while an observer sets `measuresTraffic` (the benchmark).
   */
  threadTraffic(): { toWorkers: number; fromWorkers: number } {
    const workers = this.groups.flatMap((group) => group.workers);
    return {
      toWorkers: workers.reduce((sum, worker) => sum + worker.trafficToWorker, 0),
      fromWorkers: workers.reduce((sum, worker) => sum + worker.trafficFromWorker, 0),
    };
  }

  private measuresTraffic(): boolean {
    for (const observer of this.observers) if (observer.measuresTraffic === true) return true;
    return false;
  }

  private observeBatch(group: DeviceGroup, worker: WorkerHandle, step: StepObservation): void {
    if (this.observers.size === 0) return;
    const { failedItems, ...batch } = step;
    const observation: BatchObservation = { ...batch, device: group.name, ok: failedItems === 0 };
    this.notify((o) => o.onBatch?.(observation));
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

  deviceLoads(): DeviceLoad[] {
    return deviceLoadsOf(this.groups, this.options.freeMemoryBytes);
  }

  /** The worker that hosts a session from its next chunk on (see placement.ts). */
  placeSession(group: DeviceGroup, stream: string): Promise<WorkerHandle> {
    return placeOnWorker(group, stream, { deadlineMs: this.options.requestDeadlineMs, isClosing: () => this.isClosing });
  }

  /** Sends the armed fault, if it is for this model, to the worker about to run its chunk. */
  takeFaultFor(model: string, worker: WorkerHandle, stream: string): void {
    const pending = this.pendingFault;
    if (!pending || (pending.model !== undefined && pending.model !== model)) return;
    this.pendingFault = undefined;
    worker.send({ kind: 'fault', fault: pending.fault, model, stream });
  }

  /** Sessions the device groups have memory for: every worker's slots. */
  sessionSlots(): number {
    return this.groups.reduce((sum, group) => sum + group.slotsPerWorker * group.workers.length, 0);
  }

  languagePairs(): LanguagePairInfo[] {
    return [...this.pairToModel.entries()].map(([languagePair, pkg]) => {
      const group = this.groups.find((g) => g.models.has(pkg.manifest.name));
      const worker = group?.workers.find((w) => w.info !== null);
      return {
        languagePair,
        modelName: pkg.manifest.name,
        device: group?.name ?? 'none',
        provider: worker?.info?.provider ?? 'unknown',
        maxLatencyMultiplier: pkg.manifest.audio.maxLatencyMultiplier,
        isDemo: pkg.manifest.demo,
      };
    });
  }

  isServed(languagePair: string): boolean {
    const pkg = this.pairToModel.get(languagePair);
    return pkg !== undefined && this.groups.some((g) => g.models.has(pkg.manifest.name));
  }

  openStream(options: { languagePair: string; latencyMultiplier: number; listener?: StreamListener }): TranslationStream {
    if (this.isClosing) throw new AppError('engineClosed');
    const pkg = this.pairToModel.get(options.languagePair);
    const candidates = pkg ? this.groups.filter((g) => g.models.has(pkg.manifest.name)) : [];
    const pair = pkg?.manifest.languagePairs[options.languagePair];
    if (!pkg || !pair || candidates.length === 0) {
      throw new AppError('unsupportedLanguagePair', `language pair "${options.languagePair}" is not served; served: ${[...this.pairToModel.keys()].join(', ')}`);
    }
    const group = this.groupChooser.choose(options.languagePair, candidates);
    const key = randomUUID();
    const stream = new EngineStream(new ResidentBackend(this, group, pkg, key, options.languagePair), {
      key,
      languagePair: options.languagePair,
      latencyMultiplier: options.latencyMultiplier,
      maxLatencyMultiplier: pkg.manifest.audio.maxLatencyMultiplier,
      joiner: pair.targetJoiner,
      highWaterSamples: this.options.streamHighWaterMs * 16,
      maxPendingSamples: this.options.streamMaxPendingMs * 16,
      listener: this.observedListener(options.languagePair, group.name, options.listener),
      now: () => performance.now(),
      onChunkSettled: (ok) => (ok ? this.chunksProcessed++ : this.chunkErrors++),
      onClosed: () => {
        group.openStreams--;
        this.openStreamCount--;
      },
    });
    group.openStreams++;
    this.openStreamCount++;
    return stream;
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

  get closing(): boolean {
    return this.isClosing;
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
    // Every worker batches its own sessions: each gets the settings (and a replacement reads them at start).
    for (const group of this.groups) for (const worker of group.workers) worker.send({ kind: 'configure', batching: next });
    this.options.logger?.info({ batching: next }, 'batching reconfigured');
    return { ...next };
  }

  /** Makes the next chunk's batch of `model` (or of any model) crash or hang its worker: recovery tests and drills. */
  injectWorkerFault(fault: WorkerFault, model?: string): void {
    this.pendingFault = { fault, model };
  }

  stats(): EngineStats {
    const workers = workerStatsOf(this.groups);
    return {
      batching: this.batchingSettings(),
      models: modelStatsOf(this.groups),
      workers,
      workerRestarts: workers.reduce((sum, worker) => sum + worker.restarts, 0),
      openStreams: this.openStreamCount,
      chunksProcessed: this.chunksProcessed,
      chunkErrors: this.chunkErrors,
    };
  }

  /** Stops admitting streams, lets chunks in progress finish (up to graceMs), then stops the workers. */
  async close(graceMs = 10_000): Promise<void> {
    if (this.isClosing) return;
    this.isClosing = true;
    for (const group of this.groups) {
      for (const wake of group.liveWaiters) wake();
      group.liveWaiters.clear();
    }
    await Promise.allSettled(this.groups.flatMap((group) => group.workers.map((worker) => worker.close(graceMs))));
  }
}

/** Builds a ready engine. Throws AppError('modelInvalid') with a clear message when models are missing or broken. */
export function createEngine(options: EngineOptions & PlacementOptions): Promise<Engine> {
  return Engine.create(options);
}
