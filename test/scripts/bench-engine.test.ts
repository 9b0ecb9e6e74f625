import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { decoderCost } from '../../scripts/bench/decoder-cost.ts';
import { resolveBenchModel, runBenchRow, type RowConfig } from '../../scripts/bench/engine-bench.ts';
import { searchCapacity } from '../../scripts/bench/rt-capacity.ts';
import { ensureBenchModels } from '../../scripts/models/bench-package.ts';
import { benchDecoderDims, decoderParameterCount } from '../../scripts/models/tiny-dimensions.ts';
import { createEngine } from '../../src/inference/engine/engine.ts';
import { loadModelPackage } from '../../src/inference/manifest.ts';
import type { PhaseStats } from '../../src/inference/translation-engine.ts';
import { collector, engineOptions, streamAll, testAudio } from '../support/engine-fixtures.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PAIR = 'English -> German';

function runCli(args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-engine.ts', ...args], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
}

test('the bench model is generated on first use, shaped like a real decoder, and the engine runs it', async (t) => {
  const cache = await mkdtemp(join(tmpdir(), 'bench-models-'));
  t.after(() => rm(cache, { recursive: true, force: true }));
  const first = await ensureBenchModels(cache);
  const again = await ensureBenchModels(cache);
  assert.equal(first.generated, true);
  assert.equal(again.generated, false, 'the second call reuses the cached package');
  assert.equal(again.modelsDir, first.modelsDir);

  const pkg = await loadModelPackage(join(first.modelsDir, 'bench-en-de'));
  const d = benchDecoderDims;
  const exact = decoderParameterCount(d, pkg.manifest.decoder.vocabSize);
  assert.ok(exact >= 20e6 && exact <= 60e6, `${exact} parameters is outside 20-60 M`);
  assert.equal(d.numHeads / d.numKeyValueHeads, 4, '4 query heads per KV head');
  assert.equal(d.headDim, 64);
  assert.ok(d.mlpDim / d.hiddenSize > 2.5 && d.mlpDim / d.hiddenSize < 3, 'gated MLP ~2.75x the width');
  const weightBytes = (await stat(join(pkg.dir, 'decoder.onnx'))).size;
  assert.ok(weightBytes > 80e6 && weightBytes < 240e6, `decoder weights ${weightBytes} B should overflow the CPU caches`);
  // The benchmark's cost model, derived from file size and manifest alone, recovers the shape.
  const cost = await decoderCost(pkg);
  assert.ok(Math.abs(cost.parameters - exact) / exact < 0.01, `estimated ${cost.parameters} vs exact ${exact}`);
  assert.ok(Math.abs(cost.mlpWidth - d.mlpDim) / d.mlpDim < 0.01, `estimated MLP width ${cost.mlpWidth} vs ${d.mlpDim}`);

  const engine = await createEngine(engineOptions({ modelsDir: first.modelsDir }));
  t.after(() => engine.close());
  const c = collector();
  const stream = engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: c.listener });
  await streamAll(stream, testAudio(15360 * 2, 3));
  assert.deepEqual(c.errors, []);
  assert.equal(c.chunks.length, 2);
  assert.ok((c.chunks[1]?.contextTokens ?? 0) > (c.chunks[0]?.contextTokens ?? 0), 'context grows chunk by chunk');

  // Batched equals unbatched on a realistically shaped decoder too: four sessions one after
  // another, then together (their steps share batches), give the same texts.
  const translate = async (seed: number) => {
    const collected = collector();
    await streamAll(engine.openStream({ languagePair: PAIR, latencyMultiplier: 1, listener: collected.listener }), testAudio(15360 * 2, seed));
    assert.deepEqual(collected.errors, []);
    return collected.chunks.map((chunk) => chunk.newText);
  };
  const seeds = [41, 42, 43, 44];
  const alone: string[][] = [];
  for (const seed of seeds) alone.push(await translate(seed));
  const decodeBatchesBefore = engine.stats().models['bench-en-de']?.decode.batches ?? 0;
  const together = await Promise.all(seeds.map(translate));
  assert.deepEqual(together, alone);
  const decode = engine.stats().models['bench-en-de']?.decode;
  assert.ok(decode && decode.items / decode.batches > 1 && decode.batches > decodeBatchesBefore, 'sessions shared decode batches');
});

