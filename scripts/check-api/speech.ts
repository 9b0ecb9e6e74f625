/** The speech check-api streams: --audio, else espeak-ng + sox, else a synthesized vowel-like signal; 16 kHz mono. */
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { decodeWav } from '../../src/evaluation/wav.ts';

const run = promisify(execFile);

function toMono16k(bytes: Uint8Array): Float32Array {
  const wav = decodeWav(bytes);
  if (wav.sampleRateHz === 16_000) return wav.samples;
  const out = new Float32Array(Math.floor((wav.samples.length * 16_000) / wav.sampleRateHz));
  const step = wav.sampleRateHz / 16_000;
  for (let i = 0; i < out.length; i++) out[i] = wav.samples[Math.floor(i * step)] ?? 0;
  return out;
}

export async function speech(file: string | undefined): Promise<{ samples: Float32Array; source: string }> {
  if (file) return { samples: toMono16k(await readFile(file)), source: file };
  const dir = await mkdtemp(join(tmpdir(), 'check-api-'));
  try {
    const raw = join(dir, 'raw.wav');
    const wav = join(dir, 'speech.wav');
    const text = 'Good morning everyone. Today we talk about simultaneous speech translation, which translates while the speaker is still talking.';
    await run('espeak-ng', ['-v', 'en-us', '-s', '150', '-w', raw, text]);
    await run('sox', [raw, '-r', '16000', '-c', '1', '-b', '16', wav]);
    return { samples: toMono16k(await readFile(wav)), source: 'espeak-ng' };
  } catch {
    const samples = new Float32Array(16_000 * 8);
    for (let i = 0; i < samples.length; i++) {
      const t = i / 16_000;
      samples[i] = 0.3 * Math.sin(2 * Math.PI * 140 * t) * (0.6 + 0.4 * Math.sin(2 * Math.PI * 3 * t)) + 0.1 * Math.sin(2 * Math.PI * 700 * t);
    }
    return { samples, source: 'synthesized (espeak-ng/sox unavailable)' };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
