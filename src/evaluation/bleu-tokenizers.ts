/**
 * sacreBLEU's tokenizers `13a` (mteval-v13a, the WMT default) and `zh` (Chinese characters split
 * apart, the rest as 13a), reproduced rule for rule from sacrebleu/tokenizers/tokenizer_13a.py,
 * tokenizer_re.py and tokenizer_zh.py (sacreBLEU 2.x) so that scores match its signatures
 * `tok:13a` and `tok:zh`.
 */
import { pySplit, pyStrip } from './whitespace.ts';

export type BleuTokenizerName = '13a' | 'zh' | 'none';

// tokenizer_re.py, applied in order. Character classes are copied as written there:
// {-~  [-`  space-&  (-+  :-@  /   → isolated; '.' and ',' unless between digits; '-' after a digit.
const REGEXP_RULES: ReadonlyArray<[RegExp, string]> = [
  [/([{-~[-` -&(-+:-@/])/gu, ' $1 '],
  [/([^0-9])([.,])/gu, '$1 $2 '],
  [/([.,])([^0-9])/gu, ' $1 $2'],
  [/([0-9])(-)/gu, '$1 $2 '],
];

function regexpTokenize(line: string): string {
  let out = line;
  for (const [pattern, replacement] of REGEXP_RULES) out = out.replace(pattern, replacement);
  return pySplit(out).join(' ');
}

/** sacreBLEU `13a`. */
export function tokenize13a(line: string): string {
  let out = line.replaceAll('<skipped>', '').replaceAll('-\n', '').replaceAll('\n', ' ');
  if (out.includes('&')) {
    out = out.replaceAll('&quot;', '"').replaceAll('&amp;', '&').replaceAll('&lt;', '<').replaceAll('&gt;', '>');
  }
  return regexpTokenize(` ${out} `);
}

// tokenizer_zh.py's ranges, compared as Python compares one-character strings. Two of its entries
// are written as '\u20000'/'\u2a6d6' and '\u2f800'/'\u2fa1d': in Python those are a 4-hex-digit
// escape followed by a literal digit or letter, i.e. two-character strings. A single character c
// satisfies '\u2000'+'0' <= c <= '\u2a6d'+'6' exactly when U+2001 <= c <= U+2A6D (and likewise
// U+2F81..U+2FA1). So sacreBLEU splits general punctuation, arrows, maths symbols etc. as if they
// were Chinese, and does not split the real Extension B ideographs; we do the same to match it.
const ZH_RANGES: ReadonlyArray<readonly [number, number]> = [
  [0x3400, 0x4db5],
  [0x4e00, 0x9fa5],
  [0x9fa6, 0x9fbb],
  [0xf900, 0xfa2d],
  [0xfa30, 0xfa6a],
  [0xfa70, 0xfad9],
  [0x2001, 0x2a6d],
  [0x2f81, 0x2fa1],
  [0xff00, 0xffef],
  [0x2e80, 0x2eff],
  [0x3000, 0x303f],
  [0x31c0, 0x31ef],
  [0x2f00, 0x2fdf],
  [0x2ff0, 0x2fff],
  [0x3100, 0x312f],
  [0x31a0, 0x31bf],
  [0xfe10, 0xfe1f],
  [0xfe30, 0xfe4f],
  [0x2600, 0x26ff],
  [0x2700, 0x27bf],
  [0x3200, 0x32ff],
  [0x3300, 0x33ff],
];

/** True for a code point sacreBLEU's `zh` tokenizer isolates. */
export function isZhTokenizerChar(char: string): boolean {
  const code = char.codePointAt(0) ?? -1;
  return ZH_RANGES.some(([start, end]) => code >= start && code <= end);
}

/** sacreBLEU `zh`. */
export function tokenizeZh(line: string): string {
  let spaced = '';
  for (const char of pyStrip(line)) spaced += isZhTokenizerChar(char) ? ` ${char} ` : char;
  return regexpTokenize(spaced);
}

/** Applies a tokenizer by name (`none` leaves the line as it is). */
export function tokenizeForBleu(line: string, tokenizer: BleuTokenizerName): string {
  if (tokenizer === '13a') return tokenize13a(line);
  if (tokenizer === 'zh') return tokenizeZh(line);
  return line;
}

/** sacreBLEU's choice for a target language: `zh` for Chinese, else `13a`. */
export function defaultBleuTokenizer(targetCode: string | undefined): BleuTokenizerName {
  return targetCode === 'zh' ? 'zh' : '13a';
}
