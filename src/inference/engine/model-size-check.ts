/**
 * Pre-load memory check for model packages: a multi-GB model that does not fit its device should
 * fail start-up with a sentence naming the model, the device and the numbers, not with an
 * allocation error from deep inside onnxruntime (or the OOM killer) minutes later.
 *
 * What it counts: every worker of a device group creates its own onnxruntime sessions, so the
 * graphs' weights are loaded once per worker. Weights are the package's files (graphs and their
 * external data) except the manifest and the token table. Runtime overhead (activations, arena
 * growth, CUDA workspace) is an `overheadFactor` on top. Session caches live in the main
 * thread's memory (they travel with each batch), so they are reported, not charged to the device.
 */
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../errors.ts';
import type { ModelPackage } from '../manifest.ts';

export interface ModelFootprint {
  /** Graph files and their external data: what one worker's sessions load. */
  weightBytes: number;
  files: { name: string; bytes: number }[];
  /** One session's encoder + decoder caches at their windows, float32 (main-thread memory). */
  sessionCacheBytes: number;
}

/** Where a model is about to load and how much memory it may use there. */
export interface DeviceBudget {
  /** "cpu" or "cuda:<n>". */
  device: string;
  /** Workers of the device group: each loads its own copy of the weights. */
  workers: number;
  /** Bytes the models of this group may use; absent = measured free memory (os / nvidia-smi). */
  budgetBytes?: number;
  /** Multiplier over weight bytes for activations and allocator slack (default 1.2). */
  overheadFactor?: number;
}

export interface FitReport {
  fits: boolean;
  requiredBytes: number;
  /** Undefined when nothing could be measured and no budget was configured (check skipped). */
  availableBytes: number | undefined;
  source: 'configured' | 'measured' | 'unknown';
  message: string;
}

const GIB = 1024 ** 3;

function gib(bytes: number): string {
  return `${(bytes / GIB).toFixed(2)} GiB`;
}

/** Sizes the files a package's graphs load. Throws AppError('modelInvalid') if the folder cannot be read. */
export async function measureModelPackage(pkg: ModelPackage): Promise<ModelFootprint> {
  const m = pkg.manifest;
  let names: string[];
  try {
    names = await readdir(pkg.dir);
  } catch (cause) {
    throw new AppError('modelInvalid', `model package ${pkg.dir}: cannot list its files`, { cause });
  }
  const skip = new Set(['manifest.json', m.tokenizer.file]);
  const files: { name: string; bytes: number }[] = [];
  for (const name of names.sort()) {
    if (skip.has(name)) continue;
    const info = await stat(join(pkg.dir, name));
    if (info.isFile()) files.push({ name, bytes: info.size });
  }
  const encoderCache = m.encoder.numLayers * 2 * m.encoder.numHeads * m.encoder.maxCacheFrames * m.encoder.headDim * 4;
  const decoderCache = m.decoder.numLayers * 2 * m.decoder.numKeyValueHeads * m.decoder.maxCacheTokens * m.decoder.headDim * 4;
  return { weightBytes: files.reduce((sum, f) => sum + f.bytes, 0), files, sessionCacheBytes: encoderCache + decoderCache };
}

/** Free memory of CUDA device `index` from nvidia-smi, or undefined when it cannot be asked. */
export function queryCudaFreeBytes(index: number, timeoutMs = 5_000): Promise<number | undefined> {
  return new Promise((resolve) => {
    execFile('nvidia-smi', ['--query-gpu=memory.free', '--format=csv,noheader,nounits', `--id=${index}`], { timeout: timeoutMs }, (error, stdout) => {
      const mib = Number.parseFloat(String(stdout).trim().split('\n')[0] ?? '');
      resolve(error || !Number.isFinite(mib) ? undefined : mib * 1024 * 1024);
    });
  });
}

/** Pure decision: do `workers` copies of these weights (plus overhead) fit `availableBytes`? */
export function judgeFit(modelName: string, footprint: ModelFootprint, budget: DeviceBudget, availableBytes: number | undefined, source: FitReport['source']): FitReport {
  const overhead = budget.overheadFactor ?? 1.2;
  const requiredBytes = Math.ceil(footprint.weightBytes * overhead * budget.workers);
  if (availableBytes === undefined) {
    return { fits: true, requiredBytes, availableBytes, source, message: `model ${modelName} needs about ${gib(requiredBytes)} on ${budget.device}; free memory unknown, check skipped` };
  }
  const fits = requiredBytes <= availableBytes;
  const what = `model ${modelName} needs about ${gib(requiredBytes)} on ${budget.device} (${gib(footprint.weightBytes)} of weights × ${overhead} overhead × ${budget.workers} worker${budget.workers === 1 ? '' : 's'})`;
  const have = `${source === 'configured' ? 'the configured budget is' : 'the device has'} ${gib(availableBytes)} free`;
  const advice = budget.workers > 1 ? 'use one worker on this device, export with --dtype fp16, or use a larger device' : 'export with --dtype fp16, use a larger device, or run on another device';
  return { fits, requiredBytes, availableBytes, source, message: fits ? `${what}; ${have}` : `${what} but ${have}: ${advice}` };
}

/**
 * Measures the packages one device group serves and the device, and judges whether every worker's
 * copy of all of them fits. Throws AppError('modelTooLarge') when it does not; returns the report
 * (also when free memory could not be measured and the check was skipped).
 */
export async function checkModelsFit(packages: readonly ModelPackage[], budget: DeviceBudget): Promise<FitReport> {
  const footprints = await Promise.all(packages.map((pkg) => measureModelPackage(pkg)));
  const total: ModelFootprint = {
    weightBytes: footprints.reduce((sum, f) => sum + f.weightBytes, 0),
    files: footprints.flatMap((f) => f.files),
    sessionCacheBytes: Math.max(0, ...footprints.map((f) => f.sessionCacheBytes)),
  };
  let available = budget.budgetBytes;
  let source: FitReport['source'] = available === undefined ? 'unknown' : 'configured';
  if (available === undefined) {
    const cuda = /^cuda:(\d+)$/.exec(budget.device);
    available = cuda?.[1] !== undefined ? await queryCudaFreeBytes(Number(cuda[1])) : freemem();
    if (available !== undefined) source = 'measured';
  }
  const label = packages.map((pkg) => pkg.manifest.name).join(' + ');
  const report = judgeFit(label, total, budget, available, source);
  if (!report.fits) throw new AppError('modelTooLarge', report.message, { details: { requiredBytes: report.requiredBytes, availableBytes: report.availableBytes, device: budget.device } });
  return report;
}
