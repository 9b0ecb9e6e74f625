/**
 * Media types and Content-Disposition values for the files the media routes send (test videos,
 * downloads). The bytes themselves — ranges, validators, HEAD — are @fastify/static's work.
 */

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

/** `attachment; filename="..."` with a name reduced to safe characters (plus an RFC 5987 copy). */
export function attachmentDisposition(fileName: string, kind: 'attachment' | 'inline' = 'attachment'): string {
  const ascii = fileName.replace(/[^A-Za-z0-9._ -]/g, '_').slice(0, 150) || 'file';
  return `${kind}; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(fileName.slice(0, 150))}`;
}
