import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AppError } from '../../errors.ts';
import type { DecodeItem, DecodeOutput, PrefillItem, PrefillOutput } from './step-items.ts';
import { appendRow, emptyCache, PackArena, packPast, trimCache, unpackRow, type KvCache, type KvShape } from './kv-cache.ts';
import { expectedGraphIO, type ModelManifest, type ModelPackage } from '../manifest.ts';
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

/** What a graph's present outputs hold: past ++ new ("full") or only the new steps ("new"). */
type PresentOutput = ModelManifest['decoder']['presentOutput'];

/** A graph's present tensors; `total` is their slot count: past + new ("full") or new only ("new"). */
interface Present {
  keys: Float32Array[];
  values: Float32Array[];
  total: number;
}

/**
 * The present outputs of a call, checked against the slot count the manifest's `presentOutput`
 * implies: a graph that disagrees with its manifest would otherwise corrupt every cache silently.
 */
function presentOf(label: string, shape: KvShape, outputs: ort.InferenceSession.ReturnType, mode: PresentOutput, pastLen: number, newLen: number): Present {
  const total = mode === 'full' ? pastLen + newLen : newLen;
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let i = 0; i < shape.layers; i++) {
    for (const kind of ['key', 'value'] as const) {
      const name = `present.${i}.${kind}`;
      const slots = outputs[name]?.dims[2];
      if (slots !== total) {
        throw new AppError('modelInvalid', `${label}: output "${name}" has ${slots ?? 'no'} cache slots, expected ${total} (past ${pastLen}, new ${newLen}, manifest presentOutput "${mode}")`);
      }
      (kind === 'key' ? keys : values).push(floatOutput(outputs, name));
    }
  }
  return { keys, values, total };
}

/**
 * Row `row`'s cache after a call: `kept` (a compact cache the row fed) followed by the row's first
 * `newCount` new steps. A "full" present repeats the padded past, so both parts are cut from it
 * (`keptFrom` = where `kept` starts in the row's past, `pastLen` = the padded past length); a "new"
 * present holds only the new steps, so `kept` is copied from the cache the worker already holds.
 */
function rowCache(shape: KvShape, mode: PresentOutput, present: Present, row: number, kept: KvCache, keptFrom: number, pastLen: number, newCount: number): KvCache {
  if (mode === 'new') return appendRow(shape, kept, present, row, 0, newCount);
  return unpackRow(shape, present, row, { from: keptFrom, count: kept.length }, pastLen, newCount);
}

