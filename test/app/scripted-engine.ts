/**
 * Test double for ordering/back-pressure only; inference itself is tested on the real engine
 * (see recording-engine.ts and shared-engine.ts). It cuts audio into chunks of 15 360 ×
 * multiplier samples like the real engine and "translates" chunk k into `w<k>`, but only when the
 * test calls `processNext()` (or on the next tick with `autoProcess`). That lets a test hold a
 * chunk mid-flight to observe shutdown ordering and back-pressure pause/resume exactly, and serve
 * no language pair at all — states the real engine cannot be put in deterministically. Each
 * behaviour tested on it is also covered, less precisely, by a real-engine test.
 */
import { AppError } from '../../src/errors.ts';
import type {
  BatchingSettings,
  EngineStats,
  LanguagePairInfo,
  StreamListener,
  TranslationEngine,
  TranslationStream,
} from '../../src/inference/translation-engine.ts';

const defaultPairs = ['English -> Chinese', 'English -> Italian', 'English -> German', 'English -> Spanish'];
const maxLatencyMultiplier = 4;

export interface ScriptedEngineOptions {
  pairs?: string[];
  /** Process queued chunks on the next tick (default false: only `processNext()` does). */
  autoProcess?: boolean;
  highWaterMs?: number;
  maxPendingMs?: number;
  /** The text chunk `index` "translates" into (default `w<index>`). */
  textOf?: (index: number) => string;
}

interface ScriptedChunk {
  samples: number;
  multiplier: number;
  isFinal: boolean;
}

export class ScriptedStream implements TranslationStream {
  readonly languagePair: string;
  private multiplier: number;
  private buffered = 0;
  /** Chunks cut but not yet "translated"; the head is the one a drain would finish. */
  readonly queue: ScriptedChunk[] = [];
  private chunkIndex = 0;
  private consumedSamples = 0;
  private received = 0;
  private text = '';
  private closed = false;
  private isAboveHighWater = false;
  private idleWaiters: (() => void)[] = [];
  private isScheduled = false;

  constructor(
    private readonly engine: ScriptedEngine,
    options: { languagePair: string; latencyMultiplier: number },
    private readonly listener: StreamListener | undefined,
  ) {
    this.languagePair = options.languagePair;
    this.multiplier = options.latencyMultiplier;
  }

  get latencyMultiplier(): number {
    return this.multiplier;
  }
  get pendingAudioMs(): number {
    return this.pendingSamples() / 16;
  }
  get receivedAudioMs(): number {
    return this.received / 16;
  }
  get fullText(): string {
    return this.text;
  }
  get isClosed(): boolean {
    return this.closed;
  }

  setLatencyMultiplier(multiplier: number): void {
    if (!Number.isInteger(multiplier) || multiplier < 1 || multiplier > maxLatencyMultiplier) {
      throw new AppError('badRequest', `latency multiplier must be an integer from 1 to ${maxLatencyMultiplier}`);
    }
    this.multiplier = multiplier;
    this.cut();
  }

  pushAudio(samples: Float32Array): boolean {
    if (this.closed) throw new AppError('engineClosed', 'stream is closed');
    if ((this.pendingSamples() + samples.length) / 16 > this.engine.maxPendingMs) {
      throw new AppError('overloaded', 'too much untranslated audio buffered for this session');
    }
    this.buffered += samples.length;
    this.received += samples.length;
    this.cut();
    this.isAboveHighWater = this.pendingSamples() / 16 > this.engine.highWaterMs;
    return !this.isAboveHighWater;
  }

