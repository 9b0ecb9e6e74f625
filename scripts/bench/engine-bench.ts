/**
 * One row of the engine benchmark, and what it is measured against: the model's decoder cost
 * (FLOPs per row), the machine's own matmul peak, and a memory estimate checked before the row
 * runs. The CLI (scripts/bench-engine.ts) loops over rows and prints them.
 */
import { readdir, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createEngine, type BatchObservation, type Engine } from '../../src/inference/engine/engine.ts';
import { chunkSamples, loadModelPackage, type ModelPackage } from '../../src/inference/manifest.ts';
import type { ChunkResult, TranslationStream } from '../../src/inference/translation-engine.ts';
import { testAudio } from '../../test/support/engine-fixtures.ts';
import { ensureBenchModels } from '../models/bench-package.ts';
import { arenaLayoutFor } from '../../src/inference/worker/slot-arena.ts';
import { decodeFlops, decoderCost, weightBytesOf, type DecoderCost } from './decoder-cost.ts';

const MIB = 1024 * 1024;

export interface BenchModel {
  /** `tiny`, `bench` or the folder given. */
  label: string;
  modelsDir: string;
  pkg: ModelPackage;
  decoder: DecoderCost;
  /** Bytes of every graph file one worker loads. */
  weightBytes: number;
}

/** Everything one row varies. */
export interface RowConfig {
  mode: 'capacity' | 'real-time';
  sessions: number;
  batching: boolean;
  beam: number;
  warmTokens: number;
  /** Seconds of audio per session that are timed. */
  seconds: number;
  workers: number;
  threads: number;
  waitMs: number;
  latency: number;
  pair: string;
}

export interface Row {
  mode: RowConfig['mode'];
  sessions: number;
  batching: boolean;
  beam: number;
  warmTokens: number;
  audioSecondsPerWallSecond: number;
  chunkLatencyMsP50: number;
  chunkLatencyMsP95: number;
  chunks: number;
  errors: number;
  meanDecodeBatchRows: number;
  /** Share of wall time the workers spent running batches (all workers summed, worker-measured). */
  workerBusy: number;
  /** Worker seconds spent in prefill and in decode batches. */
  prefillSeconds: number;
  decodeSeconds: number;
  decodeRows: number;
  /** Rows the decoder computed per live row: above 1 for beams of finished sessions and slot-range holes computed for nothing. */
  computedRowsPerDecodeRow: number;
  decodeRowsPerWorkerSecond: number;
  decodeGflopsPerWorker: number;
  matmulPeakGflops: number;
  decodeEfficiency: number;
  /** Bytes that crossed between threads in decode batches (requests and answers), per decode row. */
  bytesPerDecodeStep: number;
  cacheBytesCopiedPerDecodeRow: number;
  eventLoopP99Ms: number;
  peakRssMiB: number;
  estimatedPeakMiB: number;
}

export interface SkippedRow {
  mode: RowConfig['mode'];
  sessions: number;
  batching: boolean;
  beam: number;
  warmTokens: number;
  skipped: string;
  estimatedPeakMiB: number;
}

/** Test hooks: see the engine when timing starts and ends (before it closes). */
export interface RowProbe {
  onTimingStart?(engine: Engine): void;
  onTimingEnd?(engine: Engine): void;
}

const round = (value: number, digits = 2): number => Number(value.toFixed(digits));

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const sleep = (ms: number): Promise<void> => new Promise((done) => setTimeout(done, ms));

/**
 * Resolves `--model`: `tiny` (the package serving `pair` in models/), `bench` (generated on first
 * use into cache/bench-models) or a folder: a model package, or a folder of packages (the one
 * serving `pair` is used).
 */
export async function resolveBenchModel(model: string, pair: string, paramBytes = 4): Promise<BenchModel> {
  let root: string;
  if (model === 'tiny') root = resolve('models');
  else if (model === 'bench') root = (await ensureBenchModels()).modelsDir;
  else root = resolve(model);
  const isPackage = await stat(join(root, 'manifest.json')).then((s) => s.isFile(), () => false);
  let pkg: ModelPackage | undefined;
  if (isPackage) {
    pkg = await loadModelPackage(root);
  } else {
    const entries = await readdir(root).catch(() => {
      throw new Error(`--model ${model}: ${root} is neither a model package nor a folder of packages`);
    });
    for (const name of entries.sort()) {
      if (!(await stat(join(root, name, 'manifest.json')).then((s) => s.isFile(), () => false))) continue;
      const candidate = await loadModelPackage(join(root, name));
      if (pair in candidate.manifest.languagePairs) {
        pkg = candidate;
        break;
      }
    }
  }
  if (!pkg) throw new Error(`--model ${model}: no package in ${root} serves "${pair}"`);
  if (!(pair in pkg.manifest.languagePairs)) throw new Error(`--model ${model}: ${pkg.dir} does not serve "${pair}" (it serves ${Object.keys(pkg.manifest.languagePairs).join(', ')})`);
  const { total } = await weightBytesOf(pkg.dir, new Set(['manifest.json', pkg.manifest.tokenizer.file]));
  return { label: model, modelsDir: dirname(pkg.dir), pkg, decoder: await decoderCost(pkg, paramBytes), weightBytes: total };
}

