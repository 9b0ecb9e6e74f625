/**
 * Waiting helpers for server tests. node:test has no default timeout, so a wait for a frame that
 * never comes would stall the whole suite; every wait here gives up once nothing has happened for
 * `hangGuardMs`, with a message saying what it waited for. This is a hang guard, not a speed
 * assertion: it measures silence (no frame, no chunk), and the limit is far above anything a
 * working server needs, even for a large exported model on a loaded CI machine.
 */
export const hangGuardMs = 120_000;

/**
 * Resolves like `promise`; rejects with `describe()` once `lastProgressMs()` (a performance.now()
 * time stamp, default: the start of the wait) is more than the hang guard ago.
 */
export function guarded<T>(promise: Promise<T>, describe: () => string, lastProgressMs?: () => number): Promise<T> {
  const startedMs = performance.now();
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setInterval(() => {
      const silentMs = performance.now() - Math.max(startedMs, lastProgressMs?.() ?? startedMs);
      if (silentMs > hangGuardMs) reject(new Error(`gave up after ${hangGuardMs} ms without progress waiting for ${describe()}`));
    }, 1_000);
  });
  return Promise.race([promise, guard]).finally(() => clearInterval(timer));
}

/** Polls `condition` until it holds (or the hang guard gives up). */
export function until(condition: () => boolean, what: string): Promise<void> {
  const giveUpAt = performance.now() + hangGuardMs;
  return new Promise<void>((resolve, reject) => {
    const poll = (): void => {
      if (condition()) resolve();
      else if (performance.now() > giveUpAt) reject(new Error(`gave up after ${hangGuardMs} ms waiting until ${what}`));
      else setTimeout(poll, 2);
    };
    poll();
  });
}
