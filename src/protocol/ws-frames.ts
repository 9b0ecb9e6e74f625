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
} as const;

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
