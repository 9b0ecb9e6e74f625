/**
 * Engine benchmark (no HTTP), measured against the machine's own limit. See USAGE below, or run
 * `npm run bench:engine -- --help`.
 */
import { writeFile } from 'node:fs/promises';
import { freemem } from 'node:os';
import { measureMatmulPeakGflops } from './bench/decoder-cost.ts';
import { estimatePeakBytes, resolveBenchModel, runBenchRow, type Row, type RowConfig, type SkippedRow } from './bench/engine-bench.ts';
import { findRealTimeCapacity, type CapacityResult } from './bench/rt-capacity.ts';
import { DEFAULT_LANGUAGE_PAIR, parseCommandLine, SHARED_FLAGS_NOTE, usageError } from './command-line.ts';

const USAGE = `Engine benchmark: simulated sessions straight on the engine (no HTTP), one fresh engine per row.

Usage: npm run bench:engine -- [options]

  --model tiny|bench|PATH   tiny: the embedded package serving --pair (default);
                            bench: a 22.7 M-parameter decoder (512 wide, 8 layers, 8 query / 2 KV
                            heads, MLP 1408), generated on first use into cache/bench-models;
                            PATH: a model package folder, or a folder of packages
  --pair "A -> B"           language pair (default "English -> German")
  --sessions 1,8,32         concurrent sessions, one row per value
  --batching on,off         dynamic batching on (batches up to 32 sessions × beam rows) and/or off
  --beam 4                  beam sizes (comma list; 1 = greedy)
  --warm-tokens 0           before timing, every session is brought to this many tokens of context
                            (capped by the model's window) by translating whole chunks of audio
                            through the real path; timing covers only what follows (comma list)
  --modes capacity,real-time
                            capacity: all audio handed over at once, audio-s per wall-s;
                            real-time: audio paced at 1x, chunk latency after its last sample;
                            rt-capacity: real-time capacity, the most paced sessions whose chunk
                            latency p95 stays under one chunk (doubling from 4, then bisecting;
                            --sessions is not used)
  --rt-max-sessions 512     where the rt-capacity search stops growing
  --seconds 20              timed audio per session in capacity mode
  --rt-seconds 12           timed audio per session in real-time mode
  --workers 2 --threads 1   worker threads × onnxruntime threads each
  --latency 2               latency multiplier (chunks of 960 ms × this)
  --wait-ms 100             maxWaitMs of the batcher when batching is on
  --param-bytes 4           bytes per decoder weight, for the FLOP count (2 for an fp16 export)
  --memory-budget-mib N     skip a row whose estimated peak memory exceeds this (default: half
                            the free memory now)
  --json FILE               also write every row as JSON to FILE
  --quiet                   print only the last line (every row as JSON)
  -h, --help                this text

Every row reports, beside throughput and latency: decodeRows, decodeRowsPerWorkerSecond,
decodeGflopsPerWorker (decode FLOPs: 2 × decoder parameters per row plus attention over each row's
context, divided by decode worker-seconds), matmulPeakGflops (one onnxruntime thread multiplying
128 rows by the decoder's widest weight matrix, measured at the start of this run),
decodeEfficiency (the two divided), computedRowsPerDecodeRow (rows the decoder computed per live
row: beams of finished sessions and slot-range holes are computed for nothing), bytesPerDecodeStep (bytes of every message that crossed
between the main thread and the workers while timed — chunks, results, batch reports — per decode
row), cacheBytesCopiedPerDecodeRow (cache bytes copied
to build and unpack batch tensors), eventLoopP99Ms (main thread), peakRssMiB and
estimatedPeakMiB. The last line is every row as JSON.

${SHARED_FLAGS_NOTE}`;

class UsageError extends Error {}

function list<T>(name: string, text: string, parse: (item: string) => T | undefined): T[] {
  const items = text.split(',').map((item) => item.trim());
  const values = items.map(parse);
  const bad = items.find((_, index) => values[index] === undefined);
  if (bad !== undefined || items.length === 0) throw new UsageError(`--${name}: "${bad ?? text}" is not valid`);
  return values as T[];
}

const positiveInt = (item: string): number | undefined => (/^\d+$/.test(item) && Number(item) > 0 ? Number(item) : undefined);
const nonNegativeInt = (item: string): number | undefined => (/^\d+$/.test(item) ? Number(item) : undefined);
const positiveNumber = (item: string): number | undefined => (item !== '' && Number(item) > 0 && Number.isFinite(Number(item)) ? Number(item) : undefined);

