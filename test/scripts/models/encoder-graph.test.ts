import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import type * as ort from 'onnxruntime-node';
import {
  cacheSlots,
  floats,
  isAllFinite,
  loadPackage,
  maxAbsDiff,
  MODELS_DIR,
  noise,
  paddedFeeds,
  randomRow,
  releasePackage,
  TINY_PACKAGE_NAMES,
} from './tiny-model-harness.ts';
import type { CallLayout, CallRow, LoadedPackage } from './tiny-model-harness.ts';

const TOLERANCE = 1e-5;

function encoderRow(pkg: LoadedPackage, seed: number, pastLen: number, segments: number, pastOffset?: number): CallRow {
  const e = pkg.manifest.encoder;
  const newLen = e.framesPerSegment * segments;
  return randomRow({
    seed,
    layers: e.numLayers,
    heads: e.numHeads,
    headDim: e.headDim,
    pastLen,
    newData: noise(newLen * e.samplesPerFrame, seed + 1000, 0.2),
    newLen,
    firstPosition: pastLen + 7,
    ...(pastOffset === undefined ? {} : { pastOffset }),
  });
}

function layoutOf(pkg: LoadedPackage): CallLayout {
  const e = pkg.manifest.encoder;
  return { dataName: 'input_values', stepWidth: e.samplesPerFrame, heads: e.numHeads, headDim: e.headDim };
}

async function runRows(pkg: LoadedPackage, rows: readonly CallRow[]): Promise<{ outputs: ort.InferenceSession.OnnxValueMapType; maxPast: number; maxNew: number }> {
  const { feeds, maxPast, maxNew } = paddedFeeds(rows, layoutOf(pkg));
  return { outputs: await pkg.encoder.run(feeds), maxPast, maxNew };
}

for (const name of TINY_PACKAGE_NAMES) {
  test(`${name} encoder: output shapes follow the contract for batch 1 / past 0 and batch 3 / past > 0`, async (t) => {
    const pkg = await loadPackage(join(MODELS_DIR, name));
    t.after(() => releasePackage(pkg));
    const e = pkg.manifest.encoder;
    const hidden = pkg.manifest.decoder.hiddenSize;

    const single = await runRows(pkg, [encoderRow(pkg, 1, 0, 1)]);
    assert.deepEqual(single.outputs.speech_embeddings?.dims, [1, e.embeddingsPerSegment, hidden]);
    assert.deepEqual(single.outputs['present.0.key']?.dims, [1, e.numHeads, e.framesPerSegment, e.headDim]);
    assert.ok(isAllFinite(floats(single.outputs.speech_embeddings)));

    const rows = [encoderRow(pkg, 2, 48, 2), encoderRow(pkg, 3, 96, 2), encoderRow(pkg, 4, 10, 2)];
    const batch = await runRows(pkg, rows);
    assert.deepEqual(batch.outputs.speech_embeddings?.dims, [3, 2 * e.embeddingsPerSegment, hidden]);
    // presentOutput "new": only the new frames, not the 96 past ones.
    assert.deepEqual(batch.outputs['present.0.value']?.dims, [3, e.numHeads, 2 * e.framesPerSegment, e.headDim]);
    assert.ok(isAllFinite(floats(batch.outputs.speech_embeddings)));
  });

  test(`${name} encoder: a row gives the same result alone and inside a padded batch`, async (t) => {
    const pkg = await loadPackage(join(MODELS_DIR, name));
    t.after(() => releasePackage(pkg));
    const e = pkg.manifest.encoder;
    const hidden = pkg.manifest.decoder.hiddenSize;
    // Row 0 has no past at all, row 1's past sits after 48 padded slots, row 2 fills the past;
    // rows 0 and 2 send one segment and are right-padded to row 1's two segments.
    const rows = [encoderRow(pkg, 11, 0, 1), encoderRow(pkg, 12, 48, 2, 48), encoderRow(pkg, 13, 96, 1)];
    const batched = await runRows(pkg, rows);
    const batchEmbeddings = floats(batched.outputs.speech_embeddings);
    const embeddingsPerRow = batched.maxNew / 4;

    for (const [r, row] of rows.entries()) {
      const alone = await runRows(pkg, [{ ...row, pastOffset: 0 }]);
      const validEmbeddings = row.newLen / 4;
      const start = r * embeddingsPerRow * hidden;
      const diff = maxAbsDiff(floats(alone.outputs.speech_embeddings), batchEmbeddings.slice(start, start + validEmbeddings * hidden));
      assert.ok(diff <= TOLERANCE, `row ${r}: speech_embeddings differ by ${diff}`);

      for (const kind of ['key', 'value'] as const) {
        const present = `present.0.${kind}`;
        const aloneNew = cacheSlots(alone.outputs[present], 0, 0, row.newLen);
        const batchNew = cacheSlots(batched.outputs[present], r, 0, row.newLen);
        const newDiff = maxAbsDiff(aloneNew, batchNew);
        assert.ok(newDiff <= TOLERANCE, `row ${r}: ${present} new slots differ by ${newDiff}`);
      }
    }
    assert.equal(e.framesPerSegment % 4, 0);
  });

  test(`${name} encoder: the embeddings depend on the audio and on position_ids`, async (t) => {
    const pkg = await loadPackage(join(MODELS_DIR, name));
    t.after(() => releasePackage(pkg));
    const base = encoderRow(pkg, 21, 48, 1);
    const embeddingsFor = async (row: CallRow): Promise<Float32Array> => floats((await runRows(pkg, [row])).outputs.speech_embeddings);

    const noisy = await embeddingsFor(base);
    const silent = await embeddingsFor({ ...base, newData: new Float32Array(base.newData.length) });
    const otherNoise = await embeddingsFor({ ...base, newData: noise(base.newData.length, 999, 0.2) });
    const shifted = await embeddingsFor({ ...base, positions: base.positions.map((p) => p + 5) });
    assert.ok(maxAbsDiff(noisy, silent) > 0.1, 'silence and noise must give different embeddings');
    assert.ok(maxAbsDiff(noisy, otherNoise) > 0.1, 'two different noises must give different embeddings');
    assert.ok(maxAbsDiff(noisy, shifted) > 1e-3, 'moving the new frames relative to the cache must change the embeddings');
    assert.ok(isAllFinite(silent));
  });
}
