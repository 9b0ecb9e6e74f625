/**
 * Waiting helpers for server tests. node:test has no default timeout, so a wait for a frame that
 * never comes would stall the whole suite; every wait here gives up after `hangGuardMs` with a
 * message saying what it waited for. This is a hang guard, not a speed assertion: the limit is
 * far above anything a working server needs, even on a loaded CI machine.
 */
export const hangGuardMs = 30_000;

/** Resolves like `promise`; rejects with `describe()` if it has not settled within the hang guard. */
export function guarded<T>(promise: Promise<T>, describe: () => string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const guard = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`gave up after ${hangGuardMs} ms waiting for ${describe()}`)), hangGuardMs);
    timer.unref();
  });
  return Promise.race([promise, guard]).finally(() => clearTimeout(timer));
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
