/**
 * Log-softmax of one row of logits, keeping only the k best candidates (descending; ties go to
 * the lower id so results never depend on iteration details). Only these cross back from the
 * worker: a real vocabulary is 128k entries, a beam search needs a handful.
 */
export function topKLogProbs(logits: Float32Array, k: number): { ids: Int32Array; logProbs: Float32Array } {
  let max = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] ?? -Infinity;
    if (v > max) max = v;
  }
  let sum = 0;
  for (let i = 0; i < logits.length; i++) sum += Math.exp((logits[i] ?? -Infinity) - max);
  const logZ = max + Math.log(sum);
  const count = Math.min(k, logits.length);
  const ids = new Int32Array(count).fill(-1);
  const values = new Float64Array(count).fill(-Infinity);
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i] ?? -Infinity;
    if (!(v > (values[count - 1] ?? -Infinity))) continue;
    let pos = count - 1;
    while (pos > 0 && v > (values[pos - 1] ?? -Infinity)) {
      values[pos] = values[pos - 1] ?? -Infinity;
      ids[pos] = ids[pos - 1] ?? -1;
      pos--;
    }
    values[pos] = v;
    ids[pos] = i;
  }
  const logProbs = new Float32Array(count);
  for (let j = 0; j < count; j++) logProbs[j] = (values[j] ?? -Infinity) - logZ;
  return { ids, logProbs };
}
