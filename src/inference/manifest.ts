import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { z } from 'zod';
import { AppError } from '../errors.ts';

/** Execution providers onnxruntime-node knows by these names; anything else (e.g. "gpu") is a mistake to report, not a provider to try. */
export const EXECUTION_PROVIDERS = ['cpu', 'cuda', 'tensorrt', 'webgpu', 'dml', 'coreml'] as const;

/** The exact language-pair strings of the original API (spec §0.3). */
export const KNOWN_LANGUAGE_PAIRS = [
  'English -> Chinese',
  'English -> Italian',
  'English -> German',
  'English -> Spanish',
] as const;

const tokenIds = z.array(z.number().int().nonnegative());
const promptTemplate = z.object({ prefix: tokenIds, suffix: tokenIds }).strict();
const positiveInt = z.number().int().positive();
// What a graph's `present.{i}.key/value` outputs hold: past ++ new (HF/Optimum, the default) or
// only the new steps, which spares the graph and the engine a full copy of the cache per call.
const presentOutput = z.enum(['full', 'new']).default('full');

const manifestSchema = z
  .object({
    formatVersion: z.literal(1),
    name: z.string().min(1),
    description: z.string().default(''),
    audio: z
      .object({
        sampleRateHz: z.literal(16000),
        baseSegmentMs: positiveInt,
        maxLatencyMultiplier: positiveInt.max(16),
      })
      .strict(),
    encoder: z
      .object({
        file: z.string().min(1),
        samplesPerFrame: positiveInt,
        framesPerSegment: positiveInt,
        embeddingsPerSegment: positiveInt,
        numLayers: positiveInt,
        numHeads: positiveInt,
        headDim: positiveInt,
        maxCacheFrames: positiveInt,
        // Samples before a chunk its first frames need (wav2vec 2.0: 400-sample window, 320 stride
        // → 399); fed as `input_context`, zeros at a stream's start. 0 = the graph needs none.
        contextSamples: z.number().int().nonnegative().max(16000).default(0),
        presentOutput,
      })
      .strict(),
    decoder: z
      .object({
        embedFile: z.string().min(1),
        file: z.string().min(1),
        numLayers: positiveInt,
        numKeyValueHeads: positiveInt,
        headDim: positiveInt,
        hiddenSize: positiveInt,
        vocabSize: positiveInt,
        maxCacheTokens: positiveInt,
        keepPrefixTokens: z.number().int().nonnegative().default(0),
        presentOutput,
        // How the decoder graph takes its cache (docs/model-format.md): "padded" past tensors per
        // row (Hugging Face layout), or "slots": views of the engine's arenas, the session's prefix
        // shared by its beams plus a per-beam suffix, with only the new rows out.
        cacheLayout: z.enum(['padded', 'slots']).default('padded'),
      })
      .strict(),
    tokenizer: z
      .object({ file: z.string().min(1), decoding: z.enum(['plain', 'byte-level', 'sentencepiece']) })
      .strict(),
    specialTokens: z
      .object({
        pad: z.number().int().nonnegative(),
        speechPlaceholder: z.number().int().nonnegative(),
        endOfChunk: tokenIds.min(1),
        skipInText: tokenIds.default([]),
      })
      .strict(),
    languagePairs: z
      .record(
        z.string(),
        z
          .object({
            targetJoiner: z.string().max(4),
            prompt: z
              .object({
                first: promptTemplate,
                next: promptTemplate,
                // A first prompt per latency multiplier ("1".."16"), for system prompts that name
                // the latency (InfiniSST's <latency_m> token); `first` is used for any other.
                firstByMultiplier: z.record(z.string().regex(/^[1-9][0-9]?$/), promptTemplate).optional(),
              })
              .strict(),
          })
          .strict(),
      )
      .refine((pairs) => Object.keys(pairs).length > 0, 'at least one language pair is required'),
    generation: z
      .object({
        maxNewTokensPerMultiplier: positiveInt,
        beamSize: positiveInt.max(16),
        lengthPenalty: z.number().default(1),
      })
      .strict(),
    /**
     * A demonstration package (random weights): its output is not a translation. The server says
     * so at start-up, in /health and on the page, so nobody mistakes it for a real model.
     */
    demo: z.boolean().default(false),
    executionProviders: z.array(z.enum(EXECUTION_PROVIDERS, { error: (issue) => `unknown execution provider ${JSON.stringify(issue.input)}: one of ${EXECUTION_PROVIDERS.join(', ')}` })).min(1).default(['cpu']),
  })
  .strict();

export type ModelManifest = z.infer<typeof manifestSchema>;

/** A validated manifest plus where its package lives. */
export interface ModelPackage {
  dir: string;
  manifest: ModelManifest;
  /** Token id -> piece. */
  tokens: string[];
}

