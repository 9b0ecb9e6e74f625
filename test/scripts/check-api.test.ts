/**
 * `npm run check-api` against a listening server at its defaults: the script is the operator's
 * end-to-end check (every route in both parameter styles, the static assets, one real stream),
 * so it must pass against the server as shipped. It once failed for weeks after the by-user
 * routes started to require session_id, because nothing ran it.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { startServer } from '../ops/support/ops-harness.ts';

const run = promisify(execFile);

test('npm run check-api passes against the server at its defaults', async (t) => {
  const server = await startServer(t);
  const { stdout } = await run(process.execPath, ['--import', 'tsx', 'scripts/check-api.ts', '--url', server.baseUrl], {
    timeout: 300_000,
    maxBuffer: 4 * 1024 * 1024,
  }).catch((error: { stdout?: string; stderr?: string; message: string }) => {
    assert.fail(`check-api failed:\n${error.stdout ?? ''}\n${error.stderr ?? error.message}`);
  });
  assert.match(stdout, /^(\d+) passed, 0 failed$/m, stdout);
  assert.match(stdout, /^PASS {2}WS \/wss/m, 'the stream check ran');
  assert.match(stdout, /^PASS {2}WS \/v1\/realtime\/translations/m, 'the realtime stream check ran');
  const passed = Number(/^(\d+) passed/m.exec(stdout)?.[1]);
  assert.ok(passed >= 40, `only ${passed} checks ran`);
});
