/**
 * Audio of the OpenAI-Realtime-compatible edge: base64 PCM16 (mono, little-endian) at the rate the
 * Realtime API uses (24 kHz), turned into the 16 kHz float32 samples the engine takes. The
 * conversion is streaming: appends may cut the audio anywhere (an odd byte, mid-filter), and the
 * samples that come out are the same as if the whole recording had been converted at once.
 */
import { AppError } from '../errors.ts';

export const ENGINE_RATE_HZ = 16_000;
/** Half the filter's length, in input samples: the ear cannot tell more taps apart at 16 kHz. */
const HALF_TAPS = 16;

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Decodes strict base64 (standard alphabet, padded or not; no whitespace or URL alphabet): Node's
 * decoder skips what it does not understand, which would turn a client's bug into noise.
 */
export function decodeBase64Strict(text: string, what: string): Buffer {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 === 1) {
    throw new AppError('validationFailed', `${what} is not valid base64 (standard alphabet, no whitespace)`);
  }
  return Buffer.from(text, 'base64');
}

/**
 * Windowed-sinc low-pass kernel for one output phase: its taps weigh the input samples around an
 * output instant that falls `fraction` of a sample after an input sample.
 */
function kernel(fraction: number, cutoff: number): Float64Array {
  const taps = new Float64Array(2 * HALF_TAPS);
  let sum = 0;
  for (let j = 0; j < taps.length; j++) {
    // Input sample (base - HALF_TAPS + 1 + j) sits at distance t from the output instant.
    const t = j - HALF_TAPS + 1 - fraction;
    const x = Math.PI * cutoff * t;
    const sinc = t === 0 ? 1 : Math.sin(x) / x;
    const window = 0.5 + 0.5 * Math.cos((Math.PI * t) / (HALF_TAPS + 1));
    taps[j] = Math.abs(t) > HALF_TAPS ? 0 : sinc * window;
    sum += taps[j] ?? 0;
  }
  // Unit gain at DC: a constant signal stays the same constant.
  for (let j = 0; j < taps.length; j++) taps[j] = (taps[j] ?? 0) / sum;
  return taps;
}

/**
 * Converts a stream of PCM16 bytes at `inputRateHz` to float32 samples at `outputRateHz` (16 kHz,
 * the engine's, unless a client converts the other way). Rational ratio (24 kHz → 16 kHz is 3:2):
 * output sample k sits at input position k × inputRate / outputRate, and its value is the
 * low-passed input there (cut-off just under the lower of the two Nyquist rates).
 */
export class Pcm16RateConverter {
  private readonly step: { num: number; den: number };
  private readonly kernels: Float64Array[];
  /** Input samples a later output's filter still reads, as floats; `offset` is the index of input[0] in the segment. */
  private input = new Float32Array(0);
  private offset = 0;
  /** Input of the segments ended by `finish()`, in ms. */
  private earlierMs = 0;
  private nextOutput = 0;
  private strayByte: number | null = null;

  constructor(
    readonly inputRateHz: number,
    readonly outputRateHz = ENGINE_RATE_HZ,
  ) {
    for (const [name, rate] of [['input', inputRateHz], ['output', outputRateHz]] as const) {
      if (!Number.isInteger(rate) || rate < 8_000 || rate > 192_000) {
        throw new AppError('validationFailed', `${name} sample rate must be an integer from 8000 to 192000 Hz, got ${rate}`);
      }
    }
    const divisor = gcd(inputRateHz, outputRateHz);
    this.step = { num: inputRateHz / divisor, den: outputRateHz / divisor };
    const cutoff = 0.9 * Math.min(1, outputRateHz / inputRateHz);
    this.kernels = Array.from({ length: this.step.den }, (_, phase) => kernel(phase / this.step.den, cutoff));
  }

  /** Input received so far, in ms (what a lag figure compares the translation against). */
  get receivedMs(): number {
    return this.earlierMs + ((this.offset + this.input.length) * 1000) / this.inputRateHz;
  }

