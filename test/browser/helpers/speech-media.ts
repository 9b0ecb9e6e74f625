/** Media files with spoken audio for page tests: a WAV's speech muxed with a small test-pattern video. */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Writes `wavPath`'s speech as a video (webm: VP8+Opus, mp4: H.264+AAC) to `outPath`. Throws if ffmpeg fails. */
export async function makeSpeechVideo(wavPath: string, kind: 'webm' | 'mp4', outPath: string): Promise<string> {
  const codecs = kind === 'webm'
    ? ['-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '200k', '-c:a', 'libopus']
    : ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-c:a', 'aac'];
  await run('ffmpeg', [
    '-nostdin', '-v', 'error', '-y',
    '-f', 'lavfi', '-i', 'testsrc=size=160x90:rate=10',
    '-i', wavPath,
    '-shortest', ...codecs, outPath,
  ]);
  return outPath;
}
