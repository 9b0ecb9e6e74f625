/**
 * The WebSocket adapter of /wss/{session_id}: validates frames, hands audio to the session,
 * writes the session's results back, and maps every failure to an `ERROR:` frame through one
 * path. No exception escapes a listener. The session outlives the socket (reconnects continue the
 * same translation); the newest socket of a session replaces an older one (closed with 4003).
 */
import type { FastifyBaseLogger } from 'fastify';
import type { RawData, WebSocket } from 'ws';
import type { AppError } from '../errors.ts';
import { decodeAudioFrame } from '../protocol/audio-frame.ts';
import { PeriodicTask } from './periodic-task.ts';
import { RepeatedEvents } from './repeated-events.ts';
import { closeCodes, type CloseCode } from '../protocol/close-codes.ts';
import { encodeWsError, toAppError } from '../protocol/error-reply.ts';
import { commonPrefixLength, deltaFrame, parseClientText, serverFrames } from '../protocol/ws-frames.ts';
import type { Session } from '../sessions/session.ts';
import type { CloseReason, SessionSink } from '../sessions/session-sink.ts';
import type { SessionManager } from '../sessions/session-manager.ts';

export interface StreamConnectionOptions {
  maxFrameSamples: number;
  log: FastifyBaseLogger;
  /** full: every translation frame is the whole text (the original's frames); delta: only what changed (`DELTA:offset:text`). */
  textFrames?: 'full' | 'delta';
  /** Period of `LAG:` frames (0/absent = none: the original's page would show them as text). */
  lagIntervalMs?: number;
}

/** Outbound frames waiting for the socket; bounded so a stalled client cannot grow memory. */
const maxOutboxFrames = 256;

const closeCodeFor: Record<CloseReason, CloseCode> = {
  deleted: closeCodes.sessionDeleted,
  expired: closeCodes.sessionExpired,
  shutdown: closeCodes.shuttingDown,
  failed: closeCodes.internalError,
};

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return Buffer.concat(data);
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return data;
}

class StreamConnection implements SessionSink {
  private readonly outbox: { text: string; isTranslation: boolean }[] = [];
  private isWriting = false;
  private pendingClose: CloseCode | null = null;
  private isInputStopped = false;
  /** The EOF being answered, if any, and whether audio arrived since it (a repeated EOF without audio adds nothing). */
  private pendingEof: Promise<void> | null = null;
  private audioSinceEof = false;
  private readonly events: RepeatedEvents;
  /** Delta mode: the translation the client holds, as of the last translation frame written. */
  private clientText = '';
  private readonly lagReports = new PeriodicTask(() => {
    if (this.session.state === 'active') this.send(serverFrames.lag(this.session.pendingAudioMs));
  });

  constructor(
    private readonly socket: WebSocket,
    private readonly session: Session,
    private readonly sessions: SessionManager,
    private readonly options: StreamConnectionOptions,
  ) {
    this.events = new RepeatedEvents(options.log, { sessionId: session.id });
  }

  /** Sends the opening status frame and any translation produced while disconnected. */
  open(): void {
    this.lagReports.start(this.options.lagIntervalMs ?? 0);
    if (this.session.state === 'active') {
      this.send(serverFrames.ready);
      this.session.deliverUndelivered();
    } else {
      this.send(serverFrames.initializing(this.sessions.queuePosition(this.session)));
      this.pause();
    }
  }

  onMessage(data: RawData, isBinary: boolean): void {
    // A replaced or ending connection must not feed the session any more.
    if (this.pendingClose) return;
    try {
      if (isBinary) this.onAudio(toBytes(data));
      else this.onText(toBytes(data).toString());
    } catch (error) {
      this.fail(error);
    }
  }

  onClose(code: number): void {
    this.lagReports.stop();
    this.session.detach(this);
    this.outbox.length = 0;
    this.options.log.debug({ sessionId: this.session.id, code }, 'stream socket closed');
    this.events.summarize();
  }

  // --- SessionSink -------------------------------------------------------------------------

  sendTranslation(fullText: string): boolean {
    if (this.socket.readyState !== this.socket.OPEN || this.pendingClose) return false;
    const last = this.outbox[this.outbox.length - 1];
    // Frames carry the whole text, so an unsent older translation can simply be replaced.
    if (last?.isTranslation) last.text = fullText;
    else this.enqueue(fullText, true);
    return true;
  }

  sendError(error: AppError): void {
    // During shutdown, chunks queued behind the drained ones fail with engineClosed: expected, not news.
    if (this.isInputStopped && error.code === 'engineClosed') return;
    this.send(encodeWsError(error));
  }

  resumeInput(): void {
    if (!this.isInputStopped && this.socket.isPaused) this.socket.resume();
  }

  activated(): void {
    this.send(serverFrames.ready);
    this.session.deliverUndelivered();
  }

  sessionClosed(reason: CloseReason): void {
    this.closeAfterFlush(closeCodeFor[reason]);
  }

  replaced(): void {
    this.closeAfterFlush(closeCodes.replaced);
  }

  shuttingDown(): void {
    this.isInputStopped = true;
    this.pause();
    this.send(serverFrames.error('Server is shutting down; translations in progress will still be sent'));
  }

  // --- inbound -------------------------------------------------------------------------------

