/**
 * Media files generated for tests with ffmpeg's lavfi sources (no binary fixtures in the repo).
 * Durations are multiples of 64 ms so every codec's frame size divides them and decoding yields
 * exactly duration × 16 000 samples.
 */
import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export type FixtureKind = 'mp3' | 'mp4' | 'webm' | 'wav';

/** Writes a sine-tone file (with a small test-pattern video track for mp4/webm) and returns its path. */
export async function generateMedia(dir: string, kind: FixtureKind, durationSeconds: number, name = `tone.${kind}`): Promise<string> {
  const path = join(dir, name);
  const audio = ['-f', 'lavfi', '-i', `sine=frequency=440:sample_rate=${kind === 'webm' ? 48000 : 16000}:duration=${durationSeconds}`];
  const video = ['-f', 'lavfi', '-i', `testsrc=size=64x48:rate=10:duration=${durationSeconds}`];
  const byKind: Record<FixtureKind, string[]> = {
    mp3: [...audio, '-c:a', 'libmp3lame'],
    wav: [...audio, '-c:a', 'pcm_s16le'],
    mp4: [...video, ...audio, '-c:v', 'libx264', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest'],
    webm: [...video, ...audio, '-c:v', 'libvpx', '-c:a', 'libopus', '-shortest'],
  };
  await run('ffmpeg', ['-nostdin', '-v', 'error', '-y', ...byKind[kind], path]);
  return path;
}

/** A fresh temporary folder and its remover. */
export async function makeTempDir(prefix: string): Promise<{ dir: string; remove: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** True if an ffmpeg binary is on PATH (the media tests need it). */
export async function hasFfmpeg(): Promise<boolean> {
  try {
    await run('ffmpeg', ['-version']);
    return true;
  } catch {
    return false;
  }
}
