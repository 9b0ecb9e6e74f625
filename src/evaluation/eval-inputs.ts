/**
 * Inputs of the evaluation CLI: the audio files (a folder of .wav files in name order, one .wav
 * file, or a text list of paths relative to the list) and their references (one line per file,
 * in the same order).
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, extname, resolve } from 'node:path';
import { AppError } from '../errors.ts';
import type { EvalItem } from './eval-runner.ts';
import { decodeWav } from './wav.ts';

/** Audio file paths named by `source`. Throws AppError('badRequest') if none is found. */
export async function listAudioFiles(source: string): Promise<string[]> {
  const info = await stat(source).catch(() => undefined);
  if (!info) throw new AppError('badRequest', `audio source not found: ${source}`);
  let files: string[];
  if (info.isDirectory()) {
    const names = (await readdir(source)).filter((name) => extname(name).toLowerCase() === '.wav').sort();
    files = names.map((name) => resolve(source, name));
  } else if (extname(source).toLowerCase() === '.wav') {
    files = [resolve(source)];
  } else {
    const lines = (await readFile(source, 'utf8')).split(/\r?\n/).map((l) => l.trim());
    files = lines.filter((l) => l.length > 0 && !l.startsWith('#')).map((l) => resolve(dirname(source), l));
  }
  if (files.length === 0) throw new AppError('badRequest', `no .wav files in ${source}`);
  return files;
}

/** Reference lines (blank lines at the end ignored); throws AppError('badRequest') on a count mismatch. */
export async function readReferences(path: string, expected: number): Promise<string[]> {
  const text = await readFile(path, 'utf8').catch(() => {
    throw new AppError('badRequest', `reference file not found: ${path}`);
  });
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === '') lines.pop();
  if (lines.length !== expected) {
    throw new AppError('badRequest', `${path} has ${lines.length} reference line(s) for ${expected} audio file(s)`);
  }
  return lines;
}

/** Reads a 16 kHz WAV file as mono float32. Throws AppError('badRequest') for other rates. */
export async function readAudio(path: string): Promise<Float32Array> {
  const audio = decodeWav(await readFile(path));
  if (audio.sampleRateHz !== 16_000) {
    throw new AppError('badRequest', `${path}: ${audio.sampleRateHz} Hz; the server takes 16 kHz (sox in.wav -r 16000 -c 1 out.wav)`);
  }
  return audio.samples;
}

/** Loads the evaluation items from an audio source and a reference file. */
export async function loadEvalItems(audioSource: string, referencesPath: string): Promise<EvalItem[]> {
  const files = await listAudioFiles(audioSource);
  const references = await readReferences(referencesPath, files.length);
  return Promise.all(
    files.map(async (file, i) => ({ name: basename(file), samples: await readAudio(file), reference: references[i] ?? '' })),
  );
}
