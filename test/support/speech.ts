/**
 * Speech test audio: English sentences spoken by espeak-ng, converted by sox to 16 kHz mono
 * 16-bit WAV. Files are cached by content in the OS temp folder, so repeated runs are cheap.
 * Needs the `espeak-ng` and `sox` programs (Debian packages of the same names).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export const defaultSpeechText =
  'Good morning everyone. Today we talk about simultaneous speech translation. ' +
  'The system listens to a speaker and translates while the talk goes on. ' +
  'It waits for enough context, then writes the next words of the translation.';

export interface SpeechOptions {
  /** espeak-ng voice (default "en-us"). */
  voice?: string;
  /** Words per minute (default 150). */
  wordsPerMinute?: number;
  /** Seconds of silence appended at the end (default 0). */
  trailingSilenceSec?: number;
  /** Output sample rate (default 16000). */
  sampleRateHz?: number;
}

/**
 * Writes `text` as speech to a WAV file and returns its path (cached per text and options).
 * Throws if espeak-ng or sox is missing or fails (the message says which).
 */
export async function makeSpeechWav(text: string = defaultSpeechText, options: SpeechOptions = {}): Promise<string> {
  const voice = options.voice ?? 'en-us';
  const wpm = options.wordsPerMinute ?? 150;
  const silence = options.trailingSilenceSec ?? 0;
  const rate = options.sampleRateHz ?? 16000;
  const key = createHash('sha256').update(JSON.stringify([text, voice, wpm, silence, rate])).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), 'infinisst-speech');
  const target = join(dir, `speech-${key}.wav`);
  if (existsSync(target)) return target;
  await mkdir(dir, { recursive: true });
  const unique = `${process.pid}-${Date.now()}`;
  const raw = join(dir, `raw-${key}-${unique}.wav`);
  const partial = join(dir, `part-${key}-${unique}.wav`);
  try {
    await run('espeak-ng', ['-v', voice, '-s', String(wpm), '-w', raw, text]).catch((error: unknown) => {
      throw new Error(`espeak-ng failed (is the espeak-ng package installed?): ${String(error)}`);
    });
    const effects = silence > 0 ? ['pad', '0', String(silence)] : [];
    await run('sox', [raw, '-r', String(rate), '-c', '1', '-b', '16', '-e', 'signed-integer', partial, ...effects]).catch((error: unknown) => {
      throw new Error(`sox failed (is the sox package installed?): ${String(error)}`);
    });
    // Atomic publish: a concurrent run never sees a half-written file.
    await rename(partial, target);
  } finally {
    await rm(raw, { force: true });
    await rm(partial, { force: true });
  }
  return target;
}
