import assert from 'node:assert/strict';
import { cp, readFile, rm, writeFile, copyFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadModelPackage } from '../../src/inference/manifest.ts';
import { createSession } from '../../src/inference/worker/session-factory.ts';
import type { EngineStream } from '../../src/inference/translation-stream.ts';
import { copyPackage, MODELS_DIR, startEngine, testAudio } from '../support/engine-fixtures.ts';
import { hasNvidiaGpu } from '../support/gpu.ts';

test('CUDA asked for: it loads where there is a GPU; elsewhere the CPU loads and the fallback says why', async () => {
  const loaded = await createSession(join(MODELS_DIR, 'tiny-en-de', 'embed.onnx'), { providers: ['cuda', 'cpu'], device: 'cuda:0', intraOpThreads: 1 });
  t_after(loaded.session);
  if (hasNvidiaGpu()) {
    assert.equal(loaded.provider, 'cuda');
    assert.deepEqual(loaded.fallbacks, []);
  } else {
    assert.equal(loaded.provider, 'cpu');
    assert.equal(loaded.fallbacks[0]?.provider, 'cuda');
    assert.ok((loaded.fallbacks[0]?.error ?? '').length > 0);
  }
});

function t_after(session: { release(): Promise<void> }) {
  void session.release();
}

test('an engine configured for a GPU device reports the provider that actually loaded', async (t) => {
  const engine = await startEngine({ devices: [{ device: 'cuda:0', workers: 1, intraOpThreads: 1, languagePairs: ['English -> German'] }], executionProviders: ['cuda', 'cpu'] });
  t.after(() => engine.close());
  // Without a GPU the group is named by what it runs on, not by the device it was configured for.
  const [name, loaded] = hasNvidiaGpu() ? ['cuda:0', 'cuda'] : ['cpu (fallback for cuda:0)', 'cpu'];
  assert.deepEqual(engine.languagePairs().filter((p) => engine.isServed(p.languagePair)).map((p) => [p.languagePair, p.device, p.provider]), [['English -> German', name, loaded]]);
});

test('model state stays bounded by the cache windows over an hour of audio', async (t) => {
  const root = await copyPackage('tiny-en-de', (m) => {
    (m.decoder as Record<string, unknown>).maxCacheTokens = 64;
    (m.encoder as Record<string, unknown>).maxCacheFrames = 96;
  });
  t.after(() => rm(root, { recursive: true, force: true }));
  const engine = await startEngine({ modelsDir: root, beamSize: 1 });
  t.after(() => engine.close());
  const stream = engine.openStream({ languagePair: 'English -> German', latencyMultiplier: 4 }) as EngineStream;
  const chunk = testAudio(15360 * 4, 3);
  const chunksPerHour = Math.ceil(3600_000 / (960 * 4));
  const sizes: number[] = [];
  for (let i = 0; i < chunksPerHour; i++) {
    stream.pushAudio(chunk);
    if (i % 50 === 49) {
      await stream.flush();
      sizes.push(stream.modelStateBytes);
    }
  }
  await stream.flush();
  // The encoder's window (1 layer, K+V, 2 heads, 96 frames, dim 16) plus the session's decoder
  // slot: the 64-token window, the longest chunk prompt (pending token, template, 12 × 4 speech
  // embeddings) and up to 40 generated tokens in the prefix, and one beam's 40-token suffix
  // (2 layers, K+V, 3 KV heads, dim 16) — allocated once, whatever the stream's length.
  const m = (await loadModelPackage(join(root, 'tiny-en-de'))).manifest;
  const templates = Object.values(m.languagePairs).flatMap((pair) => [pair.prompt.first, pair.prompt.next]);
  const prompt = 1 + Math.max(...templates.map((tpl) => tpl.prefix.length + tpl.suffix.length)) + 12 * 4;
  const bound = (1 * 2 * 2 * 96 * 16 + 2 * 2 * 3 * 16 * (64 + prompt + 40 + 40)) * 4;
  assert.ok(Math.max(...sizes) <= bound, `state ${Math.max(...sizes)} B exceeds window bound ${bound} B`);
  assert.equal(new Set(sizes.slice(1)).size, 1, `state size must be flat once windows are full: ${sizes.join(',')}`);
  assert.ok(stream.receivedAudioMs >= 3600_000);
  assert.equal(stream.pendingAudioMs, 0);
});

