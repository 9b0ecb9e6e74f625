/**
 * Per-session delay tracking for evaluation mode. Fed with every chunk result of a translation
 * stream (empty ones included) and the wall-clock time since the stream started, it records for
 * each emitted target unit:
 *
 * - `sourceMs`, the non-computation-aware delay: ms of source audio the stream had consumed
 *   when the unit was produced (the chunk's own `sourceEndMs`, so empty chunks cannot shift the
 *   attribution of later text — the original's W7);
 * - `elapsedMs`, the computation-aware delay: that source time plus the chunk's processing time
 *   (its audio complete → its text ready, queueing included). At 1× pacing this is the wall-clock
 *   time since the stream started, SimulEval's `elapsed`; for a client sending faster than real
 *   time, wall clock would count the seconds the client saved as negative lag, so it is not used.
 *
 * No Fastify, no WebSocket, no clock of its own: the caller supplies times (see StreamClock).
 */
import type { ChunkResult } from '../inference/translation-engine.ts';
import { AppError } from '../errors.ts';
import { parseLanguagePair, type UnitKind } from './language.ts';
import { scoreLatency, type LatencyScores } from './latency-metrics.ts';
import { streamLaal } from './stream-laal.ts';
import { joinUnits, newUnitsFromCumulative, splitUnits } from './units.ts';
import { buildStatistics, type DelayStatistics } from './delay-statistics.ts';

/** What the tracker needs of a chunk result. */
export type ChunkEvent = Pick<ChunkResult, 'chunkIndex' | 'newText' | 'fullText' | 'sourceEndMs' | 'chunkAudioMs' | 'processingMs'>;

export interface EmittedUnit {
  unit: string;
  /** 0-based position among all units of the stream. */
  index: number;
  /** NCA delay: ms of source consumed when the unit was produced. */
  sourceMs: number;
  /** CA delay: `sourceMs` plus the producing chunk's processing time. */
  elapsedMs: number;
  chunkIndex: number;
  /** Output segment (non-empty chunk) the unit came with. */
  segmentId: number;
  /** When the producing chunk's audio was complete, wall-clock ms since the stream started. */
  inputMs: number;
  /** When the unit was out, wall-clock ms since the stream started (the original's output_time). */
  outputMs: number;
}

/** One non-empty chunk output. */
export interface OutputSegment {
  segmentId: number;
  chunkIndex: number;
  text: string;
  firstUnit: number;
  unitCount: number;
  sourceEndMs: number;
  chunkAudioMs: number;
  inputMs: number;
  outputMs: number;
}

/** The original's export line (§1.3.17), with our two delay kinds added. */
export interface SegmentLog {
  segment_id: number;
  chunk_index: number;
  src: string;
  tgt: string;
  tokens: string[];
  /** Per unit: ms from the chunk's audio being complete to the unit being out (computation lag). */
  delays: number[];
  source_delays_ms: number[];
  elapsed_ms: number[];
  input_start_time: number;
  output_time: number;
  average_delay: number;
}

/** One line of SimulEval's instances.log. */
export interface InstanceLogEntry {
  index: number;
  prediction: string;
  delays: number[];
  elapsed: number[];
  prediction_length: number;
  source_length: number;
  source: string[];
  reference?: string;
  latency_unit: UnitKind;
}

export type TrackerLatency = LatencyScores & { StreamLAAL: number | null; StreamLAAL_CA: number | null };

export interface DelayTrackerOptions {
  sessionId: string;
  languagePair: string;
  /** Reference translation of the whole stream, if the client supplied one. */
  reference?: string | undefined;
  /** Output segment logs kept (oldest dropped beyond); units are kept like the text itself. */
  maxSegments?: number;
}

export class DelayTracker {
  readonly sessionId: string;
  readonly languagePair: string;
  readonly unitKind: UnitKind;
  private readonly maxSegments: number;
  private reference: string | undefined;
  private units: EmittedUnit[] = [];
  private segments: OutputSegment[] = [];
  private droppedSegments = 0;
  private segmentCount = 0;
  private fullText = '';
  private lastChunkIndex = -1;
  private sourceLength = 0;
  private chunkCount = 0;

  constructor(options: DelayTrackerOptions) {
    this.sessionId = options.sessionId;
    this.languagePair = options.languagePair;
    this.unitKind = parseLanguagePair(options.languagePair).unitKind;
    this.reference = options.reference;
    this.maxSegments = Math.max(1, options.maxSegments ?? 10_000);
  }

  /**
   * Records one processed chunk (call it for empty chunks too) at `elapsedMs` since the stream
   * started; returns the units it emitted. Throws AppError('internal') if chunks arrive out of
   * order or the text was revised (each unit must be emitted exactly once).
   */
  record(event: ChunkEvent, elapsedMs: number): readonly EmittedUnit[] {
    if (event.chunkIndex <= this.lastChunkIndex) {
      throw new AppError('internal', `chunk ${event.chunkIndex} recorded after chunk ${this.lastChunkIndex}`);
    }
    const added = newUnitsFromCumulative(this.fullText, event.fullText, this.unitKind);
    const declared = splitUnits(event.newText, this.unitKind);
    if (added.length !== declared.length || added.some((unit, i) => unit !== declared[i])) {
      throw new AppError('internal', 'chunk text does not match the growth of the cumulative text');
    }
    this.lastChunkIndex = event.chunkIndex;
    this.chunkCount++;
    this.fullText = event.fullText;
    this.sourceLength = Math.max(this.sourceLength, event.sourceEndMs);
    if (added.length === 0) return [];

