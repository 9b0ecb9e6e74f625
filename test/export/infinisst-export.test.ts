/**
 * The InfiniSST export path end to end, on a tiny model of the real architecture (same module
 * names as the published checkpoints, random weights): scripts/export builds the checkpoint,
 * exports it, and computes parity cases and reference tokens with plain PyTorch; here the exported
 * graphs must match PyTorch to float tolerance, and the server's own code (model runner + chunk
 * policy, then the worker engine, then /wss) must produce exactly the reference tokens.
 *
 * Skips (saying why) when /usr/bin/python3 lacks torch/onnx: see APT_LINE.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import WebSocket from 'ws';
import { z } from 'zod';
import { buildApp } from '../../src/app.ts';
import { toEngineOptions } from '../../src/config/engine-options.ts';
import { DynamicBatcher } from '../../src/batching/dynamic-batcher.ts';
import { ChunkTranslator, freshModelState, type BatchItem, type BatchOutput } from '../../src/inference/worker/chunk-translator.ts';
import { createEngine } from '../../src/inference/engine/engine.ts';
import { chunkSamples, loadModelPackage } from '../../src/inference/manifest.ts';
import { checkModelsFit, measureModelPackage } from '../../src/inference/engine/model-size-check.ts';
import { ModelRunner } from '../../src/inference/worker/model-runner.ts';
import { liveRows } from '../../src/inference/worker/step-items.ts';
import { createSession as createOrtSession } from '../../src/inference/worker/session-factory.ts';
import { decodeTokens } from '../../src/inference/worker/token-decoder.ts';
import { createSession, FrameCollector, testConfig } from '../app/helpers.ts';
import { collector, engineOptions, testAudio } from '../support/engine-fixtures.ts';
import { compareOutputs, parityFileSchema, toTensor } from './onnx-compare.ts';
import { buildTinyPipeline, pythonProblem, runPythonUnitTests, TINY_PAIR, type TinyPipeline } from './python-pipeline.ts';
import { skipWithout } from '../support/required-tool.ts';

const skip = skipWithout('python3 with torch and onnx', pythonProblem());

const referenceSchema = z.object({ multiplier: z.number(), beamSize: z.number(), chunks: z.array(z.object({ tokens: z.array(z.number()), text: z.string() })) });
type Reference = z.infer<typeof referenceSchema>;

let root = '';
let pipeline: TinyPipeline | undefined;
// Five whole chunks at multiplier 2 and a partial tail (padded by flush).
const AUDIO = testAudio(30_720 * 5 + 9_001, 5);

before(async () => {
  if (skip) return;
  root = await mkdtemp(join(tmpdir(), 'infinisst-export-'));
  pipeline = await buildTinyPipeline(root, AUDIO, [2, 1]);
});
after(() => (root ? rm(root, { recursive: true, force: true }) : undefined));

function ready(): TinyPipeline {
  if (!pipeline) throw new Error('pipeline not built');
  return pipeline;
}

async function reference(multiplier: number): Promise<Reference> {
  const file = ready().references.get(multiplier);
  if (!file) throw new Error(`no reference for multiplier ${multiplier}`);
  return referenceSchema.parse(JSON.parse(await readFile(file, 'utf8')));
}

test("the exporter's own Python unit tests pass (key names, streaming equivalence, prompts, graphs)", { skip }, async (t) => {
  const summary = await runPythonUnitTests();
  t.diagnostic(summary);
  assert.match(summary, /^OK/m);
});

test('the exported package loads unchanged, with its weights in external data files next to the graphs', { skip }, async () => {
  const pkg = await loadModelPackage(ready().packageDir);
  assert.deepEqual(Object.keys(pkg.manifest.languagePairs), [TINY_PAIR]);
  assert.equal(pkg.manifest.encoder.contextSamples, 399);
  assert.equal(pkg.manifest.tokenizer.decoding, 'byte-level');
  for (const graph of ['encoder.onnx', 'embed.onnx', 'decoder.onnx']) {
    assert.ok((await stat(join(pkg.dir, `${graph}.data`))).size > 0, `${graph}.data`);
  }
  const footprint = await measureModelPackage(pkg);
  assert.ok(footprint.files.some((f) => f.name === 'decoder.onnx.data'));
  await assert.rejects(checkModelsFit([pkg], { device: 'cpu', workers: 2, budgetBytes: footprint.weightBytes }), (e: Error) => /needs about/.test(e.message) && /one worker/.test(e.message));
});

test('the ONNX graphs match PyTorch: the encoder with its cache, decoder prefill and decode steps with a KV cache', { skip }, async (t) => {
  const { cases } = parityFileSchema.parse(JSON.parse(await readFile(ready().parityFile, 'utf8')));
  assert.deepEqual(cases.map((c) => c.graph), ['encoder', 'embed', 'decoder', 'decoder']);
  for (const testCase of cases) {
    // Through the engine's own session factory: graphs are opened by path and onnxruntime finds
    // the external data file beside each one.
    const { session } = await createOrtSession(join(ready().packageDir, `${testCase.graph}.onnx`), { providers: ['cpu'], device: 'cpu', intraOpThreads: 1 });
    t.after(() => session.release());
    const feeds = Object.fromEntries(Object.entries(testCase.inputs).map(([name, spec]) => [name, toTensor(spec)]));
    const outputs = await session.run(feeds);
    const { problems, compared, maxError } = compareOutputs(testCase, outputs, 1e-4, 1e-4);
    t.diagnostic(`${testCase.name}: ${compared} values, max |error| ${maxError.toExponential(2)}`);
    assert.deepEqual(problems, [], testCase.name);
    assert.ok(compared > 0);
  }
});

test('the model runner and chunk policy reproduce the PyTorch reference tokens chunk by chunk', { skip }, async (t) => {
  const ref = await reference(2);
  const pkg = await loadModelPackage(ready().packageDir);
  const runner = await ModelRunner.load(pkg, { providers: ['cpu'], device: 'cpu', intraOpThreads: 1, beamSize: ref.beamSize });
  t.after(() => runner.release());
  const batcher = new DynamicBatcher<BatchItem, BatchOutput>({
    lanes: ['prefill', 'decode'],
    maxBatchSize: 32,
    maxWaitMs: 0,
    maxQueueSize: 64,
    concurrency: () => 1,
    sizeOf: (item) => ('decode' in item ? liveRows(item.decode) : 1),
    keyOf: (item) => item.key,
    run: async (lane, items) =>
      lane === 'prefill' ? runner.prefill(items.flatMap((i) => ('prefill' in i ? [i.prefill] : []))) : runner.decode(items.flatMap((i) => ('decode' in i ? [i.decode] : []))),
  });
  t.after(() => batcher.close());
  const translator = new ChunkTranslator(pkg, (lane, item) => batcher.submit(lane, item), ref.beamSize, runner.arena);
  const size = chunkSamples(pkg.manifest, 2);
  let state = freshModelState(runner.arena.allocate());
  const tokens: number[][] = [];
  for (let offset = 0; offset < AUDIO.length; offset += size) {
    const chunk = new Float32Array(size);
    chunk.set(AUDIO.subarray(offset, offset + size));
    const result = await translator.translate('session', state, chunk, 2, TINY_PAIR);
    tokens.push(result.tokens);
    state = result.state;
  }
  assert.deepEqual(tokens, ref.chunks.map((c) => c.tokens));
  const ended = ref.chunks.filter((c) => pkg.manifest.specialTokens.endOfChunk.includes(c.tokens.at(-1) ?? -1)).length;
  t.diagnostic(`${ref.chunks.length} chunks, ${ended} ended by the end-of-chunk token, decoder cache trimmed to ${pkg.manifest.decoder.maxCacheTokens}`);
});

function expectedTexts(ref: Reference, pkg: Awaited<ReturnType<typeof loadModelPackage>>): string[] {
  return ref.chunks.map((c) => decodeTokens(c.tokens, pkg.tokens, pkg.manifest).trim());
}

test('the engine, through its worker threads, streams the reference translation', { skip }, async (t) => {
  const ref = await reference(2);
  const pkg = await loadModelPackage(ready().packageDir);
  const engine = await createEngine(engineOptions({ modelsDir: ready().modelsDir }));
  t.after(() => engine.close());
  const { chunks, errors, listener } = collector();
  const stream = engine.openStream({ languagePair: TINY_PAIR, latencyMultiplier: 2, listener });
  for (let offset = 0; offset < AUDIO.length; offset += 15_360) stream.pushAudio(AUDIO.subarray(offset, offset + 15_360));
  await stream.flush();
  stream.close();
  assert.deepEqual(errors, []);
  assert.deepEqual(chunks.map((c) => c.newText), expectedTexts(ref, pkg));
});

test('streaming the audio through /wss gives the reference translation', { skip }, async (t) => {
  const ref = await reference(2);
  const pkg = await loadModelPackage(ready().packageDir);
  const config = testConfig(t, { engine: { devices: [{ device: 'cpu', workers: 1, intraOpThreads: 1 }] } });
  const engine = await createEngine({ ...toEngineOptions(config, process.cwd()), modelsDir: ready().modelsDir, models: undefined });
  t.after(() => engine.close(1_000));
  const app = await buildApp(config, { engine, runTimers: false });
  t.after(() => app.close());
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === 'string') throw new Error('no TCP address');
  const id = await createSession(app, { language_pair: TINY_PAIR, latency_multiplier: '2' });
  const socket = new WebSocket(`ws://127.0.0.1:${address.port}/wss/${encodeURIComponent(id)}`);
  t.after(() => socket.terminate());
  const frames = new FrameCollector(socket);
  await new Promise<void>((resolve, reject) => {
    socket.once('open', () => resolve());
    socket.once('error', reject);
  });
  for (let offset = 0; offset < AUDIO.length; offset += 15_360) socket.send(AUDIO.slice(offset, offset + 15_360));
  socket.send('EOF');
  await frames.waitFor((frame) => frame.startsWith('PROCESSING_COMPLETE'));
  assert.deepEqual(frames.frames.filter((f) => f.startsWith('ERROR')), []);
  const joiner = pkg.manifest.languagePairs[TINY_PAIR]?.targetJoiner ?? ' ';
  const cumulative: string[] = [];
  for (const text of expectedTexts(ref, pkg).filter((x) => x !== '')) cumulative.push(cumulative.length ? `${cumulative.at(-1)}${joiner}${text}` : text);
  const translations = frames.translations().filter((text, i, all) => text !== all[i - 1]);
  assert.deepEqual(translations, cumulative);
});

test('a session at multiplier 1 gets the <latency_1> system prompt (prompt.firstByMultiplier)', { skip }, async (t) => {
  const ref = await reference(1);
  const pkg = await loadModelPackage(ready().packageDir);
  const engine = await createEngine(engineOptions({ modelsDir: ready().modelsDir }));
  t.after(() => engine.close());
  const { chunks, listener } = collector();
  const stream = engine.openStream({ languagePair: TINY_PAIR, latencyMultiplier: 1, listener });
  stream.pushAudio(AUDIO);
  await stream.flush();
  stream.close();
  assert.deepEqual(chunks.map((c) => c.newText), expectedTexts(ref, pkg));
});
