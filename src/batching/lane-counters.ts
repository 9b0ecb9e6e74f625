/** Running counters of one batcher lane, turned into `PhaseStats` on demand. */
import type { PhaseStats } from '../inference/translation-engine.ts';
import type { FlushReason } from './dynamic-batcher.ts';

export class LaneCounters {
  batches = 0;
  items = 0;
  rejected = 0;
  readonly #histogram = new Map<number, number>();
  readonly #flushReasons: Record<FlushReason, number> = { full: 0, timeout: 0, idle: 0 };
  #computeMsTotal = 0;
  #computedBatches = 0;
  #waitMsTotal = 0;

  /** A batch of `units` rows left the queue for `reason`; `waitsMs` holds each item's enqueue → dispatch time. */
  recordDispatch(reason: FlushReason, units: number, waitsMs: readonly number[]): void {
    this.batches++;
    this.items += waitsMs.length;
    this.#flushReasons[reason]++;
    this.#histogram.set(units, (this.#histogram.get(units) ?? 0) + 1);
    for (const waitMs of waitsMs) this.#waitMsTotal += waitMs;
  }

  /** A batch's run finished (either way) after `computeMs`. */
  recordCompute(computeMs: number): void {
    this.#computeMsTotal += computeMs;
    this.#computedBatches++;
  }

  /** `oldestWaitMs`: how long the lane's oldest queued item has waited (null when empty). */
  snapshot(queueDepth: number, oldestWaitMs: number | null = null): PhaseStats {
    const histogram = [...this.#histogram.entries()].sort(([a], [b]) => a - b);
    return {
      queueDepth,
      oldestWaitMs,
      batches: this.batches,
      items: this.items,
      batchSizeHistogram: Object.fromEntries(histogram.map(([size, count]) => [String(size), count])),
      flushReasons: { ...this.#flushReasons },
      computeMsTotal: this.#computeMsTotal,
      computeMsMean: this.#computedBatches > 0 ? this.#computeMsTotal / this.#computedBatches : 0,
      waitMsMean: this.items > 0 ? this.#waitMsTotal / this.items : 0,
      rejected: this.rejected,
    };
  }
}
