import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../src/errors.ts';
import { decodeAudioFile, decodeSampleRateHz } from '../../src/media/ffmpeg-decoder.ts';
import { generateMedia, hasFfmpeg, makeTempDir } from './support/media-fixtures.ts';
import { skipWithout } from '../support/required-tool.ts';

const skip = skipWithout('ffmpeg', !(await hasFfmpeg()) && 'not installed (apt-get install ffmpeg)');

async function decodeAll(path: string, options: Parameters<typeof decodeAudioFile>[1] = {}): Promise<{ samples: number; chunks: number; peak: number; misaligned: number }> {
  let samples = 0;
  let chunks = 0;
  let peak = 0;
  let misaligned = 0;
  for await (const chunk of decodeAudioFile(path, options)) {
    samples += chunk.length;
    chunks += 1;
    if (chunk.byteOffset % 4 !== 0) misaligned += 1;
    for (const value of chunk) peak = Math.max(peak, Math.abs(value));
  }
  return { samples, chunks, peak, misaligned };
}

for (const kind of ['mp3', 'mp4', 'webm', 'wav'] as const) {
  test(`decodes a generated ${kind} to exactly duration × 16 kHz mono float32 samples`, { skip }, async (t) => {
    const temp = await makeTempDir(`decode-${kind}`);
    t.after(() => temp.remove());
    const durationSeconds = 2.048;
    const path = await generateMedia(temp.dir, kind, durationSeconds);
    const result = await decodeAll(path);
    assert.equal(result.samples, Math.round(durationSeconds * decodeSampleRateHz));
    assert.equal(result.misaligned, 0);
    // lavfi's sine is 1/8 full scale; a decoded tone is well above silence and within range.
    assert.ok(result.peak > 0.05 && result.peak <= 1, `peak ${result.peak}`);
  });
}

test('streams a long file in many chunks instead of one buffer', { skip }, async (t) => {
  const temp = await makeTempDir('decode-long');
  t.after(() => temp.remove());
  const path = await generateMedia(temp.dir, 'mp3', 60.032);
  let maxChunk = 0;
  let total = 0;
  for await (const chunk of decodeAudioFile(path)) {
    maxChunk = Math.max(maxChunk, chunk.length);
    total += chunk.length;
  }
  assert.equal(total, Math.round(60.032 * decodeSampleRateHz));
  assert.ok(maxChunk < total / 4, `largest chunk ${maxChunk} of ${total} samples`);
});

test('breaking out of the loop and aborting both kill ffmpeg', { skip }, async (t) => {
  const temp = await makeTempDir('decode-abort');
  t.after(() => temp.remove());
  const path = await generateMedia(temp.dir, 'wav', 30.016);
  const before = ffmpegChildren();
  for await (const chunk of decodeAudioFile(path)) {
    assert.ok(chunk.length > 0);
    break;
  }
  assert.deepEqual(ffmpegChildren(), before, 'no ffmpeg left running after break');

  const controller = new AbortController();
  let received = 0;
  await assert.rejects(async () => {
    for await (const chunk of decodeAudioFile(path, { signal: controller.signal })) {
      received += chunk.length;
      controller.abort(new Error('stop decoding'));
    }
  }, /stop decoding/);
  assert.ok(received > 0 && received < 30.016 * decodeSampleRateHz);
  assert.deepEqual(ffmpegChildren(), before, 'no ffmpeg left running after abort');
});

test('reports undecodable input and a missing ffmpeg as decodeFailed', { skip }, async (t) => {
  const temp = await makeTempDir('decode-bad');
  t.after(() => temp.remove());
  const garbage = join(temp.dir, 'garbage.mp4');
  await writeFile(garbage, 'this is not a video');
  const isDecodeFailed = (pattern: RegExp) => (error: unknown): boolean =>
    error instanceof AppError && error.code === 'decodeFailed' && pattern.test(error.message);
  await assert.rejects(decodeAll(garbage), isDecodeFailed(/ffmpeg could not decode/));
  await assert.rejects(decodeAll(garbage, { ffmpegPath: join(temp.dir, 'no-such-ffmpeg') }), isDecodeFailed(/Could not run ffmpeg/));
});

test('treats option-like and protocol-like file names as plain local files', { skip }, async (t) => {
  const temp = await makeTempDir('decode-names');
  t.after(() => temp.remove());
  const source = await generateMedia(temp.dir, 'wav', 0.512);
  for (const name of ['-y.wav', 'http:evil.wav', 'pipe:0']) {
    const path = join(temp.dir, name);
    execFileSync('cp', [source, path]);
    const previousCwd = process.cwd();
    process.chdir(temp.dir);
    try {
      // Relative names are resolved to absolute paths, so ffmpeg never sees "-y" or "pipe:0".
      assert.equal((await decodeAll(name)).samples, Math.round(0.512 * decodeSampleRateHz), name);
    } finally {
      process.chdir(previousCwd);
    }
  }
});

/** ffmpeg processes whose parent is this test process. */
function ffmpegChildren(): string[] {
  try {
    return execFileSync('pgrep', ['-P', String(process.pid), 'ffmpeg'], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
