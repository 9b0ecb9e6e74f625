import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isAppError } from '../../src/errors.ts';
import { DelayTracker, type ChunkEvent } from '../../src/evaluation/delay-tracker.ts';

function chunk(chunkIndex: number, newText: string, fullText: string, sourceEndMs: number, processingMs = 0, chunkAudioMs = 1920): ChunkEvent {
  return { chunkIndex, newText, fullText, sourceEndMs, chunkAudioMs, processingMs };
}

/** Five chunks of a German stream, two of them empty (the model chose to wait). */
function germanStream(): DelayTracker {
  const tracker = new DelayTracker({ sessionId: 'client_x_English -> German_1', languagePair: 'English -> German' });
  tracker.record(chunk(0, '', '', 1920), 2100);
  tracker.record(chunk(1, 'Hallo Welt', 'Hallo Welt', 3840, 100), 4000);
  tracker.record(chunk(2, '', 'Hallo Welt', 5760), 5900);
  tracker.record(chunk(3, 'wie geht', 'Hallo Welt wie geht', 7680, 200), 8000);
  // The flushed tail: only 820 ms of real audio, so the stream consumed 8500 ms in all.
  tracker.record(chunk(4, 'es', 'Hallo Welt wie geht es', 8500, 300, 820), 9000);
  return tracker;
}

test('each unit is attributed to the chunk that produced it, whatever empty chunks came before', () => {
  const tracker = germanStream();
  const units = tracker.emittedUnits.map((u) => [u.unit, u.sourceMs, u.elapsedMs, u.chunkIndex]);
  // The original matched outputs to inputs by counting non-empty outputs, so "Hallo Welt" would have
  // been charged to the first frame and "wie geht" to the second (W7).
  assert.deepEqual(units, [
    // CA = source time + the chunk's processing time (not the wall clock, which a client sending
    // faster than real time would turn into negative lag).
    ['Hallo', 3840, 3940, 1],
    ['Welt', 3840, 3940, 1],
    ['wie', 7680, 7880, 3],
    ['geht', 7680, 7880, 3],
    ['es', 8500, 8800, 4],
  ]);
  assert.equal(tracker.sourceLengthMs, 8500);
  assert.equal(tracker.chunksRecorded, 5);
});

test('statistics carry the original keys plus AL/LAAL/AP/DAL and StreamLAAL, NCA and CA', () => {
  const stats = germanStream().statistics();
  assert.equal(stats.total_words, 5);
  assert.equal(stats.segments, 3);
  assert.equal(stats.language_type, 'words');
  assert.equal(stats.language_id, 'English -> German');
  assert.equal(stats.time_unit, 'ms');
  // Lag per unit = processing time of its chunk: 100, 100, 200, 200, 300.
  assert.equal(stats.min_delay, 100);
  assert.equal(stats.max_delay, 300);
  assert.equal(stats.median_delay, 200);
  // mean 180, squared deviations 6400 + 6400 + 400 + 400 + 14400 = 28000, / (5 − 1) = 7000.
  assert.ok(Math.abs((stats.std_delay ?? 0) - Math.sqrt(7000)) < 1e-9);
  const metrics = stats.latency_metrics;
  assert.ok(metrics);
  // AL, no reference: |Y| = 5, 1/γ = 8500/5 = 1700.
  // 3840; 3840 − 1700; 7680 − 3400; 7680 − 5100; 8500 − 6800 (8500 ≥ |X| → τ = 5) = 14540 / 5 = 2908.
  assert.equal(metrics.AL, 2908);
  assert.equal(metrics.LAAL, 2908);
  // CA: 3940; 3940 − 1700; 7880 − 3400; 7880 − 5100; 8800 − 6800 → 15440 / 5 = 3088.
  assert.equal(metrics.AL_CA, 3088);
  // Unsegmented stream: StreamLAAL = LAAL; the compatibility field stream_laal is the CA one.
  assert.equal(metrics.StreamLAAL, 2908);
  assert.equal(stats.stream_laal, 3088);
  assert.equal(stats.word_delays, undefined);
});

test('a known reference sets |Y*| for LAAL and is written to the instance log', () => {
  const tracker = germanStream();
  tracker.setReference('Hallo Welt , wie geht es dir heute ?');
  const stats = tracker.statistics();
  assert.equal(stats.reference_length, 9);
  // AL now uses |Y| = 9 (1/γ = 8500/9); LAAL uses max(5, 9) = 9 too.
  const g = 8500 / 9;
  const expected = (3840 + (3840 - g) + (7680 - 2 * g) + (7680 - 3 * g) + (8500 - 4 * g)) / 5;
  assert.ok(Math.abs((stats.latency_metrics?.LAAL ?? 0) - expected) < 1e-9);
  assert.equal(tracker.instanceLog().reference, 'Hallo Welt , wie geht es dir heute ?');
});

