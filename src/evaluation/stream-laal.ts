/**
 * StreamLAAL for unsegmented (long-form) streams (Papi et al. 2024, "StreamAtt"; reference
 * implementation: FBK simulstream `stream_laal.py`).
 *
 * With a reference segmentation (sentences with their start time and duration in the source
 * audio), the hypothesis units are resegmented against the reference sentences (see
 * `resegment.ts`), each unit's delays are taken relative to its sentence's start, and LAAL is
 * computed per sentence with |X| = the sentence's duration and |Y*| = its reference length;
 * sentences that receive no unit are skipped; the score is the mean over scored sentences.
 *
 * Without a segmentation — the live server, which never knows references, and the CLI, whose
 * reference file has one line per audio file — the stream is one sentence spanning the whole
 * source: StreamLAAL is then LAAL over the stream (equal to AL when no reference is known). That
 * is the defined degenerate case, not an approximation of the segmented score: a long stream
 * scored this way compares each unit with a uniform-rate ideal policy over the whole stream.
 */
import type { UnitKind } from './language.ts';
import { lengthAdaptiveAverageLagging } from './latency-metrics.ts';
import { resegment } from './resegment.ts';
import { splitUnits } from './units.ts';

/** One reference sentence and where it lies in the source audio. */
export interface ReferenceSegment {
  startMs: number;
  durationMs: number;
  text: string;
}

export interface StreamLaalInput {
  units: readonly string[];
  /** NCA delay per unit, ms of source from the start of the stream. */
  delays: readonly number[];
  /** CA delay per unit, ms of wall clock from the start of the stream. */
  elapsed: readonly number[];
  sourceLengthMs: number;
  unitKind: UnitKind;
  /** Whole-stream reference (used when there is no segmentation). */
  reference?: string | undefined;
  segments?: readonly ReferenceSegment[] | undefined;
}

export interface StreamLaalResult {
  StreamLAAL: number | null;
  StreamLAAL_CA: number | null;
  scoredSegments: number;
  skippedSegments: number;
  isResegmented: boolean;
}

const EMPTY: StreamLaalResult = { StreamLAAL: null, StreamLAAL_CA: null, scoredSegments: 0, skippedSegments: 0, isResegmented: false };

/** StreamLAAL (NCA and CA) of one stream. Throws AppError('badRequest') on inconsistent input. */
export function streamLaal(input: StreamLaalInput): StreamLaalResult {
  const { units, delays, elapsed, unitKind } = input;
  if (units.length === 0 || !(input.sourceLengthMs > 0)) return EMPTY;
  if (!input.segments || input.segments.length === 0) {
    const referenceLength = input.reference === undefined ? units.length : splitUnits(input.reference, unitKind).length;
    return {
      StreamLAAL: lengthAdaptiveAverageLagging(delays, input.sourceLengthMs, referenceLength),
      StreamLAAL_CA: lengthAdaptiveAverageLagging(elapsed, input.sourceLengthMs, referenceLength),
      scoredSegments: 1,
      skippedSegments: 0,
      isResegmented: false,
    };
  }
  const references = input.segments.map((segment) => splitUnits(segment.text, unitKind));
  const assignment = resegment(units, references);
  const nca: number[] = [];
  const ca: number[] = [];
  const groups: number[][] = input.segments.map(() => []);
  assignment.forEach((sentence, unitIndex) => groups[sentence]?.push(unitIndex));
  let skipped = 0;
  input.segments.forEach((segment, index) => {
    const own = groups[index] ?? [];
    if (own.length === 0 || !(segment.durationMs > 0)) {
      skipped++;
      return;
    }
    const referenceLength = references[index]?.length ?? 0;
    const relative = (values: readonly number[]) => own.map((u) => (values[u] ?? 0) - segment.startMs);
    nca.push(lengthAdaptiveAverageLagging(relative(delays), segment.durationMs, referenceLength));
    ca.push(lengthAdaptiveAverageLagging(relative(elapsed), segment.durationMs, referenceLength));
  });
  const mean = (values: number[]) => (values.length === 0 ? null : values.reduce((a, b) => a + b, 0) / values.length);
  return { StreamLAAL: mean(nca), StreamLAAL_CA: mean(ca), scoredSegments: nca.length, skippedSegments: skipped, isResegmented: true };
}
