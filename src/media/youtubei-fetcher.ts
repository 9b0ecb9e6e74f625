/**
 * The default VideoFetcher: youtubei.js (pinned) finds the video and its progressive
 * (audio+video) format; every request it makes, and the media download, go through the guarded
 * fetch, so only YouTube's own hosts are ever contacted, redirects included. No process is spawned.
 */
import vm from 'node:vm';
import { Innertube, Platform } from 'youtubei.js';
import type { Types } from 'youtubei.js';
import { AppError } from '../errors.ts';
import { createGuardedFetch, httpsHostAllowList, youtubeHostSuffixes } from './guarded-fetch.ts';
import type { FetchFunction } from './guarded-fetch.ts';
import { openHttpMedia } from './video-fetcher.ts';
import type { MediaBody, ResolvedVideo, VideoFetcher } from './video-fetcher.ts';

export interface YoutubeiFetcherOptions {
  /** Replaces the network (tests); the host check still applies on top of it. */
  fetchImpl?: FetchFunction;
  /** Longest time the player's signature script may run. */
  scriptTimeoutMs?: number;
}

/** Creates the youtubei.js-backed fetcher; the library session is created on first use. */
export function createYoutubeiFetcher(options: YoutubeiFetcherOptions = {}): VideoFetcher {
  const guardedFetch = createGuardedFetch({
    isAllowedUrl: httpsHostAllowList(youtubeHostSuffixes),
    ...(options.fetchImpl ? { fetchImpl: options.fetchImpl } : {}),
  });
  installScriptEvaluator(options.scriptTimeoutMs ?? 2_000);
  let client: Promise<Innertube> | undefined;
  const getClient = (): Promise<Innertube> => {
    client ??= Innertube.create({ fetch: guardedFetch, generate_session_locally: true, retrieve_player: true })
      .catch((error: unknown) => {
        client = undefined; // retry on the next download instead of caching the failure
        throw new AppError('downloadFailed', 'Download failed: could not reach YouTube', { cause: error });
      });
    return client;
  };

  return {
    async resolve(videoId: string, signal: AbortSignal): Promise<ResolvedVideo> {
      const innertube = await raceAbort(getClient(), signal);
      const info = await raceAbort(innertube.getBasicInfo(videoId), signal).catch(libraryFailure('look the video up'));
      const status = info.playability_status?.status;
      if (status !== undefined && status !== 'OK') {
        const reason = info.playability_status?.reason;
        throw new AppError('downloadFailed', `Video is not available (${status}${reason ? `: ${reason}` : ''})`);
      }
      let format;
      try {
        format = info.chooseFormat({ type: 'video+audio', quality: 'best', format: 'mp4' });
      } catch (error) {
        throw new AppError('downloadFailed', 'Download failed: no downloadable audio+video format', { cause: error });
      }
      const mediaUrl = await raceAbort(format.decipher(innertube.session.player), signal)
        .catch(libraryFailure('decipher the media URL'));
      const resolved: ResolvedVideo = {
        videoId,
        mimeType: format.mime_type.split(';')[0]?.trim() || 'video/mp4',
        mediaUrl,
      };
      const title = info.basic_info.title;
      if (title !== undefined) resolved.title = title;
      const duration = info.basic_info.duration;
      if (typeof duration === 'number' && duration > 0) resolved.durationSeconds = duration;
      if (info.basic_info.is_live === true) resolved.isLive = true;
      if (typeof format.content_length === 'number') resolved.contentLengthBytes = format.content_length;
      return resolved;
    },
    open(video: ResolvedVideo, signal: AbortSignal): Promise<MediaBody> {
      return openHttpMedia(video.mediaUrl, guardedFetch, signal);
    },
  };
}

function libraryFailure(what: string): (error: unknown) => never {
  return (error) => {
    if (error instanceof AppError) throw error;
    throw new AppError('downloadFailed', `Download failed: could not ${what}`, { cause: error });
  };
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

let evaluatorInstalled = false;

/**
 * youtubei.js ≥16 needs a host-provided evaluator for the signature/"n" transform extracted from
 * YouTube's player script (https://ytjs.dev/guide/getting-started.html#providing-a-custom-javascript-interpreter).
 * We run it in a fresh vm context with a timeout: the script comes from youtube.com over TLS (host
 * allow-list), the context keeps it away from our globals, and the timeout bounds a runaway loop.
 * node:vm is not a security sandbox; the trust rests on the source. The arguments are passed as
 * context values, never spliced into the code.
 */
function installScriptEvaluator(timeoutMs: number): void {
  if (evaluatorInstalled) return;
  evaluatorInstalled = true;
  Platform.shim.eval = (data: Types.BuildScriptResult, env: Record<string, Types.VMPrimative>) => {
    const context = vm.createContext({
      URL,
      URLSearchParams,
      __n: env.n ?? '',
      __sp: env.sp ?? '',
      __sig: env.sig ?? '',
    });
    const code = `(function () {\n${data.output}\nreturn process(__n, __sp, __sig);\n})()`;
    const result: unknown = vm.runInContext(code, context, { timeout: timeoutMs });
    if (typeof result !== 'object' || result === null) return undefined;
    return result as Record<string, unknown>;
  };
}
