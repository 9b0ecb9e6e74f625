/**
 * Every script and the server follow one command-line contract: `--help` prints the usage and
 * exits 0; an unknown flag prints one line naming it and exits 2, never a stack trace.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { applyFlagAliases, FLAG_ALIASES } from '../../scripts/command-line.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const ENTRY_POINTS = [
  'scripts/load.ts', 'scripts/eval.ts', 'scripts/translate.ts', 'scripts/check-api.ts', 'scripts/make-eval-samples.ts',
  'scripts/generate-default-models.ts', 'scripts/bench-engine.ts', 'scripts/bench-decoder-profile.ts', 'src/server.ts',
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

test('the scripts share one flag vocabulary: old names are rewritten to the shared ones, never both at once', () => {
  const options = { audio: { type: 'string' }, latency: { type: 'string' }, url: { type: 'string' } } as const;
  assert.deepEqual(applyFlagAliases(['--wav=speech.wav', '--multiplier', '3', '--server', 'http://h:1', 'FILE'], options), ['--audio=speech.wav', '--latency', '3', '--url', 'http://h:1', 'FILE']);
  assert.deepEqual(applyFlagAliases(['--language-pair', 'x'], options), ['--language-pair', 'x'], 'a script without --pair gets the unknown flag as given');
  assert.throws(() => applyFlagAliases(['--wav', 'a.wav', '--audio', 'b.wav'], options), /--wav and --audio are the same flag; give one/);
  // Through a real script: the old name reaches the shared flag's check.
  const old = run('scripts/load.ts', ['--multiplier', '0']);
  assert.equal(old.status, 2, old.stderr);
  assert.match(old.stderr, /^load: invalid --latency: 0 \(see --help\)$/m);
});

for (const script of ENTRY_POINTS.filter((path) => path.startsWith('scripts/') && !path.includes('generate') && !path.includes('samples'))) {
  test(`${script}: --help lists only the shared names and says which old names still work`, () => {
    const help = run(script, ['--help']).stdout;
    const flags = [...help.matchAll(/^\s+(?:-h, )?--([a-z-]+)/gm)].map((match) => match[1]);
    for (const alias of Object.keys(FLAG_ALIASES)) assert.ok(!flags.includes(alias), `${script} documents the old --${alias}`);
    assert.match(help, /Old names still work: --server \(= --url\)/);
    assert.match(help, /-h, --help/);
  });
}
