/**
 * Text frames of the /wss protocol (spec §2). The browser tells status frames from translations
 * only by these prefixes; any other text replaces its translation display, so a translation frame
 * is the bare cumulative text and nothing else may be sent without a prefix.
 */

export const serverFrames = {
  ready: 'READY: Scheduler system ready',
  initializing: (queuePosition: number): string =>
    `INITIALIZING: Waiting for a free translation slot (queue position ${queuePosition}), please wait...`,
  error: (message: string): string => `ERROR: ${message}`,
  processingComplete: 'PROCESSING_COMPLETE: File processing finished',
  latencyUpdated: (multiplier: number): string => `LATENCY_UPDATED: Set to ${multiplier}`,
  /** Ours, only on sockets that ask (?lag=true): ms of received audio not translated yet. */
  lag: (lagMs: number): string => `LAG: ${Math.round(lagMs)}`,
} as const;

/**
 * A translation frame of the opt-in delta mode (`/wss/{id}?text_frames=delta`): the translation
 * from UTF-16 offset `offset` on is now `text`; what comes before it is what the client already
 * has. Full-text frames resend the whole translation every chunk — O(n²) bytes over a long
 * session; these carry what changed.
 */
export function deltaFrame(offset: number, text: string): string {
  return `DELTA:${offset}:${text}`;
}

/** Length of the common prefix of two strings (UTF-16 units), never splitting a surrogate pair. */
export function commonPrefixLength(a: string, b: string): number {
  if (b.startsWith(a)) return a.length;
  let n = 0;
  const limit = Math.min(a.length, b.length);
  while (n < limit && a.charCodeAt(n) === b.charCodeAt(n)) n++;
  // Do not end between the halves of a surrogate pair.
  if (n > 0 && n < limit && a.charCodeAt(n - 1) >= 0xd800 && a.charCodeAt(n - 1) <= 0xdbff) n--;
  return n;
}

/** Prefixes the page treats as status rather than translation. */
export const statusPrefixes = ['READY:', 'INITIALIZING:', 'ERROR:', 'PROCESSING_COMPLETE:', 'LATENCY_UPDATED:'] as const;

export type ClientTextCommand =
  | { kind: 'eof' }
  | { kind: 'latency'; multiplier: number }
  | { kind: 'badLatency' }
  | { kind: 'ignored' };

/** Classifies a client text frame; unknown text (e.g. "END") is ignored like the original. */
export function parseClientText(text: string): ClientTextCommand {
  const trimmed = text.trim();
  if (trimmed === 'EOF') return { kind: 'eof' };
  if (trimmed.startsWith('LATENCY:')) {
    const value = trimmed.slice('LATENCY:'.length).trim();
    if (!/^\d+$/.test(value)) return { kind: 'badLatency' };
    return { kind: 'latency', multiplier: Number(value) };
  }
  return { kind: 'ignored' };
}

/** Guards against sending a translation the page would mistake for a status frame. */
export function looksLikeStatus(text: string): boolean {
  return statusPrefixes.some((prefix) => text.startsWith(prefix));
}
