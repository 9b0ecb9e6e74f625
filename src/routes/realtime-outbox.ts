/**
 * Events waiting for a realtime socket, written one at a time. Bounded, so a client that stops
 * reading cannot grow the server's memory: transcript deltas queued behind a slow socket merge
 * into one (their text concatenated: nothing is lost), and beyond the bound other events are
 * dropped with a warning.
 */
import type { FastifyBaseLogger } from 'fastify';
import type { WebSocket } from 'ws';
import type { ServerEvent } from '../protocol/realtime-events.ts';

const MAX_QUEUED_EVENTS = 256;

export class RealtimeOutbox {
  private readonly queue: ServerEvent[] = [];
  private isWriting = false;
  private pendingClose: { code: number; reason: string } | null = null;
  private hasWarned = false;

  constructor(
    private readonly socket: WebSocket,
    private readonly log: FastifyBaseLogger,
  ) {}

  /** True while events can still be written (open, no close requested). */
  get isOpen(): boolean {
    return this.socket.readyState === this.socket.OPEN && this.pendingClose === null;
  }

  send(event: ServerEvent): void {
    if (!this.isOpen) return;
    if (this.queue.length >= MAX_QUEUED_EVENTS) {
      if (!this.hasWarned) this.log.warn({ type: event.type }, 'realtime client too slow; event dropped');
      this.hasWarned = true;
      return;
    }
    this.queue.push(event);
    this.pump();
  }

  /** A transcript delta; merged into a delta of the same item still waiting in the queue (the newer event's other fields win). */
  sendDelta(event: ServerEvent): void {
    const last = this.queue[this.queue.length - 1];
    if (this.isOpen && last?.type === event.type && last.item_id === event.item_id && typeof last.delta === 'string') {
      Object.assign(last, event, { delta: `${last.delta}${String(event.delta)}`, event_id: last.event_id });
      return;
    }
    this.send(event);
  }

  /** Writes what is queued, then closes the socket with `code`. */
  closeAfterFlush(code: number, reason: string): void {
    if (this.pendingClose) return;
    this.pendingClose = { code, reason: reason.slice(0, 120) };
    this.pump();
  }

  clear(): void {
    this.queue.length = 0;
  }

  private pump(): void {
    if (this.isWriting) return;
    const next = this.queue.shift();
    if (!next) {
      if (this.pendingClose && this.socket.readyState === this.socket.OPEN) {
        // A paused socket would never read the peer's close frame.
        this.socket.resume();
        this.socket.close(this.pendingClose.code, this.pendingClose.reason);
      }
      return;
    }
    if (this.socket.readyState !== this.socket.OPEN) {
      this.queue.length = 0;
      return;
    }
    this.isWriting = true;
    this.socket.send(JSON.stringify(next), (error) => {
      this.isWriting = false;
      if (error) {
        this.queue.length = 0;
        return;
      }
      this.pump();
    });
  }
}
