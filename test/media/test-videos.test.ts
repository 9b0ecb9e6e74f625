import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AppError } from '../../src/errors.ts';
import { TestVideoLibrary, legacyTestVideoNames } from '../../src/media/test-videos.ts';
import { makeTempDir } from './support/media-fixtures.ts';

async function library(t: { after(fn: () => Promise<void>): void }): Promise<{ lib: TestVideoLibrary; root: string; dir: string }> {
  const temp = await makeTempDir('test-videos');
  t.after(() => temp.remove());
  const dir = join(temp.dir, 'test_video');
  await mkdir(dir);
  await writeFile(join(temp.dir, 'secret.txt'), 'outside the folder');
  await writeFile(join(dir, '0000AAAA.mp4'), 'legacy name');
  await writeFile(join(dir, 'my lecture (1).webm'), 'any plain name');
  await mkdir(join(dir, 'sub'));
  await writeFile(join(dir, 'sub', 'nested.mp4'), 'nested');
  await symlink(join(temp.dir, 'secret.txt'), join(dir, 'escape.mp4'));
  await writeFile(join(dir, 'target.mp4'), 'inside');
  await symlink(join(dir, 'target.mp4'), join(dir, 'alias.mp4'));
  return { lib: new TestVideoLibrary(dir), root: temp.dir, dir };
}

const isCode = (code: string) => (error: unknown): boolean => error instanceof AppError && error.code === code;

test('serves any plain file in the folder, legacy names included', async (t) => {
  const { lib, dir } = await library(t);
  assert.ok(legacyTestVideoNames.includes('0000AAAA.mp4'));
  const legacy = await lib.resolve('0000AAAA.mp4');
  assert.equal(legacy.filePath, join(dir, '0000AAAA.mp4'));
  assert.equal(legacy.contentType, 'video/mp4');
  assert.equal((await lib.resolve('my lecture (1).webm')).contentType, 'video/webm');
  assert.equal((await lib.resolve('alias.mp4')).filePath, join(dir, 'target.mp4'));
});

test('rejects traversal, absolute paths, hidden files and separators', async (t) => {
  const { lib } = await library(t);
  for (const name of ['../secret.txt', '..', '.', '/etc/passwd', 'sub/nested.mp4', '..\\secret.txt', '.hidden', 'C:\\x.mp4', 'a\u0000.mp4', '', 'x'.repeat(300)]) {
    await assert.rejects(lib.resolve(name), isCode('forbiddenPath'), JSON.stringify(name));
  }
});

test('answers not found for missing files, folders and symlinks leading outside, without server paths', async (t) => {
  const { lib, root } = await library(t);
  for (const name of ['missing.mp4', 'sub', 'escape.mp4']) {
    await assert.rejects(lib.resolve(name), (error: unknown) => {
      assert.ok(isCode('notFound')(error), name);
      assert.equal((error as AppError).message, `Test video '${name}' not found`);
      assert.ok(!(error as AppError).message.includes(root));
      return true;
    });
  }
});

test('a missing folder yields not found, and works once the folder appears', async (t) => {
  const temp = await makeTempDir('test-videos');
  t.after(() => temp.remove());
  const dir = join(temp.dir, 'later');
  const lib = new TestVideoLibrary(dir);
  await assert.rejects(lib.resolve('a.mp4'), isCode('notFound'));
  await mkdir(dir);
  await writeFile(join(dir, 'a.mp4'), 'x');
  assert.equal((await lib.resolve('a.mp4')).name, 'a.mp4');
});
