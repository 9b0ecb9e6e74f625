/**
 * Decodes any audio/video file to 16 kHz mono float32 with the system ffmpeg, streaming: ffmpeg
 * writes raw samples to a pipe and we hand them out chunk by chunk, so a two-hour file never sits
 * in memory. ffmpeg is spawned with an argument array (no shell), reads no stdin, and may only
 * open local files (`-protocol_whitelist file`), so a crafted playlist or concat file cannot make
 * it fetch URLs.
 */
import { spawn } from 'node:child_process';
import { resolve as resolvePath } from 'node:path';
import { AppError } from '../errors.ts';

export const decodeSampleRateHz = 16_000;

export interface DecodeOptions {
  /** Path or name of the ffmpeg binary (default "ffmpeg", looked up on PATH). */
  ffmpegPath?: string;
  /** Stops decoding and kills ffmpeg; the iterator then throws the signal's reason. */
  signal?: AbortSignal;
}

const stderrTailBytes = 4096;

/**
 * Yields the file's audio as 16 kHz mono float32 chunks (sizes vary, each a whole number of
 * samples). Throws AppError('decodeFailed') if ffmpeg fails or cannot be started. Breaking out of
 * the loop or aborting kills ffmpeg.
 */
export async function* decodeAudioFile(filePath: string, options: DecodeOptions = {}): AsyncGenerator<Float32Array> {
  const ffmpegPath = options.ffmpegPath ?? 'ffmpeg';
  // An absolute path cannot be mistaken for an ffmpeg protocol ("pipe:", "http:") or an option.
  const input = resolvePath(filePath);
  const args = [
    '-nostdin', '-hide_banner', '-loglevel', 'error',
    '-protocol_whitelist', 'file',
    '-i', input,
    '-vn', '-sn', '-dn',
    '-f', 'f32le', '-ac', '1', '-ar', String(decodeSampleRateHz),
    'pipe:1',
  ];
  const signal = options.signal;
  signal?.throwIfAborted();
  const child = spawn(ffmpegPath, args, { stdio: ['ignore', 'pipe', 'pipe'], shell: false, windowsHide: true });

  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (text: string) => {
    stderrTail = (stderrTail + text).slice(-stderrTailBytes);
  });
  const exited = new Promise<{ code: number | null; spawnError: Error | undefined }>((resolve) => {
    let spawnError: Error | undefined;
    child.once('error', (error) => {
      spawnError = error;
      // 'close' may never follow a failed spawn.
      resolve({ code: null, spawnError });
    });
    child.once('close', (code) => resolve({ code, spawnError }));
  });
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  signal?.addEventListener('abort', kill, { once: true });

  let carry: Buffer | undefined;
  let finished = false;
  try {
    for await (const data of child.stdout as AsyncIterable<Buffer>) {
      signal?.throwIfAborted();
      const bytes = carry ? Buffer.concat([carry, data]) : data;
      const usable = bytes.length - (bytes.length % 4);
      carry = usable < bytes.length ? Buffer.from(bytes.subarray(usable)) : undefined;
      if (usable === 0) continue;
      // Copy into a fresh, aligned buffer: pipe chunks may start at any byte offset.
      const samples = new Float32Array(usable / 4);
      new Uint8Array(samples.buffer).set(bytes.subarray(0, usable));
      yield samples;
    }
    signal?.throwIfAborted();
    const { code, spawnError } = await exited;
    signal?.throwIfAborted();
    if (spawnError) {
      throw new AppError('decodeFailed', `Could not run ffmpeg (${ffmpegPath}): ${spawnError.message}`, { cause: spawnError });
    }
    if (code !== 0) {
      throw new AppError('decodeFailed', `ffmpeg could not decode the file (exit code ${code}): ${stderrTail.trim()}`);
    }
    finished = true;
  } finally {
    signal?.removeEventListener('abort', kill);
    if (!finished) {
      kill();
      await exited;
    }
  }
}
