/**
 * Minimal RIFF/WAVE codec for the evaluation CLI: reads integer PCM (8/16/24/32-bit) and IEEE
 * float (32/64-bit) files, plain or WAVE_FORMAT_EXTENSIBLE, down-mixing to mono float32; writes
 * 16-bit PCM (tests and sample generation). Resampling is left to sox: the server speaks 16 kHz.
 */
import { AppError } from '../errors.ts';

export interface WavAudio {
  sampleRateHz: number;
  /** Channels in the file (the samples are already mixed down to mono). */
  channels: number;
  samples: Float32Array;
  durationMs: number;
}

const PCM = 1;
const FLOAT = 3;
const EXTENSIBLE = 0xfffe;

function fail(message: string): never {
  throw new AppError('badRequest', `invalid WAV file: ${message}`);
}

function readSample(view: DataView, offset: number, format: number, bits: number): number {
  if (format === FLOAT) return bits === 32 ? view.getFloat32(offset, true) : view.getFloat64(offset, true);
  switch (bits) {
    case 8:
      return (view.getUint8(offset) - 128) / 128;
    case 16:
      return view.getInt16(offset, true) / 32768;
    case 24: {
      const value = view.getUint8(offset) | (view.getUint8(offset + 1) << 8) | (view.getInt8(offset + 2) << 16);
      return value / 8388608;
    }
    default:
      return view.getInt32(offset, true) / 2147483648;
  }
}

/** Decodes a WAV file to mono float32. Throws AppError('badRequest') on anything it cannot read. */
export function decodeWav(bytes: Uint8Array): WavAudio {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const tag = (offset: number) => String.fromCharCode(...bytes.subarray(offset, offset + 4));
  if (bytes.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') fail('not a RIFF/WAVE file');
  let format = 0;
  let channels = 0;
  let sampleRateHz = 0;
  let bits = 0;
  let data: { offset: number; length: number } | undefined;
  let offset = 12;
  while (offset + 8 <= bytes.byteLength) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      if (size < 16) fail('short fmt chunk');
      format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      sampleRateHz = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
      if (format === EXTENSIBLE) {
        if (size < 40) fail('short extensible fmt chunk');
        format = view.getUint16(body + 24, true);
      }
    } else if (id === 'data') {
      // Streams written without knowing their length put 0 or 0xFFFFFFFF here.
      const available = bytes.byteLength - body;
      data = { offset: body, length: size === 0 || size > available ? available : size };
    }
    offset = body + size + (size % 2);
  }
  if (channels === 0) fail('no fmt chunk');
  if (!data) fail('no data chunk');
  const supported = (format === PCM && [8, 16, 24, 32].includes(bits)) || (format === FLOAT && (bits === 32 || bits === 64));
  if (!supported) fail(`unsupported sample format ${format} with ${bits} bits`);
  const bytesPerSample = bits / 8;
  const frameBytes = bytesPerSample * channels;
  const frames = Math.floor(data.length / frameBytes);
  const samples = new Float32Array(frames);
  for (let i = 0; i < frames; i++) {
    let sum = 0;
    for (let c = 0; c < channels; c++) sum += readSample(view, data.offset + i * frameBytes + c * bytesPerSample, format, bits);
    samples[i] = sum / channels;
  }
  return { sampleRateHz, channels, samples, durationMs: (frames * 1000) / sampleRateHz };
}

/** Encodes mono float32 samples as 16-bit PCM WAV (values clipped to [-1, 1]). */
export function encodeWavPcm16(samples: Float32Array, sampleRateHz: number): Uint8Array {
  const bytes = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(bytes.buffer);
  const write = (offset: number, text: string) => {
    for (let i = 0; i < text.length; i++) bytes[offset + i] = text.charCodeAt(i);
  };
  write(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 2, true);
  write(8, 'WAVE');
  write(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, PCM, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, sampleRateHz, true);
  view.setUint32(28, sampleRateHz * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  write(36, 'data');
  view.setUint32(40, samples.length * 2, true);
  samples.forEach((value, i) => view.setInt16(44 + i * 2, Math.round(Math.max(-1, Math.min(1, value)) * 32767), true));
  return bytes;
}
