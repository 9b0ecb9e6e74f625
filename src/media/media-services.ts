/**
 * Wires the YouTube downloader from validated settings (the config's `media.youtube` section,
 * which may be passed as is; `enabled` / `requireKnownSession` are for the caller to act on):
 * cache folder, limits, the youtubei.js fetcher. The server builds it once at start-up and closes
 * it on shutdown; tests build the pieces themselves with an injected fetcher.
 */
import type { Logger } from 'pino';
import { DownloadCache } from './download-cache.ts';
import type { VideoFetcher } from './video-fetcher.ts';
import { YoutubeDownloader } from './youtube-downloader.ts';
import type { DownloadLimits } from './youtube-downloader.ts';
import { createYoutubeiFetcher } from './youtubei-fetcher.ts';

export interface YoutubeSettings extends DownloadLimits {
  /** Folder for downloaded videos (created if missing; leftovers of interrupted downloads are deleted). */
  cacheDir: string;
  /** Total size of the download cache; least recently used videos are deleted beyond it. */
  cacheMaxBytes: number;
}

/**
 * Creates and initialises the downloader. Throws (RangeError) if a single video could not fit in
 * the cache, and whatever the file system throws if the cache folder cannot be created.
 */
export async function createYoutubeDownloader(
  settings: YoutubeSettings,
  options: { logger?: Logger; fetcher?: VideoFetcher } = {},
): Promise<YoutubeDownloader> {
  if (settings.maxBytes > settings.cacheMaxBytes) {
    throw new RangeError(
      `media.youtube.maxBytes (${settings.maxBytes}) must not exceed media.youtube.cacheMaxBytes (${settings.cacheMaxBytes}): a downloaded video must fit in the cache`,
    );
  }
  const logger = options.logger?.child({ component: 'youtube' });
  const cache = new DownloadCache({ dir: settings.cacheDir, maxBytes: settings.cacheMaxBytes, ...(logger ? { logger } : {}) });
  await cache.init();
  const limits: DownloadLimits = {
    maxBytes: settings.maxBytes,
    maxDurationSeconds: settings.maxDurationSeconds,
    timeoutMs: settings.timeoutMs,
    stallTimeoutMs: settings.stallTimeoutMs,
    maxConcurrent: settings.maxConcurrent,
    maxQueued: settings.maxQueued,
  };
  return new YoutubeDownloader({
    fetcher: options.fetcher ?? createYoutubeiFetcher(),
    cache,
    limits,
    ...(logger ? { logger } : {}),
  });
}
