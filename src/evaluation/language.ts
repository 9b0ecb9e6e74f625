/**
 * What evaluation needs to know about a language pair id such as "English -> Chinese": the target
 * language, its ISO code (to pick reference files and the BLEU tokenizer) and the latency unit.
 */

/** Latency is counted per word, or per character for Chinese (SimulEval's `--eval-latency-unit`). */
export type UnitKind = 'word' | 'char';

export interface PairInfo {
  source: string;
  target: string;
  /** ISO 639-1 code of the target language, if the name is known. */
  targetCode: string | undefined;
  unitKind: UnitKind;
}

const CODES: Readonly<Record<string, string>> = {
  english: 'en',
  chinese: 'zh',
  german: 'de',
  italian: 'it',
  spanish: 'es',
  french: 'fr',
  japanese: 'ja',
  portuguese: 'pt',
  dutch: 'nl',
  russian: 'ru',
};

/**
 * Splits "Source -> Target". Character units when the *target* names Chinese or is `zh`: the
 * original looked for "Chinese"/"zh" anywhere in the id, which would also count a hypothetical
 * "Chinese -> English" pair in characters. An id without an arrow is judged as a whole.
 */
export function parseLanguagePair(pair: string): PairInfo {
  const arrow = pair.indexOf('->');
  const source = arrow >= 0 ? pair.slice(0, arrow).trim() : '';
  const target = (arrow >= 0 ? pair.slice(arrow + 2) : pair).trim();
  const lower = target.toLowerCase();
  const targetCode = CODES[lower] ?? (/^[a-z]{2}([-_].*)?$/.test(lower) ? lower.slice(0, 2) : undefined);
  const isChinese = lower.includes('chinese') || targetCode === 'zh';
  return { source, target, targetCode, unitKind: isChinese ? 'char' : 'word' };
}
