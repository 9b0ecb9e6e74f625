/**
 * HTTP byte ranges (RFC 9110 §14) for serving media files, so a `<video>` element can seek.
 * Only single ranges are honoured: a multi-range request is answered with the whole file, which
 * the RFC allows and every media player handles.
 */

export interface ByteRange {
  /** First byte, inclusive. */
  start: number;
  /** Last byte, inclusive. */
  end: number;
}

/** No usable range: send the whole file with 200. */
export type RangeResult =
  | { kind: 'full' }
  | { kind: 'partial'; range: ByteRange }
  | { kind: 'unsatisfiable' };

/**
 * Interprets a Range header for a file of `sizeBytes`. Malformed or multi-range headers give
 * 'full' (the header is ignored, as the RFC requires for syntax it does not understand);
 * a well-formed range that starts past the end gives 'unsatisfiable' (416).
 */
export function parseRange(header: string | undefined, sizeBytes: number): RangeResult {
  if (header === undefined) return { kind: 'full' };
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  // Numbers longer than this cannot be file offsets and would lose precision.
  if (first.length > 15 || last.length > 15) return { kind: 'full' };
  if (first === '') {
    // Suffix range: the last N bytes.
    const suffix = Number(last);
    if (suffix === 0 || sizeBytes === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(0, sizeBytes - suffix), end: sizeBytes - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? sizeBytes - 1 : Number(last);
  if (last !== '' && end < start) return { kind: 'full' };
  if (start >= sizeBytes) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end: Math.min(end, sizeBytes - 1) } };
}

/** The Content-Range value of a partial reply: `bytes start-end/size`. */
export function contentRange(range: ByteRange, sizeBytes: number): string {
  return `bytes ${range.start}-${range.end}/${sizeBytes}`;
}

/** The Content-Range value of a 416 reply (no range, then the full size). */
export function unsatisfiedRange(sizeBytes: number): string {
  return `bytes */${sizeBytes}`;
}