test('details list every unit with both delays, and segment logs keep the original export shape', () => {
  const stats = germanStream().statistics(true);
  assert.equal(stats.word_delays?.length, 5);
  assert.deepEqual(stats.word_delays?.[2], {
    word: 'wie',
    word_index: 2,
    segment_id: 1,
    chunk_index: 3,
    input_time: 7800,
    output_time: 8000,
    delay: 200,
    source_ms: 7680,
    elapsed_ms: 7880,
  });
  const logs = stats.segment_logs ?? [];
  assert.equal(logs.length, 3);
  assert.deepEqual(logs[1], {
    segment_id: 1,
    chunk_index: 3,
    src: '[Audio chunk 3] (1.9s)',
    tgt: 'wie geht',
    tokens: ['wie', 'geht'],
    delays: [200, 200],
    source_delays_ms: [7680, 7680],
    elapsed_ms: [7880, 7880],
    input_start_time: 7800,
    output_time: 8000,
    average_delay: 200,
  });
});

test('the instance log has SimulEval instances.log fields', () => {
  const entry = germanStream().instanceLog(3);
  assert.deepEqual(entry, {
    index: 3,
    prediction: 'Hallo Welt wie geht es',
    delays: [3840, 3840, 7680, 7680, 8500],
    elapsed: [3940, 3940, 7880, 7880, 8800],
    prediction_length: 5,
    source_length: 8500,
    source: ['session:client_x_English -> German_1'],
    latency_unit: 'word',
  });
});

test('Chinese streams count characters, punctuation included, and report total_characters', () => {
  const tracker = new DelayTracker({ sessionId: 's', languagePair: 'English -> Chinese' });
  tracker.record(chunk(0, '你好，', '你好，', 1920), 2000);
  tracker.record(chunk(1, '', '你好，', 3840), 4000);
  tracker.record(chunk(2, '世界 AI', '你好，世界 AI', 5760), 6000);
  const stats = tracker.statistics(true);
  assert.equal(stats.total_characters, 7);
  assert.equal(stats.total_words, undefined);
  assert.equal(stats.language_type, 'characters');
  assert.deepEqual(stats.character_delays?.map((d) => [d.char, d.source_ms]), [
    ['你', 1920],
    ['好', 1920],
    ['，', 1920],
    ['世', 5760],
    ['界', 5760],
    ['A', 5760],
    ['I', 5760],
  ]);
  assert.equal(tracker.instanceLog().prediction, '你好，世界AI');
});

test('revised text, mismatched chunk text and out-of-order chunks are refused', () => {
  const refused = (fn: () => unknown, pattern: RegExp) =>
    assert.throws(fn, (e: unknown) => isAppError(e) && e.code === 'internal' && pattern.test(e.message));
  const tracker = new DelayTracker({ sessionId: 's', languagePair: 'English -> German' });
  tracker.record(chunk(0, 'Hallo', 'Hallo', 1920), 2000);
  refused(() => tracker.record(chunk(1, 'Leute', 'Hi Leute', 3840), 4000), /revised/);
  refused(() => tracker.record(chunk(1, 'Welt', 'Hallo Leute', 3840), 4000), /does not match/);
  refused(() => tracker.record(chunk(0, 'Welt', 'Hallo Welt', 3840), 4000), /after chunk 0/);
  // Nothing of the refused chunks was kept.
  assert.equal(tracker.emittedUnits.length, 1);
});

test('an empty tracker answers the original empty shape, and reset starts a new stream', () => {
  const tracker = germanStream();
  tracker.reset();
  const stats = tracker.statistics(true);
  assert.equal(stats.stream_laal, 0);
  assert.equal(stats.total_words, 0);
  assert.equal(stats.segments, 0);
  assert.equal(stats.latency_metrics, null);
  // Chunk indices restart after a reset.
  tracker.record(chunk(0, 'neu', 'neu', 1920), 2000);
  assert.equal(tracker.emittedUnits.length, 1);
});

test('segment logs are bounded; the dropped ones still count and the metrics keep every unit', () => {
  const tracker = new DelayTracker({ sessionId: 's', languagePair: 'English -> German', maxSegments: 2 });
  let text = '';
  for (let i = 0; i < 5; i++) {
    text = text ? `${text} w${i}` : `w${i}`;
    tracker.record(chunk(i, `w${i}`, text, (i + 1) * 960), (i + 1) * 1000);
  }
  const stats = tracker.statistics(true);
  assert.equal(stats.segment_logs?.length, 2);
  assert.equal(stats.segment_logs?.[0]?.segment_id, 3);
  assert.equal(stats.segments, 5);
  assert.equal(stats.segments_dropped, 3);
  assert.equal(stats.word_delays?.length, 5);
});
