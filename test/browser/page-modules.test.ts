/**
 * The web client's pure modules (plain browser ES modules in static/app/), run in Node: the
 * resampler, the framer, the transcript diffing, subtitles, status wording and frame classes.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { resolve } from 'node:path';

interface Resampler {
  process(input: Float32Array): Float32Array;
  flush(): Float32Array;
}
interface FramerInstance {
  push(samples: Float32Array): void;
  finish(): boolean;
  setFrameSamples(n: number): void;
  clear(): void;
  readonly bufferedSamples: number;
  readonly totalSamples: number;
}
interface Part { text: string; atSec: number }
interface TranscriptInstance {
  applyFull(text: string, atSec: number): 'unchanged' | 'appended' | 'rewritten';
  startBlock(): void;
  clear(): void;
  allParts(): Part[];
  readonly text: string;
  readonly isEmpty: boolean;
}
interface Cue { startSec: number; endSec: number; lines: string[] }

async function load<T>(file: string): Promise<T> {
  return (await import(pathToFileURL(resolve('static/app', file)).href)) as T;
}

const { StreamResampler } = await load<{ StreamResampler: new (inHz: number, outHz: number) => Resampler }>('resampler.js');
const { Framer } = await load<{ Framer: new (size: number, onFrame: (frame: Float32Array) => void) => FramerInstance }>('framer.js');
const { Transcript } = await load<{ Transcript: new () => TranscriptInstance }>('transcript.js');
const subtitles = await load<{
  buildCues(parts: Part[]): Cue[];
  toSrt(cues: Cue[]): string;
  toVtt(cues: Cue[]): string;
  formatTimestamp(seconds: number, separator: string): string;
  wrapLines(text: string, width?: number): string[];
}>('subtitles.js');
const { describeStatus } = await load<{ describeStatus(snapshot: Record<string, unknown>): { text: string; tone: string } }>('status.js');
const protocol = await load<{
  classifyFrame(text: string): { kind: string; text: string };
  describeClose(code: number, reason: string): { isFatal: boolean; message: string };
  isSessionGoneMessage(text: string): boolean;
  frameSamplesFor(multiplier: number): number;
}>('protocol.js');

function tone(frequencyHz: number, rateHz: number, seconds: number, amplitude = 0.5): Float32Array {
  const out = new Float32Array(Math.round(rateHz * seconds));
  for (let i = 0; i < out.length; i++) out[i] = amplitude * Math.sin((2 * Math.PI * frequencyHz * i) / rateHz);
  return out;
}

/** Runs `input` through a resampler in blocks of `block` samples, as the worklet does (128). */
function resampleInBlocks(input: Float32Array, inHz: number, block = 128): Float32Array {
  const resampler = new StreamResampler(inHz, 16000);
  const pieces: Float32Array[] = [];
  for (let i = 0; i < input.length; i += block) pieces.push(resampler.process(input.subarray(i, i + block)));
  pieces.push(resampler.flush());
  const out = new Float32Array(pieces.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const piece of pieces) {
    out.set(piece, offset);
    offset += piece.length;
  }
  return out;
}

function rms(samples: Float32Array): number {
  let sum = 0;
  for (const value of samples) sum += value * value;
  return Math.sqrt(sum / samples.length);
}

/** Amplitude of the `frequencyHz` component (single-bin DFT). */
function amplitudeAt(samples: Float32Array, frequencyHz: number, rateHz: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < samples.length; i++) {
    const angle = (2 * Math.PI * frequencyHz * i) / rateHz;
    re += (samples[i] ?? 0) * Math.cos(angle);
    im -= (samples[i] ?? 0) * Math.sin(angle);
  }
  return (2 * Math.hypot(re, im)) / samples.length;
}

test('resampler keeps an in-band tone (48 kHz → 16 kHz): length, amplitude and frequency', () => {
  const input = tone(1000, 48000, 2);
  const out = resampleInBlocks(input, 48000);
  assert.equal(out.length, 32000);
  const middle = out.subarray(2000, 30000);
  assert.ok(Math.abs(amplitudeAt(middle, 1000, 16000) - 0.5) < 0.01, `1 kHz amplitude ${amplitudeAt(middle, 1000, 16000)}`);
  assert.ok(Math.abs(rms(middle) - 0.5 / Math.SQRT2) < 0.005);
});

test('resampler removes content above 8 kHz instead of aliasing it (decimation would not)', () => {
  // 10 kHz at 48 kHz: picking every third sample folds it to 6 kHz at full amplitude.
  const input = tone(10000, 48000, 1);
  const out = resampleInBlocks(input, 48000).subarray(1000, 15000);
  assert.ok(rms(out) < 0.01 * rms(input), `residual rms ${rms(out)}`);
  const decimated = Float32Array.from({ length: 16000 }, (_, i) => input[i * 3] ?? 0).subarray(1000, 15000);
  assert.ok(amplitudeAt(decimated, 6000, 16000) > 0.4, 'the decimation baseline aliases to 6 kHz');
});

test('resampler handles 44.1 kHz and gives the same result whatever the block size', () => {
  const input = tone(440, 44100, 1.5);
  const small = resampleInBlocks(input, 44100, 128);
  const large = resampleInBlocks(input, 44100, 44100);
  assert.equal(small.length, 24000);
  assert.equal(large.length, small.length);
  for (let i = 0; i < small.length; i++) assert.ok(Math.abs((small[i] ?? 0) - (large[i] ?? 0)) < 1e-6, `sample ${i}`);
  assert.ok(Math.abs(amplitudeAt(small.subarray(2000, 22000), 440, 16000) - 0.5) < 0.01);
});

