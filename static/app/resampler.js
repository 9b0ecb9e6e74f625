/**
 * Streaming sample-rate converter: windowed-sinc interpolation with a low-pass at the lower of
 * the two Nyquist frequencies, so 44.1/48 kHz capture reaches 16 kHz without aliasing (the
 * original page picked every n-th sample). Pure code: it runs in the AudioWorklet scope and in
 * Node tests alike.
 */

/** Kernel table resolution: entries per input sample (linear interpolation in between). */
const TABLE_STEPS = 256;

function blackman(u) {
  // u in [-1, 1]; zero at the edges.
  return 0.42 + 0.5 * Math.cos(Math.PI * u) + 0.08 * Math.cos(2 * Math.PI * u);
}

function sinc(x) {
  if (x === 0) return 1;
  const px = Math.PI * x;
  return Math.sin(px) / px;
}

export class StreamResampler {
  /**
   * @param {number} inputRateHz rate of the samples given to `process`
   * @param {number} outputRateHz rate of the samples returned
   * @param {{ zeroCrossings?: number, rolloff?: number }} [options] kernel half-width in zero
   *   crossings (quality vs. cost) and the cutoff as a fraction of the output Nyquist frequency.
   */
  constructor(inputRateHz, outputRateHz, options = {}) {
    if (!(inputRateHz > 0) || !(outputRateHz > 0)) throw new RangeError('sample rates must be positive');
    this.inputRateHz = inputRateHz;
    this.outputRateHz = outputRateHz;
    this.isPassThrough = inputRateHz === outputRateHz;
    const zeroCrossings = options.zeroCrossings ?? 16;
    const rolloff = options.rolloff ?? 0.92;
    // Cutoff in cycles per input sample ×2 (1 = input Nyquist).
    this.cutoff = Math.min(1, outputRateHz / inputRateHz) * rolloff;
    this.halfWidth = zeroCrossings / this.cutoff;
    const size = Math.ceil(this.halfWidth * TABLE_STEPS) + 2;
    this.table = new Float32Array(size);
    for (let i = 0; i < size; i++) {
      const x = i / TABLE_STEPS;
      this.table[i] = x >= this.halfWidth ? 0 : this.cutoff * sinc(this.cutoff * x) * blackman(x / this.halfWidth);
    }
    this.buffer = new Float32Array(4096);
    this.bufferLength = 0;
    /** Absolute input index of buffer[0]; samples before index 0 count as silence. */
    this.bufferStart = 0;
    this.inputCount = 0;
    this.outputCount = 0;
  }

  /** Converts the next block of input; returns the output samples that are now determined. */
  process(input) {
    if (this.isPassThrough) {
      this.inputCount += input.length;
      this.outputCount += input.length;
      return Float32Array.from(input);
    }
    this.append(input);
    this.inputCount += input.length;
    return this.drain(this.inputCount);
  }

  /** Ends the stream: returns the remaining output (the tail that needed future input). */
  flush() {
    if (this.isPassThrough) return new Float32Array(0);
    const total = Math.ceil((this.inputCount * this.outputRateHz) / this.inputRateHz);
    const padding = Math.ceil(this.halfWidth) + 2;
    this.append(new Float32Array(padding));
    const out = this.drain(this.inputCount + padding, total);
    return out;
  }

  append(input) {
    const needed = this.bufferLength + input.length;
    if (needed > this.buffer.length) {
      const grown = new Float32Array(Math.max(needed, this.buffer.length * 2));
      grown.set(this.buffer.subarray(0, this.bufferLength));
      this.buffer = grown;
    }
    this.buffer.set(input, this.bufferLength);
    this.bufferLength += input.length;
  }

  /** Produces outputs whose kernel lies entirely below `availableEnd` (absolute input index). */
  drain(availableEnd, maxOutputs = Infinity) {
    const step = this.inputRateHz / this.outputRateHz;
    const reach = Math.ceil(this.halfWidth);
    const out = [];
    for (;;) {
      if (this.outputCount >= maxOutputs) break;
      // Exact position from the count, so long streams do not drift.
      const center = (this.outputCount * this.inputRateHz) / this.outputRateHz;
      const last = Math.floor(center) + reach;
      if (last >= availableEnd) break;
      out.push(this.sampleAt(center));
      this.outputCount++;
    }
    // Forget input no future output can reach.
    const nextCenter = (this.outputCount * this.inputRateHz) / this.outputRateHz;
    const keepFrom = Math.max(this.bufferStart, Math.floor(nextCenter - step) - reach - 1);
    const drop = Math.min(this.bufferLength, keepFrom - this.bufferStart);
    if (drop > 0) {
      this.buffer.copyWithin(0, drop, this.bufferLength);
      this.bufferLength -= drop;
      this.bufferStart += drop;
    }
    return Float32Array.from(out);
  }

  sampleAt(center) {
    const reach = Math.ceil(this.halfWidth);
    const first = Math.floor(center) - reach + 1;
    const lastIndex = Math.floor(center) + reach;
    let sum = 0;
    for (let k = first; k <= lastIndex; k++) {
      const local = k - this.bufferStart;
      if (local < 0 || local >= this.bufferLength) continue; // before the stream: silence
      const position = Math.abs(center - k) * TABLE_STEPS;
      const index = Math.floor(position);
      if (index + 1 >= this.table.length) continue;
      const frac = position - index;
      const weight = this.table[index] + (this.table[index + 1] - this.table[index]) * frac;
      sum += this.buffer[local] * weight;
    }
    return sum;
  }
}
