/**
 * Load test against a running server, with sessions made the way the page makes them: POST /init
 * with query parameters, a /wss socket, POST /ping every 5 s, binary frames of 15 360 × m float32
 * samples, paced at `--speed` × real time, speech looped from a WAV file (default: the five
 * sentences in samples/eval/wav). At the end each session sends EOF and waits for
 * PROCESSING_COMPLETE.
 *
 *   npm run load -- --url http://127.0.0.1:8000 --sessions 50 --speed 1 --seconds 60
 *     [--pair "English -> German"] [--latency 2] [--audio FILE] [--ramp-seconds N] [--protocol realtime]
 *
 * `--protocol realtime`: the same sessions over the OpenAI-Realtime-compatible protocol instead
 * (/v1/realtime/translations, 200 ms appends of 24 kHz PCM16, session.close).
 *
 * Prints: frame-to-text lag percentiles (server side, every chunk: from /metrics), the drain time
 * after the last frame per session (client side), ping round trips, errors, sessions without
 * output, the server's RSS and CPU, and the load average. Exits 1 if any session failed.
 */
import { readFile } from 'node:fs/promises';
import { loadavg } from 'node:os';
import { resolve } from 'node:path';
import { BASE_FRAME_SAMPLES, createSession, deleteSession, openTranslationSocket, ping as pingSession } from '../src/client/translation-client.ts';
import type { TranslationSocket } from '../src/client/translation-client.ts';
import { decodeWav } from '../src/evaluation/wav.ts';
import { toPcm16 } from '../src/protocol/pcm16-audio.ts';
import { runRealtimeSession, type SessionResult } from './load/realtime-session.ts';
import { DEFAULT_LANGUAGE_PAIR, DEFAULT_SERVER_URL, parseCommandLine, SHARED_FLAGS_NOTE, usageError } from './command-line.ts';

const USAGE = `Load test of a running server: sessions made as the page makes them, speech at --speed x real time.

Usage: npm run load -- [options]
  --url URL                     server (default http://127.0.0.1:8000)
  --sessions N                  concurrent sessions (default 10)
  --speed S                     audio pace, x real time (default 1)
  --seconds T                   audio per session (default 30)
  --pair "A -> B"               language pair (default "English -> German")
  --latency M                   latency multiplier: chunks of 960 ms x M (default 2)
  --audio FILE                  16 kHz mono speech WAV, looped (default: samples/eval/wav)
  --ramp-seconds N              spread session starts over N s (default min(10, seconds / 4))
  --timeout S                   after the last frame, wait this long for the last text (default 120)
  --protocol wss|realtime       the page's protocol (POST /init, /wss/{id}, float32 frames; default),
                                or the OpenAI-Realtime-compatible one (/v1/realtime/translations,
                                200 ms appends of 24 kHz PCM16, session.close)
  -h, --help                    this text

Exits 1 if a session failed. The server's per-address limits must leave room for --sessions
(see docs/operations.md).

${SHARED_FLAGS_NOTE}`;

const { values: args } = parseCommandLine('load', USAGE, {
  url: { type: 'string', default: DEFAULT_SERVER_URL },
  sessions: { type: 'string', default: '10' },
  speed: { type: 'string', default: '1' },
  seconds: { type: 'string', default: '30' },
  pair: { type: 'string', default: DEFAULT_LANGUAGE_PAIR },
  latency: { type: 'string', default: '2' },
  audio: { type: 'string' },
  'ramp-seconds': { type: 'string' },
  timeout: { type: 'string', default: '120' },
  protocol: { type: 'string', default: 'wss' },
});
const protocol = args.protocol;
if (protocol !== 'wss' && protocol !== 'realtime') usageError('load', `--protocol is wss or realtime, got "${protocol}"`);
const baseUrl = (args.url ?? '').replace(/\/$/, '');
const sessionCount = Number(args.sessions);
const speed = Number(args.speed);
const seconds = Number(args.seconds);
const multiplier = Number(args.latency);
const rampMs = 1000 * Number(args['ramp-seconds'] ?? Math.min(10, seconds / 4));
const drainTimeoutMs = 1000 * Number(args.timeout);
const frameSamples = BASE_FRAME_SAMPLES * multiplier;
const frameIntervalMs = (frameSamples / 16) / speed;
for (const [name, value] of Object.entries({ sessions: sessionCount, speed, seconds, latency: multiplier, 'ramp-seconds': rampMs / 1000, timeout: drainTimeoutMs / 1000 })) {
  if (!Number.isFinite(value) || value < 0 || (name !== 'ramp-seconds' && value === 0)) usageError('load', `invalid --${name}: ${value}`);
}