    const segmentId = this.segmentCount++;
    const inputMs = elapsedMs - event.processingMs;
    const firstUnit = this.units.length;
    const emitted = added.map((unit, i): EmittedUnit => ({
      unit,
      index: firstUnit + i,
      sourceMs: event.sourceEndMs,
      elapsedMs: event.sourceEndMs + event.processingMs,
      chunkIndex: event.chunkIndex,
      segmentId,
      inputMs,
      outputMs: elapsedMs,
    }));
    this.units.push(...emitted);
    this.segments.push({
      segmentId,
      chunkIndex: event.chunkIndex,
      text: event.newText,
      firstUnit,
      unitCount: emitted.length,
      sourceEndMs: event.sourceEndMs,
      chunkAudioMs: event.chunkAudioMs,
      inputMs,
      outputMs: elapsedMs,
    });
    if (this.segments.length > this.maxSegments) {
      this.segments.shift();
      this.droppedSegments++;
    }
    return emitted;
  }

  /** Sets (or clears) the whole-stream reference used for LAAL's |Y*| and the instance log. */
  setReference(reference: string | undefined): void {
    this.reference = reference;
  }

  /** Starts over after a translation reset: the stream's text and chunk indices restart. */
  reset(): void {
    this.units = [];
    this.segments = [];
    this.droppedSegments = 0;
    this.segmentCount = 0;
    this.fullText = '';
    this.lastChunkIndex = -1;
    this.sourceLength = 0;
    this.chunkCount = 0;
  }

  get emittedUnits(): readonly EmittedUnit[] {
    return this.units;
  }

  get outputSegments(): readonly OutputSegment[] {
    return this.segments;
  }

  get sourceLengthMs(): number {
    return this.sourceLength;
  }

  get chunksRecorded(): number {
    return this.chunkCount;
  }

  get segmentsDropped(): number {
    return this.droppedSegments;
  }

  get referenceText(): string | undefined {
    return this.reference;
  }

  /** AL, LAAL, AP, DAL and StreamLAAL, NCA and CA (null while nothing was emitted). */
  latency(): TrackerLatency {
    const delays = this.units.map((u) => u.sourceMs);
    const elapsed = this.units.map((u) => u.elapsedMs);
    const referenceLength = this.reference === undefined ? undefined : splitUnits(this.reference, this.unitKind).length;
    const scores = scoreLatency([{ delays, elapsed, sourceLengthMs: this.sourceLength, referenceLength }]);
    const stream = streamLaal({
      units: this.units.map((u) => u.unit),
      delays,
      elapsed,
      sourceLengthMs: this.sourceLength,
      unitKind: this.unitKind,
      reference: this.reference,
    });
    return { ...scores, StreamLAAL: stream.StreamLAAL, StreamLAAL_CA: stream.StreamLAAL_CA };
  }

  /** The `delays` object of /session_delays (spec §4.7 keys plus our metrics). */
  statistics(includeDetails = false): DelayStatistics {
    return buildStatistics(this, includeDetails);
  }

  /** The original's export records: one per non-empty chunk still kept. */
  segmentLogs(): SegmentLog[] {
    return this.segments.map((segment) => {
      const units = this.units.slice(segment.firstUnit, segment.firstUnit + segment.unitCount);
      const lag = segment.outputMs - segment.inputMs;
      return {
        segment_id: segment.segmentId,
        chunk_index: segment.chunkIndex,
        src: `[Audio chunk ${segment.chunkIndex}] (${(segment.chunkAudioMs / 1000).toFixed(1)}s)`,
        tgt: segment.text,
        tokens: units.map((u) => u.unit),
        delays: units.map(() => lag),
        source_delays_ms: units.map((u) => u.sourceMs),
        elapsed_ms: units.map((u) => u.elapsedMs),
        input_start_time: segment.inputMs,
        output_time: segment.outputMs,
        average_delay: lag,
      };
    });
  }

  /** This stream as one line of SimulEval's instances.log (delays and elapsed in ms). */
  instanceLog(index = 0): InstanceLogEntry {
    const entry: InstanceLogEntry = {
      index,
      prediction: joinUnits(this.units.map((u) => u.unit), this.unitKind),
      delays: this.units.map((u) => u.sourceMs),
      elapsed: this.units.map((u) => u.elapsedMs),
      prediction_length: this.units.length,
      source_length: this.sourceLength,
      source: [`session:${this.sessionId}`],
      latency_unit: this.unitKind,
    };
    if (this.reference !== undefined) entry.reference = this.reference;
    return entry;
  }
}