/** An independent byte count of a message at the thread boundary (same rule as messageBytes, written apart). */
function boundaryBytes(message: unknown): number {
  const seen: ArrayBufferLike[] = [];
  let total = 0;
  const pending: unknown[] = [message];
  while (pending.length > 0) {
    const value = pending.pop();
    switch (typeof value) {
      case 'number': total += 8; break;
      case 'string': total += value.length * 2; break;
      case 'boolean': total += 1; break;
      case 'object': {
        if (value === null) break;
        const buffer = ArrayBuffer.isView(value) ? value.buffer : value instanceof ArrayBuffer ? value : undefined;
        if (buffer) {
          if (!seen.includes(buffer)) {
            seen.push(buffer);
            total += buffer.byteLength;
          }
        } else {
          pending.push(...(Array.isArray(value) ? value : Object.values(value)));
        }
        break;
      }
      default: break;
    }
  }
  return total;
}

const rowsOf = (phase: PhaseStats | undefined): number => Object.entries(phase?.batchSizeHistogram ?? {}).reduce((sum, [size, count]) => sum + Number(size) * count, 0);

test("the bench's row and byte counts equal the batcher's histogram and the messages at the thread boundary", async (t) => {
  const model = await resolveBenchModel('tiny', PAIR);
  // Count every message crossing between the threads while the row is timed.
  let counting = false;
  let boundary = 0;
  const originalPost = Worker.prototype.postMessage;
  const originalEmit = Worker.prototype.emit;
  Worker.prototype.postMessage = function (this: Worker, message: unknown, transfer?: Parameters<Worker['postMessage']>[1]) {
    if (counting) boundary += boundaryBytes(message);
    return originalPost.call(this, message, transfer);
  };
  Worker.prototype.emit = function (this: Worker, event: string | symbol, ...args: unknown[]) {
    if (counting && event === 'message') boundary += boundaryBytes(args[0]);
    return originalEmit.call(this, event, ...args);
  };
  t.after(() => {
    Worker.prototype.postMessage = originalPost;
    Worker.prototype.emit = originalEmit;
  });

  let rowsBefore = 0;
  let rowsAfter = 0;
  const config: RowConfig = {
    mode: 'capacity', sessions: 3, batching: true, beam: 2, warmTokens: 60, seconds: 4,
    workers: 1, threads: 1, waitMs: 5, latency: 1, pair: PAIR,
  };
  const row = await runBenchRow(model, config, 50, {
    onTimingStart: (engine) => {
      rowsBefore = rowsOf(engine.stats().models['tiny-en-de']?.decode);
      counting = true;
    },
    onTimingEnd: (engine) => {
      counting = false;
      rowsAfter = rowsOf(engine.stats().models['tiny-en-de']?.decode);
    },
  });
  assert.equal(row.errors, 0);
  assert.ok(row.decodeRows > 0, 'the timed part decoded');
  assert.ok(rowsBefore > 0, 'the warm-up went through the real path before timing');
  assert.equal(row.decodeRows, rowsAfter - rowsBefore, 'decode rows = rows in the batcher histogram while timed');
  assert.equal(row.bytesPerDecodeStep, Math.round(boundary / row.decodeRows), 'bytes per decode row = bytes seen at the thread boundary');
  assert.ok(row.cacheBytesCopiedPerDecodeRow > 0);
  assert.ok(row.computedRowsPerDecodeRow >= 1, 'the decoder computes every live row, and maybe finished beams');
  assert.ok(row.decodeGflopsPerWorker > 0 && row.decodeEfficiency > 0);
  // 4 s of audio is 4 whole 0.96 s chunks and a padded tail, per session.
  assert.equal(row.chunks, 3 * Math.ceil((16000 * 4) / 15360), 'only timed chunks are counted');
});

