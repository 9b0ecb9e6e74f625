import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AppError } from '../errors.ts';
import type { DecodeItem, DecodeOutput, PrefillItem, PrefillOutput } from './batch-messages.ts';
import { packPast, trimCache, unpackRow, type KvCache, type KvShape } from './kv-cache.ts';
import { expectedGraphIO, type ModelPackage } from './manifest.ts';
import { checkGraphIO, createSession, type SessionFactoryOptions } from './session-factory.ts';
import { topKLogProbs } from './top-k.ts';

type Feeds = Record<string, ort.Tensor>;

function int64(values: ArrayLike<number>, dims: number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i] ?? 0);
  return new ort.Tensor('int64', data, dims);
}

function float32(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

function floatOutput(outputs: ort.InferenceSession.ReturnType, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor || !(tensor.data instanceof Float32Array)) throw new AppError('modelInvalid', `graph output "${name}" is missing or not float32`);
  return tensor.data;
}

/** 1 for each real slot: `[0, pastLens[b])` of the past and `[0, newLens[b])` of the new steps. */
function attentionMask(pastLen: number, pastLens: number[], newLen: number, newLens: number[]): ort.Tensor {
  const width = pastLen + newLen;
  const mask = new BigInt64Array(pastLens.length * width);
  pastLens.forEach((p, b) => {
    mask.fill(1n, b * width, b * width + p);
    mask.fill(1n, b * width + pastLen, b * width + pastLen + (newLens[b] ?? 0));
  });
  return new ort.Tensor('int64', mask, [pastLens.length, width]);
}

/**
 * The last `count` samples of the stream after this chunk: the previous context followed by the
 * chunk's audio (zeros before the stream's start). Undefined when the model needs no context.
 */
function nextAudioContext(previous: Float32Array | undefined, audio: Float32Array, count: number): Float32Array | undefined {
  if (count === 0) return undefined;
  const next = new Float32Array(count);
  const fromAudio = Math.min(count, audio.length);
  next.set(audio.subarray(audio.length - fromAudio), count - fromAudio);
  if (fromAudio < count && previous?.length === count) next.set(previous.subarray(fromAudio), 0);
  return next;
}

function pastFeeds(shape: KvShape, packed: { keys: Float32Array[]; values: Float32Array[]; pastLen: number }, batch: number): Feeds {
  const feeds: Feeds = {};
  for (let i = 0; i < shape.layers; i++) {
    const dims = [batch, shape.heads, packed.pastLen, shape.headDim];
    feeds[`past_key_values.${i}.key`] = float32(packed.keys[i] ?? new Float32Array(0), dims);
    feeds[`past_key_values.${i}.value`] = float32(packed.values[i] ?? new Float32Array(0), dims);
  }
  return feeds;
}

function presentOf(shape: KvShape, outputs: ort.InferenceSession.ReturnType, total: number) {
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let i = 0; i < shape.layers; i++) {
    keys.push(floatOutput(outputs, `present.${i}.key`));
    values.push(floatOutput(outputs, `present.${i}.value`));
  }
  return { keys, values, total };
}

/**
 * Runs one model package's three graphs on padded batches. Lives inside a worker thread; owns
 * the onnxruntime sessions. Knows tensors and padding, not sessions or scheduling.
 */
export class ModelRunner {
  readonly provider: string;
  readonly fallbacks: { provider: string; error: string }[];
  private readonly encoderShape: KvShape;
  private readonly decoderShape: KvShape;
  private readonly feedsInputLengths: boolean;
  private readonly feedsEncoderPositions: boolean;
  private readonly feedsDecoderPositions: boolean;

  private constructor(
    readonly pkg: ModelPackage,
    private readonly encoder: ort.InferenceSession,
    private readonly embed: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    loaded: { provider: string; fallbacks: { provider: string; error: string }[] },
  ) {
    const m = pkg.manifest;
    this.provider = loaded.provider;
    this.fallbacks = loaded.fallbacks;
    this.encoderShape = { layers: m.encoder.numLayers, heads: m.encoder.numHeads, headDim: m.encoder.headDim };
    this.decoderShape = { layers: m.decoder.numLayers, heads: m.decoder.numKeyValueHeads, headDim: m.decoder.headDim };
    this.feedsInputLengths = encoder.inputNames.includes('input_lengths');
    this.feedsEncoderPositions = encoder.inputNames.includes('position_ids');
    this.feedsDecoderPositions = decoder.inputNames.includes('position_ids');
  }

