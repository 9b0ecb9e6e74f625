import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corpusChrf } from '../../src/evaluation/chrf.ts';

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) < tolerance, `${actual} ≠ ${expected}`);

test('chrF averages precision and recall over the orders both sides have, then takes F2', () => {
  // hyp "ab", ref "abc". Order 1: hyp {a, b}, ref {a, b, c}, 2 matches. Order 2: hyp {ab}, ref {ab, bc}, 1 match.
  // Order 3: the hypothesis has no 3-gram, so the order does not count; orders 4–6 are empty on both sides.
  // P = (2/2 + 1/1)/2 = 1, R = (2/3 + 1/2)/2 = 7/12; F2 = 5PR / (4P + R) = (35/12) / (55/12) = 7/11.
  const result = corpusChrf(['ab'], [['abc']]);
  close(result.score, 700 / 11);
  assert.deepEqual(result.statistics.slice(0, 9), [2, 3, 2, 1, 2, 1, 0, 1, 0]);
});

test('whitespace is removed before extracting character n-grams', () => {
  close(corpusChrf(['a b  c'], [['abc']]).score, 100);
  assert.ok(corpusChrf(['a b'], [['ab']], { whitespace: true }).score < 100);
});

test('statistics are summed over the corpus before scoring', () => {
  // Segment 1 "ab"/"abc" as above; segment 2 "x"/"y": order 1 hyp 1, ref 1, match 0.
  // Order 1: 3 hyp, 4 ref, 2 match; order 2: 1, 2, 1. P = (2/3 + 1)/2 = 5/6, R = (2/4 + 1/2)/2 = 1/2.
  // F2 = 5 · (5/6) · (1/2) / (4 · 5/6 + 1/2) = (25/12) / (23/6) = 25/46.
  close(corpusChrf(['ab', 'x'], [['abc', 'y']]).score, 2500 / 46);
});

test("sacreBLEU's documented example: chrF2 = 59.73 with two reference streams", () => {
  const hypotheses = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
  const references = [
    ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
    ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
  ];
  assert.equal(corpusChrf(hypotheses, references).score.toFixed(2), '59.73');
  // chrF++ (word order 2) on the same data, as sacreBLEU 2.6 computes it.
  close(corpusChrf(hypotheses, references, { wordOrder: 2 }).score, 59.15310444399262, 1e-9);
});

test('Chinese and non-BMP characters are counted per code point', () => {
  // "你好" vs "你好吗": like "ab"/"abc" → 7/11.
  close(corpusChrf(['你好'], [['你好吗']]).score, 700 / 11);
  close(corpusChrf(['𠀀字'], [['𠀀字']]).score, 100);
});
