/**
 * Where a decode step's time goes: onnxruntime's own per-operator profile of one model's decoder
 * graph (slots layout) running a full decode batch, by operator kind, at several context lengths.
 * Run `npm run bench:profile -- --help`.
 */
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { measureMatmulPeakGflops } from './bench/decoder-cost.ts';
import { resolveBenchModel } from './bench/engine-bench.ts';
import { arenaLayoutFor } from '../src/inference/worker/slot-arena.ts';
import { DEFAULT_LANGUAGE_PAIR, parseCommandLine, SHARED_FLAGS_NOTE, usageError } from './command-line.ts';

const USAGE = `Decoder profile: onnxruntime's per-operator times for one decode step of a full batch.

Usage: npm run bench:profile -- [options]

  --model tiny|bench|PATH   as bench:engine (default bench); the decoder must use the slots layout
  --sessions 32             sessions in the batch
  --beam 4                  beams per session (rows = sessions × beam)
  --context 10,1000         committed tokens per session (comma list, one profile each)
  --suffix 5                tokens of the current chunk per beam
  --runs 20                 profiled steps per context (after 3 unprofiled warm-up steps)
  -h, --help                this text

Prints, per context: ms per step, and the share of it spent in the weight MatMuls (their
GFLOP/s against one thread's matmul peak), the attention MatMuls, Softmax, and everything else.

${SHARED_FLAGS_NOTE}`;

interface ProfileEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string; input_type_shape?: Record<string, number[]>[] };
}

/**
 * Sorts a kernel into what it computes: a weight MatMul's right operand is an initializer, which
 * the profile does not list (or a 2-D matrix); attention MatMuls multiply two 4-D activations.
 */
function kindOf(event: ProfileEvent): string {
  const op = event.args?.op_name ?? '?';
  if (op === 'MatMul' || op === 'FusedMatMul' || op === 'Gemm') {
    const shapes = (event.args?.input_type_shape ?? []).map((entry) => Object.values(entry)[0] ?? []);
    return shapes.length < 2 || (shapes[1]?.length ?? 0) === 2 ? 'weight MatMul' : 'attention MatMul';
  }
  if (op === 'Softmax') return 'Softmax';
  return `other: ${op}`;
}

function feedsFor(m: Awaited<ReturnType<typeof resolveBenchModel>>['pkg']['manifest'], sessions: number, beams: number, context: number, suffix: number, inputNames: readonly string[]): Record<string, ort.Tensor> {
  const layout = arenaLayoutFor(m, beams);
  const rows = sessions * beams;
  const d = layout.headDim;
  const noise = (length: number) => Float32Array.from({ length }, (_, i) => Math.sin(i * 12.9898) * 0.1);
  const feeds: Record<string, ort.Tensor> = {
    inputs_embeds: new ort.Tensor('float32', noise(rows * m.decoder.hiddenSize), [rows, 1, m.decoder.hiddenSize]),
    prefix_mask: new ort.Tensor('int64', BigInt64Array.from({ length: sessions * context }, () => 1n), [sessions, context]),
    suffix_mask: new ort.Tensor('int64', BigInt64Array.from({ length: rows * suffix }, () => 1n), [rows, suffix]),
  };
  if (inputNames.includes('position_ids')) feeds.position_ids = new ort.Tensor('int64', BigInt64Array.from({ length: rows }, () => BigInt(context + suffix)), [rows, 1]);
  const prefix = noise(sessions * layout.heads * layout.prefixCapacity * d);
  const suffixArena = noise(rows * layout.heads * layout.suffixCapacity * d);
  for (let i = 0; i < m.decoder.numLayers; i++) {
    for (const kind of ['key', 'value']) {
      feeds[`prefix_key_values.${i}.${kind}`] = new ort.Tensor('float32', prefix, [sessions, layout.heads, layout.prefixCapacity, d]);
      feeds[`suffix_key_values.${i}.${kind}`] = new ort.Tensor('float32', suffixArena, [rows, layout.heads, layout.suffixCapacity, d]);
    }
  }
  return feeds;
}

