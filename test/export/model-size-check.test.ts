import assert from 'node:assert/strict';
import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { isAppError } from '../../src/errors.ts';
import { loadModelPackage } from '../../src/inference/manifest.ts';
import { hasNvidiaGpu } from '../support/gpu.ts';
import { checkModelsFit, judgeFit, measureModelPackage, planSessionSlots, queryCudaFreeBytes, sessionStateBytes, type FitReport } from '../../src/inference/engine/model-size-check.ts';
import { arenaLayoutFor } from '../../src/inference/worker/slot-arena.ts';
import { MODELS_DIR, startEngine } from '../support/engine-fixtures.ts';

test('a package weighs its graphs and data files, not its manifest or token table', async () => {
  const pkg = await loadModelPackage(join(MODELS_DIR, 'tiny-en-de'));
  const footprint = await measureModelPackage(pkg);
  let expected = 0;
  for (const name of await readdir(pkg.dir)) {
    if (name !== 'manifest.json' && name !== pkg.manifest.tokenizer.file) expected += (await stat(join(pkg.dir, name))).size;
  }
  assert.equal(footprint.weightBytes, expected);
  assert.ok(footprint.files.every((f) => f.name !== 'manifest.json'));
  assert.equal(footprint.sessionCacheBytes, sessionStateBytes(pkg.manifest, pkg.manifest.generation.beamSize));
});

test('a session costs its encoder window plus its arena slot: the decoder window, a prompt and a chunk, a chunk per beam', async () => {
  const m = (await loadModelPackage(join(MODELS_DIR, 'tiny-en-de'))).manifest;
  const layout = arenaLayoutFor(m, 4);
  const rowBytes = m.decoder.numKeyValueHeads * m.decoder.headDim * m.decoder.numLayers * 2 * 4;
  const encoderBytes = m.encoder.numLayers * m.encoder.numHeads * m.encoder.maxCacheFrames * m.encoder.headDim * 2 * 4;
  assert.ok(layout.prefixCapacity > m.decoder.maxCacheTokens);
  assert.equal(sessionStateBytes(m, 4), encoderBytes + (layout.prefixCapacity + 4 * layout.suffixCapacity) * rowBytes);
  assert.equal(sessionStateBytes(m, 4) - sessionStateBytes(m, 1), 3 * layout.suffixCapacity * rowBytes);
});

const fitOf = (availableBytes: number | undefined, source: FitReport['source'], requiredBytes = 1000): FitReport => ({ fits: true, requiredBytes, availableBytes, source, message: '' });

test('session slots: the budget left after the weights, per worker, in sessions', () => {
  const configured = planSessionSlots(fitOf(101_000, 'configured'), 2, 1000);
  assert.deepEqual(configured, { slotsPerWorker: 50, sessionBytes: 1000, sessionBudgetBytes: 100_000, source: 'configured' });
  // A measured free memory is not all ours: a quarter stays for the process and the system.
  const measured = planSessionSlots(fitOf(101_000, 'measured'), 2, 1000);
  assert.equal(measured.sessionBudgetBytes, 101_000 * 0.75 - 1000);
  assert.equal(measured.slotsPerWorker, Math.floor((101_000 * 0.75 - 1000) / 2 / 1000));
  assert.equal(measured.source, 'measured');
  // Weights that leave nothing still leave one slot per worker (the fit check judged the weights).
  assert.equal(planSessionSlots(fitOf(1000, 'configured'), 3, 1000).slotsPerWorker, 1);
  const capped = planSessionSlots(fitOf(1e12, 'configured'), 1, 1000, { measuredShare: 0.75, maxSlotsPerWorker: 64, fallbackSlotsPerWorker: 16 });
  assert.deepEqual([capped.slotsPerWorker, capped.source], [64, 'capped']);
  const unknown = planSessionSlots(fitOf(undefined, 'unknown'), 1, 1000, { measuredShare: 0.75, maxSlotsPerWorker: 64, fallbackSlotsPerWorker: 16 });
  assert.deepEqual([unknown.slotsPerWorker, unknown.source], [16, 'unknown']);
});

test("an engine's session slots follow each device group's memory budget", async (t) => {
  const names = (await readdir(MODELS_DIR)).filter((name) => name.startsWith('tiny-'));
  const packages = await Promise.all(names.map((name) => loadModelPackage(join(MODELS_DIR, name))));
  const weights = (await Promise.all(packages.map((p) => measureModelPackage(p)))).reduce((sum, f) => sum + f.weightBytes, 0);
  const sessionBytes = Math.max(...packages.map((p) => sessionStateBytes(p.manifest, 2)));
  const budget = Math.ceil(weights * 1.2 * 2) + 2 * 7 * sessionBytes + 10;
  const engine = await startEngine({ devices: [{ device: 'cpu', workers: 2, intraOpThreads: 1, memoryBudgetBytes: budget }], beamSize: 2 });
  t.after(() => engine.close(0));
  assert.equal(engine.sessionSlots(), 2 * 7);
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

test('asking nvidia-smi answers the free bytes of a GPU where there is one, nothing where there is none, never throws', async () => {
  const free = await queryCudaFreeBytes(0, 5_000);
  if (hasNvidiaGpu()) assert.ok(free !== undefined && Number.isFinite(free) && free >= 0, `nvidia-smi runs but no free memory was read: ${free}`);
  else assert.equal(free, undefined);
});
