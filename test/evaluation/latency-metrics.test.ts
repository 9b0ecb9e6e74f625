/**
 * Worked examples computed by hand from the definitions (SimulEval latency_scorer.py):
 *   AL   = (1/τ) Σ_{i≤τ} d_i − (i−1)/γ,  γ = |Y|/|X|,             τ = first i with d_i ≥ |X|
 *   LAAL = the same with γ = max(|Y|, |Y*|)/|X|
 *   AP   = Σ d_i / (|X|·|Y|)
 *   DAL  = (1/|Y|) Σ d'_i − (i−1)/γ,  d'_1 = d_1, d'_i = max(d_i, d'_{i−1} + 1/γ),  γ = |hyp|/|X|
 * |Y| is the reference length when known (use_ref_len), else the number of emitted units.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAppError } from '../../src/errors.ts';
import {
  averageLagging,
  averageProportion,
  differentiableAverageLagging,
  lengthAdaptiveAverageLagging,
  scoreLatency,
} from '../../src/evaluation/latency-metrics.ts';
import { computationAwareDelays } from '../../src/evaluation/stream-client.ts';

const close = (actual: number | null, expected: number) => {
  assert.ok(actual !== null && Math.abs(actual - expected) < 1e-9, `${actual} ≠ ${expected}`);
};

// Source 3000 ms; five units emitted after 1000, 1000, 2000, 3000, 3000 ms of source; reference of 4 units.
const X = 3000;
const D = [1000, 1000, 2000, 3000, 3000];

test('AL uses the reference length for γ and stops at the first unit emitted after the whole source', () => {
  // γ = 4/3000, 1/γ = 750.
  // i=1: 1000 − 0 = 1000; i=2: 1000 − 750 = 250; i=3: 2000 − 1500 = 500; i=4: 3000 − 2250 = 750, d_4 ≥ |X| → τ = 4.
  // AL = (1000 + 250 + 500 + 750) / 4 = 625.
  close(averageLagging(D, X, 4), 625);
});

test('LAAL takes γ from the longer of hypothesis and reference', () => {
  // max(5, 4) = 5: γ = 5/3000, 1/γ = 600.
  // 1000; 1000 − 600 = 400; 2000 − 1200 = 800; 3000 − 1800 = 1200 (τ = 4) → 3400 / 4 = 850.
  close(lengthAdaptiveAverageLagging(D, X, 4), 850);
  // With a longer reference (8 units), 1/γ = 375: 1000; 625; 1250; 1875 → 4750 / 4 = 1187.5.
  close(lengthAdaptiveAverageLagging(D, X, 8), 1187.5);
});

test('AP divides the summed delays by source length times target length', () => {
  // (1000 + 1000 + 2000 + 3000 + 3000) / (3000 · 4) = 10000 / 12000.
  close(averageProportion(D, X, 4), 10000 / 12000);
});

test('DAL enforces at least 1/γ between consecutive delays and averages over all units', () => {
  // γ = 5/3000, 1/γ = 600. d' = 1000, max(1000, 1600) = 1600, max(2000, 2200) = 2200,
  // max(3000, 2800) = 3000, max(3000, 3600) = 3600.
  // Terms: 1000 − 0, 1600 − 600, 2200 − 1200, 3000 − 1800, 3600 − 2400 = 1000, 1000, 1000, 1200, 1200 → 5400 / 5 = 1080.
  close(differentiableAverageLagging(D, X), 1080);
});

test('a first unit emitted after the whole source scores its own delay (SimulEval)', () => {
  close(averageLagging([3500, 3600], X, 2), 3500);
  // Exactly at the end is not "after": τ = 1 and AL = 3000 − 0.
  close(averageLagging([3000, 3100], X, 2), 3000);
});

test('scoreLatency averages per-instance scores, CA variants use the elapsed times, and skips empty instances', () => {
  const scores = scoreLatency([
    // elapsed: γ = 4/3000 (1/γ = 750): 1500; 1800 − 750 = 1050; 2600 − 1500 = 1100; 3400 − 2250 = 1150, 3400 ≥ 3000 → τ = 4.
    // AL_CA = 4800 / 4 = 1200.
    { delays: D, elapsed: [1500, 1800, 2600, 3400, 3500], sourceLengthMs: X, referenceLength: 4 },
    // No reference: |Y| = 2, γ = 2/2000, 1/γ = 1000: 500; 2000 − 1000 = 1000 (τ = 2) → AL = 750.
    // Elapsed 700, 2100: 700; 2100 − 1000 = 1100 → AL_CA = 900.
    { delays: [500, 2000], elapsed: [700, 2100], sourceLengthMs: 2000 },
    { delays: [], elapsed: [], sourceLengthMs: 1000 },
  ]);
  close(scores.AL, (625 + 750) / 2);
  close(scores.AL_CA, (1200 + 900) / 2);
  // LAAL of instance 2 equals its AL (no reference); instance 1: 850.
  close(scores.LAAL, (850 + 750) / 2);
  // AP: 10000/12000 and (500 + 2000)/(2000 · 2) = 0.625.
  close(scores.AP, (10000 / 12000 + 0.625) / 2);
  // DAL of instance 2: γ = 2/2000, d' = 500, max(2000, 1500) = 2000 → (500 + 1000)/2 = 750.
  close(scores.DAL, (1080 + 750) / 2);
});

test('scores are null when no instance has delays, and CA is null without elapsed times', () => {
  const none = scoreLatency([{ delays: [], sourceLengthMs: 1000 }]);
  assert.equal(none.AL, null);
  const ncaOnly = scoreLatency([{ delays: [500, 2000], sourceLengthMs: 2000 }]);
  close(ncaOnly.AL, 750);
  assert.equal(ncaOnly.AL_CA, null);
});

test('invalid inputs are refused with badRequest', () => {
  const bad = (fn: () => unknown) => assert.throws(fn, (e: unknown) => isAppError(e) && e.code === 'badRequest');
  bad(() => averageLagging([], X, 4));
  bad(() => averageLagging(D, 0, 4));
  bad(() => averageLagging(D, X, 0));
  bad(() => scoreLatency([{ delays: [1, 2], elapsed: [1], sourceLengthMs: 10 }]));
});

test('over-generation: SimulEval AL falls below zero, LAAL does not (hand-computed)', () => {
  // Source 3000 ms, reference 3 words, hypothesis 6 words arriving in pairs at 1, 2 and 3 s.
  const delays = [1000, 1000, 2000, 2000, 3000, 3000];
  // AL: γ = 3/3000, 1/γ = 1000: 1000, 0, 0, −1000, −1000 (3000 ≥ |X| → τ = 5) → −1000 / 5 = −200.
  close(averageLagging(delays, 3000, 3), -200);
  // LAAL: γ = max(6, 3)/3000, 1/γ = 500: 1000, 500, 1000, 500, 1000 → 4000 / 5 = 800.
  close(lengthAdaptiveAverageLagging(delays, 3000, 3), 800);
  // Without over-generation the two agree.
  close(averageLagging([1000, 2000, 3000], 3000, 3), lengthAdaptiveAverageLagging([1000, 2000, 3000], 3000, 3));
});

test('front-loaded output of a chunked policy: every unit at a chunk end, AL and LAAL stay positive (hand-computed)', () => {
  // Chunks of 1920 ms over 4000 ms of source; the model says all 4 reference words after the
  // first chunk, then nothing: delays 1920 × 4, none reaches |X| → τ = 4.
  // 1/γ = 1000: 1920, 920, −80, −1080 → 1680 / 4 = 420.
  close(averageLagging([1920, 1920, 1920, 1920], 4000, 4), 420);
  close(lengthAdaptiveAverageLagging([1920, 1920, 1920, 1920], 4000, 4), 420);
});

test('computation-aware delays are source time plus answer time, whatever the pacing', () => {
  // Paced at 1×: audio up to 1920 ms left at 1920 ms, the unit came 150 ms later: CA = 2070 =
  // the wall clock since the start. The padded tail (beyond the 3000 ms of audio) answers the EOF.
  const paced = [{ audioMs: 1920, atMs: 1920 }, { audioMs: 3000, atMs: 3000 }, { audioMs: Infinity, atMs: 3001 }];
  assert.deepEqual(computationAwareDelays([1920, 3840], [2070, 3301], paced), [2070, 3840 + 300]);
  // Unpaced: the same audio left at once; wall clock would say 40 ms for a unit of 1920 ms of source.
  const unpaced = [{ audioMs: 1920, atMs: 1 }, { audioMs: 3000, atMs: 2 }, { audioMs: Infinity, atMs: 3 }];
  assert.deepEqual(computationAwareDelays([1920, 3840], [40, 90], unpaced), [1920 + 39, 3840 + 87]);
  // Never below the source delay, even if a clock disagrees.
  assert.deepEqual(computationAwareDelays([1920], [0], [{ audioMs: 1920, atMs: 5 }]), [1920]);
});