async function speechAudio(): Promise<Float32Array> {
  const files = args.audio ? [resolve(args.audio)] : ['01-weather', '02-coffee', '03-train', '04-latency', '05-thanks'].map((n) => resolve('samples/eval/wav', `${n}.wav`));
  const parts = await Promise.all(files.map(async (file) => {
    const wav = decodeWav(await readFile(file));
    if (wav.sampleRateHz !== 16_000) throw new Error(`${file}: ${wav.sampleRateHz} Hz; 16 kHz mono is needed (sox in.wav -r 16000 -c 1 out.wav)`);
    return wav.samples;
  }));
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function runSession(index: number, audio: Float32Array, pcm24k: Buffer | null): Promise<SessionResult> {
  if (pcm24k) {
    await sleep((rampMs * index) / Math.max(1, sessionCount));
    return runRealtimeSession({ baseUrl, model: args.pair ?? '', latency: multiplier, pcm24k, seconds, speed, drainTimeoutMs });
  }
  const result: SessionResult = { id: null, framesSent: 0, textFrames: 0, errorFrames: [], failure: null, drainMs: null, pingsMs: [], closeCode: null, isDrainTimedOut: false };
  await sleep((rampMs * index) / Math.max(1, sessionCount));
  let pinger: NodeJS.Timeout | undefined;
  let socket: TranslationSocket | undefined;
  try {
    const { sessionId: id } = await createSession(baseUrl, { agent_type: 'InfiniSST', language_pair: args.pair ?? '', latency_multiplier: String(multiplier), client_id: `load_${index}_${Date.now().toString(36)}` });
    result.id = id;
    const ping = async (): Promise<void> => {
      const startedAt = performance.now();
      try {
        await pingSession(baseUrl, id);
        result.pingsMs.push(performance.now() - startedAt);
      } catch (error) {
        result.errorFrames.push(`ping: ${String(error)}`);
      }
    };
    void ping();
    pinger = setInterval(() => void ping(), 5_000);
    let onComplete: (() => void) | undefined;
    const ws = openTranslationSocket(baseUrl, id, {
      onFrame(frame) {
        if (frame.kind === 'error') result.errorFrames.push(frame.raw);
        else if (frame.kind === 'complete') onComplete?.();
        else if (frame.kind === 'translation') result.textFrames++;
      },
      onClose: ({ code }) => (result.closeCode = code),
    }, 'full');
    socket = ws;
    await ws.opened;
    const startedAt = performance.now();
    // --seconds is audio per session, whatever the pace.
    const totalFrames = Math.max(1, Math.round((seconds * 1000) / (frameSamples / 16)));
    for (let frame = 0; frame < totalFrames; frame++) {
      const due = startedAt + frame * frameIntervalMs;
      const wait = due - performance.now();
      if (wait > 0) await sleep(wait);
      if (!ws.isOpen) throw new Error(`socket closed early (${result.closeCode ?? 'no code'})`);
      const chunk = new Float32Array(frameSamples);
      const offset = (frame * frameSamples) % audio.length;
      chunk.set(audio.subarray(offset, offset + frameSamples));
      if (offset + frameSamples > audio.length) chunk.set(audio.subarray(0, offset + frameSamples - audio.length), audio.length - offset);
      // Not awaited, as before: a failed send shows up as the socket closing.
      void ws.sendAudio(chunk).catch(() => undefined);
      result.framesSent++;
    }
    const eofAt = performance.now();
    const complete = new Promise<void>((done) => (onComplete = done));
    void ws.sendEof().catch(() => undefined);
    let drainTimer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<boolean>((done) => (drainTimer = setTimeout(() => done(false), drainTimeoutMs)));
    const isComplete = await Promise.race([complete.then(() => true), ws.closed.then(() => false), timedOut]);
    clearTimeout(drainTimer);
    if (isComplete) result.drainMs = performance.now() - eofAt;
    else if (ws.isOpen) result.isDrainTimedOut = true;
    else throw new Error(`socket closed before PROCESSING_COMPLETE (${result.closeCode ?? 'no code'})`);
    ws.close();
  } catch (error) {
    result.failure = error instanceof Error ? error.message : String(error);
  } finally {
    clearInterval(pinger);
    socket?.terminate();
    if (result.id !== null) await deleteSession(baseUrl, result.id).catch(() => undefined);
  }
  return result;
}

/** Sums a Prometheus histogram's buckets over all label sets: le → cumulative count. */
function histogram(metrics: string, name: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of metrics.split('\n')) {
    if (!line.startsWith(`${name}_bucket{`)) continue;
    const le = /le="([^"]+)"/.exec(line)?.[1];
    const value = Number(line.slice(line.lastIndexOf(' ') + 1));
    if (le === undefined) continue;
    const bound = le === '+Inf' ? Infinity : Number(le);
    out.set(bound, (out.get(bound) ?? 0) + value);
  }
  return out;
}

