import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { loadModelPackage } from '../../src/inference/manifest.ts';
import { MODELS_DIR, TINY_PACKAGE_NAMES } from './models/tiny-model-harness.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PACKAGE_FILES = ['decoder.onnx', 'embed.onnx', 'encoder.onnx', 'manifest.json', 'tokens.json'];
const MAX_FILE_BYTES = 5 * 1024 * 1024;
const LANGUAGE_PAIRS: Record<string, string> = {
  'tiny-en-zh': 'English -> Chinese',
  'tiny-en-it': 'English -> Italian',
  'tiny-en-de': 'English -> German',
  'tiny-en-es': 'English -> Spanish',
};

test('regenerating the default models is byte-identical to the committed models/ files', async (t) => {
  const outDir = await mkdtemp(join(tmpdir(), 'tiny-models-'));
  t.after(() => rm(outDir, { recursive: true, force: true }));
  // The real entry point, as `npm run generate:models` runs it.
  const result = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/generate-default-models.ts', '--out', outDir], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(result.status, 0, result.stderr);

  assert.deepEqual((await readdir(outDir)).sort(), [...TINY_PACKAGE_NAMES].sort());
  for (const name of TINY_PACKAGE_NAMES) {
    assert.deepEqual((await readdir(join(outDir, name))).sort(), PACKAGE_FILES);
    assert.deepEqual((await readdir(join(MODELS_DIR, name))).sort(), PACKAGE_FILES, `models/${name} holds exactly the package files`);
    for (const file of PACKAGE_FILES) {
      const fresh = await readFile(join(outDir, name, file));
      const committed = await readFile(join(MODELS_DIR, name, file));
      assert.ok(fresh.equals(committed), `models/${name}/${file} differs from a fresh generation: run npm run generate:models`);
      assert.ok((await stat(join(MODELS_DIR, name, file))).size <= MAX_FILE_BYTES, `${name}/${file} exceeds 5 MB`);
    }
  }
});

for (const name of TINY_PACKAGE_NAMES) {
  test(`${name}: manifest and tokens follow docs/model-format.md`, async () => {
    const manifest = JSON.parse(await readFile(join(MODELS_DIR, name, 'manifest.json'), 'utf8')) as Record<string, unknown>;
    const { tokens } = JSON.parse(await readFile(join(MODELS_DIR, name, 'tokens.json'), 'utf8')) as { tokens: string[] };
    const pair = LANGUAGE_PAIRS[name] ?? '';

    assert.equal(manifest.formatVersion, 1);
    assert.equal(manifest.name, name);
    assert.match(String(manifest.description), /NOT a translation/);
    assert.deepEqual(manifest.audio, { sampleRateHz: 16000, baseSegmentMs: 960, maxLatencyMultiplier: 4 });
    assert.deepEqual(manifest.encoder, {
      file: 'encoder.onnx', samplesPerFrame: 320, framesPerSegment: 48, embeddingsPerSegment: 12,
      numLayers: 1, numHeads: 2, headDim: 16, maxCacheFrames: 576, presentOutput: 'new',
    });
    assert.deepEqual(manifest.decoder, {
      embedFile: 'embed.onnx', file: 'decoder.onnx', numLayers: 2, numKeyValueHeads: 3, headDim: 16,
      hiddenSize: 192, vocabSize: tokens.length, maxCacheTokens: 1000, keepPrefixTokens: 0, presentOutput: 'new', cacheLayout: 'slots',
    });
    assert.deepEqual(manifest.tokenizer, { file: 'tokens.json', decoding: name === 'tiny-en-zh' ? 'plain' : 'sentencepiece' });
    assert.deepEqual(tokens.slice(0, 8), ['<pad>', '<speech>', '<eoc>', '<s>', '<|system|>', '<|user|>', '<|assistant|>', '<|end|>']);
    assert.equal(new Set(tokens).size, tokens.length, 'pieces are unique');
    assert.deepEqual(manifest.specialTokens, { pad: 0, speechPlaceholder: 1, endOfChunk: [2], skipInText: [0, 1, 2, 3, 4, 5, 6, 7] });
    assert.deepEqual(manifest.generation, { maxNewTokensPerMultiplier: 10, beamSize: 4, lengthPenalty: 1.0 });
    assert.deepEqual(manifest.executionProviders, ['cuda', 'cpu']);

    const pairs = manifest.languagePairs as Record<string, { targetJoiner: string; prompt: { first: { prefix: number[]; suffix: number[] }; next: { prefix: number[]; suffix: number[] } } }>;
    assert.deepEqual(Object.keys(pairs), [pair]);
    const entry = pairs[pair];
    assert.ok(entry !== undefined);
    assert.equal(entry.targetJoiner, name === 'tiny-en-zh' ? '' : ' ');
    const { first, next } = entry.prompt;
    assert.deepEqual([first.prefix.slice(0, 2), first.prefix.slice(-2), first.suffix], [[3, 4], [7, 5], [7, 6]]);
    assert.deepEqual(next, { prefix: [5], suffix: [7, 6] });
    const instruction = first.prefix.slice(2, -2);
    assert.ok(instruction.length > 0 && instruction.every((id) => id >= 8 && id < tokens.length), 'system prompt words are ordinary pieces');

    // The engine's own loader accepts the package as it is.
    const loaded = await loadModelPackage(join(MODELS_DIR, name));
    assert.deepEqual(loaded.tokens, tokens);
  });
}