test('the real-time capacity search doubles, then bisects to within an eighth, and stops at its bounds', async () => {
  const tried: number[] = [];
  const upTo = (limit: number) => async (sessions: number) => (tried.push(sessions), sessions <= limit);
  const everything = () => true;
  const found = await searchCapacity({ start: 4, maxSessions: 512, fits: everything }, upTo(37));
  assert.equal(found.isBounded, false);
  assert.ok(found.sessions <= 37 && found.sessions >= 37 - Math.floor(37 / 8), `found ${found.sessions}`);
  assert.deepEqual(tried.slice(0, 5), [4, 8, 16, 32, 64]);
  assert.deepEqual(await searchCapacity({ start: 4, maxSessions: 512, fits: everything }, upTo(0)), { sessions: 0, isBounded: false });
  assert.deepEqual(await searchCapacity({ start: 4, maxSessions: 100, fits: everything }, upTo(1000)), { sessions: 100, isBounded: true });
  assert.deepEqual(await searchCapacity({ start: 4, maxSessions: 512, fits: (n) => n <= 20 }, upTo(1000)), { sessions: 16, isBounded: true });
});

test('bench:engine --modes rt-capacity prints each trial and the capacity it found', () => {
  const result = runCli(['--modes', 'rt-capacity', '--rt-max-sessions', '2', '--rt-seconds', '2', '--batching', 'on', '--beam', '1']);
  assert.equal(result.status, 0, result.stderr);
  const line = /^real-time capacity, batching on, beam 1, warm 0: (\d+) sessions keep chunk latency p95 under one chunk \((\d+) ms\)/m.exec(result.stdout);
  assert.ok(line, result.stdout);
  const rows = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '[]') as { mode: string; sessions: number; chunkMs: number; trials: { sessions: number; chunkLatencyMsP95: number; keepsUp: boolean }[] }[];
  const [capacity] = rows;
  assert.equal(capacity?.mode, 'rt-capacity');
  assert.equal(capacity.sessions, Number(line[1]));
  assert.ok(capacity.trials.length > 0);
  for (const trial of capacity.trials) assert.equal(trial.keepsUp, trial.chunkLatencyMsP95 < capacity.chunkMs, JSON.stringify(trial));
  const keeping = capacity.trials.filter((trial) => trial.keepsUp).map((trial) => trial.sessions);
  assert.equal(capacity.sessions, Math.max(0, ...keeping));
});

test('bench:engine skips a row over the memory budget with a one-line reason and its estimate', () => {
  const result = runCli(['--memory-budget-mib', '1', '--sessions', '2', '--modes', 'capacity', '--batching', 'on', '--seconds', '1']);
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /^skipped: capacity 2 sessions, batching on, beam 4, warm 0: estimated peak \d+ MiB exceeds the memory budget of 1 MiB$/m);
  const rows = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '[]') as { skipped?: string; estimatedPeakMiB: number }[];
  assert.equal(rows.length, 1);
  assert.ok(rows[0]?.skipped && rows[0].estimatedPeakMiB > 1);
});

test('bench:profile sorts one decode step of a real decoder by what its kernels compute', () => {
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/bench-decoder-profile.ts', '--model', 'tiny', '--sessions', '2', '--beam', '2', '--context', '5,40', '--runs', '2'], { cwd: ROOT, encoding: 'utf8', timeout: 120_000 });
  assert.equal(result.status, 0, result.stderr);
  assert.match(result.stdout, /2 sessions × 2 beams = 4 rows/);
  for (const context of [5, 40]) assert.match(result.stdout, new RegExp(`context ${context} \\+ suffix 5: [\\d.]+ ms per step`));
  const weights = [...result.stdout.matchAll(/weight MatMul\s+([\d.]+) ms\s+([\d.]+)%/g)];
  assert.equal(weights.length, 2, result.stdout);
  assert.ok(weights.every((match) => Number(match[1]) > 0 && Number(match[2]) > 0 && Number(match[2]) <= 100));
  assert.match(result.stdout, /attention MatMul/);
});

test('bench:engine --help prints its usage and exits 0; a bad flag or value is one line and exit 2', () => {
  const help = runCli(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /Usage: npm run bench:engine/);
  assert.match(help.stdout, /--warm-tokens/);
  for (const args of [['--bogus'], ['--beam', 'x'], ['--sessions', '0'], ['--batching', 'maybe'], ['--model', '/nonexistent/models']]) {
    const result = runCli(args);
    assert.equal(result.status, 2, `${args.join(' ')}: ${result.stderr}`);
    const lines = result.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('npm warn'));
    assert.equal(lines.length, 1, `${args.join(' ')}: ${result.stderr}`);
    assert.match(lines[0] ?? '', /^bench:engine: /);
    assert.doesNotMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
});