function gauge(metrics: string, name: string): number | null {
  const line = metrics.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.slice(name.length + 1)) : null;
}

/** Quantile of (after − before) bucket counts, interpolated linearly inside the bucket. */
function histogramQuantile(before: Map<number, number>, after: Map<number, number>, q: number): number | null {
  const bounds = [...after.keys()].sort((a, b) => a - b);
  const counts = bounds.map((b) => (after.get(b) ?? 0) - (before.get(b) ?? 0));
  const total = counts[counts.length - 1] ?? 0;
  if (total <= 0) return null;
  const rank = q * total;
  let lower = 0;
  let lowerCount = 0;
  for (const [i, bound] of bounds.entries()) {
    const count = counts[i] ?? 0;
    if (count >= rank) return bound === Infinity ? lower : lower + ((bound - lower) * (rank - lowerCount)) / Math.max(1, count - lowerCount);
    lower = bound;
    lowerCount = count;
  }
  return lower;
}

function percentile(values: number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? null;
}

const fmt = (value: number | null, unit = 'ms', digits = 0): string => (value === null ? 'n/a' : `${value.toFixed(digits)} ${unit}`);

async function scrape(): Promise<string> {
  return (await fetch(`${baseUrl}/metrics`)).text();
}

async function main(): Promise<void> {
  const audio = await speechAudio();
  const loadBefore = loadavg();
  const metricsBefore = await scrape();
  let peakRss = gauge(metricsBefore, 'process_resident_memory_bytes') ?? 0;
  const sampler = setInterval(() => {
    void scrape().then((text) => (peakRss = Math.max(peakRss, gauge(text, 'process_resident_memory_bytes') ?? 0)), () => undefined);
  }, 5_000);
  const framing = protocol === 'realtime' ? 'realtime protocol, 200 ms appends of 24 kHz PCM16' : `/wss, ${frameSamples} samples/frame`;
  console.log(`load: ${sessionCount} sessions × ${seconds} s of audio at ${speed}× real time (m=${multiplier}, ${framing}) → ${baseUrl}`);
  const startedAt = performance.now();
  // A long run says how far it is every 10 s.
  let finished = 0;
  const progress = setInterval(() => {
    console.log(`  … ${((performance.now() - startedAt) / 1000).toFixed(0)} s: ${finished}/${sessionCount} sessions finished`);
  }, 10_000);
  const pcm24k = protocol === 'realtime' ? toPcm16(audio, 16_000, 24_000) : null;
  const results = await Promise.all(Array.from({ length: sessionCount }, (_, i) => runSession(i, audio, pcm24k).finally(() => finished++)));
  clearInterval(progress);
  clearInterval(sampler);
  const elapsedS = (performance.now() - startedAt) / 1000;
  const metricsAfter = await scrape();
  const lagBefore = histogram(metricsBefore, 'infinisst_chunk_lag_seconds');
  const lagAfter = histogram(metricsAfter, 'infinisst_chunk_lag_seconds');
  const chunks = (lagAfter.get(Infinity) ?? 0) - (lagBefore.get(Infinity) ?? 0);
  const failed = results.filter((r) => r.failure !== null);
  const behind = results.filter((r) => r.isDrainTimedOut);
  const silent = results.filter((r) => r.failure === null && r.textFrames === 0);
  const errors = results.flatMap((r) => r.errorFrames);
  const drains = results.flatMap((r) => (r.drainMs === null ? [] : [r.drainMs]));
  const pings = results.flatMap((r) => r.pingsMs);
  const rss = gauge(metricsAfter, 'process_resident_memory_bytes');
  const q = (x: number): string => fmt((histogramQuantile(lagBefore, lagAfter, x) ?? NaN) * 1000);
  console.log(`done in ${elapsedS.toFixed(1)} s; ${results.reduce((n, r) => n + r.framesSent, 0)} frames sent, ${chunks} chunks translated (${(chunks / elapsedS).toFixed(1)}/s)`);
  console.log(`frame-to-text lag (server, every chunk): p50 ${q(0.5)}, p90 ${q(0.9)}, p99 ${q(0.99)}`);
  console.log(`drain after the last frame (client, per session): p50 ${fmt(percentile(drains, 0.5))}, p90 ${fmt(percentile(drains, 0.9))}, max ${fmt(percentile(drains, 1))}` +
    (behind.length > 0 ? `; ${behind.length} sessions still behind after --timeout ${drainTimeoutMs / 1000}` : ''));
  console.log(`ping round trip: p50 ${fmt(percentile(pings, 0.5), 'ms', 1)}, p99 ${fmt(percentile(pings, 0.99), 'ms', 1)}`);
  console.log(`sessions: ${sessionCount - failed.length} ok, ${failed.length} failed, ${silent.length} without output; ${results.reduce((n, r) => n + r.textFrames, 0)} ${protocol === 'realtime' ? 'transcript deltas' : 'text frames'}; ${errors.length} errors`);
  for (const failure of failed.slice(0, 5)) console.log(`  failed: ${failure.failure ?? ''}`);
  for (const error of [...new Set(errors)].slice(0, 5)) console.log(`  error: ${error.slice(0, 160)}`);
  console.log(`server RSS: ${fmt(rss === null ? null : rss / 2 ** 20, 'MiB')} at the end, ${fmt(peakRss / 2 ** 20, 'MiB')} peak (sampled every 5 s)`);
  const cpuBefore = gauge(metricsBefore, 'process_cpu_seconds_total');
  const cpuAfter = gauge(metricsAfter, 'process_cpu_seconds_total');
  if (cpuBefore !== null && cpuAfter !== null) console.log(`server CPU: ${(cpuAfter - cpuBefore).toFixed(1)} s over ${elapsedS.toFixed(1)} s (${((cpuAfter - cpuBefore) / elapsedS).toFixed(2)} cores; main thread and workers)`);
  console.log(`load average (1/5/15 min): before ${loadBefore.map((x) => x.toFixed(2)).join(' ')}, after ${loadavg().map((x) => x.toFixed(2)).join(' ')}`);
  if (failed.length > 0) process.exitCode = 1;
}

main().catch((error: unknown) => {
  console.error(`load: ${error instanceof Error ? error.message : String(error)}`);
  process.exitCode = 1;
});
