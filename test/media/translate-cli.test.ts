import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { join, resolve } from 'node:path';
import { buildApp } from '../../src/app.ts';
import { toEngineOptions } from '../../src/config/engine-options.ts';
import { serverConfigSchema } from '../../src/config/schema.ts';
import { createEngine } from '../../src/inference/engine/engine.ts';
import { translateFile } from '../../src/media/translate-client.ts';
import { startFakeTranslationServer } from './support/fake-translation-server.ts';
import { generateMedia, hasFfmpeg, makeTempDir } from './support/media-fixtures.ts';
import { skipWithout } from '../support/required-tool.ts';

const skip = skipWithout('ffmpeg', !(await hasFfmpeg()) && 'not installed (apt-get install ffmpeg)');
const root = resolve(import.meta.dirname, '..', '..');

function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'scripts', 'translate.ts'), ...args], { cwd: root });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (data: Buffer) => (stdout += data.toString('utf8')));
    child.stderr.on('data', (data: Buffer) => (stderr += data.toString('utf8')));
    child.once('error', reject);
    child.once('close', (code) => resolvePromise({ code, stdout, stderr }));
  });
}

test('translateFile frames the audio as the page does, sends EOF, times cues at chunk ends and deletes the session', { skip }, async (t) => {
  const temp = await makeTempDir('translate');
  const server = await startFakeTranslationServer();
  t.after(async () => {
    await server.close();
    await temp.remove();
  });
  const file = await generateMedia(temp.dir, 'mp3', 5.12); // 81 920 samples = 2 × 30 720 + 20 480
  const result = await translateFile({ filePath: file, serverUrl: server.url, languagePair: 'English -> German', latencyMultiplier: 2 });

  assert.deepEqual(server.frames, [30720 * 4, 30720 * 4, 20480 * 4, 'EOF']);
  const init = server.inits[0];
  assert.equal(init?.get('language_pair'), 'English -> German');
  assert.equal(init?.get('latency_multiplier'), '2');
  assert.equal(init?.get('agent_type'), 'InfiniSST');
  assert.deepEqual(server.deleted, [result.sessionId]);
  assert.equal(result.fullText, 'w1 w2 w3');
  assert.equal(result.audioMs, 5120);
  assert.equal(result.chunksSent, 3);
  assert.deepEqual(result.events, [{ atMs: 1920, text: 'w1' }, { atMs: 3840, text: 'w2' }, { atMs: 5120, text: 'w3' }]);
  assert.deepEqual(result.cues.map((cue) => [cue.startMs, cue.endMs, cue.text]), [[1920, 3840, 'w1'], [3840, 5120, 'w2'], [5120, 5620, 'w3']]);
});

test('translateFile keeps going when the model stays silent for some chunks', { skip }, async (t) => {
  const temp = await makeTempDir('translate-silent');
  const server = await startFakeTranslationServer({ silentFrames: new Set([1, 2, 3]) });
  t.after(async () => {
    await server.close();
    await temp.remove();
  });
  const file = await generateMedia(temp.dir, 'wav', 6.144); // 98 304 samples = 6 × 15 360 + 6 144
  const result = await translateFile({
    filePath: file, serverUrl: server.url, languagePair: 'English -> Chinese', latencyMultiplier: 1, maxInFlight: 1, ackTimeoutMs: 20,
  });
  assert.equal(result.chunksSent, 7);
  assert.equal(result.fullText, 'w4 w5 w6 w7');
  assert.equal(server.frames.at(-1), 'EOF');
});

test('translateFile fails clearly when the server closes the socket, and still deletes the session', { skip }, async (t) => {
  const temp = await makeTempDir('translate-closed');
  const server = await startFakeTranslationServer({ rejectSockets: true });
  t.after(async () => {
    await server.close();
    await temp.remove();
  });
  const file = await generateMedia(temp.dir, 'wav', 2.048);
  await assert.rejects(
    translateFile({ filePath: file, serverUrl: server.url, languagePair: 'English -> Chinese', latencyMultiplier: 2 }),
    /closed the WebSocket \(4000 Invalid session ID\)/,
  );
  assert.equal(server.deleted.length, 1);
});

