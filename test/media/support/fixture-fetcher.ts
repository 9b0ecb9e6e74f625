/**
 * A VideoFetcher for tests: a catalogue maps video ids to fixture-server URLs and metadata; the
 * bytes are fetched with the production `openHttpMedia` over the production guarded fetch (allowing
 * only the loopback fixture host), so the download path under test is the real one.
 */
import { AppError } from '../../../src/errors.ts';
import { createGuardedFetch } from '../../../src/media/guarded-fetch.ts';
import { openHttpMedia } from '../../../src/media/video-fetcher.ts';
import type { ResolvedVideo, VideoFetcher } from '../../../src/media/video-fetcher.ts';

export interface CatalogueEntry {
  /** Path on the fixture server, e.g. "/media/clip". */
  path: string;
  durationSeconds?: number;
  contentLengthBytes?: number;
  isLive?: boolean;
}

export function fixtureFetcher(baseUrl: string, catalogue: Record<string, CatalogueEntry>): VideoFetcher & { resolved: string[] } {
  const fetchFn = createGuardedFetch({ isAllowedUrl: (url) => url.protocol === 'http:' && url.hostname === '127.0.0.1' });
  const resolved: string[] = [];
  return {
    resolved,
    async resolve(videoId: string): Promise<ResolvedVideo> {
      resolved.push(videoId);
      const entry = catalogue[videoId];
      if (!entry) throw new AppError('downloadFailed', 'Video is not available (ERROR: fixture has no such video)');
      const video: ResolvedVideo = { videoId, mimeType: 'video/mp4', mediaUrl: new URL(entry.path, baseUrl).toString() };
      if (entry.durationSeconds !== undefined) video.durationSeconds = entry.durationSeconds;
      if (entry.contentLengthBytes !== undefined) video.contentLengthBytes = entry.contentLengthBytes;
      if (entry.isLive !== undefined) video.isLive = entry.isLive;
      return video;
    },
    open(video, signal) {
      return openHttpMedia(video.mediaUrl, fetchFn, signal);
    },
  };
}
