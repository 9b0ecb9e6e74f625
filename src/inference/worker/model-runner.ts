import { join } from 'node:path';
import type * as ort from 'onnxruntime-node';
import { AppError } from '../../errors.ts';
import type { DecodeCandidates, DecodeItem, DecodeOutput, PrefillItem, PrefillOutput } from './step-items.ts';
import { computedRowMeter, PackArena, packPast, trimCache, type KvCache, type KvShape } from './kv-cache.ts';
import { presentOf, rowCache, type PresentOutput } from './present-outputs.ts';
import { arenaLayoutFor, SlotArena, type NewRows } from './slot-arena.ts';
import { paddedPastFeeds, slotFeeds, slotNewRows, type DecoderRow } from './decoder-feeds.ts';
import { attentionMask, float32, floatOutput, int64, type Feeds } from './tensors.ts';
import { expectedGraphIO, type ModelManifest, type ModelPackage } from '../manifest.ts';
import { checkGraphIO, createSession, type SessionFactoryOptions } from './session-factory.ts';
import { topKLogProbs } from './top-k.ts';

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

type ArenaName = 'encoder' | 'prefill' | 'decode';

type DecodeRow = DecoderRow & { item: DecodeItem; token: number };

/**
 * A slots-layout decode batch is fed as one view of the arenas when its sessions' slots are
 * consecutive. When they are not, but at least half of the slot range is in the batch, the holes
 * are filled with rows that decode nothing (all-masked, outputs dropped): such a row costs about a
 * row of compute, while packing instead copies every row's whole context, every step. Sparser
 * batches (few sessions spread over many slots) stay as they are and get packed.
 */
