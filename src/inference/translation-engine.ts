/**
 * The engine's public face: what sessions and the server may use. Everything behind it (model
 * packages, worker pool, batchers, decoding) is an implementation detail of `inference/` and
 * `batching/`. No Fastify, no WebSocket here.
 */

/** One finished chunk of a stream: the translation grew (or not) by `newText`. */
export interface ChunkResult {
  /** 0-based index of the chunk within the stream since it was opened or last reset. */
  chunkIndex: number;
  /** Text this chunk added (may be empty: the model chose to wait). */
  newText: string;
  /** The whole translation so far, chunk texts joined with the pair's joiner. */
  fullText: string;
  /** Source audio consumed by the stream when this text was produced, in ms (end of this chunk). */
  sourceEndMs: number;
  /** Real (non-padding) audio in this chunk, in ms. */
  chunkAudioMs: number;
  /** Latency multiplier this chunk was processed with. */
  latencyMultiplier: number;
  /** Milliseconds from the chunk being complete (all its audio received) to its text being ready. */
  processingMs: number;
  /** True if this chunk was the padded tail flushed by `flush()`. */
  isFinal: boolean;
  /** Tokens of model context (decoder cache) the stream holds after this chunk, after trimming. */
  contextTokens: number;
}

export interface StreamListener {
  /** Called once per processed chunk, in chunk order, even when `newText` is empty. */
  onChunk?(result: ChunkResult): void;
  /** A chunk failed; the stream keeps working on later chunks. The error is an `AppError`. */
  onError?(error: Error, chunkIndex: number): void;
  /** Pending audio fell back under the high-water mark after `pushAudio` returned false. */
  onDrain?(): void;
}

export interface TranslationStream {
  readonly languagePair: string;
  /** Multiplier (1..maxLatencyMultiplier) used for the next chunk that starts. */
  readonly latencyMultiplier: number;
  /** Takes effect on the next chunk (a chunk already being cut keeps its size). */
  setLatencyMultiplier(multiplier: number): void;
  /**
   * Appends 16 kHz mono samples. Whole chunks are queued for translation in order. Returns false
   * when the stream holds more than its high-water mark of unprocessed audio: the caller should
   * stop reading until `onDrain`. Throws `AppError('overloaded')` past the hard limit (nothing of
   * that frame is kept).
   */
  pushAudio(samples: Float32Array): boolean;
  /** Pads the partial tail to a whole chunk, processes it, and resolves after every queued chunk. */
  flush(): Promise<void>;
  /** Clears text and model state; chunks already queued are dropped; their results are never delivered. */
  reset(): void;
  /** Stops the stream and releases its model state. Pending chunks are dropped. */
  close(): void;
  /**
   * When a chunk of this stream is still being translated (after `close`, until it stops at its
   * next step): a promise settled once it is done; null when nothing is in flight. Optional: a
   * stream without it is taken as never busy.
   */
  whenIdle?(): Promise<void> | null;
  /** Audio received but not yet translated, in ms. */
  readonly pendingAudioMs: number;
  /** Total audio received since open/reset, in ms. */
  readonly receivedAudioMs: number;
  readonly fullText: string;
  readonly isClosed: boolean;
}

export interface LanguagePairInfo {
  languagePair: string;
  modelName: string;
  /** Device the pair's model runs on, e.g. "cpu" or "cuda:0". */
  device: string;
  /** Execution provider that actually loaded (after any fallback). */
  provider: string;
  maxLatencyMultiplier: number;
  /** The package is a random-weight demo (manifest `demo`): its output is not a translation. */
  isDemo?: boolean;
}

export interface BatchingSettings {
  maxBatchSize: number;
  maxWaitMs: number;
  maxQueueSize: number;
}

export interface PhaseStats {
  queueDepth: number;
  /** How long the oldest queued item has waited, in ms; null when the queue is empty. */
  oldestWaitMs: number | null;
  batches: number;
  items: number;
  /** Histogram: batch size (as string key) -> count. */
  batchSizeHistogram: Record<string, number>;
  flushReasons: { full: number; timeout: number; idle: number };
  computeMsTotal: number;
  computeMsMean: number;
  waitMsMean: number;
  rejected: number;
}

export interface WorkerStats {
  id: number;
  device: string;
  provider: string;
  busy: boolean;
  restarts: number;
  batchesRun: number;
}

export interface EngineStats {
  batching: BatchingSettings;
  /** Per model: prefill and decode phase statistics. */
  models: Record<string, { languagePairs: string[]; prefill: PhaseStats; decode: PhaseStats }>;
  workers: WorkerStats[];
  workerRestarts: number;
  openStreams: number;
  chunksProcessed: number;
  chunkErrors: number;
}

export interface TranslationEngine {
  /** The pairs with a loaded model. */
  languagePairs(): LanguagePairInfo[];
  isServed(languagePair: string): boolean;
  /**
   * Sessions the engine has memory for (every worker's slots), the default admission limit;
   * absent = unknown (the configured limit or a fixed default applies).
   */
  sessionSlots?(): number;
  /** Throws AppError('unsupportedLanguagePair') for a pair without a model. */
  openStream(options: { languagePair: string; latencyMultiplier: number; listener?: StreamListener }): TranslationStream;
  stats(): EngineStats;
  batchingSettings(): BatchingSettings;
  /** Live change; validated; returns the settings now in force. */
  configureBatching(patch: Partial<BatchingSettings>): BatchingSettings;
  /** Finishes in-flight batches (up to graceMs), then terminates workers. */
  close(graceMs?: number): Promise<void>;
}
