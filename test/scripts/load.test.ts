/**
 * `npm run load` against a real server on the real engine, over both protocols: the page's
 * (/init, /wss) and the OpenAI-Realtime-compatible one. Each session must finish with output and
 * no error, and --seconds is audio per session whatever the pace.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { resolve } from 'node:path';
import { test } from 'node:test';
import { buildTestApp } from '../app/helpers.ts';

const ROOT = resolve(import.meta.dirname, '../..');

function runLoad(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((done) => {
    execFile(process.execPath, ['--import', 'tsx', 'scripts/load.ts', ...args], { cwd: ROOT, timeout: 180_000 }, (error, stdout, stderr) => {
      done({ code: error ? Number((error as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

for (const protocol of ['wss', 'realtime']) {
  test(`load --protocol ${protocol}: every session finishes with translation and no error`, async (t) => {
    const { app } = await buildTestApp(t);
    await app.listen({ host: '127.0.0.1', port: 0 });
    const address = app.server.address();
    if (address === null || typeof address === 'string') throw new Error('no TCP address');
    const run = await runLoad(['--url', `http://127.0.0.1:${address.port}`, '--sessions', '2', '--seconds', '4', '--speed', '4', '--ramp-seconds', '0', '--protocol', protocol]);
    assert.equal(run.code, 0, `${run.stdout}\n${run.stderr}`);
    assert.match(run.stdout, /sessions: 2 ok, 0 failed, 0 without output; \d+ (text frames|transcript deltas); 0 errors/);
    // 4 s of audio per session: 2 frames of 1.92 s on /wss (the tail rounds down), 20 appends of 200 ms on realtime.
    assert.match(run.stdout, protocol === 'wss' ? /done in [\d.]+ s; 4 frames sent/ : /done in [\d.]+ s; 40 frames sent/);
  });
}
