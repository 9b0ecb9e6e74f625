import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { AppError } from '../../errors.ts';
import type { DecodeCandidates, DecodeItem, DecodeOutput, PrefillItem, PrefillOutput } from './step-items.ts';
import { appendRow, PackArena, packPast, trimCache, unpackRow, type KvCache, type KvShape } from './kv-cache.ts';
import { SlotArena, type ArenaLayout, type NewRows } from './slot-arena.ts';
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

/** One row of a decoder call: a session's slot and lengths, and which beam row (−1: a prefill, no suffix). */
interface DecoderRow {
  slot: number;
  prefixLength: number;
  beam: number;
  suffixLength: number;
  /** New steps of this row when fewer than the call's (a prefill's shorter prompt). */
  newLength?: number;
}

/** A reused scratch view of `length` floats, zero-filled (padding must read as finite zeros), or a fresh one. */
function zeroed(scratch: PackArena | undefined, index: number, length: number): Float32Array {
  if (!scratch) return new Float32Array(length);
  const view = scratch.take(index, length);
  view.fill(0);
  return view;
}

/** [rows, width] int64: 1 for `[0, lengths[r])`. */
function lengthMask(lengths: readonly number[], width: number): ort.Tensor {
  const mask = new BigInt64Array(lengths.length * width);
  lengths.forEach((length, r) => mask.fill(1n, r * width, r * width + Math.min(length, width)));
  return new ort.Tensor('int64', mask, [lengths.length, width]);
}

/** A slots-layout graph must return exactly the new rows: anything else would corrupt every arena silently. */
function checkNewRows(label: string, shape: KvShape, outputs: ort.InferenceSession.ReturnType, rows: number, newLength: number): void {
  for (let i = 0; i < shape.layers; i++) {
    for (const kind of ['key', 'value']) {
      const name = `present.${i}.${kind}`;
      const dims = outputs[name]?.dims;
      if (dims?.[0] !== rows || dims[2] !== newLength) {
        throw new AppError('modelInvalid', `${label}: output "${name}" has dims [${dims?.join(', ') ?? 'none'}], expected ${rows} rows of ${newLength} new steps (cacheLayout "slots")`);
      }
    }
  }
}

/**
 * The decoder arena's capacities for a model: the window, plus the longest prompt a chunk
 * appends (pending token, template, speech placeholders at the largest multiplier), plus the
 * most tokens a chunk generates — the most a slot's prefix holds before the end-of-chunk trim.
 */
