/**
 * Engine benchmark (no HTTP): 1, 8 and 32 simulated sessions, batching on and off, in two modes.
 *   capacity  — every session's audio is handed over at once; how many seconds of audio the engine
 *               translates per wall-clock second.
 *   real-time — audio paced at 1x in frames of 960 ms × multiplier; how long each chunk waits for its
 *               text after its last sample arrived.
 * Prints a table, then one JSON line with every row.
 *
 *   npm run bench:engine -- [--sessions 1,8,32] [--seconds 20] [--rt-seconds 12] [--workers 2]
 *                           [--threads 1] [--beam 4] [--latency 2] [--wait-ms 100] [--modes capacity,real-time]
 */
import { parseArgs } from 'node:util';
import { createEngine } from '../src/inference/engine.ts';
import type { ChunkResult } from '../src/inference/translation-engine.ts';
import { engineOptions, testAudio } from '../test/support/engine-fixtures.ts';

const { values: args } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1,8,32' },
    seconds: { type: 'string', default: '20' },
    'rt-seconds': { type: 'string', default: '12' },
    workers: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    beam: { type: 'string', default: '4' },
    latency: { type: 'string', default: '2' },
    'wait-ms': { type: 'string', default: '100' },
    modes: { type: 'string', default: 'capacity,real-time' },
    pair: { type: 'string', default: 'English -> German' },
  },
});

interface Row {
  mode: 'capacity' | 'real-time';
  sessions: number;
  batching: boolean;
  audioSecondsPerWallSecond: number;
  chunkLatencyMsP50: number;
  chunkLatencyMsP95: number;
  chunks: number;
  errors: number;
  meanDecodeBatchRows: number;
  /** Share of wall time the workers spent running batches (all workers summed). */
  workerBusy: number;
  /** Worker seconds spent in prefill and in decode batches. */
  prefillSeconds: number;
  decodeSeconds: number;
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function run(mode: Row['mode'], sessions: number, batching: boolean): Promise<Row> {
  const latency = Number(args.latency);
  const engine = await createEngine(
    engineOptions({
      devices: [{ device: 'cpu', workers: Number(args.workers), intraOpThreads: Number(args.threads) }],
      batching: { maxBatchSize: batching ? 32 * Number(args.beam) : 1, maxWaitMs: batching ? Number(args['wait-ms']) : 0, maxQueueSize: 100_000 },
      beamSize: Number(args.beam),
      streamHighWaterMs: 10_000_000,
      streamMaxPendingMs: 10_000_000,
    }),
  );
  const seconds = Number(mode === 'capacity' ? args.seconds : args['rt-seconds']);
  const frame = 15360 * latency;
  const latencies: number[] = [];
  let errors = 0;
  const streams = Array.from({ length: sessions }, () =>
    engine.openStream({
      languagePair: args.pair,
      latencyMultiplier: latency,
      listener: { onChunk: (r: ChunkResult) => latencies.push(r.processingMs), onError: () => errors++ },
    }),
  );
  const audio = streams.map((_, i) => testAudio(16000 * seconds, i + 1));
  const started = performance.now();
  if (mode === 'capacity') {
    streams.forEach((s, i) => s.pushAudio(audio[i] ?? new Float32Array(0)));
    await Promise.all(streams.map((s) => s.flush()));
  } else {
    const periodMs = (frame / 16000) * 1000;
    await Promise.all(
      streams.map(async (s, i) => {
        const a = audio[i] ?? new Float32Array(0);
        await sleep((periodMs * i) / sessions); // sessions do not start in lockstep
        const t0 = performance.now();
        for (let k = 0; k * frame < a.length; k++) {
          const due = t0 + (k + 1) * periodMs;
          await sleep(Math.max(0, due - performance.now()));
          s.pushAudio(a.subarray(k * frame, (k + 1) * frame));
        }
        await s.flush();
      }),
    );
  }
  const wallSeconds = (performance.now() - started) / 1000;
  const stats = engine.stats().models;
  const decode = Object.values(stats)[0]?.decode;
  const busyMs = Object.values(stats).reduce((sum, m) => sum + m.prefill.computeMsTotal + m.decode.computeMsTotal, 0);
  const hist = decode?.batchSizeHistogram ?? {};
  const rows = Object.entries(hist).reduce((sum, [size, count]) => sum + Number(size) * count, 0);
  const batches = Object.values(hist).reduce((sum, count) => sum + count, 0);
  await engine.close();
  return {
    mode,
    sessions,
    batching,
    audioSecondsPerWallSecond: Number(((sessions * seconds) / wallSeconds).toFixed(2)),
    chunkLatencyMsP50: Number(percentile(latencies, 50).toFixed(1)),
    chunkLatencyMsP95: Number(percentile(latencies, 95).toFixed(1)),
    chunks: latencies.length,
    errors,
    meanDecodeBatchRows: Number((batches ? rows / batches : 0).toFixed(1)),
    workerBusy: Number((busyMs / 1000 / wallSeconds).toFixed(2)),
    prefillSeconds: Number((Object.values(stats).reduce((sum, m) => sum + m.prefill.computeMsTotal, 0) / 1000).toFixed(2)),
    decodeSeconds: Number((Object.values(stats).reduce((sum, m) => sum + m.decode.computeMsTotal, 0) / 1000).toFixed(2)),
  };
}

const rows: Row[] = [];
const modes = args.modes.split(',') as Row['mode'][];
console.log(`engine benchmark: ${args.pair}, latency x${args.latency}, beam ${args.beam}, ${args.workers} worker(s) x ${args.threads} thread(s), max wait ${args['wait-ms']} ms`);
console.log('mode       sessions batching  audio-s/wall-s  p50-ms   p95-ms  chunks errors rows/decode-batch worker-busy prefill-s decode-s');
for (const mode of modes) {
  for (const sessions of args.sessions.split(',').map(Number)) {
    for (const batching of [true, false]) {
      const row = await run(mode, sessions, batching);
      rows.push(row);
      console.log(
        `${row.mode.padEnd(10)} ${String(row.sessions).padStart(8)} ${String(row.batching).padEnd(8)} ${row.audioSecondsPerWallSecond.toFixed(2).padStart(15)} ${row.chunkLatencyMsP50.toFixed(1).padStart(7)} ${row.chunkLatencyMsP95.toFixed(1).padStart(8)} ${String(row.chunks).padStart(7)} ${String(row.errors).padStart(6)} ${row.meanDecodeBatchRows.toFixed(1).padStart(8)} ${row.workerBusy.toFixed(2).padStart(18)} ${row.prefillSeconds.toFixed(2).padStart(9)} ${row.decodeSeconds.toFixed(2).padStart(8)}`,
      );
    }
  }
}
console.log(JSON.stringify(rows));
