/**
 * The decoder's cache inputs, built from the slot arena for each cache layout
 * (docs/model-format.md): views of the arenas for `slots` (a packed copy of the used part when a
 * batch's slots are not consecutive), one padded past per row for `padded`. Also the checks and
 * reads of the decoder's new rows.
 */
import type * as ort from 'onnxruntime-node';
import { AppError } from '../../errors.ts';
import type { KvShape, PackArena } from './kv-cache.ts';
import type { NewRows, SlotArena } from './slot-arena.ts';
import { float32, floatOutput, lengthMask, type Feeds } from './tensors.ts';

/** One row of a decoder call: a session's slot and lengths, and which beam row (−1: a prefill, no suffix). */
export interface DecoderRow {
  slot: number;
  prefixLength: number;
  beam: number;
  suffixLength: number;
  /** New steps of this row when fewer than the call's (a prefill's shorter prompt). */
  newLength?: number;
}

/** A reused scratch view of `length` floats (old contents left), or a fresh zeroed one. */
function scratchOf(scratch: PackArena | undefined, index: number, length: number): Float32Array {
  return scratch ? scratch.take(index, length) : new Float32Array(length);
}

/**
 * Zeroes positions `[from, width)` of every head of row `row` in `[·, heads, width, headDim]`:
 * padding must read as finite zeros, and a reused scratch buffer holds whatever the last call left.
 */
function zeroTail(out: Float32Array, shape: KvShape, row: number, width: number, from: number): void {
  const d = shape.headDim;
  for (let h = 0; h < shape.heads; h++) {
    const base = (row * shape.heads + h) * width * d;
    out.fill(0, base + from * d, base + width * d);
  }
}

/**
 * prefix/suffix inputs and masks of the slots layout for `sessions` (each its rows, session-major;
 * a prefill has one row per session and no suffix).
 */
export function slotFeeds(arena: SlotArena, sessions: readonly (readonly DecoderRow[])[], scratch: PackArena | undefined): Feeds {
  const layout = arena.layout;
  const first = sessions[0]?.[0]?.slot ?? 0;
  const count = sessions.length;
  const width = sessions[0]?.length ?? 1;
  const consecutive = sessions.every((rows, i) => rows[0]?.slot === first + i);
  const heads = sessions.map((rows) => rows[0] ?? { slot: 0, prefixLength: 0, beam: -1, suffixLength: 0 });
  const rows = sessions.flat();
  const prefixLen = Math.max(1, ...heads.map((row) => row.prefixLength));
  const hasSuffix = heads.some((row) => row.beam !== -1);
  const suffixLen = hasSuffix ? Math.max(1, ...rows.map((row) => row.suffixLength)) : 1;
  const feeds: Feeds = {
    prefix_mask: lengthMask(heads.map((row) => row.prefixLength), prefixLen),
    suffix_mask: lengthMask(rows.map((row) => (hasSuffix ? row.suffixLength : 0)), suffixLen),
  };
  const d = layout.headDim;
  // A prefill has no suffix: one masked zero position per session, the same tensor for every layer.
  const noSuffix = hasSuffix ? undefined : float32(new Float32Array(count * layout.heads * d), [count, layout.heads, 1, d]);
  for (let i = 0; i < layout.layers; i++) {
    for (const [kind, name] of (['key', 'value'] as const).entries()) {
      const index = i * 2 + kind;
      let prefix: ort.Tensor;
      let suffix: ort.Tensor;
      if (consecutive) {
        prefix = float32(arena.prefixView(index, first, count), [count, layout.heads, layout.prefixCapacity, d]);
      } else {
        const packed = scratchOf(scratch, index * 2, count * layout.heads * prefixLen * d);
        heads.forEach((row, s) => {
          arena.copyPrefixOut(index, row.slot, row.prefixLength, packed, s, prefixLen);
          zeroTail(packed, layout, s, prefixLen, row.prefixLength);
        });
        prefix = float32(packed, [count, layout.heads, prefixLen, d]);
      }
      if (noSuffix) {
        suffix = noSuffix;
      } else if (consecutive && width === layout.beams) {
        suffix = float32(arena.suffixView(index, first, count), [count * layout.beams, layout.heads, layout.suffixCapacity, d]);
      } else {
        const packed = scratchOf(scratch, index * 2 + 1, rows.length * layout.heads * suffixLen * d);
        rows.forEach((row, r) => {
          arena.copySuffixOut(index, row.slot, row.beam, row.suffixLength, packed, r, suffixLen);
          zeroTail(packed, layout, r, suffixLen, row.suffixLength);
        });
        suffix = float32(packed, [rows.length, layout.heads, suffixLen, d]);
      }
      feeds[`prefix_key_values.${i}.${name}`] = prefix;
      feeds[`suffix_key_values.${i}.${name}`] = suffix;
    }
  }
  return feeds;
}

/** past_key_values of the padded layout: per row its prefix followed by its suffix, zero-padded to `pastLen`. */
export function paddedPastFeeds(arena: SlotArena, rows: readonly DecoderRow[], pastLen: number, scratch: PackArena | undefined): Feeds {
  const layout = arena.layout;
  const feeds: Feeds = {};
  for (let i = 0; i < layout.layers; i++) {
    for (const [kind, name] of (['key', 'value'] as const).entries()) {
      const index = i * 2 + kind;
      const packed = scratchOf(scratch, index, rows.length * layout.heads * pastLen * layout.headDim);
      rows.forEach((row, r) => {
        arena.copyPrefixOut(index, row.slot, row.prefixLength, packed, r, pastLen);
        const suffix = row.beam >= 0 ? row.suffixLength : 0;
        if (suffix > 0) arena.copySuffixOut(index, row.slot, row.beam, suffix, packed, r, pastLen, row.prefixLength);
        zeroTail(packed, layout, r, pastLen, row.prefixLength + suffix);
      });
      feeds[`past_key_values.${i}.${name}`] = float32(packed, [rows.length, layout.heads, pastLen, layout.headDim]);
    }
  }
  return feeds;
}

/**
 * The new rows of a slots-layout call, checked: the graph must return exactly `rows` rows of
 * `newLength` new steps, or it would corrupt every arena silently.
 */
export function slotNewRows(label: string, shape: KvShape, outputs: ort.InferenceSession.ReturnType, rows: number, newLength: number): NewRows {
  const keys: Float32Array[] = [];
  const values: Float32Array[] = [];
  for (let i = 0; i < shape.layers; i++) {
    for (const kind of ['key', 'value'] as const) {
      const name = `present.${i}.${kind}`;
      const dims = outputs[name]?.dims;
      if (dims?.[0] !== rows || dims[2] !== newLength) {
        throw new AppError('modelInvalid', `${label}: output "${name}" has dims [${dims?.join(', ') ?? 'none'}], expected ${rows} rows of ${newLength} new steps (cacheLayout "slots")`);
      }
      (kind === 'key' ? keys : values).push(floatOutput(outputs, name));
    }
  }
  return { keys, values, total: newLength };
}
