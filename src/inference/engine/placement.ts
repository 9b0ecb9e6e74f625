/**
 * Where a new session goes: the device group serving its language pair (by the configured
 * strategy), then, when its first chunk arrives, the live worker of that group hosting the fewest
 * sessions.
 */
import { AppError } from '../../errors.ts';
import type { PlacementOptions } from './observation.ts';
import type { DeviceGroup } from './resident-backend.ts';
import type { WorkerHandle } from './worker-handle.ts';

export class GroupChooser {
  readonly #roundRobinNext = new Map<string, number>();

  constructor(private readonly options: PlacementOptions) {}

  /**
   * Picks the group for a new stream. Least-loaded: fewest open streams per live worker (a group
   * whose workers are all down is last). Round-robin: the next group serving the pair. Most free
   * memory: the largest free memory; unknown memory or a tie falls back to least-loaded.
   */
  choose(languagePair: string, candidates: DeviceGroup[]): DeviceGroup {
    const live = (group: DeviceGroup): number => group.workers.filter((worker) => worker.state === 'live').length;
    const loadOf = (group: DeviceGroup): number => (live(group) > 0 ? group.openStreams / live(group) : Number.POSITIVE_INFINITY);
    const leastLoaded = (groups: DeviceGroup[]): DeviceGroup => groups.reduce((a, b) => (loadOf(b) < loadOf(a) ? b : a));
    const strategy = this.options.placement ?? 'least-loaded';
    if (candidates.length === 1 || strategy === 'least-loaded') return leastLoaded(candidates);
    if (strategy === 'round-robin') {
      const next = this.#roundRobinNext.get(languagePair) ?? 0;
      this.#roundRobinNext.set(languagePair, (next + 1) % candidates.length);
      return candidates[next % candidates.length] ?? leastLoaded(candidates);
    }
    const free = candidates.map((group) => this.options.freeMemoryBytes?.(group.options.device) ?? null);
    if (free.some((bytes) => bytes === null)) return leastLoaded(candidates);
    const most = Math.max(...free.map((bytes) => bytes ?? 0));
    // Within 1% counts as equal (CPU groups share one free-memory figure).
    return leastLoaded(candidates.filter((_, index) => (free[index] ?? 0) >= most * 0.99));
  }
}

/**
 * The worker that hosts a session from its next chunk on: the live worker of the group hosting
 * the fewest sessions. Waits up to `deadlineMs` for one to come back when none is live.
 */
export async function placeOnWorker(group: DeviceGroup, stream: string, options: { deadlineMs: number; isClosing: () => boolean }): Promise<WorkerHandle> {
  const pick = (): WorkerHandle | undefined => {
    const worker = group.workers
      .filter((candidate) => candidate.state === 'live')
      .reduce<WorkerHandle | undefined>((best, candidate) => (!best || candidate.hostedCount < best.hostedCount ? candidate : best), undefined);
    // Counted at once, so that sessions placed in the same turn spread over the workers.
    worker?.adopt(stream);
    return worker;
  };
  const now = pick();
  if (now) return now;
  if (options.isClosing()) throw new AppError('engineClosed');
  return new Promise<WorkerHandle>((resolve, reject) => {
    const wake = (): void => {
      clearTimeout(timer);
      const worker = pick();
      if (worker) resolve(worker);
      else reject(new AppError('workerFailed', `no inference worker on ${group.name} is running`));
    };
    const timer = setTimeout(() => {
      group.liveWaiters.delete(wake);
      reject(new AppError('deadlineExceeded', `no inference worker on ${group.name} came back within ${options.deadlineMs} ms`));
    }, options.deadlineMs);
    group.liveWaiters.add(wake);
  });
}
