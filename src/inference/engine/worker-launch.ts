import { Worker } from 'node:worker_threads';
import { AppError } from '../../errors.ts';

const TS_EXTENSION = /\.(m|c)?ts$/;

/**
 * Starts a worker for `script`. Node 20 does not apply `--import tsx` (inherited through execArgv)
 * to worker threads — tsx only registers its hooks on the main thread there
 * (https://github.com/privatenumber/tsx/issues/354) — so a TypeScript script is loaded through
 * tsx's namespaced `tsImport`, which also works where tsx already registered itself in workers.
 */
export function launchWorker(script: URL, workerData: unknown): Worker {
  if (!TS_EXTENSION.test(script.pathname)) return new Worker(script, { workerData });
  let tsxApi: string;
  try {
    tsxApi = import.meta.resolve('tsx/esm/api');
  } catch (error) {
    throw new AppError('workerFailed', `cannot load TypeScript worker ${script.href} without tsx installed`, { cause: error });
  }
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((tsx) => tsx.tsImport(${JSON.stringify(script.href)}, ${JSON.stringify(import.meta.url)}));`;
  return new Worker(bootstrap, { eval: true, workerData });
}

export function describeExit(error: Error | undefined, exitCode: number): string {
  return error ? error.message : `exited with code ${exitCode}`;
}

