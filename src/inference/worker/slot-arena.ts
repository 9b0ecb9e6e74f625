/**
 * The decoder caches of every session one worker hosts for one model, kept in place in two
 * arenas per layer and kind (key, value), allocated once and grown only when the slots run out:
 *
 * - prefix `[slots, heads, prefixCapacity, headDim]`: each session's committed context (system
 *   prompt, earlier chunks, this chunk's prompt), shared by its beams;
 * - suffix `[slots × beams, heads, suffixCapacity, headDim]`: each beam's tokens of the current
 *   chunk, at most a chunk's worth.
 *
 * A decode step writes only its new rows; a beam reorder copies only suffix rows; the end of a
 * chunk appends the winning beam's suffix to the prefix and trims the window in place. A batch of
 * sessions in consecutive slots is fed to the graph as views of the arenas, without a copy.
 */
import { cacheCopyMeter, type KvShape } from './kv-cache.ts';
import type { ModelManifest } from '../manifest.ts';

export interface ArenaLayout extends KvShape {
  prefixCapacity: number;
  beams: number;
  suffixCapacity: number;
}

/** New rows as a graph returns them: per layer `[rows, heads, total, headDim]`. */
export interface NewRows {
  keys: readonly Float32Array[];
  values: readonly Float32Array[];
  total: number;
}

const FLOAT_BYTES = Float32Array.BYTES_PER_ELEMENT;

/** Bytes one session's slot holds in arenas of this layout (prefix and beam suffixes, keys and values, every layer). */
export function slotBytesOf(layout: ArenaLayout): number {
  const perRow = layout.heads * layout.headDim;
  return (layout.prefixCapacity + layout.beams * layout.suffixCapacity) * perRow * layout.layers * 2 * FLOAT_BYTES;
}

/**
 * A model's arena capacities: the prefix holds the window, plus the longest prompt a chunk
 * appends (pending token, template, speech placeholders at the largest multiplier), plus the most
 * tokens a chunk generates — the most a slot holds before the end-of-chunk trim; a suffix holds a
 * chunk's tokens.
 */