async function main(): Promise<void> {
  const { values } = parseCommandLine('bench:profile', USAGE, {
    model: { type: 'string', default: 'bench' },
    sessions: { type: 'string', default: '32' },
    beam: { type: 'string', default: '4' },
    context: { type: 'string', default: '10,1000' },
    suffix: { type: 'string', default: '5' },
    runs: { type: 'string', default: '20' },
  });
  const [sessions, beams, suffix, runs] = [values.sessions, values.beam, values.suffix, values.runs].map(Number);
  const contexts = values.context.split(',').map(Number);
  if (![sessions, beams, suffix, runs, ...contexts].every((n) => Number.isInteger(n) && (n ?? 0) > 0)) usageError('bench:profile', '--sessions, --beam, --context, --suffix and --runs take positive integers');
  const model = await resolveBenchModel(values.model, DEFAULT_LANGUAGE_PAIR);
  const m = model.pkg.manifest;
  if (m.decoder.cacheLayout !== 'slots') throw new Error(`bench:profile: ${model.pkg.dir} uses the ${m.decoder.cacheLayout} layout; profile a slots decoder`);
  const peak = await measureMatmulPeakGflops(model.decoder);
  const rows = (sessions ?? 0) * (beams ?? 0);
  console.log(`${m.name}: ${(model.decoder.parameters / 1e6).toFixed(1)} M decoder parameters; ${sessions} sessions × ${beams} beams = ${rows} rows; matmul peak ${peak.toFixed(1)} GFLOP/s (one thread)`);
  for (const context of contexts) {
    const dir = await mkdtemp(join(tmpdir(), 'decoder-profile-'));
    try {
      const session = await ort.InferenceSession.create(join(model.pkg.dir, m.decoder.file), {
        executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, enableProfiling: false,
      });
      const feeds = feedsFor(m, sessions ?? 0, beams ?? 0, context, suffix ?? 0, session.inputNames);
      for (let i = 0; i < 3; i++) await session.run(feeds);
      await session.release();
      const profiled = await ort.InferenceSession.create(join(model.pkg.dir, m.decoder.file), {
        executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, enableProfiling: true, profileFilePrefix: join(dir, 'profile'),
      });
      const started = performance.now();
      for (let i = 0; i < (runs ?? 0); i++) await profiled.run(feeds);
      const wallMs = (performance.now() - started) / (runs ?? 1);
      profiled.endProfiling();
      await profiled.release();
      const file = (await readdir(dir)).find((name) => name.endsWith('.json'));
      if (!file) throw new Error('onnxruntime wrote no profile');
      const events = JSON.parse(await readFile(join(dir, file), 'utf8')) as ProfileEvent[];
      const byKind = new Map<string, number>();
      for (const event of events) {
        if (event.cat !== 'Node' || !event.name?.endsWith('_kernel_time')) continue;
        byKind.set(kindOf(event), (byKind.get(kindOf(event)) ?? 0) + (event.dur ?? 0) / 1000 / (runs ?? 1));
      }
      const kernelMs = [...byKind.values()].reduce((a, b) => a + b, 0);
      const weightMs = byKind.get('weight MatMul') ?? 0;
      const weightGflops = weightMs > 0 ? (2 * model.decoder.parameters * rows) / (weightMs / 1000) / 1e9 : 0;
      console.log(`\ncontext ${context} + suffix ${suffix}: ${wallMs.toFixed(1)} ms per step (${(wallMs / rows * 1000).toFixed(0)} µs per row), kernels ${kernelMs.toFixed(1)} ms`);
      const sorted = [...byKind.entries()].sort((a, b) => b[1] - a[1]);
      const others = sorted.filter(([kind]) => kind.startsWith('other: '));
      const shown = [...sorted.filter(([kind]) => !kind.startsWith('other: ')), ...others.slice(0, 6)];
      for (const [kind, ms] of shown) {
        const note = kind === 'weight MatMul' ? `  ${weightGflops.toFixed(1)} GFLOP/s = ${(weightGflops / peak).toFixed(2)} of peak` : '';
        console.log(`  ${kind.padEnd(28)} ${ms.toFixed(2).padStart(8)} ms  ${((ms / wallMs) * 100).toFixed(1).padStart(5)}%${note}`);
      }
      const rest = others.slice(6).reduce((sum, [, ms]) => sum + ms, 0);
      if (rest > 0) console.log(`  ${'other: the rest'.padEnd(28)} ${rest.toFixed(2).padStart(8)} ms  ${((rest / wallMs) * 100).toFixed(1).padStart(5)}%`);
      console.log(`  ${'outside kernels'.padEnd(28)} ${(wallMs - kernelMs).toFixed(2).padStart(8)} ms  ${(((wallMs - kernelMs) / wallMs) * 100).toFixed(1).padStart(5)}%  (feeds, outputs, scheduling)`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : String(error));
  process.exit(1);
});
