/**
 * Target units for latency: words (whitespace-separated, as SimulEval splits predictions), or
 * characters for Chinese (every non-whitespace code point, as SimulEval's char unit). The original
 * server counted `\b\w+\b` words and kept spaces as characters; we follow SimulEval so that our
 * delays line up with its instance logs and scorers.
 */
import { AppError } from '../errors.ts';
import type { UnitKind } from './language.ts';
import { isPyWhitespace, pySplit } from './whitespace.ts';

export type { UnitKind } from './language.ts';

/** Splits text into latency units. */
export function splitUnits(text: string, kind: UnitKind): string[] {
  if (kind === 'word') return pySplit(text);
  return Array.from(text).filter((char) => !isPyWhitespace(char));
}

/** Joins units back into SimulEval's `prediction` string (space for words, nothing for chars). */
export function joinUnits(units: readonly string[], kind: UnitKind): string {
  return units.join(kind === 'word' ? ' ' : '');
}

/**
 * The units a cumulative translation adds beyond the previous one. Our streaming policy never
 * revises emitted text, so each unit is emitted exactly once; anything else is a bug upstream.
 * Throws AppError('internal') if `next` does not extend `previous`, or extends its last word.
 */
export function newUnitsFromCumulative(previous: string, next: string, kind: UnitKind): string[] {
  if (!next.startsWith(previous)) {
    throw new AppError('internal', 'translation text was revised: a cumulative frame must extend the previous one');
  }
  const suffix = next.slice(previous.length);
  if (kind === 'word' && previous.length > 0 && suffix.length > 0) {
    const lastChar = Array.from(previous.slice(-2)).pop() ?? '';
    const firstChar = Array.from(suffix.slice(0, 2))[0] ?? '';
    if (!isPyWhitespace(lastChar) && !isPyWhitespace(firstChar)) {
      throw new AppError('internal', 'translation text was revised: an emitted word was extended');
    }
  }
  return splitUnits(suffix, kind);
}
