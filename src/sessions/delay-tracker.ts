/**
 * Per-session delay recording for evaluation mode (spec §4.7), with the original's statistics
 * object, but attributed correctly (W7): each output is matched to the chunk that produced it
 * (by chunk index, so empty outputs cannot shift later ones), and its input time is when the
 * last sample of that chunk arrived, not when an unrelated frame was submitted. Times in the
 * statistics are Unix seconds and delays seconds, as in the original; `source_end_ms` adds the
 * source-timeline position needed for AL/LAAL-style metrics.
 */
import type { ChunkResult } from '../inference/translation-engine.ts';

export type UnitKind = 'characters' | 'words';

export interface SegmentLog {
  segment_id: number;
  src: string;
  tgt: string;
  tokens: string[];
  delays: number[];
  input_start_time: number;
  output_time: number;
  average_delay: number;
  chunk_index: number;
  source_end_ms: number;
}

interface InputMark {
  /** Cumulative audio received (ms) after this frame. */
  endMs: number;
  atMs: number;
}

/** Character-level for Chinese targets (every character counts), word-level otherwise. */
export function unitKindOf(languagePair: string): UnitKind {
  return /chinese|zh/i.test(languagePair) ? 'characters' : 'words';
}

/** Splits output text into units; words are runs of Unicode letters, digits and "_". */
export function splitUnits(text: string, kind: UnitKind): string[] {
  if (kind === 'characters') return Array.from(text);
  return text.match(/[\p{L}\p{N}\p{M}_]+/gu) ?? [];
}

function round(value: number, digits = 6): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}

export class DelayTracker {
  private readonly unitKind: UnitKind;
  private inputs: InputMark[] = [];
  private receivedMs = 0;
  private segments: SegmentLog[] = [];
  private nextSegmentId = 0;
  /** When the first WebSocket of the session connected in evaluation mode (Unix ms), for logs. */
  websocketStartMs: number | null = null;

  constructor(
    private readonly sessionId: string,
    private readonly languagePair: string,
    private readonly maxSegments: number,
  ) {
    this.unitKind = unitKindOf(languagePair);
  }

  /** Records a frame of `samples` 16 kHz samples accepted at `atMs`. */
  recordInput(samples: number, atMs: number): void {
    this.receivedMs += samples / 16;
    const last = this.inputs[this.inputs.length - 1];
    // Frames of the same millisecond share one mark, which bounds the list for tiny frames.
    if (last && last.atMs === atMs) last.endMs = this.receivedMs;
    else this.inputs.push({ endMs: this.receivedMs, atMs });
  }

  /** Records a processed chunk; empty outputs advance nothing but are still consumed in order. */
  recordChunk(result: ChunkResult, atMs: number): void {
    // The chunk was complete when the frame carrying its last real sample arrived.
    const covering = this.inputs.find((mark) => mark.endMs >= result.sourceEndMs - 1e-6) ?? this.inputs[this.inputs.length - 1];
    const inputAtMs = covering?.atMs ?? atMs;
    // Later chunks end later: marks wholly before this chunk's end are no longer needed.
    this.inputs = this.inputs.filter((mark) => mark.endMs >= result.sourceEndMs - 1e-6);
    if (result.newText.length === 0) return;
    const tokens = splitUnits(result.newText, this.unitKind);
    if (tokens.length === 0) return;
    const delaySeconds = round((atMs - inputAtMs) / 1000);
    this.segments.push({
      segment_id: this.nextSegmentId++,
      src: `[Audio segment ${result.chunkIndex}] (${(result.chunkAudioMs / 1000).toFixed(1)}s)`,
      tgt: result.newText,
      tokens,
      delays: tokens.map(() => delaySeconds),
      input_start_time: round(inputAtMs / 1000),
      output_time: round(atMs / 1000),
      average_delay: delaySeconds,
      chunk_index: result.chunkIndex,
      source_end_ms: result.sourceEndMs,
    });
    if (this.segments.length > this.maxSegments) this.segments.splice(0, this.segments.length - this.maxSegments);
  }

  /** Forgets everything recorded (after /reset_translation). */
  reset(): void {
    this.inputs = [];
    this.receivedMs = 0;
    this.segments = [];
    this.nextSegmentId = 0;
  }

  get segmentCount(): number {
    return this.segments.length;
  }

  segmentLogs(): readonly SegmentLog[] {
    return this.segments;
  }

  /** The statistics object of `/session_delays` (spec §4.7). */
  statistics(includeDetails: boolean): Record<string, unknown> {
    const countKey = this.unitKind === 'characters' ? 'total_characters' : 'total_words';
    const base = { session_id: this.sessionId, language_id: this.languagePair, language_type: this.unitKind };
    const units = this.segments.flatMap((segment) =>
      segment.tokens.map((unit, index) => ({ unit, index, segment, delay: segment.delays[index] ?? segment.average_delay })),
    );
    if (units.length === 0) return { ...base, stream_laal: 0, [countKey]: 0, segments: 0 };
    const delays = units.map((entry) => entry.delay).sort((a, b) => a - b);
    const mean = delays.reduce((sum, value) => sum + value, 0) / delays.length;
    const middle = Math.floor(delays.length / 2);
    const median = delays.length % 2 === 1 ? (delays[middle] ?? 0) : ((delays[middle - 1] ?? 0) + (delays[middle] ?? 0)) / 2;
    const variance = delays.length > 1 ? delays.reduce((sum, value) => sum + (value - mean) ** 2, 0) / (delays.length - 1) : 0;
    const stats: Record<string, unknown> = {
      ...base,
      // The original's "stream_laal": the mean computation-aware delay per output unit (not LAAL).
      stream_laal: round(mean),
      min_delay: delays[0] ?? 0,
      max_delay: delays[delays.length - 1] ?? 0,
      median_delay: round(median),
      std_delay: round(Math.sqrt(variance)),
      [countKey]: units.length,
      segments: this.segments.length,
    };
    if (includeDetails) {
      const isChar = this.unitKind === 'characters';
      stats[isChar ? 'character_delays' : 'word_delays'] = units.map((entry) => ({
        [isChar ? 'char' : 'word']: entry.unit,
        segment_id: entry.segment.segment_id,
        [isChar ? 'char_index' : 'word_index']: entry.index,
        input_time: entry.segment.input_start_time,
        output_time: entry.segment.output_time,
        delay: entry.delay,
        source_end_ms: entry.segment.source_end_ms,
      }));
      stats.segment_logs = this.segments;
    }
    return stats;
  }
}
