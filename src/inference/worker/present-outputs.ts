/**
 * Reading a graph's `present.{i}.key/value` outputs (docs/model-format.md): checked against what
 * the manifest's `presentOutput` says they hold, and cut into a row's cache.
 */
import type * as ort from 'onnxruntime-node';
import { AppError } from '../../errors.ts';
import { appendRow, unpackRow, type KvCache, type KvShape } from './kv-cache.ts';
import type { ModelManifest } from '../manifest.ts';
import type { NewRows } from './slot-arena.ts';
import { floatOutput } from './tensors.ts';

/** What a graph's present outputs hold: past ++ new ("full") or only the new steps ("new"). */
export type PresentOutput = ModelManifest['decoder']['presentOutput'];

/**
 * The present outputs of a call, checked against the slot count the manifest's `presentOutput`
 * implies: a graph that disagrees with its manifest would otherwise corrupt every cache silently.
 */
export function presentOf(label: string, shape: KvShape, outputs: ort.InferenceSession.ReturnType, mode: PresentOutput, pastLen: number, newLen: number): NewRows {
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
export function rowCache(shape: KvShape, mode: PresentOutput, present: NewRows, row: number, kept: KvCache, keptFrom: number, pastLen: number, newCount: number): KvCache {
  if (mode === 'new') return appendRow(shape, kept, present, row, 0, newCount);
  return unpackRow(shape, present, row, { from: keptFrom, count: kept.length }, pastLen, newCount);
}