/** Context a row's sessions hold at most: the warm tokens (capped by the window) plus one chunk. */
function peakContextTokens(model: BenchModel, config: RowConfig): number {
  const m = model.pkg.manifest;
  const chunkTokens = 8 + m.encoder.embeddingsPerSegment * config.latency + m.generation.maxNewTokensPerMultiplier * config.latency;
  return Math.min(m.decoder.maxCacheTokens, Math.max(config.warmTokens, chunkTokens)) + chunkTokens;
}

/**
 * Peak memory of a row, estimated before it runs: a process baseline and one per worker thread (its
 * own heap and onnxruntime's allocators), the graphs' weights once per
 * worker (×2: onnxruntime holds the parsed model beside its initialisers while loading), each
 * worker's decoder slot arenas (they start at 4 slots and double, the old and new arrays briefly
 * side by side), the packed feeds of a batch that cannot be an arena view (per row its context,
 * ×2.25 for the padded layout's reused buffers and the answer), and the encoder caches.
 */
export function estimatePeakBytes(model: BenchModel, config: RowConfig): number {
  const baseline = 400 * MIB + 100 * MIB * config.workers;
  const weights = model.weightBytes * 2 * config.workers;
  const m = model.pkg.manifest;
  const perToken = model.decoder.cacheBytesPerToken;
  const layout = arenaLayoutFor(m, config.beam);
  const slotsPerWorker = Math.max(4, 2 ** Math.ceil(Math.log2(Math.max(1, Math.ceil(config.sessions / config.workers)))));
  const arenas = config.workers * slotsPerWorker * (layout.prefixCapacity + layout.beams * layout.suffixCapacity) * perToken * 1.5;
  const rowsPerBatch = config.batching ? Math.min(config.sessions * config.beam, 32 * config.beam) : config.beam;
  const packed = config.workers * rowsPerBatch * peakContextTokens(model, config) * perToken * (m.decoder.cacheLayout === 'padded' ? 2.25 : 1);
  const encoderPerSession = m.encoder.numLayers * 2 * m.encoder.numHeads * m.encoder.headDim * m.encoder.maxCacheFrames * 4;
  return baseline + weights + arenas + packed + encoderPerSession * config.sessions * 3;
}

/** Accumulates decode-batch observations while `timing` is on. */
class DecodeTally {
  timing = false;
  rows = 0;
  computedRows = 0;
  attendedSlots = 0;
  bytes = 0;
  copied = 0;
  decodeBatches = 0;
  decodeWorkerMs = 0;
  prefillWorkerMs = 0;

  observe(batch: BatchObservation): void {
    if (!this.timing) return;
    if (batch.phase === 'prefill') {
      this.prefillWorkerMs += batch.computeMs;
      return;
    }
    this.decodeBatches++;
    this.rows += batch.rows;
    this.computedRows += batch.computedRows;
    this.attendedSlots += batch.attendedSlots;
    this.copied += batch.cacheBytesCopied;
    this.decodeWorkerMs += batch.computeMs;
  }
}

/** Sends whole chunks until every stream holds `warmTokens` of context (capped by the window). */
async function warmUp(streams: TranslationStream[], contextOf: (index: number) => number, model: BenchModel, config: RowConfig): Promise<void> {
  const target = Math.min(config.warmTokens, model.pkg.manifest.decoder.maxCacheTokens);
  const chunk = chunkSamples(model.pkg.manifest, config.latency);
  await Promise.all(
    streams.map(async (stream, index) => {
      for (let k = 0; contextOf(index) < target; k++) {
        if (k > 10_000) throw new Error(`warm-up: session ${index} holds ${contextOf(index)} tokens after ${k} chunks`);
        stream.pushAudio(testAudio(chunk, 100_000 + index * 1_000 + k));
        await stream.flush();
      }
    }),
  );
}

