import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isAppError } from '../../src/errors.ts';
import { defaultDelaysFileName, EXPORT_QUOTA, sanitizeFileName, writeJsonLines } from '../../src/evaluation/export.ts';

async function sandbox(t: { after: (fn: () => Promise<void>) => void }): Promise<{ root: string; folder: string; outside: string }> {
  const root = await mkdtemp(join(tmpdir(), 'export-test-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const outside = join(root, 'outside');
  await mkdir(outside);
  return { root, folder: join(root, 'exports'), outside };
}

const forbidden = (e: unknown) => isAppError(e) && e.code === 'forbiddenPath';

test('writes JSON lines into the configured folder, creating it', async (t) => {
  const { folder } = await sandbox(t);
  const path = await writeJsonLines(folder, undefined, 'session_a_delays.log', [{ index: 0, delays: [1, 2] }, { index: 1 }]);
  assert.equal(path, join(folder, 'session_a_delays.log'));
  assert.equal(await readFile(path, 'utf8'), '{"index":0,"delays":[1,2]}\n{"index":1}\n');
});

test('a client path is confined to the folder: traversal and absolute paths elsewhere are refused', async (t) => {
  const { folder, outside } = await sandbox(t);
  await assert.rejects(writeJsonLines(folder, '../outside/x.log', 'd.log', []), forbidden);
  await assert.rejects(writeJsonLines(folder, join(outside, 'x.log'), 'd.log', []), forbidden);
  await assert.rejects(writeJsonLines(folder, '/etc/passwd', 'd.log', []), forbidden);
  await assert.rejects(writeJsonLines(folder, 'a/../../outside/x.log', 'd.log', []), forbidden);
  await assert.rejects(writeJsonLines(folder, '.', 'd.log', []), forbidden);
  // An absolute path that does lie inside the folder is fine, and so is a sub-folder.
  assert.equal(await writeJsonLines(folder, join(folder, 'inside.log'), 'd.log', []), join(folder, 'inside.log'));
  assert.equal(await writeJsonLines(folder, 'runs/2024 run #1.log', 'd.log', [{}]), join(folder, 'runs', '2024_run__1.log'));
});

test('symbolic links cannot carry a write out of the folder', async (t) => {
  const { folder, outside } = await sandbox(t);
  await mkdir(folder);
  await symlink(outside, join(folder, 'linked-dir'));
  await assert.rejects(writeJsonLines(folder, 'linked-dir/x.log', 'd.log', [{}]), forbidden);
  const victim = join(outside, 'victim.txt');
  await writeFile(victim, 'untouched');
  await symlink(victim, join(folder, 'evil.log'));
  await assert.rejects(writeJsonLines(folder, 'evil.log', 'd.log', [{ overwritten: true }]), forbidden);
  assert.equal(await readFile(victim, 'utf8'), 'untouched');
});

test('file names are sanitised and the default name follows the original pattern', () => {
  assert.equal(sanitizeFileName('a b/c:d.log'), 'a_b_c_d.log');
  assert.throws(() => sanitizeFileName('..'), forbidden);
  assert.throws(() => sanitizeFileName(''), forbidden);
  assert.equal(defaultDelaysFileName('client_k3j9_English -> Chinese_1751481504123'), 'session_client_k3j9_English_To_Chinese_1751481504123_delays.log');
  assert.equal(defaultDelaysFileName('x/../../etc'), 'session_x_.._.._etc_delays.log');
});

test('the export folder has a quota: past it, writes are refused with exportQuotaExceeded', async (t) => {
  const { folder } = await sandbox(t);
  await mkdir(folder, { recursive: true });
  await Promise.all(Array.from({ length: EXPORT_QUOTA.files }, (_, i) => writeFile(join(folder, `old_${i}.log`), 'x')));
  await assert.rejects(writeJsonLines(folder, 'one-more.log', 'd.log', [{ a: 1 }]), (e: unknown) => isAppError(e) && e.code === 'exportQuotaExceeded');
});
