/**
 * Test helpers that drive the tiny model packages with onnxruntime-node the way the engine will
 * (docs/model-format.md): tensor builders, batch padding, and a greedy streaming session.
 */
import { rmSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as ort from 'onnxruntime-node';
import { writeTinyPackage } from '../../../scripts/models/tiny-package-files.ts';
import { tinyPackageDefinitions } from '../../../scripts/models/tiny-packages.ts';

/** The committed models/ folder. */
export const MODELS_DIR = fileURLToPath(new URL('../../../models', import.meta.url));

let paddedTwins: Promise<string> | undefined;

/**
 * A folder with the tiny packages built with the `padded` cache layout (same weights as the
 * committed `slots` ones): the tests that drive a decoder with `past_key_values` by hand use
 * these. Generated once per test process into a temporary folder, removed at exit.
 */
export function paddedTwinsDir(): Promise<string> {
  paddedTwins ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), 'tiny-padded-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    for (const definition of tinyPackageDefinitions()) await writeTinyPackage(definition, dir, { presentOutput: 'new', cacheLayout: 'padded' });
    return dir;
  })();
  return paddedTwins;
}
export const TINY_PACKAGE_NAMES = ['tiny-en-zh', 'tiny-en-it', 'tiny-en-de', 'tiny-en-es'] as const;

export interface LoadedPackage {
  encoder: ort.InferenceSession;
  embed: ort.InferenceSession;
  decoder: ort.InferenceSession;
  manifest: TinyManifest;
  tokens: string[];
}

/** The manifest fields the tests read (parsed loosely: the contract test checks the rest). */
export interface TinyManifest {
  encoder: { samplesPerFrame: number; framesPerSegment: number; embeddingsPerSegment: number; numLayers: number; numHeads: number; headDim: number; maxCacheFrames: number };
  decoder: { numLayers: number; numKeyValueHeads: number; headDim: number; hiddenSize: number; vocabSize: number };
  specialTokens: { speechPlaceholder: number; endOfChunk: number[] };
  languagePairs: Record<string, { prompt: { first: Prompt; next: Prompt } }>;
  generation: { maxNewTokensPerMultiplier: number };
}

interface Prompt {
  prefix: number[];
  suffix: number[];
}

/** Every session is single-threaded: the machine's cores are shared with other test runs. */
const sessionOptions: ort.InferenceSession.SessionOptions = { intraOpNumThreads: 1, interOpNumThreads: 1, executionProviders: ['cpu'] };

export async function loadPackage(dir: string): Promise<LoadedPackage> {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as TinyManifest;
  const tokens = (JSON.parse(await readFile(join(dir, 'tokens.json'), 'utf8')) as { tokens: string[] }).tokens;
  const [encoder, embed, decoder] = await Promise.all(
    ['encoder.onnx', 'embed.onnx', 'decoder.onnx'].map((file) => ort.InferenceSession.create(join(dir, file), sessionOptions)),
  );
  if (encoder === undefined || embed === undefined || decoder === undefined) throw new Error('session creation failed');
  return { encoder, embed, decoder, manifest, tokens };
}

export async function releasePackage(pkg: LoadedPackage): Promise<void> {
  await Promise.all([pkg.encoder.release(), pkg.embed.release(), pkg.decoder.release()]);
}

export function floatTensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function int64Tensor(values: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor('int64', BigInt64Array.from(values, (v) => BigInt(v)), dims);
}

export function floats(tensor: ort.Tensor | undefined): Float32Array {
  if (tensor === undefined || !(tensor.data instanceof Float32Array)) throw new Error('expected a float32 tensor');
  return tensor.data;
}

/** Deterministic noise in [-amplitude, amplitude] (a small LCG, so tests never use Math.random). */
export function noise(count: number, seed: number, amplitude: number): Float32Array {
  let state = seed >>> 0;
  return Float32Array.from({ length: count }, () => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return (state / 4294967296) * 2 * amplitude - amplitude;
  });
}

/** Rows of `[heads, len, headDim]` caches stacked into one `[batch, heads, maxLen, headDim]` tensor; row r's slots start at `offsets[r]`. */
export function stackCaches(rows: readonly Float32Array[], lengths: readonly number[], offsets: readonly number[], heads: number, maxLen: number, headDim: number): ort.Tensor {
  const out = new Float32Array(rows.length * heads * maxLen * headDim);
  rows.forEach((row, r) => {
    const length = lengths[r] ?? 0;
    const offset = offsets[r] ?? 0;
    for (let h = 0; h < heads; h += 1) {
      const from = row.subarray(h * length * headDim, (h + 1) * length * headDim);
      out.set(from, ((r * heads + h) * maxLen + offset) * headDim);
    }
  });
  return floatTensor(out, [rows.length, heads, maxLen, headDim]);
}

/** Slots [start, start + count) of row `row` of a `[batch, heads, len, headDim]` tensor, as `[heads, count, headDim]`. */
export function cacheSlots(tensor: ort.Tensor | undefined, row: number, start: number, count: number): Float32Array {
  if (tensor === undefined) throw new Error('missing cache tensor');
  const [, heads = 0, len = 0, headDim = 0] = tensor.dims;
  const data = floats(tensor);
  const out = new Float32Array(heads * count * headDim);
  for (let h = 0; h < heads; h += 1) {
    const base = ((row * heads + h) * len + start) * headDim;
    out.set(data.subarray(base, base + count * headDim), h * count * headDim);
  }
  return out;
}