  /** Loads and checks the three graphs. Throws AppError('modelInvalid') naming the file and problem. */
  static async load(pkg: ModelPackage, options: SessionFactoryOptions): Promise<ModelRunner> {
    const m = pkg.manifest;
    const io = expectedGraphIO(m);
    const encoder = await createSession(join(pkg.dir, m.encoder.file), options);
    const embed = await createSession(join(pkg.dir, m.decoder.embedFile), { ...options, providers: [encoder.provider] });
    const decoder = await createSession(join(pkg.dir, m.decoder.file), { ...options, providers: [encoder.provider] });
    checkGraphIO(`${pkg.dir}/${m.encoder.file}`, encoder.session, io.encoder, io.encoder.optional);
    checkGraphIO(`${pkg.dir}/${m.decoder.embedFile}`, embed.session, io.embed, io.embed.optional);
    checkGraphIO(`${pkg.dir}/${m.decoder.file}`, decoder.session, io.decoder, io.decoder.optional);
    return new ModelRunner(pkg, encoder.session, embed.session, decoder.session, encoder);
  }

  async prefill(items: PrefillItem[]): Promise<PrefillOutput[]> {
    const m = this.pkg.manifest;
    const batch = items.length;
    const spf = m.encoder.samplesPerFrame;
    const shrink = m.encoder.framesPerSegment / m.encoder.embeddingsPerSegment;

    // Encoder: new audio right-padded, past caches padded to the longest, all masked.
    const frames = items.map((item) => Math.floor(item.audio.length / spf));
    const maxFrames = Math.max(...frames);
    const audio = new Float32Array(batch * maxFrames * spf);
    items.forEach((item, b) => audio.set(item.audio.subarray(0, (frames[b] ?? 0) * spf), b * maxFrames * spf));
    const encPast = packPast(this.encoderShape, items.map((item) => [item.encoderCache]));
    const encFeeds: Feeds = {
      input_values: float32(audio, [batch, maxFrames * spf]),
      attention_mask: attentionMask(encPast.pastLen, encPast.lengths, maxFrames, frames),
      ...pastFeeds(this.encoderShape, encPast, batch),
    };
    if (this.feedsEncoderPositions) {
      encFeeds.position_ids = int64(items.flatMap((item) => Array.from({ length: maxFrames }, (_, t) => item.encoderNextFrame + t)), [batch, maxFrames]);
    }
    if (this.feedsInputLengths) encFeeds.input_lengths = int64(frames.map((f) => f * spf), [batch]);
    const contextSamples = m.encoder.contextSamples;
    const nextContexts = items.map((item, b) => nextAudioContext(item.encoderCache.audioContext, item.audio.subarray(0, (frames[b] ?? 0) * spf), contextSamples));
    if (contextSamples > 0) {
      const context = new Float32Array(batch * contextSamples);
      items.forEach((item, b) => {
        const previous = item.encoderCache.audioContext;
        if (previous?.length === contextSamples) context.set(previous, b * contextSamples);
      });
      encFeeds.input_context = float32(context, [batch, contextSamples]);
    }
    const encOut = await this.encoder.run(encFeeds);
    const speech = floatOutput(encOut, 'speech_embeddings');
    const hidden = m.decoder.hiddenSize;
    const maxEmb = Math.floor(maxFrames / shrink);
    const encPresent = presentOf(this.encoderShape, encOut, encPast.pastLen + maxFrames);

    // Decoder prefill: prompt embeddings with the speech embeddings spliced into the placeholders.
    const tokenLens = items.map((item) => item.inputIds.length);
    const maxTokens = Math.max(...tokenLens);
    const ids = new Array<number>(batch * maxTokens).fill(m.specialTokens.pad);
    items.forEach((item, b) => item.inputIds.forEach((id, t) => (ids[b * maxTokens + t] = id)));
    const embedOut = await this.embed.run({ input_ids: int64(ids, [batch, maxTokens]) });
    const embeds = floatOutput(embedOut, 'inputs_embeds');
    items.forEach((item, b) => {
      const count = Math.floor((frames[b] ?? 0) / shrink);
      for (let k = 0; k < count; k++) {
        const src = (b * maxEmb + k) * hidden;
        embeds.set(speech.subarray(src, src + hidden), (b * maxTokens + item.speechOffset + k) * hidden);
      }
    });
    const decPast = packPast(this.decoderShape, items.map((item) => [item.decoderCache]));
    const decFeeds: Feeds = {
      inputs_embeds: float32(embeds, [batch, maxTokens, hidden]),
      attention_mask: attentionMask(decPast.pastLen, decPast.lengths, maxTokens, tokenLens),
      ...pastFeeds(this.decoderShape, decPast, batch),
    };
    if (this.feedsDecoderPositions) {
      decFeeds.position_ids = int64(items.flatMap((item) => Array.from({ length: maxTokens }, (_, t) => item.decoderNextPosition + t)), [batch, maxTokens]);
    }
    const decOut = await this.decoder.run(decFeeds);
    const logits = floatOutput(decOut, 'logits');
    const vocab = m.decoder.vocabSize;
    const decPresent = presentOf(this.decoderShape, decOut, decPast.pastLen + maxTokens);

    return items.map((item, b) => {
      const last = (b * maxTokens + (tokenLens[b] ?? 1) - 1) * vocab;
      const top = topKLogProbs(logits.subarray(last, last + vocab), item.topK);
      const trimmed = trimCache(
        this.encoderShape,
        unpackRow(this.encoderShape, encPresent, b, { from: 0, count: encPast.lengths[b] ?? 0 }, encPast.pastLen, frames[b] ?? 0),
        m.encoder.maxCacheFrames,
        0,
      );
      const audioContext = nextContexts[b];
      const encoderCache: KvCache = audioContext ? { data: trimmed.data, length: trimmed.length, audioContext } : trimmed;
      const decoderCache = unpackRow(this.decoderShape, decPresent, b, { from: 0, count: decPast.lengths[b] ?? 0 }, decPast.pastLen, tokenLens[b] ?? 0);
      return { encoderCache, decoderCache, speechEmbeddings: Math.floor((frames[b] ?? 0) / shrink), topIds: top.ids, topLogProbs: top.logProbs };
    });
  }

