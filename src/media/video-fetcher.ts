/**
 * The seam between the downloader and whatever knows how to find a video's media: the default
 * implementation asks YouTube through youtubei.js (youtubei-fetcher.ts); tests inject one that
 * points at a local fixture server. Both stream the bytes with `openHttpMedia`.
 */
import { AppError } from '../errors.ts';
import type { FetchFunction } from './guarded-fetch.ts';

/** What is known about a video before any media byte is read. */
export interface ResolvedVideo {
  videoId: string;
  title?: string;
  /** Length of the video; the downloader refuses videos longer than its limit before downloading. */
  durationSeconds?: number;
  isLive?: boolean;
  /** Declared size of the media, if the source states it. */
  contentLengthBytes?: number;
  /** e.g. "video/mp4" (no codec parameters). */
  mimeType: string;
  /** Where the media bytes are; only `VideoFetcher.open` uses it. */
  mediaUrl: string;
}

/** An open media download: the bytes arrive as the consumer reads (back-pressure). */
export interface MediaBody {
  mimeType?: string;
  contentLengthBytes?: number;
  chunks: AsyncIterable<Uint8Array>;
}

export interface VideoFetcher {
  /** Looks a video id up. Throws AppError('downloadFailed') when it is unavailable. */
  resolve(videoId: string, signal: AbortSignal): Promise<ResolvedVideo>;
  /** Starts reading the media of a resolved video. Throws AppError('downloadFailed'). */
  open(video: ResolvedVideo, signal: AbortSignal): Promise<MediaBody>;
}

/**
 * GETs a media URL with the given (guarded) fetch and exposes the body as chunks. Throws
 * AppError('downloadFailed') for a non-2xx reply or a reply that is not audio/video.
 */
export async function openHttpMedia(url: string, fetchFn: FetchFunction, signal: AbortSignal): Promise<MediaBody> {
  const response = await fetchFn(url, { method: 'GET', signal });
  if (!response.ok || response.body === null) {
    await response.body?.cancel();
    throw new AppError('downloadFailed', `Download failed: the media server answered HTTP ${response.status}`);
  }
  const mimeType = (response.headers.get('content-type') ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (mimeType !== '' && !/^(video|audio)\//.test(mimeType) && mimeType !== 'application/octet-stream') {
    await response.body.cancel();
    throw new AppError('downloadFailed', `Download failed: the media server sent ${mimeType}, not a video`);
  }
  const lengthHeader = response.headers.get('content-length');
  const contentLengthBytes = lengthHeader !== null && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : undefined;
  const body: MediaBody = { chunks: readChunks(response.body) };
  if (mimeType !== '' && mimeType !== 'application/octet-stream') body.mimeType = mimeType;
  if (contentLengthBytes !== undefined) body.contentLengthBytes = contentLengthBytes;
  return body;
}

async function* readChunks(stream: ReadableStream<Uint8Array>): AsyncGenerator<Uint8Array> {
  const reader = stream.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      if (value.byteLength > 0) yield value;
    }
  } finally {
    // Stops the transfer when the consumer gives up early (limit exceeded, abort).
    await reader.cancel().catch(() => undefined);
    reader.releaseLock();
  }
}
