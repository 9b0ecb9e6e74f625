import { AppError, isAppError } from '../errors.ts';
import { chunkSamples, type ModelManifest } from './manifest.ts';
import type { ChunkDone } from './messages.ts';
import type { StreamListener, TranslationStream } from './translation-engine.ts';

/** Where a stream's chunks are translated and its model context is kept. */
export interface ChunkBackend {
  readonly manifest: ModelManifest;
  /** Translates the next chunk with the stream's context and advances it. */
  translate(audio: Float32Array, multiplier: number): Promise<ChunkDone>;
  /** Fresh context; a chunk in flight stops at its next step (its result is never delivered). */
  reset(): void;
  /** Releases the context; a chunk in flight stops at its next step. */
  close(): void;
}

const SAMPLES_PER_MS = 16;

interface QueuedChunk {
  audio: Float32Array;
  multiplier: number;
  realSamples: number;
  isFinal: boolean;
  completedAt: number;
}

export interface EngineStreamOptions {
  key: string;
  languagePair: string;
  latencyMultiplier: number;
  maxLatencyMultiplier: number;
  joiner: string;
  highWaterSamples: number;
  maxPendingSamples: number;
  listener?: StreamListener;
  now: () => number;
  onChunkSettled: (ok: boolean) => void;
  onClosed: () => void;
}

function validMultiplier(value: number, max: number): number {
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new AppError('badRequest', `latency multiplier must be an integer from 1 to ${max}, got ${value}`);
  }
  return value;
}

/**
 * One session's audio-to-text pipeline: buffers audio into whole chunks of 960 ms × multiplier
 * (never padding mid-stream, unlike the original), translates them strictly in order, one at a
 * time, and reports the cumulative text after each.
 */
export class EngineStream implements TranslationStream {
  readonly languagePair: string;
  private multiplier: number;
  /**
   * Audio not yet cut into a chunk: `tail[tailStart, tailStart + buffered)`, one growable buffer,
   * so a flood of tiny frames costs no object per frame.
   */
  private tail = new Float32Array(0);
  private tailStart = 0;
  private buffered = 0;
  private readonly queue: QueuedChunk[] = [];
  private inFlightSamples = 0;
  private isRunning = false;
  private stateBytes = 0;
  private generation = 0;
  private chunkIndex = 0;
  private consumedSamples = 0;
  private received = 0;
  private text = '';
  private closed = false;
  private isAboveHighWater = false;
  private idleWaiters: (() => void)[] = [];

  constructor(
    private readonly backend: ChunkBackend,
    private readonly options: EngineStreamOptions,
  ) {
    this.languagePair = options.languagePair;
    this.multiplier = validMultiplier(options.latencyMultiplier, options.maxLatencyMultiplier);
  }

  get latencyMultiplier(): number {
    return this.multiplier;
  }
  get pendingAudioMs(): number {
    return this.unprocessedSamples() / SAMPLES_PER_MS;
  }
  get receivedAudioMs(): number {
    return this.received / SAMPLES_PER_MS;
  }
  get fullText(): string {
    return this.text;
  }
  get isClosed(): boolean {
    return this.closed;
  }
  /** Bytes of model state (encoder + decoder caches) held between chunks, as of the last chunk. */
  get modelStateBytes(): number {
    return this.stateBytes;
  }

  setLatencyMultiplier(multiplier: number): void {
    this.multiplier = validMultiplier(multiplier, this.options.maxLatencyMultiplier);
    this.cutChunks();
    this.pump();
  }

  pushAudio(samples: Float32Array): boolean {
    if (this.closed) throw new AppError('engineClosed', 'stream is closed');
    if (samples.length === 0) return !this.isAboveHighWater;
    if (this.unprocessedSamples() + samples.length > this.options.maxPendingSamples) {
      throw new AppError('overloaded', `too much untranslated audio buffered for this session (limit ${this.options.maxPendingSamples / SAMPLES_PER_MS} ms); slow down`);
    }
    // Copied: the caller's array may be a view into a socket buffer that gets reused.
    this.appendToTail(samples);
    this.received += samples.length;
    this.cutChunks();
    this.pump();
    this.isAboveHighWater = this.chunkedSamples() > this.options.highWaterSamples;
    return !this.isAboveHighWater;
  }

