/**
 * Whitespace exactly as Python's `str.split()` / `str.strip()` see it. The reference tools
 * (sacreBLEU, SimulEval) are Python, and JavaScript's `\s` differs from `str.isspace()` (it lacks
 * U+001C–U+001F and U+0085, and adds U+FEFF), so scores would drift on such input.
 */
const PY_WHITESPACE = '\\t\\n\\v\\f\\r\\x1c-\\x1f \\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000';

const RUNS = new RegExp(`[${PY_WHITESPACE}]+`, 'u');
const ONE = new RegExp(`^[${PY_WHITESPACE}]$`, 'u');
const LEADING = new RegExp(`^[${PY_WHITESPACE}]+`, 'u');

/** Python's `s.split()`: split on whitespace runs, no empty items. */
export function pySplit(text: string): string[] {
  return text.split(RUNS).filter((part) => part.length > 0);
}

/** Python's `s.strip()`. */
export function pyStrip(text: string): string {
  return pyRstrip(text).replace(LEADING, '');
}

/**
 * Python's `s.rstrip()`. A loop from the end, not `/[…]+$/`: that pattern retries from every
 * whitespace run and is quadratic on long runs of spaces followed by a word.
 */
export function pyRstrip(text: string): string {
  let end = text.length;
  while (end > 0) {
    const last = text.codePointAt(end - 1);
    // A low surrogate is never whitespace, so stepping back one UTF-16 unit is enough.
    if (last === undefined || !ONE.test(String.fromCodePoint(last))) break;
    end--;
  }
  return text.slice(0, end);
}

/** True if the single code point `char` is whitespace for Python. */
export function isPyWhitespace(char: string): boolean {
  return ONE.test(char);
}
