/** Replays parity cases written by scripts/export/parity_cases.py through onnxruntime. */
import * as ort from 'onnxruntime-node';
import { z } from 'zod';

const tensorSchema = z.object({ dtype: z.enum(['float32', 'int64']), dims: z.array(z.number().int()), b64: z.string() });
const expectedSchema = tensorSchema.extend({ axis: z.number().int(), valid: z.array(z.array(z.number().int())) });
export const parityFileSchema = z.object({
  cases: z.array(z.object({ graph: z.enum(['encoder', 'embed', 'decoder']), name: z.string(), inputs: z.record(z.string(), tensorSchema), expected: z.record(z.string(), expectedSchema) })),
});
export type ParityCase = z.infer<typeof parityFileSchema>['cases'][number];

export function toTensor(spec: z.infer<typeof tensorSchema>): ort.Tensor {
  const bytes = Buffer.from(spec.b64, 'base64');
  const copy = new ArrayBuffer(bytes.byteLength);
  new Uint8Array(copy).set(bytes);
  return spec.dtype === 'float32' ? new ort.Tensor('float32', new Float32Array(copy), spec.dims) : new ort.Tensor('int64', new BigInt64Array(copy), spec.dims);
}

/**
 * Compares the real (non-padding) part of every expected output with onnxruntime's. Returns one
 * line per mismatching output (empty when all match within `atol + rtol·|expected|`).
 */
export function compareOutputs(testCase: ParityCase, outputs: ort.InferenceSession.ReturnType, atol: number, rtol: number): { problems: string[]; compared: number; maxError: number } {
  const problems: string[] = [];
  let compared = 0;
  let maxError = 0;
  for (const [name, spec] of Object.entries(testCase.expected)) {
    const got = outputs[name];
    if (!got) {
      problems.push(`${name}: missing`);
      continue;
    }
    const expected = toTensor(spec).data as Float32Array;
    const actual = got.data as Float32Array;
    if (got.dims.join(',') !== spec.dims.join(',')) {
      problems.push(`${name}: dims ${got.dims.join('x')} instead of ${spec.dims.join('x')}`);
      continue;
    }
    const dims = spec.dims;
    const strides = dims.map((_, i) => dims.slice(i + 1).reduce((a, b) => a * b, 1));
    let worst = 0;
    for (let flat = 0; flat < expected.length; flat++) {
      const row = Math.floor(flat / (strides[0] ?? 1));
      const index = Math.floor(flat / (strides[spec.axis] ?? 1)) % (dims[spec.axis] ?? 1);
      if (!spec.valid[row]?.includes(index)) continue;
      const e = expected[flat] ?? 0;
      const error = Math.abs((actual[flat] ?? Number.NaN) - e);
      if (!(error <= atol + rtol * Math.abs(e))) worst = Math.max(worst, Number.isNaN(error) ? Infinity : error);
      maxError = Math.max(maxError, Number.isNaN(error) ? Infinity : error);
      compared++;
    }
    if (worst > 0) problems.push(`${name}: error up to ${worst}`);
  }
  return { problems, compared, maxError };
}
