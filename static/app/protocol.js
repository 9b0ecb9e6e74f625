/**
 * The wire contract of the translation server as the page sees it (spec §0.3, §2): language
 * pairs, audio framing, the prefixes that mark status frames and the meaning of close codes.
 */

/** The four language pairs of the original; the value is the exact id the server expects. */
export const LANGUAGE_PAIRS = Object.freeze([
  { id: 'English -> Chinese', label: 'English → Chinese', target: 'zh' },
  { id: 'English -> Italian', label: 'English → Italian', target: 'it' },
  { id: 'English -> German', label: 'English → German', target: 'de' },
  { id: 'English -> Spanish', label: 'English → Spanish', target: 'es' },
]);

export const TARGET_SAMPLE_RATE_HZ = 16000;
/** 960 ms at 16 kHz; a frame is this × the latency multiplier. */
export const BASE_FRAME_SAMPLES = 15360;
export const MIN_MULTIPLIER = 1;
export const MAX_MULTIPLIER = 4;

/** Samples in one binary frame for a multiplier. */
export function frameSamplesFor(multiplier) {
  return BASE_FRAME_SAMPLES * multiplier;
}

/**
 * Classifies a server text frame. Everything without a known status prefix is the FULL
 * translation so far (the server resends the whole text each time; the page replaces, never appends).
 */
export function classifyFrame(text) {
  const prefixes = [
    ['READY:', 'ready'],
    ['INITIALIZING:', 'initializing'],
    ['ERROR:', 'error'],
    ['PROCESSING_COMPLETE:', 'complete'],
    ['LATENCY_UPDATED:', 'latencyUpdated'],
  ];
  for (const [prefix, kind] of prefixes) {
    if (text.startsWith(prefix)) return { kind, text: text.slice(prefix.length).trim() };
  }
  return { kind: 'translation', text };
}

/** What a close code means for the page: is the session gone, and what to tell the person. */
export function describeClose(code, reason) {
  switch (code) {
    case 4000:
      return { isFatal: true, message: 'The server does not know this session any more (it may have restarted). Press Start to begin a new one.' };
    case 4003:
      return { isFatal: true, message: 'This session was opened in another tab or window, which now receives the translation.' };
    case 4004:
      return { isFatal: true, message: 'The session was ended.' };
    case 4005:
      return { isFatal: true, message: 'The session expired after a long time without audio or contact. Press Start to begin a new one.' };
    case 1001:
      return { isFatal: false, message: 'The server is restarting or shutting down.' };
    default:
      return { isFatal: false, message: reason ? `Connection closed (${reason}).` : 'Connection to the server was lost.' };
  }
}

/** True if an HTTP error text means the server no longer has the session (spec §3.5). */
export function isSessionGoneMessage(text) {
  if (typeof text !== 'string') return false;
  return /invalid session|session not found|does not exist|not found|不存在|调度器/i.test(text);
}
