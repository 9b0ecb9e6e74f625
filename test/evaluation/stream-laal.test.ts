import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAppError } from '../../src/errors.ts';
import { lengthAdaptiveAverageLagging } from '../../src/evaluation/latency-metrics.ts';
import { resegment } from '../../src/evaluation/resegment.ts';
import { streamLaal } from '../../src/evaluation/stream-laal.ts';

const close = (actual: number | null, expected: number) => {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);
};

test('resegmentation follows the minimum-edit-distance alignment to the reference sentences', () => {
  // a b | x c d e: "x" is deleted, so a, b → sentence 0 and c, d, e → sentence 1.
  assert.deepEqual(resegment(['a', 'b', 'c', 'd', 'e'], [['a', 'b', 'x'], ['c', 'd', 'e']]), [0, 0, 1, 1, 1]);
  // An inserted unit at a boundary joins the sentence aligned before it.
  assert.deepEqual(resegment(['a', 'b', 'X', 'c'], [['a', 'b'], ['c']]), [0, 0, 0, 1]);
  // Substitutions still align position by position; an empty reference sentence gets nothing.
  assert.deepEqual(resegment(['a', 'q', 'c'], [['a', 'b'], [], ['c']]), [0, 0, 2]);
  // Characters work the same way.
  assert.deepEqual(resegment(Array.from('你好世界'), [Array.from('你好'), Array.from('世界')]), [0, 0, 1, 1]);
});

test('resegmentation refuses alignments too large to hold', () => {
  assert.throws(
    () => resegment(['a', 'b', 'c'], [['a', 'b', 'c']], 10),
    (e: unknown) => isAppError(e) && e.code === 'badRequest',
  );
});

test('StreamLAAL with a reference segmentation scores each sentence from its own start', () => {
  const result = streamLaal({
    units: ['a', 'b', 'c', 'd', 'e'],
    delays: [1000, 1500, 2500, 4000, 4500],
    elapsed: [1200, 1700, 2900, 4300, 4800],
    sourceLengthMs: 5000,
    unitKind: 'word',
    segments: [
      { startMs: 0, durationMs: 2000, text: 'a b x' },
      { startMs: 2000, durationMs: 3000, text: 'c d e' },
    ],
  });
  // Sentence 1: units a, b with delays 1000, 1500 from its start; |X| = 2000, max(|Y|=2, |Y*|=3) = 3 → 1/γ = 2000/3.
  //   (1000 + (1500 − 2000/3)) / 2 = 916.667 (no delay reaches 2000, so τ = 2).
  // Sentence 2: c, d, e at 2500, 4000, 4500 → 500, 2000, 2500 from 2000 ms; |X| = 3000, 1/γ = 1000.
  //   (500 + (2000 − 1000) + (2500 − 2000)) / 3 = 666.667.
  close(result.StreamLAAL, ((1000 + 1500 - 2000 / 3) / 2 + 2000 / 3) / 2);
  // CA: sentence 1: (1200 + 1700 − 2000/3) / 2; sentence 2: 900, 2300, 2800 → (900 + 1300 + 800) / 3 = 1000.
  close(result.StreamLAAL_CA, ((1200 + 1700 - 2000 / 3) / 2 + 1000) / 2);
  assert.equal(result.scoredSegments, 2);
  assert.equal(result.isResegmented, true);
});

test('StreamLAAL skips reference sentences that receive no output', () => {
  const result = streamLaal({
    units: ['a', 'b'],
    delays: [500, 900],
    elapsed: [600, 1000],
    sourceLengthMs: 3000,
    unitKind: 'word',
    segments: [
      { startMs: 0, durationMs: 1000, text: 'a b' },
      { startMs: 1000, durationMs: 2000, text: 'nothing here' },
    ],
  });
  assert.equal(result.scoredSegments, 1);
  assert.equal(result.skippedSegments, 1);
  // 500; 900 − 500 = 400 → 450.
  close(result.StreamLAAL, 450);
});

test('without a segmentation StreamLAAL is LAAL over the whole stream', () => {
  const input = { units: ['a', 'b', 'c'], delays: [1000, 2000, 3000], elapsed: [1500, 2600, 3900], sourceLengthMs: 3000, unitKind: 'word' as const };
  const result = streamLaal({ ...input, reference: 'a b c d' });
  close(result.StreamLAAL, lengthAdaptiveAverageLagging(input.delays, 3000, 4));
  // By hand: max(3, 4) = 4 → 1/γ = 750: 1000; 2000 − 750; 3000 − 1500 (τ = 3) → 3750 / 3 = 1250.
  close(result.StreamLAAL, 1250);
  assert.equal(result.isResegmented, false);
  const noReference = streamLaal(input);
  // |Y*| unknown: 1/γ = 1000: 1000; 1000; 1000 → 1000.
  close(noReference.StreamLAAL, 1000);
  assert.equal(streamLaal({ ...input, units: [], delays: [], elapsed: [] }).StreamLAAL, null);
});
