/**
 * Corpus BLEU as sacreBLEU 2.x computes it (sacrebleu/metrics/bleu.py): clipped n-gram matches
 * (n ≤ 4) summed over the corpus, the closest reference length per segment (ties → the shorter),
 * brevity penalty exp(1 − r/c), geometric mean of the precisions, default smoothing `exp` (the
 * mteval-v13a method). Written from the definition because no maintained npm package exists.
 */
import { AppError } from '../errors.ts';
import { tokenizeForBleu, type BleuTokenizerName } from './bleu-tokenizers.ts';
import { pyRstrip, pySplit } from './whitespace.ts';

export type BleuSmoothing = 'exp' | 'floor' | 'add-k' | 'none';

export interface BleuOptions {
  tokenize?: BleuTokenizerName;
  lowercase?: boolean;
  smoothMethod?: BleuSmoothing;
  /** For `floor` (default 0.1) and `add-k` (default 1). */
  smoothValue?: number;
  maxNgramOrder?: number;
  /** Drop orders with no n-grams from the mean; meant for sentence-level BLEU. */
  effectiveOrder?: boolean;
}

export interface BleuResult {
  score: number;
  counts: number[];
  totals: number[];
  precisions: number[];
  bp: number;
  sysLen: number;
  refLen: number;
  ratio: number;
  tokenizer: BleuTokenizerName;
}

/** sacreBLEU's `my_log`: log with log(0) floored. */
function floorLog(value: number): number {
  return value === 0 ? -9999999999 : Math.log(value);
}

function ngramCounts(tokens: readonly string[], maxOrder: number): Map<string, number> {
  const counts = new Map<string, number>();
  for (let n = 1; n <= maxOrder; n++) {
    for (let i = 0; i + n <= tokens.length; i++) {
      // Tokens never contain whitespace, so a space is an unambiguous separator.
      const key = `${n}|${tokens.slice(i, i + n).join(' ')}`;
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
  }
  return counts;
}

/** sacreBLEU's `compute_bleu`: the score from corpus sufficient statistics. */
export function bleuFromStatistics(
  correctIn: readonly number[],
  totalIn: readonly number[],
  sysLen: number,
  refLen: number,
  options: Pick<BleuOptions, 'smoothMethod' | 'smoothValue' | 'effectiveOrder' | 'maxNgramOrder'> = {},
): Omit<BleuResult, 'tokenizer'> {
  const maxOrder = options.maxNgramOrder ?? 4;
  const method = options.smoothMethod ?? 'exp';
  const smoothValue = options.smoothValue ?? (method === 'floor' ? 0.1 : 1);
  const correct = [...correctIn];
  const total = [...totalIn];
  const bp = sysLen < refLen ? (sysLen > 0 ? Math.exp(1 - refLen / sysLen) : 0) : 1;
  const precisions = new Array<number>(maxOrder).fill(0);
  const base = { counts: [...correctIn], totals: [...totalIn], bp, sysLen, refLen, ratio: refLen ? sysLen / refLen : 0 };
  if (!correct.some((c) => c > 0)) return { score: 0, precisions, ...base };

  let smoothMteval = 1;
  let effectiveOrder = maxOrder;
  for (let n = 1; n <= maxOrder; n++) {
    if (method === 'add-k' && n > 1) {
      correct[n - 1] = (correct[n - 1] ?? 0) + smoothValue;
      total[n - 1] = (total[n - 1] ?? 0) + smoothValue;
    }
    const t = total[n - 1] ?? 0;
    const c = correct[n - 1] ?? 0;
    if (t === 0) break;
    if (options.effectiveOrder) effectiveOrder = n;
    if (c === 0) {
      if (method === 'exp') {
        smoothMteval *= 2;
        precisions[n - 1] = 100 / (smoothMteval * t);
      } else if (method === 'floor') {
        precisions[n - 1] = (100 * smoothValue) / t;
      }
    } else {
      precisions[n - 1] = (100 * c) / t;
    }
  }
  let logSum = 0;
  for (const p of precisions.slice(0, effectiveOrder)) logSum += floorLog(p);
  return { score: bp * Math.exp(logSum / effectiveOrder), precisions, ...base };
}

/**
 * Corpus BLEU. `references` has sacreBLEU's shape: a list of reference *streams*, each as long
 * as `hypotheses` (one stream = one reference per segment). Throws AppError('badRequest') when
 * the lengths differ or no reference stream is given.
 */
export function corpusBleu(hypotheses: readonly string[], references: readonly (readonly string[])[], options: BleuOptions = {}): BleuResult {
  if (references.length === 0) throw new AppError('badRequest', 'BLEU needs at least one reference stream');
  for (const stream of references) {
    if (stream.length !== hypotheses.length) {
      throw new AppError('badRequest', `reference stream has ${stream.length} lines for ${hypotheses.length} hypotheses`);
    }
  }
  const tokenizer = options.tokenize ?? '13a';
  const maxOrder = options.maxNgramOrder ?? 4;
  const prepare = (line: string) => pySplit(tokenizeForBleu(pyRstrip(options.lowercase ? line.toLowerCase() : line), tokenizer));
  const correct = new Array<number>(maxOrder).fill(0);
  const total = new Array<number>(maxOrder).fill(0);
  let sysLen = 0;
  let refLen = 0;

  hypotheses.forEach((hypothesis, index) => {
    const refNgrams = new Map<string, number>();
    const refLens: number[] = [];
    for (const stream of references) {
      const tokens = prepare(stream[index] ?? '');
      refLens.push(tokens.length);
      for (const [key, count] of ngramCounts(tokens, maxOrder)) refNgrams.set(key, Math.max(refNgrams.get(key) ?? 0, count));
    }
    const hypTokens = prepare(hypothesis);
    sysLen += hypTokens.length;
    refLen += closestRefLength(hypTokens.length, refLens);
    for (const [key, count] of ngramCounts(hypTokens, maxOrder)) {
      const order = Number(key.slice(0, key.indexOf('|')));
      correct[order - 1] = (correct[order - 1] ?? 0) + Math.min(count, refNgrams.get(key) ?? 0);
      total[order - 1] = (total[order - 1] ?? 0) + count;
    }
  });
  return { ...bleuFromStatistics(correct, total, sysLen, refLen, options), tokenizer };
}

function closestRefLength(hypLen: number, refLens: readonly number[]): number {
  let closestDiff = -1;
  let closestLen = -1;
  for (const len of refLens) {
    const diff = Math.abs(hypLen - len);
    if (closestDiff === -1 || diff < closestDiff) {
      closestDiff = diff;
      closestLen = len;
    } else if (diff === closestDiff && len < closestLen) {
      closestLen = len;
    }
  }
  return closestLen;
}

/** sacreBLEU's one-line rendering, e.g. "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ...)". */
export function formatBleu(result: BleuResult): string {
  const precisions = result.precisions.map((p) => p.toFixed(1)).join('/');
  return (
    `BLEU = ${result.score.toFixed(2)} ${precisions} (BP = ${result.bp.toFixed(3)} ratio = ${result.ratio.toFixed(3)} ` +
    `hyp_len = ${result.sysLen} ref_len = ${result.refLen})`
  );
}
