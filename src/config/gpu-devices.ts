/**
 * Device groups from the visible GPUs: one group per GPU (`cuda:<index among the visible ones>`,
 * which is what onnxruntime's device id means inside a process restricted by
 * CUDA_VISIBLE_DEVICES — the original used physical ids there and failed, W20), each serving the
 * pairs the GPU → pair map gives it (the original's gpu_language_map), or every pair.
 */

export interface DerivedGpuGroup {
  device: string;
  workers: number;
  intraOpThreads: number;
  languagePairs?: string[];
}

/** "4,5" → ["4", "5"]; "", "-1" and "NoDevFiles" (SLURM without GPUs) → []. Never throws. */
export function parseVisibleDevices(value: string | undefined): string[] {
  return (value ?? '')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '' && id !== '-1' && id !== 'NoDevFiles');
}

function positiveIntOr(value: unknown, fallback: number): number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 1 ? value : fallback;
}

/**
 * One group per visible GPU. `languagePairs` is the raw map (keys = GPU index as text, values =
 * a pair or a list); out-of-range keys are reported as problems, not silently ignored. Malformed
 * values are left to the schema, which reports them with their path.
 */
export function deriveGpuGroups(
  gpuCount: number,
  settings: { workersPerGpu: unknown; intraOpThreadsPerGpu: unknown; languagePairs: unknown },
): { groups: DerivedGpuGroup[]; problems: string[] } {
  const problems: string[] = [];
  const map = typeof settings.languagePairs === 'object' && settings.languagePairs !== null && !Array.isArray(settings.languagePairs)
    ? (settings.languagePairs as Record<string, unknown>)
    : {};
  for (const key of Object.keys(map)) {
    const index = Number(key);
    if (/^\d+$/.test(key) && index >= gpuCount) {
      problems.push(`engine.gpu.languagePairs: GPU index ${key} is not visible (${gpuCount} GPU${gpuCount === 1 ? '' : 's'} visible: indices 0…${gpuCount - 1})`);
    }
  }
  const workers = positiveIntOr(settings.workersPerGpu, 1);
  const intraOpThreads = positiveIntOr(settings.intraOpThreadsPerGpu, 1);
  const groups = Array.from({ length: gpuCount }, (_, index): DerivedGpuGroup => {
    const pairs = map[String(index)];
    const list = typeof pairs === 'string' ? [pairs] : Array.isArray(pairs) ? pairs.filter((pair): pair is string => typeof pair === 'string') : [];
    return { device: `cuda:${index}`, workers, intraOpThreads, ...(list.length > 0 ? { languagePairs: list } : {}) };
  });
  return { groups, problems };
}