test('the CLI prints the growing translation and writes SRT and VTT files', { skip }, async (t) => {
  const temp = await makeTempDir('translate-cli');
  const server = await startFakeTranslationServer();
  t.after(async () => {
    await server.close();
    await temp.remove();
  });
  const file = await generateMedia(temp.dir, 'webm', 2.048); // 32 768 samples = 2 × 15 360 + 2 048
  const srt = join(temp.dir, 'out.srt');
  const vtt = join(temp.dir, 'out.vtt');
  const { code, stdout, stderr } = await runCli([
    file, '--url', server.url, '--pair', 'English -> Italian', '--latency', '1', '--srt', srt, '--vtt', vtt, '--speed', '50',
  ]);
  assert.equal(code, 0, stderr);
  assert.deepEqual(server.frames, [15360 * 4, 15360 * 4, 2048 * 4, 'EOF']);
  assert.match(stdout, /^\[\d\d:\d\d:\d\d\.\d{3}\] w1$/m);
  assert.match(stdout, /^w1 w2 w3$/m);
  assert.match(stderr, /3 chunks, 3 cues, 0 server errors/);
  const srtText = await readFile(srt, 'utf8');
  assert.match(srtText, /^1\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\nw1\n\n2\n/);
  assert.equal(srtText.match(/-->/g)?.length, 3);
  const vttText = await readFile(vtt, 'utf8');
  assert.ok(vttText.startsWith('WEBVTT\n\n'));
  assert.equal(vttText.match(/-->/g)?.length, 3);
  assert.equal(server.deleted.length, 1);
});

test('the CLI explains itself and rejects bad arguments', async () => {
  const helpRun = await runCli(['--help']);
  assert.equal(helpRun.code, 0);
  assert.match(helpRun.stdout, /public API/);
  assert.match(helpRun.stdout, /measures is the real server/);
  const bad = await runCli(['a.wav', '--latency', 'zero']);
  assert.equal(bad.code, 2);
  assert.match(bad.stderr, /--latency must be a positive number/);
  const none = await runCli([]);
  assert.equal(none.code, 2);
});

// End to end against the real server (buildApp + the engine on the tiny default models).
test('the CLI translates a file through the real server and writes subtitles', { skip }, async (t) => {
  const temp = await makeTempDir('translate-real');
  t.after(() => temp.remove());
  const config = serverConfigSchema.parse({
    logging: { level: 'silent', toFile: false },
    engine: { devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1 }] },
    media: { youtube: { enabled: false } },
  });
  const engine = await createEngine(toEngineOptions(config, root));
  const app = await buildApp(config, { engine, cwd: root, runTimers: false });
  t.after(async () => {
    await app.close();
    await engine.close();
  });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const { port } = app.server.address() as AddressInfo;
  const file = await generateMedia(temp.dir, 'mp3', 4.096); // 65 536 samples = 2 × 30 720 + 4 096
  const srt = join(temp.dir, 'real.srt');
  const vtt = join(temp.dir, 'real.vtt');
  const { code, stdout, stderr } = await runCli([file, '--url', `http://127.0.0.1:${port}`, '--pair', 'English -> German', '--srt', srt, '--vtt', vtt]);
  assert.equal(code, 0, stderr);
  assert.match(stderr, /3 chunks, (\d+) cues, 0 server errors/);
  assert.match(stderr, /translate: DEMO MODEL: the server's model for English -> German has random weights; what follows is not a translation/);
  const cueCount = Number(/3 chunks, (\d+) cues/.exec(stderr)?.[1]);
  const printed = stdout.split('\n').filter((line) => /^\[\d\d:\d\d:\d\d\.\d{3}\] /.test(line));
  assert.equal(printed.length, cueCount, 'one printed line per translation addition');
  const srtText = await readFile(srt, 'utf8');
  assert.equal(srtText.match(/-->/g)?.length ?? 0, cueCount);
  for (const block of srtText.split('\n\n').filter((b) => b.trim() !== '')) {
    assert.match(block, /^\d+\n\d\d:\d\d:\d\d,\d{3} --> \d\d:\d\d:\d\d,\d{3}\n.+/);
  }
  assert.ok((await readFile(vtt, 'utf8')).startsWith('WEBVTT\n'));
  // The CLI deleted its session at the end.
  const health = await fetch(`http://127.0.0.1:${port}/health`).then((response) => response.json()) as { active_sessions_count?: number };
  assert.equal(health.active_sessions_count, 0);
});
