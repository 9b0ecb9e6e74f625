/**
 * Error strings the original browser page matches on (spec §3.5): `/ping` compares `error` for
 * equality with the first two; Reset and Update Latency search `error || message` for substrings
 * such as "does not exist". Changing them breaks the page's automatic session recovery.
 */
export const frontendErrors = {
  invalidSession: 'Invalid session ID',
  sessionNotFound: 'Session not found',
  noSessionId: 'No session_id provided',
  /** Reset/Update Latency: contains "does not exist", which the page recognises. */
  sessionDoesNotExist: (sessionId: string): string => `Session ${sessionId} does not exist`,
  /** Evaluation routes (api.py's intended contract). */
  sessionIdNotFound: (sessionId: string): string => `Session ${sessionId} not found`,
} as const;
