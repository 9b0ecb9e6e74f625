/**
 * Main thread: the client of one worker that hosts sessions. It starts the thread, sends chunks
 * and control messages, resolves each chunk when its result comes back, and notices death: a
 * crash (the thread exits) or a hang (no message for `deadlineMs` while it owes an answer). Then
 * every chunk it owed fails (`workerFailed` / `deadlineExceeded`), its sessions are forgotten —
 * they lose their context, not their text, and their next chunk goes wherever placement says —
 * and a replacement starts, with backoff if it fails to start.
 */
import type { Worker } from 'node:worker_threads';
import type { Logger } from 'pino';
import { AppError } from '../../errors.ts';
import { messageBytes, parseFromWorker, type ChunkDone, type FromWorker, type StepObservation, type ToWorker } from '../messages.ts';
import type { PhaseStats } from '../translation-engine.ts';
import { describeExit, launchWorker } from './worker-launch.ts';
import { fromWireError, type WorkerReadyInfo } from '../wire-errors.ts';

export interface WorkerHandleOptions {
  index: number;
  label: string;
  script: URL;
  /** Read at every (re)start, so a replacement gets the current batching settings. */
  workerData: () => unknown;
  deadlineMs: number;
  startTimeoutMs?: number;
  restartBackoffMs?: number;
  logger?: Logger;
  onBatch?: (observation: StepObservation, worker: WorkerHandle) => void;
  /** The worker became live (started or replaced). */
  onLive?: (worker: WorkerHandle) => void;
  /** Count bytes of every message both ways (the benchmark); off in production. */
  measuresTraffic?: () => boolean;
}

interface PendingChunk {
  seq: number;
  resolve: (done: ChunkDone) => void;
  reject: (error: AppError) => void;
}

const MAX_BACKOFF_MS = 30_000;

export class WorkerHandle {
  readonly index: number;
  state: 'starting' | 'live' | 'down' = 'down';
  info: WorkerReadyInfo | null = null;
  restarts = 0;
  batchesRun = 0;
  /** Bytes of every message sent to and received from the thread (counted only while measuring). */
  trafficToWorker = 0;
  trafficFromWorker = 0;
  readonly #options: WorkerHandleOptions;
  #worker: Worker | null = null;
  /** Sessions whose state lives in this thread. */
  readonly #hosted = new Set<string>();
  /** At most one chunk per session is in flight (the stream sends them in order, one at a time). */
  readonly #pending = new Map<string, PendingChunk>();
  readonly #stats = new Map<string, Record<string, PhaseStats>>();
  #lastHeardAt = 0;
  #watchdog: NodeJS.Timeout | undefined;
  #retryTimer: NodeJS.Timeout | undefined;
  #failedStarts = 0;
  #isClosing = false;
  #exited: Promise<void> = Promise.resolve();

  constructor(options: WorkerHandleOptions) {
    this.index = options.index;
    this.#options = options;
  }

  /** Sessions hosted here (placement's load figure). */
  get hostedCount(): number {
    return this.#hosted.size;
  }

  get isBusy(): boolean {
    return this.#pending.size > 0;
  }

  hosts(stream: string): boolean {
    return this.#hosted.has(stream);
  }

  /** Counts `stream` as hosted here from now on (placement), before its first chunk is sent. */
  adopt(stream: string): void {
    if (this.state === 'live') this.#hosted.add(stream);
  }

  /** The latest batch-queue statistics per model. */
  modelStats(): ReadonlyMap<string, Record<string, PhaseStats>> {
    return this.#stats;
  }

