/**
 * A small WAV reader for clients of the stream protocol (the API check script and tests): PCM
 * 8/16/24/32-bit integer or 32/64-bit float, any channel count, mixed down to mono and resampled
 * to the protocol's 16 kHz by linear interpolation.
 */
import { sampleRateHz } from './audio-frame.ts';

export interface WavAudio {
  /** Mono samples in [-1, 1] at `sampleRateHz` (16 kHz after `readWav`). */
  samples: Float32Array;
  sampleRateHz: number;
  /** The file's own rate and channel count, for information. */
  sourceRateHz: number;
  sourceChannels: number;
}

/** Parses a WAV file and returns 16 kHz mono float samples. Throws Error on unsupported input. */
export function readWav(data: Uint8Array): WavAudio {
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  const tag = (offset: number): string => String.fromCharCode(...data.subarray(offset, offset + 4));
  if (data.byteLength < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('not a RIFF/WAVE file');
  let format = 0;
  let channels = 0;
  let rate = 0;
  let bits = 0;
  let pcm: DataView | null = null;
  for (let offset = 12; offset + 8 <= data.byteLength; ) {
    const id = tag(offset);
    const size = view.getUint32(offset + 4, true);
    const body = offset + 8;
    if (id === 'fmt ') {
      format = view.getUint16(body, true);
      channels = view.getUint16(body + 2, true);
      rate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
      if (format === 0xfffe && size >= 26) format = view.getUint16(body + 24, true); // WAVE_FORMAT_EXTENSIBLE sub-format
    } else if (id === 'data') {
      // Streaming writers (espeak-ng to a pipe, sox) may leave 0 or 0xFFFFFFFF as the size.
      const length = size === 0 || size === 0xffffffff ? data.byteLength - body : Math.min(size, data.byteLength - body);
      pcm = new DataView(data.buffer, data.byteOffset + body, length);
      break;
    }
    offset = body + size + (size % 2);
  }
  if (!pcm || channels === 0 || rate === 0) throw new Error('WAV file without fmt or data chunk');
  const bytes = bits / 8;
  const isFloat = format === 3;
  if (!((format === 1 && [8, 16, 24, 32].includes(bits)) || (isFloat && (bits === 32 || bits === 64)))) {
    throw new Error(`unsupported WAV encoding (format ${format}, ${bits} bits)`);
  }
  const frames = Math.floor(pcm.byteLength / (bytes * channels));
  const mono = new Float32Array(frames);
  const read = (offset: number): number => {
    if (isFloat) return bits === 32 ? pcm.getFloat32(offset, true) : pcm.getFloat64(offset, true);
    switch (bits) {
      case 8:
        return (pcm.getUint8(offset) - 128) / 128;
      case 16:
        return pcm.getInt16(offset, true) / 32768;
      case 24: {
        const value = pcm.getUint8(offset) | (pcm.getUint8(offset + 1) << 8) | (pcm.getInt8(offset + 2) << 16);
        return value / 8388608;
      }
      default:
        return pcm.getInt32(offset, true) / 2147483648;
    }
  };
  for (let frame = 0; frame < frames; frame++) {
    let sum = 0;
    for (let channel = 0; channel < channels; channel++) sum += read((frame * channels + channel) * bytes);
    mono[frame] = sum / channels;
  }
  return { samples: resampleLinear(mono, rate, sampleRateHz), sampleRateHz, sourceRateHz: rate, sourceChannels: channels };
}

/** Linear-interpolation resampler; adequate for test speech, not for production audio. */
export function resampleLinear(input: Float32Array, fromHz: number, toHz: number): Float32Array {
  if (fromHz === toHz) return input;
  const length = Math.floor((input.length * toHz) / fromHz);
  const out = new Float32Array(length);
  const step = fromHz / toHz;
  for (let i = 0; i < length; i++) {
    const position = i * step;
    const index = Math.floor(position);
    const fraction = position - index;
    const a = input[index] ?? 0;
    const b = input[index + 1] ?? a;
    out[i] = a + (b - a) * fraction;
  }
  return out;
}

/** Encodes mono samples as a 16-bit PCM WAV file (for fixtures). */
export function encodeWav16(samples: Float32Array, rateHz: number): Uint8Array {
  const out = new Uint8Array(44 + samples.length * 2);
  const view = new DataView(out.buffer);
  const write = (offset: number, text: string): void => {
    for (let i = 0; i < text.length; i++) view.setUint8(offset + i, text.charCodeAt(i));
  };
  write(0, 'RIFF');
  view.setUint32(4, 36 + samples.length * 2, true);
  write(8, 'WAVE');
  write(12, 'fmt ');
  view.setUint32(16, 16, true);
  view.setUint16(20, 1, true);
  view.setUint16(22, 1, true);
  view.setUint32(24, rateHz, true);
  view.setUint32(28, rateHz * 2, true);
  view.setUint16(32, 2, true);
  view.setUint16(34, 16, true);
  write(36, 'data');
  view.setUint32(40, samples.length * 2, true);
  for (let i = 0; i < samples.length; i++) {
    const value = Math.max(-1, Math.min(1, samples[i] ?? 0));
    view.setInt16(44 + i * 2, Math.round(value * 32767), true);
  }
  return out;
}
