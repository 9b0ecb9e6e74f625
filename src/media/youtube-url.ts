/**
 * Turns user input (a YouTube URL or a bare video id) into a validated 11-character video id.
 * The input is parsed with the WHATWG URL parser and checked field by field (scheme, userinfo,
 * port, host, path), never pattern-matched as a raw string: pattern matching is how
 * `https://youtube.com@evil.example/` or `https://evil.example/?x=youtube.com/watch?v=...` slip
 * through. Only the id leaves this module, so nothing the user typed reaches a fetch or a file name.
 */
import { AppError } from '../errors.ts';

/** Longest input accepted; real watch URLs with tracking parameters stay far below this. */
export const maxYoutubeInputLength = 2048;

const videoIdPattern = /^[A-Za-z0-9_-]{11}$/;

/** Hosts that serve the watch page or a short link; `youtu.be` is handled separately. */
const watchHosts = new Set([
  'youtube.com',
  'www.youtube.com',
  'm.youtube.com',
  'music.youtube.com',
  'youtube-nocookie.com',
  'www.youtube-nocookie.com',
]);

/** Path prefixes whose next segment is the video id (`/shorts/<id>`, `/embed/<id>`, ...). */
const idPathPrefixes = new Set(['shorts', 'embed', 'live', 'v']);

export interface YoutubeVideoRef {
  videoId: string;
  /** The canonical watch URL rebuilt from the id (never the user's text). */
  canonicalUrl: string;
}

/** True for a syntactically valid YouTube video id (11 characters of [A-Za-z0-9_-]). */
export function isYoutubeVideoId(value: string): boolean {
  return videoIdPattern.test(value);
}

/**
 * Parses a YouTube video URL or id. Throws AppError('badRequest') with a message that says what
 * was wrong (the message never echoes the input, which may be very long or hostile).
 */
export function parseYoutubeVideo(input: unknown): YoutubeVideoRef {
  if (typeof input !== 'string') throw invalid('the URL must be a string');
  const text = input.trim();
  if (text.length === 0) throw invalid('the URL is empty');
  if (text.length > maxYoutubeInputLength) throw invalid(`the URL is longer than ${maxYoutubeInputLength} characters`);
  if (isYoutubeVideoId(text)) return toRef(text);

  const url = parseUrl(text);
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw invalid('only http(s) URLs are accepted');
  if (url.username !== '' || url.password !== '') throw invalid('URLs with user information are not accepted');
  if (url.port !== '') throw invalid('URLs with an explicit port are not accepted');

  const host = url.hostname.toLowerCase();
  const segments = url.pathname.split('/').filter((segment) => segment.length > 0);
  let candidate: string | undefined;
  if (host === 'youtu.be') {
    candidate = segments.length === 1 ? segments[0] : undefined;
  } else if (watchHosts.has(host)) {
    candidate = idFromWatchPath(segments, url.searchParams);
  } else {
    throw invalid('only youtube.com and youtu.be video URLs are accepted');
  }
  if (candidate === undefined) throw invalid('the URL does not point to a single video');
  if (!isYoutubeVideoId(candidate)) throw invalid('the video id is malformed');
  return toRef(candidate);
}

function idFromWatchPath(segments: string[], query: URLSearchParams): string | undefined {
  const [first, second, ...rest] = segments;
  if (first === 'watch' && second === undefined) {
    const ids = query.getAll('v');
    return ids.length === 1 ? ids[0] : undefined;
  }
  if (first !== undefined && idPathPrefixes.has(first) && second !== undefined && rest.length === 0) return second;
  return undefined;
}

function parseUrl(text: string): URL {
  // Users paste "youtube.com/watch?v=..." without a scheme; anything that names a scheme keeps it
  // (so "javascript:..." or "file:..." is parsed as such and then rejected).
  const hasScheme = /^[A-Za-z][A-Za-z0-9+.-]*:/.test(text);
  try {
    return new URL(hasScheme ? text : `https://${text}`);
  } catch {
    throw invalid('it is neither a URL nor a video id');
  }
}

function toRef(videoId: string): YoutubeVideoRef {
  return { videoId, canonicalUrl: `https://www.youtube.com/watch?v=${videoId}` };
}

function invalid(reason: string): AppError {
  return new AppError('badRequest', `Invalid YouTube URL: ${reason}`);
}
