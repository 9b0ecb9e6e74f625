import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type * as ort from 'onnxruntime-node';
import {
  cacheSlots,
  floats,
  int64Tensor,
  isAllFinite,
  loadPackage,
  maxAbsDiff,
  paddedTwinsDir,
  noise,
  paddedFeeds,
  randomRow,
  releasePackage,
  TINY_PACKAGE_NAMES,
} from './tiny-model-harness.ts';
import type { CallRow, LoadedPackage } from './tiny-model-harness.ts';

const TOLERANCE = 1e-5;

function decoderRow(pkg: LoadedPackage, seed: number, pastLen: number, newLen: number, pastOffset?: number): CallRow {
  const d = pkg.manifest.decoder;
  return randomRow({
    seed,
    layers: d.numLayers,
    heads: d.numKeyValueHeads,
    headDim: d.headDim,
    pastLen,
    newData: noise(newLen * d.hiddenSize, seed + 500, 1.7),
    newLen,
    firstPosition: pastLen + 3,
    ...(pastOffset === undefined ? {} : { pastOffset }),
  });
}

async function runRows(pkg: LoadedPackage, rows: readonly CallRow[]): Promise<{ outputs: ort.InferenceSession.OnnxValueMapType; maxPast: number; maxNew: number }> {
  const d = pkg.manifest.decoder;
  const { feeds, maxPast, maxNew } = paddedFeeds(rows, { dataName: 'inputs_embeds', stepWidth: d.hiddenSize, heads: d.numKeyValueHeads, headDim: d.headDim });
  return { outputs: await pkg.decoder.run(feeds), maxPast, maxNew };
}

async function logitsOf(pkg: LoadedPackage, row: CallRow): Promise<Float32Array> {
  return floats((await runRows(pkg, [row])).outputs.logits);
}

for (const name of TINY_PACKAGE_NAMES) {
  test(`${name} decoder and embed: output shapes follow the contract for batch 1 / past 0 and batch 3 / past > 0`, async (t) => {
    const pkg = await loadPackage(join(await paddedTwinsDir(), name));
    t.after(() => releasePackage(pkg));
    const d = pkg.manifest.decoder;

    const embedded = await pkg.embed.run({ input_ids: int64Tensor([3, 4, 5, 6, 7, 8], [2, 3]) });
    assert.deepEqual(embedded.inputs_embeds?.dims, [2, 3, d.hiddenSize]);

    const single = await runRows(pkg, [decoderRow(pkg, 1, 0, 5)]);
    assert.deepEqual(single.outputs.logits?.dims, [1, 5, d.vocabSize]);
    assert.deepEqual(single.outputs['present.1.key']?.dims, [1, d.numKeyValueHeads, 5, d.headDim]);

    // presentOutput "new": the present holds only this call's step, not the 7 past slots.
    const batch = await runRows(pkg, [decoderRow(pkg, 2, 7, 1), decoderRow(pkg, 3, 7, 1), decoderRow(pkg, 4, 7, 1)]);
    assert.deepEqual(batch.outputs.logits?.dims, [3, 1, d.vocabSize]);
    assert.deepEqual(batch.outputs['present.0.value']?.dims, [3, d.numKeyValueHeads, 1, d.headDim]);
    assert.ok(isAllFinite(floats(batch.outputs.logits)));
  });

  test(`${name} decoder: a row gives the same result alone and inside a padded batch`, async (t) => {
    const pkg = await loadPackage(join(await paddedTwinsDir(), name));
    t.after(() => releasePackage(pkg));
    const d = pkg.manifest.decoder;
    // Past lengths 0 / 5 (padded after) / 4 (padded before) / 9; new lengths 4 / 1 / 2 / 3, right-padded.
    const rows = [decoderRow(pkg, 11, 0, 4), decoderRow(pkg, 12, 5, 1), decoderRow(pkg, 13, 4, 2, 5), decoderRow(pkg, 14, 9, 3)];
    const batched = await runRows(pkg, rows);
    const batchLogits = floats(batched.outputs.logits);

    for (const [r, row] of rows.entries()) {
      const alone = await runRows(pkg, [{ ...row, pastOffset: 0 }]);
      const start = r * batched.maxNew * d.vocabSize;
      const diff = maxAbsDiff(floats(alone.outputs.logits), batchLogits.slice(start, start + row.newLen * d.vocabSize));
      assert.ok(diff <= TOLERANCE, `row ${r}: logits differ by ${diff}`);
      for (let layer = 0; layer < d.numLayers; layer += 1) {
        for (const kind of ['key', 'value'] as const) {
          const present = `present.${layer}.${kind}`;
          const aloneNew = cacheSlots(alone.outputs[present], 0, 0, row.newLen);
          const batchNew = cacheSlots(batched.outputs[present], r, 0, row.newLen);
          const newDiff = maxAbsDiff(aloneNew, batchNew);
          assert.ok(newDiff <= TOLERANCE, `row ${r}: ${present} new slots differ by ${newDiff}`);
        }
      }
    }
  });

  test(`${name} decoder: step t ignores later steps (causal by slot) and masked rows stay finite`, async (t) => {
    const pkg = await loadPackage(join(await paddedTwinsDir(), name));
    t.after(() => releasePackage(pkg));
    const d = pkg.manifest.decoder;
    const full = decoderRow(pkg, 31, 6, 4);
    const prefix: CallRow = { ...full, newLen: 2, newData: full.newData.slice(0, 2 * d.hiddenSize), positions: full.positions.slice(0, 2) };
    const fullLogits = await logitsOf(pkg, full);
    const prefixLogits = await logitsOf(pkg, prefix);
    assert.ok(maxAbsDiff(prefixLogits, fullLogits.slice(0, 2 * d.vocabSize)) <= TOLERANCE);

    // Every slot masked out: nothing to attend to, but no NaN either.
    const { feeds } = paddedFeeds([full], { dataName: 'inputs_embeds', stepWidth: d.hiddenSize, heads: d.numKeyValueHeads, headDim: d.headDim });
    feeds.attention_mask = int64Tensor(Array<number>(10).fill(0), [1, 10]);
    assert.ok(isAllFinite(floats((await pkg.decoder.run(feeds)).logits)));
  });

  test(`${name} decoder: the logits depend on position_ids`, async (t) => {
    const pkg = await loadPackage(join(await paddedTwinsDir(), name));
    t.after(() => releasePackage(pkg));
    // With a cache, moving the new steps changes their distance to the cached keys.
    const cached = decoderRow(pkg, 41, 6, 2);
    const moved = await logitsOf(pkg, { ...cached, positions: cached.positions.map((p) => p + 4) });
    assert.ok(maxAbsDiff(await logitsOf(pkg, cached), moved) > 1e-3);
    // Without a cache, only relative distances matter: spreading the steps apart changes them.
    const fresh = decoderRow(pkg, 42, 0, 3);
    const spread = await logitsOf(pkg, { ...fresh, positions: [0, 5, 10] });
    assert.ok(maxAbsDiff(await logitsOf(pkg, fresh), spread) > 1e-3);
  });
}
