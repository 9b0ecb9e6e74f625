/**
 * What a device group checks and says as it starts: whether its models fit the device, how many
 * sessions each worker has memory for, and whether its workers loaded the provider asked for.
 */
import { AppError } from '../../errors.ts';
import type { DeviceGroupOptions, EngineOptions } from '../engine-options.ts';
import type { ModelPackage } from '../manifest.ts';
import { checkModelsFit, planSessionSlots, sessionStateBytes, type SlotPlan } from './model-size-check.ts';
import type { WorkerHandle } from './worker-handle.ts';

/**
 * Fails with a sentence (not an allocation error deep inside onnxruntime) when the weights, loaded
 * once per worker, do not fit the device; else returns each worker's session slots, and says them.
 */
export async function planGroupMemory(served: readonly ModelPackage[], groupOptions: DeviceGroupOptions, options: EngineOptions): Promise<number> {
  const fit = await checkModelsFit(served, {
    device: groupOptions.device,
    workers: groupOptions.workers,
    ...(groupOptions.memoryBudgetBytes !== undefined ? { budgetBytes: groupOptions.memoryBudgetBytes } : {}),
  });
  options.logger?.info({ device: groupOptions.device, requiredBytes: fit.requiredBytes, availableBytes: fit.availableBytes }, 'model memory check');
  const sessionBytes = Math.max(...served.map((pkg) => sessionStateBytes(pkg.manifest, options.beamSize ?? pkg.manifest.generation.beamSize)));
  const slots = planSessionSlots(fit, groupOptions.workers, sessionBytes);
  options.logger?.info(
    { device: groupOptions.device, sessionBytes, slotsPerWorker: slots.slotsPerWorker, workers: groupOptions.workers, sessionBudgetBytes: slots.sessionBudgetBytes, source: slots.source },
    `session capacity on ${groupOptions.device}: ${slots.slotsPerWorker * groupOptions.workers} sessions (${slots.slotsPerWorker} per worker × ${groupOptions.workers}) of ${(sessionBytes / 2 ** 20).toFixed(2)} MiB each${slotSourceNote(slots.source)}`,
  );
  return slots.slotsPerWorker;
}

interface ProviderFallback {
  model: string;
  provider: string;
  error: string;
}

/**
 * Says once per device group when a worker could not load the provider asked for first (the CUDA
 * libraries missing, say) and runs on the next one; with `requireProviders` that stops start-up.
 */
export function checkProviderFallbacks(device: string, workers: readonly WorkerHandle[], options: EngineOptions): void {
  const fallbacks = workers.flatMap((worker) => (worker.info?.detail?.fallbacks as ProviderFallback[] | undefined) ?? []);
  const first = fallbacks[0];
  if (!first) return;
  const running = [...new Set(workers.map((worker) => worker.info?.provider ?? 'none'))].join(', ');
  const reason = first.error.split('\n')[0]?.slice(0, 300) ?? '';
  const message = `device group ${device}: the ${first.provider} provider did not load (${reason}); its models run on ${running}`;
  if (options.requireProviders) throw new AppError('modelInvalid', `${message}. engine.requireProviders (--require-providers) is set, so the server does not start`);
  options.logger?.warn({ device, fallbacks }, message);
}

/**
 * The name a device group goes by once its workers run: its device when they run on it, else what
 * they run on and why, so `/health`, `/metrics` and the logs never call a group that runs on the
 * CPU "cuda:0" (`cpu (fallback for cuda:0)`: CUDA did not load; `cpu (configured as cuda:0)`: the
 * provider list did not ask for CUDA).
 */
export function runningGroupName(device: string, workers: readonly WorkerHandle[]): string {
  if (device === 'cpu') return device;
  const providers = [...new Set(workers.map((worker) => worker.info?.provider ?? 'none'))];
  const kind = device.split(':')[0] ?? device;
  if (providers.every((provider) => provider.split(',').includes(kind))) return device;
  const fellBack = workers.some((worker) => ((worker.info?.detail?.fallbacks as unknown[] | undefined) ?? []).length > 0);
  return `${providers.join('+')} (${fellBack ? 'fallback for' : 'configured as'} ${device})`;
}

function slotSourceNote(source: SlotPlan['source']): string {
  if (source === 'configured') return ' (from memoryBudgetBytes)';
  if (source === 'measured') return ' (from the free memory measured now; set memoryBudgetBytes to fix it)';
  if (source === 'capped') return ' (capped; the memory budget allows more)';
  return ' (free memory unknown: a fallback; set memoryBudgetBytes)';
}

