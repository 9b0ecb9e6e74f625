/**
 * Media routes: `POST /download_youtube` (+ `GET /download_youtube/progress`) and
 * `GET /test_video/{filename}`. Thin: parse, call the media domain, shape the reply. Compatibility
 * with the original (§1.3.9, §1.3.12): parameters come from the query string first, then a JSON
 * body; download failures are HTTP 200 `{"error": ...}`; test-video failures are real 4xx with
 * `{"detail": ...}`. The app is expected to have registered the shared body parsers
 * (plugins/request-params.ts `registerBodyParsers`), so an empty JSON body counts as absent.
 * Files go out through @fastify/static's `reply.sendFile` (ranges, ETag/Last-Modified, HEAD).
 */
import { basename, dirname } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyPluginAsync, FastifyReply } from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isAppError } from '../errors.ts';
import type { CacheLease } from '../media/download-cache.ts';
import type { DownloadProgress } from '../media/download-progress.ts';
import { attachmentDisposition } from '../media/media-types.ts';
import { TestVideoLibrary } from '../media/test-videos.ts';
import { mergeBodyParams } from '../plugins/request-params.ts';
import type { YoutubeDownloader } from '../media/youtube-downloader.ts';

export interface MediaRoutesOptions {
  /** The YouTube downloader; absent = the feature is switched off (clear error, no download). */
  downloader?: Pick<YoutubeDownloader, 'download' | 'progress'>;
  /** The only folder `/test_video/{filename}` serves from. */
  testVideoDir: string;
  /** If given, downloads are refused unless the session id is known (limits abuse of the server). */
  isKnownSession?: (sessionId: string) => boolean;
}

const maxParamLength = 4096;
const param = z.string().max(maxParamLength).optional();
const downloadParams = z.object({ url: param, session_id: param, download_id: param });
const progressQuery = z.object({ session_id: param, download_id: param });

const progressItem = z.object({
  download_id: z.string(),
  video_id: z.string(),
  state: z.string(),
  received_bytes: z.number(),
  total_bytes: z.number().nullable(),
  percent: z.number().nullable(),
  from_cache: z.boolean(),
  error: z.string().nullable(),
});
const progressReply = z.union([
  z.object({ success: z.literal(true), downloads: z.array(progressItem) }),
  z.object({ success: z.literal(false), error: z.string() }),
]);

/** Registers the media routes (encapsulated; sets its own zod compilers). */
export const mediaRoutes: FastifyPluginAsync<MediaRoutesOptions> = async (fastify, options) => {
  fastify.setValidatorCompiler(validatorCompiler);
  fastify.setSerializerCompiler(serializerCompiler);
  const app = fastify.withTypeProvider<ZodTypeProvider>();
  const library = new TestVideoLibrary(options.testVideoDir);
  // Only the reply decorator: every file sent is one the routes below resolved and checked.
  await fastify.register(fastifyStatic, { serve: false, dotfiles: 'ignore', index: false });

  app.post('/download_youtube', {
    // Query string first, then JSON body fields (the shared rule); validated as one object.
    preValidation: mergeBodyParams(['json']),
    // Invalid parameters must still be answered with 200 + {"error"} (the page's contract).
    attachValidation: true,
    schema: { querystring: downloadParams },
  }, async (request, reply) => {
    if (request.validationError) return { error: 'Invalid parameters: url and session_id must be short strings' };
    const { url, session_id: sessionId, download_id: downloadId } = request.query;
    if (url === undefined || url.trim() === '') return { error: 'Missing URL parameter' };
    if (!options.downloader) return { error: 'YouTube download is disabled on this server' };
    if (options.isKnownSession && (sessionId === undefined || !options.isKnownSession(sessionId))) {
      return { error: 'Invalid session ID' };
    }

    const cancel = new AbortController();
    const onClose = (): void => {
      if (!reply.raw.writableFinished) cancel.abort(new Error('client disconnected'));
    };
    reply.raw.once('close', onClose);
    try {
      const video = await options.downloader.download({
        url, signal: cancel.signal,
        ...(sessionId !== undefined ? { sessionId } : {}),
        ...(downloadId !== undefined ? { downloadId } : {}),
      });
      reply.header('x-download-id', video.downloadId);
      const extension = video.lease.mimeType === 'video/webm' ? 'webm' : 'mp4';
      return sendLease(reply, video.lease, `video_${sessionId ?? video.videoId}.${extension}`);
    } catch (error) {
      // The client is gone; this reply goes nowhere but keeps Fastify's bookkeeping simple.
      if (cancel.signal.aborted) return { error: 'Download cancelled' };
      if (isAppError(error) && error.status < 500) return { error: error.message };
      if (isAppError(error) && error.code !== 'internal') {
        request.log.warn({ code: error.code, reason: error.message }, 'youtube download failed');
        return { error: error.message };
      }
      request.log.error({ err: error }, 'youtube download crashed');
      return { error: 'Download failed: internal error' };
    } finally {
      reply.raw.off('close', onClose);
    }
  });

  app.get('/download_youtube/progress', {
    preValidation: mergeBodyParams(['json']),
    schema: { querystring: progressQuery, response: { 200: progressReply } },
    attachValidation: true,
  }, async (request) => {
    if (request.validationError) return { success: false as const, error: 'Invalid parameters' };
    const { session_id: sessionId, download_id: downloadId } = request.query;
    if (!options.downloader) return { success: false as const, error: 'YouTube download is disabled on this server' };
    if (sessionId === undefined && downloadId === undefined) {
      return { success: false as const, error: 'session_id or download_id is required' };
    }
    const filter = { ...(sessionId !== undefined ? { sessionId } : {}), ...(downloadId !== undefined ? { downloadId } : {}) };
    return { success: true as const, downloads: options.downloader.progress(filter).map(toWire) };
  });

  app.get('/test_video/:filename', {
    schema: { params: z.object({ filename: z.string() }) },
  }, async (request, reply) => {
    try {
      const file = await library.resolve(request.params.filename);
      reply.type(file.contentType).header('content-disposition', attachmentDisposition(file.name, 'inline'));
      return sendFileFrom(reply, file.filePath);
    } catch (error) {
      if (isAppError(error) && (error.code === 'notFound' || error.code === 'forbiddenPath')) {
        return reply.code(error.status).send({ detail: error.message });
      }
      throw error;
    }
  });
};

function toWire(progress: DownloadProgress): z.infer<typeof progressItem> {
  return {
    download_id: progress.downloadId,
    video_id: progress.videoId,
    state: progress.state,
    received_bytes: progress.receivedBytes,
    total_bytes: progress.totalBytes ?? null,
    percent: progress.percent ?? null,
    from_cache: progress.fromCache,
    error: progress.error ?? null,
  };
}

/**
 * Sends the file at `filePath` (already resolved and checked), keeping the Content-Type the
 * route chose. @fastify/send URL-decodes the name it is given, hence the encoding.
 */
function sendFileFrom(reply: FastifyReply, filePath: string): FastifyReply {
  return reply.sendFile(encodeURIComponent(basename(filePath)), dirname(filePath), { contentType: false });
}

/** Sends a cached file and releases its cache pin when the reply is over (sent or aborted). */
function sendLease(reply: FastifyReply, lease: CacheLease, fileName: string): FastifyReply {
  reply.raw.once('close', lease.release);
  reply.raw.once('finish', lease.release);
  reply.type(lease.mimeType).header('content-disposition', attachmentDisposition(fileName));
  return sendFileFrom(reply, lease.filePath);
}
