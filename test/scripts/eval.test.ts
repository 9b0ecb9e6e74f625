/**
 * The evaluation CLI end to end: against a scripted protocol server (exact outputs and delays,
 * so scores can be checked by hand) and against the real app with the default models on the
 * bundled sample set.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { isAppError } from '../../src/errors.ts';
import { runEvaluation, type EvalReport } from '../../src/evaluation/eval-runner.ts';
import { encodeWavPcm16 } from '../../src/evaluation/wav.ts';
import { startFakeServer, type FakeMode, type FakeServer } from '../evaluation/fake-translation-server.ts';

const ROOT = resolve(import.meta.dirname, '../..');

interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

function runCli(args: string[]): Promise<CliRun> {
  return new Promise((done) => {
    // The timeout only stops a hung child; no assertion depends on speed.
    execFile(process.execPath, ['--import', 'tsx', 'scripts/eval.ts', ...args], { cwd: ROOT, timeout: 300_000 }, (error, stdout, stderr) => {
      const code = error && typeof error.code === 'number' ? error.code : error ? 1 : 0;
      done({ code, stdout, stderr });
    });
  });
}

function tone(samples: number): Float32Array {
  return Float32Array.from({ length: samples }, (_, i) => 0.3 * Math.sin((2 * Math.PI * 220 * i) / 16000));
}

/** Two files: 72 000 samples (4.5 s: four 960 ms chunks + 660 ms) and 48 000 (3 s: three + 120 ms). */
async function fixture(t: { after: (fn: () => Promise<void>) => void }): Promise<{ dir: string; refs: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'eval-cli-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  await writeFile(join(dir, 'a.wav'), encodeWavPcm16(tone(72_000), 16000));
  await writeFile(join(dir, 'b.wav'), encodeWavPcm16(tone(48_000), 16000));
  const refs = join(dir, 'refs.txt');
  // At m = 1 the scripted model says w0..w4 for a.wav and w0..w3 for b.wav: the references match exactly.
  await writeFile(refs, 'w0 w1 w2 w3 w4\nw0 w1 w2 w3\n');
  return { dir, refs };
}

async function fake(t: { after: (fn: () => Promise<void>) => void }, mode: FakeMode): Promise<FakeServer> {
  const server = await startFakeServer(mode);
  t.after(() => server.close());
  return server;
}

