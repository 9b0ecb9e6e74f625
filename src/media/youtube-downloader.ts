/**
 * Downloads YouTube videos for the page's "play a YouTube URL" feature, safely: the URL is reduced
 * to a validated id, the media is streamed to disk without blocking the event loop, size, duration
 * and time are limited, at most `maxConcurrent` downloads run at once, requests for the same video
 * share one download, and finished files live in a size-bounded cache. Fixes W12/W23.
 */
import { randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { rm } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { Logger } from 'pino';
import { AppError, isAppError } from '../errors.ts';
import { ConcurrencyGate } from './concurrency-gate.ts';
import type { CacheLease, DownloadCache } from './download-cache.ts';
import { DownloadProgressRegistry } from './download-progress.ts';
import type { DownloadProgress, JobStatus } from './download-progress.ts';
import type { MediaBody, VideoFetcher } from './video-fetcher.ts';
import { parseYoutubeVideo } from './youtube-url.ts';

export interface DownloadLimits {
  /** Largest media file accepted, in bytes. */
  maxBytes: number;
  /** Longest video accepted, in seconds (checked on the metadata, before downloading). */
  maxDurationSeconds: number;
  /** Whole download (lookup + transfer) must finish within this. */
  timeoutMs: number;
  /** The transfer fails if no byte arrives for this long. */
  stallTimeoutMs: number;
  /** Downloads running at once. */
  maxConcurrent: number;
  /** Downloads waiting for a slot; more are refused with a "try again later" error. */
  maxQueued: number;
}

export type TimerFunction = (callback: () => void, ms: number) => () => void;

export interface YoutubeDownloaderOptions {
  fetcher: VideoFetcher;
  cache: DownloadCache;
  limits: DownloadLimits;
  logger?: Logger;
  now?: () => number;
  /** Starts a timer and returns its cancel function (tests may substitute a fake clock). */
  setTimer?: TimerFunction;
}

export interface DownloadRequest {
  /** The user's URL or video id (validated here). */
  url: unknown;
  sessionId?: string;
  /** Client-chosen id to poll progress with; generated when absent. */
  downloadId?: string;
  /** Aborts this request (e.g. the client went away); the shared download stops when no one waits. */
  signal?: AbortSignal;
}

export interface DownloadedVideo {
  downloadId: string;
  videoId: string;
  fromCache: boolean;
  /** The file, pinned in the cache until `lease.release()`. */
  lease: CacheLease;
}

interface Job {
  videoId: string;
  status: JobStatus;
  controller: AbortController;
  waiters: number;
  done: Promise<void>;
}

const downloadIdPattern = /^[A-Za-z0-9_-]{1,64}$/;
const defaultTimer: TimerFunction = (callback, ms) => {
  const handle = setTimeout(callback, ms);
  return () => clearTimeout(handle);
};

export class YoutubeDownloader {
  readonly limits: Readonly<DownloadLimits>;
  readonly #fetcher: VideoFetcher;
  readonly #cache: DownloadCache;
  readonly #logger: Logger | undefined;
  readonly #now: () => number;
  readonly #setTimer: TimerFunction;
  readonly #gate: ConcurrencyGate;
  readonly #jobs = new Map<string, Job>();
  readonly #progress = new DownloadProgressRegistry();
  #closed = false;

  constructor(options: YoutubeDownloaderOptions) {
    this.#fetcher = options.fetcher;
    this.#cache = options.cache;
    this.limits = Object.freeze({ ...options.limits });
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
    this.#setTimer = options.setTimer ?? defaultTimer;
    this.#gate = new ConcurrencyGate(options.limits.maxConcurrent, options.limits.maxQueued);
  }

  /**
   * Returns the video file (from the cache or freshly downloaded). Throws AppError: 'badRequest'
   * (bad URL or download id), 'overloaded' (too many downloads), 'mediaTooLong', 'mediaTooLarge',
   * 'downloadTimeout', 'downloadFailed'.
   */
  async download(request: DownloadRequest): Promise<DownloadedVideo> {
    if (this.#closed) throw new AppError('downloadFailed', 'Downloads are unavailable: the server is shutting down');
    const { videoId } = parseYoutubeVideo(request.url);
    const downloadId = this.#newDownloadId(request.downloadId);
    const startedAtMs = this.#now();
    const cached = this.#cache.lookup(videoId);
    if (cached) {
      const status: JobStatus = {
        state: 'done', receivedBytes: cached.sizeBytes, totalBytes: cached.sizeBytes, error: undefined, updatedAtMs: startedAtMs,
      };
      this.#progress.add({ downloadId, videoId, sessionId: request.sessionId, fromCache: true, startedAtMs, job: status });
      this.#logger?.info({ downloadId, videoId }, 'youtube video served from cache');
      return { downloadId, videoId, fromCache: true, lease: cached };
    }
    const job = this.#jobs.get(videoId) ?? this.#startJob(videoId, downloadId);
    this.#progress.add({ downloadId, videoId, sessionId: request.sessionId, fromCache: false, startedAtMs, job: job.status });
    job.waiters += 1;
    try {
      await waitOrAbort(job.done, request.signal);
    } finally {
      job.waiters -= 1;
      if (job.waiters === 0 && job.status.state !== 'done' && job.status.state !== 'failed') {
        job.controller.abort(new AppError('downloadFailed', 'Download cancelled: nobody is waiting for it'));
      }
    }
    const lease = this.#cache.lookup(videoId);
    if (!lease) throw new AppError('downloadFailed', 'Download failed: the file left the cache before it could be sent');
    return { downloadId, videoId, fromCache: false, lease };
  }

  /** Progress of the requests with this download id and/or session id (empty if neither is given). */
  progress(filter: { downloadId?: string; sessionId?: string }): DownloadProgress[] {
    return this.#progress.find(filter);
  }

  /** Downloads currently transferring or resolving / waiting for a slot. */
  get activeDownloads(): number {
    return this.#gate.active;
  }

  get queuedDownloads(): number {
    return this.#gate.queued;
  }

  /** Refuses new downloads, aborts running ones and waits until they have cleaned up. */
  async close(): Promise<void> {
    this.#closed = true;
    const running = [...this.#jobs.values()];
    for (const job of running) job.controller.abort(new AppError('downloadFailed', 'Download cancelled: the server is shutting down'));
    await Promise.allSettled(running.map((job) => job.done));
  }

  #newDownloadId(requested: string | undefined): string {
    if (requested === undefined || requested === '') return randomUUID();
    if (!downloadIdPattern.test(requested)) {
      throw new AppError('badRequest', 'download_id must be 1-64 characters of letters, digits, "-" or "_"');
    }
    if (this.#progress.has(requested)) throw new AppError('badRequest', 'download_id is already in use');
    return requested;
  }

  #startJob(videoId: string, downloadId: string): Job {
    const status: JobStatus = { state: 'queued', receivedBytes: 0, totalBytes: undefined, error: undefined, updatedAtMs: this.#now() };
    const controller = new AbortController();
    const job: Job = { videoId, status, controller, waiters: 0, done: Promise.resolve() };
    const logger = this.#logger?.child({ downloadId, videoId });
    job.done = this.#run(job, logger)
      .then(
        (lease) => {
          status.state = 'done';
          status.updatedAtMs = this.#now();
          // Waiters take their own leases in their continuations; keep ours until they ran.
          setImmediate(() => lease.release());
        },
        (error: unknown) => {
          const appError = toAppError(error, controller.signal);
          status.state = 'failed';
          status.error = appError.message;
          status.updatedAtMs = this.#now();
          logger?.warn({ code: appError.code, reason: appError.message }, 'youtube download failed');
          throw appError;
        },
      )
      .finally(() => this.#jobs.delete(videoId));
    // A job nobody awaits any more must not surface as an unhandled rejection.
    job.done.catch(() => undefined);
    this.#jobs.set(videoId, job);
    return job;
  }

  async #run(job: Job, logger: Logger | undefined): Promise<CacheLease> {
    const { signal } = job.controller;
    const release = await this.#gate.acquire(signal);
    const cancelTimeout = this.#setTimer(() => {
      job.controller.abort(new AppError('downloadTimeout', `Download took longer than ${Math.round(this.limits.timeoutMs / 1000)} s`));
    }, this.limits.timeoutMs);
    const temporaryPath = this.#cache.temporaryPath();
    try {
      this.#setState(job, 'resolving');
      logger?.info('youtube download started');
      const video = await this.#fetcher.resolve(job.videoId, signal);
      if (video.isLive) throw new AppError('badRequest', 'Live streams cannot be downloaded');
      const durationSeconds = video.durationSeconds;
      if (durationSeconds !== undefined && durationSeconds > this.limits.maxDurationSeconds) {
        throw new AppError('mediaTooLong', `Video is ${Math.round(durationSeconds)} s long; the limit is ${this.limits.maxDurationSeconds} s`);
      }
      this.#checkSize(video.contentLengthBytes);
      job.status.totalBytes = video.contentLengthBytes;
      this.#setState(job, 'downloading');
      const body = await this.#fetcher.open(video, signal);
      this.#checkSize(body.contentLengthBytes);
      job.status.totalBytes = body.contentLengthBytes ?? video.contentLengthBytes;
      const mimeType = body.mimeType ?? video.mimeType;
      await pipeline(Readable.from(this.#meter(job, body, logger)), createWriteStream(temporaryPath, { flags: 'wx' }));
      const lease = await this.#cache.commit(job.videoId, temporaryPath, mimeType, job.status.receivedBytes);
      logger?.info({ sizeBytes: job.status.receivedBytes }, 'youtube download finished');
      return lease;
    } catch (error) {
      await rm(temporaryPath, { force: true });
      throw error;
    } finally {
      cancelTimeout();
      release();
    }
  }

  /** Counts bytes, enforces the size and stall limits, logs progress; aborts promptly. */
  async *#meter(job: Job, body: MediaBody, logger: Logger | undefined): AsyncGenerator<Uint8Array> {
    const { signal } = job.controller;
    const iterator = body.chunks[Symbol.asyncIterator]();
    const logEveryBytes = job.status.totalBytes !== undefined ? Math.max(1, Math.ceil(job.status.totalBytes / 10)) : 8 * 1024 * 1024;
    let nextLogAt = logEveryBytes;
    try {
      for (;;) {
        const cancelStall = this.#setTimer(() => {
          job.controller.abort(new AppError('downloadTimeout', `Download stalled: no data for ${Math.round(this.limits.stallTimeoutMs / 1000)} s`));
        }, this.limits.stallTimeoutMs);
        let next: IteratorResult<Uint8Array>;
        try {
          next = await waitOrAbort(iterator.next(), signal);
        } finally {
          cancelStall();
        }
        if (next.done) return;
        job.status.receivedBytes += next.value.byteLength;
        job.status.updatedAtMs = this.#now();
        this.#checkSize(job.status.receivedBytes);
        if (job.status.receivedBytes >= nextLogAt) {
          nextLogAt += logEveryBytes;
          logger?.info({ receivedBytes: job.status.receivedBytes, totalBytes: job.status.totalBytes }, 'youtube download progress');
        }
        yield next.value;
      }
    } finally {
      // Not awaited: a source stuck in a read must not keep us from failing.
      void iterator.return?.()?.catch(() => undefined);
    }
  }

  #checkSize(bytes: number | undefined): void {
    if (bytes !== undefined && bytes > this.limits.maxBytes) {
      const mib = (n: number): string => `${Math.round(n / (1024 * 1024))} MiB`;
      throw new AppError('mediaTooLarge', `Video is larger than the ${mib(this.limits.maxBytes)} limit`);
    }
  }

  #setState(job: Job, state: JobStatus['state']): void {
    job.status.state = state;
    job.status.updatedAtMs = this.#now();
  }
}

function waitOrAbort<T>(promise: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
  if (!signal) return promise;
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

function toAppError(error: unknown, signal: AbortSignal): AppError {
  // An abort surfaces as whatever the aborted operation threw; the reason says why.
  if (signal.aborted && isAppError(signal.reason)) return signal.reason;
  if (isAppError(error)) return error;
  return new AppError('downloadFailed', 'Download failed: the media transfer was interrupted', { cause: error });
}