/** Largest absolute elementwise difference (Infinity if the lengths differ). */
export function maxAbsDiff(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) return Infinity;
  let worst = 0;
  for (let i = 0; i < a.length; i += 1) worst = Math.max(worst, Math.abs((a[i] ?? 0) - (b[i] ?? 0)));
  return worst;
}

export function argmax(values: Float32Array, from: number, count: number): number {
  let best = 0;
  for (let i = 1; i < count; i += 1) if ((values[from + i] ?? -Infinity) > (values[from + best] ?? -Infinity)) best = i;
  return best;
}

/** One session's inputs for a single model call, before batching. */
export interface CallRow {
  /** New steps' inputs, `newLen × stepWidth` values (audio samples or embeddings). */
  newData: Float32Array;
  newLen: number;
  /** Per layer, `[heads, pastLen, headDim]`. */
  pastKeys: Float32Array[];
  pastValues: Float32Array[];
  pastLen: number;
  /** Absolute positions of the new steps. */
  positions: number[];
  /** Where the row's past starts inside the padded past (default 0: padding after it). */
  pastOffset?: number;
}

export interface CallLayout {
  /** 'input_values' (encoder, [B, samples]) or 'inputs_embeds' (decoder, [B, T, hidden]). */
  dataName: 'input_values' | 'inputs_embeds';
  stepWidth: number;
  heads: number;
  headDim: number;
}

/** Feeds for a padded batch: pasts padded to the longest (mask 0), new steps right-padded (mask 0). */
export function paddedFeeds(rows: readonly CallRow[], layout: CallLayout): { feeds: Record<string, ort.Tensor>; maxPast: number; maxNew: number } {
  const maxPast = Math.max(...rows.map((row) => (row.pastOffset ?? 0) + row.pastLen));
  const maxNew = Math.max(...rows.map((row) => row.newLen));
  const batch = rows.length;
  const data = new Float32Array(batch * maxNew * layout.stepWidth);
  const mask: number[] = [];
  const positions: number[] = [];
  rows.forEach((row, r) => {
    data.set(row.newData, r * maxNew * layout.stepWidth);
    const offset = row.pastOffset ?? 0;
    for (let s = 0; s < maxPast; s += 1) mask.push(s >= offset && s < offset + row.pastLen ? 1 : 0);
    for (let t = 0; t < maxNew; t += 1) {
      mask.push(t < row.newLen ? 1 : 0);
      // Padded steps get continuing positions, as an engine would most simply fill them.
      positions.push(row.positions[t] ?? (row.positions.at(-1) ?? 0) + t);
    }
  });
  const dataDims = layout.dataName === 'input_values' ? [batch, maxNew * layout.stepWidth] : [batch, maxNew, layout.stepWidth];
  const feeds: Record<string, ort.Tensor> = {
    [layout.dataName]: floatTensor(data, dataDims),
    attention_mask: int64Tensor(mask, [batch, maxPast + maxNew]),
    position_ids: int64Tensor(positions, [batch, maxNew]),
  };
  const layers = rows[0]?.pastKeys.length ?? 0;
  const lengths = rows.map((row) => row.pastLen);
  const offsets = rows.map((row) => row.pastOffset ?? 0);
  for (let i = 0; i < layers; i += 1) {
    const keys = rows.map((row) => row.pastKeys[i] ?? new Float32Array(0));
    const values = rows.map((row) => row.pastValues[i] ?? new Float32Array(0));
    feeds[`past_key_values.${i}.key`] = stackCaches(keys, lengths, offsets, layout.heads, maxPast, layout.headDim);
    feeds[`past_key_values.${i}.value`] = stackCaches(values, lengths, offsets, layout.heads, maxPast, layout.headDim);
  }
  return { feeds, maxPast, maxNew };
}

/** A row with random cache contents of `pastLen` slots (values like real keys: order 1). */
export function randomRow(options: { seed: number; layers: number; heads: number; headDim: number; pastLen: number; newData: Float32Array; newLen: number; firstPosition: number; pastOffset?: number }): CallRow {
  const cacheSize = options.heads * options.pastLen * options.headDim;
  return {
    newData: options.newData,
    newLen: options.newLen,
    pastKeys: Array.from({ length: options.layers }, (_, i) => noise(cacheSize, options.seed * 31 + 2 * i, 1.5)),
    pastValues: Array.from({ length: options.layers }, (_, i) => noise(cacheSize, options.seed * 31 + 2 * i + 1, 1.5)),
    pastLen: options.pastLen,
    positions: Array.from({ length: options.newLen }, (_, t) => options.firstPosition + t),
    ...(options.pastOffset === undefined ? {} : { pastOffset: options.pastOffset }),
  };
}

export function isAllFinite(values: Float32Array): boolean {
  return values.every((value) => Number.isFinite(value));
}
