/**
 * The statistics object of /session_delays (spec §4.7), from a DelayTracker. Keys of the
 * original are kept so its evaluation clients still read them; their meaning is fixed (W7):
 *
 * - `stream_laal`: StreamLAAL, computation-aware, in ms (the original's field was a plain mean of
 *   wall-clock delays; the CA variant is the closest in kind). The NCA value and AL/LAAL/AP/DAL
 *   of both kinds are under `latency_metrics`, named as SimulEval names its scorers.
 * - `min/max/median/std_delay`: over units, the computation lag = output time − time the producing
 *   chunk's audio was complete (the original measured from the receipt of a frame).
 *
 * All times are milliseconds (`time_unit`), relative to the start of the stream.
 */
import type { DelayTracker, SegmentLog, TrackerLatency } from './delay-tracker.ts';
import { splitUnits } from './units.ts';

export interface UnitDelayDetail {
  word?: string;
  char?: string;
  segment_id: number;
  word_index?: number;
  char_index?: number;
  chunk_index: number;
  input_time: number;
  output_time: number;
  delay: number;
  source_ms: number;
  elapsed_ms: number;
}

export interface DelayStatistics {
  stream_laal: number;
  total_words?: number;
  total_characters?: number;
  segments: number;
  language_type: 'words' | 'characters';
  session_id: string;
  language_id: string;
  time_unit: 'ms';
  latency_unit: 'word' | 'char';
  min_delay?: number;
  max_delay?: number;
  median_delay?: number;
  std_delay?: number;
  source_length_ms?: number;
  chunks?: number;
  reference_length?: number | null;
  latency_metrics: TrackerLatency | null;
  segments_dropped?: number;
  word_delays?: UnitDelayDetail[];
  character_delays?: UnitDelayDetail[];
  segment_logs?: SegmentLog[];
}

function median(sorted: readonly number[]): number {
  const middle = Math.floor(sorted.length / 2);
  if (sorted.length % 2 === 1) return sorted[middle] ?? 0;
  return ((sorted[middle - 1] ?? 0) + (sorted[middle] ?? 0)) / 2;
}

/** Sample standard deviation (n − 1), 0 for a single value, as the original. */
function sampleStd(values: readonly number[]): number {
  if (values.length < 2) return 0;
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const squares = values.reduce((sum, v) => sum + (v - mean) ** 2, 0);
  return Math.sqrt(squares / (values.length - 1));
}

/** Builds the statistics object; `includeDetails` adds per-unit delays and segment logs. */
export function buildStatistics(tracker: DelayTracker, includeDetails: boolean): DelayStatistics {
  const isChars = tracker.unitKind === 'char';
  const units = tracker.emittedUnits;
  const base = {
    segments: tracker.outputSegments.length + tracker.segmentsDropped,
    language_type: isChars ? ('characters' as const) : ('words' as const),
    session_id: tracker.sessionId,
    language_id: tracker.languagePair,
    time_unit: 'ms' as const,
    latency_unit: tracker.unitKind,
  };
  const countKey = isChars ? 'total_characters' : 'total_words';
  if (units.length === 0) {
    return { stream_laal: 0, [countKey]: 0, ...base, latency_metrics: null };
  }
  const lags = units.map((u) => u.outputMs - u.inputMs);
  const sorted = [...lags].sort((a, b) => a - b);
  const latency = tracker.latency();
  const reference = tracker.referenceText;
  const stats: DelayStatistics = {
    stream_laal: latency.StreamLAAL_CA ?? 0,
    min_delay: sorted[0] ?? 0,
    max_delay: sorted[sorted.length - 1] ?? 0,
    median_delay: median(sorted),
    std_delay: sampleStd(lags),
    [countKey]: units.length,
    ...base,
    source_length_ms: tracker.sourceLengthMs,
    chunks: tracker.chunksRecorded,
    reference_length: reference === undefined ? null : splitUnits(reference, tracker.unitKind).length,
    latency_metrics: latency,
  };
  if (tracker.segmentsDropped > 0) stats.segments_dropped = tracker.segmentsDropped;
  if (includeDetails) {
    const details = units.map((u): UnitDelayDetail => ({
      ...(isChars ? { char: u.unit, char_index: u.index } : { word: u.unit, word_index: u.index }),
      segment_id: u.segmentId,
      chunk_index: u.chunkIndex,
      input_time: u.inputMs,
      output_time: u.outputMs,
      delay: u.outputMs - u.inputMs,
      source_ms: u.sourceMs,
      elapsed_ms: u.elapsedMs,
    }));
    if (isChars) stats.character_delays = details;
    else stats.word_delays = details;
    stats.segment_logs = tracker.segmentLogs();
  }
  return stats;
}
