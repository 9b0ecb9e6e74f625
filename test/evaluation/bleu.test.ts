/**
 * Known values: sacreBLEU's README example (BLEU = 48.53 82.4/50.0/45.5/37.5, BP = 0.943) worked
 * out by hand below, tokenizer outputs traced rule by rule, and small hand-computed corpora.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { corpusBleu, formatBleu } from '../../src/evaluation/bleu.ts';
import { isZhTokenizerChar, tokenize13a, tokenizeZh } from '../../src/evaluation/bleu-tokenizers.ts';

const close = (actual: number, expected: number, tolerance = 1e-9) =>
  assert.ok(Math.abs(actual - expected) < tolerance, `${actual} ≠ ${expected}`);

test('13a isolates symbols, splits . and , except between digits, and a dash after a digit', () => {
  assert.equal(tokenize13a('The dog bit the man.'), 'The dog bit the man .');
  // The apostrophe (U+0027) is in none of 13a's classes: "wasn't" stays one token.
  assert.equal(tokenize13a("It wasn't surprising."), "It wasn't surprising .");
  assert.equal(tokenize13a('Preis: $12.50 (netto) & "mehr" <b>'), 'Preis : $ 12.50 ( netto ) & " mehr " < b >');
  assert.equal(tokenize13a('a-b 1-2 x.y 3.4, 5,6 foo,bar'), 'a-b 1 - 2 x . y 3.4 , 5,6 foo , bar');
  // Entities are unescaped and <skipped> removed first.
  assert.equal(tokenize13a('a &amp; b<skipped>'), 'a & b');
});

test('zh isolates CJK characters (and, like sacreBLEU, U+2001–U+2A6D) and tokenizes the rest as 13a', () => {
  assert.equal(tokenizeZh('我用 Python 3.11 写代码…“好”'), '我 用 Python 3.11 写 代 码 … “ 好 ”');
  assert.equal(tokenizeZh('今天天气很好。'), '今 天 天 气 很 好 。');
  assert.equal(tokenizeZh('ABC２０２４年'), 'ABC ２ ０ ２ ４ 年');
  // sacreBLEU writes '\u20000' (= U+2000 followed by "0"), so U+2000 itself is not included,
  // U+2001 is, and the real Extension B ideograph U+20000 is not.
  assert.equal(isZhTokenizerChar('\u2000'), false);
  assert.equal(isZhTokenizerChar('\u2001'), true);
  assert.equal(isZhTokenizerChar('\u{20000}'), false);
  assert.equal(tokenizeZh('emoji 😀 test 𠀀字'), 'emoji 😀 test 𠀀 字');
});

test("sacreBLEU's documented example: BLEU = 48.53 with two reference streams", () => {
  const hypotheses = ['The dog bit the man.', "It wasn't surprising.", 'The man had just bitten him.'];
  const references = [
    ['The dog bit the man.', 'It was not unexpected.', 'The man bit him first.'],
    ['The dog had bit the man.', 'No one was surprised.', 'The man had bitten the dog.'],
  ];
  const result = corpusBleu(hypotheses, references);
  // Lengths: hyps 6 + 4 + 7 = 17 tokens; closest refs 6 (6 vs 7), 5 (5 vs 5), 7 (6 vs 7 for a 7-token hyp) = 18.
  assert.equal(result.sysLen, 17);
  assert.equal(result.refLen, 18);
  // Unigrams 6/6 + 2/4 (It, .) + 6/7 (all but "just") = 14/17; bigrams 5/5 + 0/3 + 2/6 (The man, man had) = 7/14;
  // trigrams 4/4 + 0/2 + 1/5 (The man had) = 5/11; 4-grams 3/3 + 0/1 + 0/4 = 3/8.
  assert.deepEqual(result.counts, [14, 7, 5, 3]);
  assert.deepEqual(result.totals, [17, 14, 11, 8]);
  // BP = exp(1 − 18/17); BLEU = BP · (82.35 · 50 · 45.45 · 37.5)^(1/4).
  const expected = Math.exp(1 - 18 / 17) * Math.pow((1400 / 17) * 50 * (500 / 11) * 37.5, 1 / 4);
  close(result.score, expected);
  assert.equal(result.score.toFixed(2), '48.53');
  assert.equal(formatBleu(result), 'BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)');
});

test('a missing 4-gram match is smoothed with the exp method', () => {
  // the cat sat on the mat / the cat is on the mat: 1-grams 5/6, 2-grams 3/5 (the cat, on the, the mat),
  // 3-grams 1/4 (on the mat), 4-grams 0/3 → exp smoothing: 100 / (2 · 3). BP = 1.
  const result = corpusBleu(['the cat sat on the mat'], [['the cat is on the mat']]);
  close(result.score, Math.pow((500 / 6) * 60 * 25 * (100 / 6), 1 / 4));
  close(result.score, 37.99178428257963, 1e-9);
});

test('a short hypothesis is penalised by BP = exp(1 − r/c)', () => {
  // All n-grams of "the cat sat on" match; c = 4, r = 6 → 100 · exp(−0.5).
  close(corpusBleu(['the cat sat on'], [['the cat sat on the mat']]).score, 100 * Math.exp(-0.5));
  // No 3-gram at all: sacreBLEU's floored log makes the score 0.
  assert.equal(corpusBleu(['the cat'], [['the cat sat on the mat']]).score, 0);
  assert.equal(corpusBleu([''], [['a b c']]).score, 0);
});

test('Chinese is scored with the zh tokenizer character by character', () => {
  // 今 天 天 气 很 好 。 vs 今 天 的 天 气 很 好 。: 1-grams 7/7; 2-grams 5/6 (not 天天); 3-grams 3/5; 4-grams 2/4;
  // c = 7 < r = 8 → BP = exp(1 − 8/7).
  const result = corpusBleu(['今天天气很好。'], [['今天的天气很好。']], { tokenize: 'zh' });
  assert.deepEqual(result.counts, [7, 5, 3, 2]);
  close(result.score, Math.exp(1 - 8 / 7) * Math.pow(100 * (500 / 6) * 60 * 50, 1 / 4));
  // With 13a the sentence is one token and nothing matches.
  assert.equal(corpusBleu(['今天天气很好。'], [['今天的天气很好。']], { tokenize: '13a' }).score, 0);
});

test('mismatched corpus sizes are refused', () => {
  assert.throws(() => corpusBleu(['a', 'b'], [['a']]), /reference stream/);
  assert.throws(() => corpusBleu(['a'], []), /at least one/);
});
