import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAppError } from '../../src/errors.ts';
import { loadModelPackage } from '../../src/inference/manifest.ts';
import { checkModelsFit, judgeFit, measureModelPackage, queryCudaFreeBytes } from '../../src/inference/engine/model-size-check.ts';
import { MODELS_DIR } from '../support/engine-fixtures.ts';

test('a package weighs its graphs and data files, not its manifest or token table', async () => {
  const pkg = await loadModelPackage(join(MODELS_DIR, 'tiny-en-de'));
  const footprint = await measureModelPackage(pkg);
  let expected = 0;
  for (const name of await readdir(pkg.dir)) {
    if (name !== 'manifest.json' && name !== pkg.manifest.tokenizer.file) expected += (await stat(join(pkg.dir, name))).size;
  }
  assert.equal(footprint.weightBytes, expected);
  assert.ok(footprint.files.every((f) => f.name !== 'manifest.json'));
  const m = pkg.manifest;
  assert.equal(footprint.sessionCacheBytes, (m.encoder.numLayers * m.encoder.numHeads * m.encoder.maxCacheFrames * m.encoder.headDim + m.decoder.numLayers * m.decoder.numKeyValueHeads * m.decoder.maxCacheTokens * m.decoder.headDim) * 2 * 4);
});

test('every worker of a device group loads its own copy of the weights', async () => {
  const pkg = await loadModelPackage(join(MODELS_DIR, 'tiny-en-de'));
  const { weightBytes } = await measureModelPackage(pkg);
  const budget = Math.ceil(weightBytes * 1.2 * 2);
  const ok = await checkModelsFit([pkg], { device: 'cuda:0', workers: 2, budgetBytes: budget });
  assert.equal(ok.fits, true);
  assert.equal(ok.source, 'configured');
  await assert.rejects(checkModelsFit([pkg], { device: 'cuda:0', workers: 3, budgetBytes: budget }), (error: unknown) => {
    assert.ok(isAppError(error));
    assert.equal(error.code, 'modelTooLarge');
    assert.match(error.message, /tiny-en-de needs about .* on cuda:0 \(.* of weights × 1\.2 overhead × 3 workers\) but the configured budget is .*: use one worker/);
    return true;
  });
});

test('several packages on one device are judged together', async () => {
  const packages = await Promise.all(['tiny-en-de', 'tiny-en-zh'].map((name) => loadModelPackage(join(MODELS_DIR, name))));
  const sizes = await Promise.all(packages.map((pkg) => measureModelPackage(pkg)));
  const one = Math.ceil(Math.max(...sizes.map((s) => s.weightBytes)) * 1.2);
  await assert.rejects(checkModelsFit(packages, { device: 'cpu', workers: 1, budgetBytes: one }), /tiny-en-de \+ tiny-en-zh needs about/);
});

test('without a budget or a way to measure, the check is skipped and says so', () => {
  const report = judgeFit('big', { weightBytes: 16 * 1024 ** 3, files: [], sessionCacheBytes: 0 }, { device: 'cuda:1', workers: 1 }, undefined, 'unknown');
  assert.equal(report.fits, true);
  assert.match(report.message, /big needs about 19\.20 GiB on cuda:1; free memory unknown, check skipped/);
  const tooBig = judgeFit('big', { weightBytes: 16 * 1024 ** 3, files: [], sessionCacheBytes: 0 }, { device: 'cuda:1', workers: 1 }, 16 * 1024 ** 3, 'measured');
  assert.equal(tooBig.fits, false);
  assert.match(tooBig.message, /the device has 16\.00 GiB free: export with --dtype fp16/);
});

test('asking nvidia-smi answers a number of bytes or nothing, never throws', async () => {
  const free = await queryCudaFreeBytes(0, 2_000);
  assert.ok(free === undefined || (Number.isFinite(free) && free >= 0));
});
