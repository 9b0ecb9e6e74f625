/**
 * At most `maxActive` holders at once, at most `maxQueued` waiting in FIFO order; anyone beyond is
 * refused at once rather than queued without bound.
 */
import { AppError } from '../errors.ts';

export class ConcurrencyGate {
  readonly maxActive: number;
  readonly maxQueued: number;
  #active = 0;
  readonly #waiting: Array<{ grant: () => void; signal: AbortSignal | undefined; onAbort: () => void }> = [];

  constructor(maxActive: number, maxQueued: number) {
    if (!Number.isInteger(maxActive) || maxActive < 1) throw new RangeError('maxActive must be a positive integer');
    if (!Number.isInteger(maxQueued) || maxQueued < 0) throw new RangeError('maxQueued must be a non-negative integer');
    this.maxActive = maxActive;
    this.maxQueued = maxQueued;
  }

  get active(): number {
    return this.#active;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /**
   * Resolves with a release function once a slot is free. Throws AppError('overloaded') when the
   * queue is full, or the signal's reason if it aborts while waiting.
   */
  acquire(signal?: AbortSignal): Promise<() => void> {
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.#active < this.maxActive) {
      this.#active += 1;
      return Promise.resolve(this.#releaser());
    }
    if (this.#waiting.length >= this.maxQueued) {
      return Promise.reject(new AppError('overloaded', 'Too many downloads in progress; try again later'));
    }
    return new Promise((resolve, reject) => {
      const waiter = {
        grant: () => resolve(this.#releaser()),
        signal,
        onAbort: () => {
          const index = this.#waiting.indexOf(waiter);
          if (index >= 0) this.#waiting.splice(index, 1);
          reject(signal?.reason);
        },
      };
      signal?.addEventListener('abort', waiter.onAbort, { once: true });
      this.#waiting.push(waiter);
    });
  }

  #releaser(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.#waiting.shift();
      if (next) {
        // The slot passes straight to the next waiter; the active count does not change.
        next.signal?.removeEventListener('abort', next.onAbort);
        next.grant();
      } else {
        this.#active -= 1;
      }
    };
  }
}
