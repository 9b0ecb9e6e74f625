/**
 * Whitespace exactly as Python's `str.split()` / `str.strip()` see it. The reference tools
 * (sacreBLEU, SimulEval) are Python, and JavaScript's `\s` differs from `str.isspace()` (it lacks
 * U+001C–U+001F and U+0085, and adds U+FEFF), so scores would drift on such input.
 */
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const RUNS = new RegExp(`[${PY_WHITESPACE}]+`, 'u');
const ONE = new RegExp(`^[${PY_WHITESPACE}]$`, 'u');
const EDGES = new RegExp(`^[${PY_WHITESPACE}]+|[${PY_WHITESPACE}]+$`, 'gu');
const TRAILING = new RegExp(`[${PY_WHITESPACE}]+$`, 'u');

/** Python's `s.split()`: split on whitespace runs, no empty items. */
export function pySplit(text: string): string[] {
  return text.split(RUNS).filter((part) => part.length > 0);
}

/** Python's `s.strip()`. */
export function pyStrip(text: string): string {
  return text.replace(EDGES, '');
}

/** Python's `s.rstrip()`. */
export function pyRstrip(text: string): string {
  return text.replace(TRAILING, '');
}

/** True if the single code point `char` is whitespace for Python. */
export function isPyWhitespace(char: string): boolean {
  return ONE.test(char);
}