type ArenaName = 'encoder' | 'prefill' | 'decode';
type PackedPast = ReturnType<typeof packPast>;

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
  private readonly encoderPresent: PresentOutput;
  private readonly decoderPresent: PresentOutput;
  /** Reused packed-past stores, one per call site; a call overlapping another packs into fresh arrays instead. */
  private readonly arenas: Record<ArenaName, PackArena> = { encoder: new PackArena(), prefill: new PackArena(), decode: new PackArena() };
  private readonly busyArenas = new Set<ArenaName>();

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
    this.encoderPresent = m.encoder.presentOutput;
    this.decoderPresent = m.decoder.presentOutput;
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

  /**
   * Packs the rows' caches (into the named reused arena when free) and runs `session` on the feeds
   * `feedsOf` builds around them. The packed arrays are dead once the run resolved: only the
   * padded past length is returned.
   */
  private async packAndRun(
    name: ArenaName,
    shape: KvShape,
    rows: readonly (readonly KvCache[])[],
    session: ort.InferenceSession,
    feedsOf: (past: PackedPast) => Feeds,
  ): Promise<{ out: ort.InferenceSession.ReturnType; pastLen: number }> {
    const arena = this.busyArenas.has(name) ? undefined : this.arenas[name];
    if (arena) this.busyArenas.add(name);
    try {
      const past = packPast(shape, rows, arena);
      const out = await session.run(feedsOf(past));
      return { out, pastLen: past.pastLen };
    } finally {
      if (arena) this.busyArenas.delete(name);
    }
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
    const encFeeds: Feeds = { input_values: float32(audio, [batch, maxFrames * spf]) };
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
    const { out: encOut, pastLen: encPastLen } = await this.packAndRun('encoder', this.encoderShape, items.map((item) => [item.encoderCache]), this.encoder, (past) => ({
      ...encFeeds,
      attention_mask: attentionMask(past.pastLen, past.lengths, maxFrames, frames),
      ...pastFeeds(this.encoderShape, past, batch),
    }));
    const speech = floatOutput(encOut, 'speech_embeddings');
    const hidden = m.decoder.hiddenSize;
    const maxEmb = Math.floor(maxFrames / shrink);
    const encPresent = presentOf(`${this.pkg.dir}/${m.encoder.file}`, this.encoderShape, encOut, this.encoderPresent, encPastLen, maxFrames);

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
    const decFeeds: Feeds = { inputs_embeds: float32(embeds, [batch, maxTokens, hidden]) };
    if (this.feedsDecoderPositions) {
      decFeeds.position_ids = int64(items.flatMap((item) => Array.from({ length: maxTokens }, (_, t) => item.decoderNextPosition + t)), [batch, maxTokens]);
    }
    const { out: decOut, pastLen: decPastLen } = await this.packAndRun('prefill', this.decoderShape, items.map((item) => [item.decoderCache]), this.decoder, (past) => ({
      ...decFeeds,
      attention_mask: attentionMask(past.pastLen, past.lengths, maxTokens, tokenLens),
      ...pastFeeds(this.decoderShape, past, batch),
    }));
    const logits = floatOutput(decOut, 'logits');
    const vocab = m.decoder.vocabSize;
    const decPresent = presentOf(`${this.pkg.dir}/${m.decoder.file}`, this.decoderShape, decOut, this.decoderPresent, decPastLen, maxTokens);

    return items.map((item, b) => {
      const last = (b * maxTokens + (tokenLens[b] ?? 1) - 1) * vocab;
      const top = topKLogProbs(logits.subarray(last, last + vocab), item.topK);
      const encoderGrown = rowCache(this.encoderShape, this.encoderPresent, encPresent, b, item.encoderCache, 0, encPastLen, frames[b] ?? 0);
      const trimmed = trimCache(this.encoderShape, encoderGrown, m.encoder.maxCacheFrames, 0);
      const audioContext = nextContexts[b];
      const encoderCache: KvCache = audioContext ? { data: trimmed.data, length: trimmed.length, audioContext } : trimmed;
      const decoderCache = rowCache(this.decoderShape, this.decoderPresent, decPresent, b, item.decoderCache, 0, decPastLen, tokenLens[b] ?? 0);
      return { encoderCache, decoderCache, speechEmbeddings: Math.floor((frames[b] ?? 0) / shrink), topIds: top.ids, topLogProbs: top.logProbs };
    });
  }

  async decode(items: DecodeItem[]): Promise<DecodeOutput[]> {
    const m = this.pkg.manifest;
    const rows = items.flatMap((item) => item.beams.map((beam) => ({ item, beam })));
    const batch = rows.length;
    const embedOut = await this.embed.run({ input_ids: int64(rows.map((r) => r.beam.token), [batch, 1]) });
    const hidden = m.decoder.hiddenSize;
    const feeds: Feeds = { inputs_embeds: float32(floatOutput(embedOut, 'inputs_embeds'), [batch, 1, hidden]) };
    if (this.feedsDecoderPositions) feeds.position_ids = int64(rows.map((r) => r.item.baseNextPosition + r.beam.suffixCache.length), [batch, 1]);
    const { out, pastLen } = await this.packAndRun('decode', this.decoderShape, rows.map(({ item, beam }) => [item.baseCache, beam.suffixCache]), this.decoder, (past) => ({
      ...feeds,
      attention_mask: attentionMask(past.pastLen, past.lengths, 1, rows.map(() => 1)),
      ...pastFeeds(this.decoderShape, past, batch),
    }));
    const logits = floatOutput(out, 'logits');
    const vocab = m.decoder.vocabSize;
    const present = presentOf(`${this.pkg.dir}/${m.decoder.file}`, this.decoderShape, out, this.decoderPresent, pastLen, 1);
    let row = 0;
    return items.map((item) => ({
      baseCache: item.baseCache,
      beams: item.beams.map(() => {
        const r = row++;
        const top = topKLogProbs(logits.subarray(r * vocab, (r + 1) * vocab), item.topK);
        // The beam's suffix grown by this step, built here so the main thread never concatenates
        // caches per step.
        const suffix = rows[r]?.beam.suffixCache ?? emptyCache();
        return { extendedSuffix: rowCache(this.decoderShape, this.decoderPresent, present, r, suffix, item.baseCache.length, pastLen, 1), topIds: top.ids, topLogProbs: top.logProbs };
      }),
    }));
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.embed.release(), this.decoder.release()]);
  }
}
