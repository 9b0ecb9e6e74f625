/**
 * A `fetch` that only talks to allowed hosts and follows redirects itself, checking every hop,
 * so a redirect can never carry a download into the internal network or to another site (the
 * SSRF of the original, W12). Used for every request the YouTube library makes and for the media
 * bytes themselves.
 */
import { AppError } from '../errors.ts';

export type FetchFunction = typeof fetch;

export interface GuardedFetchOptions {
  /** Decides whether a URL (first request and every redirect target) may be fetched. */
  isAllowedUrl(url: URL): boolean;
  /** Redirect hops followed before giving up. */
  maxRedirects?: number;
  /** The underlying fetch (default: the global one). */
  fetchImpl?: FetchFunction;
}

const redirectStatuses = new Set([301, 302, 303, 307, 308]);

/** Hosts YouTube serves pages, the player script and media from (exact host or any sub-domain). */
export const youtubeHostSuffixes = ['youtube.com', 'youtu.be', 'googlevideo.com', 'ytimg.com', 'youtube-nocookie.com'];

/** Accepts https URLs on the default port whose host is one of `hostSuffixes` or a sub-domain of one. */
export function httpsHostAllowList(hostSuffixes: readonly string[]): (url: URL) => boolean {
  return (url) => {
    if (url.protocol !== 'https:' || url.username !== '' || url.password !== '' || url.port !== '') return false;
    const host = url.hostname.toLowerCase();
    return hostSuffixes.some((suffix) => host === suffix || host.endsWith(`.${suffix}`));
  };
}

/**
 * Wraps fetch with the host check and manual redirects. The returned function throws
 * AppError('downloadFailed') for a disallowed URL or too many redirects; network errors pass through.
 */
export function createGuardedFetch(options: GuardedFetchOptions): FetchFunction {
  const fetchImpl = options.fetchImpl ?? globalThis.fetch;
  const maxRedirects = options.maxRedirects ?? 5;

  const guarded = async (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
    let request = buildRequest(() => new Request(input, init));
    for (let hop = 0; ; hop += 1) {
      const url = new URL(request.url);
      if (!options.isAllowedUrl(url)) {
        throw new AppError('downloadFailed', `Refusing to fetch from a host that is not allowed (${url.hostname})`);
      }
      // Keep a copy: a 307/308 must replay the body, and the original is consumed by the fetch.
      const replay = request.clone();
      const response = await fetchImpl(new Request(request, { redirect: 'manual' }));
      if (!redirectStatuses.has(response.status)) return response;
      const location = response.headers.get('location');
      if (location === null) return response;
      await response.body?.cancel();
      if (hop >= maxRedirects) throw new AppError('downloadFailed', `Too many redirects (more than ${maxRedirects})`);
      const target = buildRequest(() => new URL(location, url));
      const keepsMethod = response.status === 307 || response.status === 308 ||
        (replay.method !== 'POST' && response.status !== 303);
      const hasBody = keepsMethod && replay.method !== 'GET' && replay.method !== 'HEAD';
      const body = hasBody ? await replay.arrayBuffer() : null;
      request = buildRequest(() => new Request(target, {
        method: keepsMethod ? replay.method : 'GET', headers: replay.headers, body, signal: replay.signal,
      }));
    }
  };
  return guarded as FetchFunction;
}

// URLs with credentials or garbage throw TypeError in Request/URL; report them as refused downloads.
function buildRequest<T>(build: () => T): T {
  try {
    return build();
  } catch (error) {
    throw new AppError('downloadFailed', 'Refusing to fetch a malformed URL', { cause: error });
  }
}