  /** Starts the thread; resolves when it reported ready, rejects with a clear AppError if init fails. */
  start(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let worker: Worker;
      try {
        worker = launchWorker(this.#options.script, this.#options.workerData());
      } catch (error) {
        reject(error instanceof AppError ? error : new AppError('workerFailed', `${this.#options.label} could not start: ${(error as Error).message}`, { cause: error }));
        return;
      }
      this.#worker = worker;
      this.state = 'starting';
      let lastError: Error | undefined;
      let settled = false;
      const startTimer = setTimeout(() => failStart(new AppError('workerFailed', `${this.#options.label} did not finish init within ${this.#options.startTimeoutMs ?? 120_000} ms`)), this.#options.startTimeoutMs ?? 120_000);
      const failStart = (error: AppError): void => {
        if (settled) return;
        settled = true;
        clearTimeout(startTimer);
        if (this.#worker === worker) {
          this.#worker = null;
          this.state = 'down';
        }
        void worker.terminate();
        reject(error);
      };
      this.#exited = new Promise<void>((exited) => worker.once('exit', () => exited()));
      worker.on('message', (raw: unknown) => {
        if (this.#worker !== worker) return;
        const message = parseFromWorker(raw);
        if (!message) {
          this.#options.logger?.warn({ worker: this.index }, 'ignored malformed message from worker');
          return;
        }
        this.#lastHeardAt = Date.now();
        if (this.#options.measuresTraffic?.()) this.trafficFromWorker += messageBytes(message);
        if (this.state === 'starting') {
          if (message.kind === 'ready') {
            settled = true;
            clearTimeout(startTimer);
            this.info = message.info;
            this.state = 'live';
            this.#failedStarts = 0;
            this.#startWatchdog();
            resolve();
            this.#options.onLive?.(this);
          } else if (message.kind === 'init-failed') {
            failStart(fromWireError(message.error, `${this.#options.label} failed to initialise`));
          }
          return;
        }
        this.#onMessage(message);
      });
      worker.on('error', (error: Error) => {
        lastError = error;
      });
      worker.on('exit', (exitCode: number) => {
        if (this.#worker !== worker) return; // Deliberately terminated or already replaced.
        const reason = describeExit(lastError, exitCode);
        if (this.state === 'starting') {
          failStart(new AppError('workerFailed', `${this.#options.label} exited during init: ${reason}`, { cause: lastError }));
          return;
        }
        this.#die(new AppError('workerFailed', `${this.#options.label} crashed: ${reason}`, { cause: lastError }), reason);
      });
    });
  }

  /**
   * Translates `stream`'s next chunk here (the session is hosted from then on). Rejects with the
   * worker's error for this chunk, or `workerFailed`/`deadlineExceeded` if the thread dies.
   */
  translate(chunk: { stream: string; model: string; languagePair: string; seq: number; audio: Float32Array; multiplier: number }): Promise<ChunkDone> {
    if (this.state !== 'live' || !this.#worker) return Promise.reject(new AppError('workerFailed', `${this.#options.label} is not running`));
    if (this.#pending.has(chunk.stream)) return Promise.reject(new AppError('internal', 'a chunk of this session is already in flight'));
    return new Promise<ChunkDone>((resolve, reject) => {
      this.#pending.set(chunk.stream, { seq: chunk.seq, resolve, reject });
      if (this.#pending.size === 1) this.#lastHeardAt = Date.now();
      this.#hosted.add(chunk.stream);
      // Moved, not copied; a view into a larger buffer is copied first so the rest stays usable.
      const audio = chunk.audio.byteOffset === 0 && chunk.audio.byteLength === chunk.audio.buffer.byteLength ? chunk.audio : chunk.audio.slice();
      this.#post({ kind: 'chunk', ...chunk, audio }, [audio.buffer as ArrayBuffer]);
    });
  }

  /** Fresh context for the session (its chunk in flight, if any, stops at its next step). */
  resetSession(stream: string): void {
    if (this.#hosted.has(stream)) this.#post({ kind: 'reset', stream });
  }

  /** Forgets the session here (its chunk in flight, if any, stops at its next step). */
  closeSession(stream: string): void {
    if (!this.#hosted.delete(stream)) return;
    this.#post({ kind: 'close', stream });
  }

  send(message: Extract<ToWorker, { kind: 'configure' | 'fault' }>): void {
    this.#post(message);
  }

  /** Waits up to `graceMs` for owed chunks, then stops the thread; owed chunks fail with engineClosed. Never throws. */
  async close(graceMs: number): Promise<void> {
    this.#isClosing = true;
    clearTimeout(this.#retryTimer);
    if (this.#pending.size > 0 && graceMs > 0) {
      const settled = [...this.#pending.values()].map((pending) => new Promise<void>((done) => {
        const { resolve, reject } = pending;
        pending.resolve = (value) => { resolve(value); done(); };
        pending.reject = (error) => { reject(error); done(); };
      }));
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([Promise.all(settled), new Promise<void>((done) => { timer = setTimeout(done, graceMs); })]);
      clearTimeout(timer);
    }
    clearInterval(this.#watchdog);
    const worker = this.#worker;
    this.#worker = null;
    this.state = 'down';
    this.#failAll(new AppError('engineClosed'));
    if (worker) {
      await worker.terminate().catch(() => undefined);
      await this.#exited;
    }
  }

  #post(message: ToWorker, transfer: ArrayBuffer[] = []): void {
    const worker = this.#worker;
    if (!worker) return;
    if (this.#options.measuresTraffic?.()) this.trafficToWorker += messageBytes(message);
    worker.postMessage(message, transfer);
  }

  #onMessage(message: FromWorker): void {
    switch (message.kind) {
      case 'chunkDone':
      case 'chunkFailed': {
        const pending = this.#pending.get(message.stream);
        if (!pending || pending.seq !== message.seq) return;
        this.#pending.delete(message.stream);
        if (message.kind === 'chunkDone') pending.resolve({ tokens: message.tokens, text: message.text, contextTokens: message.contextTokens, stateBytes: message.stateBytes });
        else pending.reject(fromWireError(message.error));
        return;
      }
      case 'batch':
        this.batchesRun++;
        this.#options.onBatch?.(message.observation, this);
        return;
      case 'stats':
        this.#stats.set(message.model, message.stats);
        return;
      default:
        return;
    }
  }

  #startWatchdog(): void {
    clearInterval(this.#watchdog);
    const period = Math.max(50, Math.min(1_000, this.#options.deadlineMs / 4));
    this.#watchdog = setInterval(() => {
      if (this.#pending.size === 0 || this.state !== 'live') return;
      const silentMs = Date.now() - this.#lastHeardAt;
      if (silentMs <= this.#options.deadlineMs) return;
      const worker = this.#worker;
      this.#worker = null;
      if (worker) void worker.terminate();
      const reason = `no answer within ${this.#options.deadlineMs} ms`;
      this.#die(new AppError('deadlineExceeded', `${this.#options.label} did not answer within ${this.#options.deadlineMs} ms; it is being restarted`), reason);
    }, period);
    this.#watchdog.unref();
  }

  #die(error: AppError, reason: string): void {
    clearInterval(this.#watchdog);
    this.#worker = null;
    this.state = 'down';
    this.#failAll(error);
    this.#stats.clear();
    if (this.#isClosing) return;
    this.restarts++;
    this.#options.logger?.warn({ worker: this.index, reason, restarts: this.restarts }, 'replacing inference worker; its sessions lose their context');
    this.#restartSoon(0);
  }

  #failAll(error: AppError): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    this.#hosted.clear();
    for (const chunk of pending) chunk.reject(error);
  }

  #restartSoon(delayMs: number): void {
    const attempt = (): void => {
      this.#retryTimer = undefined;
      if (this.#isClosing) return;
      this.start().then(
        () => this.#options.logger?.info({ worker: this.index, provider: this.info?.provider, device: this.info?.device }, 'inference worker replaced'),
        (error: unknown) => {
          if (this.#isClosing) return;
          this.#failedStarts++;
          const backoffMs = Math.min(MAX_BACKOFF_MS, (this.#options.restartBackoffMs ?? 1_000) * 2 ** (this.#failedStarts - 1));
          this.#options.logger?.error({ worker: this.index, err: error, failedStarts: this.#failedStarts, backoffMs }, 'replacement inference worker failed to start');
          this.#restartSoon(backoffMs);
        },
      );
    };
    if (delayMs <= 0) attempt();
    else this.#retryTimer = setTimeout(attempt, delayMs);
  }
}
