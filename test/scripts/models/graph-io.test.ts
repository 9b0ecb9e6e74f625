import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { loadPackage, MODELS_DIR, releasePackage, TINY_PACKAGE_NAMES } from './tiny-model-harness.ts';

/** Names from docs/model-format.md for a model with `layers` cache layers. */
function cacheNames(prefix: 'past_key_values' | 'present', layers: number): string[] {
  return Array.from({ length: layers }, (_, i) => [`${prefix}.${i}.key`, `${prefix}.${i}.value`]).flat();
}

for (const name of TINY_PACKAGE_NAMES) {
  test(`${name}: every graph loads and declares exactly the contract's inputs and outputs`, async (t) => {
    const pkg = await loadPackage(join(MODELS_DIR, name));
    t.after(() => releasePackage(pkg));
    const { encoder, decoder } = pkg.manifest;
    assert.deepEqual(pkg.encoder.inputNames, ['input_values', 'attention_mask', 'position_ids', ...cacheNames('past_key_values', encoder.numLayers)]);
    assert.deepEqual(pkg.encoder.outputNames, ['speech_embeddings', ...cacheNames('present', encoder.numLayers)]);
    assert.deepEqual(pkg.embed.inputNames, ['input_ids']);
    assert.deepEqual(pkg.embed.outputNames, ['inputs_embeds']);
    // The slots cache layout: per layer the session prefix's and the beam suffix's keys and values.
    const slotCaches = Array.from({ length: decoder.numLayers }, (_, i) => [`prefix_key_values.${i}.key`, `prefix_key_values.${i}.value`, `suffix_key_values.${i}.key`, `suffix_key_values.${i}.value`]).flat();
    assert.deepEqual(pkg.decoder.inputNames, ['inputs_embeds', 'position_ids', 'prefix_mask', 'suffix_mask', ...slotCaches]);
    assert.deepEqual(pkg.decoder.outputNames, ['logits', ...cacheNames('present', decoder.numLayers)]);
  });
}
