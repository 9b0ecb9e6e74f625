/**
 * A fixed-size pool of worker_threads speaking the typed protocol of `worker-protocol.ts`.
 * Each worker runs one request at a time. A worker that crashes or misses its deadline fails its
 * request with a clear error and is replaced (init re-run, with backoff if init keeps failing);
 * the other workers are untouched.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { AppError } from '../errors.ts';
import type { WorkerStats } from './translation-engine.ts';
import { describeExit, launchWorker } from './worker-launch.ts';
import { fromWireError, parseFromWorker } from './worker-protocol.ts';
import type { FromWorker, ToWorker, WorkerReadyInfo } from './worker-protocol.ts';

export interface WorkerPoolOptions {
  /** Used in error messages and logs: "inference worker <name>#<index>". */
  name: string;
  /** Worker script (.js, or .ts when running under tsx) that calls `serveWorker`. */
  script: URL;
  size: number;
  /** Data for the worker with this index; called again for every replacement. */
  workerData: (index: number) => unknown;
  /** A request not answered within this (from dispatch) terminates its worker; queued requests wait at most this long too. */
  deadlineMs: number;
  /** Init (e.g. model load) must report ready within this; default 120 s. */
  startTimeoutMs?: number;
  logger?: Logger;
  /** First retry delay after a replacement's init failed; doubles up to 30 s. Default 1 s. */
  restartBackoffMs?: number;
  /** Requests waiting for a free worker beyond this are rejected with `overloaded`. Default 1024. */
  maxQueued?: number;
}

export interface RunOptions {
  transfer?: Transferable[];
  deadlineMs?: number;
}

interface Job {
  payload: unknown;
  transfer: Transferable[];
  deadlineMs: number;
  resolve: (value: unknown) => void;
  reject: (error: Error) => void;
  queueTimer?: NodeJS.Timeout;
}

interface InFlight {
  id: number;
  job: Job;
  deadlineTimer: NodeJS.Timeout;
}

interface Slot {
  index: number;
  state: 'starting' | 'idle' | 'busy' | 'down';
  worker: Worker | null;
  info: WorkerReadyInfo | null;
  current: InFlight | null;
  restarts: number;
  batchesRun: number;
  failedInits: number;
  retryTimer?: NodeJS.Timeout;
  /** Set while a worker is starting: abandons the start (close() calls it). */
  cancelStart?: () => void;
}

const MAX_BACKOFF_MS = 30_000;
/** A pool of inference workers; see the module comment for its failure behaviour. */
export class WorkerPool<Req, Res> {
  readonly #options: Required<Omit<WorkerPoolOptions, 'logger'>>;
  readonly #logger: Logger | undefined;
  readonly #slots: Slot[];
  readonly #queue: Job[] = [];
  readonly #idleListeners: Array<() => void> = [];
  #nextId = 1;
  #cursor = 0;
  #isClosing = false;
  /** Terminations in progress, so close() can wait for every thread to be gone. */
  readonly #terminating = new Set<Promise<unknown>>();