function single<T>(name: string, text: string, parse: (item: string) => T | undefined): T {
  const value = parse(text);
  if (value === undefined) throw new UsageError(`--${name}: "${text}" is not valid`);
  return value;
}

function benchOptions() {
  const parsed = parseCommandLine('bench:engine', USAGE, {
    model: { type: 'string', default: 'tiny' },
    pair: { type: 'string', default: DEFAULT_LANGUAGE_PAIR },
    sessions: { type: 'string', default: '1,8,32' },
    batching: { type: 'string', default: 'on,off' },
    beam: { type: 'string', default: '4' },
    'warm-tokens': { type: 'string', default: '0' },
    modes: { type: 'string', default: 'capacity,real-time' },
    'rt-max-sessions': { type: 'string', default: '512' },
    seconds: { type: 'string', default: '20' },
    'rt-seconds': { type: 'string', default: '12' },
    workers: { type: 'string', default: '2' },
    threads: { type: 'string', default: '1' },
    latency: { type: 'string', default: '2' },
    'wait-ms': { type: 'string', default: '100' },
    'param-bytes': { type: 'string', default: '4' },
    'memory-budget-mib': { type: 'string' },
    json: { type: 'string' },
    quiet: { type: 'boolean', default: false },
  });
  const v = parsed.values;
  return {
    json: v.json,
    quiet: v.quiet,
    model: v.model,
    pair: v.pair,
    sessions: list('sessions', v.sessions, positiveInt),
    batching: list('batching', v.batching, (item) => (item === 'on' ? true : item === 'off' ? false : undefined)),
    beams: list('beam', v.beam, positiveInt),
    warmTokens: list('warm-tokens', v['warm-tokens'], nonNegativeInt),
    modes: list('modes', v.modes, (item) => (item === 'capacity' || item === 'real-time' || item === 'rt-capacity' ? item : undefined)),
    rtMaxSessions: single('rt-max-sessions', v['rt-max-sessions'], positiveInt),
    seconds: single('seconds', v.seconds, positiveNumber),
    rtSeconds: single('rt-seconds', v['rt-seconds'], positiveNumber),
    workers: single('workers', v.workers, positiveInt),
    threads: single('threads', v.threads, positiveInt),
    latency: single('latency', v.latency, positiveInt),
    waitMs: single('wait-ms', v['wait-ms'], nonNegativeInt),
    paramBytes: single('param-bytes', v['param-bytes'], positiveNumber),
    budgetBytes: v['memory-budget-mib'] === undefined ? freemem() / 2 : single('memory-budget-mib', v['memory-budget-mib'], positiveNumber) * 1024 * 1024,
  };
}

const COLUMNS: [string, (row: Row) => string, number][] = [
  ['mode', (r) => r.mode, 9],
  ['sess', (r) => String(r.sessions), 4],
  ['batch', (r) => (r.batching ? 'on' : 'off'), 5],
  ['beam', (r) => String(r.beam), 4],
  ['warm', (r) => String(r.warmTokens), 5],
  ['audio-s/s', (r) => r.audioSecondsPerWallSecond.toFixed(2), 9],
  ['p50-ms', (r) => r.chunkLatencyMsP50.toFixed(0), 7],
  ['p95-ms', (r) => r.chunkLatencyMsP95.toFixed(0), 7],
  ['err', (r) => String(r.errors), 3],
  ['rows/b', (r) => r.meanDecodeBatchRows.toFixed(1), 6],
  ['dec-rows', (r) => String(r.decodeRows), 8],
  ['comp/r', (r) => r.computedRowsPerDecodeRow.toFixed(2), 6],
  ['rows/wk-s', (r) => r.decodeRowsPerWorkerSecond.toFixed(0), 9],
  ['GF/wk', (r) => r.decodeGflopsPerWorker.toFixed(1), 6],
  ['eff', (r) => r.decodeEfficiency.toFixed(3), 5],
  ['B/row', (r) => String(r.bytesPerDecodeStep), 8],
  ['copy/row', (r) => String(r.cacheBytesCopiedPerDecodeRow), 8],
  ['loop99', (r) => r.eventLoopP99Ms.toFixed(0), 6],
  ['rssMiB', (r) => String(r.peakRssMiB), 6],
  ['estMiB', (r) => String(r.estimatedPeakMiB), 6],
];

