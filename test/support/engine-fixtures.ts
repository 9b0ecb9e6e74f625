import { cp, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createEngine, type Engine } from '../../src/inference/engine/engine.ts';
import type { EngineOptions } from '../../src/inference/engine-options.ts';
import type { ChunkResult, TranslationEngine, TranslationStream } from '../../src/inference/translation-engine.ts';

export const MODELS_DIR = resolve('models');

/** Deterministic pseudo-speech: noise bursts and a tone, different per seed. */
export function testAudio(samples: number, seed: number): Float32Array {
  const out = new Float32Array(samples);
  let s = seed >>> 0 || 1;
  for (let i = 0; i < samples; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    const burst = Math.floor(i / 4000 + seed) % 3 === 0 ? 0.05 : 0.4;
    out[i] = ((s / 4294967296 - 0.5) * burst) + 0.2 * Math.sin((i * (200 + seed * 37)) / 16000 * 2 * Math.PI);
  }
  return out;
}

export function engineOptions(overrides: Partial<EngineOptions> = {}): EngineOptions {
  return {
    modelsDir: MODELS_DIR,
    devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1 }],
    batching: { maxBatchSize: 32, maxWaitMs: 5, maxQueueSize: 1024 },
    requestDeadlineMs: 30_000,
    streamHighWaterMs: 20_000,
    streamMaxPendingMs: 600_000,
    ...overrides,
  };
}

export async function startEngine(overrides: Partial<EngineOptions> = {}): Promise<Engine> {
  return createEngine(engineOptions(overrides));
}

/** Streams audio through a stream in frames and collects every chunk result and error. */
export async function streamAll(stream: TranslationStream, audio: Float32Array, frameSamples = 15360): Promise<void> {
  for (let i = 0; i < audio.length; i += frameSamples) stream.pushAudio(audio.subarray(i, i + frameSamples));
  await stream.flush();
}

export function collector() {
  const chunks: ChunkResult[] = [];
  const errors: { error: Error; chunkIndex: number }[] = [];
  return {
    chunks,
    errors,
    listener: {
      onChunk: (r: ChunkResult) => chunks.push(r),
      onError: (error: Error, chunkIndex: number) => errors.push({ error, chunkIndex }),
    },
  };
}

/** Copies a default model package into a temp dir with manifest overrides (for window/broken-model tests). */
export async function copyPackage(name: string, edit: (manifest: Record<string, unknown>) => void = () => {}): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), 'infinisst-models-'));
  const dir = join(root, name);
  await cp(join(MODELS_DIR, name), dir, { recursive: true });
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  edit(manifest);
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2));
  return root;
}

/** One step of a reference run: audio to push, or a latency change applied between pushes. */
export type ReferenceStep = Float32Array | { latencyMultiplier: number };

/**
 * Translates `steps` on a fresh stream of the real engine, flushes (like EOF: a partial tail is
 * padded and translated) and returns every chunk result; the stream is closed afterwards. The
 * engine is deterministic, so the same audio through a session yields the same texts — run it
 * before (not alongside) the session under test, so that batching cannot mix the two streams.
 */
export async function referenceRun(
  engine: Pick<TranslationEngine, 'openStream'>,
  options: { languagePair: string; latencyMultiplier?: number; steps: readonly ReferenceStep[] },
): Promise<ChunkResult[]> {
  const observed = collector();
  const stream = engine.openStream({ languagePair: options.languagePair, latencyMultiplier: options.latencyMultiplier ?? 2, listener: observed.listener });
  try {
    for (const step of options.steps) {
      if (step instanceof Float32Array) stream.pushAudio(step);
      else stream.setLatencyMultiplier(step.latencyMultiplier);
    }
    await stream.flush();
  } finally {
    stream.close();
  }
  const failure = observed.errors[0];
  if (failure) throw new Error(`reference run failed on chunk ${failure.chunkIndex}: ${failure.error.message}`);
  return observed.chunks;
}

/** The translation frames a session sends for these chunk results: the full text after each chunk that added text. */
export function translationFrames(results: readonly ChunkResult[]): string[] {
  return results.filter((result) => result.newText !== '').map((result) => result.fullText);
}

/** Concatenates audio pieces (e.g. chunks of different seeds) into one signal. */
export function concatAudio(...parts: readonly Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((sum, part) => sum + part.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