test('the CLI streams every file per multiplier and reports hand-checkable BLEU, chrF, AL and LAAL', async (t) => {
  const server = await fake(t, 'server-delays');
  const { dir, refs } = await fixture(t);
  const jsonPath = join(dir, 'report.json');
  const run = await runCli(['--audio', dir, '--refs', refs, '--pair', 'English -> German', '--latency', '1,2', '--speed', '0', '--url', server.url, '--json', jsonPath, '--quiet']);
  assert.equal(run.code, 0, run.stderr);
  const report = JSON.parse(await readFile(jsonPath, 'utf8')) as EvalReport;
  assert.deepEqual(report.files, ['a.wav', 'b.wav']);
  assert.equal(report.unit, 'word');
  assert.equal(report.bleuTokenizer, '13a');
  const [m1, m2] = report.results;
  assert.ok(m1 && m2);
  // sacreBLEU's own arithmetic gives 100.00000000000004 for a perfect match too.
  assert.ok(Math.abs(m1.bleu.score - 100) < 1e-9);
  assert.equal(m1.chrf.score, 100);
  assert.equal(m1.ncaSource, 'server');
  // a.wav: delays 960, 1920, 2880, 3840, 4500 (|X| = 4500, |Y| = 5, 1/γ = 900):
  //   960; 1920 − 900; 2880 − 1800; 3840 − 2700; 4500 − 3600 (τ = 5) → 5100 / 5 = 1020.
  // b.wav: 960, 1920, 2880, 3000 (|X| = 3000, |Y| = 4, 1/γ = 750): 960; 1170; 1380; 750 → 4260 / 4 = 1065.
  assert.equal(m1.latency.AL, (1020 + 1065) / 2);
  assert.equal(m1.latency.LAAL, (1020 + 1065) / 2);
  assert.ok(m1.latency.AL_CA !== null && Number.isFinite(m1.latency.AL_CA));
  assert.deepEqual(m1.instances[0]?.delays, [960, 1920, 2880, 3840, 4500]);
  assert.equal(m1.instances[0]?.prediction, 'w0 w1 w2 w3 w4');
  // m = 2: a.wav → w0 w1 w2 at 1920, 3840, 4500 (1/γ = 4500/5 = 900): 1920; 2940; 2700 → 2520.
  // b.wav → w0 w1 at 1920, 3000 (1/γ = 750): 1920; 2250 → 2085. LAAL: max(|hyp|, |ref|) = |ref| here.
  assert.equal(m2.latency.AL, (2520 + 2085) / 2);
  assert.equal(m2.latency.LAAL, (2520 + 2085) / 2);
  assert.ok(m2.bleu.score < 100);
  // Frames of 15 360 × m samples, the last one unpadded, then EOF; every session deleted afterwards.
  const frameLists = [...server.frames.values()];
  assert.deepEqual(frameLists[0], [15360, 15360, 15360, 15360, 10560]);
  assert.deepEqual(frameLists[2], [30720, 30720, 10560]);
  assert.equal(server.textFrames.filter((f) => f === 'EOF').length, 4);
  assert.equal(server.deleted.length, 4);
  // The table: a header row and one row per multiplier.
  const rows = run.stdout.split('\n').filter((line) => /^\s*\d\s/.test(line));
  assert.equal(rows.length, 2);
  assert.match(run.stdout, /BLEU\s+chrF\s+AL\s+AL_CA\s+LAAL\s+LAAL_CA\s+RTF/);
  assert.match(rows[0] ?? '', /^\s*1\s+100\.00\s+100\.00\s+1043\s/);
  // Unpaced: computation-aware figures are marked, and said not to be comparable.
  assert.match(rows[0] ?? '', /^\s*1\s+100\.00\s+100\.00\s+1043\s+\d+†\s+1043\s+\d+†\s+[\d.]+†$/);
  assert.match(run.stdout, /† not comparable with published figures: audio was sent as fast as possible/);
  // CA = source time + answer time: never below the NCA delay, however fast the audio was sent.
  for (const instance of m1.instances) instance.delays.forEach((delay, i) => assert.ok((instance.elapsed[i] ?? 0) >= delay, `${instance.elapsed[i]} < ${delay}`));
  assert.doesNotMatch(run.stdout, /\* m=/, 'no over-generation here');
});

test('over-generation is marked: SimulEval AL is not comparable, LAAL is', async (t) => {
  const server = await fake(t, 'server-delays');
  const { dir } = await fixture(t);
  const refs = join(dir, 'short-refs.txt');
  await writeFile(refs, 'w0\nw0\n');
  const run = await runCli(['--audio', dir, '--refs', refs, '--latency', '1', '--speed', '1', '--url', server.url, '--quiet']);
  assert.equal(run.code, 0, run.stderr);
  const row = run.stdout.split('\n').find((line) => /^\s*1\s/.test(line)) ?? '';
  assert.match(row, /^\s*1\s+[\d.]+\s+[\d.]+\s+-?\d+\*\s+-?\d+\*\s+\d+\s+\d+\s+[\d.]+$/, 'AL and AL_CA marked, LAAL not; paced: no †');
  assert.match(run.stdout, /\* m=1: the hypothesis is longer than the reference in 2 of 2 file\(s\)/);
});

test('without the server tracker the client falls back to the audio sent when a unit arrived', async (t) => {
  const server = await fake(t, 'no-delays');
  const report = await runEvaluation({
    baseUrl: server.url,
    languagePair: 'English -> German',
    latencies: [1],
    speed: 0,
    items: [{ name: 'a', samples: tone(72_000), reference: 'w0 w1 w2 w3 w4' }],
  });
  const result = report.results[0];
  assert.ok(result);
  assert.equal(result.ncaSource, 'client');
  const delays = result.instances[0]?.delays ?? [];
  assert.equal(delays.length, 5);
  // A unit cannot arrive before the chunk that produced it was sent, nor count audio beyond the file.
  [960, 1920, 2880, 3840, 4500].forEach((chunkEnd, i) => {
    assert.ok((delays[i] ?? 0) >= chunkEnd && (delays[i] ?? 0) <= 4500, `unit ${i}: ${delays[i]}`);
  });
});

