/**
 * A deterministic in-process TranslationEngine for server tests: it cuts audio into chunks of
 * 15 360 × multiplier samples like the real engine, "translates" chunk k of a stream into
 * `w<k>` (or a text chosen by the test), and can fail or hold chunks on demand. With
 * `autoProcess: false` chunks wait until the test calls `processNext()`, which makes
 * back-pressure and shutdown ordering observable without timing assumptions.
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

export const defaultPairs = ['English -> Chinese', 'English -> Italian', 'English -> German', 'English -> Spanish'];

export interface FakeEngineOptions {
  pairs?: string[];
  maxLatencyMultiplier?: number;
  autoProcess?: boolean;
  highWaterMs?: number;
  maxPendingMs?: number;
  /** Text for chunk `index`; '' = the model waited. Default `w<index>`. */
  textFor?: (index: number, languagePair: string) => string;
  /** Chunk indexes (per stream) that fail with AppError('workerFailed'). */
  failChunks?: ReadonlySet<number>;
}

interface FakeChunk {
  samples: number;
  multiplier: number;
  isFinal: boolean;
}

export class FakeStream implements TranslationStream {
  readonly languagePair: string;
  latencyMultiplierValue: number;
  private buffered = 0;
  readonly queue: FakeChunk[] = [];
  private chunkIndex = 0;
  private consumedSamples = 0;
  private received = 0;
  private text = '';
  private closed = false;
  private isAboveHighWater = false;
  private idleWaiters: (() => void)[] = [];
  private scheduled = false;
  resets = 0;
  readonly multiplierChanges: number[] = [];
  readonly processedMultipliers: number[] = [];

  constructor(
    private readonly engine: FakeEngine,
    options: { languagePair: string; latencyMultiplier: number; listener?: StreamListener },
    private readonly listener: StreamListener | undefined = options.listener,
  ) {
    this.languagePair = options.languagePair;
    this.latencyMultiplierValue = options.latencyMultiplier;
  }

  get latencyMultiplier(): number {
    return this.latencyMultiplierValue;
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
    if (!Number.isInteger(multiplier) || multiplier < 1 || multiplier > this.engine.maxLatencyMultiplier) {
      throw new AppError('badRequest', `latency multiplier must be an integer from 1 to ${this.engine.maxLatencyMultiplier}`);
    }
    this.latencyMultiplierValue = multiplier;
    this.multiplierChanges.push(multiplier);
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
      this.queue.push({ samples: this.buffered, multiplier: this.latencyMultiplierValue, isFinal: true });
      this.buffered = 0;
      this.schedule();
    }
    if (this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  reset(): void {
    this.resets++;
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

  /** Processes the oldest queued chunk; false when none is queued. */
  processNext(): boolean {
    const chunk = this.queue.shift();
    if (!chunk || this.closed) return false;
    const index = this.chunkIndex++;
    this.consumedSamples += chunk.samples;
    this.processedMultipliers.push(chunk.multiplier);
    if (this.engine.failChunks.has(index)) {
      this.listener?.onError?.(new AppError('workerFailed', `Inference worker failed on chunk ${index}`), index);
    } else {
      const newText = this.engine.textFor(index, this.languagePair);
      const joiner = this.languagePair.includes('Chinese') ? '' : ' ';
      if (newText) this.text = this.text ? `${this.text}${joiner}${newText}` : newText;
      this.listener?.onChunk?.({
        chunkIndex: index,
        newText,
        fullText: this.text,
        sourceEndMs: this.consumedSamples / 16,
        chunkAudioMs: chunk.samples / 16,
        latencyMultiplier: chunk.multiplier,
        processingMs: 1,
        isFinal: chunk.isFinal,
      });
    }
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
      const size = 15_360 * this.latencyMultiplierValue;
      if (this.buffered < size) break;
      this.buffered -= size;
      this.queue.push({ samples: size, multiplier: this.latencyMultiplierValue, isFinal: false });
    }
    this.schedule();
  }

  private schedule(): void {
    if (!this.engine.autoProcess || this.scheduled || this.queue.length === 0) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
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

export class FakeEngine implements TranslationEngine {
  readonly streams: FakeStream[] = [];
  readonly pairs: string[];
  readonly maxLatencyMultiplier: number;
  readonly autoProcess: boolean;
  readonly highWaterMs: number;
  readonly maxPendingMs: number;
  readonly textFor: (index: number, languagePair: string) => string;
  failChunks: ReadonlySet<number>;
  private settings: BatchingSettings = { maxBatchSize: 32, maxWaitMs: 100, maxQueueSize: 1024 };
  closedWithGraceMs: number | null = null;
  /** Chunks processed during close() (the "drain"). */
  drainedChunks = 0;

  constructor(options: FakeEngineOptions = {}) {
    this.pairs = options.pairs ?? defaultPairs;
    this.maxLatencyMultiplier = options.maxLatencyMultiplier ?? 4;
    this.autoProcess = options.autoProcess ?? true;
    this.highWaterMs = options.highWaterMs ?? 20_000;
    this.maxPendingMs = options.maxPendingMs ?? 60_000;
    this.textFor = options.textFor ?? ((index) => `w${index}`);
    this.failChunks = options.failChunks ?? new Set();
  }

  languagePairs(): LanguagePairInfo[] {
    return this.pairs.map((languagePair) => ({
      languagePair,
      modelName: `fake-${languagePair}`,
      device: 'cpu',
      provider: 'cpu',
      maxLatencyMultiplier: this.maxLatencyMultiplier,
    }));
  }

  isServed(languagePair: string): boolean {
    return this.pairs.includes(languagePair);
  }

  openStream(options: { languagePair: string; latencyMultiplier: number; listener?: StreamListener }): TranslationStream {
    if (!this.isServed(options.languagePair)) throw new AppError('unsupportedLanguagePair');
    const stream = new FakeStream(this, options);
    this.streams.push(stream);
    return stream;
  }

  /** The newest stream (most tests open one). */
  get lastStream(): FakeStream {
    const stream = this.streams[this.streams.length - 1];
    if (!stream) throw new Error('no stream opened');
    return stream;
  }

  stats(): EngineStats {
    const phase = {
      queueDepth: 0,
      batches: 3,
      items: 5,
      batchSizeHistogram: { '1': 1, '2': 2 },
      flushReasons: { full: 1, timeout: 2, idle: 0 },
      computeMsTotal: 30,
      computeMsMean: 10,
      waitMsMean: 5,
      rejected: 0,
    };
    return {
      batching: this.batchingSettings(),
      models: { 'fake-model': { languagePairs: this.pairs, prefill: phase, decode: phase } },
      workers: [{ id: 0, device: 'cpu', provider: 'cpu', busy: false, restarts: 0, batchesRun: 6 }],
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
    const next = { ...this.settings, ...patch };
    if (!Number.isInteger(next.maxBatchSize) || next.maxBatchSize < 1) throw new AppError('badRequest', 'maxBatchSize must be ≥ 1');
    if (!(next.maxWaitMs >= 0)) throw new AppError('badRequest', 'maxWaitMs must be ≥ 0');
    this.settings = next;
    return { ...next };
  }

  /** Drains: processes the chunk at the head of every open stream (the "in-flight" one), then stops. */
  async close(graceMs?: number): Promise<void> {
    this.closedWithGraceMs = graceMs ?? null;
    for (const stream of this.streams) {
      if (!stream.isClosed && stream.processNext()) this.drainedChunks++;
    }
  }
}
