/**
 * Decides when the translate client may send its next audio chunk. Paced mode: chunk k (audio up
 * to t seconds) is sent at t / speed seconds of wall time, as a live source would. Fast mode: as
 * fast as the server answers, with at most `maxInFlight` chunks unanswered.
 *
 * The wire protocol has no per-chunk acknowledgement: the server sends a frame only when the
 * translation grew. So a translation frame answers the oldest unanswered chunk, and when the
 * window is full and nothing arrives for `ackTimeoutMs` (the model chose to wait), the oldest chunk
 * is taken as answered. Both rules keep order; the audio position of a frame is the end of the
 * chunk it answered.
 */

export interface PacerClock {
  now(): number;
  /** Resolves after `ms`, or early (without error) when `wake()` is called. */
  sleep(ms: number): Promise<void>;
  wake(): void;
}

export type PacingMode = { kind: 'paced'; speed: number } | { kind: 'fast'; maxInFlight: number; ackTimeoutMs: number };

/** A real-time clock whose sleeps can be cut short. */
export function systemClock(): PacerClock {
  let wakers: Array<() => void> = [];
  return {
    now: () => performance.now(),
    sleep: (ms) => new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        wakers = wakers.filter((waker) => waker !== done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, ms));
      wakers.push(done);
    }),
    wake: () => {
      for (const waker of [...wakers]) waker();
    },
  };
}

export class ChunkPacer {
  readonly mode: PacingMode;
  readonly #clock: PacerClock;
  readonly #startMs: number;
  /** End positions (ms of audio) of chunks sent but not answered, oldest first. */
  readonly #unanswered: number[] = [];
  #answeredEndMs = 0;
  #sentEndMs = 0;

  constructor(mode: PacingMode, clock: PacerClock) {
    this.mode = mode;
    this.#clock = clock;
    this.#startMs = clock.now();
  }

  /** Waits until a chunk ending at `chunkEndMs` of audio may be sent. */
  async beforeSend(chunkEndMs: number): Promise<void> {
    if (this.mode.kind === 'paced') {
      const dueAt = this.#startMs + chunkEndMs / this.mode.speed;
      for (let now = this.#clock.now(); now < dueAt; now = this.#clock.now()) await this.#clock.sleep(dueAt - now);
      return;
    }
    while (this.#unanswered.length >= this.mode.maxInFlight) {
      const count = this.#unanswered.length;
      const waitedFrom = this.#clock.now();
      await this.#clock.sleep(this.mode.ackTimeoutMs);
      const stillWaiting = this.#unanswered.length === count;
      if (stillWaiting && this.#clock.now() - waitedFrom >= this.mode.ackTimeoutMs) this.#answerOldest();
    }
  }

  /** Records that a chunk ending at `chunkEndMs` was sent. */
  sent(chunkEndMs: number): void {
    this.#sentEndMs = chunkEndMs;
    if (this.mode.kind === 'fast') this.#unanswered.push(chunkEndMs);
  }

  /** A translation frame arrived: returns the audio position (ms) to time it at. */
  onTranslation(): number {
    if (this.mode.kind === 'paced') return (this.#clock.now() - this.#startMs) * this.mode.speed;
    this.#answerOldest();
    this.#clock.wake();
    return this.#answeredEndMs;
  }

  /** Audio sent so far, in ms. */
  get sentEndMs(): number {
    return this.#sentEndMs;
  }

  #answerOldest(): void {
    const end = this.#unanswered.shift();
    if (end !== undefined) this.#answeredEndMs = end;
  }
}
