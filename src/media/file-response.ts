/**
 * Everything needed to answer a GET/HEAD for a media file, without Fastify: status, headers
 * (length, range, validators, type) and a stream of exactly the bytes to send. The route only
 * copies these onto its reply.
 */
import { createReadStream } from 'node:fs';
import type { Stats } from 'node:fs';
import type { Readable } from 'node:stream';
import { contentRange, parseRange, unsatisfiedRange } from './range.ts';

export interface FileRequestHeaders {
  range?: string;
  ifRange?: string;
}

export interface FileResponse {
  status: 200 | 206 | 416;
  headers: Record<string, string>;
  /** The bytes to send (absent for 416). */
  body: Readable | undefined;
}

const mimeByExtension: Record<string, string> = {
  mp4: 'video/mp4', m4v: 'video/mp4', webm: 'video/webm', mkv: 'video/x-matroska', mov: 'video/quicktime',
  ogv: 'video/ogg', '3gp': 'video/3gpp', wav: 'audio/wav', mp3: 'audio/mpeg', m4a: 'audio/mp4',
  aac: 'audio/aac', ogg: 'audio/ogg', oga: 'audio/ogg', opus: 'audio/ogg', flac: 'audio/flac', weba: 'audio/webm',
};

/** The media type for a file name, by extension (application/octet-stream if unknown). */
export function mediaTypeFor(fileName: string): string {
  const dot = fileName.lastIndexOf('.');
  const extension = dot >= 0 ? fileName.slice(dot + 1).toLowerCase() : '';
  return mimeByExtension[extension] ?? 'application/octet-stream';
}

/** A weak validator from size and modification time (enough to tell a replaced file). */
export function etagFor(stats: Pick<Stats, 'size' | 'mtimeMs'>): string {
  return `W/"${stats.size.toString(16)}-${Math.floor(stats.mtimeMs).toString(16)}"`;
}

/**
 * Builds the reply for `filePath` (already resolved and checked by the caller) given the
 * request's Range/If-Range headers. Never throws for a bad header; opening the stream is lazy.
 */
export function buildFileResponse(
  filePath: string,
  stats: Pick<Stats, 'size' | 'mtime' | 'mtimeMs'>,
  request: FileRequestHeaders,
  options: { contentType: string; contentDisposition?: string },
): FileResponse {
  const size = stats.size;
  const etag = etagFor(stats);
  const lastModified = stats.mtime.toUTCString();
  const headers: Record<string, string> = {
    'content-type': options.contentType,
    'accept-ranges': 'bytes',
    'last-modified': lastModified,
    etag,
    'x-content-type-options': 'nosniff',
  };
  if (options.contentDisposition) headers['content-disposition'] = options.contentDisposition;

  // If-Range: honour the range only if the client's copy is still the current file.
  const rangeStillValid = request.ifRange === undefined || request.ifRange === etag || request.ifRange === lastModified;
  const range = rangeStillValid ? parseRange(request.range, size) : { kind: 'full' as const };
  if (range.kind === 'unsatisfiable') {
    return { status: 416, headers: { ...headers, 'content-range': unsatisfiedRange(size), 'content-length': '0' }, body: undefined };
  }
  if (range.kind === 'partial') {
    const { start, end } = range.range;
    headers['content-range'] = contentRange(range.range, size);
    headers['content-length'] = String(end - start + 1);
    return { status: 206, headers, body: createReadStream(filePath, { start, end }) };
  }
  headers['content-length'] = String(size);
  return { status: 200, headers, body: createReadStream(filePath) };
}

/** `attachment; filename="..."` with a name reduced to safe characters (plus an RFC 5987 copy). */
export function attachmentDisposition(fileName: string, kind: 'attachment' | 'inline' = 'attachment'): string {
  const ascii = fileName.replace(/[^A-Za-z0-9._ -]/g, '_').slice(0, 150) || 'file';
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName.slice(0, 150))}`;
}