test('a broken model folder fails with a message naming the file and the problem', async (t) => {
  const missing = await copyPackage('tiny-en-it');
  t.after(() => rm(missing, { recursive: true, force: true }));
  await rm(join(missing, 'tiny-en-it', 'decoder.onnx'));
  await assert.rejects(loadModelPackage(join(missing, 'tiny-en-it')), /decoder\.onnx: missing/);

  const badManifest = await copyPackage('tiny-en-it', (m) => {
    delete m.encoder;
    (m.generation as Record<string, unknown>).beamSize = 'four';
  });
  t.after(() => rm(badManifest, { recursive: true, force: true }));
  await assert.rejects(loadModelPackage(join(badManifest, 'tiny-en-it')), (e: Error) => /encoder/.test(e.message) && /generation\.beamSize/.test(e.message));

  const swapped = await copyPackage('tiny-en-it');
  t.after(() => rm(swapped, { recursive: true, force: true }));
  await copyFile(join(swapped, 'tiny-en-it', 'embed.onnx'), join(swapped, 'tiny-en-it', 'encoder.onnx'));
  await assert.rejects(startEngine({ modelsDir: swapped }), (e: Error) => /encoder\.onnx: tensor names/.test(e.message) && /missing input "input_values"/.test(e.message));

  await writeFile(join(swapped, 'tiny-en-it', 'manifest.json'), '{ not json');
  await assert.rejects(loadModelPackage(join(swapped, 'tiny-en-it')), /manifest\.json/);
  await assert.rejects(startEngine({ modelsDir: join(swapped, 'nowhere') }), /does not exist/);
});

test('a second package for a pair already served is said and not loaded into any worker', async (t) => {
  const root = await copyPackage('tiny-en-it');
  t.after(() => rm(root, { recursive: true, force: true }));
  // The same pair under another package name, sorting after the first.
  await cp(join(root, 'tiny-en-it'), join(root, 'tiny-en-it-copy'), { recursive: true });
  const manifestFile = join(root, 'tiny-en-it-copy', 'manifest.json');
  const manifest = JSON.parse(await readFile(manifestFile, 'utf8')) as { name: string };
  await writeFile(manifestFile, JSON.stringify({ ...manifest, name: 'tiny-en-it-copy' }));
  const warnings: string[] = [];
  const logger = { info: () => {}, warn: (_: unknown, message: string) => void warnings.push(message), error: () => {}, debug: () => {} };
  const engine = await startEngine({ modelsDir: root, logger: logger as never });
  t.after(() => engine.close());
  assert.deepEqual(Object.keys(engine.stats().models), ['tiny-en-it'], 'only the serving package is in the workers');
  assert.deepEqual(engine.languagePairs().map((info) => [info.languagePair, info.modelName]), [['English -> Italian', 'tiny-en-it']]);
  assert.ok(warnings.includes('language pair English -> Italian is served by tiny-en-it and tiny-en-it-copy; keeping tiny-en-it'), warnings.join('\n'));
  assert.ok(warnings.includes('model tiny-en-it-copy is not loaded: other packages serve all its language pairs'), warnings.join('\n'));
});

test('a GPU group whose CUDA provider does not load says so once, and fails start-up when providers are required', async (t) => {
  const devices = [{ device: 'cuda:0', workers: 2, intraOpThreads: 1, languagePairs: ['English -> German'] }];
  const warnings: { fields: Record<string, unknown>; message: string }[] = [];
  const logger = { info: () => {}, debug: () => {}, error: () => {}, warn: (fields: Record<string, unknown>, message: string) => void warnings.push({ fields, message }) };
  const engine = await startEngine({ devices, executionProviders: ['cuda', 'cpu'], logger: logger as never });
  t.after(() => engine.close());
  const said = warnings.filter((warning) => warning.message.startsWith('device group cuda:0:'));
  if (hasNvidiaGpu()) {
    assert.deepEqual(said, [], 'CUDA loaded: nothing to say');
    return;
  }
  assert.equal(said.length, 1, 'once for the group, not once per worker or model');
  assert.match(said[0]?.message ?? '', /^device group cuda:0: the cuda provider did not load \(.+\); its models run on cpu$/);
  // Named by what it runs on, wherever the group shows (health, metrics, the ready line).
  assert.deepEqual(engine.languagePairs().filter((info) => engine.isServed(info.languagePair)).map((info) => info.device), ['cpu (fallback for cuda:0)']);
  assert.deepEqual(engine.deviceLoads().map((load) => load.device), ['cpu (fallback for cuda:0)']);
  assert.deepEqual([...new Set(engine.stats().workers.map((worker) => worker.device))], ['cpu (fallback for cuda:0)']);
  await assert.rejects(
    startEngine({ devices, executionProviders: ['cuda', 'cpu'], requireProviders: true }),
    /device group cuda:0: the cuda provider did not load .*; its models run on cpu\. engine\.requireProviders \(--require-providers\) is set, so the server does not start/,
  );
});