  private constructor(options: WorkerPoolOptions) {
    const problems: string[] = [];
    if (!Number.isInteger(options.size) || options.size < 1) problems.push(`size must be an integer ≥ 1 (got ${options.size})`);
    if (!(options.deadlineMs > 0)) problems.push(`deadlineMs must be > 0 (got ${options.deadlineMs})`);
    if (problems.length > 0) throw new AppError('badRequest', `worker pool ${options.name}: ${problems.join('; ')}`);
    this.#options = {
      name: options.name,
      script: options.script,
      size: options.size,
      workerData: options.workerData,
      deadlineMs: options.deadlineMs,
      startTimeoutMs: options.startTimeoutMs ?? 120_000,
      restartBackoffMs: options.restartBackoffMs ?? 1_000,
      maxQueued: options.maxQueued ?? 1_024,
    };
    this.#logger = options.logger?.child({ pool: options.name });
    this.#slots = Array.from({ length: options.size }, (_, index) => ({
      index, state: 'down' as const, worker: null, info: null, current: null, restarts: 0, batchesRun: 0, failedInits: 0,
    }));
  }

  /**
   * Starts every worker and resolves once all reported ready. Rejects (after terminating the
   * others) with the first init failure: the worker's own AppError code (e.g. `modelInvalid`) or
   * `workerFailed`, its message naming the worker; `badRequest` for invalid options.
   */
  static async start<Req, Res>(options: WorkerPoolOptions): Promise<WorkerPool<Req, Res>> {
    const pool = new WorkerPool<Req, Res>(options);
    const outcomes = await Promise.allSettled(pool.#slots.map((slot) => pool.#spawn(slot)));
    const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failure) {
      await pool.close(0);
      throw failure.reason;
    }
    pool.#logger?.info({ workers: pool.stats().map(({ id, device, provider }) => ({ id, device, provider })) }, 'worker pool started');
    return pool;
  }

  /** Workers ready and not running a request. */
  get idleCount(): number {
    return this.#slots.filter((slot) => slot.state === 'idle').length;
  }

  /** Workers ready (idle or busy); excludes ones being (re)started. */
  get liveCount(): number {
    return this.#slots.filter((slot) => slot.state === 'idle' || slot.state === 'busy').length;
  }

  /** Replacements started because a worker crashed or hung. */
  get restarts(): number {
    return this.#slots.reduce((sum, slot) => sum + slot.restarts, 0);
  }

  /**
   * Runs `payload` on an idle worker, or waits in a bounded FIFO for one. Rejects with
   * `engineClosed` after close, `overloaded` when the queue is full, `deadlineExceeded` when no
   * worker answered in time, `workerFailed` when the worker crashed, or the worker's own error.
   */
  run(payload: Req, options: RunOptions = {}): Promise<Res> {
    if (this.#isClosing) return Promise.reject(new AppError('engineClosed'));
    if (this.#queue.length >= this.#options.maxQueued) {
      return Promise.reject(new AppError('overloaded', `inference worker pool ${this.#options.name} has ${this.#queue.length} requests waiting`));
    }
    return new Promise<Res>((resolve, reject) => {
      const job: Job = {
        payload, transfer: options.transfer ?? [], deadlineMs: options.deadlineMs ?? this.#options.deadlineMs,
        resolve: resolve as (value: unknown) => void, reject,
      };
      const slot = this.#takeIdleSlot();
      if (slot) {
        this.#dispatch(slot, job);
        return;
      }
      job.queueTimer = setTimeout(() => {
        const at = this.#queue.indexOf(job);
        if (at >= 0) this.#queue.splice(at, 1);
        job.reject(new AppError('deadlineExceeded', `no inference worker of ${this.#options.name} became free within ${job.deadlineMs} ms`));
      }, job.deadlineMs);
      this.#queue.push(job);
    });
  }

  /** Per-worker statistics. */
  stats(): WorkerStats[] {
    return this.#slots.map((slot) => ({
      id: slot.index,
      device: slot.info?.device ?? 'unknown',
      provider: slot.info?.provider ?? 'unknown',
      busy: slot.state === 'busy',
      restarts: slot.restarts,
      batchesRun: slot.batchesRun,
    }));
  }

  /** `listener` is called (synchronously; errors are logged) whenever a worker becomes idle with no queued work to take. */
  onIdle(listener: () => void): void {
    this.#idleListeners.push(listener);
  }

  /**
   * Rejects queued work (`engineClosed`), waits up to `graceMs` for running requests, then
   * terminates every worker; requests still running then fail with `engineClosed`. Never throws.
   */
  async close(graceMs = 5_000): Promise<void> {
    this.#isClosing = true;
    for (const job of this.#queue.splice(0)) {
      clearTimeout(job.queueTimer);
      job.reject(new AppError('engineClosed'));
    }
    const running = this.#slots.flatMap((slot) => (slot.current ? [slot.current.job] : []));
    if (running.length > 0 && graceMs > 0) {
      let graceTimer: NodeJS.Timeout | undefined;
      const settled = running.map((job) => new Promise<void>((done) => {
        const { resolve, reject } = job;
        job.resolve = (value) => { resolve(value); done(); };
        job.reject = (error) => { reject(error); done(); };
      }));
      await Promise.race([Promise.all(settled), new Promise<void>((done) => { graceTimer = setTimeout(done, graceMs); })]);
      clearTimeout(graceTimer);
    }
    for (const slot of this.#slots) {
      clearTimeout(slot.retryTimer);
      slot.cancelStart?.();
      const worker = slot.worker;
      slot.worker = null;
      slot.state = 'down';
      this.#settle(slot, (job) => job.reject(new AppError('engineClosed')));
      if (worker) this.#terminate(worker);
    }
    await Promise.all(this.#terminating);
  }

  #terminate(worker: Worker): void {
    const done = worker.terminate().catch(() => undefined).finally(() => this.#terminating.delete(done));
    this.#terminating.add(done);
  }

  #takeIdleSlot(): Slot | undefined {
    // Rotate the starting point so work spreads over the workers instead of piling on #0.
    for (let step = 0; step < this.#slots.length; step++) {
      const slot = this.#slots[(this.#cursor + step) % this.#slots.length];
      if (slot?.state === 'idle') {
        this.#cursor = (slot.index + 1) % this.#slots.length;
        return slot;
      }
    }
    return undefined;
  }

  #dispatch(slot: Slot, job: Job): void {
    const worker = slot.worker;
    if (!worker) throw new Error('dispatch to a slot without a worker');
    const id = this.#nextId++;
    const message: ToWorker<unknown> = { kind: 'run', id, deadlineAt: Date.now() + job.deadlineMs, payload: job.payload };
    const deadlineTimer = setTimeout(() => this.#onDeadline(slot, worker, id), job.deadlineMs);
    slot.state = 'busy';
    slot.current = { id, job, deadlineTimer };
    try {
      worker.postMessage(message, job.transfer as Parameters<Worker['postMessage']>[1]);
    } catch (error) {
      // Uncloneable payload or an already-detached buffer: the caller's fault, the worker is fine.
      this.#settle(slot, (failed) => failed.reject(new AppError('internal', `cannot send request to inference worker: ${(error as Error).message}`, { cause: error })));
      this.#becomeIdle(slot);
    }
  }

  /** Clears the slot's in-flight request and lets `finish` resolve or reject it. */
  #settle(slot: Slot, finish: (job: Job) => void): void {
    const current = slot.current;
    if (!current) return;
    clearTimeout(current.deadlineTimer);
    slot.current = null;
    finish(current.job);
  }

  #becomeIdle(slot: Slot): void {
    slot.state = 'idle';
    if (this.#isClosing) return;
    const next = this.#queue.shift();
    if (next) {
      clearTimeout(next.queueTimer);
      this.#dispatch(slot, next);
      return;
    }
    for (const listener of this.#idleListeners) {
      try {
        listener();
      } catch (error) {
        this.#logger?.error({ err: error }, 'worker pool idle listener threw');
      }
    }
  }

  #label(slot: Slot): string {
    return `inference worker ${this.#options.name}#${slot.index}`;
  }

  /** Starts a worker in `slot`; resolves when it is ready (and idle), rejects with a clear AppError if init fails. */
  #spawn(slot: Slot): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let worker: Worker;
      try {
        worker = launchWorker(this.#options.script, this.#options.workerData(slot.index));
      } catch (error) {
        reject(error instanceof AppError ? error : new AppError('workerFailed', `${this.#label(slot)} could not start: ${(error as Error).message}`, { cause: error }));
        return;
      }
      slot.worker = worker;
      slot.state = 'starting';
      let lastError: Error | undefined;
      const failStart = (error: AppError): void => {
        clearTimeout(startTimer);
        slot.cancelStart = undefined;
        if (slot.worker === worker) {
          slot.worker = null;
          slot.state = 'down';
        }
        this.#terminate(worker);
        reject(error);
      };
      const startTimer = setTimeout(() => {
        failStart(new AppError('workerFailed', `${this.#label(slot)} did not finish init within ${this.#options.startTimeoutMs} ms`));
      }, this.#options.startTimeoutMs);
      slot.cancelStart = () => failStart(new AppError('engineClosed', `${this.#label(slot)} start abandoned: pool closing`));

      worker.on('message', (raw: unknown) => {
        if (slot.worker !== worker) return;
        const message = parseFromWorker(raw);
        if (!message) {
          this.#logger?.warn({ worker: slot.index }, 'ignored malformed message from worker');
          return;
        }
        if (slot.state === 'starting') {
          if (message.kind === 'ready') {
            clearTimeout(startTimer);
            slot.cancelStart = undefined;
            slot.info = message.info;
            slot.failedInits = 0;
            resolve();
            this.#becomeIdle(slot);
          } else if (message.kind === 'init-failed') {
            failStart(fromWireError(message.error, `${this.#label(slot)} failed to initialise`));
          }
          return;
        }
        this.#onReply(slot, message as FromWorker<Res>);
      });
      worker.on('error', (error: Error) => {
        lastError = error;
      });
      worker.on('exit', (exitCode: number) => {
        if (slot.worker !== worker) return; // Deliberately terminated or already replaced.
        const reason = describeExit(lastError, exitCode);
        if (slot.state === 'starting') {
          failStart(new AppError('workerFailed', `${this.#label(slot)} exited during init: ${reason}`, { cause: lastError }));
          return;
        }
        slot.worker = null;
        slot.state = 'down';
        this.#settle(slot, (job) => job.reject(new AppError('workerFailed', `${this.#label(slot)} crashed: ${reason}`, { cause: lastError })));
        this.#replace(slot, reason);
      });
    });
  }

  #onReply(slot: Slot, message: FromWorker<Res>): void {
    if (message.kind !== 'result' && message.kind !== 'failure') return;
    if (slot.current?.id !== message.id) return; // A late answer to a request already failed.
    slot.batchesRun++;
    if (message.kind === 'result') this.#settle(slot, (job) => job.resolve(message.payload));
    else this.#settle(slot, (job) => job.reject(fromWireError(message.error)));
    this.#becomeIdle(slot);
  }

  #onDeadline(slot: Slot, worker: Worker, id: number): void {
    if (slot.worker !== worker || slot.current?.id !== id) return;
    // Detach first so the coming 'exit' event is not mistaken for a crash.
    slot.worker = null;
    slot.state = 'down';
    const deadlineMs = slot.current.job.deadlineMs;
    this.#settle(slot, (job) => job.reject(new AppError('deadlineExceeded', `${this.#label(slot)} did not answer within ${deadlineMs} ms; it is being restarted`)));
    this.#terminate(worker);
    this.#replace(slot, `no answer within ${deadlineMs} ms`);
  }

  #replace(slot: Slot, reason: string): void {
    if (this.#isClosing) return;
    slot.restarts++;
    this.#logger?.warn({ worker: slot.index, reason, restarts: slot.restarts }, 'replacing inference worker');
    this.#restartSoon(slot, 0);
  }

  #restartSoon(slot: Slot, delayMs: number): void {
    const attempt = (): void => {
      slot.retryTimer = undefined;
      if (this.#isClosing) return;
      this.#spawn(slot).then(
        () => this.#logger?.info({ worker: slot.index, provider: slot.info?.provider, device: slot.info?.device }, 'inference worker replaced'),
        (error: unknown) => {
          if (this.#isClosing) return;
          slot.failedInits++;
          const backoffMs = Math.min(MAX_BACKOFF_MS, this.#options.restartBackoffMs * 2 ** (slot.failedInits - 1));
          this.#logger?.error({ worker: slot.index, err: error, failedInits: slot.failedInits, backoffMs }, 'replacement inference worker failed to start');
          this.#restartSoon(slot, backoffMs);
        },
      );
    };
    if (delayMs <= 0) attempt();
    else slot.retryTimer = setTimeout(attempt, delayMs);
  }
}