function arenaLayout(m: ModelManifest, beams: number): ArenaLayout {
  const templates = Object.values(m.languagePairs).flatMap((pair) => [pair.prompt.first, pair.prompt.next, ...Object.values(pair.prompt.firstByMultiplier ?? {})]);
  const longestTemplate = Math.max(0, ...templates.map((t) => t.prefix.length + t.suffix.length));
  const maxNewTokens = m.generation.maxNewTokensPerMultiplier * m.audio.maxLatencyMultiplier;
  const maxPrompt = 1 + longestTemplate + m.encoder.embeddingsPerSegment * m.audio.maxLatencyMultiplier;
  return {
    layers: m.decoder.numLayers,
    heads: m.decoder.numKeyValueHeads,
    headDim: m.decoder.headDim,
    prefixCapacity: m.decoder.maxCacheTokens + maxPrompt + maxNewTokens,
    beams,
    suffixCapacity: maxNewTokens,
  };
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
    this.arena = new SlotArena(arenaLayout(m, beams));
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
    const { out: decOut, newFrom } = await this.runDecoder('prefill', decFeeds, prefillRows.map((row) => [{ ...row, beam: -1, suffixLength: 0 }]), maxTokens);
    const logits = floatOutput(decOut, 'logits');
    const vocab = m.decoder.vocabSize;
    const decPresent = this.newRowsOf(decOut, newFrom, maxTokens);

    return items.map((item, b) => {
      const last = (b * maxTokens + (tokenLens[b] ?? 1) - 1) * vocab;
      const top = topKLogProbs(logits.subarray(last, last + vocab), item.topK);
      const encoderGrown = rowCache(this.encoderShape, this.encoderPresent, encPresent, b, item.encoderCache, 0, encPastLen, frames[b] ?? 0);
      const trimmed = trimCache(this.encoderShape, encoderGrown, m.encoder.maxCacheFrames, 0);
      const audioContext = nextContexts[b];
      const encoderCache: KvCache = audioContext ? { data: trimmed.data, length: trimmed.length, audioContext } : trimmed;
      this.arena.writePrefix(item.slot, item.prefixLength, decPresent, b, newFrom[b] ?? 0, tokenLens[b] ?? 0);
      return { encoderCache, speechEmbeddings: Math.floor((frames[b] ?? 0) / shrink), topIds: top.ids, topLogProbs: top.logProbs };
    });
  }

  async decode(items: DecodeItem[]): Promise<DecodeOutput[]> {
    const m = this.pkg.manifest;
    const beams = this.arena.layout.beams;
    // The slots layout computes every beam row of a session (the graph folds a session's beams
    // together); rows that do not decode are fed the pad token and their outputs dropped. The
    // padded layout computes live rows only.
    const sessions = this.decoderLayout === 'slots' ? [...items].sort((a, b) => a.slot - b.slot) : items;
    const rows = sessions.map((item) =>
      Array.from({ length: beams }, (_, beam) => ({ item, beam, slot: item.slot, prefixLength: item.prefixLength, suffixLength: item.suffixLength, token: item.tokens[beam] ?? -1 })).filter(
        (row) => this.decoderLayout === 'slots' || row.token >= 0,
      ),
    );
    const flat = rows.flat();
    const batch = flat.length;
    const embedOut = await this.embed.run({ input_ids: int64(flat.map((r) => (r.token >= 0 ? r.token : m.specialTokens.pad)), [batch, 1]) });
    const hidden = m.decoder.hiddenSize;
    const feeds: Feeds = { inputs_embeds: float32(floatOutput(embedOut, 'inputs_embeds'), [batch, 1, hidden]) };
    if (this.decoderLayout === 'slots' || this.feedsDecoderPositions) feeds.position_ids = int64(flat.map((r) => r.item.position), [batch, 1]);
    const { out, newFrom } = await this.runDecoder('decode', feeds, rows, 1);
    const logits = floatOutput(out, 'logits');
    const vocab = m.decoder.vocabSize;
    const present = this.newRowsOf(out, newFrom, 1);
    const results = new Map<DecodeItem, (DecodeCandidates | null)[]>();
    flat.forEach((row, r) => {
      const perRow = results.get(row.item) ?? new Array<DecodeCandidates | null>(beams).fill(null);
      results.set(row.item, perRow);
      if (row.token < 0) return;
      this.arena.writeSuffix(row.slot, row.beam, row.suffixLength, present, r, newFrom[r] ?? 0);
      const top = topKLogProbs(logits.subarray(r * vocab, (r + 1) * vocab), row.item.topK);
      perRow[row.beam] = { topIds: top.ids, topLogProbs: top.logProbs };
    });
    return items.map((item) => ({ rows: results.get(item) ?? [] }));
  }

  /**
   * Runs the decoder on `sessions` (each a list of rows; for a prefill one row without suffix,
   * `beam` −1) with `feeds` holding the new steps. Feeds the caches as the graph's layout wants
   * them: arena views (or, for slots that are not consecutive, a packed copy of the used part)
   * for `slots`; one padded past per row (prefix ++ suffix, copied) for `padded`. Returns the
   * outputs and, per row, where its new steps start in the present outputs.
   */
  private async runDecoder(name: 'prefill' | 'decode', feeds: Feeds, sessions: readonly (readonly DecoderRow[])[], newLength: number): Promise<{ out: ort.InferenceSession.ReturnType; newFrom: number[] }> {
    const label = `${this.pkg.dir}/${this.pkg.manifest.decoder.file}`;
    const rows = sessions.flat();
    const arenaName: ArenaName = name;
    const scratch = this.busyArenas.has(arenaName) ? undefined : this.arenas[arenaName];
    if (scratch) this.busyArenas.add(arenaName);
    try {
      if (this.decoderLayout === 'slots') {
        Object.assign(feeds, this.slotFeeds(sessions, scratch));
        const out = await this.decoder.run(feeds);
        checkNewRows(label, this.decoderShape, out, rows.length, newLength);
        return { out, newFrom: rows.map(() => 0) };
      }
      const pastLengths = rows.map((row) => row.prefixLength + row.suffixLength);
      const pastLen = Math.max(0, ...pastLengths);
      Object.assign(feeds, this.paddedPastFeeds(rows, pastLen, scratch));
      const newLengths = rows.map((row) => row.newLength ?? newLength);
      feeds.attention_mask = attentionMask(pastLen, pastLengths, newLength, newLengths);
      const out = await this.decoder.run(feeds);
      presentOf(label, this.decoderShape, out, this.decoderPresent, pastLen, newLength);
      return { out, newFrom: rows.map(() => (this.decoderPresent === 'full' ? pastLen : 0)) };
    } finally {
      if (scratch) this.busyArenas.delete(arenaName);
    }
  }

  /** The present outputs as new rows; `total` is their slot count (the padded past plus the new steps for a "full" present). */
  private newRowsOf(out: ort.InferenceSession.ReturnType, newFrom: readonly number[], newLength: number): NewRows {
    const keys: Float32Array[] = [];
    const values: Float32Array[] = [];
    for (let i = 0; i < this.decoderShape.layers; i++) {
      keys.push(floatOutput(out, `present.${i}.key`));
      values.push(floatOutput(out, `present.${i}.value`));
    }
    return { keys, values, total: (newFrom[0] ?? 0) + newLength };
  }

  /** prefix/suffix inputs and masks of the slots layout. */
  private slotFeeds(sessions: readonly (readonly DecoderRow[])[], scratch: PackArena | undefined): Feeds {
    const shape = this.decoderShape;
    const layout = this.arena.layout;
    const first = sessions[0]?.[0]?.slot ?? 0;
    const count = sessions.length;
    const width = sessions[0]?.length ?? 1;
    const consecutive = sessions.every((rows, i) => rows[0]?.slot === first + i);
    const prefixLen = Math.max(1, ...sessions.map((rows) => rows[0]?.prefixLength ?? 0));
    const hasSuffix = sessions.some((rows) => rows[0]?.beam !== -1);
    const suffixLen = Math.max(1, ...sessions.flatMap((rows) => rows.map((row) => row.suffixLength)));
    const feeds: Feeds = {
      prefix_mask: lengthMask(sessions.map((rows) => rows[0]?.prefixLength ?? 0), prefixLen),
      suffix_mask: lengthMask(sessions.flatMap((rows) => rows.map((row) => (hasSuffix ? row.suffixLength : 0))), hasSuffix ? suffixLen : 1),
    };
    const d = shape.headDim;
    const region = (len: number) => shape.heads * len * d;
    for (let i = 0; i < shape.layers; i++) {
      for (const [kind, name] of (['key', 'value'] as const).entries()) {
        const index = i * 2 + kind;
        let prefix: ort.Tensor;
        let suffix: ort.Tensor;
        if (consecutive) {
          prefix = float32(this.arena.prefixView(index, first, count), [count, shape.heads, layout.prefixCapacity, d]);
        } else {
          const packed = zeroed(scratch, index * 2, count * region(prefixLen));
          sessions.forEach((rows, s) => this.arena.copyPrefixOut(index, rows[0]?.slot ?? 0, rows[0]?.prefixLength ?? 0, packed, s, prefixLen));
          prefix = float32(packed, [count, shape.heads, prefixLen, d]);
        }
        if (!hasSuffix) {
          suffix = float32(zeroed(scratch, index * 2 + 1, count * region(1)), [count, shape.heads, 1, d]);
        } else if (consecutive && width === layout.beams) {
          suffix = float32(this.arena.suffixView(index, first, count), [count * layout.beams, shape.heads, layout.suffixCapacity, d]);
        } else {
          const packed = zeroed(scratch, index * 2 + 1, count * width * region(suffixLen));
          sessions.flat().forEach((row, r) => this.arena.copySuffixOut(index, row.slot, row.beam, row.suffixLength, packed, r, suffixLen));
          suffix = float32(packed, [count * width, shape.heads, suffixLen, d]);
        }
        feeds[`prefix_key_values.${i}.${name}`] = prefix;
        feeds[`suffix_key_values.${i}.${name}`] = suffix;
      }
    }
    return feeds;
  }

  /** past_key_values of the padded layout: per row its prefix followed by its suffix, zero-padded to `pastLen`. */
  private paddedPastFeeds(rows: readonly DecoderRow[], pastLen: number, scratch: PackArena | undefined): Feeds {
    const shape = this.decoderShape;
    const feeds: Feeds = {};
    for (let i = 0; i < shape.layers; i++) {
      for (const [kind, name] of (['key', 'value'] as const).entries()) {
        const index = i * 2 + kind;
        const packed = zeroed(scratch, index, rows.length * shape.heads * pastLen * shape.headDim);
        rows.forEach((row, r) => {
          this.arena.copyPrefixOut(index, row.slot, row.prefixLength, packed, r, pastLen);
          if (row.beam >= 0) this.arena.copySuffixOut(index, row.slot, row.beam, row.suffixLength, packed, r, pastLen, row.prefixLength);
        });
        feeds[`past_key_values.${i}.${name}`] = float32(packed, [rows.length, shape.heads, pastLen, shape.headDim]);
      }
    }
    return feeds;
  }

  async release(): Promise<void> {
    await Promise.all([this.encoder.release(), this.embed.release(), this.decoder.release()]);
  }
}
