/** WebSocket close codes and reasons used on /wss/{session_id}. 4000 is the original's. */
export const closeCodes = {
  /** Unknown session id at connect (original). */
  invalidSession: { code: 4000, reason: 'Invalid session ID' },
  /** Another socket attached to the same session; only the newest receives translations. */
  replaced: { code: 4003, reason: 'Replaced by a newer connection to this session' },
  /** The session was deleted (POST /delete_session). */
  sessionDeleted: { code: 4004, reason: 'Session deleted' },
  /** The session was swept after the idle timeout without ping or audio. */
  sessionExpired: { code: 4005, reason: 'Session expired (no ping or audio)' },
  /** The page's Origin is not in `cors.origins` (only checked when that is an allow-list). */
  originNotAllowed: { code: 1008, reason: 'Origin not allowed' },
  /** Server shutdown (standard "going away"). */
  shuttingDown: { code: 1001, reason: 'Server shutting down' },
  /** An unexpected server fault on this connection. */
  internalError: { code: 1011, reason: 'Internal server error' },
} as const;

export type CloseCode = (typeof closeCodes)[keyof typeof closeCodes];
