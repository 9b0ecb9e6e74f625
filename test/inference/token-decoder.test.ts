import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { ModelManifest } from '../../src/inference/manifest.ts';
import { decodeTokens } from '../../src/inference/worker/token-decoder.ts';

const manifest = (decoding: ModelManifest['tokenizer']['decoding']) =>
  ({ tokenizer: { file: 'tokens.json', decoding }, specialTokens: { pad: 0, speechPlaceholder: 1, endOfChunk: [2], skipInText: [0, 1, 2] } }) as unknown as ModelManifest;

test('sentencepiece pieces become words, byte pieces become UTF-8, specials are skipped', () => {
  const tokens = ['<pad>', '<sp>', '<eoc>', '\u2581Guten', '\u2581Tag', '<0xC3>', '<0xBC>', 'ber'];
  assert.equal(decodeTokens([3, 4, 2], tokens, manifest('sentencepiece')).trim(), 'Guten Tag');
  assert.equal(decodeTokens([5, 6, 7], tokens, manifest('sentencepiece')), 'über');
});

test('byte-level pieces (GPT-2 alphabet) decode to UTF-8 text, including split characters', () => {
  // "Ġ" is the byte-level form of a space; "ä¸Ń" is 中 (E4 B8 AD) in the GPT-2 alphabet.
  const tokens = ['<pad>', '<sp>', '<eoc>', 'Hello', '\u0120world', '\u00e4\u00b8', '\u0143'];
  assert.equal(decodeTokens([3, 4], tokens, manifest('byte-level')), 'Hello world');
  assert.equal(decodeTokens([5, 6], tokens, manifest('byte-level')), '中');
});

test('plain pieces are concatenated', () => {
  assert.equal(decodeTokens([3, 4, 0], ['<pad>', '<sp>', '<eoc>', '你', '好'], manifest('plain')), '你好');
});
