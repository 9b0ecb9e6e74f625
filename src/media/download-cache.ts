/**
 * Downloaded videos on disk, keyed by video id, bounded in total size. Least recently used files
 * are deleted first; a file being sent to a client is pinned by a lease and never deleted under
 * it. File names are built from the validated id only (`yt-<id>.<ext>`), and downloads in
 * progress write to random `.part` names, so concurrent downloads never collide and no client text
 * reaches the file system (the original wrote `/tmp/video_<session_id>...`, W12).
 */
import { randomUUID } from 'node:crypto';
import { mkdir, readdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from 'pino';
import { isYoutubeVideoId } from './youtube-url.ts';

export interface DownloadCacheOptions {
  dir: string;
  /** Total size the cache may keep on disk; older files are deleted to stay under it. */
  maxBytes: number;
  logger?: Logger;
  now?: () => number;
}

/** A pinned cache entry: the file stays until `release()` is called (call it exactly once). */
export interface CacheLease {
  videoId: string;
  filePath: string;
  sizeBytes: number;
  mimeType: string;
  release(): void;
}

interface Entry {
  videoId: string;
  filePath: string;
  sizeBytes: number;
  extension: string;
  lastUsedMs: number;
  pins: number;
}

const mimeByExtension: Record<string, string> = { mp4: 'video/mp4', webm: 'video/webm', '3gp': 'video/3gpp' };
const extensionByMime: Record<string, string> = { 'video/mp4': 'mp4', 'video/webm': 'webm', 'video/3gpp': '3gp' };
const cachedNamePattern = /^yt-([A-Za-z0-9_-]{11})\.(mp4|webm|3gp)$/;

export class DownloadCache {
  readonly dir: string;
  readonly maxBytes: number;
  readonly #entries = new Map<string, Entry>();
  readonly #logger: Logger | undefined;
  readonly #now: () => number;

  constructor(options: DownloadCacheOptions) {
    this.dir = options.dir;
    this.maxBytes = options.maxBytes;
    this.#logger = options.logger;
    this.#now = options.now ?? Date.now;
  }

  /** Creates the folder, deletes leftovers of interrupted downloads, indexes kept files, trims to size. */
  async init(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    for (const name of await readdir(this.dir)) {
      const filePath = join(this.dir, name);
      if (name.endsWith('.part')) {
        await rm(filePath, { force: true });
        continue;
      }
      const match = cachedNamePattern.exec(name);
      if (!match?.[1] || !match[2]) continue;
      const info = await stat(filePath);
      if (!info.isFile()) continue;
      this.#entries.set(match[1], {
        videoId: match[1], filePath, sizeBytes: info.size, extension: match[2], lastUsedMs: info.mtimeMs, pins: 0,
      });
    }
    await this.#evict();
  }

  /** Total bytes of the files the cache holds. */
  get totalBytes(): number {
    let total = 0;
    for (const entry of this.#entries.values()) total += entry.sizeBytes;
    return total;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** A lease on a cached video, or undefined if it is not cached. */
  lookup(videoId: string): CacheLease | undefined {
    const entry = this.#entries.get(videoId);
    return entry ? this.#lease(entry) : undefined;
  }

  /** A fresh, unique path inside the cache folder for a download in progress. */
  temporaryPath(): string {
    return join(this.dir, `.dl-${randomUUID()}.part`);
  }

  /**
   * Moves a finished download into the cache and returns a lease on it; older unpinned files are
   * then deleted until the total fits. Throws if the id is not a valid video id.
   */
  async commit(videoId: string, temporaryPath: string, mimeType: string, sizeBytes: number): Promise<CacheLease> {
    if (!isYoutubeVideoId(videoId)) throw new Error(`not a video id: ${videoId}`);
    const extension = extensionByMime[mimeType] ?? 'mp4';
    const filePath = join(this.dir, `yt-${videoId}.${extension}`);
    const previous = this.#entries.get(videoId);
    if (previous && previous.pins > 0) {
      // Someone is reading the old copy; keep it and drop the new one.
      await rm(temporaryPath, { force: true });
      return this.#lease(previous);
    }
    if (previous && previous.filePath !== filePath) await rm(previous.filePath, { force: true });
    await rename(temporaryPath, filePath);
    const entry: Entry = { videoId, filePath, sizeBytes, extension, lastUsedMs: this.#now(), pins: 0 };
    this.#entries.set(videoId, entry);
    const lease = this.#lease(entry);
    await this.#evict();
    return lease;
  }

  #lease(entry: Entry): CacheLease {
    entry.pins += 1;
    entry.lastUsedMs = this.#now();
    let released = false;
    return {
      videoId: entry.videoId,
      filePath: entry.filePath,
      sizeBytes: entry.sizeBytes,
      mimeType: mimeByExtension[entry.extension] ?? 'video/mp4',
      release: () => {
        if (released) return;
        released = true;
        entry.pins -= 1;
        if (this.totalBytes > this.maxBytes) void this.#evict();
      },
    };
  }

  async #evict(): Promise<void> {
    const victims = [...this.#entries.values()]
      .filter((entry) => entry.pins === 0)
      .sort((a, b) => a.lastUsedMs - b.lastUsedMs);
    let total = this.totalBytes;
    for (const victim of victims) {
      if (total <= this.maxBytes) break;
      this.#entries.delete(victim.videoId);
      total -= victim.sizeBytes;
      try {
        await rm(victim.filePath, { force: true });
        this.#logger?.info({ videoId: victim.videoId, sizeBytes: victim.sizeBytes }, 'evicted cached video');
      } catch (error) {
        this.#logger?.warn({ err: error, videoId: victim.videoId }, 'could not delete cached video');
      }
    }
  }
}
