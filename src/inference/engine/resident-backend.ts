/**
 * One stream's side of the engine: its chunks go to the worker that hosts its context; after that
 * worker died, placement picks another and the context starts afresh there.
 */
import type { DeviceGroupOptions } from '../engine-options.ts';
import { AppError } from '../../errors.ts';
import type { ModelPackage } from '../manifest.ts';
import type { ChunkDone } from '../messages.ts';
import type { ChunkBackend } from '../translation-stream.ts';
import type { Engine } from './engine.ts';
import type { WorkerHandle } from './worker-handle.ts';

/** One device group: its workers and the models they all load. */
export interface DeviceGroup {
  options: DeviceGroupOptions;
  /** What the group is called outside the engine: its device, or what it fell back to (runningGroupName). */
  name: string;
  workers: WorkerHandle[];
  models: Map<string, ModelPackage>;
  openStreams: number;
  /** Sessions each worker of the group has memory for (planSessionSlots). */
  slotsPerWorker: number;
  /** Chunks waiting for any worker of the group to be live again. */
  liveWaiters: Set<() => void>;
}

/** A stream's chunks go to the worker that hosts its context; after that worker died, to another. */
export class ResidentBackend implements ChunkBackend {
  private worker: WorkerHandle | undefined;
  private seq = 0;

  constructor(
    private readonly engine: Engine,
    private readonly group: DeviceGroup,
    private readonly pkg: ModelPackage,
    private readonly key: string,
    private readonly languagePair: string,
  ) {}

  get manifest(): ModelPackage['manifest'] {
    return this.pkg.manifest;
  }

  async translate(audio: Float32Array, multiplier: number): Promise<ChunkDone> {
    if (this.engine.closing) throw new AppError('engineClosed', 'the engine is shutting down');
    // A worker that died forgot the session: its next chunk starts a fresh context wherever placed.
    if (!this.worker || this.worker.state !== 'live' || !this.worker.hosts(this.key)) this.worker = await this.engine.placeSession(this.group, this.key);
    const model = this.pkg.manifest.name;
    this.engine.takeFaultFor(model, this.worker, this.key);
    return this.worker.translate({ stream: this.key, model, languagePair: this.languagePair, seq: this.seq++, audio, multiplier });
  }

  reset(): void {
    this.worker?.resetSession(this.key);
  }

  close(): void {
    this.worker?.closeSession(this.key);
    this.worker = undefined;
  }
}