  /** Appends PCM16 bytes; returns the output samples that are now complete. */
  push(bytes: Uint8Array): Float32Array {
    let data = bytes;
    if (this.strayByte !== null) {
      data = new Uint8Array(bytes.length + 1);
      data[0] = this.strayByte;
      data.set(bytes, 1);
      this.strayByte = null;
    }
    const whole = data.length - (data.length % 2);
    if (whole < data.length) this.strayByte = data[data.length - 1] ?? 0;
    const view = new DataView(data.buffer, data.byteOffset, whole);
    const fresh = new Float32Array(whole / 2);
    for (let i = 0; i < fresh.length; i++) fresh[i] = view.getInt16(2 * i, true) / 32768;
    if (this.step.num === this.step.den) {
      // Same rate: nothing to filter.
      this.offset += fresh.length;
      return fresh;
    }
    const joined = new Float32Array(this.input.length + fresh.length);
    joined.set(this.input);
    joined.set(fresh, this.input.length);
    this.input = joined;
    return this.convert(false);
  }

  /**
   * The end of a segment: returns its remaining samples (the filter sees silence after the end).
   * Input pushed afterwards starts a new segment; `receivedMs` keeps counting.
   */
  finish(): Float32Array {
    const rest = this.step.num === this.step.den ? new Float32Array(0) : this.convert(true);
    const received = this.receivedMs;
    this.clear();
    this.earlierMs = received;
    return rest;
  }

  /** Forgets everything buffered and received (a reset). */
  clear(): void {
    this.input = new Float32Array(0);
    this.offset = 0;
    this.nextOutput = 0;
    this.strayByte = null;
    this.earlierMs = 0;
  }

  private convert(isEnd: boolean): Float32Array {
    const { num, den } = this.step;
    const available = this.offset + this.input.length;
    const out: number[] = [];
    for (;;) {
      const position = this.nextOutput * num;
      const base = Math.floor(position / den);
      // Mid-stream, an output waits until every input sample its filter reads has arrived; at the
      // end, every output whose instant lies within the input is produced.
      if (isEnd ? base >= available : base + HALF_TAPS >= available) break;
      const taps = this.kernels[position % den] as Float64Array;
      let value = 0;
      const first = base - HALF_TAPS + 1 - this.offset;
      for (let j = 0; j < taps.length; j++) {
        const index = first + j;
        if (index >= 0 && index < this.input.length) value += (taps[j] ?? 0) * (this.input[index] ?? 0);
      }
      out.push(Math.max(-1, Math.min(1, value)));
      this.nextOutput++;
    }
    // Keep only the input the next output's filter still reads.
    const keepFrom = Math.max(0, Math.floor((this.nextOutput * num) / den) - HALF_TAPS + 1 - this.offset);
    const drop = Math.min(keepFrom, this.input.length);
    if (drop > 0) {
      this.input = this.input.slice(drop);
      this.offset += drop;
    }
    return Float32Array.from(out);
  }
}

/** Float samples at `fromRateHz` as PCM16 bytes at `toRateHz` (what a realtime client sends: 24 kHz). */
export function toPcm16(samples: Float32Array, fromRateHz: number, toRateHz: number): Buffer {
  const input = Buffer.alloc(samples.length * 2);
  samples.forEach((sample, index) => input.writeInt16LE(Math.round(Math.max(-1, Math.min(1, sample)) * 32767), index * 2));
  if (fromRateHz === toRateHz) return input;
  const converter = new Pcm16RateConverter(fromRateHz, toRateHz);
  const parts = [converter.push(input), converter.finish()];
  const out = Buffer.alloc(parts.reduce((sum, part) => sum + part.length, 0) * 2);
  let offset = 0;
  for (const part of parts) {
    for (const sample of part) {
      out.writeInt16LE(Math.round(sample * 32767), offset);
      offset += 2;
    }
  }
  return out;
}
