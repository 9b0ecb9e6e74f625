/**
 * Every script and the server follow one command-line contract: `--help` prints the usage and
 * exits 0; an unknown flag prints one line naming it and exits 2, never a stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY_POINTS = [
  'scripts/load.ts', 'scripts/eval.ts', 'scripts/translate.ts', 'scripts/check-api.ts', 'scripts/make-eval-samples.ts',
  'scripts/generate-default-models.ts', 'scripts/bench-engine.ts', 'src/server.ts',
];

function run(script: string, args: string[]) {
  return spawnSync(process.execPath, ['--import', 'tsx', script, ...args], { cwd: ROOT, encoding: 'utf8', timeout: 60_000 });
}

for (const script of ENTRY_POINTS) {
  test(`${script}: --help exits 0 with the usage; an unknown flag is one line and exit 2`, () => {
    const help = run(script, ['--help']);
    assert.equal(help.status, 0, help.stderr);
    assert.match(help.stdout, /usage|Usage|options/);
    const bad = run(script, ['--no-such-flag']);
    assert.equal(bad.status, 2, `${bad.stdout}\n${bad.stderr}`);
    const lines = bad.stderr.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('npm warn'));
    assert.equal(lines.length, 1, bad.stderr);
    assert.match(lines[0] ?? '', /no-such-flag/);
    assert.doesNotMatch(bad.stderr, /\n\s+at /, 'no stack trace');
  });
}
