/**
 * Worker thread: the batched steps of one model. Every resident session's chunk submits its
 * prefill and then one decode step at a time; the batcher runs the ready rows of all sessions in
 * one call (a new chunk's prefill joins between decode steps), with the flush rules of
 * batching/README.md. One batch runs at a time: `session.run` blocks this thread anyway.
 *
 * Faults stay local: when a batch fails, each of its items is run again alone, so only the rows
 * that fail by themselves fail; the others get the same output they would have got in the batch
 * (a run writes its new cache rows only after it succeeded, and only past the committed lengths).
 */
import { DynamicBatcher } from '../../batching/dynamic-batcher.ts';
import type { BatchSettings } from '../../batching/batch-settings.ts';
import { AppError } from '../../errors.ts';
import { liveRows, type DecodeItem, type DecodeOutput, type PrefillItem, type PrefillOutput } from './step-items.ts';
import type { BatchItem, BatchOutput, SubmitStep } from './chunk-translator.ts';
import { cacheCopyMeter, computedRowMeter } from './kv-cache.ts';
import type { WorkerFault, StepObservation } from '../messages.ts';
import type { PhaseStats } from '../translation-engine.ts';

/** The model calls a step loop needs (ModelRunner in production). */
export interface StepModel {
  prefill(items: PrefillItem[]): Promise<PrefillOutput[]>;
  decode(items: DecodeItem[]): Promise<DecodeOutput[]>;
}

type StepResult = { output: BatchOutput } | { failure: unknown };

export interface StepLoopOptions {
  model: string;
  runner: StepModel;
  batching: BatchSettings;
  /** Called after every batch (metrics); must not throw. */
  onBatch?: (observation: StepObservation) => void;
}

export class StepLoop {
  readonly #options: StepLoopOptions;
  readonly #batcher: DynamicBatcher<BatchItem, StepResult>;
  readonly #submittedAt = new WeakMap<BatchItem, number>();
  /** Session keys whose next row fails (fault injection for tests and drills). */
  readonly #rowFaults = new Set<string>();
  #threadFault: Exclude<WorkerFault, 'row'> | undefined;

  constructor(options: StepLoopOptions) {
    this.#options = options;
    this.#batcher = new DynamicBatcher<BatchItem, StepResult>({
      lanes: ['prefill', 'decode'],
      ...options.batching,
      concurrency: () => 1,
      starvationMs: Math.max(4 * options.batching.maxWaitMs, 200),
      sizeOf: (item) => ('decode' in item ? liveRows(item.decode) : 1),
      keyOf: (item) => item.key,
      run: (lane, items) => this.#runBatch(lane as 'prefill' | 'decode', items),
    });
  }

  /** Queues one step and resolves with its output, or rejects with this row's own failure. */
  readonly submit: SubmitStep = async (lane, item) => {
    this.#submittedAt.set(item, performance.now());
    const result = await this.#batcher.submit(lane, item);
    if ('failure' in result) throw result.failure;
    return result.output;
  };

  configure(batching: BatchSettings): void {
    this.#batcher.configure(batching);
  }

  /** `row`: the next row of session `key` fails; `crash`/`hang`: the thread dies or hangs at the next batch. */
  injectFault(fault: WorkerFault, key?: string): void {
    if (fault === 'row') {
      if (key !== undefined) this.#rowFaults.add(key);
    } else {
      this.#threadFault = fault;
    }
  }

  stats(): Record<string, PhaseStats> {
    return this.#batcher.stats();
  }

  close(): Promise<void> {
    return this.#batcher.close();
  }

  async #runBatch(lane: 'prefill' | 'decode', items: BatchItem[]): Promise<StepResult[]> {
    this.#applyThreadFault();
    const started = performance.now();
    const copiedBefore = cacheCopyMeter.bytes;
    const computedBefore = computedRowMeter.rows;
    let results: StepResult[];
    try {
      results = (await this.#run(lane, items)).map((output) => ({ output }));
    } catch (batchError) {
      results = [];
      if (items.length === 1) results.push({ failure: batchError });
      else {
        for (const item of items) {
          try {
            const [output] = await this.#run(lane, [item]);
            results.push(output ? { output } : { failure: new AppError('internal', 'the model returned no output for a row') });
          } catch (error) {
            results.push({ failure: error });
          }
        }
      }
    }
    this.#observe(lane, items, started, cacheBytesCopiedSince(copiedBefore), computedRowMeter.rows - computedBefore, results.filter((result) => 'failure' in result).length);
    return results;
  }

  #run(lane: 'prefill' | 'decode', items: BatchItem[]): Promise<BatchOutput[]> {
    const faulty = items.find((item) => this.#rowFaults.has(item.key));
    if (faulty) {
      // A bad row makes the whole batch call fail; alone, it fails (once) by itself.
      if (items.length > 1) return Promise.reject(new AppError('internal', 'a row of this batch failed'));
      this.#rowFaults.delete(faulty.key);
      return Promise.reject(new AppError('internal', 'injected fault in this session\'s row'));
    }
    if (lane === 'prefill') return this.#options.runner.prefill(items.flatMap((item) => ('prefill' in item ? [item.prefill] : [])));
    return this.#options.runner.decode(items.flatMap((item) => ('decode' in item ? [item.decode] : [])));
  }

  #applyThreadFault(): void {
    const fault = this.#threadFault;
    this.#threadFault = undefined;
    if (fault === 'crash') process.exit(70);
    if (fault === 'hang') {
      // Spin rather than await: a hung native call looks exactly like this from outside.
      const until = Date.now() + 3_600_000;
      while (Date.now() < until) continue;
    }
  }

  #observe(lane: 'prefill' | 'decode', items: BatchItem[], started: number, cacheBytesCopied: number, computedRows: number, failedItems: number): void {
    const decodes = items.flatMap((item) => ('decode' in item ? [item.decode] : []));
    const observation: StepObservation = {
      model: this.#options.model,
      phase: lane,
      items: items.length,
      rows: lane === 'decode' ? decodes.reduce((sum, item) => sum + liveRows(item), 0) : items.length,
      waitsMs: items.map((item) => started - (this.#submittedAt.get(item) ?? started)),
      computeMs: performance.now() - started,
      attendedSlots: decodes.reduce((sum, item) => sum + liveRows(item) * (item.prefixLength + item.suffixLength + 1), 0),
      cacheBytesCopied,
      computedRows: lane === 'decode' ? computedRows : items.length,
      failedItems,
    };
    try {
      this.#options.onBatch?.(observation);
    } catch {
      // Metrics must never break inference.
    }
  }
}

function cacheBytesCopiedSince(before: number): number {
  return cacheCopyMeter.bytes - before;
}
