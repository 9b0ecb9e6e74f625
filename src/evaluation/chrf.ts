/**
 * Corpus chrF (Popović 2015) and chrF++ as sacreBLEU 2.x computes them (sacrebleu/metrics/
 * chrf.py): character n-grams of orders 1..6 with whitespace removed, optional word n-grams
 * (chrF++: word order 2, punctuation split off word edges), statistics summed over the corpus,
 * precision and recall averaged over the orders that have n-grams on both sides ("effective
 * order"), then F-beta with beta = 2, on a 0–100 scale.
 */
import { AppError } from '../errors.ts';
import { pySplit } from './whitespace.ts';

export interface ChrfOptions {
  charOrder?: number;
  /** 0 = chrF, 2 = chrF++. */
  wordOrder?: number;
  beta?: number;
  lowercase?: boolean;
  /** Keep whitespace inside character n-grams. */
  whitespace?: boolean;
  /** chrF++.py-style epsilon smoothing instead of the effective-order average. */
  epsSmoothing?: boolean;
}

export interface ChrfResult {
  score: number;
  /** Flattened [hyp, ref, match] counts per order (char orders first, then word orders). */
  statistics: number[];
  charOrder: number;
  wordOrder: number;
  beta: number;
}

const PUNCTUATION = new Set(Array.from('!"#$%&\'()*+,-./:;<=>?@[\\]^_`{|}~'));

type Counter = Map<string, number>;

function count(items: readonly string[]): Counter {
  const counter: Counter = new Map();
  for (const item of items) counter.set(item, (counter.get(item) ?? 0) + 1);
  return counter;
}

function charNgrams(line: string, maxOrder: number, keepWhitespace: boolean): Counter[] {
  // Python slices by code point; Array.from does too (String.slice would cut surrogate pairs).
  const chars = Array.from(keepWhitespace ? line : pySplit(line).join(''));
  const counters: Counter[] = [];
  for (let n = 1; n <= maxOrder; n++) {
    const grams: string[] = [];
    for (let i = 0; i + n <= chars.length; i++) grams.push(chars.slice(i, i + n).join(''));
    counters.push(count(grams));
  }
  return counters;
}

/** chrF++'s word splitting: one leading or trailing punctuation mark becomes its own word. */
function wordsWithPunctuationSplit(line: string): string[] {
  const words: string[] = [];
  for (const word of pySplit(line)) {
    const chars = Array.from(word);
    const first = chars[0] ?? '';
    const last = chars[chars.length - 1] ?? '';
    if (chars.length === 1) words.push(word);
    else if (PUNCTUATION.has(last)) words.push(chars.slice(0, -1).join(''), last);
    else if (PUNCTUATION.has(first)) words.push(first, chars.slice(1).join(''));
    else words.push(word);
  }
  return words;
}

function wordNgrams(words: readonly string[], n: number): Counter {
  const grams: string[] = [];
  for (let i = 0; i + n <= words.length; i++) grams.push(words.slice(i, i + n).join(' '));
  return count(grams);
}

function allNgrams(line: string, options: Required<ChrfOptions>): Counter[] {
  const counters = charNgrams(line, options.charOrder, options.whitespace);
  if (options.wordOrder > 0) {
    const words = wordsWithPunctuationSplit(line);
    for (let n = 1; n <= options.wordOrder; n++) counters.push(wordNgrams(words, n));
  }
  return counters;
}

function matchStatistics(hyp: Counter, ref: Counter): [number, number, number] {
  let hypCount = 0;
  let matches = 0;
  for (const [gram, c] of hyp) {
    hypCount += c;
    const r = ref.get(gram);
    if (r !== undefined) matches += Math.min(c, r);
  }
  let refCount = 0;
  for (const c of ref.values()) refCount += c;
  // sacreBLEU does not count hypothesis n-grams of an order the reference has none of.
  return [ref.size > 0 ? hypCount : 0, refCount, matches];
}

function fScore(statistics: readonly number[], options: Required<ChrfOptions>): number {
  const eps = 1e-16;
  const factor = options.beta ** 2;
  const order = options.charOrder + options.wordOrder;
  let score = 0;
  let effectiveOrder = 0;
  let avgPrecision = 0;
  let avgRecall = 0;
  for (let i = 0; i < order; i++) {
    const nHyp = statistics[3 * i] ?? 0;
    const nRef = statistics[3 * i + 1] ?? 0;
    const nMatch = statistics[3 * i + 2] ?? 0;
    const precision = nHyp > 0 ? nMatch / nHyp : eps;
    const recall = nRef > 0 ? nMatch / nRef : eps;
    const denominator = factor * precision + recall;
    score += denominator > 0 ? ((1 + factor) * precision * recall) / denominator : eps;
    if (nHyp > 0 && nRef > 0) {
      avgPrecision += precision;
      avgRecall += recall;
      effectiveOrder++;
    }
  }
  if (options.epsSmoothing) return (100 * score) / order;
  if (effectiveOrder === 0) return 0;
  avgPrecision /= effectiveOrder;
  avgRecall /= effectiveOrder;
  if (avgPrecision + avgRecall === 0) return 0;
  return (100 * (1 + factor) * avgPrecision * avgRecall) / (factor * avgPrecision + avgRecall);
}

/**
 * Corpus chrF. `references` has sacreBLEU's shape (a list of reference streams); with several
 * references, each segment uses the one with the best sentence-level F score. Throws
 * AppError('badRequest') when stream lengths differ or no stream is given.
 */
export function corpusChrf(hypotheses: readonly string[], references: readonly (readonly string[])[], options: ChrfOptions = {}): ChrfResult {
  const full: Required<ChrfOptions> = {
    charOrder: options.charOrder ?? 6,
    wordOrder: options.wordOrder ?? 0,
    beta: options.beta ?? 2,
    lowercase: options.lowercase ?? false,
    whitespace: options.whitespace ?? false,
    epsSmoothing: options.epsSmoothing ?? false,
  };
  if (references.length === 0) throw new AppError('badRequest', 'chrF needs at least one reference stream');
  for (const stream of references) {
    if (stream.length !== hypotheses.length) {
      throw new AppError('badRequest', `reference stream has ${stream.length} lines for ${hypotheses.length} hypotheses`);
    }
  }
  const prepare = (line: string) => (full.lowercase ? line.toLowerCase() : line);
  const order = full.charOrder + full.wordOrder;
  const totals = new Array<number>(3 * order).fill(0);
  hypotheses.forEach((hypothesis, index) => {
    const hypNgrams = allNgrams(prepare(hypothesis), full);
    let best: number[] = [];
    let bestScore = -1;
    for (const stream of references) {
      const refNgrams = allNgrams(prepare(stream[index] ?? ''), full);
      const stats: number[] = [];
      hypNgrams.forEach((h, i) => stats.push(...matchStatistics(h, refNgrams[i] ?? new Map())));
      const f = fScore(stats, full);
      if (f > bestScore) {
        bestScore = f;
        best = stats;
      }
    }
    best.forEach((value, i) => (totals[i] = (totals[i] ?? 0) + value));
  });
  return { score: fScore(totals, full), statistics: totals, charOrder: full.charOrder, wordOrder: full.wordOrder, beta: full.beta };
}
