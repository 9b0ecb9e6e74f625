/**
 * One real engine per test file (node:test runs each file in its own process): the default
 * models in models/ on onnxruntime worker threads, started on first use and closed by a
 * file-level `after` hook. Starting it takes a few hundred ms, so tests share it instead of
 * starting one each; every test still builds its own app (own session manager), and
 * `buildTestApp` restores the batching settings and checks that no stream is left open.
 *
 * Import this module only from test files: importing it registers the file-level hook.
 */
import { after } from 'node:test';
import { serverConfigSchema } from '../../src/config/schema.ts';
import type { Engine } from '../../src/inference/engine/engine.ts';
import type { EngineOptions } from '../../src/inference/engine-options.ts';
import type { BatchingSettings } from '../../src/inference/translation-engine.ts';
import { engineOptions, startEngine } from '../support/engine-fixtures.ts';

const defaults = serverConfigSchema.parse({}).engine;

/** The shared engine's batching: the server's defaults, restored before every test. */
export const baselineBatching: Readonly<BatchingSettings> = Object.freeze({ ...defaults.batching });

/**
 * Engine options of the server's default configuration, on one worker with one intra-op thread
 * (the test machine has two cores shared with other work), plus `overrides`.
 */
export function serverLikeEngineOptions(overrides: Partial<EngineOptions> = {}): EngineOptions {
  return engineOptions({
    devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1 }],
    batching: { ...baselineBatching },
    requestDeadlineMs: defaults.requestDeadlineMs,
    streamHighWaterMs: defaults.streamHighWaterMs,
    streamMaxPendingMs: defaults.streamMaxPendingMs,
    ...overrides,
  });
}

let shared: Promise<Engine> | undefined;

/** The file's shared real engine (started on first call). Throws what createEngine throws. */
export function sharedEngine(): Promise<Engine> {
  shared ??= startEngine(serverLikeEngineOptions());
  return shared;
}

after(async () => {
  const engine = await shared?.catch(() => undefined);
  await engine?.close(1_000);
});