function withHoles(sorted: readonly DecodeItem[]): DecodeItem[] {
  const first = sorted[0]?.slot ?? 0;
  const span = (sorted.at(-1)?.slot ?? first) - first + 1;
  if (span === sorted.length || span > 2 * sorted.length) return [...sorted];
  const bySlot = new Map(sorted.map((item) => [item.slot, item]));
  const idle = (slot: number): DecodeItem => ({ slot, prefixLength: 0, suffixLength: 0, position: 0, tokens: new Int32Array(0), topK: 0 });
  return Array.from({ length: span }, (_, i) => bySlot.get(first + i) ?? idle(first + i));
}

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
  private readonly decoderLayout: ModelManifest['decoder']['cacheLayout'];
  /** The decoder caches of every session this runner serves (see slot-arena.ts). */
  readonly arena: SlotArena;
  /** Reused packed-past stores, one per call site; a call overlapping another packs into fresh arrays instead. */
  private readonly arenas: Record<ArenaName, PackArena> = { encoder: new PackArena(), prefill: new PackArena(), decode: new PackArena() };
  private readonly busyArenas = new Set<ArenaName>();

  private constructor(
    readonly pkg: ModelPackage,
    private readonly encoder: ort.InferenceSession,
    private readonly embed: ort.InferenceSession,
    private readonly decoder: ort.InferenceSession,
    loaded: { provider: string; fallbacks: { provider: string; error: string }[] },
    beams: number,
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
    this.decoderLayout = m.decoder.cacheLayout;
    this.arena = new SlotArena(arenaLayoutFor(m, beams));
  }

  /** Loads and checks the three graphs. Throws AppError('modelInvalid') naming the file and problem. */
  static async load(pkg: ModelPackage, options: SessionFactoryOptions & { beamSize?: number }): Promise<ModelRunner> {
    const m = pkg.manifest;
    const io = expectedGraphIO(m);
    const encoder = await createSession(join(pkg.dir, m.encoder.file), options);
    const embed = await createSession(join(pkg.dir, m.decoder.embedFile), { ...options, providers: [encoder.provider] });
    const decoder = await createSession(join(pkg.dir, m.decoder.file), { ...options, providers: [encoder.provider] });
    checkGraphIO(`${pkg.dir}/${m.encoder.file}`, encoder.session, io.encoder, io.encoder.optional);
    checkGraphIO(`${pkg.dir}/${m.decoder.embedFile}`, embed.session, io.embed, io.embed.optional);
    checkGraphIO(`${pkg.dir}/${m.decoder.file}`, decoder.session, io.decoder, io.decoder.optional);
    return new ModelRunner(pkg, encoder.session, embed.session, decoder.session, encoder, options.beamSize ?? m.generation.beamSize);
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
    const prefillRows = items.map((item, b) => ({ slot: item.slot, prefixLength: item.prefixLength, newLength: tokenLens[b] ?? 0 }));
    for (const row of prefillRows) {
      if (row.prefixLength + row.newLength > this.arena.layout.prefixCapacity) {
        throw new AppError('internal', `the prompt (${row.newLength} tokens after ${row.prefixLength}) does not fit the slot's ${this.arena.layout.prefixCapacity} positions`);
      }
    }
    const { out: decOut, present: decPresent, newFrom } = await this.runDecoder('prefill', decFeeds, prefillRows.map((row) => [{ ...row, beam: -1, suffixLength: 0 }]), maxTokens);
    const logits = floatOutput(decOut, 'logits');
    const vocab = m.decoder.vocabSize;

    return items.map((item, b) => {
      const last = (b * maxTokens + (tokenLens[b] ?? 1) - 1) * vocab;
      const top = topKLogProbs(logits.subarray(last, last + vocab), item.topK);
      const encoderGrown = rowCache(this.encoderShape, this.encoderPresent, encPresent, b, item.encoderCache, 0, encPastLen, frames[b] ?? 0);
      const trimmed = trimCache(this.encoderShape, encoderGrown, m.encoder.maxCacheFrames, 0);
      const audioContext = nextContexts[b];
      const encoderCache: KvCache = audioContext ? { data: trimmed.data, length: trimmed.length, audioContext } : trimmed;
      this.arena.writePrefix(item.slot, item.prefixLength, decPresent, b, newFrom, tokenLens[b] ?? 0);
      return { encoderCache, speechEmbeddings: Math.floor((frames[b] ?? 0) / shrink), topIds: top.ids, topLogProbs: top.logProbs };
    });
  }

  async decode(items: DecodeItem[]): Promise<DecodeOutput[]> {
    const m = this.pkg.manifest;
    const beams = this.arena.layout.beams;
    // The slots layout computes every beam row of a session (the graph folds a session's beams
    // together), and fills holes in the batch's slot range (see withHoles); rows that do not
    // decode are fed the pad token and their outputs dropped. The padded layout computes live rows only.
    const rows: DecodeRow[][] =
      this.decoderLayout === 'slots'
        ? withHoles([...items].sort((a, b) => a.slot - b.slot)).map((item) =>
            Array.from({ length: beams }, (_, beam) => ({ item, beam, slot: item.slot, prefixLength: item.prefixLength, suffixLength: item.suffixLength, token: item.tokens[beam] ?? -1 })),
          )
        : items.map((item) =>
            Array.from({ length: beams }, (_, beam) => ({ item, beam, slot: item.slot, prefixLength: item.prefixLength, suffixLength: item.suffixLength, token: item.tokens[beam] ?? -1 })).filter((row) => row.token >= 0),
          );
    const flat = rows.flat();
    const batch = flat.length;
    const embedOut = await this.embed.run({ input_ids: int64(flat.map((r) => (r.token >= 0 ? r.token : m.specialTokens.pad)), [batch, 1]) });
    const hidden = m.decoder.hiddenSize;
    const feeds: Feeds = { inputs_embeds: float32(floatOutput(embedOut, 'inputs_embeds'), [batch, 1, hidden]) };
    if (this.feedsDecoderPositions) feeds.position_ids = int64(flat.map((r) => r.item.position), [batch, 1]);
    const { out, present, newFrom } = await this.runDecoder('decode', feeds, rows, 1);
    computedRowMeter.rows += batch;
    const logits = floatOutput(out, 'logits');
    const vocab = m.decoder.vocabSize;
    const results = new Map<DecodeItem, (DecodeCandidates | null)[]>();
    for (const item of items) results.set(item, new Array<DecodeCandidates | null>(beams).fill(null));
    flat.forEach((row, r) => {
      const perRow = results.get(row.item);
      if (row.token < 0 || !perRow) return;
      this.arena.writeSuffix(row.slot, row.beam, row.suffixLength, present, r, newFrom);
      const top = topKLogProbs(logits.subarray(r * vocab, (r + 1) * vocab), row.item.topK);
      perRow[row.beam] = { topIds: top.ids, topLogProbs: top.logProbs };
    });
    return items.map((item) => ({ rows: results.get(item) ?? [] }));
  }

  /**
   * Runs the decoder on `sessions` (each a list of rows; for a prefill one row without suffix,
   * `beam` −1) with `feeds` holding the new steps and the cache inputs the graph's layout wants
   * (decoder-feeds.ts). Returns the outputs, the present outputs (checked) and where the new steps
   * start in them.
   */
  private async runDecoder(
    name: 'prefill' | 'decode',
    feeds: Feeds,
    sessions: readonly (readonly DecoderRow[])[],
    newLength: number,
  ): Promise<{ out: ort.InferenceSession.ReturnType; present: NewRows; newFrom: number }> {
    const label = `${this.pkg.dir}/${this.pkg.manifest.decoder.file}`;
    const rows = sessions.flat();
    const scratch = this.busyArenas.has(name) ? undefined : this.arenas[name];
    if (scratch) this.busyArenas.add(name);
    try {
      if (this.decoderLayout === 'slots') {
        const out = await this.decoder.run({ ...feeds, ...slotFeeds(this.arena, sessions, scratch) });
        return { out, present: slotNewRows(label, this.decoderShape, out, rows.length, newLength), newFrom: 0 };
      }
      const pastLengths = rows.map((row) => row.prefixLength + (row.beam >= 0 ? row.suffixLength : 0));
      const pastLen = Math.max(0, ...pastLengths);
      const out = await this.decoder.run({
        ...feeds,
        ...paddedPastFeeds(this.arena, rows, pastLen, scratch),
        attention_mask: attentionMask(pastLen, pastLengths, newLength, rows.map((row) => row.newLength ?? newLength)),
      });
      const present = presentOf(label, this.decoderShape, out, this.decoderPresent, pastLen, newLength);
      return { out, present, newFrom: this.decoderPresent === 'full' ? pastLen : 0 };
    } finally {
      if (scratch) this.busyArenas.delete(name);
    }
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.embed.release(), this.decoder.release()]);
  }
}
