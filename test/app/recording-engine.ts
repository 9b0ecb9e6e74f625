/**
 * A pass-through view of a REAL engine for server tests: every call goes to the wrapped engine
 * unchanged, and the streams it opens (one per active session) are remembered together with the
 * chunk results, errors and drains they reported. Nothing is simulated here; it only lets a test
 * look at the engine stream behind a session (its `fullText`, `latencyMultiplier`, chunk sizes)
 * and wait for its chunks to settle.
 */
import type { Engine } from '../../src/inference/engine/engine.ts';
import type {
  BatchingSettings,
  ChunkResult,
  EngineStats,
  LanguagePairInfo,
  StreamListener,
  TranslationEngine,
  TranslationStream,
} from '../../src/inference/translation-engine.ts';
import { guarded } from './wait.ts';

/** One engine stream as the session sees it, plus what it reported. */
export class RecordedStream {
  readonly chunks: ChunkResult[] = [];
  readonly errors: { error: Error; chunkIndex: number }[] = [];
  drains = 0;
  private streamValue: TranslationStream | undefined;
  private waiters: { count: number; resolve: () => void }[] = [];
  private lastEventMs = performance.now();

  constructor(readonly languagePair: string) {}

  /** The real engine stream the session owns. */
  get stream(): TranslationStream {
    if (!this.streamValue) throw new Error('the stream has not been opened');
    return this.streamValue;
  }

  /** Chunks finished so far, translated or failed. */
  get settledCount(): number {
    return this.chunks.length + this.errors.length;
  }

  /** Resolves once `count` chunks have settled (translated or failed) since the stream opened. */
  settled(count: number): Promise<void> {
    if (this.settledCount >= count) return Promise.resolve();
    return guarded(
      new Promise((resolve) => this.waiters.push({ count, resolve })),
      () => `${count} settled chunks of a ${this.languagePair} stream (have ${this.settledCount})`,
      () => this.lastEventMs,
    );
  }

  /** Records every event, then forwards it to the session's own listener. */
  tee(listener: StreamListener | undefined): StreamListener {
    return {
      onChunk: (result) => {
        this.chunks.push(result);
        listener?.onChunk?.(result);
        this.wake();
      },
      onError: (error, chunkIndex) => {
        this.errors.push({ error, chunkIndex });
        listener?.onError?.(error, chunkIndex);
        this.wake();
      },
      onDrain: () => {
        this.drains++;
        listener?.onDrain?.();
      },
    };
  }

  bind(stream: TranslationStream): void {
    this.streamValue = stream;
  }

  private wake(): void {
    this.lastEventMs = performance.now();
    const ready = this.waiters.filter((waiter) => this.settledCount >= waiter.count);
    this.waiters = this.waiters.filter((waiter) => this.settledCount < waiter.count);
    for (const waiter of ready) waiter.resolve();
  }
}

export class RecordingEngine implements TranslationEngine {
  readonly streams: RecordedStream[] = [];

  /** `real` is the engine doing the work (also used directly for reference runs and fault injection). */
  constructor(readonly real: Engine) {}

  /** The newest stream (most tests have one session). */
  get lastStream(): RecordedStream {
    const recorded = this.streams[this.streams.length - 1];
    if (!recorded) throw new Error('no engine stream was opened');
    return recorded;
  }

  languagePairs(): LanguagePairInfo[] {
    return this.real.languagePairs();
  }

  isServed(languagePair: string): boolean {
    return this.real.isServed(languagePair);
  }

  sessionSlots(): number {
    return this.real.sessionSlots();
  }

  openStream(options: { languagePair: string; latencyMultiplier: number; listener?: StreamListener }): TranslationStream {
    const recorded = new RecordedStream(options.languagePair);
    const stream = this.real.openStream({ ...options, listener: recorded.tee(options.listener) });
    recorded.bind(stream);
    this.streams.push(recorded);
    return stream;
  }

  stats(): EngineStats {
    return this.real.stats();
  }

  batchingSettings(): BatchingSettings {
    return this.real.batchingSettings();
  }

  configureBatching(patch: Partial<BatchingSettings>): BatchingSettings {
    return this.real.configureBatching(patch);
  }

  close(graceMs?: number): Promise<void> {
    return this.real.close(graceMs);
  }
}
