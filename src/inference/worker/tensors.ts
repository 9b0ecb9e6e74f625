/** Small builders of onnxruntime tensors and readers of graph outputs, shared by the model runner's parts. */
import * as ort from 'onnxruntime-node';
import { AppError } from '../../errors.ts';

export type Feeds = Record<string, ort.Tensor>;

export function int64(values: ArrayLike<number>, dims: number[]): ort.Tensor {
  const data = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = BigInt(values[i] ?? 0);
  return new ort.Tensor('int64', data, dims);
}

export function float32(data: Float32Array, dims: number[]): ort.Tensor {
  return new ort.Tensor('float32', data, dims);
}

export function floatOutput(outputs: ort.InferenceSession.ReturnType, name: string): Float32Array {
  const tensor = outputs[name];
  if (!tensor || !(tensor.data instanceof Float32Array)) throw new AppError('modelInvalid', `graph output "${name}" is missing or not float32`);
  return tensor.data;
}

/** [rows, width] int64: 1 for `[0, lengths[r])`. */
export function lengthMask(lengths: readonly number[], width: number): ort.Tensor {
  const mask = new BigInt64Array(lengths.length * width);
  lengths.forEach((length, r) => mask.fill(1n, r * width, r * width + Math.min(length, width)));
  return new ort.Tensor('int64', mask, [lengths.length, width]);
}

/** 1 for each real slot: `[0, pastLens[b])` of the past and `[0, newLens[b])` of the new steps. */
export function attentionMask(pastLen: number, pastLens: number[], newLen: number, newLens: number[]): ort.Tensor {
  const width = pastLen + newLen;
  const mask = new BigInt64Array(pastLens.length * width);
  pastLens.forEach((p, b) => {
    mask.fill(1n, b * width, b * width + p);
    mask.fill(1n, b * width + pastLen, b * width + pastLen + (newLens[b] ?? 0));
  });
  return new ort.Tensor('int64', mask, [pastLens.length, width]);
}
