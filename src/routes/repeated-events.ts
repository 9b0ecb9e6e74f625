/**
 * Logs the first occurrence of each kind of event of one connection and only counts the rest, so
 * a client that repeats a bad frame 300,000 times yields two log lines, not 50 MB of them.
 */
import type { FastifyBaseLogger } from 'fastify';

type Level = 'debug' | 'info' | 'warn' | 'error';

export class RepeatedEvents {
  private readonly counts = new Map<string, number>();

  constructor(
    private readonly log: FastifyBaseLogger,
    private readonly context: Record<string, unknown>,
  ) {}

  /** Logs `message` at `level` the first time `key` happens; afterwards only counts it. */
  note(level: Level, key: string, fields: Record<string, unknown>, message: string): void {
    const count = (this.counts.get(key) ?? 0) + 1;
    this.counts.set(key, count);
    if (count === 1) this.log[level]({ ...this.context, ...fields }, `${message} (repeats are counted, logged when the connection closes)`);
  }

  /** One line with how often each event repeated after its first line; nothing if none did. */
  summarize(): void {
    const repeated = Object.fromEntries([...this.counts].filter(([, count]) => count > 1).map(([key, count]) => [key, count - 1]));
    if (Object.keys(repeated).length > 0) this.log.info({ ...this.context, repeated }, 'repeated stream events not logged one by one');
  }
}