  async decode(items: DecodeItem[]): Promise<DecodeOutput[]> {
    const m = this.pkg.manifest;
    const rows = items.flatMap((item) => item.beams.map((beam) => ({ item, beam })));
    const batch = rows.length;
    const past = packPast(this.decoderShape, rows.map(({ item, beam }) => [item.baseCache, beam.suffixCache]));
    const embedOut = await this.embed.run({ input_ids: int64(rows.map((r) => r.beam.token), [batch, 1]) });
    const hidden = m.decoder.hiddenSize;
    const feeds: Feeds = {
      inputs_embeds: float32(floatOutput(embedOut, 'inputs_embeds'), [batch, 1, hidden]),
      attention_mask: attentionMask(past.pastLen, past.lengths, 1, rows.map(() => 1)),
      ...pastFeeds(this.decoderShape, past, batch),
    };
    if (this.feedsDecoderPositions) feeds.position_ids = int64(rows.map((r) => r.item.baseNextPosition + r.beam.suffixCache.length), [batch, 1]);
    const out = await this.decoder.run(feeds);
    const logits = floatOutput(out, 'logits');
    const vocab = m.decoder.vocabSize;
    const present = presentOf(this.decoderShape, out, past.pastLen + 1);
    let row = 0;
    return items.map((item) => ({
      baseCache: item.baseCache,
      beams: item.beams.map(() => {
        const r = row++;
        const top = topKLogProbs(logits.subarray(r * vocab, (r + 1) * vocab), item.topK);
        // The beam's suffix grown by this step, cut straight from `present`, so the main thread
        // never concatenates caches per step.
        const suffix = { from: item.baseCache.length, count: rows[r]?.beam.suffixCache.length ?? 0 };
        return { extendedSuffix: unpackRow(this.decoderShape, present, r, suffix, past.pastLen, 1), topIds: top.ids, topLogProbs: top.logProbs };
      }),
    }));
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.embed.release(), this.decoder.release()]);
  }
}