  flush(): Promise<void> {
    if (this.buffered > 0 && !this.closed) {
      const size = chunkSamples(this.backend.manifest, this.multiplier);
      // The padded tail is a whole chunk of work: it counts in full against the limit, so that
      // pairs of a 1-sample frame and EOF cannot queue unbounded work while counting 1 sample each.
      if (this.unprocessedSamples() - this.buffered + Math.max(size, this.buffered) > this.options.maxPendingSamples) {
        return Promise.reject(new AppError('overloaded', `too much untranslated audio queued for this session (limit ${this.options.maxPendingSamples / SAMPLES_PER_MS} ms); wait for the text before ending another segment`));
      }
      const realSamples = this.buffered;
      const audio = new Float32Array(Math.max(size, realSamples));
      this.takeInto(audio, realSamples);
      this.queue.push({ audio, multiplier: this.multiplier, realSamples, isFinal: true, completedAt: this.options.now() });
      this.pump();
    }
    if (!this.isRunning && this.queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  reset(): void {
    this.clear();
    this.backend.reset();
    this.settleIfIdle();
  }

  close(): void {
    if (this.closed) return;
    this.clear();
    this.backend.close();
    this.closed = true;
    this.settleIfIdle();
    this.options.onClosed();
  }

  whenIdle(): Promise<void> | null {
    if (!this.isRunning) return null;
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Drops queued audio and text; results of the chunk in flight will be ignored. */
  private clear(): void {
    this.generation++;
    this.queue.length = 0;
    this.tail = new Float32Array(0);
    this.tailStart = 0;
    this.buffered = 0;
    this.stateBytes = 0;
    this.chunkIndex = 0;
    this.consumedSamples = 0;
    this.received = 0;
    this.text = '';
  }

  /**
   * Audio cut into chunks and not yet translated (queued and in flight): the back-pressure
   * measure. The partial tail is left out — it only shrinks when more audio arrives, so with a
   * high-water mark below one chunk, counting it would pause reading for good.
   */
  private chunkedSamples(): number {
    return this.unprocessedSamples() - this.buffered;
  }

  /** Work held by the stream in samples: queued and in-flight chunks at their padded size. */
  private unprocessedSamples(): number {
    return this.buffered + this.queue.reduce((sum, c) => sum + c.audio.length, 0) + this.inFlightSamples;
  }

  private appendToTail(samples: Float32Array): void {
    const needed = this.buffered + samples.length;
    if (this.tailStart + needed > this.tail.length) {
      // Compact (and grow if needed) only when the end is reached: amortised O(1) per sample.
      if (needed > this.tail.length) {
        const grown = new Float32Array(Math.max(needed, 2 * this.tail.length, 4096));
        grown.set(this.tail.subarray(this.tailStart, this.tailStart + this.buffered));
        this.tail = grown;
      } else {
        this.tail.copyWithin(0, this.tailStart, this.tailStart + this.buffered);
      }
      this.tailStart = 0;
    }
    this.tail.set(samples, this.tailStart + this.buffered);
    this.buffered = needed;
  }

  /** Moves the first `count` buffered samples into `target`. */
  private takeInto(target: Float32Array, count: number): void {
    const taken = Math.min(count, this.buffered);
    target.set(this.tail.subarray(this.tailStart, this.tailStart + taken));
    this.tailStart += taken;
    this.buffered -= taken;
    if (this.buffered === 0) this.tailStart = 0;
  }

  private cutChunks(): void {
    for (;;) {
      const size = chunkSamples(this.backend.manifest, this.multiplier);
      if (this.buffered < size) return;
      const audio = new Float32Array(size);
      this.takeInto(audio, size);
      this.queue.push({ audio, multiplier: this.multiplier, realSamples: size, isFinal: false, completedAt: this.options.now() });
    }
  }

  private pump(): void {
    if (this.isRunning || this.closed) return;
    const chunk = this.queue.shift();
    if (!chunk) return;
    this.isRunning = true;
    this.inFlightSamples = chunk.audio.length;
    void this.process(chunk).finally(() => {
      this.isRunning = false;
      this.inFlightSamples = 0;
      if (this.isAboveHighWater && this.chunkedSamples() <= this.options.highWaterSamples) {
        this.isAboveHighWater = false;
        this.options.listener?.onDrain?.();
      }
      this.pump();
      this.settleIfIdle();
    });
  }

  private async process(chunk: QueuedChunk): Promise<void> {
    const generation = this.generation;
    const index = this.chunkIndex++;
    try {
      const result = await this.backend.translate(chunk.audio, chunk.multiplier);
      if (generation !== this.generation || this.closed) return;
      this.stateBytes = result.stateBytes;
      this.consumedSamples += chunk.realSamples;
      if (result.text) this.text = this.text ? `${this.text}${this.options.joiner}${result.text}` : result.text;
      this.options.onChunkSettled(true);
      this.options.listener?.onChunk?.({
        chunkIndex: index,
        newText: result.text,
        fullText: this.text,
        sourceEndMs: this.consumedSamples / SAMPLES_PER_MS,
        chunkAudioMs: chunk.realSamples / SAMPLES_PER_MS,
        latencyMultiplier: chunk.multiplier,
        processingMs: this.options.now() - chunk.completedAt,
        isFinal: chunk.isFinal,
        contextTokens: result.contextTokens,
      });
    } catch (error) {
      if (generation !== this.generation || this.closed) return;
      this.consumedSamples += chunk.realSamples;
      this.options.onChunkSettled(false);
      const appError = isAppError(error) ? error : new AppError('internal', 'translation failed', { cause: error });
      this.options.listener?.onError?.(appError, index);
    }
  }

  private settleIfIdle(): void {
    if (this.isRunning || this.queue.length > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
