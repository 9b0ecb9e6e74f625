/**
 * The contract between a session and the connection that serves it (the /wss adapter, the
 * realtime adapter): what the session tells its connection, and the states and reasons it names.
 */
import type { AppError } from '../errors.ts';

export type SessionState = 'queued' | 'active' | 'closed';
export type CloseReason = 'deleted' | 'expired' | 'shutdown' | 'failed';

/** The connection side of a session (a WebSocket adapter); all calls are fire-and-forget. */
export interface SessionSink {
  /** The cumulative translation grew. Returns false if the connection can no longer send. */
  sendTranslation(fullText: string): boolean;
  /** A chunk failed; the session keeps working. */
  sendError(error: AppError): void;
  /** Buffered audio fell back under the high-water mark: reading may resume. */
  resumeInput(): void;
  /** The session left the queue and translates now. */
  activated(): void;
  /** The session ended; close the transport. */
  sessionClosed(reason: CloseReason): void;
  /** A newer connection took over this session. */
  replaced(): void;
  /** The server is shutting down: stop reading audio; results in flight still arrive. */
  shuttingDown(): void;
}
