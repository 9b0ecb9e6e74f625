/**
 * Every regular expression in src/ must run in linear time: one request carrying a long string
 * must not freeze the event loop (a quadratic multipart-header pattern once froze the server for
 * 45 s on a 1 MiB body). This finds every regex literal with the TypeScript parser and every
 * `new RegExp(...)` built when its module loads, and runs each against adversarial strings made
 * from its own literal pieces and common characters, repeated to 20 KB and 100 KB and ended by a
 * character that spoils the match. A linear expression needs microseconds to milliseconds here;
 * a quadratic one grows ~25× between the two sizes and takes far longer than the floor below.
 */
import assert from 'node:assert/strict';
import { readdir, readFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import ts from 'typescript';

const SRC = fileURLToPath(new URL('../../src', import.meta.url));
const LARGE = 100_000;
const SMALL = 20_000;
/** Any single run slower than this fails outright. */
const HARD_LIMIT_MS = 1_000;
/** A run slower than this whose time grew superlinearly (more than `GROWTH`× for 5× the input) fails. */
const FLOOR_MS = 50;
const GROWTH = 12;
const COMMON_ATOMS = [' ', '\t', '\r\n', '\n', 'a', 'A', 'z', '0', '9', '.', ',', '-', '_', '=', '"', "'", ';', ':', '/', '\\', '%', '&', '+', 'e', '\u3000', '\u00a0', 'é', '中'];
const SPOILERS = ['\u0000', '!', 'x'];

interface Found {
  where: string;
  regex: RegExp;
}

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith('.ts')) out.push(path);
  }
  return out;
}

/** Regex literals of a file, and how many `new RegExp(` call sites it has. */
function scan(path: string, text: string): { literals: Found[]; constructed: number } {
  const file = ts.createSourceFile(path, text, ts.ScriptTarget.ES2022, true);
  const literals: Found[] = [];
  let constructed = 0;
  const visit = (node: ts.Node): void => {
    if (node.kind === ts.SyntaxKind.RegularExpressionLiteral) {
      const literal = node.getText(file);
      const end = literal.lastIndexOf('/');
      const { line } = file.getLineAndCharacterOfPosition(node.getStart(file));
      literals.push({ where: `${relative(SRC, path)}:${line + 1} ${literal}`, regex: new RegExp(literal.slice(1, end), literal.slice(end + 1)) });
    }
    if (ts.isNewExpression(node) && node.expression.getText(file) === 'RegExp') constructed++;
    ts.forEachChild(node, visit);
  };
  visit(file);
  return { literals, constructed };
}

/** Adversarial inputs: each literal piece of the pattern and each common character, repeated. */
function atomsOf(regex: RegExp): string[] {
  const pieces = regex.source
    .replace(/\\[dDwWsSbB]/g, ' ')
    .replace(/\\(.)/g, '$1')
    .split(/[\^$|?*+()[\]{}]/)
    .filter((piece) => piece.length > 0 && piece.length < 200);
  const characters = [...new Set(regex.source)].filter((c) => c.trim() !== '' || c === ' ');
  return [...new Set([...pieces, ...characters, ...COMMON_ATOMS])];
}

function timeExec(regex: RegExp, input: string): number {
  const started = performance.now();
  regex.lastIndex = 0;
  regex.exec(input);
  return performance.now() - started;
}

function slowCases(found: Found): string[] {
  const regex = new RegExp(found.regex.source, found.regex.flags.replace(/[gy]/g, ''));
  const slow: string[] = [];
  for (const atom of atomsOf(regex)) {
    // Spoiled at the end, and at both ends (so that an anchored alternative cannot match at once).
    for (const [before, after] of SPOILERS.flatMap((spoiler) => [['', spoiler], [spoiler, spoiler]])) {
      const make = (length: number): string => `${before}${atom.repeat(Math.ceil(length / atom.length))}${after}`;
      const largeMs = timeExec(regex, make(LARGE));
      if (largeMs < FLOOR_MS) continue;
      const smallMs = Math.max(timeExec(regex, make(SMALL)), 0.5);
      if (largeMs > HARD_LIMIT_MS || largeMs / smallMs > GROWTH) {
        slow.push(`${found.where} on ${JSON.stringify(before)} + ${JSON.stringify(atom.slice(0, 30))} × ${Math.ceil(LARGE / atom.length)} + ${JSON.stringify(after)}: ${largeMs.toFixed(0)} ms (${smallMs.toFixed(1)} ms at 1/5 the length)`);
        return slow;
      }
    }
  }
  return slow;
}

test('every regular expression in src/ runs in linear time on 100 KB adversarial strings', async () => {
  const found: Found[] = [];
  const constructing: { path: string; sites: number }[] = [];
  for (const path of await sourceFiles(SRC)) {
    const { literals, constructed } = scan(path, await readFile(path, 'utf8'));
    found.push(...literals);
    if (constructed > 0) constructing.push({ path, sites: constructed });
  }
  // Patterns built with `new RegExp` are caught as their modules load.
  const NativeRegExp = RegExp;
  const built: RegExp[] = [];
  globalThis.RegExp = new Proxy(NativeRegExp, {
    construct(target, args: [string | RegExp, string?]) {
      const regex = new target(...args);
      built.push(regex);
      return regex;
    },
  });
  try {
    for (const { path, sites } of constructing) {
      const before = built.length;
      await import(pathToFileURL(path).href);
      assert.ok(built.length - before >= sites, `${relative(SRC, path)} builds ${sites} RegExp(s) but only ${built.length - before} were built at load: build them at module level so this test sees them`);
      found.push(...built.slice(before).map((regex) => ({ where: `${relative(SRC, path)} new RegExp(${regex})`, regex })));
    }
  } finally {
    globalThis.RegExp = NativeRegExp;
  }
  assert.ok(found.length > 20, `found only ${found.length} expressions: is the scan broken?`);
  const slow = found.flatMap(slowCases);
  assert.deepEqual(slow, [], `super-linear regular expressions:\n${slow.join('\n')}`);
});