  private onAudio(bytes: Uint8Array): void {
    this.session.touch();
    if (this.isInputStopped) return;
    if (bytes.byteLength === 0) return; // the original ignored empty frames too
    this.audioSinceEof = true;
    const frame = decodeAudioFrame(bytes, this.options.maxFrameSamples);
    if (frame.sanitizedCount > 0) {
      this.events.note('debug', 'samplesSanitised', { sanitized: frame.sanitizedCount }, 'non-finite or out-of-range samples sanitised');
    }
    if (!this.session.pushAudio(frame.samples)) this.pause();
  }

  private onText(text: string): void {
    this.session.touch();
    const command = parseClientText(text);
    switch (command.kind) {
      case 'eof': {
        // EOF again with no audio since the one still pending adds no work and no second answer.
        if (this.pendingEof && !this.audioSinceEof) return;
        this.audioSinceEof = false;
        // Frames after EOF keep flowing into the stream; they queue behind the flushed tail.
        const eof = this.session.flush().then(
          () => this.send(serverFrames.processingComplete),
          (error: unknown) => this.fail(error),
        );
        this.pendingEof = eof;
        void eof.finally(() => {
          if (this.pendingEof === eof) this.pendingEof = null;
        });
        return;
      }
      case 'latency':
        this.session.setLatencyMultiplier(command.multiplier);
        this.send(serverFrames.latencyUpdated(command.multiplier));
        return;
      case 'badLatency':
        this.send(serverFrames.error('Invalid latency format'));
        return;
      case 'ignored':
        return;
    }
  }

  private fail(error: unknown): void {
    const appError = toAppError(error);
    if (appError.status >= 500 && appError.code !== 'overloaded') {
      // A server fault: logged with its stack, once per kind per connection.
      this.events.note('error', `failed:${appError.code}`, { err: error }, 'stream frame failed');
    } else {
      // The client's mistake, answered with an ERROR frame: not a server error.
      this.events.note('debug', `rejected:${appError.code}`, { code: appError.code }, 'stream frame rejected');
    }
    this.send(encodeWsError(appError));
  }

  private pause(): void {
    if (!this.socket.isPaused) this.socket.pause();
  }

  // --- outbound ------------------------------------------------------------------------------

  private send(text: string): void {
    this.enqueue(text, false);
  }

  private enqueue(text: string, isTranslation: boolean): void {
    if (this.socket.readyState !== this.socket.OPEN || this.pendingClose) return;
    if (this.outbox.length >= maxOutboxFrames) {
      this.events.note('warn', 'statusFrameDropped', {}, 'client too slow; status frame dropped');
      return;
    }
    this.outbox.push({ text, isTranslation });
    this.pump();
  }

  private pump(): void {
    if (this.isWriting) return;
    const next = this.outbox.shift();
    if (!next) {
      if (this.pendingClose) {
        // A paused socket would never read the peer's close frame (ws then waits 30 s).
        this.socket.resume();
        this.socket.close(this.pendingClose.code, this.pendingClose.reason);
      }
      return;
    }
    if (this.socket.readyState !== this.socket.OPEN) {
      this.outbox.length = 0;
      return;
    }
    this.isWriting = true;
    // A queued translation is its full text; in delta mode it becomes the change against what the
    // client holds when it is written (queued translations were coalesced into the newest).
    let frame = next.text;
    if (next.isTranslation && this.options.textFrames === 'delta') {
      const offset = commonPrefixLength(this.clientText, next.text);
      frame = deltaFrame(offset, next.text.slice(offset));
      this.clientText = next.text;
    }
    this.socket.send(frame, (error) => {
      this.isWriting = false;
      if (error) {
        this.outbox.length = 0;
        return;
      }
      this.pump();
    });
  }

  private closeAfterFlush(code: CloseCode): void {
    if (this.pendingClose) return;
    this.lagReports.stop();
    this.session.detach(this);
    this.pendingClose = code;
    this.pump();
  }
}

/**
 * Serves one socket of /wss/{session_id}. Must be called synchronously from the route handler:
 * the message listener is attached before anything else so that no early frame is lost.
 */
/** How long a refused socket may take to acknowledge its close frame before it is cut. */
const REFUSAL_GRACE_MS = 500;

/**
 * Closes a socket that will not be served: the close frame tells the client why, reading stops at
 * once (a refused socket must not buffer a multi-megabyte frame), and the connection is cut if
 * the client does not acknowledge within a moment (ws would otherwise wait 30 s).
 */
export function refuseSocket(socket: WebSocket, close: { code: number; reason: string }): void {
  socket.close(close.code, close.reason);
  socket.pause();
  setTimeout(() => socket.terminate(), REFUSAL_GRACE_MS).unref();
}

export function serveStreamSocket(socket: WebSocket, sessionId: string, sessions: SessionManager, options: StreamConnectionOptions): void {
  let connection: StreamConnection | null = null;
  socket.on('message', (data, isBinary) => connection?.onMessage(data, isBinary));
  socket.on('close', (code) => connection?.onClose(code));
  socket.on('error', (error) => options.log.debug({ err: error, sessionId }, 'stream socket error'));

  const session = sessions.get(sessionId);
  if (!session || session.state === 'closed') {
    refuseSocket(socket, closeCodes.invalidSession);
    return;
  }
  if (!sessions.admitting) {
    refuseSocket(socket, closeCodes.shuttingDown);
    return;
  }
  connection = new StreamConnection(socket, session, sessions, options);
  session.touch();
  session.attach(connection);
  connection.open();
}
