/**
 * A single-session greedy streaming loop over a tiny package, following "How the engine drives a
 * chunk" in docs/model-format.md (batch 1, beam 1). Used to measure how often a chunk ends with
 * the end-of-chunk token; it is a test instrument, not the engine.
 */
import type * as ort from 'onnxruntime-node';
import { argmax, floats, floatTensor, int64Tensor } from './tiny-model-harness.ts';
import type { LoadedPackage } from './tiny-model-harness.ts';

interface Cache {
  keys: Float32Array[];
  values: Float32Array[];
  length: number;
}

export interface ChunkOutcome {
  tokens: number[];
  endedByEndOfChunk: boolean;
}

function emptyCache(layers: number): Cache {
  return { keys: Array.from({ length: layers }, () => new Float32Array(0)), values: Array.from({ length: layers }, () => new Float32Array(0)), length: 0 };
}

function cacheFeeds(cache: Cache, heads: number, headDim: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  cache.keys.forEach((key, i) => {
    feeds[`past_key_values.${i}.key`] = floatTensor(key, [1, heads, cache.length, headDim]);
    feeds[`past_key_values.${i}.value`] = floatTensor(cache.values[i] ?? new Float32Array(0), [1, heads, cache.length, headDim]);
  });
  return feeds;
}

/** `[1, heads, a, headDim]` ++ `[1, heads, b, headDim]` on the sequence axis. */
function appendSteps(past: Float32Array, pastLen: number, steps: Float32Array, newLen: number, heads: number, headDim: number): Float32Array {
  const out = new Float32Array(heads * (pastLen + newLen) * headDim);
  for (let h = 0; h < heads; h += 1) {
    const dst = h * (pastLen + newLen) * headDim;
    out.set(past.subarray(h * pastLen * headDim, (h + 1) * pastLen * headDim), dst);
    out.set(steps.subarray(h * newLen * headDim, (h + 1) * newLen * headDim), dst + pastLen * headDim);
  }
  return out;
}

/** The cache grown by this call's steps: the tiny models' present holds only the new steps (presentOutput "new"). */
function grownCache(cache: Cache, outputs: ort.InferenceSession.OnnxValueMapType, newLen: number, heads: number, headDim: number): Cache {
  const grow = (past: Float32Array[], kind: 'key' | 'value'): Float32Array[] =>
    past.map((layer, i) => appendSteps(layer, cache.length, floats(outputs[`present.${i}.${kind}`]), newLen, heads, headDim));
  return { keys: grow(cache.keys, 'key'), values: grow(cache.values, 'value'), length: cache.length + newLen };
}

export class GreedyStream {
  private encoderCache: Cache;
  private decoderCache: Cache;
  private nextFrame = 0;
  private pendingToken: number | undefined;
  private isFirstChunk = true;

  constructor(
    private readonly pkg: LoadedPackage,
    private readonly languagePair: string,
  ) {
    this.encoderCache = emptyCache(pkg.manifest.encoder.numLayers);
    this.decoderCache = emptyCache(pkg.manifest.decoder.numLayers);
  }

  /** Processes one chunk of `multiplier` segments of audio (samples must be exactly that long). */
  async chunk(audio: Float32Array, multiplier: number): Promise<ChunkOutcome> {
    const { manifest } = this.pkg;
    const frames = manifest.encoder.framesPerSegment * multiplier;
    const speech = await this.encode(audio, frames);
    const pair = manifest.languagePairs[this.languagePair];
    if (pair === undefined) throw new Error(`no pair ${this.languagePair}`);
    const template = this.isFirstChunk ? pair.prompt.first : pair.prompt.next;
    this.isFirstChunk = false;
    const placeholders = manifest.encoder.embeddingsPerSegment * multiplier;
    const lead = this.pendingToken === undefined ? [] : [this.pendingToken];
    const ids = [...lead, ...template.prefix, ...Array<number>(placeholders).fill(manifest.specialTokens.speechPlaceholder), ...template.suffix];
    const embeds = await this.embed(ids);
    const hidden = manifest.decoder.hiddenSize;
    embeds.set(speech, (lead.length + template.prefix.length) * hidden);

    const endOfChunk = new Set(manifest.specialTokens.endOfChunk);
    const limit = manifest.generation.maxNewTokensPerMultiplier * multiplier;
    const tokens = [await this.decodeStep(embeds, ids.length)];
    while (!endOfChunk.has(tokens.at(-1) ?? -1) && tokens.length < limit) {
      tokens.push(await this.decodeStep(await this.embed([tokens.at(-1) ?? 0]), 1));
    }
    this.pendingToken = tokens.at(-1);
    return { tokens, endedByEndOfChunk: endOfChunk.has(tokens.at(-1) ?? -1) };
  }

  private async encode(audio: Float32Array, frames: number): Promise<Float32Array> {
    const { encoder } = this.pkg.manifest;
    const past = this.encoderCache.length;
    const outputs = await this.pkg.encoder.run({
      input_values: floatTensor(audio, [1, audio.length]),
      attention_mask: int64Tensor(Array<number>(past + frames).fill(1), [1, past + frames]),
      position_ids: int64Tensor(Array.from({ length: frames }, (_, i) => this.nextFrame + i), [1, frames]),
      ...cacheFeeds(this.encoderCache, encoder.numHeads, encoder.headDim),
    });
    this.nextFrame += frames;
    // The engine keeps only the last maxCacheFrames frames; a short test never reaches that.
    this.encoderCache = grownCache(this.encoderCache, outputs, frames, encoder.numHeads, encoder.headDim);
    return floats(outputs.speech_embeddings);
  }

  private async embed(ids: readonly number[]): Promise<Float32Array> {
    const outputs = await this.pkg.embed.run({ input_ids: int64Tensor(ids, [1, ids.length]) });
    return Float32Array.from(floats(outputs.inputs_embeds));
  }

  private async decodeStep(embeds: Float32Array, steps: number): Promise<number> {
    const { decoder } = this.pkg.manifest;
    const past = this.decoderCache.length;
    const outputs = await this.pkg.decoder.run({
      inputs_embeds: floatTensor(embeds, [1, steps, decoder.hiddenSize]),
      attention_mask: int64Tensor(Array<number>(past + steps).fill(1), [1, past + steps]),
      position_ids: int64Tensor(Array.from({ length: steps }, (_, i) => past + i), [1, steps]),
      ...cacheFeeds(this.decoderCache, decoder.numKeyValueHeads, decoder.headDim),
    });
    this.decoderCache = grownCache(this.decoderCache, outputs, steps, decoder.numKeyValueHeads, decoder.headDim);
    return argmax(floats(outputs.logits), (steps - 1) * decoder.vocabSize, decoder.vocabSize);
  }
}
