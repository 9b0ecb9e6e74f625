/**
 * A session's delay records for evaluation (off until evaluation mode is switched on): which source
 * audio each emitted unit waited for, and when it came out, on the session's own stream clock.
 */
import { DelayTracker } from '../evaluation/delay-tracker.ts';
import { StreamClock } from '../evaluation/stream-clock.ts';
import type { ChunkResult } from '../inference/translation-engine.ts';
import type { SessionLogger } from './session-logger.ts';

export interface SessionDelaysInit {
  sessionId: string;
  languagePair: string;
  maxSegments: number;
  now: () => number;
  logger?: SessionLogger | undefined;
}

export class SessionDelays {
  private trackerValue: DelayTracker | null = null;
  private readonly clock: StreamClock;
  /** Translation text that existed before evaluation was switched on (not attributed). */
  private baseText = '';

  constructor(private readonly init: SessionDelaysInit) {
    this.clock = new StreamClock(init.now);
  }

  get tracker(): DelayTracker | null {
    return this.trackerValue;
  }

  /** Starts tracking (idempotent); `currentText`, translated before this, is not attributed. */
  enable(currentText: string): void {
    if (this.trackerValue) return;
    this.trackerValue = new DelayTracker({ sessionId: this.init.sessionId, languagePair: this.init.languagePair, maxSegments: this.init.maxSegments });
    this.baseText = currentText;
  }

  /** Audio handed to the engine, in ms. */
  markAudio(ms: number): void {
    this.clock.markAudio(ms);
  }

  record(result: ChunkResult): void {
    if (!this.trackerValue) return;
    const base = this.baseText;
    const fullText = base !== '' && result.fullText.startsWith(base) ? result.fullText.slice(base.length) : result.fullText;
    try {
      this.trackerValue.record({ ...result, fullText }, this.clock.elapsedMs());
    } catch (error) {
      // A tracking inconsistency must never break translation; it is visible in the logs.
      this.init.logger?.warn({ err: error, sessionId: this.init.sessionId, chunkIndex: result.chunkIndex }, 'delay tracking skipped a chunk');
    }
  }

  reset(): void {
    this.trackerValue?.reset();
    this.baseText = '';
    this.clock.reset();
  }
}
