/**
 * Resegmentation of a long-form hypothesis against reference sentences, as StreamLAAL needs
 * (Papi et al. 2024 use mwerSegmenter / mweralign). A minimum-edit-distance alignment of the
 * hypothesis units to the concatenated reference units is, cut at the reference sentence
 * boundaries, exactly a segmentation minimising the summed per-sentence edit distance — the mWER
 * criterion. Tie-breaking (which sentence gets an inserted unit at a boundary) may differ from
 * mwerSegmenter: here an inserted unit joins the sentence of the last reference unit aligned before it.
 */
import { AppError } from '../errors.ts';

/** Alignment tables beyond this many cells (one byte each) are refused rather than risk memory. */
export const MAX_ALIGNMENT_CELLS = 50_000_000;

const DIAGONAL = 0;
const HYPOTHESIS_ONLY = 1;
const REFERENCE_ONLY = 2;

/**
 * Index of the reference sentence each hypothesis unit belongs to (non-decreasing, so every
 * sentence gets a contiguous run, possibly empty). Throws AppError('badRequest') when the
 * alignment table would exceed `maxCells`.
 */
export function resegment(
  hypothesis: readonly string[],
  references: readonly (readonly string[])[],
  maxCells = MAX_ALIGNMENT_CELLS,
): number[] {
  const refUnits: string[] = [];
  const refSentence: number[] = [];
  references.forEach((sentence, index) => {
    for (const unit of sentence) {
      refUnits.push(unit);
      refSentence.push(index);
    }
  });
  const n = hypothesis.length;
  const m = refUnits.length;
  if (m === 0 || n === 0) return hypothesis.map(() => 0);
  if ((n + 1) * (m + 1) > maxCells) {
    throw new AppError('badRequest', `stream too long to resegment (${n} × ${m} units; limit ${maxCells} cells)`);
  }
  const width = m + 1;
  const moves = new Uint8Array((n + 1) * width);
  let previousRow = new Uint32Array(width);
  let row = new Uint32Array(width);
  for (let j = 0; j <= m; j++) {
    previousRow[j] = j;
    moves[j] = REFERENCE_ONLY;
  }
  for (let i = 1; i <= n; i++) {
    row[0] = i;
    moves[i * width] = HYPOTHESIS_ONLY;
    const unit = hypothesis[i - 1];
    for (let j = 1; j <= m; j++) {
      const diagonal = (previousRow[j - 1] ?? 0) + (unit === refUnits[j - 1] ? 0 : 1);
      const up = (previousRow[j] ?? 0) + 1;
      const left = (row[j - 1] ?? 0) + 1;
      let best = diagonal;
      let move = DIAGONAL;
      if (up < best) {
        best = up;
        move = HYPOTHESIS_ONLY;
      }
      if (left < best) {
        best = left;
        move = REFERENCE_ONLY;
      }
      row[j] = best;
      moves[i * width + j] = move;
    }
    [previousRow, row] = [row, previousRow];
  }

  // Walk back to collect the alignment, then assign sentences walking forward.
  const path: number[] = [];
  let i = n;
  let j = m;
  while (i > 0 || j > 0) {
    const move = i === 0 ? REFERENCE_ONLY : j === 0 ? HYPOTHESIS_ONLY : (moves[i * width + j] ?? DIAGONAL);
    path.push(move);
    if (move !== REFERENCE_ONLY) i--;
    if (move !== HYPOTHESIS_ONLY) j--;
  }
  path.reverse();
  const assignment: number[] = [];
  let current = refSentence[0] ?? 0;
  let refIndex = 0;
  for (const move of path) {
    if (move !== HYPOTHESIS_ONLY) {
      current = refSentence[refIndex] ?? current;
      refIndex++;
    }
    if (move !== REFERENCE_ONLY) assignment.push(current);
  }
  return assignment;
}