test('resampler passes 16 kHz input through unchanged', () => {
  const input = tone(300, 16000, 0.1);
  const resampler = new StreamResampler(16000, 16000);
  assert.deepEqual(Array.from(resampler.process(input)), Array.from(input));
  assert.equal(resampler.flush().length, 0);
});

test('framer cuts frames of 15 360 × multiplier samples, applies a new size to the next frame and pads the last one', () => {
  const frames: Float32Array[] = [];
  const framer = new Framer(protocol.frameSamplesFor(2), (frame) => frames.push(frame));
  for (let i = 0; i < 10; i++) framer.push(new Float32Array(7000).fill(0.25));
  assert.deepEqual(frames.map((f) => f.length), [30720, 30720]);
  assert.equal(framer.bufferedSamples, 70000 - 61440);
  framer.setFrameSamples(protocol.frameSamplesFor(1));
  framer.push(new Float32Array(10000).fill(0.25));
  assert.deepEqual(frames.map((f) => f.length), [30720, 30720, 15360]);
  assert.equal(framer.finish(), true);
  const last = frames[frames.length - 1] ?? new Float32Array();
  assert.equal(last.length, 15360);
  assert.equal(last[80000 - 61440 - 15360 - 1], 0.25);
  assert.equal(last[80000 - 61440 - 15360], 0);
  assert.equal(framer.finish(), false, 'nothing left to send');
  assert.equal(framer.totalSamples, 80000);
});

test('transcript turns full-text updates into timed parts and redraws when earlier text changes', () => {
  const transcript = new Transcript();
  assert.equal(transcript.applyFull('Buongiorno', 1.92), 'appended');
  assert.equal(transcript.applyFull('Buongiorno', 2.5), 'unchanged');
  assert.equal(transcript.applyFull('Buongiorno a tutti', 3.84), 'appended');
  assert.deepEqual(transcript.allParts(), [{ text: 'Buongiorno', atSec: 1.92 }, { text: ' a tutti', atSec: 3.84 }]);
  assert.equal(transcript.applyFull('Buongiorno a voi', 5.76), 'rewritten');
  assert.equal(transcript.text, 'Buongiorno a voi');
  transcript.startBlock();
  transcript.applyFull('Ciao', 7);
  assert.equal(transcript.text, 'Buongiorno a voi\n\nCiao');
  transcript.clear();
  assert.equal(transcript.isEmpty, true);
});

test('subtitles: cues start when their part arrived and end when the next one did, in SRT and WebVTT', () => {
  const cues = subtitles.buildCues([
    { text: 'Buongiorno a tutti.', atSec: 1.92 },
    { text: ' Oggi parliamo di traduzione.', atSec: 3.84 },
    { text: ' Grazie <3 & ciao', atSec: 5.76 },
  ]);
  assert.equal(cues.length, 3);
  assert.equal(subtitles.formatTimestamp(3661.5, ','), '01:01:01,500');
  assert.equal(
    subtitles.toSrt(cues).split('\n\n')[0],
    '1\n00:00:01,920 --> 00:00:03,840\nBuongiorno a tutti.',
  );
  const vtt = subtitles.toVtt(cues);
  assert.ok(vtt.startsWith('WEBVTT\n\n00:00:01.920 --> 00:00:03.840\nBuongiorno a tutti.\n'));
  assert.ok(vtt.includes('Grazie &lt;3 &amp; ciao'), 'cue text is escaped');
  const last = cues[2];
  assert.ok(last && last.endSec > last.startSec);
  assert.deepEqual(subtitles.wrapLines('a'.repeat(50), 42), ['a'.repeat(42), 'a'.repeat(8)]);
});

test('status line words: queue position, reconnecting, session lost', () => {
  const base = { session: 'active', queuePosition: 0, sessionProblem: null, socket: 'open', socketInfo: null, capture: 'none', isCapturing: false, isFinishing: false, notice: null, streamNote: null };
  assert.match(describeStatus({ ...base, session: 'queued', queuePosition: 2 }).text, /Queued.*number 2 in line; this page/);
  assert.match(describeStatus({ ...base, session: 'queued', queuePosition: 2, queueWaitSeconds: 44 }).text, /number 2 in line, about 40 seconds to wait;/);
  assert.match(describeStatus({ ...base, session: 'queued', queuePosition: 9, queueWaitSeconds: 400 }).text, /number 9 in line, about 7 minutes to wait;/);
  assert.match(describeStatus({ ...base, socket: 'reconnecting', socketInfo: { attempt: 3 } }).text, /reconnecting \(attempt 3\).*text is kept/);
  assert.equal(describeStatus({ ...base, session: 'lost', sessionProblem: 'gone' }).tone, 'error');
  assert.match(describeStatus({ ...base, capture: 'mic', isCapturing: true }).text, /Listening/);
});

test('server frames: status prefixes are told apart from the full translation; close codes explained', () => {
  assert.deepEqual(protocol.classifyFrame('READY: Scheduler system ready'), { kind: 'ready', text: 'Scheduler system ready' });
  assert.equal(protocol.classifyFrame('ERROR: boom').kind, 'error');
  assert.equal(protocol.classifyFrame('PROCESSING_COMPLETE: File processing finished').kind, 'complete');
  assert.deepEqual(protocol.classifyFrame('Ciao a tutti'), { kind: 'translation', text: 'Ciao a tutti' });
  assert.equal(protocol.describeClose(4000, 'Invalid session ID').isFatal, true);
  assert.equal(protocol.describeClose(1006, '').isFatal, false);
  assert.equal(protocol.isSessionGoneMessage('Invalid session ID'), true);
  assert.equal(protocol.isSessionGoneMessage('Server overloaded, try again later'), false);
});
