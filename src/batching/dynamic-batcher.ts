/**
 * A generic, bounded dynamic batcher with priority lanes (house style §7). It knows nothing of
 * sessions or ONNX: items go in per lane, homogeneous batches come out to `run`, results go back
 * to each submitter. See README.md in this folder for the flush rules.
 */
import { AppError } from '../errors.ts';
import type { PhaseStats } from '../inference/translation-engine.ts';
import { LaneCounters } from './lane-counters.ts';
import { validateBatchSettings } from './batch-settings.ts';
import type { BatchSettings } from './batch-settings.ts';

/** Time source and timers; injectable so tests control time. */
export interface Clock {
  now(): number;
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export type FlushReason = 'full' | 'timeout' | 'idle';

export interface DynamicBatcherOptions<I, R> {
  /** Priority order: lanes[0] is served first. */
  lanes: readonly string[];
  /** In units of `sizeOf(item)`. */
  maxBatchSize: number;
  maxWaitMs: number;
  /** Max queued items over all lanes; beyond it `submit` rejects with `overloaded`. */
  maxQueueSize: number;
  /** How many batches may run at once right now (e.g. this batcher's running batches + free workers). */
  concurrency: () => number;
  /** Results in item order; a throw (or a wrong result count) fails every item of the batch. */
  run: (lane: string, items: I[]) => Promise<R[]>;
  /** Rows an item occupies (e.g. beams); default 1. */
  sizeOf?: (item: I) => number;
  /** At most one item per key in a batch; later ones wait, order kept. */
  keyOf?: (item: I) => string;
  /** A lane whose oldest item waited this long goes before higher-priority lanes. Default 200 ms. */
  starvationMs?: number;
  clock?: Clock;
}

interface Entry<I, R> {
  item: I;
  units: number;
  key: string | undefined;
  enqueuedAt: number;
  resolve: (result: R) => void;
  reject: (error: unknown) => void;
}

interface Lane<I, R> {
  name: string;
  queue: Array<Entry<I, R>>;
  queuedUnits: number;
  counters: LaneCounters;
}

const realClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

const DEFAULT_STARVATION_MS = 200;

/** Batches items per lane and runs them with bounded concurrency; see the module comment. */
export class DynamicBatcher<I, R> {
  readonly #lanes: Array<Lane<I, R>>;
  readonly #byName = new Map<string, Lane<I, R>>();
  readonly #options: DynamicBatcherOptions<I, R>;
  readonly #clock: Clock;
  readonly #starvationMs: number;
  #settings: BatchSettings;
  #queuedItems = 0;
  #running = new Set<Promise<void>>();
  /** Units (rows) inside running batches: work that will soon come back as its next step. */
  #inFlightUnits = 0;
  #timer: { handle: unknown; dueAt: number } | null = null;
  #pumpScheduled: NodeJS.Immediate | null = null;
  #isClosed = false;

  /** Throws `badRequest` for invalid settings or lanes. */
  constructor(options: DynamicBatcherOptions<I, R>) {
    const lanes = [...options.lanes];
    if (lanes.length === 0 || new Set(lanes).size !== lanes.length) {
      throw new AppError('badRequest', `batcher lanes must be non-empty and unique (got ${JSON.stringify(lanes)})`);
    }
    this.#settings = validateBatchSettings({
      maxBatchSize: options.maxBatchSize, maxWaitMs: options.maxWaitMs, maxQueueSize: options.maxQueueSize,
    });
    this.#options = options;
    this.#clock = options.clock ?? realClock;
    this.#starvationMs = options.starvationMs ?? DEFAULT_STARVATION_MS;
    this.#lanes = lanes.map((name) => ({ name, queue: [], queuedUnits: 0, counters: new LaneCounters() }));
    for (const lane of this.#lanes) this.#byName.set(lane.name, lane);
  }

