/** A manual clock for batcher tests: time moves only through `advance`. */
import type { Clock } from '../../src/batching/dynamic-batcher.ts';

interface Timer {
  id: number;
  dueAt: number;
  fn: () => void;
}

export class FakeClock implements Clock {
  #now = 0;
  #nextId = 1;
  #timers: Timer[] = [];

  now(): number {
    return this.#now;
  }

  setTimeout(fn: () => void, ms: number): unknown {
    const timer = { id: this.#nextId++, dueAt: this.#now + ms, fn };
    this.#timers.push(timer);
    return timer.id;
  }

  clearTimeout(handle: unknown): void {
    this.#timers = this.#timers.filter((timer) => timer.id !== handle);
  }

  /** Timers armed and not yet fired or cleared. */
  get pendingTimers(): number {
    return this.#timers.length;
  }

  /** Moves time forward, firing due timers in order (each at its own due time). */
  advance(ms: number): void {
    const target = this.#now + ms;
    for (;;) {
      const next = [...this.#timers].sort((a, b) => a.dueAt - b.dueAt || a.id - b.id)[0];
      if (!next || next.dueAt > target) break;
      this.#timers = this.#timers.filter((timer) => timer !== next);
      this.#now = next.dueAt;
      next.fn();
    }
    this.#now = target;
  }
}
