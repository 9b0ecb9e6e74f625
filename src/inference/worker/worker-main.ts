/**
 * Worker-thread entry of the engine: loads the graphs of the models its device group serves,
 * hosts sessions (session-host.ts) and batches their steps (step-loop.ts). It answers chunk
 * messages with chunk results and reports every batch; nothing of a cache ever leaves.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { z } from 'zod';
import { isAppError } from '../../errors.ts';
import { loadModelPackage } from '../manifest.ts';
import { ModelRunner } from './model-runner.ts';
import { parseToWorker, type FromWorker, type ToWorker } from '../messages.ts';
import { toWireError } from '../wire-errors.ts';
import { SessionHost, type HostedModel } from './session-host.ts';
import { StepLoop } from './step-loop.ts';

export const workerDataSchema = z.object({
  packageDirs: z.array(z.string()),
  providers: z.array(z.string()),
  device: z.string(),
  intraOpThreads: z.number().int().positive(),
  /** Overrides the manifests' beam size. */
  beamSize: z.number().int().positive().optional(),
  batching: z.object({ maxBatchSize: z.number(), maxWaitMs: z.number(), maxQueueSize: z.number() }),
});
export type WorkerData = z.infer<typeof workerDataSchema>;

const port = parentPort;
if (!port) throw new Error('worker-main.ts must run in a worker thread');
const send = (message: FromWorker): void => port.postMessage(message);

async function start(): Promise<{ host: SessionHost; loops: Map<string, StepLoop> }> {
  const data = workerDataSchema.parse(workerData);
  const loops = new Map<string, StepLoop>();
  const hosted: HostedModel[] = [];
  const providers = new Set<string>();
  const fallbacks: { model: string; provider: string; error: string }[] = [];
  for (const dir of data.packageDirs) {
    const pkg = await loadModelPackage(dir);
    const beamSize = data.beamSize ?? pkg.manifest.generation.beamSize;
    const runner = await ModelRunner.load(pkg, {
      providers: data.providers.length > 0 ? data.providers : pkg.manifest.executionProviders,
      device: data.device,
      intraOpThreads: data.intraOpThreads,
      beamSize,
    });
    const model = pkg.manifest.name;
    const steps = new StepLoop({ model, runner, batching: data.batching, onBatch: (observation) => {
      send({ kind: 'batch', observation });
      scheduleStats(model);
    } });
    loops.set(model, steps);
    hosted.push({ pkg, steps, beamSize, arena: runner.arena });
    providers.add(runner.provider);
    fallbacks.push(...runner.fallbacks.map((f) => ({ model, ...f })));
  }
  send({ kind: 'ready', info: { provider: [...providers].join(',') || 'none', device: data.device, detail: { fallbacks, models: [...loops.keys()] } } });
  return { host: new SessionHost(hosted), loops };
}

/** Queue statistics go out once per turn per model, after the batch that changed them. */
const statsDue = new Set<string>();
let loopsRef: Map<string, StepLoop> | undefined;
function scheduleStats(model: string): void {
  if (statsDue.size === 0) setImmediate(flushStats);
  statsDue.add(model);
}
function flushStats(): void {
  for (const model of statsDue) sendStats(model);
  statsDue.clear();
}
function sendStats(model: string): void {
  const loop = loopsRef?.get(model);
  if (loop) send({ kind: 'stats', model, stats: loop.stats() });
}

async function runChunk(host: SessionHost, message: Extract<ToWorker, { kind: 'chunk' }>): Promise<void> {
  const { stream, seq, model } = message;
  try {
    if (!host.isHosting(stream)) host.open(stream, model, message.languagePair);
    const done = await host.translate(stream, message.audio, message.multiplier);
    sendStats(model);
    send({ kind: 'chunkDone', stream, seq, ...done });
  } catch (error) {
    sendStats(model);
    send({ kind: 'chunkFailed', stream, seq, error: toWireError(error, isAppError(error) ? error.code : 'internal') });
  }
}

start().then(
  ({ host, loops }) => {
    loopsRef = loops;
    port.on('message', (raw: unknown) => {
      const message = parseToWorker(raw);
      if (!message) return;
      switch (message.kind) {
        case 'chunk':
          void runChunk(host, message);
          break;
        case 'reset':
          host.reset(message.stream);
          break;
        case 'close':
          host.close(message.stream);
          break;
        case 'configure':
          for (const loop of loops.values()) loop.configure(message.batching);
          break;
        case 'fault':
          for (const [model, loop] of loops) if (message.model === undefined || message.model === model) loop.injectFault(message.fault, message.stream);
          break;
      }
    });
  },
  (error: unknown) => send({ kind: 'init-failed', error: toWireError(error, 'workerFailed') }),
);