/** Runs one row on a fresh engine and closes it. */
export async function runBenchRow(model: BenchModel, config: RowConfig, matmulPeakGflops: number, probe: RowProbe = {}): Promise<Row> {
  const engine = await createEngine({
    modelsDir: model.modelsDir,
    models: [basename(model.pkg.dir)],
    devices: [{ device: 'cpu', workers: config.workers, intraOpThreads: config.threads }],
    batching: { maxBatchSize: config.batching ? 32 * config.beam : 1, maxWaitMs: config.batching ? config.waitMs : 0, maxQueueSize: 100_000 },
    requestDeadlineMs: 600_000,
    beamSize: config.beam,
    streamHighWaterMs: 10_000_000,
    streamMaxPendingMs: 10_000_000,
  });
  const tally = new DecodeTally();
  engine.addObserver({ measuresTraffic: true, onBatch: (batch) => tally.observe(batch) });
  const latencies: number[] = [];
  const contexts = new Array<number>(config.sessions).fill(0);
  let errors = 0;
  let timing = false;
  const streams = Array.from({ length: config.sessions }, (_, index) =>
    engine.openStream({
      languagePair: config.pair,
      latencyMultiplier: config.latency,
      listener: {
        onChunk: (result: ChunkResult) => {
          contexts[index] = result.contextTokens;
          if (timing) latencies.push(result.processingMs);
        },
        onError: () => {
          if (timing) errors++;
        },
      },
    }),
  );
  const loopDelay = monitorEventLoopDelay({ resolution: 5 });
  let peakRss = process.memoryUsage.rss();
  const rssSampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 100);
  try {
    if (config.warmTokens > 0) await warmUp(streams, (index) => contexts[index] ?? 0, model, config);
    const audio = streams.map((_, index) => testAudio(16000 * config.seconds, index + 1));
    probe.onTimingStart?.(engine);
    const trafficBefore = engine.threadTraffic();
    timing = true;
    tally.timing = true;
    loopDelay.enable();
    const started = performance.now();
    if (config.mode === 'capacity') {
      streams.forEach((stream, index) => stream.pushAudio(audio[index] ?? new Float32Array(0)));
      await Promise.all(streams.map((stream) => stream.flush()));
    } else {
      const frame = chunkSamples(model.pkg.manifest, config.latency);
      const periodMs = (frame / 16000) * 1000;
      await Promise.all(
        streams.map(async (stream, index) => {
          const samples = audio[index] ?? new Float32Array(0);
          await sleep((periodMs * index) / config.sessions); // sessions do not start in lockstep
          const t0 = performance.now();
          for (let k = 0; k * frame < samples.length; k++) {
            await sleep(Math.max(0, t0 + (k + 1) * periodMs - performance.now()));
            stream.pushAudio(samples.subarray(k * frame, (k + 1) * frame));
          }
          await stream.flush();
        }),
      );
    }
    const wallSeconds = (performance.now() - started) / 1000;
    loopDelay.disable();
    timing = false;
    tally.timing = false;
    probe.onTimingEnd?.(engine);
    const trafficAfter = engine.threadTraffic();
    tally.bytes = trafficAfter.toWorkers - trafficBefore.toWorkers + trafficAfter.fromWorkers - trafficBefore.fromWorkers;
    peakRss = Math.max(peakRss, process.memoryUsage.rss());
    const decodeSeconds = tally.decodeWorkerMs / 1000;
    const gflops = decodeSeconds > 0 ? decodeFlops(model.decoder, tally.rows, tally.attendedSlots) / decodeSeconds / 1e9 : 0;
    return {
      mode: config.mode,
      sessions: config.sessions,
      batching: config.batching,
      beam: config.beam,
      warmTokens: config.warmTokens,
      audioSecondsPerWallSecond: round((config.sessions * config.seconds) / wallSeconds),
      chunkLatencyMsP50: round(percentile(latencies, 50), 1),
      chunkLatencyMsP95: round(percentile(latencies, 95), 1),
      chunks: latencies.length,
      errors,
      meanDecodeBatchRows: round(tally.decodeBatches > 0 ? tally.rows / tally.decodeBatches : 0, 1),
      workerBusy: round((tally.prefillWorkerMs + tally.decodeWorkerMs) / 1000 / wallSeconds),
      prefillSeconds: round(tally.prefillWorkerMs / 1000),
      decodeSeconds: round(decodeSeconds),
      decodeRows: tally.rows,
      computedRowsPerDecodeRow: round(tally.rows > 0 ? tally.computedRows / tally.rows : 0),
      decodeRowsPerWorkerSecond: round(decodeSeconds > 0 ? tally.rows / decodeSeconds : 0, 1),
      decodeGflopsPerWorker: round(gflops),
      matmulPeakGflops: round(matmulPeakGflops),
      decodeEfficiency: round(matmulPeakGflops > 0 ? gflops / matmulPeakGflops : 0, 3),
      bytesPerDecodeStep: Math.round(tally.rows > 0 ? tally.bytes / tally.rows : 0),
      cacheBytesCopiedPerDecodeRow: Math.round(tally.rows > 0 ? tally.copied / tally.rows : 0),
      eventLoopP99Ms: round(loopDelay.percentile(99) / 1e6, 1),
      peakRssMiB: Math.round(peakRss / MIB),
      estimatedPeakMiB: Math.round(estimatePeakBytes(model, config) / MIB),
    };
  } finally {
    clearInterval(rssSampler);
    loopDelay.disable();
    for (const stream of streams) stream.close();
    await engine.close();
  }
}