export function arenaLayoutFor(m: ModelManifest, beams: number): ArenaLayout {
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

export class SlotArena {
  readonly layout: Readonly<ArenaLayout>;
  /** Index `layer × 2 + kind` (0 key, 1 value). */
  #prefix: Float32Array[] = [];
  #suffix: Float32Array[] = [];
  #capacity = 0;
  #highWater = 0;
  readonly #free: number[] = [];

  constructor(layout: ArenaLayout, initialSlots = 4) {
    if (layout.prefixCapacity < 1 || layout.suffixCapacity < 1 || layout.beams < 1) throw new Error('slot arena: capacities and beams must be positive');
    this.layout = { ...layout };
    this.#grow(Math.max(1, initialSlots));
  }

  /** Slots the arenas hold now (in use or free). */
  get capacity(): number {
    return this.#capacity;
  }

  get slotsInUse(): number {
    return this.#highWater - this.#free.length;
  }

  /** Bytes one session's slot holds (prefix and beam suffixes, keys and values, every layer). */
  get bytesPerSlot(): number {
    return slotBytesOf(this.layout);
  }

  get #prefixRegion(): number {
    return this.layout.heads * this.layout.prefixCapacity * this.layout.headDim;
  }

  get #suffixRegion(): number {
    return this.layout.heads * this.layout.suffixCapacity * this.layout.headDim;
  }

  /** The lowest free slot (dense slots make batches contiguous); grows the arenas when none is free. */
  allocate(): number {
    if (this.#free.length > 0) {
      this.#free.sort((a, b) => a - b);
      return this.#free.shift() as number;
    }
    if (this.#highWater === this.#capacity) this.#grow(this.#capacity * 2);
    return this.#highWater++;
  }

  /**
   * Returns a slot, zero-filled: masked slots are read by the graph (multiplied by weight 0), so
   * they must hold finite numbers, never another session's NaN.
   */
  release(slot: number): void {
    for (const store of this.#prefix) store.fill(0, slot * this.#prefixRegion, (slot + 1) * this.#prefixRegion);
    const rows = this.layout.beams * this.#suffixRegion;
    for (const store of this.#suffix) store.fill(0, slot * rows, (slot + 1) * rows);
    this.#free.push(slot);
  }

  /** The prefix arena of one layer and kind, slots `[first, first + count)`. */
  prefixView(index: number, first: number, count: number): Float32Array {
    return this.#store(this.#prefix, index).subarray(first * this.#prefixRegion, (first + count) * this.#prefixRegion);
  }

  /** The suffix arena of one layer and kind, the beam rows of slots `[first, first + count)`. */
  suffixView(index: number, first: number, count: number): Float32Array {
    const rows = this.layout.beams * this.#suffixRegion;
    return this.#store(this.#suffix, index).subarray(first * rows, (first + count) * rows);
  }

  /** Copies `[0, length)` of every head of a slot's prefix into `out` at `[row, ·, 0, ·]` of `[·, heads, width, headDim]`. */
  copyPrefixOut(index: number, slot: number, length: number, out: Float32Array, row: number, width: number, at = 0): void {
    this.#copyOut(this.#store(this.#prefix, index), slot, this.layout.prefixCapacity, length, out, row, width, at);
  }

  copySuffixOut(index: number, slot: number, beam: number, length: number, out: Float32Array, row: number, width: number, at = 0): void {
    this.#copyOut(this.#store(this.#suffix, index), slot * this.layout.beams + beam, this.layout.suffixCapacity, length, out, row, width, at);
  }

  /** Writes `count` new rows of graph output row `row` (from slot `from` of its output) into a slot's prefix at `at`. */
  writePrefix(slot: number, at: number, rows: NewRows, row: number, from: number, count: number): void {
    if (at + count > this.layout.prefixCapacity) throw new Error(`slot arena: ${at + count} prefix positions exceed the capacity ${this.layout.prefixCapacity}`);
    this.#write(this.#prefix, slot, this.layout.prefixCapacity, at, rows, row, from, count);
  }

  /** Writes one new row into beam `beam`'s suffix of a slot at `at`. */
  writeSuffix(slot: number, beam: number, at: number, rows: NewRows, row: number, from: number): void {
    if (at + 1 > this.layout.suffixCapacity) throw new Error(`slot arena: suffix position ${at} exceeds the capacity ${this.layout.suffixCapacity}`);
    this.#write(this.#suffix, slot * this.layout.beams + beam, this.layout.suffixCapacity, at, rows, row, from, 1);
  }

  /** Gives beam `to` a copy of beam `from`'s first `length` suffix positions (a beam reorder). */
  copySuffix(slot: number, from: number, to: number, length: number): void {
    if (from === to || length === 0) return;
    const { heads, headDim: d, suffixCapacity: cap, beams } = this.layout;
    for (const store of this.#suffix) {
      for (let h = 0; h < heads; h++) {
        const src = ((slot * beams + from) * heads + h) * cap * d;
        store.copyWithin(((slot * beams + to) * heads + h) * cap * d, src, src + length * d);
      }
    }
    cacheCopyMeter.bytes += this.#suffix.length * heads * length * d * FLOAT_BYTES;
  }

  /**
   * Ends a chunk: beam `beam`'s first `suffixLength` positions join the slot's prefix after
   * `prefixLength`, then the window is trimmed to `maxLength` keeping the first `keepPrefix`
   * positions (the system prompt) and the most recent ones. Returns the new prefix length.
   */
  commit(slot: number, prefixLength: number, beam: number, suffixLength: number, maxLength: number, keepPrefix: number): number {
    const { heads, headDim: d, suffixCapacity: sCap, prefixCapacity: pCap, beams } = this.layout;
    const total = prefixLength + suffixLength;
    if (total > pCap) throw new Error(`slot arena: ${total} prefix positions exceed the capacity ${pCap}`);
    this.#prefix.forEach((prefix, index) => {
      const suffix = this.#store(this.#suffix, index);
      for (let h = 0; h < heads; h++) {
        const src = ((slot * beams + beam) * heads + h) * sCap * d;
        prefix.set(suffix.subarray(src, src + suffixLength * d), ((slot * heads + h) * pCap + prefixLength) * d);
      }
    });
    cacheCopyMeter.bytes += this.#prefix.length * heads * suffixLength * d * FLOAT_BYTES;
    if (total <= maxLength) return total;
    const kept = Math.min(keepPrefix, maxLength);
    const recent = maxLength - kept;
    for (const prefix of this.#prefix) {
      for (let h = 0; h < heads; h++) {
        const base = (slot * heads + h) * pCap * d;
        prefix.copyWithin(base + kept * d, base + (total - recent) * d, base + total * d);
      }
    }
    cacheCopyMeter.bytes += this.#prefix.length * heads * recent * d * FLOAT_BYTES;
    return maxLength;
  }

  #store(stores: Float32Array[], index: number): Float32Array {
    const store = stores[index];
    if (!store) throw new Error(`slot arena: no store ${index}`);
    return store;
  }

  #copyOut(store: Float32Array, region: number, cap: number, length: number, out: Float32Array, row: number, width: number, at: number): void {
    const { heads, headDim: d } = this.layout;
    for (let h = 0; h < heads; h++) {
      const src = (region * heads + h) * cap * d;
      out.set(store.subarray(src, src + length * d), ((row * heads + h) * width + at) * d);
    }
    cacheCopyMeter.bytes += heads * length * d * FLOAT_BYTES;
  }

  #write(stores: Float32Array[], region: number, cap: number, at: number, rows: NewRows, row: number, from: number, count: number): void {
    const { heads, headDim: d } = this.layout;
    stores.forEach((store, index) => {
      const layer = index >> 1;
      const src = (index & 1) === 0 ? rows.keys[layer] : rows.values[layer];
      if (!src) throw new Error(`present tensor for layer ${layer} missing`);
      for (let h = 0; h < heads; h++) {
        const base = ((row * heads + h) * rows.total + from) * d;
        store.set(src.subarray(base, base + count * d), ((region * heads + h) * cap + at) * d);
      }
    });
    cacheCopyMeter.bytes += stores.length * heads * count * d * FLOAT_BYTES;
  }

  /** Reallocates every arena for `slots` slots, keeping what the current ones hold (rare: the arenas double). */
  #grow(slots: number): void {
    const stores = this.layout.layers * 2;
    const grown = (old: Float32Array[], perSlot: number): Float32Array[] =>
      Array.from({ length: stores }, (_, i) => {
        const next = new Float32Array(slots * perSlot);
        const previous = old[i];
        if (previous) next.set(previous);
        return next;
      });
    this.#prefix = grown(this.#prefix, this.#prefixRegion);
    this.#suffix = grown(this.#suffix, this.layout.beams * this.#suffixRegion);
    this.#capacity = slots;
  }
}
