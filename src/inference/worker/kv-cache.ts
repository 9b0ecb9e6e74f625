/**
 * An attention cache in compact form: one Float32Array laid out
 * [layer][key|value][head][position][headDim], holding exactly `length` positions. The encoder's
 * caches are kept this way (a chunk's frames, packed into padded batch tensors per prefill); the
 * decoder's live in slot arenas (slot-arena.ts).
 */
export interface KvCache {
  data: Float32Array;
  length: number;
  /**
   * Encoder caches only: the last `encoder.contextSamples` samples already encoded, which the next
   * chunk's first frames still read (the conv front end's window crosses chunk boundaries).
   * Travels with the cache so it follows the session through any worker.
   */
  audioContext?: Float32Array;
}

/** The fixed dimensions of one model's cache. */
export interface KvShape {
  layers: number;
  heads: number;
  headDim: number;
}

/**
 * Bytes of cache copied on this thread by the functions below (packing rows into batch tensors,
 * unpacking, appending, trimming, concatenating) since the thread started. A worker reports the
 * difference over each request, so the benchmark can show what the cache layout costs in copies.
 */
export const cacheCopyMeter = { bytes: 0 };

/**
 * Decoder rows the graph computed since the thread started: a decode batch's live beams plus the
 * rows computed for nothing (beams of a session that already finished, holes of a slot range fed
 * as one arena view). Reported per batch beside the live rows, so the benchmark can show what the
 * slots layout's whole-session rows cost.
 */
export const computedRowMeter = { rows: 0 };

export function emptyCache(): KvCache {
  return { data: new Float32Array(0), length: 0 };
}

/** Number of (layer, key|value, head) blocks; each block is `length × headDim` floats. */
function blockCount(shape: KvShape): number {
  return shape.layers * 2 * shape.heads;
}

/** Concatenates caches along the position axis. */
export function concatCaches(shape: KvShape, parts: readonly KvCache[]): KvCache {
  const total = parts.reduce((sum, p) => sum + p.length, 0);
  const data = new Float32Array(blockCount(shape) * total * shape.headDim);
  const d = shape.headDim;
  for (let block = 0; block < blockCount(shape); block++) {
    let offset = block * total * d;
    for (const part of parts) {
      const n = part.length * d;
      data.set(part.data.subarray(block * n, block * n + n), offset);
      offset += n;
    }
  }
  cacheCopyMeter.bytes += data.byteLength;
  return { data, length: total };
}

/**
 * Trims a cache to at most `maxLength` positions, keeping the first `keepPrefix` (the system
 * prompt, as InfiniSST's always_cache_system_prompt) and the most recent ones.
 */
export function trimCache(shape: KvShape, cache: KvCache, maxLength: number, keepPrefix: number): KvCache {
  if (cache.length <= maxLength) return cache;
  const prefix = Math.min(keepPrefix, maxLength);
  const recent = maxLength - prefix;
  const d = shape.headDim;
  const data = new Float32Array(blockCount(shape) * maxLength * d);
  for (let block = 0; block < blockCount(shape); block++) {
    const src = block * cache.length * d;
    const dst = block * maxLength * d;
    data.set(cache.data.subarray(src, src + prefix * d), dst);
    data.set(cache.data.subarray(src + (cache.length - recent) * d, src + cache.length * d), dst + prefix * d);
  }
  cacheCopyMeter.bytes += data.byteLength;
  return { data, length: maxLength };
}

/**
 * Backing stores for packed past tensors, reused from call to call. A fresh multi-megabyte
 * Float32Array per decode step costs more than the copy into it (the engine allocates fresh,
 * zeroed pages, then the garbage collector frees them), so a worker keeps the high-water size.
 * One arena serves one caller at a time: views it handed out are overwritten by the next take.
 */
export class PackArena {
  private readonly stores: Float32Array[] = [];

  /** A view of `length` floats (contents left from earlier calls) backed by store `index`. */
  take(index: number, length: number): Float32Array {
    let store = this.stores[index];
    if (!store || store.length < length) {
      // Some headroom, so a cache growing by a token per step does not reallocate every step.
      store = new Float32Array(Math.max(length, Math.ceil((store?.length ?? 0) * 1.25)));
      this.stores[index] = store;
    }
    return store.subarray(0, length);
  }
}

/**
 * Packs rows into per-layer batch tensors `[batch, heads, pastLen, headDim]` (zero-padded to the
 * longest row). Each row is a list of compact caches laid end to end (base cache + beam suffix).
 * Returns the key/value arrays per layer and each row's real length. With an `arena` the arrays
 * are views into its reused stores, valid until the arena's next use.
 */
