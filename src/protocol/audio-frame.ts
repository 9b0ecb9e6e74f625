/**
 * Decoding of binary audio frames: mono float32 little-endian PCM at 16 kHz, no header.
 * The original crashed the socket on a frame whose length is not a multiple of 4 and passed
 * NaN/Inf to the model (W17); here such frames are rejected or sanitised.
 */
import { AppError } from '../errors.ts';

export const sampleRateHz = 16_000;
export const bytesPerSample = 4;
/** The browser's base frame: 960 ms at 16 kHz; it sends this × latency multiplier. */
export const baseFrameSamples = 15_360;

export interface DecodedFrame {
  samples: Float32Array;
  /** Samples that were NaN/±Inf (set to 0) or outside [-1, 1] (clamped). */
  sanitizedCount: number;
}

/**
 * Decodes one binary frame into a fresh Float32Array (never a view into the socket buffer).
 * Throws AppError('badAudioFrame') if the length is not a whole number of samples, and
 * AppError('frameTooLarge') beyond `maxSamples`.
 */
export function decodeAudioFrame(data: Uint8Array, maxSamples: number): DecodedFrame {
  if (data.byteLength % bytesPerSample !== 0) {
    throw new AppError(
      'badAudioFrame',
      `Audio frame of ${data.byteLength} bytes is not a whole number of float32 samples (expected a multiple of 4 bytes)`,
    );
  }
  const count = data.byteLength / bytesPerSample;
  if (count > maxSamples) {
    throw new AppError('frameTooLarge', `Audio frame of ${count} samples exceeds the limit of ${maxSamples} samples`);
  }
  const samples = new Float32Array(count);
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let sanitizedCount = 0;
  for (let i = 0; i < count; i++) {
    let value = view.getFloat32(i * bytesPerSample, true);
    if (!Number.isFinite(value)) {
      value = 0;
      sanitizedCount++;
    } else if (value > 1 || value < -1) {
      value = value > 1 ? 1 : -1;
      sanitizedCount++;
    }
    samples[i] = value;
  }
  return { samples, sanitizedCount };
}

/** Encodes samples as a frame (little-endian float32), as clients do. */
export function encodeAudioFrame(samples: Float32Array): Uint8Array {
  const out = new Uint8Array(samples.length * bytesPerSample);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setFloat32(i * bytesPerSample, samples[i] ?? 0, true);
  return out;
}