async function main(): Promise<void> {
  let options;
  try {
    options = benchOptions();
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    usageError('bench:engine', error.message);
  }
  const say = options.quiet ? () => {} : (line: string) => console.log(line);
  let model;
  try {
    model = await resolveBenchModel(options.model, options.pair, options.paramBytes);
  } catch (error) {
    console.error(`bench:engine: ${(error as Error).message}`);
    process.exit(2);
  }
  const peak = await measureMatmulPeakGflops(model.decoder);
  const d = model.decoder;
  say(`model ${options.model}: ${model.pkg.manifest.name} (${model.pkg.dir}), ${options.pair}`);
  say(`  decoder ${(d.parameters / 1e6).toFixed(1)} M parameters, ${d.layers} layers, width ${d.hidden}, MLP ${d.mlpWidth}, ${d.cacheBytesPerToken} cache bytes per token per row`);
  say(`  matmul peak: ${peak.toFixed(1)} GFLOP/s (one onnxruntime thread, 128 × ${d.hidden} by ${d.hidden} × ${d.mlpWidth})`);
  say(`  latency x${options.latency}, ${options.workers} worker(s) x ${options.threads} thread(s), max wait ${options.waitMs} ms, memory budget ${Math.round(options.budgetBytes / 2 ** 20)} MiB`);
  say(COLUMNS.map(([name, , width]) => name.padStart(width)).join(' '));
  const rows: (Row | SkippedRow | CapacityResult)[] = [];
  for (const mode of options.modes) {
    if (mode === 'rt-capacity') {
      for (const beam of options.beams) {
        for (const warmTokens of options.warmTokens) {
          for (const batching of options.batching) {
            const base = { batching, beam, warmTokens, seconds: options.rtSeconds, workers: options.workers, threads: options.threads, waitMs: options.waitMs, latency: options.latency, pair: options.pair };
            const result = await findRealTimeCapacity(model, base, peak, { start: 4, maxSessions: options.rtMaxSessions, budgetBytes: options.budgetBytes }, (_trial, row) => say(COLUMNS.map(([, cell, width]) => cell(row).padStart(width)).join(' ')));
            rows.push(result);
            const bound = result.isBounded ? ` (the search stopped at ${result.trials.at(-1)?.sessions ?? 0} sessions, the --rt-max-sessions or memory bound, still keeping up)` : '';
            say(`real-time capacity, batching ${batching ? 'on' : 'off'}, beam ${beam}, warm ${warmTokens}: ${result.sessions} sessions keep chunk latency p95 under one chunk (${result.chunkMs.toFixed(0)} ms)${bound}`);
          }
        }
      }
      continue;
    }
    for (const beam of options.beams) {
      for (const warmTokens of options.warmTokens) {
        for (const sessions of options.sessions) {
          for (const batching of options.batching) {
            const config: RowConfig = {
              mode, sessions, batching, beam, warmTokens,
              seconds: mode === 'capacity' ? options.seconds : options.rtSeconds,
              workers: options.workers, threads: options.threads, waitMs: options.waitMs, latency: options.latency, pair: options.pair,
            };
            const estimate = estimatePeakBytes(model, config);
            const estimatedPeakMiB = Math.round(estimate / 2 ** 20);
            if (estimate > options.budgetBytes) {
              const skipped = `estimated peak ${estimatedPeakMiB} MiB exceeds the memory budget of ${Math.round(options.budgetBytes / 2 ** 20)} MiB`;
              rows.push({ mode, sessions, batching, beam, warmTokens, skipped, estimatedPeakMiB });
              say(`skipped: ${mode} ${sessions} sessions, batching ${batching ? 'on' : 'off'}, beam ${beam}, warm ${warmTokens}: ${skipped}`);
              continue;
            }
            const row = await runBenchRow(model, config, peak);
            rows.push(row);
            say(COLUMNS.map(([, cell, width]) => cell(row).padStart(width)).join(' '));
          }
        }
      }
    }
  }
  console.log(JSON.stringify(rows));
  if (options.json !== undefined) await writeFile(options.json, `${JSON.stringify(rows, null, 2)}\n`, 'utf8');
}

await main();