export function packPast(
  shape: KvShape,
  rows: readonly (readonly KvCache[])[],
  arena?: PackArena,
): { keys: Float32Array[]; values: Float32Array[]; pastLen: number; lengths: number[] } {
  const lengths = rows.map((parts) => parts.reduce((sum, p) => sum + p.length, 0));
  const pastLen = Math.max(0, ...lengths);
  const { layers, heads, headDim: d } = shape;
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let layer = 0; layer < layers; layer++) {
    for (let kv = 0; kv < 2; kv++) {
      const size = rows.length * heads * pastLen * d;
      const out = arena ? arena.take(layer * 2 + kv, size) : new Float32Array(size);
      rows.forEach((parts, b) => {
        for (let h = 0; h < heads; h++) {
          const start = ((b * heads + h) * pastLen) * d;
          let dst = start;
          const block = (layer * 2 + kv) * heads + h;
          for (const part of parts) {
            const n = part.length * d;
            out.set(part.data.subarray(block * n, block * n + n), dst);
            cacheCopyMeter.bytes += n * Float32Array.BYTES_PER_ELEMENT;
            dst += n;
          }
          // A reused store holds old data where this row is padded; padding must read as zeros.
          if (arena) out.fill(0, dst, start + pastLen * d);
        }
      });
      (kv === 0 ? keys : values).push(out);
    }
  }
  return { keys, values, pastLen, lengths };
}

/**
 * Extracts one row's cache from per-layer `present` tensors `[batch, heads, total, headDim]`:
 * `keep.count` real past slots starting at `keep.from`, followed by the new slots
 * `[newStart, newStart + newCount)`.
 */
export function unpackRow(
  shape: KvShape,
  present: { keys: readonly Float32Array[]; values: readonly Float32Array[]; total: number },
  row: number,
  keep: { from: number; count: number },
  newStart: number,
  newCount: number,
): KvCache {
  const { layers, heads, headDim: d } = shape;
  const length = keep.count + newCount;
  const data = new Float32Array(layers * 2 * heads * length * d);
  for (let layer = 0; layer < layers; layer++) {
    for (let kv = 0; kv < 2; kv++) {
      const src = kv === 0 ? present.keys[layer] : present.values[layer];
      if (!src) throw new Error(`present tensor for layer ${layer} missing`);
      for (let h = 0; h < heads; h++) {
        const base = ((row * heads + h) * present.total) * d;
        const dst = (((layer * 2 + kv) * heads + h) * length) * d;
        data.set(src.subarray(base + keep.from * d, base + (keep.from + keep.count) * d), dst);
        data.set(src.subarray(base + newStart * d, base + (newStart + newCount) * d), dst + keep.count * d);
      }
    }
  }
  cacheCopyMeter.bytes += data.byteLength;
  return { data, length };
}

/**
 * One row's cache after a call to a graph whose present holds only the new steps
 * (`presentOutput: "new"`): the compact cache `head` the row fed, followed by the row's slots
 * `[newStart, newStart + newCount)` of per-layer `present` tensors `[batch, heads, total, headDim]`.
 * Equivalent to `concatCaches([head, new slots])`, in one copy.
 */
export function appendRow(
  shape: KvShape,
  head: KvCache,
  present: { keys: readonly Float32Array[]; values: readonly Float32Array[]; total: number },
  row: number,
  newStart: number,
  newCount: number,
): KvCache {
  const { layers, heads, headDim: d } = shape;
  const length = head.length + newCount;
  const data = new Float32Array(layers * 2 * heads * length * d);
  const headSize = head.length * d;
  for (let layer = 0; layer < layers; layer++) {
    for (let kv = 0; kv < 2; kv++) {
      const src = kv === 0 ? present.keys[layer] : present.values[layer];
      if (!src) throw new Error(`present tensor for layer ${layer} missing`);
      for (let h = 0; h < heads; h++) {
        const block = (layer * 2 + kv) * heads + h;
        const dst = block * length * d;
        data.set(head.data.subarray(block * headSize, (block + 1) * headSize), dst);
        const base = ((row * heads + h) * present.total + newStart) * d;
        data.set(src.subarray(base, base + newCount * d), dst + headSize);
      }
    }
  }
  cacheCopyMeter.bytes += data.byteLength;
  return { data, length };
}

/** Bytes held by a cache (for stats and memory bounds). */
export function cacheBytes(cache: KvCache): number {
  return cache.data.byteLength;
}
