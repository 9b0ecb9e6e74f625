/**
 * Worker-thread entry: owns the onnxruntime sessions of every model package its device group
 * serves and runs one batch at a time. State never lives here — caches travel with each batch —
 * so a replacement worker can take over any session's next chunk.
 */
import { z } from 'zod';
import { AppError } from '../errors.ts';
import { responseArrays, transferListOf, type ModelBatchRequest, type ModelBatchResponse } from './batch-messages.ts';
import { cacheCopyMeter } from './kv-cache.ts';
import { loadModelPackage } from './manifest.ts';
import { ModelRunner } from './model-runner.ts';
import { serveWorker } from './worker-protocol.ts';

export const modelWorkerDataSchema = z.object({
  packageDirs: z.array(z.string()),
  providers: z.array(z.string()),
  device: z.string(),
  intraOpThreads: z.number().int().positive(),
});
export type ModelWorkerData = z.infer<typeof modelWorkerDataSchema>;

const runners = new Map<string, ModelRunner>();

serveWorker<ModelBatchRequest, ModelBatchResponse>(
  async (workerData) => {
    const data = modelWorkerDataSchema.parse(workerData);
    const providers = new Set<string>();
    const fallbacks: { model: string; provider: string; error: string }[] = [];
    for (const dir of data.packageDirs) {
      const pkg = await loadModelPackage(dir);
      const runner = await ModelRunner.load(pkg, {
        providers: data.providers.length > 0 ? data.providers : pkg.manifest.executionProviders,
        device: data.device,
        intraOpThreads: data.intraOpThreads,
      });
      runners.set(pkg.manifest.name, runner);
      providers.add(runner.provider);
      fallbacks.push(...runner.fallbacks.map((f) => ({ model: pkg.manifest.name, ...f })));
    }
    return { provider: [...providers].join(',') || 'none', device: data.device, detail: { fallbacks, models: [...runners.keys()] } };
  },
  async (request) => {
    if (request.fault === 'crash') process.exit(70);
    if (request.fault === 'hang') {
      // Spin rather than await: a hung native call looks exactly like this from outside.
      const until = Date.now() + 3_600_000;
      while (Date.now() < until) continue;
    }
    const runner = runners.get(request.model);
    if (!runner) throw new AppError('modelInvalid', `model "${request.model}" is not loaded in this worker`);
    const started = performance.now();
    const copiedBefore = cacheCopyMeter.bytes;
    const response: ModelBatchResponse =
      request.kind === 'prefill'
        ? { kind: 'prefill', items: await runner.prefill(request.items), computeMs: 0, cacheBytesCopied: 0 }
        : { kind: 'decode', items: await runner.decode(request.items), computeMs: 0, cacheBytesCopied: 0 };
    response.computeMs = performance.now() - started;
    // One request at a time per worker, so the meter's difference is this batch's alone.
    response.cacheBytesCopied = cacheCopyMeter.bytes - copiedBefore;
    return { result: response, transfer: transferListOf(responseArrays(response)) };
  },
);