test('progress names each file as i/N, and a long file reports how much audio was sent', async (t) => {
  const server = await fake(t, 'server-delays');
  const lines: string[] = [];
  await runEvaluation({
    baseUrl: server.url,
    languagePair: 'English -> German',
    latencies: [1],
    speed: 0,
    items: [{ name: 'a', samples: tone(72_000), reference: 'x' }, { name: 'b', samples: tone(48_000), reference: 'y' }],
    log: (line) => lines.push(line),
  });
  assert.deepEqual(lines.filter((line) => line.startsWith('m=')), ['m=1 [1/2] a (4.5 s)', 'm=1 [2/2] b (3.0 s)']);
  const sent: number[] = [];
  const { streamFile } = await import('../../src/evaluation/stream-client.ts');
  await streamFile({ baseUrl: server.url, languagePair: 'English -> German', unitKind: 'word', latencyMultiplier: 1, samples: tone(72_000), speed: 0, timeoutMs: 60_000, progressEveryMs: 0, onProgress: (ms) => sent.push(ms) });
  assert.deepEqual(sent, [960, 1920, 2880, 3840, 4500]);
});

test('a server that revises emitted text fails the evaluation', async (t) => {
  const server = await fake(t, 'revise');
  await assert.rejects(
    runEvaluation({ baseUrl: server.url, languagePair: 'English -> German', latencies: [1], speed: 0, items: [{ name: 'a', samples: tone(72_000), reference: 'x' }] }),
    (e: unknown) => isAppError(e) && e.code === 'internal' && /revised/.test(e.message),
  );
  const { dir, refs } = await fixture(t);
  const run = await runCli(['--audio', dir, '--refs', refs, '--latency', '1', '--speed', '0', '--url', server.url, '--quiet']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /revised/);
});

test('bad arguments exit with code 2 and one line pointing at --help', async () => {
  const run = await runCli(['--latency', 'fast']);
  assert.equal(run.code, 2);
  assert.match(run.stderr, /--latency takes integers.*\(see --help\)/);
  assert.equal(run.stderr.trim().split('\n').length, 1);
  const unknown = await runCli(['--frobnicate']);
  assert.equal(unknown.code, 2);
});

test('an unreachable server is reported clearly', async (t) => {
  const server = await startFakeServer('server-delays');
  const url = server.url;
  await server.close();
  const { dir, refs } = await fixture(t);
  const run = await runCli(['--audio', dir, '--refs', refs, '--speed', '0', '--url', url, '--quiet']);
  assert.equal(run.code, 1);
  assert.match(run.stderr, /cannot reach the server/);
});

test('npm run eval on the bundled samples runs end to end against the real app and engine', async (t) => {
  const { buildApp } = await import('../../src/app.ts');
  const { defaultConfig } = await import('../../src/config/load-config.ts');
  const { toEngineOptions } = await import('../../src/config/engine-options.ts');
  const { createEngine } = await import('../../src/inference/engine/engine.ts');
  const config = defaultConfig();
  const engine = await createEngine(toEngineOptions(config, ROOT));
  const app = await buildApp(config, { engine, runTimers: false, cwd: ROOT });
  const address = await app.listen({ port: 0, host: '127.0.0.1' });
  const started = {
    url: address,
    close: async () => {
      await app.close();
      await engine.close();
    },
  };
  t.after(() => started.close());
  const dir = await mkdtemp(join(tmpdir(), 'eval-real-'));
  t.after(() => rm(dir, { recursive: true, force: true }));
  const jsonPath = join(dir, 'report.json');
  // Defaults: samples/eval/wav, refs.de.txt, English -> German.
  const run = await runCli(['--latency', '2', '--speed', '0', '--url', started.url, '--json', jsonPath, '--quiet']);
  assert.equal(run.code, 0, run.stderr);
  // The embedded models are random-weight demos: the report says so first.
  assert.match(run.stdout, /^DEMO MODEL: the server's model for English -> German has random weights; its output is not a translation/);
  const report = JSON.parse(await readFile(jsonPath, 'utf8')) as EvalReport;
  assert.equal(report.files.length, 5);
  const result = report.results[0];
  assert.ok(result);
  assert.equal(result.instances.length, 5);
  assert.ok(result.instances.every((instance) => instance.source_length > 1000));
  assert.ok(Number.isFinite(result.bleu.score) && Number.isFinite(result.chrf.score));
  assert.ok(result.rtf > 0);
  assert.deepEqual(result.serverErrors, []);
});
