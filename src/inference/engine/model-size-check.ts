/**
 * Pre-load memory check for model packages: a multi-GB model that does not fit its device should
 * fail start-up with a sentence naming the model, the device and the numbers, not with an
 * allocation error from deep inside onnxruntime (or the OOM killer) minutes later.
 *
 * What it counts: every worker of a device group creates its own onnxruntime sessions, so the
 * graphs' weights are loaded once per worker. Weights are the package's files (graphs and their
 * external data) except the manifest and the token table. Runtime overhead (activations, arena
 * growth, CUDA workspace) is an `overheadFactor` on top.
 *
 * What is left of the budget after the weights holds the sessions: each session a worker hosts
 * owns a slot of its model's arenas (decoder keys and values of the window, every beam's suffix)
 * plus its encoder cache, in that worker's memory. `planSessionSlots` turns the rest of the budget
 * into a slot count per worker: the engine's session capacity.
 */
import { execFile } from 'node:child_process';
import { readdir, stat } from 'node:fs/promises';
import { freemem } from 'node:os';
import { join } from 'node:path';
import { AppError } from '../../errors.ts';
import type { ModelManifest, ModelPackage } from '../manifest.ts';
import { arenaLayoutFor, slotBytesOf } from '../worker/slot-arena.ts';

export interface ModelFootprint {
  /** Graph files and their external data: what one worker's sessions load. */
  weightBytes: number;
  files: { name: string; bytes: number }[];
  /** One session's state in its worker at the manifest's beam size: `sessionStateBytes`. */
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
  return { weightBytes: files.reduce((sum, f) => sum + f.bytes, 0), files, sessionCacheBytes: sessionStateBytes(m, m.generation.beamSize) };
}

/**
 * What one session costs its worker, float32: its slot in the decoder arenas (the window plus the
 * longest prompt and a chunk's tokens, and a chunk's suffix per beam) and its encoder cache at the
 * encoder's window.
 */
export function sessionStateBytes(m: ModelManifest, beams: number): number {
  const encoderCache = m.encoder.numLayers * 2 * m.encoder.numHeads * m.encoder.maxCacheFrames * m.encoder.headDim * 4;
  return encoderCache + slotBytesOf(arenaLayoutFor(m, beams));
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

/** How many sessions each worker of a device group hosts, and why. */
export interface SlotPlan {
  slotsPerWorker: number;
  /** Bytes one session holds in its worker (the largest of the group's models). */
  sessionBytes: number;
  /** Bytes left for sessions on the device after every worker's weights. */
  sessionBudgetBytes: number | undefined;
  /** configured / measured: from the budget; unknown: no budget known, the fallback count; capped: the budget allows more than `maxSlotsPerWorker`. */
  source: 'configured' | 'measured' | 'unknown' | 'capped';
}

export interface SlotPlanLimits {
  /** Share of a measured (not configured) free memory that sessions and weights may use: the rest is for the process, activations and the system. */
  measuredShare: number;
  maxSlotsPerWorker: number;
  /** Slots per worker when the device's free memory is unknown and no budget is configured. */
  fallbackSlotsPerWorker: number;
}

export const DEFAULT_SLOT_LIMITS: SlotPlanLimits = { measuredShare: 0.75, maxSlotsPerWorker: 256, fallbackSlotsPerWorker: 16 };

/**
 * Pure: the budget left after the weights, divided among the workers, in sessions. At least one
 * slot per worker (the fit check already refused a group whose weights alone do not fit).
 */
export function planSessionSlots(fit: FitReport, workers: number, sessionBytes: number, limits: SlotPlanLimits = DEFAULT_SLOT_LIMITS): SlotPlan {
  if (fit.availableBytes === undefined) return { slotsPerWorker: limits.fallbackSlotsPerWorker, sessionBytes, sessionBudgetBytes: undefined, source: 'unknown' };
  const usable = fit.source === 'configured' ? fit.availableBytes : fit.availableBytes * limits.measuredShare;
  const sessionBudgetBytes = Math.max(0, Math.floor(usable - fit.requiredBytes));
  const slots = Math.max(1, Math.floor(sessionBudgetBytes / workers / Math.max(1, sessionBytes)));
  const isCapped = slots > limits.maxSlotsPerWorker;
  return {
    slotsPerWorker: Math.min(slots, limits.maxSlotsPerWorker),
    sessionBytes,
    sessionBudgetBytes,
    source: isCapped ? 'capped' : fit.source === 'configured' ? 'configured' : 'measured',
  };
}