  /**
   * Queues `item` on `lane` and resolves with its result. Rejects with `overloaded` when the queue
   * is full, `engineClosed` after close, `internal` for an unknown lane or a bad item size, or the batch's own error.
   */
  submit(laneName: string, item: I): Promise<R> {
    if (this.#isClosed) return Promise.reject(new AppError('engineClosed'));
    const lane = this.#byName.get(laneName);
    if (!lane) return Promise.reject(new AppError('internal', `unknown batcher lane "${laneName}"`));
    if (this.#queuedItems >= this.#settings.maxQueueSize) {
      lane.counters.rejected++;
      return Promise.reject(new AppError('overloaded', `batch queue is full (${this.#queuedItems} items waiting)`));
    }
    const units = this.#options.sizeOf?.(item) ?? 1;
    if (!Number.isFinite(units) || units <= 0) {
      return Promise.reject(new AppError('internal', `batch item size must be a positive number (got ${units})`));
    }
    const key = this.#options.keyOf?.(item);
    return new Promise<R>((resolve, reject) => {
      lane.queue.push({ item, units, key, enqueuedAt: this.#clock.now(), resolve, reject });
      lane.queuedUnits += units;
      this.#queuedItems++;
      this.#schedulePump();
    });
  }

  /** Live change of the batching settings; validated as a whole. Throws `badRequest` listing every problem. */
  configure(patch: Partial<BatchSettings>): void {
    this.#settings = validateBatchSettings({ ...this.#settings, ...patch });
    // New limits may make a lane ready now, and a pending timer may be due at the wrong time.
    this.#schedulePump();
  }

  settings(): BatchSettings {
    return { ...this.#settings };
  }

  /** Re-checks whether something can be dispatched (call when `concurrency()` may have grown). */
  poke(): void {
    this.#schedulePump();
  }

  /** Per-lane statistics. */
  stats(): Record<string, PhaseStats> {
    const now = this.#clock.now();
    return Object.fromEntries(this.#lanes.map((lane) => {
      const oldest = lane.queue[0];
      return [lane.name, lane.counters.snapshot(lane.queue.length, oldest ? now - oldest.enqueuedAt : null)];
    }));
  }

  get runningBatches(): number {
    return this.#running.size;
  }

  /** Rejects queued items with `engineClosed` and resolves once running batches finished. Never throws. */
  async close(): Promise<void> {
    this.#isClosed = true;
    this.#clearTimer();
    if (this.#pumpScheduled) clearImmediate(this.#pumpScheduled);
    this.#pumpScheduled = null;
    for (const lane of this.#lanes) {
      for (const entry of lane.queue.splice(0)) entry.reject(new AppError('engineClosed'));
      lane.queuedUnits = 0;
    }
    this.#queuedItems = 0;
    await Promise.all(this.#running);
  }

  /**
   * Dispatch decisions run once per event-loop turn, not inside `submit`: everything submitted in
   * the same turn (e.g. every session's next decode step right after a batch returned) can then
   * share one batch instead of the first arrival leaving alone on the "idle" rule.
   */
  #schedulePump(): void {
    if (this.#pumpScheduled || this.#isClosed) return;
    this.#pumpScheduled = setImmediate(() => {
      this.#pumpScheduled = null;
      this.#pump();
    });
  }

  #pump(): void {
    if (this.#isClosed) return;
    while (this.#running.size < this.#options.concurrency()) {
      const choice = this.#chooseLane(this.#clock.now());
      if (!choice) break;
      this.#dispatch(choice.lane, choice.reason);
    }
    this.#armTimer();
  }

  #readiness(lane: Lane<I, R>, now: number): FlushReason | null {
    const oldest = lane.queue[0];
    if (!oldest) return null;
    if (lane.queuedUnits >= this.#settings.maxBatchSize) return 'full';
    if (now - oldest.enqueuedAt >= this.#settings.maxWaitMs) return 'timeout';
    // Idle: at least as much work waits here as is in flight, so waiting for the in-flight work to
    // come back could at most double the batch while a free worker sits unused. With nothing in
    // flight this is plain "nothing to wait for"; with several workers it keeps them all busy
    // instead of stalling each step for maxWaitMs.
    if (lane.queuedUnits >= this.#inFlightUnits) return 'idle';
    return null;
  }

  #chooseLane(now: number): { lane: Lane<I, R>; reason: FlushReason } | null {
    let first: { lane: Lane<I, R>; reason: FlushReason } | null = null;
    let starved: { lane: Lane<I, R>; reason: FlushReason; since: number } | null = null;
    for (const lane of this.#lanes) {
      const reason = this.#readiness(lane, now);
      const oldest = lane.queue[0];
      if (!reason || !oldest) continue;
      first ??= { lane, reason };
      if (now - oldest.enqueuedAt >= this.#starvationMs && (!starved || oldest.enqueuedAt < starved.since)) {
        starved = { lane, reason, since: oldest.enqueuedAt };
      }
    }
    return starved ?? first;
  }

  #dispatch(lane: Lane<I, R>, reason: FlushReason): void {
    const now = this.#clock.now();
    // Balance: no batch takes more than its fair share of all active work (waiting + in flight)
    // over the run slots, so several workers settle into equal batches instead of one big batch
    // and one idle worker. With a single slot this is no limit at all.
    const waiting = this.#lanes.reduce((sum, l) => sum + l.queuedUnits, 0);
    const fairShare = Math.ceil((waiting + this.#inFlightUnits) / Math.max(1, this.#options.concurrency()));
    const limit = Math.max(1, Math.min(this.#settings.maxBatchSize, fairShare));
    const batch: Array<Entry<I, R>> = [];
    const keys = new Set<string>();
    const kept: Array<Entry<I, R>> = [];
    let units = 0;
    let isFull = false;
    for (const entry of lane.queue) {
      const fits = batch.length === 0 || units + entry.units <= limit;
      if (!isFull && fits && (entry.key === undefined || !keys.has(entry.key))) {
        batch.push(entry);
        units += entry.units;
        if (entry.key !== undefined) keys.add(entry.key);
        isFull = units >= limit;
      } else {
        // An item that does not fit ends the batch (FIFO: smaller later items do not overtake it).
        if (!fits) isFull = true;
        kept.push(entry);
      }
    }
    lane.queue = kept;
    lane.queuedUnits -= units;
    this.#queuedItems -= batch.length;
    lane.counters.recordDispatch(reason, units, batch.map((entry) => now - entry.enqueuedAt));

    const items = batch.map((entry) => entry.item);
    let outcome: Promise<R[]>;
    try {
      outcome = Promise.resolve(this.#options.run(lane.name, items));
    } catch (error) {
      outcome = Promise.reject(error);
    }
    const done = outcome.then(
      (results) => {
        lane.counters.recordCompute(this.#clock.now() - now);
        if (!Array.isArray(results) || results.length !== batch.length) {
          const error = new AppError('internal', `batch runner returned ${Array.isArray(results) ? results.length : typeof results} results for ${batch.length} items`);
          for (const entry of batch) entry.reject(error);
          return;
        }
        batch.forEach((entry, index) => entry.resolve(results[index] as R));
      },
      (error: unknown) => {
        lane.counters.recordCompute(this.#clock.now() - now);
        for (const entry of batch) entry.reject(error);
      },
    ).finally(() => {
      this.#inFlightUnits -= units;
      this.#running.delete(done);
      this.#schedulePump();
    });
    this.#running.add(done);
    this.#inFlightUnits += units;
  }

  /** Arms one timer for the earliest moment a waiting lane times out; none when nothing waits or no slot is free. */
  #armTimer(): void {
    let dueAt = Infinity;
    // Without a free slot there is nothing to do on timeout: a finishing batch or poke() re-pumps.
    if (this.#running.size < this.#options.concurrency()) {
      for (const lane of this.#lanes) {
        const oldest = lane.queue[0];
        if (oldest) dueAt = Math.min(dueAt, oldest.enqueuedAt + this.#settings.maxWaitMs);
      }
    }
    if (this.#timer && this.#timer.dueAt === dueAt) return;
    this.#clearTimer();
    if (dueAt === Infinity) return;
    const delayMs = Math.max(1, Math.ceil(dueAt - this.#clock.now()));
    const handle = this.#clock.setTimeout(() => {
      this.#timer = null;
      this.#pump();
    }, delayMs);
    this.#timer = { handle, dueAt };
  }

  #clearTimer(): void {
    if (this.#timer) this.#clock.clearTimeout(this.#timer.handle);
    this.#timer = null;
  }
}
