import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DownloadCache } from '../../src/media/download-cache.ts';
import { makeTempDir } from './support/media-fixtures.ts';

async function addVideo(cache: DownloadCache, videoId: string, sizeBytes: number): Promise<void> {
  const temporary = cache.temporaryPath();
  await writeFile(temporary, Buffer.alloc(sizeBytes, 1));
  const lease = await cache.commit(videoId, temporary, 'video/mp4', sizeBytes);
  lease.release();
}

test('evicts least recently used videos to stay under the size bound', async (t) => {
  const temp = await makeTempDir('cache');
  t.after(() => temp.remove());
  let now = 0;
  const cache = new DownloadCache({ dir: temp.dir, maxBytes: 250, now: () => now });
  await cache.init();
  now = 1;
  await addVideo(cache, 'aaaaaaaaaaa', 100);
  now = 2;
  await addVideo(cache, 'bbbbbbbbbbb', 100);
  now = 3;
  cache.lookup('aaaaaaaaaaa')?.release(); // a is now more recent than b
  now = 4;
  await addVideo(cache, 'ccccccccccc', 100);
  assert.equal(cache.lookup('bbbbbbbbbbb'), undefined);
  assert.ok(cache.totalBytes <= 250);
  assert.deepEqual((await readdir(temp.dir)).sort(), ['yt-aaaaaaaaaaa.mp4', 'yt-ccccccccccc.mp4']);
});

test('never deletes a file that is being sent, and trims once it is released', async (t) => {
  const temp = await makeTempDir('cache');
  t.after(() => temp.remove());
  const cache = new DownloadCache({ dir: temp.dir, maxBytes: 150 });
  await cache.init();
  await addVideo(cache, 'aaaaaaaaaaa', 100);
  const pinned = cache.lookup('aaaaaaaaaaa');
  assert.ok(pinned);
  await addVideo(cache, 'bbbbbbbbbbb', 100);
  // Over the bound, but a is pinned: only b (unpinned, newer) may go.
  assert.ok(cache.lookup('aaaaaaaaaaa'), 'the pinned file stays');
  cache.lookup('aaaaaaaaaaa')?.release();
  assert.equal(cache.lookup('bbbbbbbbbbb'), undefined);
  pinned.release();
  pinned.release(); // releasing twice is harmless
  assert.ok(cache.totalBytes <= 150);
});

test('on start-up deletes leftovers of interrupted downloads and ignores files it did not name', async (t) => {
  const temp = await makeTempDir('cache');
  t.after(() => temp.remove());
  await writeFile(join(temp.dir, '.dl-123.part'), 'partial');
  await writeFile(join(temp.dir, 'yt-tooShort.webm'), Buffer.alloc(40));
  await writeFile(join(temp.dir, 'unrelated.txt'), 'left alone');
  const cache = new DownloadCache({ dir: temp.dir, maxBytes: 1000 });
  await cache.init();
  assert.deepEqual((await readdir(temp.dir)).sort(), ['unrelated.txt', 'yt-tooShort.webm']);
  assert.equal(cache.size, 0);
  assert.equal(cache.lookup('tooShort'), undefined);
});

test('indexes an 11-character video file found on start-up with its media type', async (t) => {
  const temp = await makeTempDir('cache');
  t.after(() => temp.remove());
  await writeFile(join(temp.dir, 'yt-keptVideo01.webm'), Buffer.alloc(40));
  const cache = new DownloadCache({ dir: temp.dir, maxBytes: 1000 });
  await cache.init();
  const lease = cache.lookup('keptVideo01');
  assert.ok(lease);
  assert.equal(lease.sizeBytes, 40);
  assert.equal(lease.mimeType, 'video/webm');
  lease.release();
});

test('refuses to commit under a name that is not a video id', async (t) => {
  const temp = await makeTempDir('cache');
  t.after(() => temp.remove());
  const cache = new DownloadCache({ dir: temp.dir, maxBytes: 1000 });
  await cache.init();
  const temporary = cache.temporaryPath();
  await writeFile(temporary, 'x');
  await assert.rejects(cache.commit('../../etc/pa', temporary, 'video/mp4', 1), /not a video id/);
});
