/** A bounded log of session lifecycle events for /debug/session_history. */

export type SessionEventKind = 'created' | 'queued' | 'activated' | 'deleted' | 'expired' | 'shutdown' | 'failed';

export interface SessionEvent {
  sessionId: string;
  event: SessionEventKind;
  atMs: number;
  languagePair: string;
}

export class SessionHistory {
  private readonly events: SessionEvent[] = [];
  constructor(private readonly capacity: number) {}

  /** Appends; drops the oldest event beyond capacity. */
  record(event: SessionEvent): void {
    if (this.capacity === 0) return;
    this.events.push(event);
    if (this.events.length > this.capacity) this.events.splice(0, this.events.length - this.capacity);
  }

  /** Oldest first. */
  list(): readonly SessionEvent[] {
    return this.events;
  }
}