/** Names of the graph inputs/outputs the engine relies on (docs/model-format.md); `optional` inputs are fed only when a graph declares them. */
export function expectedGraphIO(manifest: ModelManifest): Record<'encoder' | 'embed' | 'decoder', { inputs: string[]; outputs: string[]; optional: string[] }> {
  const cache = (layers: number) => {
    const past: string[] = [];
    const present: string[] = [];
    for (let i = 0; i < layers; i++) {
      past.push(`past_key_values.${i}.key`, `past_key_values.${i}.value`);
      present.push(`present.${i}.key`, `present.${i}.value`);
    }
    return { past, present };
  };
  const enc = cache(manifest.encoder.numLayers);
  const dec = cache(manifest.decoder.numLayers);
  // position_ids is optional: graphs that place rotary positions by cache slot (InfiniSST's
  // serving engines) derive them from attention_mask and do not declare it.
  const context = manifest.encoder.contextSamples > 0 ? ['input_context'] : [];
  return {
    encoder: { inputs: ['input_values', 'attention_mask', ...context, ...enc.past], outputs: ['speech_embeddings', ...enc.present], optional: ['position_ids', 'input_lengths'] },
    embed: { inputs: ['input_ids'], outputs: ['inputs_embeds'], optional: [] },
    decoder:
      manifest.decoder.cacheLayout === 'slots'
        ? { inputs: ['inputs_embeds', 'prefix_mask', 'suffix_mask', ...slotInputs(manifest.decoder.numLayers)], outputs: ['logits', ...dec.present], optional: ['position_ids'] }
        : { inputs: ['inputs_embeds', 'attention_mask', ...dec.past], outputs: ['logits', ...dec.present], optional: ['position_ids'] },
  };
}

function slotInputs(layers: number): string[] {
  const names: string[] = [];
  for (let i = 0; i < layers; i++) {
    for (const part of ['prefix', 'suffix']) names.push(`${part}_key_values.${i}.key`, `${part}_key_values.${i}.value`);
  }
  return names;
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((issue) => `  - ${issue.path.join('.') || '(root)'}: ${issue.message}`).join('\n');
}

/**
 * Reads and validates `<dir>/manifest.json` and the token table, and checks that every file the
 * manifest names exists. Throws AppError('modelInvalid') listing every problem found.
 */
export async function loadModelPackage(dir: string): Promise<ModelPackage> {
  const absDir = resolve(dir);
  const manifestPath = join(absDir, 'manifest.json');
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(manifestPath, 'utf8'));
  } catch (cause) {
    const why = (cause as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (cause as Error).message;
    throw new AppError('modelInvalid', `model package ${absDir}: cannot read manifest.json (${why})`, { cause });
  }
  const parsed = manifestSchema.safeParse(raw);
  if (!parsed.success) {
    throw new AppError('modelInvalid', `model package ${absDir}: manifest.json is invalid:\n${describeIssues(parsed.error)}`);
  }
  const manifest = parsed.data;
  const problems: string[] = [];
  for (const file of [manifest.encoder.file, manifest.decoder.embedFile, manifest.decoder.file, manifest.tokenizer.file]) {
    if (file.includes('..') || file.startsWith('/')) {
      problems.push(`${file}: must be a plain file name inside the package`);
      continue;
    }
    try {
      const info = await stat(join(absDir, file));
      if (!info.isFile()) problems.push(`${file}: not a regular file`);
    } catch {
      problems.push(`${file}: missing`);
    }
  }
  const joinersOk = Object.values(manifest.languagePairs).every((pair) => pair.targetJoiner === '' || pair.targetJoiner === ' ');
  if (!joinersOk) problems.push('languagePairs.*.targetJoiner: must be "" or " "');
  if (manifest.decoder.cacheLayout === 'slots' && manifest.decoder.presentOutput !== 'new') problems.push('decoder.presentOutput: must be "new" with cacheLayout "slots" (the graph returns only the new rows)');
  const vocab = manifest.decoder.vocabSize;
  const special = manifest.specialTokens;
  for (const id of [special.pad, special.speechPlaceholder, ...special.endOfChunk]) {
    if (id >= vocab) problems.push(`specialTokens: id ${id} is outside the vocabulary (${vocab})`);
  }
  if (problems.length > 0) {
    throw new AppError('modelInvalid', `model package ${absDir}:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
  }
  let tokens: string[];
  try {
    const table = z.object({ tokens: z.array(z.string()) }).parse(JSON.parse(await readFile(join(absDir, manifest.tokenizer.file), 'utf8')));
    tokens = table.tokens;
  } catch (cause) {
    throw new AppError('modelInvalid', `model package ${absDir}: ${manifest.tokenizer.file} is not a {"tokens": [...]} table`, { cause });
  }
  if (tokens.length !== vocab) {
    throw new AppError('modelInvalid', `model package ${absDir}: ${manifest.tokenizer.file} has ${tokens.length} tokens, manifest says vocabSize ${vocab}`);
  }
  return { dir: absDir, manifest, tokens };
}

/** Audio samples in one chunk at the given latency multiplier. */
export function chunkSamples(manifest: ModelManifest, multiplier: number): number {
  return manifest.encoder.samplesPerFrame * manifest.encoder.framesPerSegment * multiplier;
}