  flush(): Promise<void> {
    if (this.buffered > 0 && !this.closed) {
      this.queue.push({ samples: this.buffered, multiplier: this.multiplier, isFinal: true });
      this.buffered = 0;
      this.schedule();
    }
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  reset(): void {
    this.queue.length = 0;
    this.buffered = 0;
    this.chunkIndex = 0;
    this.consumedSamples = 0;
    this.received = 0;
    this.text = '';
    this.settle();
  }

  close(): void {
    if (this.closed) return;
    this.reset();
    this.closed = true;
  }

  /** "Translates" the oldest queued chunk into `w<index>`; false when none is queued. */
  processNext(): boolean {
    const chunk = this.queue.shift();
    if (!chunk || this.closed) return false;
    const index = this.chunkIndex++;
    this.consumedSamples += chunk.samples;
    const newText = this.engine.textOf(index);
    const joiner = this.languagePair.includes('Chinese') ? '' : ' ';
    this.text = this.text ? `${this.text}${joiner}${newText}` : newText;
    this.listener?.onChunk?.({
      chunkIndex: index,
      newText,
      fullText: this.text,
      sourceEndMs: this.consumedSamples / 16,
      chunkAudioMs: chunk.samples / 16,
      latencyMultiplier: chunk.multiplier,
      processingMs: 1,
      isFinal: chunk.isFinal,
      contextTokens: 10 * (index + 1),
    });
    if (this.isAboveHighWater && this.pendingSamples() / 16 <= this.engine.highWaterMs) {
      this.isAboveHighWater = false;
      this.listener?.onDrain?.();
    }
    this.settle();
    return true;
  }

  private pendingSamples(): number {
    return this.buffered + this.queue.reduce((sum, chunk) => sum + chunk.samples, 0);
  }

  private cut(): void {
    for (;;) {
      const size = 15_360 * this.multiplier;
      if (this.buffered < size) break;
      this.buffered -= size;
      this.queue.push({ samples: size, multiplier: this.multiplier, isFinal: false });
    }
    this.schedule();
  }

  private schedule(): void {
    if (!this.engine.autoProcess || this.isScheduled || this.queue.length === 0) return;
    this.isScheduled = true;
    setImmediate(() => {
      this.isScheduled = false;
      while (this.processNext()) {
        // drain everything queued
      }
    });
  }

  private settle(): void {
    if (this.queue.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

export class ScriptedEngine implements TranslationEngine {
  readonly streams: ScriptedStream[] = [];
  readonly pairs: string[];
  readonly autoProcess: boolean;
  readonly highWaterMs: number;
  readonly maxPendingMs: number;
  readonly textOf: (index: number) => string;
  private settings: BatchingSettings = { maxBatchSize: 32, maxWaitMs: 100, maxQueueSize: 1024 };
  closedWithGraceMs: number | null = null;
  /** Chunks finished during close() (the "drain" of in-flight work). */
  drainedChunks = 0;

  constructor(options: ScriptedEngineOptions = {}) {
    this.pairs = options.pairs ?? defaultPairs;
    this.autoProcess = options.autoProcess ?? false;
    this.highWaterMs = options.highWaterMs ?? 20_000;
    this.maxPendingMs = options.maxPendingMs ?? 60_000;
    this.textOf = options.textOf ?? ((index) => `w${index}`);
  }

  languagePairs(): LanguagePairInfo[] {
    return this.pairs.map((languagePair) => ({
      languagePair,
      modelName: `scripted-${languagePair}`,
      device: 'cpu',
      provider: 'cpu',
      maxLatencyMultiplier,
    }));
  }

  isServed(languagePair: string): boolean {
    return this.pairs.includes(languagePair);
  }

  openStream(options: { languagePair: string; latencyMultiplier: number; listener?: StreamListener }): TranslationStream {
    if (!this.isServed(options.languagePair)) throw new AppError('unsupportedLanguagePair');
    const stream = new ScriptedStream(this, options, options.listener);
    this.streams.push(stream);
    return stream;
  }

  /** The newest stream (most tests open one). */
  get lastStream(): ScriptedStream {
    const stream = this.streams[this.streams.length - 1];
    if (!stream) throw new Error('no stream opened');
    return stream;
  }

  stats(): EngineStats {
    const phase = {
      queueDepth: 0,
      oldestWaitMs: null,
      batches: 0,
      items: 0,
      batchSizeHistogram: {},
      flushReasons: { full: 0, timeout: 0, idle: 0 },
      computeMsTotal: 0,
      computeMsMean: 0,
      waitMsMean: 0,
      rejected: 0,
    };
    return {
      batching: this.batchingSettings(),
      models: Object.fromEntries(this.pairs.map((pair) => [`scripted-${pair}`, { languagePairs: [pair], prefill: phase, decode: phase }])),
      workers: [{ id: 0, device: 'cpu', provider: 'cpu', busy: false, restarts: 0, batchesRun: 0 }],
      workerRestarts: 0,
      openStreams: this.streams.filter((stream) => !stream.isClosed).length,
      chunksProcessed: 0,
      chunkErrors: 0,
    };
  }

  batchingSettings(): BatchingSettings {
    return { ...this.settings };
  }

  configureBatching(patch: Partial<BatchingSettings>): BatchingSettings {
    this.settings = { ...this.settings, ...patch };
    return { ...this.settings };
  }

  /** The drain: finishes the chunk at the head of every open stream (the "in-flight" one), then stops. */
  async close(graceMs?: number): Promise<void> {
    this.closedWithGraceMs = graceMs ?? null;
    for (const stream of this.streams) {
      if (!stream.isClosed && stream.processNext()) this.drainedChunks++;
    }
  }
}
