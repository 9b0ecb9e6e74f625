/**
 * `npm run translate -- FILE [options]`: translate an audio/video file through a running server
 * and print the growing translation; optionally write SRT/VTT subtitles. See --help.
 */
import { writeFile } from 'node:fs/promises';
import { formatSrt, formatVtt, timestamp } from '../src/media/subtitles.ts';
import { translateFile } from '../src/media/translate-client.ts';
import { demoPairs } from '../src/client/translation-client.ts';
import { DEFAULT_LANGUAGE_PAIR, DEFAULT_SERVER_URL, parseCommandLine, SHARED_FLAGS_NOTE, usageError } from './command-line.ts';

const USAGE = `Usage: npm run translate -- FILE [options]   (or --audio FILE)

Streams FILE (any audio/video format ffmpeg reads) through a running infinisst-serve server and
prints the translation as it grows, with the audio position of every addition.

It deliberately uses the server's public API - POST /init, WS /wss/{id} with 16 kHz float32
frames of 15 360 x latency samples, the text frame EOF, POST /delete_session - exactly as the web
page and the evaluation clients do, so what it measures is the real server (HTTP, WebSocket,
session manager, batcher, workers, models), not an in-process shortcut.

Options:
  --pair "A -> B"               language pair (default "English -> German")
  --latency M                   latency multiplier: chunks of 960 ms x M (default 2)
  --srt FILE                    write SubRip subtitles
  --vtt FILE                    write WebVTT subtitles
  --url URL                     server (default http://127.0.0.1:8000)
  --speed N                     send audio at N x real time (default: as fast as the server answers)
  --window N                    without --speed: most chunks in flight (default 3)
  --ack-timeout MS              without --speed: the server sends nothing when the model waits, so
                                after MS ms without an answer a chunk counts as answered
                                (default: one chunk's duration)
  --timeout S                   wait at most S seconds for PROCESSING_COMPLETE after EOF (default 300)
  --ffmpeg PATH                 ffmpeg binary (default "ffmpeg" on PATH)
  -h, --help                    this text

Each subtitle cue is the text one translation frame added, from the audio position when that
frame arrived (paced: playback time; fast: end of the chunk it answered) to the next frame.

${SHARED_FLAGS_NOTE}`;

function fail(message: string): never {
  return usageError('translate', message);
}

function positiveNumber(name: string, value: string | undefined, fallback: number | undefined): number | undefined {
  if (value === undefined) return fallback;
  const parsed = Number(value);
  if (!Number.isFinite(parsed) || parsed <= 0) fail(`--${name} must be a positive number, got "${value}"`);
  return parsed;
}

async function main(): Promise<void> {
  const { values, positionals } = parseCommandLine('translate', USAGE, {
    pair: { type: 'string', default: DEFAULT_LANGUAGE_PAIR }, latency: { type: 'string' }, srt: { type: 'string' }, vtt: { type: 'string' },
    url: { type: 'string', default: DEFAULT_SERVER_URL }, speed: { type: 'string' }, window: { type: 'string' }, 'ack-timeout': { type: 'string' },
    timeout: { type: 'string' }, ffmpeg: { type: 'string' }, audio: { type: 'string' },
  }, true);
  if (values.audio !== undefined) positionals.push(values.audio);
  if (positionals.length !== 1) fail('give exactly one input FILE (or --audio FILE)');
  const filePath = positionals[0] ?? '';
  const latency = positiveNumber('latency', values.latency, 2) ?? 2;
  if (!Number.isInteger(latency) || latency > 16) fail('--latency must be an integer between 1 and 16');
  const windowSize = positiveNumber('window', values.window, 3) ?? 3;
  if (!Number.isInteger(windowSize)) fail('--window must be an integer');
  const speed = positiveNumber('speed', values.speed, undefined);
  const ackTimeoutMs = positiveNumber('ack-timeout', values['ack-timeout'], undefined);
  const timeoutSeconds = positiveNumber('timeout', values.timeout, 300) ?? 300;

  const serverUrl = values.url ?? DEFAULT_SERVER_URL;
  const languagePair = values.pair ?? DEFAULT_LANGUAGE_PAIR;
  if ((await demoPairs(serverUrl, { timeoutMs: 5_000 })).includes(languagePair)) {
    process.stderr.write(`translate: DEMO MODEL: the server's model for ${languagePair} has random weights; what follows is not a translation\n`);
  }
  const abort = new AbortController();
  process.once('SIGINT', () => abort.abort(new Error('interrupted')));
  const result = await translateFile({
    filePath,
    serverUrl,
    languagePair,
    latencyMultiplier: latency,
    maxInFlight: windowSize,
    completionTimeoutMs: timeoutSeconds * 1000,
    signal: abort.signal,
    ...(speed !== undefined ? { speed } : {}),
    ...(ackTimeoutMs !== undefined ? { ackTimeoutMs } : {}),
    ...(values.ffmpeg !== undefined ? { ffmpegPath: values.ffmpeg } : {}),
    onTranslation: ({ atMs, added }) => process.stdout.write(`[${timestamp(atMs, '.')}] ${added}\n`),
    onStatus: (message) => process.stderr.write(`${message}\n`),
  });

  if (values.srt !== undefined) await writeFile(values.srt, formatSrt(result.cues), 'utf8');
  if (values.vtt !== undefined) await writeFile(values.vtt, formatVtt(result.cues), 'utf8');
  const audioSeconds = result.audioMs / 1000;
  const wallSeconds = result.wallMs / 1000;
  process.stdout.write(`\n${result.fullText}\n`);
  process.stderr.write(
    `audio ${audioSeconds.toFixed(2)} s, wall ${wallSeconds.toFixed(2)} s, ` +
      `real-time factor ${(wallSeconds / Math.max(audioSeconds, 1e-9)).toFixed(3)}, ` +
      `${result.chunksSent} chunks, ${result.cues.length} cues, ${result.serverErrors.length} server errors\n`,
  );
  if (result.serverErrors.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  process.stderr.write(`translate: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
