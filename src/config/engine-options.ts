/** Maps the validated server configuration to the engine's options. */
import { resolve } from 'node:path';
import type { Logger } from 'pino';
import type { PlacementOptions } from '../inference/engine/engine.ts';
import type { EngineOptions } from '../inference/engine-options.ts';
import type { ServerConfig } from './schema.ts';

/** Pure mapping; relative folders are resolved against `cwd`. Never throws. */
export function toEngineOptions(config: ServerConfig, cwd: string, logger?: Logger): EngineOptions & PlacementOptions {
  const { engine } = config;
  const options: EngineOptions & PlacementOptions = {
    placement: engine.placement,
    modelsDir: resolve(cwd, engine.modelsDir),
    devices: engine.devices.map((group) => ({
      device: group.device,
      workers: group.workers,
      intraOpThreads: group.intraOpThreads,
      ...(group.languagePairs ? { languagePairs: [...group.languagePairs] } : {}),
      ...(group.memoryBudgetBytes !== undefined ? { memoryBudgetBytes: group.memoryBudgetBytes } : {}),
    })),
    batching: { ...engine.batching },
    requestDeadlineMs: engine.requestDeadlineMs,
    streamHighWaterMs: engine.streamHighWaterMs,
    streamMaxPendingMs: engine.streamMaxPendingMs,
  };
  if (engine.models) options.models = [...engine.models];
  if (engine.executionProviders) options.executionProviders = [...engine.executionProviders];
  if (engine.beamSize !== null) options.beamSize = engine.beamSize;
  if (engine.requireProviders) options.requireProviders = true;
  if (logger) options.logger = logger;
  return options;
}
