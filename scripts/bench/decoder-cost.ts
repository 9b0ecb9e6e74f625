/**
 * What a decode row costs and what the machine can do: the decoder's parameter count and shape
 * read from a package (manifest and weight bytes only, so any export works), the FLOPs of decode
 * rows, and one onnxruntime thread's matmul peak on the decoder's widest weight matrix.
 */
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import type { ModelPackage } from '../../src/inference/manifest.ts';
import { testAudio } from '../../test/support/engine-fixtures.ts';
import { GraphBuilder } from '../models/graph-builder.ts';
import { DataType, encodeModel } from '../models/onnx-proto.ts';

/** Rows of the matmul that measures the machine's peak: a full decode batch of 32 sessions × 4 beams. */
const PEAK_ROWS = 128;

/** What one decode row costs, from the manifest and the decoder's weight bytes. */
export interface DecoderCost {
  parameters: number;
  layers: number;
  hidden: number;
  /** Query heads × head dim: taken as the hidden width, as in Llama-family decoders. */
  queryWidth: number;
  /** MLP width, derived from the parameter count; the widest weight matrix is hidden × this. */
  mlpWidth: number;
  /** Cache bytes per token per row (all layers, keys and values, float32). */
  cacheBytesPerToken: number;
}

export async function weightBytesOf(dir: string, skip: Set<string>): Promise<{ total: number; byName: Map<string, number> }> {
  const byName = new Map<string, number>();
  for (const name of await readdir(dir)) {
    if (skip.has(name)) continue;
    const info = await stat(join(dir, name));
    if (info.isFile()) byName.set(name, info.size);
  }
  return { total: [...byName.values()].reduce((a, b) => a + b, 0), byName };
}

/**
 * The decoder's cost model. Parameters come from the decoder graph's bytes (and its external data
 * files, which share its name as a prefix) divided by `paramBytes`; the MLP width is what is left
 * of a layer's parameters after attention, so nothing beyond the manifest needs to be known.
 */
export async function decoderCost(pkg: ModelPackage, paramBytes = 4): Promise<DecoderCost> {
  const d = pkg.manifest.decoder;
  const { byName } = await weightBytesOf(pkg.dir, new Set());
  const decoderStem = d.file.replace(/\.onnx$/, '');
  const bytes = [...byName.entries()].filter(([name]) => name.startsWith(decoderStem)).reduce((sum, [, size]) => sum + size, 0);
  const parameters = Math.round(bytes / paramBytes);
  const hidden = d.hiddenSize;
  const kvWidth = d.numKeyValueHeads * d.headDim;
  const perLayer = (parameters - hidden * d.vocabSize) / d.numLayers;
  const attention = hidden * (2 * hidden + 2 * kvWidth);
  const mlpWidth = Math.max(1, Math.round((perLayer - attention) / (3 * hidden)));
  return {
    parameters,
    layers: d.numLayers,
    hidden,
    queryWidth: hidden,
    mlpWidth,
    cacheBytesPerToken: d.numLayers * 2 * kvWidth * 4,
  };
}

/** Decode FLOPs: 2 per parameter per row, plus QKᵀ and AV over every attended slot. */
export function decodeFlops(cost: DecoderCost, rows: number, attendedSlots: number): number {
  return 2 * cost.parameters * rows + 4 * cost.layers * cost.queryWidth * attendedSlots;
}

/**
 * One onnxruntime thread multiplying `PEAK_ROWS` rows by a hidden × MLP-width float matrix (the
 * decoder's widest weight matrix), for about `seconds`: the most a decode step could reach here.
 */
export async function measureMatmulPeakGflops(cost: DecoderCost, seconds = 1): Promise<number> {
  const b = new GraphBuilder('matmul_peak', 'bench/matmul-peak');
  const x = b.input('x', DataType.FLOAT, [PEAK_ROWS, cost.hidden]);
  const weight = b.randomWeight('weight', [cost.hidden, cost.mlpWidth], 1 / Math.sqrt(cost.hidden));
  b.op('MatMul', [x, weight], { outputName: 'y' });
  b.output('y', DataType.FLOAT, [PEAK_ROWS, cost.mlpWidth]);
  const bytes = encodeModel({ irVersion: 8, opsetVersion: 17, producerName: 'infinisst-serve/bench', producerVersion: '1', docString: 'matmul peak', graph: b.build() });
  const session = await ort.InferenceSession.create(bytes, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1 });
  try {
    const feeds = { x: new ort.Tensor('float32', testAudio(PEAK_ROWS * cost.hidden, 7), [PEAK_ROWS, cost.hidden]) };
    for (let i = 0; i < 3; i++) await session.run(feeds);
    let runs = 0;
    const started = performance.now();
    while (performance.now() - started < seconds * 1000 || runs < 10) {
      await session.run(feeds);
      runs++;
    }
    const elapsed = (performance.now() - started) / 1000;
    return (2 * PEAK_ROWS * cost.hidden * cost.mlpWidth * runs) / elapsed / 1e9;
  } finally {
    await session.release();
  }
}

